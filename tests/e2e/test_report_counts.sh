#!/usr/bin/env bash
# One count everywhere (docs/reports.md): users count test cases (a JUnit test case, or the task
# when it produced none), and every place a run's numbers appear gives the same ones. A run of
# four tasks: a passing and a failing command, a task with its own JUnit report (pass, fail,
# skip), and a chunk-like task (params.pytest_files) that wrote two passing cases of one file and
# then exited non-zero: an error entry for the task and one for the file it did not get to. On a
# coordinator, wait-completion's line, GET /runs/{id}/summary's "tests", and the JSON, JUnit,
# Markdown and CSV exports agree; `dtf run` on the same tasks prints the same line and writes the
# same counts, badge included.
. "$(dirname "$0")/lib.sh"

cat > tasks.json <<'EOF'
[
  {"name": "pass", "shell": "true"},
  {"name": "fail", "shell": "echo boom >&2; exit 1"},
  {"name": "cases", "junit": "r.xml", "shell": "cat > \"$DTF_WORK_DIR/r.xml\" <<'XML'\n<testsuite name='s'><testcase classname='m.T' name='a' time='0.5'/><testcase classname='m.T' name='b' time='0.25'><failure message='no'/></testcase><testcase classname='m.T' name='c'><skipped message='later'/></testcase></testsuite>\nXML\n"},
  {"name": "chunk", "junit": "r.xml", "params": {"pytest_files": ["tests/test_x.py", "tests/test_y.py"]},
   "shell": "cat > \"$DTF_WORK_DIR/r.xml\" <<'XML'\n<testsuite name='pytest'><testcase classname='tests.test_x' name='test_1' time='0.125'/><testcase classname='tests.test_x' name='test_2' time='0.125'/></testsuite>\nXML\nexit 3"}
]
EOF
LINE="9 tests: 4 passed, 2 failed, 2 errors, 1 skipped (4 tasks)"

# check_reports DIR WHAT: the JSON, JUnit, Markdown and CSV reports in DIR give the counts.
check_reports() {
	python3 - "$1" <<'PY' || fail "$2: the reports do not agree"
import csv, json, sys
import xml.etree.ElementTree as ET
d = sys.argv[1]
doc = json.load(open(f"{d}/results.json"))
s = doc["summary"]
want = {"total": 9, "passed": 4, "failed": 2, "error": 2, "skipped": 1, "flaky": 0,
        "xfailed": 0, "xpassed": 0, "cancelled": 0, "pending": 0, "running": 0}
assert {k: s[k] for k in want} == want, s
assert s["tasks"]["total"] == 4, s
# Each test's own time: 0.5 + 0.25 + 0.125 * 2, and what the failed tasks took beyond their cases.
assert s["duration_s"] >= 1.0, s
with open(f"{d}/results.csv", newline="") as f:
    rows = {r["name"]: r["status"] for r in csv.DictReader(f)}
# The API's JSON export is the document as it is; a prepared one lists the same rows.
if "tests" in doc:
    assert {r["name"]: r["status"] for r in doc["tests"]} == rows, doc["tests"]
assert rows == {"pass": "passed", "fail": "failed", "m.T::a": "passed", "m.T::b": "failed",
                "m.T::c": "skipped", "tests.test_x::test_1": "passed",
                "tests.test_x::test_2": "passed", "chunk (task)": "error",
                "tests/test_y.py": "error"}, rows
root = ET.parse(f"{d}/results.xml").getroot()
for el in (root, root.find("testsuite")):
    got = [int(el.get(k)) for k in ("tests", "failures", "errors", "skipped")]
    assert got == [9, 2, 2, 1], (el.tag, got)
assert len(root.findall(".//testcase")) == 9
md = open(f"{d}/report.md").read()
for line in ("- Total Tests: 9\n", "- Passed: 4 (44.4%)\n", "- Failed: 2 (22.2%)\n",
             "- Errors: 2 (22.2%)\n", "- Skipped: 1 (11.1%)\n", "- Tasks: 4\n"):
    assert line in md, (line, md[:600])
PY
}

# --- on a coordinator: wait-completion, /summary and the exports ---
start_coordinator
start_worker worker-1
wait_worker worker-1
export DTF_COORDINATOR="$URL"
dtf client submit-task --file tasks.json > /dev/null || fail "submit-task"
RUN=$(cat .dtf/last-run)
dtf client wait-completion > wait.out 2> wait.err
assert_eq "$?" 1 "wait-completion exit status ($(cat wait.out))"
assert_contains "$(cat wait.out)" "run $RUN: $LINE" "wait-completion's line"
api GET "/api/v1/runs/$RUN/summary" > summary.json
assert_eq "$(jq_py '[d["tests"][k] for k in ("total", "passed", "failed", "error", "skipped")]' summary.json)" \
	"[9, 4, 2, 2, 1]" "/summary's tests"
assert_eq "$(jq_py '[d["total"], d["completed"], d["failed"]]' summary.json)" "[4, 1, 3]" \
	"/summary's tasks"
mkdir -p fleet
for f in json:results.json junit:results.xml md:report.md csv:results.csv; do
	dtf client export-results --format "${f%%:*}" --output "fleet/${f#*:}" > /dev/null ||
		fail "export ${f%%:*}"
done
check_reports fleet "the exports"

# --- dtf run on the same tasks: the same line, the same reports, and the badge ---
dtf run --workers 2 --task-file tasks.json --output-dir OUT --state-dir STATE \
	--report-formats json,junit,markdown,csv --badges-dir badges > run.out 2> run.err
assert_eq "$?" 1 "dtf run exit status ($(cat run.out))"
assert_contains "$(cat run.out)" "dtf run: $LINE in " "dtf run's line"
check_reports OUT "dtf run"
assert_eq "$(jq_py 'd["message"]' badges/combined-status.json)" "2 failed, 2 errors, 4 passed, 1 skipped" \
	"the badge"
log "ok: $LINE"
