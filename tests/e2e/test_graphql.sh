#!/usr/bin/env bash
# GraphQL at /graphql (docs/graphql.md) against a real coordinator and worker: the seed's
# mutation and queries verbatim (createTask with the seed's variables, run through the benchmark
# plugin; task(id) and tasks(status:) show it and REST sees the same task), the other queries and
# mutations with pagination, validation errors with locations and path, HTTP 200 for GraphQL
# errors and 400 for what is not a GraphQL request, GET with query= (and no mutation over GET),
# the limits on depth, cost and size, a mutation durable once answered (SIGKILL after the reply),
# and API keys.
. "$(dirname "$0")/lib.sh"

BUILD=${DTF_BUILD_DIR:-$(dirname "$DTF_BIN")}
EX="$BUILD/examples/plugins"
SRC="$DTF_SOURCE_DIR/examples/plugins"
[ -f "$EX/benchmark.so" ] || fail "$EX/benchmark.so is missing: build the plugins first"

cat > dtf.yaml <<EOF
coordinator:
  worker_auto_discovery: true
plugins:
  directories:
    - $EX
  enabled: [benchmark]
  config:
    benchmark:
      command: [sh, $SRC/fake_benchmark.sh, "{model}", "{batch_size}"]
EOF

# gql QUERY [VARIABLES_JSON]: POSTs a GraphQL request; prints the status, the body is in $T/body.
gql() {
	python3 -c 'import json, sys; print(json.dumps({"query": sys.argv[1], "variables": json.loads(sys.argv[2])}))' \
		"$1" "${2:-null}" > "$T/req.json"
	http POST /graphql "@$T/req.json"
}
# gql_ok QUERY [VARIABLES_JSON]: the request must answer 200 without errors; prints the data.
gql_ok() {
	local code
	code=$(gql "$@")
	[ "$code" = 200 ] || fail "$1 answered $code: $(body)"
	[ "$(jq_py '"errors" in d' "$T/body")" = false ] || fail "$1 has errors: $(body)"
	jq_py 'd["data"]' "$T/body"
}
# gql_err QUERY [VARIABLES_JSON]: must answer 200 with errors and no data; prints the first error.
gql_err() {
	local code
	code=$(gql "$@")
	[ "$code" = 200 ] || fail "$1 answered $code: $(body)"
	jq_py 'd["errors"][0]' "$T/body"
}

start_coordinator --config dtf.yaml

# --- the seed's mutation, verbatim, with the seed's variables ---
MUTATION='mutation($input: TaskInput!) {
      createTask(input: $input) {
        id, type, status
      }
    }'
SEED_VARS='{"input": {"type": "benchmark", "model": "bert-base-uncased", "hardware": "cuda", "batch_sizes": [1, 2, 4, 8, 16]}}'
out=$(gql_ok "$MUTATION" "$SEED_VARS")
TID=$(jq_py 'd["createTask"]["id"]' <<< "$out")
assert_eq "$(jq_py '[d["createTask"]["type"], d["createTask"]["status"]]' <<< "$out")" \
	'["benchmark", "pending"]' "createTask's answer"
# It is really submitted: REST shows the same task.
assert_eq "$(task_field "$TID" '[d["type"], d["hardware"], d["params"]["model"], d["params"]["batch_sizes"]]')" \
	'["benchmark", ["cuda"], "bert-base-uncased", [1, 2, 4, 8, 16]]' "the task REST shows"

# --- the seed's query for one task, verbatim ---
TASK_QUERY='query($id: ID!) {
      task(id: $id) {
        id, status, result {
          status, metrics
        }
      }
    }'
out=$(gql_ok "$TASK_QUERY" "{\"id\": \"$TID\"}")
assert_eq "$out" "{\"task\": {\"id\": \"$TID\", \"status\": \"pending\", \"result\": null}}" "task(id) while pending"
out=$(gql_ok '{ tasks(status: "pending") { id type model batch_sizes hardware } }')
assert_eq "$out" "{\"tasks\": [{\"id\": \"$TID\", \"type\": \"benchmark\", \"model\": \"bert-base-uncased\", \"batch_sizes\": [1, 2, 4, 8, 16], \"hardware\": [\"cuda\"]}]}" \
	"tasks(status: pending)"

# --- a worker with cuda runs it through the benchmark plugin; the result has its metrics ---
start_worker w1 --config dtf.yaml --hardware cuda
wait_worker w1
task_done() { [ "$(gql_ok "$TASK_QUERY" "{\"id\": \"$TID\"}" | jq_py 'd["task"]["status"]')" = completed ]; }
wait_for -t 60 -m "the benchmark task to complete" task_done
out=$(gql_ok "$TASK_QUERY" "{\"id\": \"$TID\"}")
assert_eq "$(jq_py 'd["task"]["result"]["status"]' <<< "$out")" completed "result.status"
assert_eq "$(jq_py 'sorted(d["task"]["result"]["metrics"]["by_batch_size"])' <<< "$out")" \
	'["1", "16", "2", "4", "8"]' "result.metrics by batch size"
assert_eq "$(jq_py 'd["task"]["result"]["metrics"]["by_batch_size"]["16"]["throughput_items_per_s"]' <<< "$out")" \
	1600 "the metrics of batch size 16"

# --- the seed's tasks query, verbatim, with a task running on w1 ---
SID=$(submit '{"shell": "sleep 60", "hardware": "cuda", "name": "long"}')
wait_for -t 30 -m "the long task to run" task_status_is "$SID" running
SEED_QUERY='query {
  tasks(status: "running") {
    id, type, status, priority, created_at, updated_at, worker {
      id, status, available_hardware
    }, result {
      status, start_time, end_time, metrics
    }
  }
}'
out=$(gql_ok "$SEED_QUERY")
check_running='
t = d["tasks"]
assert len(t) == 1, t
t = t[0]
assert t["id"] == sys.argv[1] and t["type"] == "command" and t["status"] == "running", t
assert t["priority"] == 5 and t["created_at"] and t["updated_at"], t
w = t["worker"]
assert w["id"] == "w1" and w["status"] == "busy" and "cuda" in w["available_hardware"], w
r = t["result"]
assert r["status"] == "running" and r["start_time"] and r["end_time"] is None and r["metrics"] is None, r
print("ok")'
assert_eq "$(python3 -c "import json, sys; d = json.load(sys.stdin)$check_running" "$SID" <<< "$out")" ok "the seed's query"
# The same through the REST list: the same task, the same fields.
rest=$(api GET "/api/v1/tasks?status=running")
assert_eq "$(jq_py '[(t["id"], t["priority"], t["created_at"], t["updated_at"], t["worker_id"]) for t in d["tasks"]]' <<< "$rest")" \
	"$(jq_py '[(t["id"], t["priority"], t["created_at"], t["updated_at"], t["worker"]["id"]) for t in d["tasks"]]' <<< "$out")" \
	"GraphQL and REST agree"

# --- cancelTask stops it; REST sees the change ---
out=$(gql_ok 'mutation($id: ID!) { cancelTask(id: $id) { id status } }' "{\"id\": \"$SID\"}")
assert_eq "$(jq_py 'd["cancelTask"]["status"]' <<< "$out")" cancelled "cancelTask"
assert_eq "$(task_field "$SID" 'd["status"]')" cancelled "the cancelled task through REST"

# --- runs, submitTasks, updateTask, pagination ---
out=$(gql_ok 'mutation { createRun(name: "nightly", metadata: {branch: "main"}) { id name metadata } }')
RID=$(jq_py 'd["createRun"]["id"]' <<< "$out")
assert_eq "$(jq_py '[d["createRun"]["name"], d["createRun"]["metadata"]]' <<< "$out")" '["nightly", {"branch": "main"}]' "createRun"
out=$(gql_ok 'mutation($t: [TaskInput!]!, $r: ID) { submitTasks(tasks: $t, run_id: $r) { run_id ids count } }' \
	"{\"r\": \"$RID\", \"t\": [{\"command\": [\"true\"], \"hardware\": \"none\", \"name\": \"a\"}, {\"command\": [\"true\"], \"hardware\": \"none\", \"name\": \"b\"}, {\"shell\": \"true\", \"hardware\": \"none\", \"name\": \"c\", \"priority\": 2, \"params\": {\"k\": [1]}}]}")
assert_eq "$(jq_py '[d["submitTasks"]["run_id"], d["submitTasks"]["count"], len(d["submitTasks"]["ids"])]' <<< "$out")" "[\"$RID\", 3, 3]" "submitTasks"
C_ID=$(jq_py 'd["submitTasks"]["ids"][2]' <<< "$out")
assert_eq "$(api GET "/api/v1/runs/$RID" | jq_py 'd["summary"]["total"]')" 3 "the run's tasks through REST"
out=$(gql_ok 'mutation($id: ID!) { updateTask(id: $id, input: {priority: 1, name: "c2"}) { name priority params } }' "{\"id\": \"$C_ID\"}")
assert_eq "$out" '{"updateTask": {"name": "c2", "priority": 1, "params": {"k": [1]}}}' "updateTask"
assert_eq "$(task_field "$C_ID" '[d["name"], d["priority"]]')" '["c2", 1]' "the updated task through REST"
out=$(gql_ok 'query($r: ID!) { run(id: $r) { id name summary tasks(first: 2) { name } rest: tasksConnection(first: 2, after: "2") { totalCount pageInfo { hasNextPage hasPreviousPage endCursor } nodes { name } } } }' "{\"r\": \"$RID\"}")
assert_eq "$(jq_py '[d["run"]["summary"]["total"], d["run"]["summary"]["pending"], [t["name"] for t in d["run"]["tasks"]]]' <<< "$out")" \
	'[3, 3, ["a", "b"]]' "run(id) with its summary and first page"
assert_eq "$(jq_py 'd["run"]["rest"]' <<< "$out")" \
	'{"totalCount": 3, "pageInfo": {"hasNextPage": false, "hasPreviousPage": true, "endCursor": "3"}, "nodes": [{"name": "c2"}]}' \
	"the second page"
out=$(gql_ok '{ tasksConnection(first: 2) { totalCount pageInfo { hasNextPage endCursor } nodes { id } } }')
assert_eq "$(jq_py '[d["tasksConnection"]["totalCount"], d["tasksConnection"]["pageInfo"], len(d["tasksConnection"]["nodes"])]' <<< "$out")" \
	'[5, {"hasNextPage": true, "endCursor": "2"}, 2]' "tasksConnection's first page"
out=$(gql_ok '{ runs { id name } workers(status: "idle") { id } busy: workers(status: "busy") { id } w: worker(id: "w1") { id slots available_hardware } none: worker(id: "nope") { id } }')
assert_eq "$out" "{\"runs\": [{\"id\": \"$RID\", \"name\": \"nightly\"}], \"workers\": [{\"id\": \"w1\"}], \"busy\": [], \"w\": {\"id\": \"w1\", \"slots\": 1, \"available_hardware\": $(api GET /api/v1/workers/w1 | jq_py 'd["capabilities"]["hardware"]')}, \"none\": null}" \
	"runs, workers with a filter, worker(id)"

# --- quarantineWorker, recoveryHistory, scheduler ---
out=$(gql_ok 'mutation { quarantineWorker(id: "w1", reason: "flaky disk", duration_s: 300) { id quarantined quarantine } }')
assert_eq "$(jq_py '[d["quarantineWorker"]["quarantined"], d["quarantineWorker"]["quarantine"]["reason"]]' <<< "$out")" '[true, "flaky disk"]' "quarantineWorker"
assert_eq "$(api GET /api/v1/recovery/history | jq_py '[w["id"] for w in d["quarantined_workers"]]')" '["w1"]' "the quarantine through REST"
# strategies takes no arguments: that is a validation error, not an answer.
err=$(gql_err '{ scheduler { strategies(first: 1) { name } } }')
assert_contains "$err" 'Unknown argument \"first\" on field \"Scheduler.strategies\".' "an unknown argument"
out=$(gql_ok '{ recoveryHistory { history { class attempts } blocked_hardware quarantined_workers { id reason } } scheduler { strategy pending } }')
assert_eq "$out" '{"recoveryHistory": {"history": [], "blocked_hardware": {}, "quarantined_workers": [{"id": "w1", "reason": "flaky disk"}]}, "scheduler": {"strategy": "priority", "pending": 3}}' \
	"recoveryHistory and scheduler"
out=$(gql_ok 'mutation { quarantineWorker(id: "w1", lift: true) { quarantined } }')
assert_eq "$(api GET /api/v1/recovery/history | jq_py 'd["quarantined_workers"]')" '[]' "the quarantine lifted"

# --- validation errors: 200, message, locations, no data ---
err=$(gql_err '{
  tasks { id nope }
}')
assert_eq "$err" '{"message": "Cannot query field \"nope\" on type \"Task\".", "locations": [{"line": 2, "column": 14}]}' "an unknown field"
assert_eq "$(jq_py '"data" in d' "$T/body")" false "data after a validation error"
err=$(gql_err 'query($id: ID!) { task(id: $id) { id } }')
assert_eq "$err" '{"message": "Variable \"$id\" of required type \"ID!\" was not provided.", "locations": [{"line": 1, "column": 7}]}' "a missing variable"
err=$(gql_err '{ tasks(first: "ten") { id } }')
assert_eq "$err" '{"message": "Int cannot represent non-integer value: \"ten\"", "locations": [{"line": 1, "column": 16}]}' "a wrong argument type"
err=$(gql_err 'mutation { createTask { id } }')
assert_contains "$err" 'argument \"input\" of type \"TaskInput!\" is required' "a missing argument"
err=$(gql_err 'query($input: TaskInput!) { createTask(input: $input) { id } }' '{"input": {"command": "true"}}')
assert_contains "$err" 'Cannot query field \"createTask\" on type \"Query\".' "a mutation in a query"
err=$(gql_err 'mutation($input: TaskInput!) { createTask(input: $input) { id } }' '{"input": {"command": ["x"], "priority": "high"}}')
assert_contains "$err" 'Variable \"$input\" got invalid value; Int cannot represent the value \"high\" at priority.' "a variable of the wrong type"
err=$(gql_err 'mutation($input: TaskInput!) { createTask(input: $input) { id } }' '{"input": {"command": ["x"], "bogus": 1}}')
assert_contains "$err" 'Field \"bogus\" is not defined by type \"TaskInput\"' "an unknown input field"
# A field's error: null there, the error has its path; the rest is answered.
code=$(gql "{ run(id: \"$RID\") { name tasks(status: \"bogus\") { id } } w: worker(id: \"w1\") { id } }")
assert_eq "$code" 200 "a field error's status"
assert_eq "$(jq_py '[d["data"], d["errors"][0]["path"], d["errors"][0]["locations"], d["errors"][0]["extensions"]["code"]]' "$T/body")" \
	'[{"run": null, "w": {"id": "w1"}}, ["run", "tasks"], [{"line": 1, "column": 40}], "invalid_status"]' \
	"a field error in a non-null list carried up to run"
# A core error in a mutation: the REST message, its kind as extensions.code.
code=$(gql 'mutation { cancelTask(id: "t-nope") { id } }')
assert_eq "$(jq_py '[d["data"], d["errors"][0]["path"], d["errors"][0]["extensions"]["code"]]' "$T/body")" \
	'[{"cancelTask": null}, ["cancelTask"], "task_not_found"]' "cancelTask of an unknown task"

# --- 400: not a GraphQL request ---
assert_eq "$(http POST /graphql '{"query": ')" 400 "malformed JSON"
assert_contains "$(body)" '"errors"' "the 400 body"
assert_eq "$(http POST /graphql '{"variables": {}}')" 400 "no query"
assert_eq "$(http POST /graphql '{"query": 5}')" 400 "a query that is not a string"
assert_eq "$(http POST /graphql '{"query": "{ tasks { id } }", "variables": [1]}')" 400 "variables not an object"
assert_eq "$(http POST /graphql '')" 400 "an empty body"
assert_eq "$(http POST /graphql '{"query": "{ tasks { id "}')" 200 "a syntax error is a GraphQL error"
assert_eq "$(jq_py 'd["errors"][0]["locations"]' "$T/body")" '[{"line": 1, "column": 14}]' "the syntax error's place"
# application/graphql: the body is the query.
assert_eq "$(curl -s -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/graphql' --data-binary '{ w: worker(id: "w1") { id } }' "$URL/graphql")" 200 "application/graphql"
assert_eq "$(body)" '{"data":{"w":{"id":"w1"}}}' "the application/graphql answer"

# --- GET: queries with query= and variables=; a mutation is 405 ---
code=$(curl -s -o "$T/body" -w '%{http_code}' -G --data-urlencode 'query=query($id: ID!) { task(id: $id) { id status } }' \
	--data-urlencode "variables={\"id\": \"$TID\"}" "$URL/graphql")
assert_eq "$code" 200 "GET /graphql?query="
assert_eq "$(body)" "{\"data\":{\"task\":{\"id\":\"$TID\",\"status\":\"completed\"}}}" "the GET answer"
code=$(curl -s -o "$T/body" -w '%{http_code}' -G --data-urlencode 'query=mutation { createRun(name: "x") { id } }' "$URL/graphql")
assert_eq "$code" 405 "a mutation over GET"
assert_contains "$(body)" "Can only perform a mutation operation from a POST request." "the 405 body"
assert_eq "$(api GET /api/v1/runs | jq_py 'len(d["runs"])')" 1 "runs after the refused mutation"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/graphql")" 400 "GET without query="

# --- limits: depth, cost, size, each an error naming it; the coordinator keeps answering ---
# __schema, types, fields, type and 11 ofType: the name is 16 levels down.
deep=$(python3 -c 'print("{ __schema { types { fields { type { " + "ofType { " * 11 + "name" + " }" * 16)')
err=$(gql_err "$deep")
assert_contains "$err" "more than the depth limit of 15" "the depth limit"
err=$(gql_err '{ tasks(first: 10000) { id name type status } }')
assert_contains "$err" "cost limit of 25000" "the cost limit"
gql_ok '{ tasks(first: 1000) { id name type status worker { id status } } }' > /dev/null
python3 -c 'print("{ tasks { " + "id " * 24000 + "} }")' > big.graphql
code=$(python3 -c 'import json; print(json.dumps({"query": open("big.graphql").read()}))' > big.json; http POST /graphql @big.json)
assert_eq "$code" 200 "a document over 64 KiB"
assert_contains "$(jq_py 'd["errors"][0]["message"]' "$T/body")" "the limit is 65536 bytes (64 KiB)" "the size limit"
frags='{ tasks(first: 1000) { ...A } } fragment A on Task { ...B ...B2 } fragment B on Task { ...C ...C2 } fragment B2 on Task { ...C ...C2 } fragment C on Task { ...D ...D2 } fragment C2 on Task { ...D ...D2 } fragment D on Task { id name type status } fragment D2 on Task { id name type status }'
err=$(gql_err "$frags")
assert_contains "$err" "cost limit" "fragments that multiply"
# Lists without "first" (introspection's) count once in the cost; what executes is bounded.
many=$(python3 -c 'print("{ " + " ".join("a%d: __schema { types { name fields { name } } }" % i for i in range(900)) + " }")')
code=$(gql "$many")
assert_eq "$code" 200 "an answer over the limit on fields executed"
assert_eq "$(jq_py '[d["data"], d["errors"][0]["message"]]' "$T/body")" \
	'[null, "The answer has more than 50000 fields, the limit on fields executed; it was not completed."]' \
	"the limit on fields executed"
gql_ok '{ scheduler { strategy } }' > /dev/null

# --- a mutation is answered once its change is committed: SIGKILL the moment the reply is read,
# restart on the same database, and what it acknowledged is there ---
kill "${WORKER_PID[w1]}"
wait_exit "${WORKER_PID[w1]}" 20
out=$(gql_ok 'mutation($t: [TaskInput!]!) { submitTasks(tasks: $t, run_name: "durable") { run_id ids } }' \
	'{"t": [{"command": ["true"], "name": "d1"}, {"shell": "true", "name": "d2"}]}')
kill -KILL "$COORD_PID"
wait_exit "$COORD_PID" 10
COORD_PID=""
DRID=$(jq_py 'd["submitTasks"]["run_id"]' <<< "$out")
D1=$(jq_py 'd["submitTasks"]["ids"][0]' <<< "$out")
start_coordinator --config dtf.yaml
out=$(gql_ok 'query($r: ID!, $t: ID!) { run(id: $r) { name tasks { name } } task(id: $t) { name status } }' \
	"{\"r\": \"$DRID\", \"t\": \"$D1\"}")
assert_eq "$out" '{"run": {"name": "durable", "tasks": [{"name": "d1"}, {"name": "d2"}]}, "task": {"name": "d1", "status": "pending"}}' \
	"what a mutation acknowledged, after a SIGKILL"
stop_coordinator

# --- API keys: the same as REST ---
K=gql-key-Tm41q
COORD_DB="$T/keys.db"
start_coordinator --api-key "$K"
assert_eq "$(http POST /graphql '{"query": "{ tasks { id } }"}')" 401 "POST /graphql without a key"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -G --data-urlencode 'query={ tasks { id } }' "$URL/graphql")" 401 "GET /graphql without a key"
API_KEY=$K
assert_eq "$(http POST /graphql '{"query": "{ tasks { id } }"}')" 200 "POST /graphql with the key"
assert_eq "$(body)" '{"data":{"tasks":[]}}' "the answer with the key"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $K" -G --data-urlencode 'query={ tasks { id } }' "$URL/graphql")" 200 "GET with a Bearer key"
log "ok"
