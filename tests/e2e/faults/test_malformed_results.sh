#!/usr/bin/env bash
# Malformed result uploads from a hand-driven worker: each is answered 4xx with a JSON error,
# the task is unchanged, the coordinator stays healthy, and the real result is then recorded
# exactly once (a duplicate delivery is stale).
. "$(dirname "$0")/faults_lib.sh"

# Nothing here is about losing a worker: the hand-driven workers' heartbeats (a shell loop of
# curls, started after both registrations and a submission) may be seconds apart on a loaded
# machine, more than HB_TIMEOUT's 2 s, so the timeout is 60 s.
start_faults_coordinator --heartbeat-timeout 60

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
# Both hand-driven workers report (ghost keeps the task).
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
exit 0
