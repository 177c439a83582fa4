# faults_lib.sh: what the fault scripts share, sourced after lib.sh and start_coordinator:
# a log of real executions ($RAN, written by tasks through $NOTE), task and worker probes.
RAN="$T/ran.log"   # one line "task attempt worker" per real execution
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
submit() { api POST /api/v1/tasks "$1" | jq_py 'd["id"]'; }
# task_procs_on TASK WORKER: live processes of that task started by that worker.
task_procs_on() {
	local pid
	for pid in $(procs_with_env "DTF_TASK_ID=$1"); do
		has_env "$pid" "DTF_WORKER_ID=$2" && echo "$pid"
	done
}
no_task_procs() { [ -z "$(procs_with_env "DTF_TASK_ID=$1")" ]; }
no_task_procs_on() { [ -z "$(task_procs_on "$1" "$2")" ]; }
has_task_procs_on() { [ -n "$(task_procs_on "$1" "$2")" ]; }
# running_on TASK WORKER [ATTEMPT]: the task runs on that worker (in that attempt).
running_on() {
	local got
	got=$(task_field "$1" '"%s %s %s" % (d["status"], d.get("worker_id", ""), d["attempt"])')
	[ "$got" = "running $2 ${3:-${got##* }}" ]
}
worker_status() { api GET "/api/v1/workers/$1" | jq_py 'd["status"]'; }
# executions TASK: how many times the task really ran (lines in $RAN).
executions() { grep -c "^$1 " "$RAN" 2>/dev/null || true; }
# ms_since ISO_TIME MS: milliseconds from MS (epoch ms) to the RFC 3339 time ISO_TIME.
ms_since() {
	python3 -c '
import sys, datetime
t = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
print(int(t.timestamp() * 1000) - int(sys.argv[2]))' "$1" "$2"
}
NOTE='echo \"$DTF_TASK_ID $DTF_ATTEMPT $DTF_WORKER_ID\" >> '"$RAN"
