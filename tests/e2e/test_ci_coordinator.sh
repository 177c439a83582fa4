#!/usr/bin/env bash
# dtf ci against a running coordinator (the seeds' cicd_integration command line): the run is
# submitted with the CI's metadata using the API key, followed to the end and reported; a wrong
# key or an unreachable coordinator exits 2, and the key is never printed.
. "$(dirname "$0")/lib.sh"
unset GITHUB_ACTIONS GITLAB_CI TF_BUILD CIRCLECI TRAVIS TEAMCITY_VERSION BITBUCKET_BUILD_NUMBER \
	JENKINS_URL

KEY=coordKeyE2E_0123456789
start_coordinator --api-key "$KEY"
API_KEY=$KEY
start_worker w1 --api-key "$KEY"
wait_worker w1
mkdir -p "$T/tests"
printf '#!/bin/sh\nexit 0\n' > "$T/tests/test_ok.sh"
printf '#!/bin/sh\necho nope >&2\nexit 1\n' > "$T/tests/test_bad.sh"

dtf ci --provider generic --coordinator "$URL" --api-key "$KEY" --test-dir "$T/tests" \
	--test-pattern 'test_*' --output-dir "$T/reports" --report-formats json junit \
	--timeout 60 --poll-interval 1 --verbose > "$T/ci.out" 2>&1
assert_eq "$?" 1 "exit code with a failing test: $(cat "$T/ci.out")"
RUN=$(jq_py 'd["run"]["id"]' "$T/reports/results.json")
assert_eq "$(api GET "/api/v1/runs/$RUN" | jq_py 'd["metadata"]["provider"]')" "local" "run metadata"
assert_eq "$(jq_py '[d["summary"]["passed"], d["summary"]["failed"]]' "$T/reports/results.json")" \
	"[1, 1]" "summary"
[ -s "$T/reports/results.xml" ] || fail "no JUnit report"
grep -qF "$KEY" "$T/ci.out" && fail "the API key was printed"

out=$("$DTF_BIN" ci --provider local --coordinator "$URL" --api-key wrong-key-123 \
	--test-dir "$T/tests" --test-pattern 'test_*' --output-dir "$T/r2" 2>&1)
assert_eq "$?" 2 "exit code with a wrong key ($out)"
out=$("$DTF_BIN" ci --provider local --coordinator http://127.0.0.1:9 --test-dir "$T/tests" \
	--test-pattern 'test_*' --output-dir "$T/r3" 2>&1)
assert_eq "$?" 2 "exit code with no coordinator ($out)"

# A timeout: exit 3, and what the run left is cancelled on the coordinator.
mkdir -p "$T/slow"
printf '#!/bin/sh\nsleep 60\n' > "$T/slow/test_sleep.sh"
dtf ci --provider local --coordinator "$URL" --api-key "$KEY" --test-dir "$T/slow" \
	--test-pattern 'test_*' --output-dir "$T/r4" --report-formats json --timeout 2 \
	--poll-interval 0.5 --quiet > "$T/ci4.out" 2>&1
assert_eq "$?" 3 "exit code on timeout: $(cat "$T/ci4.out")"
TID=$(jq_py 'd["tasks"][0]["id"]' "$T/r4/results.json")
wait_for -t 10 -m "the timed-out task to be cancelled" task_status_is "$TID" cancelled
