#!/usr/bin/env bash
# A worker SIGKILLed mid-task (DESIGN.md §7): past the heartbeat timeout (2 s) the worker is
# lost, its task goes back to pending within timeout + 1 s and completes on another worker,
# exactly once (the history shows the worker_lost attempt), without spending a retry (a requeue
# instead); with no requeue left (max_requeues 0) the task fails with error.kind worker_lost.
. "$(dirname "$0")/faults_lib.sh"

start_faults_coordinator

# ---------------------------------------------------------------------------------------------
# a. SIGKILL a worker in the middle of a task (of 60 s: it must not end by itself before the kill,
# however long the second worker takes to start on a loaded machine, nor before the check that
# its process died with its worker).
log "case a: SIGKILL a worker mid-task"
start_worker ka-1 --hardware fa
wait_worker ka-1
XA=$(submit '{"name": "killed_mid_task", "hardware": "fa", "max_retries": 1,
	"shell": "'"$NOTE"'; if [ \"$DTF_ATTEMPT\" = 1 ]; then sleep 60; fi; echo done on $DTF_WORKER_ID"}')
wait_for -t 20 -m "killed_mid_task to run on ka-1" running_on "$XA" ka-1 1
wait_for -t 10 -m "killed_mid_task's process on ka-1" has_task_procs_on "$XA" ka-1
# The worker that takes it over, ready before the kill.
start_worker ka-2 --hardware fa
wait_worker ka-2
kill -KILL "${WORKER_PID[ka-1]}"
KILL_MS=$(now_ms)
wait_for -t 10 -m "killed_mid_task to leave ka-1" eval '! running_on '"$XA"' ka-1 1'
wait_for -t 20 -m "killed_mid_task to complete on ka-2" task_status_is "$XA" completed
python3 - "$T/body" <<'EOF' || fail "killed_mid_task's final state is wrong: $(body)"
import json, sys
t = json.load(open(sys.argv[1]))
h = t["history"]
assert t["attempt"] == 2 and len(h) == 2, (t["attempt"], h)
assert h[0]["attempt"] == 1 and h[0]["worker_id"] == "ka-1", h
assert h[0]["outcome"] == "requeued" and h[0].get("error_kind") == "worker_lost", h
assert h[1]["attempt"] == 2 and h[1]["worker_id"] == "ka-2" and h[1]["outcome"] == "passed", h
assert t["result"]["worker_id"] == "ka-2" and "done on ka-2" in t["result"]["stdout"], t["result"]
# The worker's loss is not the task's fault: no retry spent, one requeue counted.
assert t.get("retries_used", 0) == 0, t.get("retries_used")
assert t["requeues"] == 1 and t["max_requeues"] == 3, (t.get("requeues"), t.get("max_requeues"))
# A task whose worker was killed never failed by itself: it is not flaky.
assert not t["result"].get("flaky"), t["result"]
EOF
log "case a: result.flaky of the task whose worker was killed: $(task_field "$XA" 'd["result"].get("flaky", False)')"
requeue_ms=$(ms_since "$(task_field "$XA" 'd["history"][0]["finished_at"]')" "$KILL_MS")
log "case a: requeued ${requeue_ms} ms after the SIGKILL (heartbeat timeout ${HB_TIMEOUT} s)"
# Lost for silence, not for anything else: not before the timeout minus one heartbeat interval,
# and within the timeout plus one second (the recovery aim).
[ "$requeue_ms" -ge $(( HB_TIMEOUT * 1000 - 1000 )) ] || fail "requeued only ${requeue_ms} ms after the kill"
[ "$requeue_ms" -le $(( (HB_TIMEOUT + 1) * 1000 * SCALE )) ] ||
	fail "requeued ${requeue_ms} ms after the kill; want <= $(( HB_TIMEOUT + 1 )) s"
assert_eq "$(worker_status ka-1)" lost "status of the killed worker"
# The killed worker's task process dies with it (its parent-death signal and the worker's guard,
# docs/internals/worker.md): it is gone.
wait_for -t 15 -m "the killed worker's task process to end" no_task_procs_on "$XA" ka-1
# It ran once per attempt: the sleep on ka-1, the rest on ka-2.
assert_eq "$(grep "^$XA " "$RAN" | sort | tr '\n' ' ')" "$XA 1 ka-1 $XA 2 ka-2 " "executions of killed_mid_task"
assert_eq "$(task_field "$XA" 'd["status"]')" completed "killed_mid_task after its first attempt's process ended"

# a2. The same on a 2-slot worker whose task allows no requeue (max_requeues 0): the task fails
# with error.kind worker_lost (issue 5: "or fail when retries are spent"; a lost worker spends
# requeues, not retries).
log "case a2: SIGKILL a 2-slot worker mid-task, no requeue allowed"
start_worker ka-3 --slots 2 --hardware fa2
wait_worker ka-3
YA=$(submit '{"name": "no_retry_left", "hardware": "fa2", "max_requeues": 0, "shell": "'"$NOTE"'; sleep 60"}')
wait_for -t 20 -m "no_retry_left to run on ka-3" running_on "$YA" ka-3 1
wait_for -t 10 -m "no_retry_left's process" has_task_procs_on "$YA" ka-3
sleep 0.3 # the worker's dispatcher is back in its long-poll for the free slot
kill -KILL "${WORKER_PID[ka-3]}"
KILL_MS=$(now_ms)
wait_for -t 20 -m "no_retry_left to fail" task_status_is "$YA" failed
python3 - "$T/body" <<'EOF' || fail "no_retry_left's final state is wrong: $(body)"
import json, sys
t = json.load(open(sys.argv[1]))
h = t["history"]
assert t["error"]["kind"] == "worker_lost", t["error"]
assert "max_requeues is 0" in t["error"]["message"], t["error"]
assert t["attempt"] == 1 and len(h) == 1 and h[0]["worker_id"] == "ka-3", h
assert h[0].get("error_kind") == "worker_lost", h
assert "result" not in t, t.get("result")
# The failed task's history ends with the failed attempt.
assert h[0]["outcome"] == "failed", h
EOF
lost_ms=$(ms_since "$(task_field "$YA" 'd["finished_at"]')" "$KILL_MS")
log "case a2: failed ${lost_ms} ms after the SIGKILL"
# A worker killed while its long-poll is parked is lost within the timeout plus one second.
[ "$lost_ms" -le $(( (HB_TIMEOUT + 1) * 1000 * SCALE )) ] ||
	fail "lost ${lost_ms} ms after the kill; want <= $(( HB_TIMEOUT + 1 )) s"
assert_eq "$(executions "$YA")" 1 "executions of no_retry_left"
wait_for -t 15 -m "no_retry_left's process to end with its worker" no_task_procs "$YA"
exit 0
