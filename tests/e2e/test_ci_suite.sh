#!/usr/bin/env bash
# dtf ci --embedded on examples/suite (as in a clean checkout): every report format, badges,
# the history kept for the next run's comparison, and the exit codes: 1 on test failures,
# 0 when all pass, 2 on bad usage or configuration, 3 on timeout.
. "$(dirname "$0")/lib.sh"
unset GITHUB_ACTIONS GITLAB_CI TF_BUILD CIRCLECI TRAVIS TEAMCITY_VERSION BITBUCKET_BUILD_NUMBER \
	JENKINS_URL

SUITE="$DTF_SOURCE_DIR/examples/suite"
dtf ci --embedded --workers 3 --state-dir "$T/state" --test-dir "$SUITE" --test-pattern 'test_*' \
	--output-dir "$T/out" --badges-dir "$T/badges" --history-dir "$T/hist" --provider local \
	--quiet > "$T/ci.out" 2>&1
assert_eq "$?" 1 "exit code on examples/suite (it fails on purpose): $(cat "$T/ci.out")"
for f in results.json results.xml report.md report.html results.csv; do
	[ -s "$T/out/$f" ] || fail "$f was not written: $(ls "$T/out"; cat "$T/ci.out")"
done
assert_eq "$(jq_py '[d["summary"][k] for k in ("total", "passed", "failed", "skipped")]' "$T/out/results.json")" \
	"[12, 6, 3, 3]" "summary of examples/suite (test cases: test_report.sh brings 3)"
assert_contains "$(cat "$T/ci.out")" "dtf ci: 12 tests: 6 passed, 3 failed, 3 skipped (10 tasks) in " \
	"the terminal line agrees with results.json"
python3 -c "import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])" "$T/out/results.xml" ||
	fail "results.xml is not XML"
grep -qE 'test\\?_known\\?_bug' "$T/out/report.md" || fail "report.md lacks the failure"
ls "$T/badges"/*.json > /dev/null 2>&1 || fail "no badges written"
[ -s "$T/hist/default.json" ] || fail "the run was not kept for comparison"
assert_eq "$(jq_py 'd["ci"]["provider"]' "$T/hist/default.json")" "local" "provider in the kept run"

# Everything passes: exit 0; the previous run is loaded for comparison.
mkdir -p "$T/good"
printf '#!/bin/sh\nexit 0\n' > "$T/good/test_a.sh"
printf '#!/bin/sh\necho fine\n' > "$T/good/test_b.sh"
mkdir -p "$T/logs"
echo "server log" > "$T/logs/server.log"
echo "not this" > "$T/logs/server.txt"
dtf ci --embedded --workers 2 --state-dir "$T/state2" --test-dir "$T/good" --test-pattern 'test_*' \
	--output-dir "$T/out2" --report-formats json --history-dir "$T/hist" --provider generic \
	--artifacts 'logs/*.log' --verbose > "$T/ci2.out" 2>&1
assert_eq "$?" 0 "exit code when every test passes: $(cat "$T/ci2.out")"
assert_contains "$(cat "$T/ci2.out")" "previous run for comparison: $T/hist/default.json" "history"
# The run's --artifacts are collected and listed.
grep -q "server log" "$T/out2/artifacts/server.log" || fail "--artifacts was not collected"
[ -e "$T/out2/artifacts/server.txt" ] && fail "a file outside the glob was collected"
assert_eq "$(jq_py '[a["source"] for a in d]' "$T/out2/artifacts.json")" '["logs/server.log"]' "artifacts.json"
assert_eq "$(jq_py 'd["comparison"]["previous_run_id"]' "$T/out2/results.json")" \
	"$(jq_py 'd["run"]["id"]' "$T/out/results.json")" "the run compared with"

# Timeout: exit 3, quickly, and the partial results are still written.
mkdir -p "$T/slow"
printf '#!/bin/sh\nsleep 60\n' > "$T/slow/test_sleep.sh"
START=$(date +%s)
dtf ci --embedded --workers 1 --state-dir "$T/state3" --test-dir "$T/slow" --test-pattern 'test_*' \
	--output-dir "$T/out3" --report-formats json,junit --timeout 2 --provider local --quiet \
	> "$T/ci3.out" 2>&1
assert_eq "$?" 3 "exit code on timeout: $(cat "$T/ci3.out")"
[ $(( $(date +%s) - START )) -lt $(( 20 * SCALE )) ] || fail "the timeout took too long"
[ -s "$T/out3/results.json" ] || fail "no results after a timeout"

# Bad usage and configuration: exit 2 with a reason.
expect2() {
	local out
	out=$("$DTF_BIN" ci "$@" 2>&1)
	assert_eq "$?" 2 "exit code of dtf ci $* ($out)"
	[ -n "$out" ] || fail "dtf ci $* gave no reason"
}
expect2 --bogus
expect2 --report-formats pdf --dry-run --test-dir "$SUITE"
expect2 --provider nope --dry-run --test-dir "$SUITE"
expect2 --timeout -1
expect2 --test-dir "$T/missing" --dry-run
expect2 --test-dir "$T/good" --test-pattern 'nothing_*' --dry-run
expect2 --test-files "$T/missing.sh" --dry-run
expect2 --embedded --test-dir "$T/good" --test-pattern 'test_*' --provider github --output-dir "$T/o4"
assert_contains "$("$DTF_BIN" ci --provider github --test-dir "$T/good" --test-pattern 'test_*' 2>&1)" \
	"set GITHUB_TOKEN" "the reason for a missing token"
dtf ci --help | grep -q -- '--report-formats' || fail "--help lacks the options"
