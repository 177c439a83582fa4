#!/usr/bin/env bash
# Real replies validate against the OpenAPI description (docs/openapi.json): a coordinator and a
# worker run a small run (a passing, a failing and a cancelled task), a second worker speaks the
# worker protocol by hand (register, heartbeat, lease, started, log, result), and every reply —
# tasks, task lists, runs, summaries, workers, the scheduler, plugins, recovery, and error
# replies (400, 401, 404, 409) — must have a status its operation documents and, for JSON, match
# the schema documented for it (tests/e2e/openapi_check.py, python3-jsonschema).
#
# Without python3-jsonschema (Debian package, scripts/install-deps.sh) the test says so and exits
# 77, which CTest reports as skipped.
PY=${DTF_PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'import jsonschema' 2>/dev/null; then
	echo "SKIP: $PY cannot import jsonschema (install the Debian package python3-jsonschema," \
		"e.g. with scripts/install-deps.sh as root)" >&2
	exit 77
fi
. "$(dirname "$0")/lib.sh"

DESC="$DTF_SOURCE_DIR/docs/openapi.json"
CHECKER="$DTF_SOURCE_DIR/tests/e2e/openapi_check.py"
CHECKED=0

# check METHOD TEMPLATE PATH [BODY] [curl args…]: sends the request and validates the reply
# against the operation METHOD TEMPLATE of the description; the body stays in $T/body.
check() {
	local method=$1 template=$2 path=$3 data=${4-} out code ctype
	shift 3
	[ $# -gt 0 ] && shift
	out=$(http "$method" "$path" "$data" -w '%{http_code} %{content_type}' "$@")
	code=${out%% *}
	ctype=${out#* }
	"$PY" "$CHECKER" "$DESC" "$method" "$template" "$code" "$T/body" "$ctype" ||
		fail "$method $path: the reply does not match the description: $(head -c 600 "$T/body")"
	CHECKED=$((CHECKED + 1))
	LAST_CODE=$code
}

# want CODE: the last check's status.
want() { assert_eq "$LAST_CODE" "$1" "status"; }

start_coordinator
start_worker w1
wait_worker w1

check GET /healthz /healthz
want 200
check GET /api/v1/openapi.json /api/v1/openapi.json
want 200

# A run with a passing, a failing and a pending task nobody can run.
check POST /api/v1/runs /api/v1/runs '{"name": "openapi", "metadata": {"suite": "e2e"}}'
want 201
RUN=$(jq_py 'd["id"]' "$T/body")
check POST /api/v1/tasks /api/v1/tasks \
	"{\"name\": \"ok\", \"shell\": \"echo fine\", \"run_id\": \"$RUN\"}"
want 201
OK=$(jq_py 'd["id"]' "$T/body")
check POST /api/v1/tasks /api/v1/tasks "{\"run_id\": \"$RUN\", \"tasks\": [
	{\"name\": \"bad\", \"shell\": \"echo oops >&2; exit 3\", \"max_retries\": 0},
	{\"name\": \"never\", \"shell\": \"true\", \"requirements\": {\"hardware\": [\"nosuchgpu\"]}}]}"
want 201
BAD=$(jq_py 'd["ids"][0]' "$T/body")
NEVER=$(jq_py 'd["ids"][1]' "$T/body")

wait_for -t 30 -m "the tasks to finish" task_status_is "$OK" completed
wait_for -t 30 -m "the failing task to fail" task_status_is "$BAD" failed

check GET /api/v1/tasks/{id} "/api/v1/tasks/$OK"
want 200
check GET /api/v1/tasks/{id} "/api/v1/tasks/$BAD"
want 200
check GET /api/v1/tasks/{id} "/api/v1/tasks/$NEVER"
want 200
check GET /api/v1/tasks/{id}/log "/api/v1/tasks/$OK/log"
want 200
check GET /api/v1/tasks /api/v1/tasks
want 200
check GET /api/v1/tasks "/api/v1/tasks?run_id=$RUN&status=completed&limit=10"
want 200
check GET /api/v1/tasks/summary "/api/v1/tasks/summary?run_id=$RUN"
want 200
check GET /api/v1/tasks/summary "/api/v1/tasks/summary?ids=$OK,$BAD"
want 200
check GET /api/v1/tasks/export "/api/v1/tasks/export?ids=$OK,$BAD&format=json"
want 200
check GET /api/v1/tasks/export "/api/v1/tasks/export?ids=$OK&format=junit"
want 200
check PUT /api/v1/tasks/{id} "/api/v1/tasks/$NEVER" '{"priority": 2, "name": "never2"}'
want 200
check DELETE /api/v1/tasks/{id} "/api/v1/tasks/$NEVER"
want 200
check GET /api/v1/runs /api/v1/runs
want 200
check GET /api/v1/runs/{id} "/api/v1/runs/$RUN"
want 200
check GET /api/v1/runs/{id}/summary "/api/v1/runs/$RUN/summary?wait_s=5"
want 200
assert_eq "$(jq_py 'd["done"]' "$T/body")" true "the run is done"
check GET /api/v1/runs/{id}/export "/api/v1/runs/$RUN/export?format=markdown"
want 200
check GET /api/v1/workers /api/v1/workers
check GET /api/v1/browsers /api/v1/browsers
want 200
check GET /api/v1/workers/{id} /api/v1/workers/w1
want 200
check GET /api/v1/scheduler /api/v1/scheduler
want 200
check PUT /api/v1/scheduler /api/v1/scheduler '{"strategy": "priority"}'
want 200
check GET /api/v1/plugins /api/v1/plugins
want 200
check GET /api/v1/recovery/history /api/v1/recovery/history
want 200
check POST /api/v1/workers/{id}/quarantine /api/v1/workers/w1/quarantine '{"reason": "e2e"}'
want 200
check DELETE /api/v1/workers/{id}/quarantine /api/v1/workers/w1/quarantine
want 200
check GET /metrics /metrics
want 200

# Error replies.
check GET /api/v1/tasks/{id} /api/v1/tasks/t-nosuch
want 404
check GET /api/v1/runs/{id} /api/v1/runs/r-nosuch
want 404
check GET /api/v1/tasks /api/v1/tasks?status=bogus
want 400
check POST /api/v1/tasks /api/v1/tasks '{"name": "x", "command": "not a list"}'
want 400
check POST /api/v1/tasks /api/v1/tasks '{not json'
want 400
check PUT /api/v1/tasks/{id} "/api/v1/tasks/$OK" '{"priority": 1}'
want 409
check PUT /api/v1/scheduler /api/v1/scheduler '{"strategy": "nosuch"}'
want 400
check GET /api/v1/runs/{id}/summary "/api/v1/runs/$RUN/summary?wait_s=100"
want 400
check POST /api/v1/recovery/unblock /api/v1/recovery/unblock '{"hardware": "nosuch"}'
want 404
check GET /api/v1/tasks/export "/api/v1/tasks/export?ids=$OK&format=pdf"
want 400

# The worker protocol by hand: a worker only it can serve gets a task through a lease.
PROTO=(-H 'X-DTF-Protocol: 1')
check POST /api/v1/workers/register /api/v1/workers/register '{"worker_id": "w2",
	"hostname": "h2", "capabilities": {"cpu": {"cores": 1}, "memory": 512, "hardware": ["w2hw"]},
	"labels": {}, "slots": 1, "running": []}' "${PROTO[@]}"
want 201
TOKEN=$(jq_py 'd["token"]' "$T/body")
WH=("${PROTO[@]}" -H "X-DTF-Worker-Token: $TOKEN")
check POST /api/v1/workers/{id}/heartbeat /api/v1/workers/w2/heartbeat \
	'{"draining": false, "running": []}' "${WH[@]}"
want 200
check POST /api/v1/workers/{id}/lease /api/v1/workers/w2/lease '{"max": 1, "wait_s": 0}' \
	"${PROTO[@]}" -H "X-DTF-Worker-Token: wrong"
want 401
W2T=$(submit '{"name": "on-w2", "shell": "true", "requirements": {"hardware": ["w2hw"]}}')
check POST /api/v1/workers/{id}/lease /api/v1/workers/w2/lease '{"max": 1, "wait_s": 5}' \
	"${WH[@]}"
want 200
assert_eq "$(jq_py 'd["tasks"][0]["id"]' "$T/body")" "$W2T" "the task leased to w2"
ATTEMPT=$(jq_py 'd["tasks"][0]["attempt"]' "$T/body")
check POST /api/v1/tasks/{id}/started "/api/v1/tasks/$W2T/started" \
	"{\"worker_id\": \"w2\", \"attempt\": $ATTEMPT}" "${WH[@]}"
want 200
check POST /api/v1/tasks/{id}/log "/api/v1/tasks/$W2T/log" \
	'{"worker_id": "w2", "chunk": "hello\n"}' "${WH[@]}"
want 200
check POST /api/v1/tasks/{id}/result "/api/v1/tasks/$W2T/result" \
	"{\"worker_id\": \"w2\", \"attempt\": $ATTEMPT, \"outcome\": \"passed\",
	  \"result\": {\"exit_code\": 0, \"duration_s\": 0.01, \"stdout\": \"hello\n\"}}" "${WH[@]}"
want 200
check POST /api/v1/tasks/{id}/result "/api/v1/tasks/$W2T/result" \
	"{\"worker_id\": \"w2\", \"attempt\": $ATTEMPT, \"outcome\": \"passed\"}" "${WH[@]}"
want 409
check GET /api/v1/tasks/{id} "/api/v1/tasks/$W2T"
want 200
assert_eq "$(jq_py 'd["status"]' "$T/body")" completed "w2's task"

log "PASS: $CHECKED replies match the description"
