#!/usr/bin/env bash
# No false greens: a suite of known outcomes (tests/fixtures/truth: pytest pass, fail and
# collection error, unittest fail, xfail, xpass and strict xpass, skip, a module with no tests,
# plain Python scripts, shell fail, a C test that segfaults, a test that exits 0 but wrote a
# JUnit report with a failure, a test killed by its timeout) run through `dtf run` (file by file
# and in pytest chunks), `dtf ci --embedded` and the seed pipeline (coordinator, worker, `dtf client submit-task`,
# `wait-completion`, `export-results`). Each outcome is checked exactly, per test case, in the
# JSON and the JUnit report (check_truth.py). Then the same with a worker whose python3 cannot
# import pytest: a pytest file fails with error.kind infrastructure naming what is missing, and a
# unittest-only file runs under unittest.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
"$PY" -c 'import pytest' 2>/dev/null ||
	fail "pytest is not installed for $PY (scripts/install-deps.sh installs python3-pytest)"
command -v cc > /dev/null || fail "no C compiler (cc) for the C test"
# The interpreter of the workers that have pytest; the others get PATH with the shim below.
export DTF_PYTHON=$PY
CHECK="python3 $DTF_SOURCE_DIR/tests/fixtures/truth/check_truth.py"

# The suite is copied: running it leaves __pycache__ directories behind.
cp -r "$DTF_SOURCE_DIR/tests/fixtures/truth" "$T/truth"
rm -f "$T/truth/check_truth.py"
# A python3 without site-packages: the real interpreter, but pytest is not importable.
mkdir -p "$T/shim"
printf '#!/bin/sh\nexec %s -S "$@"\n' "$PY" > "$T/shim/python3"
chmod +x "$T/shim/python3"
PATH="$T/shim:$PATH" python3 -c 'import pytest' 2>/dev/null && fail "the shim still imports pytest"
# Runs its arguments as a command on a machine without pytest.
no_pytest() { env -u DTF_PYTHON PATH="$T/shim:$PATH" "$@"; }

# --- 1. dtf run ---
dtf run --workers 2 --test-dir truth/main --output-dir run-main --state-dir st-run1 \
	--quiet > run-main.txt 2>&1
assert_eq "$?" 1 "dtf run's exit status with failing tests ($(tail -5 run-main.txt))"
$CHECK main run-main/results.json run-main/results.xml || fail "dtf run reported an outcome wrongly"
no_pytest "$DTF_BIN" run --workers 1 --test-dir truth/norunner --output-dir run-nopy \
	--state-dir st-run2 --quiet > run-nopy.txt 2>&1
assert_eq "$?" 1 "dtf run's exit status without pytest ($(tail -5 run-nopy.txt))"
$CHECK norunner run-nopy/results.json run-nopy/results.xml ||
	fail "dtf run without pytest reported an outcome wrongly"
assert_contains "$(cat run-nopy.txt)" "pytest is not importable by python3" \
	"dtf run names the missing runner"
# pytest chunks (--pytest): the Python files run several to a process, with the same outcomes.
dtf run --pytest --workers 2 --test-dir truth/main --output-dir run-chunks --state-dir st-run3 \
	--quiet > run-chunks.txt 2>&1
assert_eq "$?" 1 "dtf run --pytest's exit status with failing tests ($(tail -5 run-chunks.txt))"
$CHECK main run-chunks/results.json run-chunks/results.xml --chunked ||
	fail "dtf run --pytest reported an outcome wrongly"
no_pytest "$DTF_BIN" run --pytest --workers 1 --test-dir truth/norunner --output-dir run-chunks2 \
	--state-dir st-run4 --quiet > run-chunks2.txt 2>&1
assert_eq "$?" 1 "dtf run --pytest's exit status without pytest ($(tail -5 run-chunks2.txt))"
$CHECK norunner run-chunks2/results.json run-chunks2/results.xml --chunked ||
	fail "dtf run --pytest without pytest reported an outcome wrongly"
log "dtf run: every outcome right"

# --- 2. dtf ci --embedded; --dry-run shows each file's runner ---
dtf ci --dry-run --provider local --test-dir truth/main --test-pattern 'test_*' \
	--write-tasks main-tasks.json > dry.txt 2>&1
assert_eq "$?" 0 "dtf ci --dry-run ($(tail -3 dry.txt))"
block() { awk -v n="$1" '$0 == n {p=1; print; next} /^[^ ]/ {p=0} p' dry.txt; }
assert_contains "$(block test_py_fail.py)" "runner:    pytest (" "the runner of a pytest file"
assert_contains "$(block test_unittest_fail.py)" "runner:    unittest-only file: pytest, or unittest where" \
	"the runner of a unittest file"
assert_contains "$(block test_script.py)" "runner:    python3 FILE (a plain script" \
	"the runner of a plain script"
[ -e .dtf ] && fail "--dry-run started something"
dtf ci --embedded --provider local --workers 2 --test-dir truth/main --test-pattern 'test_*' \
	--state-dir st-ci1 --output-dir ci-main --report-formats json,junit --quiet \
	> ci-main.txt 2>&1
assert_eq "$?" 1 "dtf ci's exit status with failing tests ($(tail -5 ci-main.txt))"
$CHECK main ci-main/results.json ci-main/results.xml || fail "dtf ci reported an outcome wrongly"
no_pytest "$DTF_BIN" ci --embedded --provider local --workers 1 --test-dir truth/norunner \
	--state-dir st-ci2 --output-dir ci-nopy --report-formats json,junit --quiet \
	> ci-nopy.txt 2>&1
assert_eq "$?" 1 "dtf ci's exit status without pytest ($(tail -5 ci-nopy.txt))"
$CHECK norunner ci-nopy/results.json ci-nopy/results.xml ||
	fail "dtf ci without pytest reported an outcome wrongly"
log "dtf ci --embedded: every outcome right"

# --- 3. the seed pipeline: coordinator, a worker, submit-task, wait-completion, export ---
start_coordinator
export DTF_COORDINATOR="$URL"
start_worker w-py
wait_worker w-py
out=$(dtf client submit-task --file main-tasks.json 2>&1) || fail "submit-task: $out"
assert_contains "$out" "submitted 15 tasks" "submit-task output"
dtf client wait-completion --timeout 60 > wait-main.txt 2>&1
assert_eq "$?" 1 "wait-completion's exit status with failing tests ($(tail -3 wait-main.txt))"
dtf client export-results --format json --output pipe-main.json > /dev/null || fail "export json"
dtf client export-results --format junit --output pipe-main.xml > /dev/null || fail "export junit"
$CHECK main pipe-main.json pipe-main.xml || fail "the pipeline reported an outcome wrongly"

# The same worker machine without pytest: only that worker is left to run the next run.
kill -TERM "${WORKER_PID[w-py]}"
wait_exit "${WORKER_PID[w-py]}" 20
dtf ci --dry-run --provider local --test-dir truth/norunner --write-tasks nopy-tasks.json \
	> /dev/null 2>&1 || fail "dtf ci --dry-run --write-tasks (norunner)"
no_pytest "$DTF_BIN" worker --coordinator "$URL" --worker-id w-nopy --work-dir "$T/work/w-nopy" \
	--lease-wait 5 >> "$T/worker-w-nopy.log" 2>&1 &
track_pid $!
wait_worker w-nopy
dtf client submit-task --file nopy-tasks.json > /dev/null 2>&1 || fail "submit-task (norunner)"
dtf client wait-completion --timeout 60 > wait-nopy.txt 2>&1
assert_eq "$?" 1 "wait-completion's exit status without pytest ($(tail -3 wait-nopy.txt))"
dtf client export-results --format json --output pipe-nopy.json > /dev/null || fail "export json"
dtf client export-results --format junit --output pipe-nopy.xml > /dev/null || fail "export junit"
$CHECK norunner pipe-nopy.json pipe-nopy.xml || fail "the pipeline without pytest reported wrongly"
log "seed pipeline: every outcome right"
exit 0
