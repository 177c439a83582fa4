#!/bin/sh
# makespan.sh: how close dtf's schedule comes to the best possible on a heavy-tailed suite. N
# sleep tasks (default 300) with lognormal durations (sigma SIGMA, default 1), scaled so that one
# run takes about TARGET seconds (default 60) on 8 slots (2 workers x 4 slots), run:
#   1. through dtf with the priority strategy (FIFO: submission order); this run also fills the
#      per-test duration history;
#   2. through dtf with the duration strategy (longest expected first, from that history);
#   3. through GNU parallel -j8, in the same order.
# For each it prints the makespan (first submission to last end) and its ratio to the lower
# bound max(longest task, total work / 8). Usage: bench/makespan.sh [N]
set -eu
N=${1:-300}
TARGET=${TARGET:-60}
SIGMA=${SIGMA:-1}
SEED=${SEED:-7}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DTF=${DTF_BIN:-$ROOT/build/dtf}
[ -x "$DTF" ] || { echo "build dtf first (cmake --build build)" >&2; exit 2; }
if ! command -v parallel >/dev/null 2>&1; then
	echo "installing GNU parallel (Debian package parallel)" >&2
	if [ "$(id -u)" = 0 ]; then apt-get install -y parallel >/dev/null
	else sudo apt-get install -y parallel >/dev/null; fi
fi
TMP=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	sleep 0.3
	for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
cd "$TMP"

# The suite: the same names, durations and order for every run.
python3 - "$N" "$TARGET" "$SIGMA" "$SEED" <<'EOF'
import json, random, sys
n, target, sigma, seed = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(seed)
raw = [rnd.lognormvariate(0, sigma) for _ in range(n)]
scale = 0.95 * target * 8 / sum(raw)
d = [max(0.01, round(x * scale, 2)) for x in raw]
json.dump({"tasks": [{"name": "t%03d" % i, "command": ["sleep", "%.2f" % s]}
                     for i, s in enumerate(d)]}, open("tasks.json", "w"))
with open("commands.txt", "w") as f:
    for s in d:
        f.write("sleep %.2f\n" % s)
lb = max(max(d), sum(d) / 8)
json.dump({"lower_bound": lb, "longest": max(d), "total": sum(d)}, open("bound.json", "w"))
print("suite: %d tasks, total %.1f s, longest %.2f s, lower bound on 8 slots %.2f s"
      % (n, sum(d), max(d), lb), file=sys.stderr)
EOF
LB=$(python3 -c 'import json; print(json.load(open("bound.json"))["lower_bound"])')

"$DTF" coordinator --port 0 --port-file port --db-path "$TMP/bench.db" 2>coordinator.log &
pids="$pids $!"
i=0
while [ ! -s port ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
URL="http://127.0.0.1:$(cat port)"
for w in 1 2; do
	"$DTF" worker --coordinator "$URL" --worker-id "mk-$w" --slots 4 --work-dir "$TMP/work-$w" 2>"worker-$w.log" &
	pids="$pids $!"
done
i=0
until [ "$(curl -s "$URL/api/v1/workers" | grep -o '"status":"idle"' | wc -l)" -ge 2 ] || [ $i -ge 200 ]; do
	sleep 0.05; i=$((i + 1))
done

# run_dtf STRATEGY: one run of the suite; prints its makespan from the task timestamps.
run_dtf() {
	curl -s -X PUT -H 'Content-Type: application/json' -d "{\"strategy\": \"$1\"}" \
		"$URL/api/v1/scheduler" >/dev/null
	"$DTF" client --coordinator "$URL" submit-task --file tasks.json >/dev/null
	"$DTF" client --coordinator "$URL" wait-completion --quiet >/dev/null
	curl -s "$URL/api/v1/tasks?run_id=$(cat .dtf/last-run)&limit=100000" | python3 -c '
import json, sys, datetime
ts = json.load(sys.stdin)["tasks"]
p = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
assert all(t["status"] == "completed" for t in ts), "not all tasks completed"
print("%.3f" % (max(p(t["finished_at"]) for t in ts) - min(p(t["created_at"]) for t in ts)))'
}

fifo=$(run_dtf priority)
hist=$(curl -s "$URL/api/v1/scheduler" | python3 -c 'import json,sys; print(json.load(sys.stdin)["history_entries"])')
dur=$(run_dtf duration)
t0=$(date +%s.%N)
parallel -j8 < commands.txt
t1=$(date +%s.%N)
par=$(echo "$t1 - $t0" | bc -l)

echo "duration history entries after the first run: $hist" >&2
printf '%-34s %10s %8s\n' "schedule" "makespan_s" "ratio"
printf '%-34s %10.2f %8.3f\n' "lower bound" "$LB" 1
printf '%-34s %10.2f %8.3f\n' "dtf duration (2nd run, history)" "$dur" "$(echo "$dur / $LB" | bc -l)"
printf '%-34s %10.2f %8.3f\n' "dtf priority (FIFO, 1st run)" "$fifo" "$(echo "$fifo / $LB" | bc -l)"
printf '%-34s %10.2f %8.3f\n' "GNU parallel -j8 (same order)" "$par" "$(echo "$par / $LB" | bc -l)"
