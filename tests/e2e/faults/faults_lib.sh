# faults_lib.sh: what the fault-injection scripts (tests/e2e/faults/test_*.sh) share. Each sources
# this file instead of lib.sh (it sources lib.sh, for $T, the cleanup trap, the coordinator and
# worker helpers) and then starts its coordinator with start_faults_coordinator or
# start_recovery_coordinator.
#
#   start_faults_coordinator [args…]    the coordinator with a heartbeat timeout of $HB_TIMEOUT s
#   start_recovery_coordinator [args…]  the coordinator with $RECOVERY_ARGS (then args…) and the
#                                       event stream followed into $T/events.txt
#   $RAN / $NOTE                        a log of real executions, "task attempt worker" a line:
#                                       a task's shell appends to it by running $NOTE
#   executions TASK                     how many times the task really ran (lines in $RAN)
#   task_procs_on / has_task_procs_on / no_task_procs_on TASK WORKER   a task's live processes
#                                       started by that worker
#   running_on TASK WORKER [ATTEMPT]    the task runs on that worker (in that attempt)
#   worker_status WORKER                its status in GET /api/v1/workers/WORKER
#   history_of TASK                     "worker:outcome:kind …" of its attempts
#   first_attempts_failed TASK N        N attempts failed and the task waits for the next
#   recovery_stat CLASS STRATEGY        "attempts successes" from GET /api/v1/recovery/history
#   ms_since ISO_TIME MS                milliseconds from MS (epoch ms) to the RFC 3339 time
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# --- the coordinator ---

# Workers report every 0.5 s (lib.sh's --heartbeat-interval): with 2 s, one that stops
# reporting is lost within seconds.
HB_TIMEOUT=2

# start_faults_coordinator [args…]: start_coordinator --heartbeat-timeout $HB_TIMEOUT args…
start_faults_coordinator() { start_coordinator --heartbeat-timeout "$HB_TIMEOUT" "$@"; }

# What the recovery scripts run the coordinator with (again after a restart): fast retries and
# a quarantine after two strikes that lasts 3 s. They lose no worker on purpose: the heartbeat
# timeout is 15 s, so that a worker starved on a loaded machine is not lost (its task requeued
# as worker_lost) in the middle of a recovery whose attempts they check.
RECOVERY_ARGS=(--heartbeat-timeout 15 --retry-backoff 0.1 --quarantine-threshold 2 --quarantine-time 3)

# start_recovery_coordinator [args…]: the coordinator with $RECOVERY_ARGS then args… (a later
# option wins), and its event stream followed into $T/events.txt (open before it returns).
start_recovery_coordinator() {
	start_coordinator "${RECOVERY_ARGS[@]}" "$@"
	curl -sN --max-time 120 "$URL/api/v1/events" > "$T/events.txt" 2>/dev/null &
	track_pid "$!"
	wait_for -t 10 -m "the event stream to open" grep -q "dtf events" "$T/events.txt"
}

# --- executions, tasks and workers ---

RAN="$T/ran.log"   # one line "task attempt worker" per real execution
NOTE='echo \"$DTF_TASK_ID $DTF_ATTEMPT $DTF_WORKER_ID\" >> '"$RAN"
# executions TASK: how many times the task really ran (lines in $RAN).
executions() { grep -c "^$1 " "$RAN" 2>/dev/null || true; }

# task_procs_on TASK WORKER: live processes of that task started by that worker.
task_procs_on() {
	local pid
	for pid in $(task_procs "$1"); do
		has_env "$pid" "DTF_WORKER_ID=$2" && echo "$pid"
	done
}
no_task_procs_on() { [ -z "$(task_procs_on "$1" "$2")" ]; }
has_task_procs_on() { [ -n "$(task_procs_on "$1" "$2")" ]; }
# running_on TASK WORKER [ATTEMPT]: the task runs on that worker (in that attempt).
running_on() {
	local got
	got=$(task_field "$1" '"%s %s %s" % (d["status"], d.get("worker_id", ""), d["attempt"])')
	[ "$got" = "running $2 ${3:-${got##* }}" ]
}
worker_status() { api GET "/api/v1/workers/$1" | jq_py 'd["status"]'; }
# history_of TASK: "worker:outcome:kind …" of its attempts.
history_of() {
	task_field "$1" '" ".join("%s:%s:%s" % (a["worker_id"], a["outcome"], a.get("error_kind", "-")) for a in d["history"])'
}
# first_attempts_failed TASK N: N attempts failed (requeued) and the task waits for the next.
first_attempts_failed() {
	[ "$(task_field "$1" '"%s %d" % (d["status"], len(d.get("history", [])))')" = "pending $2" ]
}
# recovery_stat CLASS STRATEGY: "attempts successes" from GET /api/v1/recovery/history.
recovery_stat() {
	api GET /api/v1/recovery/history | jq_py "next(('%d %d' % (e['attempts'], e['successes']) for e in d['history'] if e['class'] == '$1' and e['strategy'] == '$2'), '0 0')"
}

# ms_since ISO_TIME MS: milliseconds from MS (epoch ms) to the RFC 3339 time ISO_TIME.
ms_since() {
	python3 -c '
import sys, datetime
t = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
print(int(t.timestamp() * 1000) - int(sys.argv[2]))' "$1" "$2"
}
