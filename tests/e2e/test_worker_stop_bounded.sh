#!/usr/bin/env bash
# Workers always stop, and what they run never outlives them (docs/internals/worker.md):
#  a. a worker whose coordinator cannot be reached (a closed port, a port that accepts but never
#     answers, a TLS handshake that fails) exits within --drain-timeout + 1 s of SIGTERM, and
#     within 2 s of SIGQUIT;
#  b. a worker holding an undelivered result (its coordinator was killed while the task ran)
#     exits within --drain-timeout + 1 s of SIGTERM with the result in its spool; a worker
#     draining a long task with its coordinator gone exits within 2 s of a second SIGTERM, its
#     task's processes killed and the task in its spool as interrupted; when the coordinator comes
#     back (same database) and both start again under the same ids, the spooled result completes
#     its task and the interrupted task runs again without spending a retry;
#  c. SIGKILL of a worker leaves no process of its task behind (its guard process and
#     PR_SET_PDEATHSIG); with the guard killed as well, the task's leader still dies
#     (PR_SET_PDEATHSIG) and the next start of the worker kills the rest of its process group
#     before it leases, and reports the task interrupted.
. "$(dirname "$0")/lib.sh"

# gone_within PID BOUND_MS WHAT: waits for PID (a child of this shell) to exit, polling every
# 20 ms; fails unless it exited within BOUND_MS (times SCALE) of $SIG_AT. Sets ELAPSED, WAIT_RC.
gone_within() {
	local pid=$1 bound=$(($2 * SCALE)) what=$3 now
	while pid_alive "$pid"; do
		now=$(now_ms)
		[ $((now - SIG_AT)) -le $((bound + 2000)) ] ||
			fail "$what: still running $((now - SIG_AT)) ms after the signal"
		sleep 0.02
	done
	ELAPSED=$(($(now_ms) - SIG_AT))
	wait "$pid" 2>/dev/null
	WAIT_RC=$?
	log "$what: exited ${ELAPSED} ms after the signal (bound ${bound} ms), status $WAIT_RC"
	[ "$ELAPSED" -le "$bound" ] || fail "$what: exited ${ELAPSED} ms after the signal, want <= ${bound} ms"
}

signal_worker() { # signal_worker SIG ID: sends it and notes the time in SIG_AT
	SIG_AT=$(now_ms)
	kill -"$1" "${WORKER_PID[$2]}"
}

spool() { echo "$T/work/$1/.worker-$1.spool"; }
# The comm names of a task's processes, sorted, on one line.
task_comms() {
	local p out=""
	for p in $(task_procs "$1"); do
		out="$out $(cat "/proc/$p/comm" 2>/dev/null)"
	done
	echo "$out" | tr ' ' '\n' | sed '/^$/d' | sort | tr '\n' ' '
}

# ---------------------------------------------------------------------------------------------
# a. No coordinator to talk to.
CLOSED_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log "case a1: coordinator on a closed port ($CLOSED_PORT), SIGTERM"
URL="http://127.0.0.1:$CLOSED_PORT" start_worker a1 --drain-timeout 2
wait_for -t 10 -m "a1 to try to register" grep -q "cannot register yet" "$T/worker-a1.log"
signal_worker TERM a1
gone_within "${WORKER_PID[a1]}" 3000 "a1 (closed port, SIGTERM, --drain-timeout 2)"
assert_eq "$WAIT_RC" 0 "a1's exit status"

# A port that accepts connections and never answers: every request hangs until its timeout.
python3 - "$T/silent.port" "$T/silent.accepted" <<'EOF' &
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
s.settimeout(120)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
try:
    while True:
        c, _ = s.accept()
        held.append(c)
        with open(sys.argv[2], "a") as f:
            f.write("accepted\n")
except socket.timeout:
    pass
EOF
track_pid $!
wait_for -t 10 -m "the silent listener's port" test -s "$T/silent.port"
SILENT="http://127.0.0.1:$(cat "$T/silent.port")"
log "case a2: coordinator that never answers ($SILENT), SIGTERM during the registration call"
URL="$SILENT" start_worker a2 --drain-timeout 2
wait_for -t 10 -m "a2's registration request to be accepted" grep -q accepted "$T/silent.accepted"
signal_worker TERM a2
gone_within "${WORKER_PID[a2]}" 3000 "a2 (silent coordinator, SIGTERM)"
assert_eq "$WAIT_RC" 0 "a2's exit status"
log "case a3: the same, SIGQUIT"
: > "$T/silent.accepted"
URL="$SILENT" start_worker a3 --drain-timeout 30
wait_for -t 10 -m "a3's registration request to be accepted" grep -q accepted "$T/silent.accepted"
signal_worker QUIT a3
gone_within "${WORKER_PID[a3]}" 2000 "a3 (silent coordinator, SIGQUIT)"
assert_eq "$WAIT_RC" 0 "a3's exit status"

# ---------------------------------------------------------------------------------------------
# b. The coordinator goes away while tasks run.
start_coordinator --heartbeat-timeout 60
log "case a4: https:// to a plain-HTTP coordinator (the TLS handshake fails), SIGTERM"
URL="https://127.0.0.1:$COORD_PORT" start_worker a4 --drain-timeout 2
wait_for -t 10 -m "a4 to fail to register" grep -q "cannot register yet" "$T/worker-a4.log"
signal_worker TERM a4
gone_within "${WORKER_PID[a4]}" 3000 "a4 (TLS failure, SIGTERM)"
assert_eq "$WAIT_RC" 0 "a4's exit status"
start_worker b1 --hardware hb --drain-timeout 2
start_worker b2 --hardware hb2 --drain-timeout 30
wait_worker b1
wait_worker b2
TA=$(submit '{"name": "long_then_short", "hardware": ["hb2"], "shell": "if [ \"$DTF_ATTEMPT\" = 1 ]; then sleep 60; fi; echo attempt $DTF_ATTEMPT"}')
wait_for -t 20 -m "long_then_short to run" task_status_is "$TA" running
wait_for -t 10 -m "long_then_short's processes" has_task_procs "$TA"
# finishes_offline ends once the coordinator is gone (the file $T/coordinator-gone; a minute at
# most), not after a fixed time a loaded machine could outlast before the kill.
TB=$(submit '{"name": "finishes_offline", "hardware": ["hb"],
	"shell": "i=0; while [ ! -e '"$T"'/coordinator-gone ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; echo spooled result"}')
wait_for -t 20 -m "finishes_offline to run" task_status_is "$TB" running
stop_coordinator KILL
touch "$T/coordinator-gone"
log "case b1: the coordinator is killed; b1's task ends and its result cannot be delivered"
wait_for -t 10 -m "finishes_offline's process to end" no_task_procs "$TB"
wait_for -t 10 -m "b1 to hold the result" grep -q "holding the message" "$T/worker-b1.log"
signal_worker TERM b1
gone_within "${WORKER_PID[b1]}" 3000 "b1 (undelivered result, SIGTERM, --drain-timeout 2)"
assert_eq "$WAIT_RC" 0 "b1's exit status"
[ -f "$(spool b1)" ] || fail "b1 left no spool: $(ls -la "$T/work/b1")"
python3 - "$(spool b1)" "$TB" <<'EOF' || fail "b1's spool is wrong: $(cat "$(spool b1)")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(lines) == 1, lines
r = lines[0]
assert r["task_id"] == sys.argv[2] and r["outcome"] == "passed", r
assert "spooled result" in r["result"]["stdout"], r
EOF

log "case b2: b2 drains a 60 s task with its coordinator gone; a second SIGTERM"
signal_worker TERM b2
wait_for -t 10 -m "b2 to start draining" grep -q draining "$T/worker-b2.log"
pid_alive "${WORKER_PID[b2]}" || fail "b2 exited at the first SIGTERM instead of draining"
has_task_procs "$TA" || fail "b2's task was stopped at the first SIGTERM"
signal_worker TERM b2
gone_within "${WORKER_PID[b2]}" 2000 "b2 (second SIGTERM while draining)"
assert_eq "$WAIT_RC" 0 "b2's exit status"
wait_for -t 2 -m "long_then_short's processes to be gone" no_task_procs "$TA"
python3 - "$(spool b2)" "$TA" <<'EOF' || fail "b2's spool is wrong: $(cat "$(spool b2)" 2>&1)"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert [(r["task_id"], r["outcome"], r["attempt"]) for r in lines] == [(sys.argv[2], "interrupted", 1)], lines
EOF

log "case b3: the coordinator comes back (same database); b1 and b2 start again"
start_coordinator --heartbeat-timeout 60
start_worker b1 --hardware hb --drain-timeout 2
start_worker b2 --hardware hb2 --drain-timeout 2
wait_for -t 20 -m "finishes_offline to complete from the spool" task_status_is "$TB" completed
assert_contains "$(task_field "$TB" 'd["result"]["stdout"]')" "spooled result" "stdout of the spooled result"
assert_eq "$(task_field "$TB" 'd["result"]["worker_id"]')" b1 "worker of the spooled result"
assert_eq "$(task_field "$TB" 'd["attempt"]')" 1 "attempts of finishes_offline"
wait_for -t 20 -m "long_then_short to run again and complete" task_status_is "$TA" completed
python3 - "$T/body" <<'EOF' || fail "long_then_short's history is wrong: $(body)"
import json, sys
t = json.load(open(sys.argv[1]))
h = t["history"]
assert [x["outcome"] for x in h] == ["requeued", "passed"], h
assert h[0]["worker_id"] == "b2" and h[0].get("error_kind") == "interrupted", h
assert t["attempt"] == 2 and "attempt 2" in t["result"]["stdout"], t
assert t.get("retries_used", 0) == 0, t.get("retries_used")
EOF
wait_for -t 5 -m "b1's spool to be removed once delivered" test ! -e "$(spool b1)"
wait_for -t 5 -m "b2's spool to be removed once delivered" test ! -e "$(spool b2)"
for w in b1 b2; do
	signal_worker TERM "$w"
	gone_within "${WORKER_PID[$w]}" 3000 "$w (idle, SIGTERM)"
done

# ---------------------------------------------------------------------------------------------
# c. SIGKILL.
SCRIPT='if [ \"$DTF_ATTEMPT\" = 1 ]; then sleep 60; fi; echo attempt $DTF_ATTEMPT'
start_worker c1 --hardware hc
wait_worker c1
TC=$(submit '{"name": "killed_worker_task", "hardware": ["hc"], "shell": "'"$SCRIPT"'"}')
wait_for -t 20 -m "killed_worker_task to run" task_status_is "$TC" running
wait_for -t 10 -m "killed_worker_task's shell and sleep" eval '[ "$(task_comms '"$TC"')" = "sh sleep " ]'
log "case c1: SIGKILL the worker; processes of $TC: $(task_comms "$TC")"
kill -KILL "${WORKER_PID[c1]}"
KILL_AT=$(now_ms)
wait_for -t 3 -m "every process of killed_worker_task to be gone after the worker's SIGKILL" no_task_procs "$TC"
log "case c1: no process of the task left $(($(now_ms) - KILL_AT)) ms after the SIGKILL"
wait "${WORKER_PID[c1]}" 2>/dev/null
wait_for -t 5 -m "the guard to report the kill" grep -q "guard: the worker ended while task $TC" "$T/worker-c1.log"
start_worker c1 --hardware hc
wait_for -t 20 -m "killed_worker_task to run again and complete" task_status_is "$TC" completed
grep -q "task $TC (attempt 1) was running when this worker last ended" "$T/worker-c1.log" ||
	fail "the restarted worker did not report the task it was running"
python3 - "$T/body" <<'EOF' || fail "killed_worker_task's history is wrong: $(body)"
import json, sys
t = json.load(open(sys.argv[1]))
h = t["history"]
assert [x["outcome"] for x in h] == ["requeued", "passed"], h
assert h[0].get("error_kind") == "interrupted", h
assert t["attempt"] == 2 and "attempt 2" in t["result"]["stdout"], t
EOF

log "case c2: SIGKILL the guard, then the worker: the restart sweeps the leftovers"
TD=$(submit '{"name": "no_guard_task", "hardware": ["hc"], "shell": "'"$SCRIPT"'"}')
wait_for -t 20 -m "no_guard_task to run" task_status_is "$TD" running
wait_for -t 10 -m "no_guard_task's shell and sleep" eval '[ "$(task_comms '"$TD"')" = "sh sleep " ]'
GUARD=$(pgrep -P "${WORKER_PID[c1]}" -x dtf-guard)
[ -n "$GUARD" ] || fail "c1 has no guard process"
kill -KILL "$GUARD"
wait_for -t 5 -m "the guard to be gone" eval '! pid_alive '"$GUARD"
kill -KILL "${WORKER_PID[c1]}"
wait "${WORKER_PID[c1]}" 2>/dev/null
# PR_SET_PDEATHSIG kills the leader (the shell); the sleep it started lives on, for now.
wait_for -t 3 -m "only the sleep of no_guard_task to be left" eval '[ "$(task_comms '"$TD"')" = "sleep " ]'
start_worker c1 --hardware hc
wait_for -t 5 -m "the restart to kill the leftover sleep" no_task_procs "$TD"
wait_for -t 5 -m "the restarted worker to report the leftover it killed" \
	grep -q "task $TD (attempt 1) was running when this worker last ended: killed 1 leftover process " "$T/worker-c1.log"
wait_for -t 20 -m "no_guard_task to run again and complete" task_status_is "$TD" completed
assert_eq "$(task_field "$TD" 'd["history"][0].get("error_kind")')" interrupted "no_guard_task's first attempt"
signal_worker TERM c1
gone_within "${WORKER_PID[c1]}" 3000 "c1 (idle, SIGTERM)"
exit 0
