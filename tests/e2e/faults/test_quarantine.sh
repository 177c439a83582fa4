#!/usr/bin/env bash
# Quarantine and system-wide intervention (DESIGN.md §7, docs/recovery.md):
#  3. r1 fails two tasks that then pass on r2 (threshold 2): r1 is quarantined (no leases; in
#     /api/v1/workers, /metrics and the event stream), lifted by the admin call; an admin
#     quarantine with a duration ends by itself;
#  4. level 5: a task that crashes by signal on the only worker with its hardware class climbs
#     through the levels (quarantine included) to a system-wide block of that class, visible in
#     /api/v1/workers, /api/v1/recovery/history and /metrics, and lifted by the admin call, after
#     which it passes.
. "$(dirname "$0")/faults_lib.sh"

# Case 3 checks r1 while it is quarantined and then lifts it by the admin call: its quarantine
# lasts 60 s, not RECOVERY_ARGS' 3 s, which on a slow, loaded machine could end before the checks
# are done. Case 4 needs a quarantine that ends by itself: the coordinator is restarted for it
# with the 3 s.
start_recovery_coordinator --quarantine-time 60

# busy_until NAME: a task's shell that runs until the file $T/NAME exists (a minute at most), so
# that a worker stays busy exactly as long as a case needs, however slow the machine.
busy_until() { echo "i=0; while [ ! -e $T/$1 ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i+1)); done"; }

# ---------------------------------------------------------------------------------------------
log "3: quarantine after two tasks that failed on r1 and passed on r2"
start_worker r1 --hardware rr,r1only
start_worker r2 --hardware rr,r2only
wait_worker r1
wait_worker r2
# First strike: r2's only slot is busy, so the task goes to r1, fails there twice (in place,
# then held back from r1 while r2 is busy) and passes on r2 once r2 is free.
B0=$(submit '{"name": "keeps_r2_busy_first", "hardware": "r2only", "shell": "'"$(busy_until free-r2-first)"'"}')
wait_for -t 20 -m "keeps_r2_busy_first to run" task_status_is "$B0" running
X0=$(submit '{"name": "fails_on_r1", "hardware": "rr", "max_retries": 2,
	"shell": "if [ \"$DTF_WORKER_ID\" = r1 ]; then exit 3; fi; echo fine"}')
wait_for -t 30 -m "fails_on_r1 to fail twice" first_attempts_failed "$X0" 2
touch "$T/free-r2-first"
wait_for -t 30 -m "fails_on_r1 to complete" task_status_is "$X0" completed
assert_eq "$(history_of "$X0")" "r1:requeued:exit_code r1:requeued:exit_code r2:passed:-" "attempts of fails_on_r1"
assert_eq "$(api GET /api/v1/workers/r1 | jq_py 'd.get("strikes")') $(worker_status r1)" "1 idle" "r1 after one strike"
# ---------------------------------------------------------------------------------------------
# Second strike.
# r2's only slot is busy, so the next task goes to r1.
B3=$(submit '{"name": "keeps_r2_busy", "hardware": "r2only", "shell": "'"$(busy_until free-r2)"'"}')
wait_for -t 20 -m "keeps_r2_busy to run" task_status_is "$B3" running
X3=$(submit '{"name": "fails_on_r1_again", "hardware": "rr", "max_retries": 2,
	"shell": "if [ \"$DTF_WORKER_ID\" = r1 ]; then exit 4; fi; echo fine"}')
wait_for -t 30 -m "fails_on_r1_again to fail on r1" first_attempts_failed "$X3" 1
touch "$T/free-r2"
wait_for -t 30 -m "fails_on_r1_again to complete" task_status_is "$X3" completed
# The history (in place 0 of 1, elsewhere 1 of 1) sent it elsewhere at once.
assert_eq "$(history_of "$X3")" "r1:requeued:exit_code r2:passed:-" "attempts of fails_on_r1_again"
assert_eq "$(worker_status r1)" quarantined "r1 after two strikes"
assert_contains "$(api GET /api/v1/workers/r1 | jq_py 'd["quarantine"]["reason"]')" "passed on another worker" "r1's quarantine reason"
assert_eq "$(metric dtf_workers_quarantined)" 1 "dtf_workers_quarantined"
assert_eq "$(api GET /api/v1/recovery/history | jq_py '[w["id"] for w in d["quarantined_workers"]]')" '["r1"]' "quarantined workers"
wait_for -t 10 -m "the quarantine in the event stream" grep -q '"id":"r1","status":"quarantined"' "$T/events.txt"
# No lease while quarantined: a task only r1 can run waits, and runs once it is lifted.
Z3=$(submit '{"name": "r1_only", "hardware": "r1only", "command": ["true"]}')
[ "$(task_field "$Z3" 'd["status"]')" = pending ] || fail "r1_only was leased to a quarantined worker"
assert_contains "$(task_field "$Z3" 'd["pending_reason"]')" "is quarantined" "pending reason of r1_only"
code=$(http DELETE /api/v1/workers/r1/quarantine)
assert_eq "$code" 200 "lifting r1's quarantine"
assert_eq "$(jq_py 'd["status"] + " " + str(d.get("quarantined", False))' "$T/body")" "idle False" "r1 after the lift"
wait_for -t 20 -m "r1_only to complete" task_status_is "$Z3" completed
# An admin quarantine with a duration ends by itself.
code=$(http POST /api/v1/workers/r2/quarantine '{"reason": "maintenance", "duration_s": 1}')
assert_eq "$code" 200 "quarantining r2"
assert_eq "$(jq_py 'd["status"] + " " + d["quarantine"]["reason"]' "$T/body")" "quarantined maintenance" "r2 quarantined"
wait_for -t 10 -m "r2's quarantine to end" eval '[ "$(worker_status r2)" = idle ]'
assert_eq "$(http POST /api/v1/workers/r2/quarantine '{"duration_s": "long"}')" 400 "a bad duration"
assert_eq "$(http POST /api/v1/workers/nobody/quarantine '{}')" 404 "an unknown worker"
# fails_on_r1 and fails_on_r1_again each recovered once (elsewhere).
assert_eq "$(metric 'dtf_recoveries_total{phase="completed"}')" 2 "recoveries completed in case 3"

# The 3 s quarantine of RECOVERY_ARGS for case 4 (the history and the workers stay in the store;
# the counters of /metrics start again).
stop_coordinator
COORD_PORT_WANT=$COORD_PORT start_recovery_coordinator

# ---------------------------------------------------------------------------------------------
log "4: level 5: a crash on the only worker of its class blocks the class"
start_worker r4 --hardware gpu-x
wait_worker r4
X4=$(submit '{"name": "crashes", "hardware": "gpu-x", "max_retries": 5,
	"shell": "if [ \"$DTF_ATTEMPT\" -le 5 ]; then kill -SEGV $$; fi; echo attempt $DTF_ATTEMPT"}')
blocked() { [ "$(api GET /api/v1/workers | jq_py '",".join(sorted(d["blocked_hardware"]))')" = gpu-x ]; }
wait_for -t 40 -m "gpu-x to be blocked" blocked
assert_eq "$(task_field "$X4" '"%s %s %d" % (d["status"], d["recovery"]["strategy"], len(d["history"]))')" \
	"pending system_intervention 5" "crashes while gpu-x is blocked"
assert_eq "$(history_of "$X4")" "r4:requeued:signal r4:requeued:signal r4:requeued:signal r4:requeued:signal r4:requeued:signal" "attempts of crashes"
assert_eq "$(metric dtf_hardware_blocked)" 1 "dtf_hardware_blocked"
# Once its backoff is over, the task says why it waits.
wait_for -t 20 -m "crashes to say gpu-x is blocked" eval 'task_field '"$X4"' "d[\"pending_reason\"]" | grep -q "hardware class .gpu-x. is blocked"'
wait_for -t 10 -m "the intervention in the event stream" grep -q "^event: intervention" "$T/events.txt"
assert_eq "$(http POST /api/v1/recovery/unblock '{"hardware": "cpu"}')" 404 "unblocking a class that is not blocked"
assert_eq "$(http POST /api/v1/recovery/unblock '{}')" 400 "unblocking without a class"
code=$(http POST /api/v1/recovery/unblock '{"hardware": "gpu-x"}')
assert_eq "$code" 200 "unblocking gpu-x"
wait_for -t 20 -m "crashes to complete" task_status_is "$X4" completed
assert_eq "$(recovery_stat signal system_intervention)" "1 1" "signal/system_intervention"
assert_eq "$(recovery_stat signal quarantine_worker)" "1 0" "signal/quarantine_worker"
# crashes recovered once (system intervention) since the restart.
assert_eq "$(metric 'dtf_recoveries_total{phase="completed"}')" 1 "recoveries completed in case 4"
exit 0
