#!/usr/bin/env bash
# A real third-party suite: numpy's own tests (Debian's python3-numpy ships them). Seven test files
# of numpy/core/tests, numpy/lib/tests and numpy/linalg/tests (test_records, test_regression x3,
# test_shape_base x2, test_recfunctions: ~830 tests, a few seconds) run through `dtf run --pytest
# --workers 2` (4 chunks of 2, 2, 2 and 1 files, several files in one pytest process) and through
# serial pytest, from empty working directories. dtf's per-test results must be serial pytest's,
# test for test (same tests, same status: passed, failed, error, skipped, xfailed), and so must
# its counts in every report. Files of the same name in different directories are told apart.
# bench/numpy.sh does the same for all of core, lib and linalg, with pytest-xdist and the times.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
"$PY" -c 'import numpy, pytest' 2>/dev/null ||
	fail "numpy and pytest are not installed for $PY (scripts/install-deps.sh installs" \
		"python3-numpy and python3-pytest)"
export DTF_PYTHON=$PY
NP=$("$PY" -c 'import numpy, os; print(os.path.dirname(numpy.__file__))')
PATTERN='test_[rs][eh]*.py'
find "$NP/core/tests" "$NP/lib/tests" "$NP/linalg/tests" -maxdepth 1 -name "$PATTERN" |
	sort > files.txt
[ "$(wc -l < files.txt)" = 7 ] ||
	fail "expected 7 numpy test files matching $PATTERN: $(cat files.txt)"

# Every file is "1 s" on record: 2 workers -> 4 chunks, packed longest first (2, 2, 2, 1 files).
mkdir serial dtf dtf/.dtf
"$PY" -c 'import json, sys
print(json.dumps({"version": 1, "files": {l.strip(): 1 for l in open(sys.argv[1])}}))' \
	files.txt > dtf/.dtf/pytest-durations.json
(cd serial && "$PY" -m pytest -q -p no:cacheprovider --junitxml="$T/serial.xml" \
	$(cat "$T/files.txt") > "$T/serial.log" 2>&1)
serial_rc=$?
log "serial pytest: exit $serial_rc, $(tail -n 1 serial.log)"
(cd dtf && "$DTF_BIN" run --pytest --workers 2 --test-dir "$NP/core/tests" \
	--test-dir "$NP/lib/tests" --test-dir "$NP/linalg/tests" --test-pattern "$PATTERN" \
	--output-dir "$T/out" --report-formats json,junit > "$T/dtf.log" 2>&1)
dtf_rc=$?
log "dtf run: exit $dtf_rc, $(grep '^dtf run:' dtf.log | tail -n 1)"
assert_eq "$dtf_rc" "$serial_rc" "dtf's exit status against serial pytest's"

"$PY" - "$T/files.txt" "$T/serial.xml" "$T/out/results.json" "$T/out/results.xml" <<'EOF' ||
	fail "$(tail -n 20 dtf.log)"
import json, sys, xml.etree.ElementTree as ET

files = [l.strip() for l in open(sys.argv[1]) if l.strip()]

def key(classname, name, candidates):
    """FILE::Class::test, FILE found as the candidate whose path (dotted, without .py) ends with
    the classname's leading parts: pytest writes the path below its rootdir, which differs
    between serial pytest (numpy's directory) and a chunk (its files' common directory)."""
    comps = (classname or name).split(".")
    for k in range(len(comps) - 1, -1, -1):
        for f in candidates:
            parts = f[:-3].strip("/").replace("/", ".").split(".")
            if comps[:k + 1] == parts[len(parts) - k - 1:]:
                rest = comps[k + 1:] if classname else []
                return f + "".join("::" + c for c in rest) + ("::" + name if classname else "")
    raise AssertionError(("no file for", classname, name))

def junit_status(tc):
    if tc.find("error") is not None:
        return "error"
    if tc.find("failure") is not None:
        return "failed"
    s = tc.find("skipped")
    if s is not None:
        return "xfailed" if s.get("type") == "pytest.xfail" else "skipped"
    return "passed"

serial = {}
for tc in ET.parse(sys.argv[2]).getroot().iter("testcase"):
    serial[key(tc.get("classname"), tc.get("name"), files)] = junit_status(tc)
doc = json.load(open(sys.argv[3]))
dtf = {}
chunks = [t["params"]["pytest_files"] for t in doc["tasks"]]
assert sorted(len(c) for c in chunks) == [1, 2, 2, 2], chunks
assert sorted(f for c in chunks for f in c) == files, chunks
for t in doc["tasks"]:
    for tc in t["result"]["testcases"]:
        st = tc["status"]
        if st == "skipped" and tc.get("type") == "pytest.xfail":
            st = "xfailed"
        k = key(tc["classname"], tc["name"], t["params"]["pytest_files"])
        assert k not in dtf, ("reported twice", k)
        dtf[k] = st
assert len(serial) > 500, ("too few tests in serial pytest's report", len(serial))
only_serial = sorted(set(serial) - set(dtf))
only_dtf = sorted(set(dtf) - set(serial))
assert not only_serial and not only_dtf, (only_serial[:10], only_dtf[:10])
differ = [(k, serial[k], dtf[k]) for k in sorted(serial) if serial[k] != dtf[k]]
assert not differ, differ[:10]
# The counts every report gives are those of the tests.
counts = {}
for st in serial.values():
    counts[st] = counts.get(st, 0) + 1
s = doc["summary"]
assert s["total"] == len(serial), (s["total"], len(serial))
for st in ("passed", "failed", "error", "skipped", "xfailed"):
    assert s.get(st, 0) == counts.get(st, 0), (st, s.get(st), counts.get(st, 0))
# And JUnit has one test case per test.
assert sum(1 for _ in ET.parse(sys.argv[4]).getroot().iter("testcase")) == len(serial)
print("numpy: %d tests, %s" % (len(serial), counts))
EOF
log "ok"
