#!/usr/bin/env bash
# dtf ci's discovery and requirement analysis, shown by --dry-run (nothing is submitted):
# hardware inferred from file contents and markers, min_memory/browser/priority markers, an
# explicit dtf: header winning, pytest files, CTest directories, go packages, explicit lists;
# and a pytest-style file running under pytest, one test case per test (never as a plain script,
# which would only define its functions: tests/e2e/test_truth_table.sh has the rest).
. "$(dirname "$0")/lib.sh"
unset GITHUB_ACTIONS GITLAB_CI TF_BUILD CIRCLECI TRAVIS TEAMCITY_VERSION BITBUCKET_BUILD_NUMBER \
	JENKINS_URL

mkdir -p "$T/t/pkg" "$T/t/ctest/sub" "$T/t/gomod/calc"
cat > "$T/t/test_torch.py" <<'PY'
import torch
def test_matmul():
    x = torch.ones(2, 2).cuda()
    assert x.sum() == 4
PY
cat > "$T/t/test_marked.py" <<'PY'
import pytest
@pytest.mark.hardware("rocm", "cuda")
@pytest.mark.min_memory(4096)
@pytest.mark.priority(2)
def test_big():
    pass
PY
cat > "$T/t/test_browser.py" <<'PY'
# run with --hardware webgpu --browser chrome
def test_page():
    pass
PY
cat > "$T/t/test_header.py" <<'PY'
# dtf: hardware=cpu priority=9
import torch
x = torch.zeros(1).cuda()
PY
cat > "$T/t/test_plain.py" <<'PY'
def test_adds():
    assert 1 + 1 == 2
if __name__ == "__main__":
    test_adds()
PY
printf 'import openvino\n' > "$T/t/pkg/test_ov.py"
printf 'subdirs("sub")\n' > "$T/t/ctest/CTestTestfile.cmake"
printf 'add_test(x "true")\n' > "$T/t/ctest/sub/CTestTestfile.cmake"
printf 'package calc\n' > "$T/t/gomod/calc/calc_test.go"

dtf ci --dry-run --test-dir "$T/t" --coordinator http://127.0.0.1:9 > "$T/dry.out" 2>&1
assert_eq "$?" 0 "dry-run exit code: $(cat "$T/dry.out")"
OUT=$(cat "$T/dry.out")
assert_contains "$OUT" "provider local; 8 test files" "the count"
block() { awk -v n="$1" '$0 == n {p=1; print; next} /^[^ ]/ {p=0} p' "$T/dry.out"; }
assert_contains "$(block test_torch.py)" 'hardware:  ["cuda"] (content)' "torch + cuda"
assert_contains "$(block test_marked.py)" 'hardware:  ["rocm","cuda"] (marker)' "the hardware marker"
assert_contains "$(block test_marked.py)" "memory:    4096 MiB" "min_memory"
assert_contains "$(block test_marked.py)" "priority:  2" "the priority marker"
assert_contains "$(block test_browser.py)" 'hardware:  ["webgpu"] (marker)' "--hardware X"
assert_contains "$(block test_browser.py)" "browser:   chrome" "the browser marker"
assert_contains "$(block test_header.py)" 'hardware:  ["cpu"] (dtf: header)' "the header wins"
assert_contains "$(block test_header.py)" "priority:  9" "the header's priority"
assert_contains "$(block pkg/test_ov.py)" 'hardware:  ["openvino"] (content)' "openvino"
assert_contains "$(block test_plain.py)" "hardware:  any (none found)" "a plain test"
assert_contains "$(block test_plain.py)" "runner:    pytest (" "the pytest runner"
assert_contains "$(block test_plain.py)" '-c "$DTF_PYRUN" pytest' "the pytest runner's launcher"
assert_contains "$(block ctest:ctest)" "ctest --test-dir ." "CTest directory (once, not per subdirectory)"
assert_contains "$(block go:gomod/calc)" '["go","test","."]' "go package"
[ -e .dtf ] && fail "--dry-run started something"

# An explicit list; a pytest-style file runs under pytest (the interpreter that has it).
/usr/bin/python3 -c 'import pytest' 2>/dev/null ||
	fail "pytest is not installed for /usr/bin/python3 (scripts/install-deps.sh installs python3-pytest)"
DTF_PYTHON=/usr/bin/python3 "$DTF_BIN" ci --embedded --workers 1 --state-dir "$T/state" \
	--test-files "$T/t/test_plain.py" --output-dir "$T/out" --report-formats json \
	--provider local --quiet > "$T/run.out" 2>&1
assert_eq "$?" 0 "exit code of the pytest-style file: $(cat "$T/run.out")"
assert_eq "$(jq_py '[(c["name"], c["status"]) for c in d["tasks"][0]["result"]["testcases"]]' \
	"$T/out/results.json")" '[["test_adds", "passed"]]' "the pytest-style file's test cases"
assert_eq "$(jq_py '[t["name"] for t in d["tasks"]]' "$T/out/results.json")" \
	"[\"$T/t/test_plain.py\"]" "the explicit list"
