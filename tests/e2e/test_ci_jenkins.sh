#!/usr/bin/env bash
# dtf ci on Jenkins (detected from JENKINS_URL and BUILD_NUMBER): the JUnit and JSON files for
# the pipeline's junit step, the build description set with an API token (POST
# {build}/submitDescription, form-encoded, basic auth; after a 503 and a 429 with Retry-After,
# retried), the build read back from {build}/api/json; the token is never printed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ci_lib.sh"

TOKEN=11e2e3f4jenkinsApiToken
start_mock --fail 'POST:submitDescription$:503' --fail 'POST:submitDescription$:429:1'
make_suite
export JENKINS_URL="$MOCK_URL/" BUILD_URL="$MOCK_URL/job/folder/job/app/12/" BUILD_NUMBER=12 \
	JOB_NAME=folder/app GIT_COMMIT=cafe12 BRANCH_NAME=feature JENKINS_USER=ci \
	JENKINS_TOKEN=$TOKEN
unset GITHUB_ACTIONS GITLAB_CI TF_BUILD CIRCLECI TRAVIS TEAMCITY_VERSION BITBUCKET_BUILD_NUMBER

run_ci --provider auto
assert_eq "$CI_RC" 1 "exit code with a failing test ($(ci_out))"
BASIC="Basic $(printf 'ci:%s' "$TOKEN" | base64 -w0)"
assert_eq "$(reqs '[r["status"] for r in R if r["path"] == "/job/folder/job/app/12/submitDescription"]')" \
	"[503, 429, 200]" "description attempts"
GAP=$(reqs 'round(R[2]["t"] - R[1]["t"], 2)')
python3 -c "import sys; sys.exit(0 if 0.9 <= $GAP <= 5 else 1)" || fail "waited $GAP s after Retry-After: 1"
assert_req_count 3 'r["method"] == "POST" and r["headers"]["content-type"] == "application/x-www-form-urlencoded" and r["body"]["description"].startswith("dtf: 2 tests: 1 passed, 1 failed") and r["headers"].get("authorization") == "'"$BASIC"'"'
assert_req_count 1 'r["method"] == "GET" and r["path"] == "/job/folder/job/app/12/api/json" and r["headers"].get("authorization") == "'"$BASIC"'"'
python3 -c "import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])" "$T/out/results.xml" ||
	fail "results.xml is not XML"
grep -q "$MOCK_URL/job/folder/job/app/12/artifact/" "$T/out/artifacts.json" ||
	fail "no archiveArtifacts URL: $(cat "$T/out/artifacts.json")"
assert_no_secret "$TOKEN"
