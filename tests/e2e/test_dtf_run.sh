#!/usr/bin/env bash
# `dtf run` (DESIGN.md §1): the example suite on an embedded coordinator and 3 local workers.
# The suite fails by design (a failing shell test, a failing C test, a test past its timeout):
# exit 1; results.xml has a testcase for every test (the JUnit-writing test contributes its own 3
# cases), <failure> for the failing ones, <skipped> for the ones needing hardware nobody offers;
# results.json's summary agrees. A suite of passing tests exits 0; no tests at all exits 2.
. "$(dirname "$0")/lib.sh"


SUITE="$DTF_SOURCE_DIR/examples/suite"
[ -d "$SUITE" ] || fail "missing $SUITE"

dtf run --workers 3 --test-dir "$SUITE" --output-dir OUT --state-dir STATE > run.out 2> run.err
rc=$?
assert_eq "$rc" 1 "dtf run exit status on the example suite (stdout: $(cat run.out); stderr: $(tail -5 run.err))"
[ -s OUT/results.xml ] || fail "no OUT/results.xml"
[ -s OUT/results.json ] || fail "no OUT/results.json"
[ -s STATE/dtf.db ] || fail "no coordinator state in STATE/"
# It waited for its workers: nothing it started is left running.
left=$(our_processes)
[ -z "$left" ] || fail "dtf run left processes behind: $(ps -o pid,args -p "$(echo $left | tr ' ' ,)")"

python3 - OUT/results.xml OUT/results.json run.out <<'EOF' || fail "the reports of the example suite are not right"
import json, re, sys
import xml.etree.ElementTree as ET

xml_path, json_path, out_path = sys.argv[1:4]
# A machine with an NVIDIA GPU runs the cuda test (and it passes there) instead of skipping it.
cuda_task = [t for t in json.load(open(json_path))["tasks"] if t["name"] == "gpu/test_cuda_matmul.sh"]
assert len(cuda_task) == 1, "no task for gpu/test_cuda_matmul.sh"
has_cuda = cuda_task[0]["status"] != "cancelled"
if has_cuda:
    assert cuda_task[0]["status"] == "completed", cuda_task[0]
root = ET.parse(xml_path).getroot()
cases = root.findall(".//testcase")
by_name = {}
for c in cases:
    assert c.get("name") not in by_name, f"duplicate testcase {c.get('name')}"
    by_name[c.get("name")] = c

def state(c):
    for tag in ("failure", "error", "skipped"):
        if c.find(tag) is not None:
            return tag
    return "passed"

want = {
    "test_arith.sh": "passed",
    "test_files.sh": "passed",
    "test_slow.sh": "passed",
    "unit/test_strings.c": "passed",
    "test_known_bug.sh": "failure",
    "test_hangs.sh": "failure",
    "unit/test_overflow.c": "failure",
    "gpu/test_webgpu.sh": "skipped",
    # test_report.sh is reported as the 3 cases of its own JUnit report.
    "test_add_item": "passed",
    "test_add_duplicate": "passed",
    "test_remove_missing": "skipped",
}
if not has_cuda:
    want["gpu/test_cuda_matmul.sh"] = "skipped"
got = {n: state(c) for n, c in by_name.items()}
if has_cuda:
    got.pop("gpu/test_cuda_matmul.sh", None)
assert got == want, f"testcases:\n got  {sorted(got.items())}\n want {sorted(want.items())}"

# The failures say why.
known = by_name["test_known_bug.sh"].find("failure")
assert "expected '3 items' but got '2 items'" in (known.text or ""), ET.tostring(known)
hang = by_name["test_hangs.sh"].find("failure")
assert hang.get("type") == "timeout" or "timed out" in (hang.get("message") or ""), ET.tostring(hang)
ovf = by_name["unit/test_overflow.c"].find("failure")
assert "does not fit in a byte" in (ovf.text or ""), ET.tostring(ovf)
skip = by_name["gpu/test_webgpu.sh"].find("skipped")
assert "webgpu" in (skip.get("message") or ""), ET.tostring(skip)
if not has_cuda:
    assert "cuda" in (by_name["gpu/test_cuda_matmul.sh"].find("skipped").get("message") or "")
assert by_name["test_add_item"].get("classname") == "inventory.Add"

# The XML's own counts agree with its testcases.
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
n_fail = sum(1 for c in cases if c.find("failure") is not None)
n_skip = sum(1 for c in cases if c.find("skipped") is not None)
assert sum(int(s.get("tests")) for s in suites) == len(cases), "tests attribute"
assert sum(int(s.get("failures", 0)) for s in suites) == n_fail, "failures attribute"
assert sum(int(s.get("skipped", 0)) for s in suites) == n_skip, "skipped attribute"
if root.tag == "testsuites":
    assert int(root.get("tests")) == len(cases) and int(root.get("failures")) == n_fail

# results.json: one task per test file; its summary counts test cases (the unit users count: a
# JUnit test case, or the task when it produced none) and agrees with the XML.
d = json.load(open(json_path))
tasks = {t["name"]: t for t in d["tasks"]}
s = d["summary"]
assert len(tasks) == 10 == s["tasks"]["total"], (sorted(tasks), s)
status = lambda st: sum(1 for t in tasks.values() if t["status"] == st)
assert s["tasks"]["completed"] == status("completed") and s["tasks"]["failed"] == status("failed"), s
assert s["total"] == len(cases) == len(d["tests"]) == 12, (s, len(cases))
assert s["failed"] == 3 == n_fail, (s, n_fail)
assert s["error"] == 0, s
skipped_tasks = [n for n, t in tasks.items() if t["status"] == "cancelled"
                 and t.get("error", {}).get("kind") == "unschedulable"]
assert s["tasks"]["unschedulable"] == len(skipped_tasks) == (1 if has_cuda else 2), (s, skipped_tasks)
# The skipped: the unschedulable tasks and test_report.sh's skipped case.
assert s["skipped"] == n_skip == len(skipped_tasks) + 1, (s, n_skip)
assert s["passed"] == (7 if has_cuda else 6), s
assert s["total"] == s["passed"] + s["failed"] + s["skipped"], s
assert tasks["test_hangs.sh"]["error"]["kind"] == "timeout", tasks["test_hangs.sh"]["error"]
rep = tasks["test_report.sh"]["result"]["testcases"]
assert [c["name"] for c in rep] == ["test_add_item", "test_add_duplicate", "test_remove_missing"], rep

# The one-line summary on stdout agrees too: the same test cases, and the tasks they came from.
line = open(out_path).read()
m = re.search(r"(\d+) tests: (\d+) passed, (\d+) failed, (\d+) skipped \((\d+) tasks\)", line)
assert m, line
assert tuple(map(int, m.groups())) == (s["total"], s["passed"], s["failed"], s["skipped"], 10), (line, s)
EOF
# Failures are listed on stderr with their reason.
assert_contains "$(cat run.err)" "FAILED test_known_bug.sh" "dtf run stderr"
assert_contains "$(cat run.err)" "expected '3 items' but got '2 items'" "dtf run stderr"

# --- a suite of passing tests exits 0 ---
mkdir -p passing/sub
cat > passing/test_one.sh <<'EOF'
#!/bin/sh
echo one
EOF
cat > passing/sub/test_two.sh <<'EOF'
#!/bin/sh
# dtf: timeout=30 priority=2
test "$(echo two)" = two
EOF
cat > passing/helper.sh <<'EOF'
#!/bin/sh
# not a test (no test_ prefix): never run
exit 1
EOF
dtf run --workers 2 --test-dir passing --output-dir OUT2 --state-dir STATE2 > pass.out 2> pass.err
rc=$?
assert_eq "$rc" 0 "dtf run exit status on a passing suite ($(cat pass.out) $(tail -5 pass.err))"
assert_contains "$(cat pass.out)" "2 tests: 2 passed, 0 failed" "dtf run summary (passing suite)"
python3 - OUT2/results.xml <<'EOF' || fail "the passing suite's report is not right"
import sys, xml.etree.ElementTree as ET
cases = ET.parse(sys.argv[1]).getroot().findall(".//testcase")
assert sorted(c.get("name") for c in cases) == ["sub/test_two.sh", "test_one.sh"], [c.get("name") for c in cases]
assert all(c.find("failure") is None and c.find("skipped") is None for c in cases)
EOF

# --- a flaky test (fails once, passes on its retry): a pass, reported as flaky ---
mkdir -p flaky
cat > flaky/test_flaky.sh <<EOF
#!/bin/sh
# dtf: retries=1
if [ -e "$T/flaky.mark" ]; then exit 0; fi
touch "$T/flaky.mark"
echo "first run fails" >&2
exit 1
EOF
dtf run --workers 1 --test-dir flaky --output-dir OUT5 --state-dir STATE5 > flaky.out 2> flaky.err
rc=$?
assert_eq "$rc" 0 "dtf run exit status on a flaky suite ($(cat flaky.out) $(tail -5 flaky.err))"
assert_contains "$(cat flaky.out)" "1 test: 0 passed, 0 failed, 1 flaky" "dtf run summary (flaky suite)"
python3 - OUT5/results.xml OUT5/results.json <<'EOF' || fail "the flaky suite's reports are not right"
import json, sys, xml.etree.ElementTree as ET
c = ET.parse(sys.argv[1]).getroot().find(".//testcase")
assert c.find("failure") is None and len(c.findall("flakyFailure")) == 1, ET.tostring(c)
d = json.load(open(sys.argv[2]))
assert d["summary"]["flaky"] == 1 and d["tasks"][0]["result"]["flaky"] is True, d["summary"]
EOF

# --- no tests: exit 2 ---
mkdir -p empty
dtf run --workers 1 --test-dir empty --output-dir OUT3 --state-dir STATE3 > empty.out 2> empty.err
rc=$?
assert_eq "$rc" 2 "dtf run exit status on an empty test dir ($(cat empty.err))"
assert_contains "$(cat empty.err)" "no tests" "dtf run message on an empty test dir"
dtf run --workers 1 --test-dir does-not-exist --output-dir OUT4 --state-dir STATE4 > /dev/null 2> missing.err
rc=$?
assert_eq "$rc" 2 "dtf run exit status on a missing test dir ($(cat missing.err))"
[ "$(wc -l < missing.err)" -ge 1 ] || fail "dtf run gave no reason for a missing test dir"
exit 0
