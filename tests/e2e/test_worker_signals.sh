#!/usr/bin/env bash
# Worker shutdown and task stopping (DESIGN.md §7):
#  1. SIGTERM drains: the running task finishes and is reported, the worker exits 0 and takes no
#     new task (a queued task stays pending until another worker runs it);
#  2. a second SIGTERM interrupts: the running task is reported interrupted, goes back to pending
#     (its attempt history shows it) and another worker runs it;
#  3. a task past its timeout_s fails with error.kind "timeout", its whole process group killed;
#  4. `dtf client cancel --task ID` stops a running task (the worker learns it by heartbeat);
#  5. an idle worker's SIGTERM: it tells the coordinator before it exits, so a task submitted the
#     moment after is not given to the lease it was long-polling on (it stays pending).
. "$(dirname "$0")/lib.sh"

start_coordinator

# --- 1. SIGTERM while a task runs ---
# The task runs until the checks of the draining worker are done (the file $T/t1.go; a minute at
# most): a fixed time (it was 3 s) can be over before them on a loaded machine.
start_worker sig-1
wait_worker sig-1
T1=$(submit '{"name": "runs_until_told", "priority": 1,
	"shell": "i=0; while [ ! -e '"$T"'/t1.go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; echo finished"}')
wait_for -t 20 -m "runs_until_told to run" task_status_is "$T1" running
T2=$(submit '{"name": "queued_behind", "shell": "echo second"}')
kill -TERM "${WORKER_PID[sig-1]}"
wait_for -t 10 -m "sig-1 to start draining" grep -q draining "$T/worker-sig-1.log"
# It keeps running its task meanwhile.
pid_alive "${WORKER_PID[sig-1]}" || fail "sig-1 exited at once instead of finishing its task"
assert_eq "$(task_field "$T1" 'd["status"]')" running "status of the running task while draining"
touch "$T/t1.go"
wait_exit "${WORKER_PID[sig-1]}" 20
assert_eq "$WAIT_RC" 0 "sig-1 exit status after draining"
assert_eq "$(task_field "$T1" 'd["status"]')" completed "status of the drained task"
assert_contains "$(task_field "$T1" 'd["result"]["stdout"]')" finished "stdout of the drained task"
assert_eq "$(task_field "$T1" 'd["result"]["worker_id"]')" sig-1 "worker of the drained task"
assert_eq "$(task_field "$T2" 'd["status"]')" pending "status of the queued task after sig-1 left"
assert_eq "$(task_field "$T2" 'd["attempt"]')" 0 "attempts of the queued task after sig-1 left"
assert_eq "$(api GET /api/v1/workers/sig-1 | jq_py 'd["status"]')" draining "sig-1's status"
# Another worker, started afterwards, runs it.
start_worker sig-2
wait_for -t 20 -m "queued_behind to complete on sig-2" task_status_is "$T2" completed
assert_eq "$(task_field "$T2" 'd["result"]["worker_id"]')" sig-2 "worker of the queued task"
kill -TERM "${WORKER_PID[sig-2]}"
wait_exit "${WORKER_PID[sig-2]}" 20
assert_eq "$WAIT_RC" 0 "sig-2 exit status (idle)"

# --- 2. two SIGTERMs while a long task runs ---
start_worker sig-3
wait_worker sig-3
T3=$(submit '{"name": "long_first_time", "shell": "if [ \"$DTF_ATTEMPT\" = 1 ]; then sleep 60; fi; echo attempt $DTF_ATTEMPT"}')
wait_for -t 20 -m "long_first_time to run" task_status_is "$T3" running
wait_for -t 10 -m "the task's process to start" eval '[ -n "$(task_procs '"$T3"')" ]'
kill -TERM "${WORKER_PID[sig-3]}"
wait_for -t 10 -m "sig-3 to start draining" grep -q draining "$T/worker-sig-3.log"
kill -TERM "${WORKER_PID[sig-3]}"
wait_exit "${WORKER_PID[sig-3]}" 20
assert_eq "$WAIT_RC" 0 "sig-3 exit status after two SIGTERMs"
wait_for -t 10 -m "the interrupted task's processes to be gone" no_task_procs "$T3"
assert_eq "$(task_field "$T3" 'd["status"]')" pending "status of the interrupted task"
python3 - "$T/body" <<'EOF' || fail "the interrupted attempt is not in the history: $(body)"
import json, sys
t = json.load(open(sys.argv[1]))
h = t["history"]
assert len(h) == 1, h
assert h[0]["attempt"] == 1 and h[0]["worker_id"] == "sig-3", h
assert h[0]["outcome"] == "requeued" and h[0].get("error_kind") == "interrupted", h
assert t["attempt"] == 1, t["attempt"]
EOF
start_worker sig-4
wait_for -t 20 -m "the interrupted task to complete on sig-4" task_status_is "$T3" completed
python3 - "$T/body" <<'EOF' || fail "the second attempt is not right: $(body)"
import json, sys
t = json.load(open(sys.argv[1]))
h = t["history"]
assert t["attempt"] == 2, t["attempt"]
assert [x["outcome"] for x in h] == ["requeued", "passed"], h
assert h[1]["worker_id"] == "sig-4" and t["result"]["worker_id"] == "sig-4", h
assert "attempt 2" in t["result"]["stdout"], t["result"]
EOF

# --- 3. timeout_s 1 on a command that leaves a child behind ---
start=$(date +%s.%N)
T4=$(submit '{"name": "hangs", "command": ["sh", "-c", "sleep 30 & sleep 30"], "timeout_s": 1}')
wait_for -t 15 -m "the hanging task to fail" task_status_is "$T4" failed
took=$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%d", n - s }')
[ "$took" -le $((6 * SCALE)) ] || fail "the timeout took $took s to be reported (timeout_s 1)"
assert_eq "$(task_field "$T4" 'd["error"]["kind"]')" timeout "error.kind of the hanging task"
wait_for -t 10 -m "the hanging task's processes (both sleeps) to be gone" no_task_procs "$T4"

# --- 4. cancel a running task ---
T5=$(submit '{"name": "to_cancel", "shell": "sleep 30"}')
wait_for -t 20 -m "to_cancel to run" task_status_is "$T5" running
wait_for -t 10 -m "to_cancel's process to start" eval '[ -n "$(task_procs '"$T5"')" ]'
# The worker learns of the cancellation with its next heartbeat and stops the process: how long
# that takes is measured on the task's processes themselves (pid_alive, cheap), before the
# checks of the task's document, whose time on a loaded machine is not the worker's.
P5=$(task_procs "$T5")
[ -n "$P5" ] || fail "to_cancel has no process"
procs_gone() {
	local p
	for p in $P5; do
		pid_alive "$p" && return 1
	done
	return 0
}
CANCEL_AT=$(date +%s%N)
out=$(dtf client --coordinator "$URL" cancel --task "$T5" 2>&1) || fail "dtf client cancel --task: $out"
wait_for -t 10 -m "the cancelled task's process to be stopped" procs_gone
cancel_ms=$(( ($(date +%s%N) - CANCEL_AT) / 1000000 ))
wait_for -t 10 -m "the cancelled task's processes to be gone" no_task_procs "$T5"
log "case 4: the cancelled task's process was gone ${cancel_ms} ms after the cancel"
[ "$cancel_ms" -le $(( 2000 * SCALE )) ] || fail "the cancelled task ran on for ${cancel_ms} ms (want <= 2 s)"
assert_contains "$out" "cancelled task $T5" "dtf client cancel output"
assert_eq "$(task_field "$T5" 'd["status"]')" cancelled "status after cancel"
assert_eq "$(task_field "$T5" 'd["error"]["kind"]')" cancelled "error.kind after cancel"
assert_eq "$(task_field "$T5" 'd["history"][-1]["outcome"]')" cancelled "the cancelled attempt in the history"
wait_for -t 10 -m "sig-4 to log the cancellation" grep -q "cancelling task $T5" "$T/worker-sig-4.log"
T6=$(submit '{"name": "after_cancel", "command": ["true"]}')
wait_for -t 20 -m "after_cancel to complete" task_status_is "$T6" completed
# Cancelling a finished task is refused.
out=$(dtf client --coordinator "$URL" cancel --task "$T4" 2>&1)
[ $? != 0 ] || fail "cancelling a failed task succeeded: $out"
assert_eq "$(task_field "$T4" 'd["status"]')" failed "status of the failed task after a refused cancel"
# Stop sig-4 (a second SIGTERM interrupts whatever it still runs); the cancelled task stays
# cancelled whatever the worker reports for it.
kill -TERM "${WORKER_PID[sig-4]}"
wait_for -t 10 -m "sig-4 to start draining" grep -q draining "$T/worker-sig-4.log"
kill -TERM "${WORKER_PID[sig-4]}" 2>/dev/null
wait_exit "${WORKER_PID[sig-4]}" 20
assert_eq "$WAIT_RC" 0 "sig-4 exit status"
wait_for -t 10 -m "the cancelled task's process to be gone" no_task_procs "$T5"
assert_eq "$(task_field "$T5" 'd["status"]')" cancelled "status of the cancelled task after its worker stopped"

# --- 5. SIGTERM of idle workers, their leases long-polling ---
# Six at once: each must have told the coordinator before it exits (a worker that exits first
# leaves its lease suspended there, and the next task goes to it).
IDLE="sig-5 sig-6 sig-7 sig-8 sig-9 sig-10"
for w in $IDLE; do start_worker "$w" --lease-wait 30; done
for w in $IDLE; do wait_for -t $((20 * SCALE)) -m "worker $w to register" worker_registered "$w"; done
# Their leases are suspended in the coordinator (long-polls of 30 s) when the signal comes.
T7=$(submit '{"name": "warm_up", "command": ["true"]}')
wait_for -t 20 -m "warm_up to complete" task_status_is "$T7" completed
for w in $IDLE; do kill -TERM "${WORKER_PID[$w]}"; done
for w in $IDLE; do
	wait_exit "${WORKER_PID[$w]}" 20
	assert_eq "$WAIT_RC" 0 "$w exit status"
done
for w in $IDLE; do
	assert_eq "$(api GET "/api/v1/workers/$w" | jq_py 'd["status"]')" draining "$w's status once it has exited"
done
for i in 1 2 3; do
	T8=$(submit '{"name": "after_idle_stop", "command": ["true"]}')
	assert_eq "$(task_field "$T8" 'd["status"]')" pending "a task submitted after the idle workers exited"
done
exit 0
