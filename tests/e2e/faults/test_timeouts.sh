#!/usr/bin/env bash
# A task that hangs fails with error.kind timeout; a task whose processes (a forked child
# included) ignore SIGTERM fails with error.kind timeout and none of its processes remain (the
# whole process group is killed after the grace period).
. "$(dirname "$0")/faults_lib.sh"

start_faults_coordinator

# ---------------------------------------------------------------------------------------------
# c and d, side by side on one 2-slot worker.
log "cases c, d: a hanging task and a task whose processes ignore SIGTERM (timeout_s 2)"
start_worker kc --slots 2 --hardware fc
wait_worker kc
START_MS=$(now_ms)
XC=$(submit '{"name": "hangs", "hardware": "fc", "command": ["sleep", "600"], "timeout_s": 2}')
XD=$(submit '{"name": "ignores_term", "hardware": "fc", "timeout_s": 2,
	"command": ["sh", "-c", "trap \"\" TERM; (trap \"\" TERM; sleep 600) & sleep 600"]}')
# ignores_term runs as sh and two sleeps (the subshell execs its sleep), all ignoring SIGTERM;
# every one of them is checked for afterwards.
nprocs_ge() { [ "$(task_procs_on "$1" kc | wc -l)" -ge "$2" ]; }
wait_for -t 10 -m "ignores_term's 3 processes" nprocs_ge "$XD" 3
wait_for -t 20 -m "hangs to fail" task_status_is "$XC" failed
assert_eq "$(task_field "$XC" 'd["error"]["kind"]')" timeout "error.kind of hangs"
wait_for -t 20 -m "ignores_term to fail" task_status_is "$XD" failed
assert_eq "$(task_field "$XD" 'd["error"]["kind"]')" timeout "error.kind of ignores_term"
took=$(( $(now_ms) - START_MS ))
log "cases c, d: both failed after ${took} ms"
for x in "$XC" "$XD"; do
	python3 - "$x" <<'EOF' || fail "the timed-out task $x is wrong: $(body)"
import json, subprocess, sys, os
t = json.loads(subprocess.run(["curl", "-s", os.environ["URL"] + "/api/v1/tasks/" + sys.argv[1]],
                              capture_output=True, check=True).stdout)
h = t["history"]
assert t["status"] == "failed" and t["attempt"] == 1 and len(h) == 1, (t["status"], h)
assert h[0]["outcome"] == "failed" and h[0]["error_kind"] == "timeout", h
assert t["result"]["worker_id"] == "kc", t["result"]
# Stopped at the timeout, not before; SIGTERM then SIGKILL after the 2 s grace, not later.
assert 1.9 <= t["result"]["duration_s"] <= 10, t["result"]
EOF
done
# Nothing of either task is left, though ignores_term's processes ignored SIGTERM.
wait_for -t 5 -m "hangs' processes to be gone" no_task_procs "$XC"
wait_for -t 5 -m "ignores_term's processes to be gone" no_task_procs "$XD"
# The worker is fine: it runs the next task.
XC2=$(submit '{"name": "after_timeouts", "hardware": "fc", "command": ["echo", "fine"]}')
wait_for -t 20 -m "after_timeouts to complete" task_status_is "$XC2" completed
assert_eq "$(worker_status kc)" idle "status of kc after the timeouts"
exit 0
