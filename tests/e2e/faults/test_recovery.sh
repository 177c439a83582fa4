#!/usr/bin/env bash
# Performance-based error recovery on real workers (DESIGN.md §7, docs/recovery.md):
#  1. a task that fails only on r1: level 1 retries it in place (r1 again), level 2 elsewhere
#     (r2), where it passes; it is reported flaky, and the history counts one failure of
#     retry_in_place and one success of retry_elsewhere for class exit;
#  2. a task that times out three times on its only worker: in place, then elsewhere with its
#     timeout doubled (no other worker: it stays), then the worker is told to restart its
#     executors (level 3) and it passes;
#  2b. a task that reports running out of memory is retried with more memory (level 2);
#  5. the history survives a coordinator restart.
# Quarantine and level 5 are in test_quarantine.sh.
. "$(dirname "$0")/faults_lib.sh"

start_recovery_coordinator

# ---------------------------------------------------------------------------------------------
log "1: fails on r1 only: retry in place, then elsewhere"
start_worker r1 --hardware rr,r1only
wait_worker r1
# Attempt 2 (held for r1) fails only once r2 is up, so that "elsewhere" has somewhere to go.
X1=$(submit '{"name": "fails_on_r1", "hardware": "rr", "max_retries": 3,
	"shell": "if [ \"$DTF_WORKER_ID\" = r1 ]; then if [ \"$DTF_ATTEMPT\" -gt 1 ]; then i=0; while [ ! -e '"$T"'/r2-up ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done; fi; echo broken here >&2; exit 3; fi; echo fine"}')
wait_for -t 20 -m "fails_on_r1's first attempt to fail" eval '[ "$(task_field '"$X1"' "len(d.get(\"history\", []))")" -ge 1 ]'
start_worker r2 --hardware rr,r2only
wait_worker r2
touch "$T/r2-up"
wait_for -t 20 -m "fails_on_r1 to complete" task_status_is "$X1" completed
assert_eq "$(history_of "$X1")" "r1:requeued:exit_code r1:requeued:exit_code r2:passed:-" "attempts of fails_on_r1"
assert_eq "$(task_field "$X1" 'd["result"].get("flaky")')" true "fails_on_r1 is flaky"
assert_eq "$(recovery_stat exit retry_in_place)" "1 0" "exit/retry_in_place"
assert_eq "$(recovery_stat exit retry_elsewhere)" "1 1" "exit/retry_elsewhere"
assert_eq "$(task_field "$X1" '"recovery" in d')" false "no recovery left on fails_on_r1"
assert_eq "$(api GET /api/v1/workers/r1 | jq_py 'd.get("strikes")')" 1 "strikes of r1"

# ---------------------------------------------------------------------------------------------
log "2: times out three times: in place, elsewhere with a longer timeout, executor restart"
start_worker r3 --hardware r3only
wait_worker r3
X2=$(submit '{"name": "slow_start", "hardware": "r3only", "max_retries": 4, "timeout_s": 1,
	"shell": "if [ \"$DTF_ATTEMPT\" -le 3 ]; then exec sleep 30; fi; echo attempt $DTF_ATTEMPT"}')
wait_for -t 40 -m "slow_start to complete" task_status_is "$X2" completed
assert_eq "$(history_of "$X2")" "r3:requeued:timeout r3:requeued:timeout r3:requeued:timeout r3:passed:-" "attempts of slow_start"
assert_eq "$(task_field "$X2" 'd["timeout_s"]')" 2.0 "timeout of slow_start after retry_elsewhere"
assert_eq "$(recovery_stat timeout retry_in_place) $(recovery_stat timeout retry_elsewhere) $(recovery_stat timeout restart_executor)" \
	"1 0 1 0 1 1" "timeout history"
wait_for -t 10 -m "r3 to log its executor restart" grep -q "executor 0 restarted" "$T/worker-r3.log"
wait_for -t 10 -m "r3 to report the restart" eval '[ "$(api GET /api/v1/workers/r3 | jq_py "d.get(\"executor_restarts\", 0)")" -ge 1 ]'

log "2b: out of memory (an out-of-memory message from a task with a memory requirement)"
X2B=$(submit '{"name": "needs_more_memory", "hardware": "r3only", "max_retries": 2,
	"requirements": {"memory": 64},
	"shell": "if [ \"$DTF_ATTEMPT\" -le 2 ]; then echo MemoryError >&2; exit 1; fi; echo ok"}')
wait_for -t 30 -m "needs_more_memory to complete" task_status_is "$X2B" completed
assert_eq "$(history_of "$X2B")" "r3:requeued:oom r3:requeued:oom r3:passed:-" "attempts of needs_more_memory"
assert_eq "$(task_field "$X2B" 'd["requirements"]["memory"]')" 96.0 "memory of needs_more_memory after retry_elsewhere"
assert_eq "$(recovery_stat oom retry_in_place) $(recovery_stat oom retry_elsewhere)" "1 0 1 1" "oom history"

# ---------------------------------------------------------------------------------------------
log "5: the history survives a restart"
assert_eq "$(metric 'dtf_recoveries_total{phase="completed"}')" 3 "recoveries completed"
grep -q '^event: recovery' "$T/events.txt" || fail "no recovery event in the event stream"
grep -q '"phase":"completed".*"strategy":"restart_executor"\|"strategy":"restart_executor".*"phase":"completed"' "$T/events.txt" ||
	fail "no recovery event for the executor restart: $(grep -A1 '^event: recovery' "$T/events.txt" | tail -4)"
api GET /api/v1/recovery/history | jq_py 'd["history"]' > before.json
stop_coordinator KILL
COORD_PORT_WANT=$COORD_PORT start_coordinator "${RECOVERY_ARGS[@]}"
api GET /api/v1/recovery/history | jq_py 'd["history"]' > after.json
cmp -s before.json after.json || fail "history changed across a restart: $(cat before.json) / $(cat after.json)"
exit 0
