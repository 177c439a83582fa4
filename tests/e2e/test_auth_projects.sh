#!/usr/bin/env bash
# Project keys everywhere (docs/auth.md, "Project keys"): with two projects' tasks and runs on one
# coordinator, a key limited to one project sees only that project's tasks and runs on every
# front-end (REST lists, summaries, exports by run and by task, runs and their details, the event
# stream, GraphQL queries and mutations, the dashboard's pages and live view); another project's
# task or run is 404 to it (never 403: its existence is not told), and submitting into another
# project (a task naming it, or a run of it) is refused. An unlimited key still sees both.
. "$(dirname "$0")/lib.sh"

A=adm-secret-Lp27 W=web-secret-Zc83 WR=webrd-secret-Hn51
start_coordinator --api-key "adm:admin:$A" --api-key "webci:submit@web:$W" \
	--api-key "webrd:read@web:$WR" --auth-fail-rate 100000 --auth-fail-burst 100000
API_KEY=$A

# kcall KEY METHOD PATH [curl args…]: the status, the body in $T/body.
kcall() {
	local k=$1 m=$2 p=$3
	shift 3
	curl -s -o "$T/body" -w '%{http_code}' -X "$m" --max-time 10 -H "Authorization: Bearer $k" \
		"$@" "$URL$p"
}
# no_other FILE WHAT: FILE names none of the other project's tasks or runs.
no_other() {
	local x
	for x in $RA $AT1 $AT2; do
		grep -q -- "$x" "$1" && fail "$2 shows the other project's $x"
	done
	return 0
}

# --- the other project (api), through the admin key ---
RA=$(api POST /api/v1/runs '{"name": "api-run", "project": "api"}' | jq_py 'd["id"]')
assert_eq "$(jq_py 'd.get("project")' "$T/body")" api "the admin's run's project"
api POST /api/v1/tasks "{\"run_id\": \"$RA\", \"tasks\": [{\"command\": [\"true\"]}, {\"command\": [\"true\"]}]}" > "$T/sub"
AT1=$(jq_py 'd["ids"][0]' "$T/sub") AT2=$(jq_py 'd["ids"][1]' "$T/sub")
assert_eq "$(task_field "$AT1" 'd.get("project")')" api "a task takes its run's project"
c=$(http POST /api/v1/tasks "{\"run_id\": \"$RA\", \"command\": [\"true\"], \"project\": \"web\"}")
assert_eq "$c" 400 "a task of another project than its run's"

# --- the web key's own ---
c=$(kcall "$W" POST /api/v1/tasks -d '{"tasks": [{"command": ["true"]}, {"command": ["true"]}], "run": {"name": "web-run"}}')
assert_eq "$c" 201 "a submission with the project key"
RW=$(jq_py 'd["run_id"]' "$T/body") WT1=$(jq_py 'd["ids"][0]' "$T/body") WT2=$(jq_py 'd["ids"][1]' "$T/body")
assert_eq "$(task_field "$WT1" 'd.get("project")')" web "the project key's task's project"
c=$(kcall "$W" POST /api/v1/runs -d '{"name": "web-2"}')
assert_eq "$c" 201 "a run created with the project key"
assert_eq "$(jq_py 'd.get("project")' "$T/body")" web "the project key's run's project"
RW2=$(jq_py 'd["id"]' "$T/body")

# --- submitting into the other project is refused ---
c=$(kcall "$W" POST /api/v1/tasks -d '{"command": ["true"], "project": "api"}')
assert_eq "$c" 403 "a task naming another project"
c=$(kcall "$W" POST /api/v1/tasks -d "{\"command\": [\"true\"], \"run_id\": \"$RA\"}")
assert_eq "$c" 404 "a task into another project's run"
c=$(kcall "$W" POST /api/v1/runs -d '{"name": "x", "project": "api"}')
assert_eq "$c" 403 "a run of another project"
c=$(kcall "$W" PUT "/api/v1/tasks/$AT1" -d '{"priority": 1}')
assert_eq "$c" 404 "changing another project's task"
c=$(kcall "$W" DELETE "/api/v1/tasks/$AT1")
assert_eq "$c" 404 "cancelling another project's task"
assert_eq "$(task_field "$AT1" 'd["status"]')" pending "the other project's task after the refusals"

# --- REST: lists, details, summaries, exports (the read key; the submit key is limited by the
# same calls, checked on the runs list) ---
c=$(kcall "$W" GET /api/v1/runs)
assert_eq "$(jq_py 'len(d["runs"])' "$T/body")" 2 "the submit project key's runs list"
for k in "$WR"; do
	c=$(kcall "$k" GET /api/v1/runs)
	assert_eq "$c" 200 "the runs list"
	assert_eq "$(jq_py 'sorted(r["id"] for r in d["runs"])' "$T/body")" \
		"$(python3 -c 'import json,sys; print(json.dumps(sorted(sys.argv[1:])))' "$RW" "$RW2")" "the project key's runs"
	for p in "/api/v1/runs/$RA" "/api/v1/runs/$RA/summary" "/api/v1/runs/$RA/export?format=csv" \
		"/api/v1/runs/$RA/export?format=junit" "/api/v1/runs/$RA/export?format=html" \
		"/api/v1/tasks/$AT1" "/api/v1/tasks/$AT1/log" "/api/v1/tasks/export?run_id=$RA" \
		"/api/v1/tasks/summary?ids=$AT1" "/api/v1/tasks/export?ids=$WT1,$AT1"; do
		c=$(kcall "$k" GET "$p")
		assert_eq "$c" 404 "GET $p with the project key"
	done
	c=$(kcall "$k" GET /api/v1/tasks)
	assert_eq "$(jq_py '[d["total"], sorted(t["id"] for t in d["tasks"])]' "$T/body")" \
		"$(python3 -c 'import json,sys; print(json.dumps([2, sorted(sys.argv[1:])]))' "$WT1" "$WT2")" "the project key's tasks"
	c=$(kcall "$k" GET "/api/v1/tasks?run_id=$RA")
	assert_eq "$(jq_py 'd["total"]' "$T/body")" 0 "the other project's run's tasks"
	c=$(kcall "$k" GET /api/v1/tasks/summary)
	assert_eq "$(jq_py 'd["total"]' "$T/body")" 2 "the summary of all tasks"
	c=$(kcall "$k" GET "/api/v1/runs/$RW/summary")
	assert_eq "$c" 200 "the project's run's summary"
	assert_eq "$(jq_py 'd["total"]' "$T/body")" 2 "the project's run's total"
	for f in json csv junit html markdown; do
		c=$(kcall "$k" GET "/api/v1/tasks/export?format=$f")
		assert_eq "$c" 200 "the export of all tasks ($f)"
		no_other "$T/body" "the export of all tasks ($f)"
		case $f in json | csv) grep -q "$WT1" "$T/body" || fail "the $f export misses the project's task" ;; esac
		c=$(kcall "$k" GET "/api/v1/runs/$RW/export?format=$f")
		assert_eq "$c" 200 "the export of the project's run ($f)"
	done
done
c=$(http GET /api/v1/runs)
assert_eq "$(jq_py 'len(d["runs"])' "$T/body")" 3 "the admin's runs list"
c=$(http GET /api/v1/tasks)
assert_eq "$(jq_py 'd["total"]' "$T/body")" 4 "the admin's tasks list"

# --- the event stream: replayed from the ring's start (Last-Event-ID 0) ---
curl -s --max-time 1 -H "Authorization: Bearer $WR" -H 'Last-Event-ID: 0' "$URL/api/v1/events" > "$T/ev.web" || true
curl -s --max-time 1 -H "X-API-Key: $A" -H 'Last-Event-ID: 0' "$URL/api/v1/events" > "$T/ev.adm" || true
grep -q "$AT1" "$T/ev.adm" || fail "the admin's stream lacks the other project's task: $(head -c 600 "$T/ev.adm")"
grep -q "$WT1" "$T/ev.web" || fail "the project key's stream lacks its task: $(head -c 600 "$T/ev.web")"
no_other "$T/ev.web" "the project key's event stream"

# --- GraphQL ---
gql() {
	curl -s --max-time 5 -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
		-d "$2" "$URL/graphql" > "$T/gql"
}
gql "$WR" "{\"query\": \"{ tasks { id } tasksConnection { totalCount } runs { id tasks { id } } run(id: \\\"$RA\\\") { id } task(id: \\\"$AT1\\\") { id } t2: task(id: \\\"$WT1\\\") { id } workers { id } }\"}"
assert_eq "$(jq_py '[sorted(t["id"] for t in d["data"]["tasks"]), d["data"]["tasksConnection"]["totalCount"], d["data"]["run"], d["data"]["task"], d["data"]["t2"]["id"], len(d["data"]["runs"])]' "$T/gql")" \
	"$(python3 -c 'import json,sys; print(json.dumps([sorted(sys.argv[1:3]), 2, None, None, sys.argv[1], 2]))' "$WT1" "$WT2")" "GraphQL's answer to the project key"
no_other "$T/gql" "GraphQL's answer"
gql "$WR" "{\"query\": \"{ tasks(run_id: \\\"$RA\\\") { id } }\"}"
assert_contains "$(cat "$T/gql")" run_not_found
gql "$W" "{\"query\": \"mutation { cancelTask(id: \\\"$AT1\\\") { id } }\"}"
assert_contains "$(cat "$T/gql")" task_not_found
gql "$W" "{\"query\": \"mutation { submitTasks(run_id: \\\"$RA\\\", tasks: [{command: [\\\"true\\\"]}]) { count } }\"}"
assert_contains "$(cat "$T/gql")" run_not_found
gql "$W" "{\"query\": \"mutation { createTask(input: {command: [\\\"true\\\"], project: \\\"api\\\"}) { id } }\"}"
assert_contains "$(cat "$T/gql")" forbidden
gql "$W" '{"query": "mutation { createRun(name: \"g\") { id } }"}'
RG=$(jq_py 'd["data"]["createRun"]["id"]' "$T/gql")
assert_eq "$(jq_py 'd.get("project")' <(api GET "/api/v1/runs/$RG"))" web "GraphQL's run with the project key"
assert_eq "$(task_field "$AT1" 'd["status"]')" pending "the other project's task after GraphQL's mutations"
gql "$A" '{"query": "{ tasksConnection { totalCount } }"}'
assert_eq "$(jq_py 'd["data"]["tasksConnection"]["totalCount"]' "$T/gql")" 4 "GraphQL's tasks for the admin"

# --- the dashboard ---
for p in "/runs/$RA" "/runs/$RA/timeline" "/tasks/$AT1" "/dashboard/live?task=$AT1" "/dashboard/live?run=$RA"; do
	c=$(kcall "$WR" GET "$p")
	assert_eq "$c" 404 "the dashboard's $p with the project key"
done
c=$(kcall "$WR" GET /)
assert_eq "$c" 200 "the dashboard's overview with the project key"
grep -q "$RW" "$T/body" || fail "the overview lacks the project's run"
no_other "$T/body" "the dashboard's overview"
c=$(kcall "$WR" GET "/runs/$RW")
assert_eq "$c" 200 "the project's run's page"
c=$(kcall "$WR" GET "/tasks/$WT1")
assert_eq "$c" 200 "the project's task's page"
c=$(kcall "$WR" GET /dashboard/live)
assert_eq "$(jq_py '[d["pending_total"], sorted(r["id"] for r in d["runs"])]' "$T/body")" \
	"$(python3 -c 'import json,sys; print(json.dumps([2, sorted(sys.argv[1:])]))' "$RW" "$RW2" "$RG")" "the live view for the project key"
c=$(kcall "$A" GET /dashboard/live)
assert_eq "$(jq_py 'd["pending_total"]' "$T/body")" 4 "the live view's pending count for the admin"
log "a project key sees only its project on REST, events, GraphQL and the dashboard"
log "ok"
