#!/usr/bin/env bash
# pytest suites under `dtf run`: test files run several to a pytest process (chunks), per-test
# results come from pytest's JUnit report, and each file's duration is recorded so the next run
# packs the chunks by expected time. 12 generated files (one of them failing) on 2 workers.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
"$PY" -c 'import pytest' 2>/dev/null || fail "pytest is not installed for $PY (scripts/install-deps.sh installs python3-pytest)"
export DTF_PYTHON=$PY

python3 "$DTF_SOURCE_DIR/bench/gen_pytest_suite.py" suite 12 0.05 3 > /dev/null
cat > suite/test_zz_fails.py <<'PYEOF'
def test_ok():
    assert True

def test_broken():
    assert 1 + 1 == 3, "arithmetic is broken"
PYEOF
want_cases=$(cat suite/test_*.py | grep -c '^def test_')

# First run: no history, 2 workers x 1 slot -> 2 x 4 = 8 chunks of equal file counts.
dtf run --workers 2 --test-dir suite --output-dir out1 --quiet > run1.txt 2>&1
rc=$?
assert_eq "$rc" 1 "exit status with one failing test"
assert_contains "$(cat run1.txt)" "(8 tasks)" "first run's chunk count"
python3 - out1/results.xml "$want_cases" <<'PYEOF' || fail "JUnit report: $(head -c 1500 out1/results.xml)"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = root.iter("testcase")
names = {}
for c in cases:
    names[(c.get("classname"), c.get("name"))] = c
assert len(names) == int(sys.argv[2]), (len(names), sys.argv[2])
failed = [k for k, c in names.items() if c.find("failure") is not None or c.find("error") is not None]
assert failed == [("test_zz_fails", "test_broken")], failed
PYEOF
[ -s .dtf/pytest-durations.json ] || fail "no duration history written"
nfiles=$(python3 -c 'import json; print(len(json.load(open(".dtf/pytest-durations.json"))["files"]))')
assert_eq "$nfiles" 13 "files with a recorded duration"

# Second run: with history, 2 x 2 = 4 chunks, longest first, balanced by recorded time.
dtf run --workers 2 --test-dir suite --output-dir out2 --quiet > run2.txt 2>&1
assert_contains "$(cat run2.txt)" "(4 tasks)" "second run's chunk count"
python3 - out2/results.json <<'PYEOF' || fail "second run's chunks: $(cat run2.txt)"
import json, sys
d = json.load(open(sys.argv[1]))
tasks = d["tasks"] if isinstance(d, dict) else d
chunks = [t for t in tasks if t["name"].startswith("pytest chunk")]
assert len(chunks) == 4, [t["name"] for t in tasks]
files = sorted(f for t in chunks for f in t["params"]["pytest_files"])
assert len(files) == 13 and len(set(files)) == 13, files
PYEOF
