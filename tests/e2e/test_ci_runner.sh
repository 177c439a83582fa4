#!/usr/bin/env bash
# Seed 000's ci_runner.py (tests/fixtures/ci_runner.py, verbatim) must work unchanged against the
# REST API (DESIGN.md §5): it submits each task with POST /api/v1/tasks, polls
# GET /api/v1/tasks/{id}, exports with GET /api/v1/tasks/export?ids=…&format=… and decides the
# exit status from GET /api/v1/tasks/summary?ids=….
#
# The script sleeps 10 s between polls whenever a task is still unfinished at its first poll, so
# the three runs (passing, failing, JUnit) go at the same time to keep this test near 10-15 s.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
RUNNER="$DTF_SOURCE_DIR/tests/fixtures/ci_runner.py"
[ -f "$RUNNER" ] || fail "missing $RUNNER"
$PY -c 'import requests' 2>/dev/null || fail "$PY has no 'requests' module (python3-requests)"

start_coordinator
start_worker worker-1
start_worker worker-2
wait_worker worker-1
wait_worker worker-2

cat > passing.json <<'EOF'
[
  {"name": "ci_pass_1", "command": ["true"]},
  {"name": "ci_pass_2", "command": ["echo", "ok"]},
  {"name": "ci_pass_3", "shell": "exit 0"}
]
EOF
cat > failing.json <<'EOF'
[
  {"name": "ci_ok", "command": ["true"]},
  {"name": "ci_broken", "shell": "echo 'broken on purpose' >&2; exit 1"}
]
EOF
cat > junit.json <<'EOF'
[
  {"name": "ci_junit_1", "command": ["true"]},
  {"name": "ci_junit_2", "command": ["echo", "<&>\"'"]}
]
EOF

# The three runs, concurrently, each with its own output directory.
$PY "$RUNNER" --coordinator "$URL" --test-file passing.json --output-dir out-pass \
	--timeout 120 > pass.out 2>&1 &
P1=$!
$PY "$RUNNER" --coordinator "$URL" --test-file failing.json --output-dir out-fail \
	--timeout 120 > fail.out 2>&1 &
P2=$!
$PY "$RUNNER" --coordinator "$URL" --test-file junit.json --output-dir out-junit \
	--format junit --timeout 120 > junit.out 2>&1 &
P3=$!
track_pid $P1
track_pid $P2
track_pid $P3

# --- all passing: exit 0, results.json written ---
wait_exit $P1 60
assert_eq "$WAIT_RC" 0 "ci_runner exit status on passing tasks ($(cat pass.out))"
assert_contains "$(cat pass.out)" "All tests passed: 3" "ci_runner output"
[ -s out-pass/results.json ] || fail "ci_runner did not write out-pass/results.json"
python3 - out-pass/results.json <<'EOF' || fail "results.json check failed"
import sys, json
d = json.load(open(sys.argv[1]))
tasks = d["tasks"]
assert sorted(t["name"] for t in tasks) == ["ci_pass_1", "ci_pass_2", "ci_pass_3"], tasks
assert all(t["status"] == "completed" for t in tasks), [t["status"] for t in tasks]
EOF

# --- one failing task: exit 1 ---
wait_exit $P2 60
assert_eq "$WAIT_RC" 1 "ci_runner exit status with a failing task ($(cat fail.out))"
assert_contains "$(cat fail.out)" "Tests failed: 1 out of 2" "ci_runner output (failing)"
python3 - out-fail/results.json <<'EOF' || fail "results.json (failing) check failed"
import sys, json
t = {t["name"]: t for t in json.load(open(sys.argv[1]))["tasks"]}
assert t["ci_ok"]["status"] == "completed" and t["ci_broken"]["status"] == "failed", t
assert "broken on purpose" in t["ci_broken"]["result"]["stderr"]
EOF

# --- --format junit: valid XML with one testcase per task ---
wait_exit $P3 60
assert_eq "$WAIT_RC" 0 "ci_runner --format junit exit status ($(cat junit.out))"
[ -s out-junit/results.junit ] || fail "ci_runner did not write out-junit/results.junit"
python3 - out-junit/results.junit <<'EOF' || fail "results.junit is not the JUnit report expected"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag in ("testsuites", "testsuite"), root.tag
cases = root.findall(".//testcase")
assert sorted(c.get("name") for c in cases) == ["ci_junit_1", "ci_junit_2"], [c.get("name") for c in cases]
assert all(c.find("failure") is None for c in cases)
out = [c for c in cases if c.get("name") == "ci_junit_2"][0].findtext("system-out") or ""
assert "<&>\"'" in out, repr(out)
EOF
exit 0
