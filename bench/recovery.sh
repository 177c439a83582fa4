#!/usr/bin/env bash
# recovery.sh: how fast dtf recovers from faults.
#  1. Worker loss: a worker running a task is SIGKILLed (coordinator: --heartbeat-interval 0.5
#     --heartbeat-timeout 2); measured from the kill to the requeue (the attempt's finished_at in
#     the task's history) and to the task running on a second, idle worker (the second attempt's
#     started_at, the worker's clock when it spawned the task). REPEATS times for a 1-slot victim
#     and for a 2-slot victim (whose dispatcher has a lease long-poll parked for its free slot,
#     --lease-wait LEASE_WAIT, default 5; the worker's own default is 20).
#  2. Coordinator restart: with TASKS tasks in the store (submitted in batches of 10,000, half of
#     them run to completion by 2 local workers, the rest left pending), the coordinator is
#     SIGKILLed and started again on the same database and port; measured from the start command
#     to the first 200 of /healthz and of GET /api/v1/tasks?limit=1. RESTARTS times.
# Aim: requeue within the heartbeat timeout + 1 s, restart in under 2 s.
# Usage: bench/recovery.sh [TASKS (100000)] [REPEATS (5)] [RESTARTS (3)]; DTF_BIN overrides the
# binary (default build/dtf), LEASE_WAIT the victims' --lease-wait. Needs curl and python3;
# installs nothing; stops everything it started and removes its files on exit.
set -eu
TASKS=${1:-100000}
REPEATS=${2:-5}
RESTARTS=${3:-3}
HB_INTERVAL=0.5
HB_TIMEOUT=2
LEASE_WAIT=${LEASE_WAIT:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DTF=${DTF_BIN:-$ROOT/build/dtf}
[ -x "$DTF" ] || { echo "build dtf first (make), or set DTF_BIN" >&2; exit 2; }
command -v curl > /dev/null && command -v python3 > /dev/null || { echo "needs curl and python3" >&2; exit 2; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dtf-recovery.XXXXXX")
export DTF_BENCH_TMP="$TMP" # every process started here inherits it: cleanup finds them all
COORD_PID=""

# Every process of this benchmark, however started (orphaned task processes included).
ours() {
	local p
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = "$$" ] && continue
		{ tr '\0' '\n' < "$p/environ"; } 2>/dev/null | grep -qx "DTF_BENCH_TMP=$TMP" && echo "${p#/proc/}"
	done
	return 0
}
cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	for p in $(ours); do kill -TERM "$p" 2>/dev/null || true; done
	sleep 0.3
	for p in $(ours); do kill -KILL "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$TMP"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
die() { echo "recovery.sh: $*" >&2; for f in "$TMP"/*.log; do echo "--- $f" >&2; tail -n 20 "$f" >&2; done; exit 1; }
# until_ok SECONDS CMD…: polls CMD every 20 ms; fails after SECONDS.
until_ok() {
	local end=$(( $(now_ms) + $1 * 1000 ))
	shift
	until "$@"; do
		[ "$(now_ms)" -lt "$end" ] || die "timed out waiting for: $*"
		sleep 0.02
	done
}
get() { curl -s --max-time 10 "$URL$1"; }
post() { curl -s --max-time 60 -H 'Content-Type: application/json' --data-binary "$2" "$URL$1"; }
jf() { python3 -c 'import json,sys; d=json.load(sys.stdin); v=eval(sys.argv[1]); print(v if isinstance(v,str) else json.dumps(v))' "$1"; }

# start_coordinator DB PORT [args…]: starts it, waits until /healthz answers.
start_coordinator() {
	local db=$1 port=$2
	shift 2
	rm -f port
	"$DTF" coordinator --port "$port" --port-file port --db-path "$db" "$@" >> coordinator.log 2>&1 &
	COORD_PID=$!
	until_ok 60 test -s port
	URL="http://127.0.0.1:$(cat port)"
	until_ok 60 healthz
}
healthz() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/healthz")" = 200 ]; }
list_ok() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$URL/api/v1/tasks?limit=1")" = 200 ]; }
kill_coordinator() {
	kill -KILL "$COORD_PID"
	wait "$COORD_PID" 2>/dev/null || true
}
start_worker() {
	local id=$1
	shift
	"$DTF" worker --coordinator "$URL" --worker-id "$id" --work-dir "$TMP/work/$id" "$@" >> "worker-$id.log" 2>&1 &
	LAST_WORKER=$!
}
registered() { [ "$(get "/api/v1/workers/$1" | jf 'd.get("status", "")' 2>/dev/null)" = idle ]; }
task_is() { [ "$(get "/api/v1/tasks/$1" | jf '"%s %s %s" % (d["status"], d.get("worker_id", ""), d["attempt"])')" = "$2" ]; }
stats() {
	python3 -c '
import statistics, sys
v = [float(x) for x in sys.argv[1:]]
print("%.0f %.0f %.0f" % (min(v), statistics.median(v), max(v)))' "$@"
}
ms_between() {
	python3 -c '
import sys, datetime
t = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
print(int(t.timestamp() * 1000) - int(sys.argv[2]))' "$1" "$2"
}

# ---- 1. time from a worker's SIGKILL to its task running elsewhere ----
echo "1. worker SIGKILL -> task requeued -> running on another worker" \
	"(heartbeat interval $HB_INTERVAL s, timeout $HB_TIMEOUT s; $REPEATS runs each)" >&2
start_coordinator "$TMP/loss.db" 0 --heartbeat-interval "$HB_INTERVAL" --heartbeat-timeout "$HB_TIMEOUT"
declare -A REQ=() RUN=()
for slots in 1 2; do
	REQ[$slots]="" RUN[$slots]=""
	for r in $(seq "$REPEATS"); do
		hw="loss-$slots-$r"
		start_worker "victim-$slots-$r" --slots "$slots" --lease-wait "$LEASE_WAIT" --hardware "$hw"
		victim=$LAST_WORKER
		until_ok 20 registered "victim-$slots-$r"
		id=$(post /api/v1/tasks "{\"name\": \"victim-task-$slots-$r\", \"hardware\": \"$hw\", \"max_retries\": 1,
			\"shell\": \"if [ \\\"\$DTF_ATTEMPT\\\" = 1 ]; then sleep 60; fi\"}" | jf 'd["id"]')
		until_ok 20 task_is "$id" "running victim-$slots-$r 1"
		start_worker "standby-$slots-$r" --lease-wait 20 --hardware "$hw"
		standby=$LAST_WORKER
		until_ok 20 registered "standby-$slots-$r"
		sleep 0.3 # both workers settled: the victim's heartbeats and long-poll, the standby's long-poll
		kill -KILL "$victim"
		t_kill=$(now_ms)
		until_ok 60 task_is "$id" "completed standby-$slots-$r 2"
		get "/api/v1/tasks/$id" > task.json
		req=$(ms_between "$(jf 'd["history"][0]["finished_at"]' < task.json)" "$t_kill")
		run=$(ms_between "$(jf 'd["started_at"]' < task.json)" "$t_kill")
		[ "$(jf 'd["result"]["worker_id"]' < task.json)" = "standby-$slots-$r" ] || die "task ran elsewhere: $(cat task.json)"
		REQ[$slots]="${REQ[$slots]} $req" RUN[$slots]="${RUN[$slots]} $run"
		echo "  victim with $slots slot(s), run $r: requeued after $req ms, running elsewhere after $run ms" >&2
		kill -TERM "$standby"
		wait "$standby" 2>/dev/null || true
		wait "$victim" 2>/dev/null || true
		# The killed worker's task (sleep 60) was orphaned: stop it.
		for p in $(ours); do
			{ tr '\0' '\n' < "/proc/$p/environ"; } 2>/dev/null | grep -qx "DTF_TASK_ID=$id" && kill -KILL "$p" 2>/dev/null
		done
	done
done
kill_coordinator

# ---- 2. restart-to-serving with TASKS tasks in the store ----
echo "2. coordinator restart with $TASKS tasks in the store ($RESTARTS restarts)" >&2
python3 - "$TASKS" <<'EOF'
import json, sys
n = int(sys.argv[1])
for b, start in enumerate(range(0, n, 10000)):
    tasks = [{"name": f"stored-{i:06d}", "command": ["true"]} for i in range(start, min(n, start + 10000))]
    json.dump({"tasks": tasks, "run": {"name": f"store-batch-{b}"}}, open(f"store-{b:02d}.json", "w"))
EOF
nb=$(ls store-*.json | wc -l)
start_coordinator "$TMP/store.db" 0
PORT=$(cat port)
t0=$(now_ms)
half=$(( (nb + 1) / 2 ))
for b in $(seq 0 $((nb - 1))); do
	[ "$b" = "$half" ] && break
	post /api/v1/tasks "@$(printf 'store-%02d.json' "$b")" | jf 'd["count"]' > /dev/null || die "submission $b failed"
done
# The first half runs to completion on 2 workers of 2 slots; the second half stays pending.
start_worker store-1 --slots 2
w1=$LAST_WORKER
start_worker store-2 --slots 2
w2=$LAST_WORKER
completed() { curl -s --max-time 10 "$URL/metrics" | awk '$1 == "dtf_tasks{status=\"completed\"}" { print $2 }'; }
done_first_half() { [ "$(completed)" -ge "$(( half * 10000 < TASKS ? half * 10000 : TASKS ))" ]; }
until_ok 600 done_first_half
kill -TERM "$w1" "$w2"
wait "$w1" "$w2" 2>/dev/null || true
for b in $(seq "$half" $((nb - 1))); do
	post /api/v1/tasks "@$(printf 'store-%02d.json' "$b")" | jf 'd["count"]' > /dev/null || die "submission $b failed"
done
total=$(get "/api/v1/tasks?limit=0" | jf 'd["total"]')
[ "$total" = "$TASKS" ] || die "$total tasks in the store, want $TASKS"
echo "  store ready in $(( ($(now_ms) - t0) / 1000 )) s: $total tasks, $(completed) completed," \
	"$(du -k "$TMP/store.db" | cut -f1) KiB database (plus WAL $(du -k "$TMP/store.db-wal" 2>/dev/null | cut -f1 || echo 0) KiB)" >&2
HZ="" LS=""
for r in $(seq "$RESTARTS"); do
	kill_coordinator
	t0=$(now_ms)
	"$DTF" coordinator --port "$PORT" --db-path "$TMP/store.db" >> coordinator.log 2>&1 &
	COORD_PID=$!
	until healthz; do
		kill -0 "$COORD_PID" 2>/dev/null || die "the coordinator exited on restart $r"
		[ $(( $(now_ms) - t0 )) -lt 120000 ] || die "no /healthz 120 s after restart $r"
		sleep 0.01
	done
	t1=$(now_ms)
	until list_ok; do sleep 0.01; done
	t2=$(now_ms)
	HZ="$HZ $((t1 - t0))" LS="$LS $((t2 - t0))"
	echo "  restart $r: /healthz after $((t1 - t0)) ms, GET /api/v1/tasks?limit=1 after $((t2 - t0)) ms" >&2
	total=$(get "/api/v1/tasks?limit=0" | jf 'd["total"]')
	[ "$total" = "$TASKS" ] || die "$total tasks after restart $r, want $TASKS"
done
kill_coordinator

# ---- the table ----
echo
printf '%-58s %8s %8s %8s %6s\n' "measure (ms)" min median max runs
for slots in 1 2; do
	read -r a b c <<< "$(stats ${REQ[$slots]})"
	printf '%-58s %8s %8s %8s %6s\n' "worker SIGKILL -> task requeued ($slots-slot victim)" "$a" "$b" "$c" "$REPEATS"
	read -r a b c <<< "$(stats ${RUN[$slots]})"
	printf '%-58s %8s %8s %8s %6s\n' "worker SIGKILL -> task running elsewhere ($slots-slot victim)" "$a" "$b" "$c" "$REPEATS"
done
read -r a b c <<< "$(stats $HZ)"
printf '%-58s %8s %8s %8s %6s\n' "restart -> /healthz 200 ($TASKS tasks stored)" "$a" "$b" "$c" "$RESTARTS"
read -r a b c <<< "$(stats $LS)"
printf '%-58s %8s %8s %8s %6s\n' "restart -> GET /api/v1/tasks?limit=1 200" "$a" "$b" "$c" "$RESTARTS"
echo "(2-slot victims had a lease long-poll parked for their free slot, --lease-wait $LEASE_WAIT s)"
echo "aim: requeue within $((HB_TIMEOUT * 1000 + 1000)) ms (heartbeat timeout + 1 s); restart under 2000 ms"
