#!/usr/bin/env bash
# Bad input to the REST API (DESIGN.md §5, §10): every bad request gets a fitting 4xx with
# {"error": {"code", "message"}}, and none of them changes what is stored.
. "$(dirname "$0")/lib.sh"

start_coordinator

# expect_error STATUS CODE_OR_EMPTY MESSAGE_PART METHOD PATH [BODY] [curl args…]
expect_error() {
	local want=$1 code=$2 part=$3 got
	shift 3
	got=$(http "$@")
	[ "$got" = "$want" ] || fail "$1 $2: status $got, want $want (body: $(body | head -c 500))"
	python3 - "$T/body" "$code" "$part" <<'EOF' || fail "$1 $2: the error body is not {\"error\": {\"code\", \"message\"}}: $(body | head -c 500)"
import json, sys
d = json.load(open(sys.argv[1]))
e = d["error"]
assert isinstance(e["code"], str) and e["code"], e
assert isinstance(e["message"], str) and e["message"], e
if sys.argv[2]:
    assert e["code"] == sys.argv[2], f"code {e['code']!r}, want {sys.argv[2]!r}"
if sys.argv[3]:
    assert sys.argv[3] in e["message"], f"message {e['message']!r} does not mention {sys.argv[3]!r}"
EOF
}

# --- what is stored validly: one single task, and a list of two ---
api POST /api/v1/tasks '{"name": "valid_single", "command": ["true"], "priority": 3}' > single.json
api POST /api/v1/tasks '[{"name": "valid_list_1", "shell": "true"}, {"name": "valid_list_2", "command": ["echo", "x"]}]' > list.json
VALID_IDS=$(python3 -c '
import json
print(" ".join(sorted([json.load(open("single.json"))["id"]] + json.load(open("list.json"))["ids"])))')
snapshot() {
	# The stored state as the API shows it, minus what is derived from the live workers.
	api GET /api/v1/tasks | python3 -c '
import json, sys
d = json.load(sys.stdin)
for t in d["tasks"]:
    t.pop("pending_reason", None)
    t.pop("schedulable", None)
print(json.dumps(d, sort_keys=True))'
	api GET /api/v1/runs | python3 -c '
import json, sys
print(json.dumps(sorted(r["id"] for r in json.load(sys.stdin)["runs"])))'
}
snapshot > before.txt

# --- malformed JSON ---
expect_error 400 malformed_json "" POST /api/v1/tasks '{"name": "broken", "command": ["true"'
expect_error 400 "" "" POST /api/v1/tasks 'not json at all'
expect_error 400 "" "" POST /api/v1/tasks "$(printf '{"name": "bad\xff", "command": ["true"]}')"
expect_error 400 empty_body "" POST /api/v1/tasks "" -H 'Content-Type: application/json'
expect_error 400 "" "" POST /api/v1/tasks '"a string"'
expect_error 400 "" "" POST /api/v1/tasks '[]'

# --- wrong field types: the message names the field ---
expect_error 400 invalid_task priority POST /api/v1/tasks '{"name": "p", "command": ["true"], "priority": "high"}'
expect_error 400 invalid_task priority POST /api/v1/tasks '{"name": "p", "command": ["true"], "priority": 11}'
expect_error 400 invalid_task command POST /api/v1/tasks '{"name": "c", "command": "echo hello"}'
expect_error 400 invalid_task command POST /api/v1/tasks '{"name": "c", "command": ["echo", 1]}'
expect_error 400 invalid_task timeout_s POST /api/v1/tasks '{"name": "t", "command": ["true"], "timeout_s": "soon"}'
expect_error 400 invalid_task env POST /api/v1/tasks '{"name": "e", "command": ["true"], "env": {"A": 1}}'
expect_error 400 invalid_task hardware POST /api/v1/tasks '{"name": "h", "command": ["true"], "hardware": 5}'
expect_error 400 invalid_task "requirements.gpu_memory" POST /api/v1/tasks '{"name": "r", "command": ["true"], "requirements": {"gpu_memory": "lots"}}'
expect_error 400 invalid_task "" POST /api/v1/tasks '{"name": "nothing to run"}'
# One bad task in a list: the whole request is refused, the good one is not stored.
expect_error 400 invalid_task "task 1" POST /api/v1/tasks '[{"name": "fine", "command": ["true"]}, {"name": "bad", "priority": "high", "command": ["true"]}]'
expect_error 400 invalid_task "task 0" POST /api/v1/tasks '{"tasks": [{"name": "bad", "command": "true"}]}'

# --- unknown task type ---
expect_error 400 invalid_task "quantum" POST /api/v1/tasks '{"name": "q", "command": ["true"], "type": "quantum"}'

# --- a body over 8 MiB ---
head -c $((8 * 1024 * 1024 + 4096)) /dev/zero | tr '\0' 'a' > big.bin
expect_error 413 body_too_large "" POST /api/v1/tasks @big.bin
python3 -c '
import json
print(json.dumps({"name": "huge", "shell": "true", "params": {"blob": "x" * (9 * 1024 * 1024)}}))' > big.json
expect_error 413 body_too_large "" POST /api/v1/tasks @big.json

# --- routes and methods ---
expect_error 404 not_found "" GET /api/v1/nothing-here
expect_error 404 not_found "" GET /api/v2/tasks
expect_error 405 method_not_allowed "" PATCH /api/v1/tasks
expect_error 405 method_not_allowed "" DELETE /api/v1/tasks
expect_error 405 method_not_allowed "" POST /healthz '{}'
expect_error 404 task_not_found "" DELETE /api/v1/tasks/t-does-not-exist
expect_error 404 task_not_found "" GET /api/v1/tasks/t-does-not-exist
expect_error 404 task_not_found "" PUT /api/v1/tasks/t-does-not-exist '{"priority": 2}'
expect_error 404 "" "nonexistent" GET "/api/v1/tasks/summary?ids=nonexistent"
expect_error 404 "" "" GET "/api/v1/tasks/export?ids=nonexistent&format=json"
expect_error 404 run_not_found "" GET /api/v1/runs/r-nope
expect_error 400 invalid_status "" GET "/api/v1/tasks?status=sleeping"
SINGLE=$(jq_py 'd["id"]' single.json)
expect_error 400 invalid_update priority PUT "/api/v1/tasks/$SINGLE" '{"priority": "high"}'
expect_error 400 unsupported_format "" GET "/api/v1/tasks/export?ids=$SINGLE&format=pdf"

# --- the worker API: a bad token is 401, a result for a task not assigned to the worker is 409 ---
api POST /api/v1/workers/register '{"worker_id": "fake-1", "protocol": 1}' > reg.json
TOKEN=$(jq_py 'd["token"]' reg.json)
[ -n "$TOKEN" ] || fail "registration returned no token"
expect_error 401 bad_worker_token "" POST /api/v1/workers/fake-1/lease '{"protocol": 1, "max": 1, "wait_s": 0}' \
	-H 'X-DTF-Worker-Token: not-the-token' -H 'X-DTF-Protocol: 1'
expect_error 401 bad_worker_token "" POST /api/v1/workers/fake-1/lease '{"protocol": 1, "max": 1, "wait_s": 0}'
expect_error 401 bad_worker_token "" POST /api/v1/workers/fake-1/heartbeat '{"protocol": 1}' \
	-H 'X-DTF-Worker-Token: not-the-token'
expect_error 404 worker_not_found "" POST /api/v1/workers/nobody/lease '{"protocol": 1, "max": 1}' \
	-H "X-DTF-Worker-Token: $TOKEN"
expect_error 400 protocol_mismatch "" POST /api/v1/workers/fake-1/lease '{"protocol": 99, "max": 1}' \
	-H "X-DTF-Worker-Token: $TOKEN"
expect_error 400 invalid_worker "" POST /api/v1/workers/register '{"worker_id": "bad id!", "protocol": 1}'
# The task is pending, not assigned to fake-1: its result is stale.
expect_error 409 stale_result "" POST "/api/v1/tasks/$SINGLE/result" \
	'{"protocol": 1, "worker_id": "fake-1", "attempt": 1, "outcome": "passed", "result": {"exit_code": 0}}' \
	-H "X-DTF-Worker-Token: $TOKEN"
expect_error 409 stale_start "" POST "/api/v1/tasks/$SINGLE/started" \
	'{"protocol": 1, "worker_id": "fake-1", "attempt": 1}' -H "X-DTF-Worker-Token: $TOKEN"
expect_error 404 "" "" POST "/api/v1/tasks/t-does-not-exist/result" \
	'{"protocol": 1, "worker_id": "fake-1", "attempt": 1, "outcome": "passed"}' -H "X-DTF-Worker-Token: $TOKEN"
expect_error 401 bad_worker_token "" POST "/api/v1/tasks/$SINGLE/result" \
	'{"protocol": 1, "worker_id": "fake-1", "attempt": 1, "outcome": "passed"}' -H 'X-DTF-Worker-Token: wrong'

# --- nothing stored changed, and the coordinator is healthy ---
snapshot > after.txt
if ! cmp -s before.txt after.txt; then
	diff before.txt after.txt | head -c 3000 >&2
	fail "the stored tasks or runs changed after the bad requests"
fi
GOT_IDS=$(api GET /api/v1/tasks | jq_py '" ".join(sorted(t["id"] for t in d["tasks"]))')
assert_eq "$GOT_IDS" "$VALID_IDS" "tasks stored"
assert_eq "$(api GET /api/v1/tasks | jq_py 'd["total"]')" 3 "task total"
assert_eq "$(task_field "$SINGLE" 'd["status"]')" pending "status of the task the stale result named"
assert_eq "$(task_field "$SINGLE" 'd["attempt"]')" 0 "attempt of the task the stale result named"
healthz_ok || fail "/healthz is not ok after the bad requests"
pid_alive "$COORD_PID" || fail "the coordinator died"
exit 0
