#!/usr/bin/env bash
# The GitHub Actions pipeline of seed 000 ("GitHub Actions Integration"), step by step, with the
# coordinator on a private port: a daemonized coordinator, two workers, submit-task,
# wait-completion, export-results (JUnit and JSON); then a run with a failing task, and a task no
# worker can run (cuda) that wait-completion reports as blocked until its --timeout.
. "$(dirname "$0")/lib.sh"

# --- set up coordinator: `dtf coordinator --db-path ./coordinator.db --daemon` ---
out=$(dtf coordinator --db-path ./coordinator.db --daemon --port 0 --port-file coord.port \
	--heartbeat-interval 0.5 2>&1)
rc=$?
assert_eq "$rc" 0 "exit status of 'dtf coordinator --daemon' ($out)"
DAEMON_PID=$(printf '%s\n' "$out" | sed -n 's/.*(pid \([0-9]*\)).*/\1/p')
[ -n "$DAEMON_PID" ] || fail "'dtf coordinator --daemon' did not print its pid: $out"
track_pid "$DAEMON_PID"
# It returns once serving: the port file is already there and /healthz answers at once.
port_file_ready coord.port || fail "--daemon returned before the port file was written"
URL="http://127.0.0.1:$(head -n1 coord.port)"
healthz_ok || fail "--daemon returned but $URL/healthz does not answer"
# The pid it printed is the server: the process whose cwd is this test's directory.
[ "$(readlink /proc/"$DAEMON_PID"/cwd)" = "$T" ] || fail "pid $DAEMON_PID is not the daemon"
log "daemon pid $DAEMON_PID on $URL"
# The seed's commands carry no URL: give it through the environment.
export DTF_COORDINATOR="$URL"

# --- run workers ---
"$DTF_BIN" worker --coordinator "$URL" --worker-id worker-1 >> worker-1.log 2>&1 &
W1=$!
track_pid $W1
"$DTF_BIN" worker --coordinator "$URL" --worker-id worker-2 >> worker-2.log 2>&1 &
W2=$!
track_pid $W2
wait_worker worker-1
wait_worker worker-2

# --- submit tests: a list of passing tasks ---
mkdir -p tests
cat > tests/test_suite.json <<'EOF'
[
  {"name": "test_true", "command": ["true"]},
  {"name": "test_echo", "command": ["echo", "hello from dtf"]},
  {"name": "test_shell", "shell": "test $((2 + 2)) -eq 4 && echo arithmetic ok"},
  {"name": "test_env", "shell": "test -n \"$DTF_TASK_ID\" && test -d \"$DTF_WORK_DIR\""},
  {"name": "test_priority", "command": ["sh", "-c", "exit 0"], "priority": 1}
]
EOF
out=$(dtf client submit-task --file tests/test_suite.json 2>&1) || fail "submit-task failed: $out"
assert_contains "$out" "submitted 5 tasks" "submit-task output"
[ -s .dtf/last-run ] || fail "submit-task did not remember the run in .dtf/last-run"
RUN1=$(cat .dtf/last-run)

# --- wait for completion: exit 0 and a one-line summary on stdout ---
dtf client wait-completion > wait.out 2> wait.err
rc=$?
assert_eq "$rc" 0 "wait-completion exit status (stdout: $(cat wait.out); stderr: $(tail -3 wait.err))"
assert_eq "$(wc -l < wait.out | tr -d ' ')" 1 "lines of the wait-completion summary"
assert_contains "$(cat wait.out)" "5 tests: 5 passed, 0 failed" "wait-completion summary"
assert_contains "$(cat wait.out)" "$RUN1" "wait-completion summary"

# --- export: JUnit, one <testcase> per task, and JSON ---
dtf client export-results --format junit --output test-results.xml > /dev/null ||
	fail "export-results --format junit failed"
python3 - test-results.xml <<'EOF' || fail "JUnit export check failed"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = root.findall(".//testcase")
names = sorted(c.get("name") for c in cases)
want = sorted(["test_true", "test_echo", "test_shell", "test_env", "test_priority"])
assert names == want, f"testcases {names}, want {want}"
for c in cases:
    assert c.find("failure") is None and c.find("error") is None, f"{c.get('name')} failed"
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
assert sum(int(s.get("tests")) for s in suites) == 5, "tests attribute"
assert sum(int(s.get("failures", 0)) for s in suites) == 0, "failures attribute"
EOF
dtf client export-results --format json --output test-results.json > /dev/null ||
	fail "export-results --format json failed"
python3 - test-results.json "$RUN1" <<'EOF' || fail "JSON export check failed"
import sys, json
d = json.load(open(sys.argv[1]))
tasks = d["tasks"]
assert len(tasks) == 5, f"{len(tasks)} tasks"
assert all(t["status"] == "completed" for t in tasks), [t["status"] for t in tasks]
assert all(t["run_id"] == sys.argv[2] for t in tasks)
echo = [t for t in tasks if t["name"] == "test_echo"][0]
assert "hello from dtf" in echo["result"]["stdout"], echo["result"]
assert {t["result"]["worker_id"] for t in tasks} <= {"worker-1", "worker-2"}
EOF

# --- the {"tasks": [...]} form of a task file ---
cat > tests/object_suite.json <<'EOF'
{"tasks": [
  {"name": "obj_a", "command": ["true"]},
  {"name": "obj_b", "shell": "echo b"},
  {"name": "obj_c", "command": ["echo", "c"]}
]}
EOF
out=$(dtf client submit-task --file tests/object_suite.json 2>&1) || fail "submit-task (object form): $out"
assert_contains "$out" "submitted 3 tasks" "submit-task output (object form)"
RUN2=$(cat .dtf/last-run)
[ "$RUN2" != "$RUN1" ] || fail "the second submission did not make a new run"
out=$(dtf client wait-completion 2>/dev/null)
rc=$?
assert_eq "$rc" 0 "wait-completion exit status (object form): $out"
assert_contains "$out" "3 tests: 3 passed" "wait-completion summary (object form)"
dtf client export-results --format junit --output obj.xml > /dev/null || fail "export (object form)"
n=$(python3 -c 'import sys,xml.etree.ElementTree as E; print(len(E.parse(sys.argv[1]).getroot().findall(".//testcase")))' obj.xml)
assert_eq "$n" 3 "testcases in the object-form export"

# --- a run with a failing task: exit 1, and the export shows the failure with its stderr ---
cat > tests/failing_suite.json <<'EOF'
[
  {"name": "good", "command": ["true"]},
  {"name": "bad", "shell": "echo some output; echo 'assertion failed: expected 3 got 2' >&2; exit 3"}
]
EOF
dtf client submit-task --file tests/failing_suite.json > /dev/null || fail "submit-task (failing)"
out=$(dtf client wait-completion 2>/dev/null)
rc=$?
assert_eq "$rc" 1 "wait-completion exit status with a failing task ($out)"
assert_contains "$out" "2 tests: 1 passed, 1 failed" "wait-completion summary (failing)"
dtf client export-results --format junit --output failing.xml > /dev/null || fail "export (failing)"
python3 - failing.xml <<'EOF' || fail "JUnit failure check failed"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = {c.get("name"): c for c in root.findall(".//testcase")}
assert set(cases) == {"good", "bad"}, set(cases)
assert cases["good"].find("failure") is None
f = cases["bad"].find("failure")
assert f is not None, "no <failure> for the failing task"
assert "assertion failed: expected 3 got 2" in (f.text or "") + (f.get("message") or ""), ET.tostring(f)
assert "exit code 3" in (f.get("message") or "") or f.get("type") == "exit_code", ET.tostring(f)
EOF
dtf client export-results --format json --output failing.json > /dev/null || fail "export json (failing)"
python3 - failing.json <<'EOF' || fail "JSON failure check failed"
import sys, json
t = {t["name"]: t for t in json.load(open(sys.argv[1]))["tasks"]}
assert t["bad"]["status"] == "failed", t["bad"]["status"]
assert t["bad"]["error"]["kind"] == "exit_code", t["bad"]["error"]
assert t["bad"]["result"]["exit_code"] == 3
assert "assertion failed" in t["bad"]["result"]["stderr"]
EOF

# --- a task needing cuda on workers without it: blocked; --timeout 3 exits 3 and says why ---
cat > tests/gpu_suite.json <<'EOF'
[{"name": "needs_gpu", "command": ["nvidia-smi"], "hardware": "cuda"}]
EOF
dtf client submit-task --file tests/gpu_suite.json > /dev/null || fail "submit-task (cuda)"
RUN4=$(cat .dtf/last-run)
start=$(date +%s)
dtf client wait-completion --timeout 3 > gpu.out 2> gpu.err
rc=$?
took=$(( $(date +%s) - start ))
assert_eq "$rc" 3 "wait-completion --timeout 3 exit status on a blocked task ($(cat gpu.out gpu.err))"
[ "$took" -le $((10 * SCALE)) ] || fail "wait-completion --timeout 3 took $took s"
all=$(cat gpu.out gpu.err)
assert_contains "$all" "needs_gpu" "wait-completion output for the blocked task"
assert_contains "$all" "cuda" "wait-completion output for the blocked task"
assert_contains "$(cat gpu.out)" "timed out" "wait-completion summary on timeout"
TID=$(api GET "/api/v1/tasks?run_id=$RUN4" | jq_py 'd["tasks"][0]["id"]')
assert_eq "$(task_field "$TID" 'd["status"]')" pending "status of the cuda task"
assert_contains "$(task_field "$TID" 'd.get("pending_reason","")')" cuda "pending_reason of the cuda task"
assert_eq "$(task_field "$TID" 'd.get("schedulable")')" false "schedulable of the cuda task"

# --- a held summary (?wait_s=S): answered once the run is done, or when S has passed ---
code=$(http GET "/api/v1/runs/$RUN4/summary?wait_s=abc")
assert_eq "$code" 400 "summary with wait_s=abc ($(body))"
assert_contains "$(body)" invalid_wait "error for wait_s=abc"
code=$(http GET "/api/v1/runs/$RUN4/summary?wait_s=61")
assert_eq "$code" 400 "summary with wait_s=61 ($(body))"
# The blocked run never gets done: the answer comes when the wait is over, not done.
t0=$(date +%s%N)
code=$(http GET "/api/v1/runs/$RUN4/summary?wait_s=0.5")
held_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
assert_eq "$code" 200 "held summary of the blocked run ($(body))"
assert_eq "$(jq_py 'd["done"]' "$T/body")" false "done of the blocked run"
[ "$held_ms" -ge 400 ] || fail "a summary with wait_s=0.5 came back after $held_ms ms"
[ "$held_ms" -le $((10000 * SCALE)) ] || fail "a summary with wait_s=0.5 took $held_ms ms"
# A run whose task sleeps 1 s: one request, held until the run is done (long before 30 s).
cat > tests/slow_suite.json <<'EOF'
[{"name": "slow", "command": ["sleep", "1"]}]
EOF
dtf client submit-task --file tests/slow_suite.json > /dev/null || fail "submit-task (slow)"
RUN5=$(cat .dtf/last-run)
t0=$(date +%s%N)
code=$(http GET "/api/v1/runs/$RUN5/summary?wait_s=30")
held_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
assert_eq "$code" 200 "held summary of the slow run ($(body))"
assert_eq "$(jq_py '[d["done"], d["completed"], d["total"]]' "$T/body")" "[true, 1, 1]" \
	"held summary of the slow run"
[ "$held_ms" -lt 20000 ] || fail "the held summary came back after $held_ms ms, not when the run was done"
log "held summary answered after $held_ms ms"

# --- stop: the workers drain and exit 0, then the daemon by its pid ---
kill -TERM $W1 $W2
wait_exit $W1 20
assert_eq "$WAIT_RC" 0 "worker-1 exit status after SIGTERM"
wait_exit $W2 20
assert_eq "$WAIT_RC" 0 "worker-2 exit status after SIGTERM"
kill -TERM "$DAEMON_PID" || fail "cannot signal the daemon"
wait_for -t 20 -m "the daemon (pid $DAEMON_PID) to exit" eval '! pid_alive '"$DAEMON_PID"
grep -q "shutting down" coordinator.db.log || fail "the daemon did not log its shutdown"
exit 0
