#!/usr/bin/env bash
# failover.sh: several coordinators on one PostgreSQL database. A leader and a standby, 4 workers
# (2 slots each) given both URLs, a run of TASKS short tasks; the leader is SIGKILLed once a
# quarter of them completed. Measured per round: the time from the kill until the standby serves
# as the leader (/healthz role "leader") and until it has handed out a task (its
# dtf_leases_total > 0), polled every 10 ms; then, once the run is done: tasks lost (acknowledged
# at submission but not completed) and tasks run twice (two runs of a task's command, from the
# log every task appends to). SIGNAL=STOP pauses the leader instead (SIGSTOP; SIGCONT once the run
# is done, when it must step down: exit status 3).
# PostgreSQL is a private server (scripts/pg-test-server.sh) on this machine.
# Usage: [SIGNAL=KILL|STOP] bench/failover.sh [ROUNDS [TASKS]]   (default 3 rounds of 2000 tasks)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${DTF_BUILD_DIR:-$ROOT/build}
ROUNDS=${1:-3}
TASKS=${2:-2000}
SIGNAL=${SIGNAL:-KILL}
DTF=$BUILD/dtf
[ -x "$DTF" ] || { echo "build first: cmake -S . -B build && cmake --build build" >&2; exit 2; }

PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/dtf-bench-pg.XXXXXX")
OUT=$(mktemp -d "${TMPDIR:-/tmp}/dtf-bench-failover.XXXXXX")
chmod 755 "$PGDIR"
PIDS=()
stop_all() {
	local p
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	PIDS=()
}
trap 'stop_all; sh "$ROOT/scripts/pg-test-server.sh" stop "$PGDIR" >/dev/null 2>&1; rm -rf "$PGDIR"; [ -n "${KEEP_TMP:-}" ] || rm -rf "$OUT"' EXIT
URL=$(sh "$ROOT/scripts/pg-test-server.sh" start "$PGDIR")
echo "PostgreSQL $(psql "$URL" -qAt -c 'SHOW server_version') at $URL; $TASKS tasks, 4 workers x 2 slots; the leader gets SIG$SIGNAL"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
json() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
# start_coord NAME: a coordinator with --standby; prints its URL once it serves.
start_coord() {
	local pf="$OUT/$1.port"
	rm -f "$pf"
	"$DTF" coordinator --port 0 --port-file "$pf" --db-url "$URL" --standby \
		--heartbeat-interval 0.5 >>"$OUT/coord-$1.log" 2>&1 &
	PIDS+=($!)
	eval "${1}_PID=$!"
	until [ -s "$pf" ]; do sleep 0.02; done
	eval "${1}_URL=http://127.0.0.1:$(head -n1 "$pf")"
}
# Cheap enough to poll every 10 ms (no interpreter started).
role() { curl -s --max-time 1 "$1/healthz" | sed -n 's/.*"role":"\([a-z]*\)".*/\1/p'; }
leases() { curl -s --max-time 1 "$1/metrics" | awk '$1 == "dtf_leases_total" { print $2 }'; }

python3 - "$TASKS" "$OUT/ran.log" >"$OUT/tasks.json" <<'EOF'
import json, sys
n, log = int(sys.argv[1]), sys.argv[2]
tasks = [{"name": f"t{i:05d}", "shell": f'echo "$DTF_TASK_ID $DTF_ATTEMPT" >> {log}'}
         for i in range(n)]
print(json.dumps({"tasks": tasks, "run": {"name": "failover"}}))
EOF

printf '%-6s %12s %12s %6s %10s\n' round "serving ms" "leasing ms" lost "run twice"
i=1
while [ "$i" -le "$ROUNDS" ]; do
	psql "$URL" -qAt -c 'SET client_min_messages = warning' -c 'DROP SCHEMA public CASCADE' \
		-c 'CREATE SCHEMA public' >/dev/null
	rm -f "$OUT/ran.log"
	start_coord A
	until [ "$(role "$A_URL")" = leader ]; do sleep 0.05; done
	start_coord B
	until [ "$(role "$B_URL")" = standby ]; do sleep 0.05; done
	for w in 1 2 3 4; do
		"$DTF" worker --coordinator "$A_URL,$B_URL" --worker-id "w$w" --slots 2 \
			--work-dir "$OUT/work-$w" --lease-wait 5 >>"$OUT/worker-$w.log" 2>&1 &
		PIDS+=($!)
	done
	curl -s -X POST -H 'Content-Type: application/json' --data-binary @"$OUT/tasks.json" \
		"$A_URL/api/v1/tasks" >"$OUT/submit.json"
	RUN=$(json 'd["run_id"]' <"$OUT/submit.json")
	json '"\n".join(d["ids"])' <"$OUT/submit.json" | sort >"$OUT/acked.txt"
	until [ "$(curl -s --max-time 2 "$A_URL/api/v1/runs/$RUN/summary" | json 'd["completed"]' 2>/dev/null || echo 0)" -ge $((TASKS / 4)) ]; do
		sleep 0.02
	done
	kill -"$SIGNAL" "$A_PID"
	t0=$(now_ms)
	echo "round $i: SIG$SIGNAL to the leader at $(date +%T.%3N)" >>"$OUT/kills.log"
	serving=""
	leasing=""
	while [ -z "$leasing" ]; do
		[ -z "$serving" ] && [ "$(role "$B_URL")" = leader ] && serving=$(($(now_ms) - t0))
		n=$(leases "$B_URL")
		[ "${n:-0}" -gt 0 ] 2>/dev/null && leasing=$(($(now_ms) - t0))
		[ $(($(now_ms) - t0)) -lt 60000 ] || { echo "no lease in 60 s" >&2; exit 1; }
		sleep 0.01
	done
	[ -n "$serving" ] || serving=$leasing
	until [ "$(curl -s --max-time 5 "$B_URL/api/v1/runs/$RUN/summary" | json 'd["done"]' 2>/dev/null)" = True ]; do
		sleep 0.1
	done
	psql "$URL" -qAt -c "SELECT id FROM tasks WHERE run_id = '$RUN' AND status = 'completed'" |
		sort >"$OUT/completed.txt"
	if [ "$SIGNAL" = STOP ]; then
		kill -CONT "$A_PID"
		rc=0
		wait "$A_PID" || rc=$?
		[ "$rc" = 3 ] || echo "round $i: the paused leader, resumed, exited with $rc (not 3)" >&2
	fi
	lost=$(comm -23 "$OUT/acked.txt" "$OUT/completed.txt" | wc -l)
	twice=$(awk '{ print $1 }' "$OUT/ran.log" | sort | uniq -d | wc -l)
	printf '%-6s %12s %12s %6s %10s\n' "$i" "$serving" "$leasing" "$lost" "$twice"
	echo "$leasing" >>"$OUT/leasing"
	stop_all
	i=$((i + 1))
done
sort -n "$OUT/leasing" | awk '{ v[NR] = $1 } END { printf "median time to lease again: %d ms (of %d rounds; worst %d ms)\n", v[int((NR + 1) / 2)], NR, v[NR] }'
