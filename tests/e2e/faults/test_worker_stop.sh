#!/usr/bin/env bash
# A worker SIGSTOPped past the heartbeat timeout, then SIGCONTed: its task was requeued and runs
# elsewhere; the result it sends for the old attempt on waking is refused (409), the task keeps
# the other worker's result (completed exactly once), and the woken worker registers again and
# runs new work.
. "$(dirname "$0")/faults_lib.sh"

start_faults_coordinator

# ---------------------------------------------------------------------------------------------
# b. SIGSTOP a worker past the heartbeat timeout, SIGCONT it once its task runs elsewhere.
log "case b: SIGSTOP a worker past the heartbeat timeout, then SIGCONT"
start_worker kb-1 --hardware fb
wait_worker kb-1
# Attempt 1 (on kb-1) sleeps 3 s, so it ends while kb-1 is stopped and kb-1 has a passed result
# to send when it wakes; attempt 2 (elsewhere) runs until the stale result has been checked (the
# file $T/stale-checked; a minute at most: a fixed time could be over first on a loaded machine),
# so the stale result arrives while the task is running there.
XB=$(submit '{"name": "stopped_worker", "hardware": "fb", "max_retries": 1,
	"shell": "'"$NOTE"'; if [ \"$DTF_ATTEMPT\" = 1 ]; then sleep 3; else i=0; while [ ! -e '"$T"'/stale-checked ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; fi; echo attempt $DTF_ATTEMPT on $DTF_WORKER_ID"}')
wait_for -t 20 -m "stopped_worker to run on kb-1" running_on "$XB" kb-1 1
kill -STOP "${WORKER_PID[kb-1]}"
start_worker kb-2 --hardware fb
wait_worker kb-2
wait_for -t 15 -m "stopped_worker to be requeued and run on kb-2" running_on "$XB" kb-2 2
assert_eq "$(worker_status kb-1)" lost "status of the stopped worker"
assert_eq "$(task_field "$XB" 'd["history"][0]["error_kind"]')" worker_lost "why attempt 1 ended"
# kb-1's attempt ended while it was stopped (its process is a zombie now): it holds a result.
wait_for -t 10 -m "attempt 1's process on kb-1 to end" no_task_procs_on "$XB" kb-1
stale_before=$(metric dtf_stale_results_total)
kill -CONT "${WORKER_PID[kb-1]}"
wait_for -t 15 -m "kb-1 to log that its result for attempt 1 was refused" \
	grep -q "result of $XB refused" "$T/worker-kb-1.log"
# The stale result changed nothing: the task still runs on kb-2 in attempt 2.
running_on "$XB" kb-2 2 || fail "the stale result from kb-1 changed the task: $(body)"
touch "$T/stale-checked"
wait_for -t 15 -m "kb-1 to register again" worker_registered kb-1
[ "$(grep -c 'registered as kb-1' "$T/worker-kb-1.log")" -ge 2 ] || fail "kb-1 did not register again"
wait_for -t 20 -m "stopped_worker to complete on kb-2" task_status_is "$XB" completed
python3 - "$T/body" <<'EOF' || fail "stopped_worker's final state is wrong: $(body)"
import json, sys
t = json.load(open(sys.argv[1]))
h = t["history"]
assert t["attempt"] == 2 and [x["outcome"] for x in h] == ["requeued", "passed"], h
assert [x["worker_id"] for x in h] == ["kb-1", "kb-2"], h
assert t["result"]["worker_id"] == "kb-2" and "attempt 2 on kb-2" in t["result"]["stdout"], t["result"]
EOF
refusal=$(grep "result of $XB refused" "$T/worker-kb-1.log" | head -n1)
case "$refusal" in
*"stale result"* | *"declared lost"*) ;;
*) fail "kb-1's result was refused for another reason: $refusal" ;;
esac
log "case b: kb-1 was told: ${refusal#*refused: }"
stale_after=$(metric dtf_stale_results_total)
log "case b: dtf_stale_results_total $stale_before -> $stale_after"
assert_eq "$(grep "^$XB " "$RAN" | sort | tr '\n' ' ')" "$XB 1 kb-1 $XB 2 kb-2 " "executions of stopped_worker"
# kb-1 takes work again once kb-2 leaves.
kill -TERM "${WORKER_PID[kb-2]}"
wait_exit "${WORKER_PID[kb-2]}" 20
ZB=$(submit '{"name": "after_wakeup", "hardware": "fb", "shell": "echo on $DTF_WORKER_ID"}')
wait_for -t 20 -m "after_wakeup to complete on kb-1" task_status_is "$ZB" completed
assert_eq "$(task_field "$ZB" 'd["result"]["worker_id"]')" kb-1 "worker of after_wakeup"
assert_eq "$(task_field "$XB" 'd["result"]["worker_id"]')" kb-2 "stopped_worker's result after all"

for w in kb-1; do
	pid_alive "${WORKER_PID[$w]}" || fail "worker $w exited"
done
exit 0
