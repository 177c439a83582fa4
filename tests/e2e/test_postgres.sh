#!/usr/bin/env bash
# The coordinator on PostgreSQL (a private server, scripts/pg-test-server.sh): the seed pipeline
# (submit-task, workers running real tasks, wait-completion, JUnit and JSON exports, the report),
# a second coordinator on the same database refused, and a coordinator killed with SIGKILL in the
# middle of a run and restarted on the same database: every acknowledged task and result is
# there, and every task completes exactly once. Then keys: one added through the API and a
# configured one revoked through it are kept in the database, across a restart and by a standby
# that takes over.
. "$(dirname "$0")/lib.sh"
. "$DTF_SOURCE_DIR/tests/e2e/pg_lib.sh"

start_pg
start_coordinator
export DTF_COORDINATOR="$URL"
start_worker worker-1
start_worker worker-2
wait_worker worker-1
wait_worker worker-2

# --- the seed pipeline ---
mkdir -p tests
cat > tests/test_suite.json <<'EOF'
[
  {"name": "test_true", "command": ["true"]},
  {"name": "test_echo", "command": ["echo", "hello from dtf"]},
  {"name": "test_shell", "shell": "test $((2 + 2)) -eq 4 && echo arithmetic ok"},
  {"name": "test_env", "shell": "test -n \"$DTF_TASK_ID\" && test -d \"$DTF_WORK_DIR\""},
  {"name": "test_fails", "shell": "echo broken >&2; exit 3"}
]
EOF
out=$(dtf client submit-task --file tests/test_suite.json 2>&1) || fail "submit-task failed: $out"
assert_contains "$out" "submitted 5 tasks" "submit-task output"
RUN1=$(cat .dtf/last-run)
dtf client wait-completion > wait.out 2> wait.err
assert_contains "$(cat wait.out)" "5 tests: 4 passed, 1 failed" "wait-completion summary"
dtf client export-results --format junit --output results.xml > /dev/null ||
	fail "export-results --format junit failed"
python3 - results.xml <<'EOF' || fail "JUnit export check failed"
import sys, xml.etree.ElementTree as ET
cases = ET.parse(sys.argv[1]).getroot().findall(".//testcase")
assert sorted(c.get("name") for c in cases) == sorted(
    ["test_true", "test_echo", "test_shell", "test_env", "test_fails"]), cases
failed = [c.get("name") for c in cases if c.find("failure") is not None or c.find("error") is not None]
assert failed == ["test_fails"], failed
EOF
dtf client export-results --format json --output results.json > /dev/null ||
	fail "export-results --format json failed"
python3 - results.json <<'EOF' || fail "JSON export check failed"
import json, sys
d = json.load(open(sys.argv[1]))
tasks = d["tasks"] if isinstance(d, dict) else d
echo = [t for t in tasks if t["name"] == "test_echo"]
assert echo and "hello from dtf" in json.dumps(echo[0]), echo
EOF
# The results are in PostgreSQL: the same run, read from the database itself.
n=$(psql "$PG_URL" -qAt -c "SELECT count(*) FROM tasks WHERE run_id = '$RUN1' AND status IN ('completed', 'failed')")
assert_eq "$n" 5 "finished tasks of the run in PostgreSQL"
assert_eq "$(psql "$PG_URL" -qAt -c 'SELECT version FROM schema_version')" 3 "schema version"

# --- a second coordinator on the same database is refused ---
out=$(timeout 30 "$DTF_BIN" coordinator --port 0 --db-url "$PG_URL" 2>&1) && fail "a second coordinator started: $out"
assert_contains "$out" "another coordinator holds this database" "the second coordinator's error"

# --- SIGKILL in the middle of a run, restart on the same database ---
N=40
python3 - "$N" "$T/ran.log" > tasks.json <<'EOF'
import json, sys
n, log = int(sys.argv[1]), sys.argv[2]
tasks = [{"name": f"t{i:02d}",
          "shell": f'echo "$DTF_TASK_ID $DTF_ATTEMPT" >> {log}; sleep 0.{1 + i % 3}'}
         for i in range(n)]
print(json.dumps({"tasks": tasks, "run": {"name": "restart"}}))
EOF
api POST /api/v1/tasks @tasks.json > submit.json
RUN=$(jq_py 'd["run_id"]' submit.json)
jq_py '"\n".join(d["ids"])' submit.json | sort > acked_ids.txt
wait_for -t 30 -m "10 tasks to complete" run_completed_at_least "$RUN" 10
api GET "/api/v1/tasks?run_id=$RUN" > before.json
jq_py '{t["id"]: t.get("finished_at") for t in d["tasks"] if t["status"] == "completed"}' \
	before.json > done_before.json
log "killing the coordinator with $(jq_py 'len(d)' done_before.json) of $N tasks completed"
OLD_PORT=$COORD_PORT
stop_coordinator KILL
COORD_PORT_WANT=$OLD_PORT start_coordinator
assert_eq "$(api GET "/api/v1/tasks?run_id=$RUN" | jq_py 'd["total"]')" "$N" "tasks of the run after the restart"
run_done() {
	[ "$(curl -s --max-time 5 "$URL/api/v1/runs/$RUN/summary" | jq_py 'd["done"]' 2>/dev/null)" = true ]
}
wait_for -t 60 -m "the run to finish after the restart" run_done
api GET "/api/v1/tasks?run_id=$RUN" > after.json
python3 - "$N" <<'EOF' || fail "the run after the restart is not what it should be"
import json, sys
n = int(sys.argv[1])
after = {t["id"]: t for t in json.load(open("after.json"))["tasks"]}
acked = open("acked_ids.txt").read().split()
done_before = json.load(open("done_before.json"))
assert sorted(after) == sorted(acked), sorted(set(acked) ^ set(after))
for tid, t in after.items():
    hist = t.get("history", [])
    passed = [h for h in hist if h["outcome"] == "passed"]
    assert t["status"] == "completed" and len(passed) == 1, f"{tid}: {t['status']} {hist}"
# A result acknowledged before the kill is kept as it was.
for tid, fin in done_before.items():
    assert after[tid].get("finished_at") == fin, f"{tid}: finished_at {after[tid].get('finished_at')} != {fin}"
EOF
# The report of the first run still reads from the restarted coordinator.
out=$(dtf client wait-completion --run "$RUN1" 2>/dev/null)
assert_contains "$out" "5 tests: 4 passed, 1 failed" "the first run's summary after the restart"

# --- keys added and revoked through the API are kept in the database ---
for w in worker-1 worker-2; do kill "${WORKER_PID[$w]}" 2>/dev/null; done
stop_coordinator
A=adm-secret-Qx81
R=ro-secret-Lm27
K=added-secret-Zp64
KEYS=(--api-key "adm:admin:$A" --api-key "ro:read:$R")
kcall() { # kcall KEY METHOD PATH [curl args…]: the status code, the body in $T/body
	local k=$1 m=$2 p=$3
	shift 3
	curl -s -o "$T/body" -w '%{http_code}' -X "$m" --max-time 10 -H "Authorization: Bearer $k" "$@" "$URL$p"
}
keys_hold() { # the added key works and the revoked one does not, on $URL
	[ "$(kcall "$K" GET /api/v1/tasks)" = 200 ] && [ "$(kcall "$R" GET /api/v1/tasks)" = 401 ]
}
start_coordinator "${KEYS[@]}"
assert_eq "$(kcall "$A" POST /api/v1/keys -H 'Content-Type: application/json' \
	--data "{\"name\": \"added\", \"role\": \"read\", \"secret\": \"$K\"}")" 201 "adding a key"
assert_eq "$(kcall "$A" DELETE /api/v1/keys/ro)" 200 "revoking the configured key ro"
keys_hold || fail "the added key or the revocation does not hold before the restart"
doc=$(psql "$PG_URL" -qAt -c "SELECT doc FROM meta_docs WHERE key = 'api_keys'")
assert_contains "$doc" '"revoked_config"' "the kept key set in PostgreSQL"
case "$doc" in *"$K"* | *"$R"* | *"$A"*) fail "a secret is in the database" ;; esac
stop_coordinator
start_coordinator "${KEYS[@]}"
keys_hold || fail "the added key or the revocation was lost at a restart"
# A standby with the same configuration takes over from the killed leader.
pf="$T/standby.port"
"$DTF_BIN" coordinator --port 0 --port-file "$pf" --db-url "$PG_URL" --standby \
	--heartbeat-interval 0.5 "${KEYS[@]}" >> "$T/coord-standby.log" 2>&1 &
SB_PID=$!
track_pid "$SB_PID"
wait_for -t 20 -m "the standby to write its port file" port_file_ready "$pf" "$SB_PID"
stop_coordinator KILL
URL="http://127.0.0.1:$(head -n1 "$pf")"
leads() { [ "$(curl -s --max-time 2 "$URL/healthz" | jq_py 'd.get("role", "")' 2>/dev/null)" = leader ]; }
wait_for -t 20 -m "the standby to lead" leads
keys_hold || fail "the new leader does not honour the added key or the revocation"
log "ok"
