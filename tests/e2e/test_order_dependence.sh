#!/usr/bin/env bash
# Order dependence in pytest chunks: a chunk's failing tests are re-run alone and each is reported
# as failed (fails alone too), order_dependent (passes alone; the chunk's files before it named)
# or isolation_failure (passed in the chunk, fails when its file runs alone), in JSON and JUnit;
# the exit status fails on them unless --allow-order-dependent (that it still fails on a test
# that fails alone is pinned down by unit.test_isolate); --isolate-max-tests bounds the
# re-runs; --no-isolate leaves the chunk's statuses; --compare-with lists them apart.
#
# The suite: test_a_sets.py sets an environment variable and leaves it set; test_b_order.py has a
# test that wants it unset (fails after a, passes alone); test_c_isolation.py has a test that
# needs it set (passes after a, fails alone) and one that wants it unset; test_d_fails.py fails
# whatever the order. A recorded duration history puts a, b, c and d in one chunk, in that order
# (test_0_filler.py, "20 s", gets the other chunk).
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
"$PY" -c 'import pytest' 2>/dev/null ||
	fail "pytest is not installed for $PY (scripts/install-deps.sh installs python3-pytest)"
export DTF_PYTHON=$PY

mkdir suite
cat > suite/test_0_filler.py <<'EOF'
def test_filler():
    assert True
EOF
cat > suite/test_a_sets.py <<'EOF'
import os

def test_sets_state():
    os.environ["DTF_E2E_STATE"] = "set by test_a_sets"
EOF
cat > suite/test_b_order.py <<'EOF'
import os

def test_first():
    assert True

def test_clean_environment():
    assert "DTF_E2E_STATE" not in os.environ, "left over: " + os.environ["DTF_E2E_STATE"]
EOF
cat > suite/test_c_isolation.py <<'EOF'
import os

class TestNeeds:
    def test_needs_state(self):
        assert os.environ.get("DTF_E2E_STATE") == "set by test_a_sets"

def test_no_state():
    assert "DTF_E2E_STATE" not in os.environ

def test_unaffected():
    assert True
EOF
cat > suite/test_d_fails.py <<'EOF'
def test_always_fails():
    assert 1 + 1 == 3
EOF
S=$(cd suite && pwd)

# The grouping: 1 worker -> 2 chunks; the filler alone, then a, b, c, d (equal times: by path).
history() {
	mkdir -p .dtf
	"$PY" - "$S" "$@" > .dtf/pytest-durations.json <<'EOF'
import json, sys
d = sys.argv[1]
files = {d + "/test_0_filler.py": 20}
for f in sys.argv[2:]:
    files[d + "/" + f] = 1
print(json.dumps({"version": 1, "files": files}))
EOF
}
ALL="test_a_sets.py test_b_order.py test_c_isolation.py test_d_fails.py"

run() {
	local out=$1
	shift
	dtf run --pytest --workers 1 --test-dir suite --output-dir "$out" \
		--report-formats json,junit "$@" > "$out.txt" 2>&1
}

# Checks results.json and results.xml in $1 against "classname::name=status[:outcome[:before]]"
# lines on stdin: status as reported, the isolation outcome ("-" for none), and the files named
# before it (comma-separated, "" for none).
check_cases() {
	local want
	want=$(cat)
	"$PY" - "$1" "$S" "$want" <<'EOF' || fail "$1: $(cat "$1.txt")"
import json, sys, xml.etree.ElementTree as ET
out, s = sys.argv[1], sys.argv[2]
want = {}
for line in sys.argv[3].split("\n"):
    if line.strip():
        k, v = line.strip().split("=")
        want[k] = (v.split(":") + ["-", ""])[:3]
doc = json.load(open(out + "/results.json"))
got = {}
for t in doc["tasks"]:
    for tc in (t.get("result") or {}).get("testcases") or []:
        got[tc["classname"] + "::" + tc["name"]] = tc
assert sorted(got) == sorted(want), (sorted(got), sorted(want))
for k, (status, outcome, before) in want.items():
    tc = got[k]
    iso = tc.get("isolation") or {}
    assert tc["status"] == status, (k, tc["status"], status, tc)
    assert iso.get("outcome", "-") == outcome, (k, iso, outcome)
    if outcome in ("order_dependent", "isolation_failure", "failed"):
        files = [s + "/" + f for f in before.split(",") if f]
        assert iso["files_before"] == files, (k, iso["files_before"], files)
        for f in before.split(","):
            if f and outcome != "failed":
                assert f in tc["message"], (k, f, tc["message"])
# The report's rows and counts say the same.
rows = {r["name"]: r["status"] for r in doc["tests"]}
for k, (status, _, _) in want.items():
    assert rows[k] == status, (k, rows[k], status)
counts = {}
for status, _, _ in want.values():
    counts[status] = counts.get(status, 0) + 1
for st, n in counts.items():
    assert doc["summary"][st] == n, (st, doc["summary"][st], n)
assert doc["summary"]["total"] == len(want), doc["summary"]
# JUnit: an order-dependent test or an isolation failure is a failure of that type; a test that
# fails alone too keeps pytest's failure.
for c in ET.parse(out + "/results.xml").getroot().iter("testcase"):
    k = c.get("classname") + "::" + c.get("name")
    status = want[k][0]
    f = c.find("failure")
    if status in ("order_dependent", "isolation_failure"):
        assert f is not None and f.get("type") == status, (k, ET.tostring(c)[:300])
    elif status == "failed":
        assert f is not None and f.get("type") not in ("order_dependent", "isolation_failure"), k
    else:
        assert f is None and c.find("error") is None, (k, ET.tostring(c)[:300])
EOF
}

# 1. The classification, and the exit status by default.
history $ALL
run out1
rc=$?
assert_eq "$rc" 1 "exit status with order-dependent tests and a failing test"
check_cases out1 <<'EOF'
test_0_filler::test_filler=passed
test_a_sets::test_sets_state=passed
test_b_order::test_first=passed
test_b_order::test_clean_environment=order_dependent:order_dependent:test_a_sets.py
test_c_isolation.TestNeeds::test_needs_state=isolation_failure:isolation_failure:test_a_sets.py,test_b_order.py
test_c_isolation::test_no_state=order_dependent:order_dependent:test_a_sets.py,test_b_order.py
test_c_isolation::test_unaffected=passed
test_d_fails::test_always_fails=failed:failed:test_a_sets.py,test_b_order.py,test_c_isolation.py
EOF
want="order-dependent: test_b_order::test_clean_environment: passes alone; failed in its chunk"
want="$want after test_a_sets.py and 1 earlier test of its own file"
assert_contains "$(cat out1.txt)" "$want" "the order-dependent test named on the terminal"
want="dtf: isolation: 2 order-dependent, 1 isolation failure, 1 fails alone too"
assert_contains "$(cat out1.txt)" "$want" "the findings' counts"

# 2. Without test_d_fails.py, only order dependence is left: it fails the run by default, not when allowed.
rm suite/test_d_fails.py
history test_a_sets.py test_b_order.py test_c_isolation.py
run out3 --allow-order-dependent --compare-with out1/results.json
assert_eq "$?" 0 "exit status with --allow-order-dependent and only order dependence"
check_cases out3 <<'EOF'
test_0_filler::test_filler=passed
test_a_sets::test_sets_state=passed
test_b_order::test_first=passed
test_b_order::test_clean_environment=order_dependent:order_dependent:test_a_sets.py
test_c_isolation.TestNeeds::test_needs_state=isolation_failure:isolation_failure:test_a_sets.py,test_b_order.py
test_c_isolation::test_no_state=order_dependent:order_dependent:test_a_sets.py,test_b_order.py
test_c_isolation::test_unaffected=passed
EOF
# --compare-with lists them apart from the new failures.
"$PY" - out3/results.json <<'EOF' || fail "comparison: $(jq_py 'd.get("comparison")' out3/results.json)"
import json, sys
c = json.load(open(sys.argv[1]))["comparison"]
assert sorted(c["order_dependent"]) == ["test_b_order::test_clean_environment",
                                        "test_c_isolation::test_no_state"], c
assert c["isolation_failures"] == ["test_c_isolation.TestNeeds::test_needs_state"], c
assert c["new_failures"] == [], c
EOF
history test_a_sets.py test_b_order.py test_c_isolation.py
run out4
assert_eq "$?" 1 "exit status with only order dependence, by default"

# 3. The bound: one test re-run alone; the others keep their status from the chunk, with why.
history test_a_sets.py test_b_order.py test_c_isolation.py
run out5 --isolate-max-tests 1
assert_eq "$?" 1 "exit status with --isolate-max-tests 1"
check_cases out5 <<'EOF'
test_0_filler::test_filler=passed
test_a_sets::test_sets_state=passed
test_b_order::test_first=passed
test_b_order::test_clean_environment=order_dependent:order_dependent:test_a_sets.py
test_c_isolation.TestNeeds::test_needs_state=passed
test_c_isolation::test_no_state=failed:not_rerun
test_c_isolation::test_unaffected=passed
EOF
reason=$(jq_py 'next(tc["isolation"]["reason"] for t in d["tasks"]
                 for tc in t["result"]["testcases"] if tc["name"] == "test_no_state")' out5/results.json)
assert_eq "$reason" "over the bound of 1 tests re-run alone" "why a failing test was not re-run"

# 4. --no-isolate: the chunk's statuses as they were, nothing re-run.
history test_a_sets.py test_b_order.py test_c_isolation.py
run out6 --no-isolate
assert_eq "$?" 1 "exit status with --no-isolate"
check_cases out6 <<'EOF'
test_0_filler::test_filler=passed
test_a_sets::test_sets_state=passed
test_b_order::test_first=passed
test_b_order::test_clean_environment=failed
test_c_isolation.TestNeeds::test_needs_state=passed
test_c_isolation::test_no_state=failed
test_c_isolation::test_unaffected=passed
EOF
case "$(cat out6.txt)" in *re-running*) fail "--no-isolate re-ran tests: $(cat out6.txt)" ;; esac
log "ok"
