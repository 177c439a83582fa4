#!/usr/bin/env bash
# API keys (DESIGN.md §10): a coordinator started with --api-key (or DTF_API_KEYS) refuses
# requests without a valid key (401, JSON error), accepts "Authorization: Bearer K" and
# "X-API-Key: K", keeps /healthz open; workers and the client pass their key and work.
. "$(dirname "$0")/lib.sh"

# Keys that cannot appear by chance in a log line or a temporary path.
K1=key-one-Zq81v
K2=key-two-Xw52m
K3=key-three-Lp07c
E1=env-key-Pa19d
E2=env-key-Rb27f

start_coordinator --api-key ${K1} --api-key ${K2}
grep -q "API keys required" "$COORD_LOG" || fail "the coordinator does not say it requires API keys"

# code_of METHOD PATH [curl args…]: the status code, without $API_KEY.
code_of() {
	local m=$1 p=$2
	shift 2
	curl -s -o "$T/body" -w '%{http_code}' -X "$m" --max-time 10 "$@" "$URL$p"
}
check_401() {
	python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))["error"]
assert e["code"] == "unauthorized" and e["message"], e' "$T/body" || fail "401 body is not a JSON error: $(body)"
}

# --- no key, wrong keys ---
assert_eq "$(code_of GET /api/v1/tasks)" 401 "GET /api/v1/tasks without a key"
check_401
assert_eq "$(code_of POST /api/v1/tasks -d '{"command": ["true"]}')" 401 "POST /api/v1/tasks without a key"
check_401
assert_eq "$(code_of GET /api/v1/workers -H "X-API-Key: ${K3}")" 401 "a wrong X-API-Key"
check_401
assert_eq "$(code_of GET /api/v1/workers -H "Authorization: Bearer ${K3}")" 401 "a wrong Bearer key"
assert_eq "$(code_of GET /api/v1/workers -H 'Authorization: Bearer ')" 401 "an empty Bearer key"
assert_eq "$(code_of GET /api/v1/workers -H "Authorization: ${K1}")" 401 "a key without 'Bearer'"
assert_eq "$(code_of GET /api/v1/workers -H "X-API-Key: ${K1}x")" 401 "a key with a suffix"
assert_eq "$(code_of GET /api/v1/workers -H "X-API-Key: ${K1%?}")" 401 "a prefix of a key"
assert_eq "$(code_of POST /api/v1/workers/register -d '{"worker_id": "w", "protocol": 1}')" 401 "registering without a key"
# The 401 tells the client how to authenticate.
curl -s -D headers.txt -o /dev/null "$URL/api/v1/tasks"
grep -qi '^WWW-Authenticate: Bearer' headers.txt || fail "the 401 has no 'WWW-Authenticate: Bearer' header"

# --- valid keys, both spellings, either key ---
assert_eq "$(code_of GET /api/v1/tasks -H "Authorization: Bearer ${K1}")" 200 "Authorization: Bearer ${K1}"
assert_eq "$(code_of GET /api/v1/tasks -H "X-API-Key: ${K2}")" 200 "X-API-Key: ${K2}"
assert_eq "$(code_of GET /api/v1/tasks -H "Authorization: Bearer ${K2}")" 200 "Authorization: Bearer ${K2}"
assert_eq "$(code_of GET /api/v1/tasks -H "X-API-Key: ${K1}")" 200 "X-API-Key: ${K1}"
# --- /healthz stays open ---
assert_eq "$(code_of GET /healthz)" 200 "/healthz without a key"

# --- a worker without a key is refused and exits non-zero; with K1 it registers ---
"$DTF_BIN" worker --coordinator "$URL" --worker-id keyless --work-dir "$T/work/keyless" \
	> worker-keyless.log 2>&1 &
KL=$!
track_pid $KL
wait_exit $KL 20
[ "$WAIT_RC" != 0 ] || fail "a worker without the API key exited 0"
[ "$WAIT_RC" -lt 128 ] || fail "a worker without the API key died of signal $((WAIT_RC - 128))"
grep -qi "refused\|401\|key" worker-keyless.log || fail "the keyless worker does not say why it stopped"

API_KEY=${K1}
start_worker worker-1 --api-key ${K1}
wait_worker worker-1
api POST /api/v1/tasks '{"name": "with_key", "shell": "echo keyed run"}' > t.json
TID=$(jq_py 'd["id"]' t.json)
wait_for -t 20 -m "the task to complete on worker-1" task_status_is "$TID" completed
assert_eq "$(task_field "$TID" 'd["result"]["worker_id"]')" worker-1 "the worker that ran the task"

# --- the client with DTF_API_KEY=K2 submits and waits; without a key it fails ---
cat > suite.json <<'EOF'
[{"name": "c1", "command": ["true"]}, {"name": "c2", "shell": "echo two"}]
EOF
out=$(dtf client --coordinator "$URL" submit-task --file suite.json 2>&1)
rc=$?
[ "$rc" != 0 ] || fail "submit-task without a key succeeded: $out"
assert_contains "$out" "401" "submit-task error without a key"
out=$(DTF_API_KEY=${K2} dtf client --coordinator "$URL" submit-task --file suite.json 2>&1) ||
	fail "submit-task with DTF_API_KEY=${K2} failed: $out"
assert_contains "$out" "submitted 2 tasks" "submit-task output"
out=$(DTF_API_KEY=${K2} dtf client --coordinator "$URL" wait-completion --timeout 30 2>/dev/null)
assert_eq "$?" 0 "wait-completion with DTF_API_KEY=${K2} ($out)"
assert_contains "$out" "2 tests: 2 passed" "wait-completion summary"
out=$(dtf client --coordinator "$URL" --api-key ${K1} workers 2>&1) || fail "client workers --api-key ${K1}: $out"
assert_contains "$out" "worker-1" "client workers output"
out=$(dtf client --coordinator "$URL" --api-key wrong workers 2>&1)
[ $? != 0 ] || fail "client workers with a wrong key succeeded: $out"

# --- DTF_API_KEYS on the coordinator ---
kill -TERM "${WORKER_PID[worker-1]}"
wait_exit "${WORKER_PID[worker-1]}" 20
stop_coordinator
COORD_DB="$T/coordinator2.db"
DTF_API_KEYS="${E1},${E2}" start_coordinator
API_KEY=""
assert_eq "$(code_of GET /api/v1/tasks)" 401 "no key (DTF_API_KEYS)"
assert_eq "$(code_of GET /api/v1/tasks -H "X-API-Key: ${K1}")" 401 "an old flag key (DTF_API_KEYS)"
assert_eq "$(code_of GET /api/v1/tasks -H "X-API-Key: ${E1}")" 200 "X-API-Key: ${E1} (DTF_API_KEYS)"
assert_eq "$(code_of GET /api/v1/tasks -H "Authorization: Bearer ${E2}")" 200 "Bearer ${E2} (DTF_API_KEYS)"
assert_eq "$(code_of GET /healthz)" 200 "/healthz (DTF_API_KEYS)"
API_KEY=${E2}
DTF_API_KEY=${E2} start_worker worker-2
wait_worker worker-2
out=$(DTF_API_KEY=${E1} dtf client --coordinator "$URL" submit-task --file suite.json 2>&1) ||
	fail "submit-task with DTF_API_KEY=${E1} failed: $out"
out=$(DTF_API_KEY=${E1} dtf client --coordinator "$URL" wait-completion --timeout 30 2>/dev/null)
assert_eq "$?" 0 "wait-completion with DTF_API_KEY=${E1} ($out)"
assert_contains "$out" "2 tests: 2 passed" "wait-completion summary (DTF_API_KEYS)"
# No key ends up in a log.
if grep -F -e "$K1" -e "$K2" -e "$E1" -e "$E2" "$COORD_LOG" worker-*.log; then
	fail "an API key appears in a log"
fi
exit 0
