#!/usr/bin/env bash
# dtf ci on TeamCity (detected from TEAMCITY_VERSION): service messages on stdout while the
# run progresses: the suite, each test started then failed/finished with its duration, values
# escaped as TeamCity documents, statistics, the artifact published and the build status.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ci_lib.sh"

make_suite
# A name that needs escaping: ' [ ] and |.
cat > "$T/suite/test_it's_[x]|y.sh" <<'SH'
#!/bin/sh
printf 'line one\nline two caf\303\251\n' >&2
exit 3
SH
export TEAMCITY_VERSION=2024.12 BUILD_NUMBER=5
unset GITHUB_ACTIONS GITLAB_CI TF_BUILD CIRCLECI TRAVIS BITBUCKET_BUILD_NUMBER JENKINS_URL
MOCK_URL=http://127.0.0.1:9 # never called

# Real time: a test that waits until its testStarted message has been printed.
cat > "$T/suite/test_wait.sh" <<SH
#!/bin/sh
i=0
while [ ! -e "$T/release" ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done
[ -e "$T/release" ]
SH
"$DTF_BIN" ci --embedded --workers 2 --state-dir "$T/state0" --test-dir suite \
	--test-pattern 'test_wait*' --output-dir "$T/out0" --report-formats json --quiet \
	--poll-interval 5 > "$T/wait.out" 2>&1 &
WAIT_PID=$!
track_pid $WAIT_PID
wait_for -t 15 -m "testStarted while the test runs" \
	grep -q "^##teamcity\[testStarted name='test_wait.sh'" "$T/wait.out"
grep -q "testFinished name='test_wait.sh'" "$T/wait.out" && fail "finished before it was released"
touch "$T/release"
wait_exit $WAIT_PID 20
assert_eq "$WAIT_RC" 0 "the released test passes: $(cat "$T/wait.out")"
grep -q "^##teamcity\[testFinished name='test_wait.sh' duration='[0-9]*'\]" "$T/wait.out" ||
	fail "no testFinished: $(cat "$T/wait.out")"
rm "$T/suite/test_wait.sh"

run_ci --provider auto
assert_eq "$CI_RC" 1 "exit code with failing tests ($(ci_out))"
OUT=$(ci_out)
for want in "##teamcity[testSuiteStarted name='dtf']" \
	"##teamcity[testStarted name='test_ok.sh' captureStandardOutput='false']" \
	"##teamcity[testStarted name='test_bad.sh' captureStandardOutput='false']" \
	"##teamcity[testFailed name='test_bad.sh' message='exit code 1' details='boom: expected 4, got 5|n']" \
	"##teamcity[testStarted name='test_it|'s_|[x|]||y.sh' captureStandardOutput='false']" \
	"##teamcity[testFailed name='test_it|'s_|[x|]||y.sh' message='exit code 3' details='line one|nline two caf|0x00E9|n']" \
	"##teamcity[testSuiteFinished name='dtf']" \
	"##teamcity[buildStatisticValue key='dtf.tests.total' value='3']" \
	"##teamcity[buildStatisticValue key='dtf.tests.failed' value='2']" \
	"##teamcity[buildStatus status='FAILURE' text='{build.status.text}; 3 tests: 1 passed, 2 failed']"; do
	assert_contains "$OUT" "$want" "the service messages"
done
grep -qE "^##teamcity\[testFinished name='test_ok.sh' duration='[0-9]+'\]$" "$T/ci.out" ||
	fail "no testFinished for test_ok.sh: $OUT"
grep -qE "^##teamcity\[publishArtifacts '.*/out/artifacts/test_ok.sh/metrics.txt => dtf-artifacts'\]$" "$T/ci.out" ||
	fail "no publishArtifacts: $OUT"
# Each test is started before it finishes, and reported once.
python3 - "$T/ci.out" <<'PY' || fail "service messages out of order: $OUT"
import re, sys
lines = [l.strip() for l in open(sys.argv[1]) if l.startswith("##teamcity[test")]
for name in ("test_ok.sh", "test_bad.sh"):
    started = [i for i, l in enumerate(lines) if l.startswith("##teamcity[testStarted name='%s'" % name)]
    finished = [i for i, l in enumerate(lines) if l.startswith("##teamcity[testFinished name='%s'" % name)]
    assert len(started) == 1 and len(finished) == 1 and started[0] < finished[0], (name, started, finished)
PY
