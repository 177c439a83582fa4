#!/usr/bin/env bash
# A lost worker never fails a task by default (docs/recovery.md, "Requeues"): its loss is the
# infrastructure's fault, so the task is requeued without spending a retry, up to max_requeues.
#  1. A task (max_retries 0) whose worker is SIGKILLed mid-run passes on a second worker:
#     attempt 2, no retry spent, requeues 1 (in the task, its events and /metrics).
#  2. A task that kills its worker every time stops after max_requeues (2): the third loss fails
#     it with error.kind worker_lost and a message that counts the requeues; /metrics counts them.
#  3. A worker restarted under the same id without its task (the task killed it) gets it
#     requeued at once (the registration lists what it runs, or the restarted worker reports what
#     it found of the task); with max_requeues 1 the second such restart fails it.
#  4. An interrupted task (a stopping worker's report, or what a restarted worker found) counts
#     as a requeue once it had started; one handed back unstarted spends nothing. max_requeues
#     is validated and settable.
#  5. The coordinator's --max-requeues is the default; requeue counts survive a restart.
. "$(dirname "$0")/lib.sh"

HB_TIMEOUT=2 # seconds; workers report every 0.5 s
start_coordinator --heartbeat-timeout "$HB_TIMEOUT"

KILLED="$T/killed.log" # one line "task attempt worker pid" per worker a task killed
export KILLED
# killworker.sh: run by a task, SIGKILLs the dtf worker that runs it: the nearest ancestor whose
# command line is "dtf worker … --worker-id $DTF_WORKER_ID …" (the pid found, not assumed).
cat > "$T/killworker.sh" <<'EOF'
#!/bin/sh
p=$PPID
while [ "${p:-0}" -gt 1 ]; do
	if tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null |
		grep -q -- " worker .*--worker-id $DTF_WORKER_ID "; then
		echo "$DTF_TASK_ID $DTF_ATTEMPT $DTF_WORKER_ID $p" >> "$KILLED"
		kill -KILL "$p"
		exit 0
	fi
	p=$(sed 's/.*) //' "/proc/$p/stat" | cut -d' ' -f2)
done
echo "killworker.sh: no dtf worker among the ancestors" >&2
exit 1
EOF
chmod +x "$T/killworker.sh"

running_on() { [ "$(task_field "$1" '"%s %s" % (d["status"], d.get("worker_id", ""))')" = "running $2" ]; }
requeue_metric() {
	curl -s --max-time 5 "$URL/metrics" | awk -v k="dtf_task_requeues_total{kind=\"$1\"}" '$1 == k { print $2 }'
}

# ---------------------------------------------------------------------------------------------
log "case 1: SIGKILL a worker mid-task; a second worker finishes it"
start_worker rq-1 --hardware rqa
wait_worker rq-1
A=$(submit '{"name": "survives", "hardware": "rqa", "shell": "echo $DTF_ATTEMPT $DTF_WORKER_ID >> '"$T"'/ran-a; if [ $DTF_ATTEMPT = 1 ]; then sleep 20; fi; echo done"}')
wait_for -t 20 -m "survives to run on rq-1" running_on "$A" rq-1
start_worker rq-2 --hardware rqa
wait_worker rq-2
kill -KILL "${WORKER_PID[rq-1]}"
wait_for -t 20 -m "survives to complete on rq-2" task_status_is "$A" completed
task_field "$A" 'd' > "$T/a.json"
python3 - "$T/a.json" <<'EOF' || fail "survives: $(cat "$T/a.json")"
import json, sys
t = json.load(open(sys.argv[1]))
h = t["history"]
assert t["max_retries"] == 0 and t.get("retries_used", 0) == 0, t
assert t["requeues"] == 1 and t["max_requeues"] == 3, t
assert t["attempt"] == 2 and len(h) == 2, h
assert (h[0]["worker_id"], h[0]["outcome"], h[0]["error_kind"]) == ("rq-1", "requeued", "worker_lost"), h
assert (h[1]["worker_id"], h[1]["outcome"]) == ("rq-2", "passed"), h
assert t["result"]["worker_id"] == "rq-2" and "done" in t["result"]["stdout"], t["result"]
assert not t["result"].get("flaky"), t["result"]
assert "error" not in t, t["error"]
EOF
assert_eq "$(requeue_metric worker_lost)" 1 "dtf_task_requeues_total{kind=\"worker_lost\"} after case 1"
# The event stream says so: the task went back to pending with requeues 1 (replayed from the
# start of the ring; curl ends at its time limit).
curl -sN --max-time 2 -H "Last-Event-ID: 0" "$URL/api/v1/events" > events.txt
python3 - events.txt "$A" <<'EOF' || fail "no pending event with requeues for $A: $(grep -F "$A" events.txt)"
import json, sys
evs = [json.loads(l[6:]) for l in open(sys.argv[1]) if l.startswith("data: ")]
mine = [(e["status"], e["attempt"], e.get("requeues", 0)) for e in evs if e.get("id") == sys.argv[2]]
assert ("pending", 1, 1) in mine and mine[-1] == ("completed", 2, 1), mine
EOF

# ---------------------------------------------------------------------------------------------
log "case 2: a task that kills its worker every time stops after max_requeues (2)"
for w in rk-1 rk-2 rk-3; do
	start_worker "$w" --hardware rqk
done
for w in rk-1 rk-2 rk-3; do
	wait_worker "$w"
done
B=$(submit '{"name": "kills_its_worker", "hardware": "rqk", "max_requeues": 2, "command": ["'"$T"'/killworker.sh"]}')
# Each loss is noticed after the heartbeat timeout: three of them, bounded.
wait_for -t 40 -m "kills_its_worker to fail" task_status_is "$B" failed
task_field "$B" 'd' > "$T/b.json"
python3 - "$T/b.json" "$KILLED" <<'EOF' || fail "kills_its_worker: $(cat "$T/b.json")"
import json, sys
t = json.load(open(sys.argv[1]))
h = t["history"]
kills = [l.split() for l in open(sys.argv[2]) if l.startswith(t["id"] + " ")]
assert t["error"]["kind"] == "worker_lost", t["error"]
assert "requeued 2 times" in t["error"]["message"] and "max_requeues is 2" in t["error"]["message"], t["error"]
assert t.get("retries_used", 0) == 0 and t["requeues"] == 2, t
assert t["attempt"] == 3 and [a["outcome"] for a in h] == ["requeued", "requeued", "failed"], h
assert all(a["error_kind"] == "worker_lost" for a in h), h
# Three workers, each killed once by the task (then lost), none twice.
assert sorted(a["worker_id"] for a in h) == ["rk-1", "rk-2", "rk-3"], h
assert sorted(k[2] for k in kills) == ["rk-1", "rk-2", "rk-3"], kills
EOF
for w in rk-1 rk-2 rk-3; do
	wait_for -t 10 -m "$w to be gone" eval '! pid_alive '"${WORKER_PID[$w]}"
done
assert_eq "$(requeue_metric worker_lost)" 3 "dtf_task_requeues_total{kind=\"worker_lost\"} after case 2"
assert_eq "$(metric dtf_task_requeue_limit_total)" 1 "dtf_task_requeue_limit_total after case 2"

# ---------------------------------------------------------------------------------------------
# From here on no worker is lost for silence: case 3 restarts a killed worker, which must be back
# before its heartbeat timeout, and case 4's worker fw is driven by hand and sends no heartbeat,
# seconds of checks apart. On a loaded machine (a sanitizer build above all) either takes longer
# than HB_TIMEOUT, so the coordinator starts again (same database and port) with 60 s.
stop_coordinator
COORD_PORT_WANT=$COORD_PORT start_coordinator --heartbeat-timeout 60

log "case 3: a worker restarted under the same id without its task"
start_worker rs-1 --hardware rqs
wait_worker rs-1
C=$(submit '{"name": "restarts_its_worker", "hardware": "rqs", "max_requeues": 1, "command": ["'"$T"'/killworker.sh"]}')
for i in 1 2; do
	wait_for -t 20 -m "rs-1 to be killed by its task ($i)" eval '! pid_alive '"${WORKER_PID[rs-1]}"
	# Back at once, well inside the heartbeat timeout: it says what became of the task.
	start_worker rs-1 --hardware rqs
	wait_worker rs-1
done
wait_for -t 20 -m "restarts_its_worker to fail" task_status_is "$C" failed
task_field "$C" 'd' > "$T/c.json"
python3 - "$T/c.json" <<'EOF' || fail "restarts_its_worker: $(cat "$T/c.json")"
import json, sys
t = json.load(open(sys.argv[1]))
h = t["history"]
# Either the registration finds the task missing (worker_lost) or the restarted worker reports
# what it found of it (interrupted); both at once, both a requeue, neither a retry.
why = {"worker_lost": "the worker restarted without this task",
       "interrupted": "the worker ended while the task ran"}
assert t["error"]["kind"] in why, t["error"]
assert "; the task was requeued 1 time for its worker's failures" in t["error"]["message"], t["error"]
assert t["requeues"] == 1 and t.get("retries_used", 0) == 0 and t["attempt"] == 2, t
assert [(a["worker_id"], a["outcome"]) for a in h] == [("rs-1", "requeued"), ("rs-1", "failed")], h
assert all(a["message"].startswith(why[a["error_kind"]]) for a in h), h
EOF

# ---------------------------------------------------------------------------------------------
log "case 4: interrupted tasks, and max_requeues on submission and update"
api POST /api/v1/workers/register '{"worker_id": "fw", "protocol": 1, "capabilities": {"hardware": ["fw-hw"]}}' > fw.json
FW_TOKEN=$(jq_py 'd["token"]' fw.json)
fw() { http POST "/api/v1/workers/fw/$1" "$2" -H "X-DTF-Worker-Token: $FW_TOKEN"; }
# (Case 3 counted one interruption when the restarted worker reported what it found.)
INTERRUPTED_BEFORE=$(requeue_metric interrupted)
D=$(submit '{"name": "interrupted", "hardware": "fw-hw", "command": ["true"], "max_requeues": 5}')
# max_requeues can be changed while pending, within 0..100; other values are refused.
assert_eq "$(http PUT "/api/v1/tasks/$D" '{"max_requeues": 101}')" 400 "PUT max_requeues 101"
assert_eq "$(http POST /api/v1/tasks '{"command": ["true"], "max_requeues": -1}')" 400 "POST max_requeues -1"
assert_contains "$(body)" "max_requeues" "the error for max_requeues -1"
api PUT "/api/v1/tasks/$D" '{"max_requeues": 2}' > /dev/null
interrupt() { # interrupt ATTEMPT [EXTRA]: lease D and report it interrupted, EXTRA in the body
	assert_eq "$(fw lease '{"protocol": 1, "max": 1}')" 200 "lease by fw"
	assert_eq "$(jq_py '[x["id"] for x in d["tasks"]]' "$T/body")" "[\"$D\"]" "fw's lease"
	assert_eq "$(http POST "/api/v1/tasks/$D/result" '{"protocol": 1, "worker_id": "fw", "attempt": '"$1"', "outcome": "interrupted"'"${2:-}"'}' -H "X-DTF-Worker-Token: $FW_TOKEN")" 200 "interrupted result"
}
state_of_d() { task_field "$D" '"%s %s %s" % (d["status"], d.get("requeues", 0), d.get("retries_used", 0))'; }
# Handed back before it started (nothing but the outcome): nothing spent.
interrupt 1
assert_eq "$(state_of_d)" "pending 0 0" "after an unstarted interruption"
# Stopped while it ran (its start time): one requeue, no retry.
interrupt 2 ', "started_at": "2026-01-01T00:00:00.000Z"'
assert_eq "$(state_of_d)" "pending 1 0" "after a started interruption"
# Found and stopped by its worker's next start (an error, no result): one more, and its message.
interrupt 3 ', "error": {"kind": "interrupted", "message": "the worker ended while the task ran"}'
assert_eq "$(state_of_d)" "pending 2 0" "after an interruption found at the worker's restart"
assert_eq "$(task_field "$D" 'd["history"][-1]["message"]')" "the worker ended while the task ran" "the message of that attempt"
assert_eq "$(requeue_metric interrupted)" $((INTERRUPTED_BEFORE + 2)) "dtf_task_requeues_total{kind=\"interrupted\"}"
# The next one is past max_requeues 2: failed, error.kind interrupted.
interrupt 4 ', "started_at": "2026-01-01T00:00:01.000Z"'
assert_eq "$(task_field "$D" '"%s %s" % (d["status"], d["error"]["kind"])')" "failed interrupted" "after a third started interruption"
assert_contains "$(task_field "$D" 'd["error"]["message"]')" "requeued 2 times for its worker's failures and max_requeues is 2" "the interrupted task's error"

# ---------------------------------------------------------------------------------------------
log "case 5: the coordinator's --max-requeues, and the counts across a restart"
stop_coordinator
start_coordinator --heartbeat-timeout 60 --max-requeues 7
E=$(submit '{"name": "default_from_flag", "hardware": "nowhere", "command": ["true"]}')
assert_eq "$(task_field "$E" 'd["max_requeues"]')" 7 "max_requeues from --max-requeues"
# Stored tasks keep their own bound and count.
assert_eq "$(task_field "$A" '"%s %s %s" % (d["status"], d["requeues"], d["max_requeues"])')" "completed 1 3" "survives after the restart"
assert_eq "$(task_field "$B" '"%s %s %s" % (d["status"], d["requeues"], d["max_requeues"])')" "failed 2 2" "kills_its_worker after the restart"
exit 0
