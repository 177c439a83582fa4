#!/usr/bin/env bash
# Worker faults (issue 5, DESIGN.md §7), each case asserting the final state of its tasks:
#  a. a worker SIGKILLed mid-task: past the heartbeat timeout (2 s) the worker is lost, its task
#     goes back to pending within timeout + 1 s and completes on another worker, exactly once (the
#     history shows the worker_lost attempt); with no retries left the task fails (worker_lost);
#  b. a worker SIGSTOPped past the heartbeat timeout, then SIGCONTed: its task was requeued and
#     runs elsewhere; the result it sends for the old attempt on waking is refused (409), the task
#     keeps the other worker's result, and the woken worker registers again and runs new work;
#  c. a task that hangs fails with error.kind timeout;
#  d. a task whose processes ignore SIGTERM fails with error.kind timeout and none of them remain;
#  e. a full disk in the worker's work directory (a 1 MiB tmpfs in a mount namespace): the task's
#     own write fails, the task fails, the worker stays healthy and runs the next tasks (skipped,
#     with a message, where tmpfs cannot be mounted);
#  f. malformed result uploads: each answered 4xx with a JSON error, the task unchanged, the
#     coordinator healthy.
. "$(dirname "$0")/lib.sh"

HB_TIMEOUT=2   # seconds; workers report every 0.5 s (lib.sh's --heartbeat-interval)
start_coordinator --heartbeat-timeout "$HB_TIMEOUT"

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
metric() { curl -s --max-time 5 "$URL/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
NOTE='echo \"$DTF_TASK_ID $DTF_ATTEMPT $DTF_WORKER_ID\" >> '"$RAN"

# ---------------------------------------------------------------------------------------------
# a. SIGKILL a worker in the middle of a 5 s task.
log "case a: SIGKILL a worker mid-task"
start_worker ka-1 --hardware fa
wait_worker ka-1
XA=$(submit '{"name": "killed_mid_task", "hardware": "fa", "max_retries": 1,
	"shell": "'"$NOTE"'; if [ \"$DTF_ATTEMPT\" = 1 ]; then sleep 5; fi; echo done on $DTF_WORKER_ID"}')
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
assert t["retries_used"] == 1, t.get("retries_used")
# A task whose worker was killed never failed by itself: it is not flaky.
assert not t["result"].get("flaky"), t["result"]
EOF
log "case a: result.flaky of the task whose worker was killed: $(task_field "$XA" 'd["result"].get("flaky", False)')"
requeue_ms=$(ms_since "$(task_field "$XA" 'd["history"][0]["finished_at"]')" "$KILL_MS")
log "case a: requeued ${requeue_ms} ms after the SIGKILL (heartbeat timeout ${HB_TIMEOUT} s)"
# Lost for silence, not for anything else: not before the timeout minus one heartbeat interval,
# and within the timeout plus one second (the aim of issue 5).
[ "$requeue_ms" -ge $(( HB_TIMEOUT * 1000 - 1000 )) ] || fail "requeued only ${requeue_ms} ms after the kill"
[ "$requeue_ms" -le $(( (HB_TIMEOUT + 1) * 1000 * SCALE )) ] ||
	fail "requeued ${requeue_ms} ms after the kill; want <= $(( HB_TIMEOUT + 1 )) s"
assert_eq "$(worker_status ka-1)" lost "status of the killed worker"
# The killed worker's task process was orphaned, not killed: it finishes (sleep 5) and is gone.
wait_for -t 15 -m "the killed worker's task process to end" no_task_procs_on "$XA" ka-1
# It ran once per attempt: the sleep on ka-1, the rest on ka-2.
assert_eq "$(grep "^$XA " "$RAN" | sort | tr '\n' ' ')" "$XA 1 ka-1 $XA 2 ka-2 " "executions of killed_mid_task"
assert_eq "$(task_field "$XA" 'd["status"]')" completed "killed_mid_task after its orphan ended"

# a2. The same on a 2-slot worker whose task has no retry left: the task fails with
# error.kind worker_lost (issue 5: "or fail when retries are spent").
log "case a2: SIGKILL a 2-slot worker mid-task, no retries left"
start_worker ka-3 --slots 2 --hardware fa2
wait_worker ka-3
YA=$(submit '{"name": "no_retry_left", "hardware": "fa2", "shell": "'"$NOTE"'; sleep 5"}')
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
wait_for -t 15 -m "no_retry_left's orphan to end" no_task_procs "$YA"

# ---------------------------------------------------------------------------------------------
# b. SIGSTOP a worker past the heartbeat timeout, SIGCONT it once its task runs elsewhere.
log "case b: SIGSTOP a worker past the heartbeat timeout, then SIGCONT"
start_worker kb-1 --hardware fb
wait_worker kb-1
# Attempt 1 (on kb-1) sleeps 3 s, so it ends while kb-1 is stopped and kb-1 has a passed result
# to send when it wakes; attempt 2 (elsewhere) sleeps 5 s, so the stale result arrives while the
# task is running there.
XB=$(submit '{"name": "stopped_worker", "hardware": "fb", "max_retries": 1,
	"shell": "'"$NOTE"'; if [ \"$DTF_ATTEMPT\" = 1 ]; then sleep 3; else sleep 5; fi; echo attempt $DTF_ATTEMPT on $DTF_WORKER_ID"}')
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
	grep -q "tasks/$XB/result refused" "$T/worker-kb-1.log"
# The stale result changed nothing: the task still runs on kb-2 in attempt 2.
running_on "$XB" kb-2 2 || fail "the stale result from kb-1 changed the task: $(body)"
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
refusal=$(grep "tasks/$XB/result refused" "$T/worker-kb-1.log" | head -n1)
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

# ---------------------------------------------------------------------------------------------
# e. A full disk in the worker's work directory.
WE="$T/work/ke"
mkdir -p "$WE"
if ! unshare -m sh -c 'mount -t tmpfs -o size=1m tmpfs "$1"' sh "$WE" 2> "$T/unshare.err"; then
	log "case e: SKIPPED: cannot mount a tmpfs in a mount namespace here ($(head -c 200 "$T/unshare.err"))"
else
	log "case e: a full disk in the work directory (1 MiB tmpfs)"
	# The worker runs in its own mount namespace where its work directory is a 1 MiB tmpfs
	# (unshare and sh exec, so the pid is the worker's).
	unshare -m sh -c 'mount -t tmpfs -o size=1m tmpfs "$1" || exit 97; shift; exec "$@"' \
		sh "$WE" "$DTF_BIN" worker --coordinator "$URL" --worker-id ke --work-dir "$WE" \
		--lease-wait 5 --hardware fe >> "$T/worker-ke.log" 2>&1 &
	WORKER_PID[ke]=$!
	track_pid "$!"
	wait_worker ke
	# The worker really is on the tmpfs (seen through its own root).
	grep -q " $WE tmpfs " "/proc/${WORKER_PID[ke]}/mounts" || fail "ke's work directory is not a tmpfs"
	E1=$(submit '{"name": "fills_disk", "hardware": "fe",
		"shell": "dd if=/dev/zero of=\"$DTF_WORK_DIR/fill\" bs=1M count=5"}')
	wait_for -t 20 -m "fills_disk to fail" task_status_is "$E1" failed
	assert_eq "$(task_field "$E1" 'd["error"]["kind"]')" exit_code "error.kind of fills_disk"
	assert_contains "$(task_field "$E1" 'd["result"]["stderr"]')" "No space left on device" "stderr of fills_disk"
	assert_eq "$(task_field "$E1" 'd["result"]["worker_id"]')" ke "worker of fills_disk"
	# The disk stays full (a failed task's directory is kept), and the worker goes on: a task
	# that needs no disk space completes, one that writes fails with its own error.
	E2=$(submit '{"name": "needs_no_disk", "hardware": "fe", "shell": "echo alive"}')
	wait_for -t 20 -m "needs_no_disk to complete" task_status_is "$E2" completed
	assert_eq "$(task_field "$E2" 'd["result"]["stdout"]')" alive "stdout of needs_no_disk"
	E3=$(submit '{"name": "writes_on_full_disk", "hardware": "fe",
		"shell": "echo data > \"$DTF_WORK_DIR/small\""}')
	wait_for -t 20 -m "writes_on_full_disk to fail" task_status_is "$E3" failed
	assert_eq "$(task_field "$E3" 'd["error"]["kind"]')" exit_code "error.kind of writes_on_full_disk"
	# Space freed (fills_disk's file removed), writing works again on the same worker.
	E4=$(submit '{"name": "after_space_freed", "hardware": "fe",
		"shell": "rm -f \"'"$WE/$E1"'-1/fill\" && echo data > \"$DTF_WORK_DIR/small\" && cat \"$DTF_WORK_DIR/small\""}')
	wait_for -t 20 -m "after_space_freed to complete" task_status_is "$E4" completed
	assert_eq "$(task_field "$E4" 'd["result"]["stdout"]')" data "stdout of after_space_freed"
	pid_alive "${WORKER_PID[ke]}" || fail "worker ke exited"
	assert_eq "$(worker_status ke)" idle "status of ke after the full disk"
	for x in "$E1" "$E2" "$E3" "$E4"; do
		assert_eq "$(task_field "$x" '"%d %d" % (d["attempt"], len(d["history"]))')" "1 1" "attempts of $x"
	done
fi

# ---------------------------------------------------------------------------------------------
# f. Malformed result uploads, from a hand-driven worker.
log "case f: malformed result uploads"
api POST /api/v1/workers/register '{"worker_id": "ghost", "protocol": 1, "capabilities": {"hardware": ["ghost-hw"]}}' > ghost.json
GHOST_TOKEN=$(jq_py 'd["token"]' ghost.json)
api POST /api/v1/workers/register '{"worker_id": "ghost2", "protocol": 1, "capabilities": {"hardware": ["ghost2-hw"]}}' > ghost2.json
GHOST2_TOKEN=$(jq_py 'd["token"]' ghost2.json)
XF=$(submit '{"name": "result_target", "hardware": "ghost-hw", "command": ["true"]}')
code=$(http POST /api/v1/workers/ghost/lease '{"protocol": 1, "max": 1}' -H "X-DTF-Worker-Token: $GHOST_TOKEN")
assert_eq "$code" 200 "ghost's lease"
assert_eq "$(jq_py '[t["id"] for t in d["tasks"]]' "$T/body")" "[\"$XF\"]" "ghost's leased tasks"
# Both hand-driven workers stay alive (heartbeat timeout 2 s) and ghost keeps the task.
(
	while :; do
		curl -s -o /dev/null --max-time 2 -H "X-DTF-Worker-Token: $GHOST_TOKEN" -H 'Content-Type: application/json' \
			--data-binary "{\"protocol\": 1, \"running\": [\"$XF\"]}" "$URL/api/v1/workers/ghost/heartbeat"
		curl -s -o /dev/null --max-time 2 -H "X-DTF-Worker-Token: $GHOST2_TOKEN" -H 'Content-Type: application/json' \
			--data-binary '{"protocol": 1, "running": []}' "$URL/api/v1/workers/ghost2/heartbeat"
		sleep 0.3
	done
) &
HB_LOOP=$!
track_pid "$HB_LOOP"
api GET "/api/v1/tasks/$XF" > before.json
assert_eq "$(jq_py 'd["status"] + " " + d["worker_id"]' before.json)" "assigned ghost" "result_target before"

# bad_result NAME WANT_CODE [WANT_ERROR_CODE] BODY [curl args…]: POSTs BODY as ghost's result for
# XF (ghost's token unless other curl args give one); the answer must be WANT_CODE with a JSON
# error (of WANT_ERROR_CODE when given), and the task must be exactly as before.
bad_result() {
	local name=$1 want=$2 want_err=$3 data=$4 code
	shift 4
	[ $# -gt 0 ] || set -- -H "X-DTF-Worker-Token: $GHOST_TOKEN"
	code=$(http POST "/api/v1/tasks/$XF/result" "$data" "$@")
	[ "$code" = "$want" ] || fail "$name: answered $code, want $want: $(body | head -c 500)"
	cp "$T/body" answer.json
	api GET "/api/v1/tasks/$XF" > after.json
	got=$(python3 - "$want_err" <<'EOF'
import json, sys
try:
    e = json.load(open("answer.json"))["error"]
except Exception as x:
    sys.exit(f"the answer is not a JSON error ({x})")
if not (isinstance(e.get("code"), str) and e["code"] and isinstance(e.get("message"), str) and e["message"]):
    sys.exit("the error lacks a code or a message")
if sys.argv[1] and e["code"] != sys.argv[1]:
    sys.exit(f"error code {e['code']}, want {sys.argv[1]}")
if json.load(open("before.json")) != json.load(open("after.json")):
    sys.exit("the task changed")
print(e["code"])
EOF
) || fail "$name: $(head -c 500 answer.json); task before $(cat before.json) after $(cat after.json)"
	log "case f: $name -> $code $got"
}
G='"protocol": 1, "worker_id": "ghost"'
bad_result "malformed JSON" 400 malformed_json "{$G, \"attempt\": 1, \"outcome\": \"passed\""
bad_result "empty body" 400 empty_body ""
bad_result "not an object" 400 invalid_result '[1, 2, 3]'
bad_result "worker_id of the wrong type" 400 invalid_result '{"protocol": 1, "worker_id": 5, "attempt": 1, "outcome": "passed"}'
bad_result "no worker_id" 400 invalid_result '{"protocol": 1, "attempt": 1, "outcome": "passed"}'
bad_result "unknown outcome" 400 invalid_result "{$G, \"attempt\": 1, \"outcome\": \"succeeded\"}"
bad_result "outcome of the wrong type" 400 invalid_result "{$G, \"attempt\": 1, \"outcome\": true}"
bad_result "no outcome" 400 invalid_result "{$G, \"attempt\": 1}"
bad_result "attempt as a string" 400 invalid_result "{$G, \"attempt\": \"1\", \"outcome\": \"passed\"}"
bad_result "attempt as a real" 400 invalid_result "{$G, \"attempt\": 1.0, \"outcome\": \"passed\"}"
bad_result "attempt null" 400 invalid_result "{$G, \"attempt\": null, \"outcome\": \"passed\"}"
bad_result "no attempt" 400 invalid_result "{$G, \"outcome\": \"passed\"}"
bad_result "result of the wrong type" 400 invalid_result "{$G, \"attempt\": 1, \"outcome\": \"passed\", \"result\": \"ok\"}"
bad_result "error of the wrong type" 400 invalid_result "{$G, \"attempt\": 1, \"outcome\": \"failed\", \"error\": [\"timeout\"]}"
# Output over the 2 MiB limit per stream, in a body under the 8 MiB request limit.
python3 - > big_stdout.json <<EOF
import json
print(json.dumps({"protocol": 1, "worker_id": "ghost", "attempt": 1, "outcome": "passed",
                  "result": {"exit_code": 0, "stdout": "x" * ((2 << 20) + 1), "stderr": ""}}))
EOF
bad_result "stdout over the limit" 400 invalid_result @big_stdout.json
python3 - > big_stderr.json <<EOF
import json
print(json.dumps({"protocol": 1, "worker_id": "ghost", "attempt": 1, "outcome": "failed",
                  "result": {"exit_code": 1, "stdout": "", "stderr": "e" * ((2 << 20) + 1)}}))
EOF
bad_result "stderr over the limit" 400 invalid_result @big_stderr.json
python3 - > huge.json <<EOF
import json
print(json.dumps({"protocol": 1, "worker_id": "ghost", "attempt": 1, "outcome": "passed",
                  "result": {"exit_code": 0, "stdout": "y" * (9 << 20)}}))
EOF
bad_result "body over 8 MiB" 413 body_too_large @huge.json
bad_result "an attempt that is not current (2)" 409 stale_result "{$G, \"attempt\": 2, \"outcome\": \"passed\"}"
bad_result "an attempt that is not current (0)" 409 stale_result "{$G, \"attempt\": 0, \"outcome\": \"passed\"}"
bad_result "ghost's result with ghost2's token" 401 bad_worker_token "{$G, \"attempt\": 1, \"outcome\": \"passed\"}" \
	-H "X-DTF-Worker-Token: $GHOST2_TOKEN"
bad_result "ghost2's result for ghost's task" 409 stale_result '{"protocol": 1, "worker_id": "ghost2", "attempt": 1, "outcome": "passed"}' \
	-H "X-DTF-Worker-Token: $GHOST2_TOKEN"
bad_result "no worker token" 401 bad_worker_token "{$G, \"attempt\": 1, \"outcome\": \"passed\"}" -H "X-Nothing: 1"
bad_result "an unknown worker" 404 worker_not_found '{"protocol": 1, "worker_id": "nobody", "attempt": 1, "outcome": "passed"}'
bad_result "another protocol version" 400 protocol_mismatch "{$G, \"attempt\": 1, \"outcome\": \"passed\"}" \
	-H "X-DTF-Worker-Token: $GHOST_TOKEN" -H "X-DTF-Protocol: 2"
bad_result "protocol of the body" 400 protocol_mismatch '{"protocol": 7, "worker_id": "ghost", "attempt": 1, "outcome": "passed"}'
# Fields of the wrong type inside result and error are refused.
bad_result "fields of the wrong type inside result and error" 400 invalid_result \
	"{$G, \"attempt\": 1, \"outcome\": \"failed\", \"result\": {\"stdout\": 5, \"exit_code\": \"x\"}, \"error\": {\"kind\": 7, \"message\": {}}}"
# A malformed result inside a lease request is refused the same way (the lease itself is fine).
code=$(http POST /api/v1/workers/ghost/lease "{\"protocol\": 1, \"max\": 0, \"results\": [{\"task_id\": \"$XF\", \"attempt\": \"1\", \"outcome\": \"passed\"}, {\"task_id\": \"$XF\", \"attempt\": 1, \"outcome\": \"maybe\"}, {\"task_id\": \"$XF\", \"attempt\": 3, \"outcome\": \"passed\"}]}" \
	-H "X-DTF-Worker-Token: $GHOST_TOKEN")
assert_eq "$code" 200 "a lease carrying malformed results"
assert_eq "$(jq_py '[r["accepted"] for r in d["results"]]' "$T/body")" "[false, false, false]" "results accepted in the lease"
api GET "/api/v1/tasks/$XF" > after.json
python3 -c 'import json; a, b = (json.load(open(f)) for f in ("before.json", "after.json")); exit(a != b)' ||
	fail "malformed results in a lease changed the task: $(cat after.json)"
# An unknown task.
code=$(http POST /api/v1/tasks/t-no-such-task/result "{$G, \"attempt\": 1, \"outcome\": \"passed\"}" -H "X-DTF-Worker-Token: $GHOST_TOKEN")
assert_eq "$code" 404 "a result for an unknown task"
# The coordinator is healthy and the task still takes its real result, exactly once.
pid_alive "$COORD_PID" || fail "the coordinator died"
healthz_ok || fail "the coordinator is not healthy after the malformed results"
completed_before=$(metric 'dtf_tasks{status="completed"}')
GOOD="{$G, \"attempt\": 1, \"outcome\": \"passed\", \"result\": {\"exit_code\": 0, \"stdout\": \"real\\n\", \"stderr\": \"\", \"worker_id\": \"ghost\"}}"
code=$(http POST "/api/v1/tasks/$XF/result" "$GOOD" -H "X-DTF-Worker-Token: $GHOST_TOKEN")
assert_eq "$code" 200 "ghost's real result"
api GET "/api/v1/tasks/$XF" > done.json
assert_eq "$(jq_py '"%s %s %d %s" % (d["status"], d["result"]["stdout"].strip(), len(d["history"]), d["history"][0]["outcome"])' done.json)" \
	"completed real 1 passed" "result_target after its real result"
# The same result again (a duplicate delivery) is stale and records nothing.
cp done.json before.json
bad_result "the same result twice" 409 stale_result "$GOOD"
assert_eq "$(metric 'dtf_tasks{status="completed"}')" "$((completed_before + 1))" "completed tasks after the duplicate"
kill "$HB_LOOP" 2>/dev/null
wait "$HB_LOOP" 2>/dev/null

# The other workers were not disturbed by any of it.
for w in ka-2 kb-1 kc; do
	pid_alive "${WORKER_PID[$w]}" || fail "worker $w exited"
	worker_registered "$w" || fail "worker $w is not registered at the end"
done
exit 0
