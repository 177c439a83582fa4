#!/usr/bin/env bash
# dtf ci on CircleCI (detected from CIRCLECI): reports and artifacts are files for
# store_test_results / store_artifacts; with CIRCLE_TOKEN the job is read (GET
# /project/{slug}/job/{n}, after a 503 and a 429 with Retry-After, retried) and stored
# artifacts are found by path (GET /project/{slug}/{n}/artifacts), with the Circle-Token
# header; the token is never printed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ci_lib.sh"

TOKEN=CCIPAT_e2eSecret_123456
start_mock --fail 'GET:^/project/gh/acme/rocket/job/51$:503' \
	--fail 'GET:^/project/gh/acme/rocket/job/51$:429:1'
make_suite
export CIRCLECI=true CIRCLE_TOKEN=$TOKEN CIRCLE_PROJECT_USERNAME=acme CIRCLE_PROJECT_REPONAME=rocket \
	CIRCLE_REPOSITORY_URL=git@github.com:acme/rocket.git CIRCLE_SHA1=beef01 CIRCLE_BRANCH=feature \
	CIRCLE_BUILD_NUM=51 CIRCLE_BUILD_URL=https://circleci.com/gh/acme/rocket/51 \
	CIRCLE_PULL_REQUEST=https://github.com/acme/rocket/pull/8
unset GITHUB_ACTIONS GITLAB_CI TF_BUILD

run_ci --provider auto
assert_eq "$CI_RC" 1 "exit code with a failing test ($(ci_out))"
AUTH='r["headers"].get("circle-token") == "'$TOKEN'"'
assert_eq "$(reqs '[r["status"] for r in R if r["path"] == "/project/gh/acme/rocket/job/51"]')" "[503, 429, 200]" "job reads"
GAP=$(reqs 'round(R[-1]["t"] - R[-2]["t"], 2)')
python3 -c "import sys; sys.exit(0 if 0.9 <= $GAP <= 5 else 1)" || fail "waited $GAP s after Retry-After: 1"
assert_req_count 1 'r["method"] == "GET" and r["path"] == "/project/gh/acme/rocket/51/artifacts" and '"$AUTH"
assert_req_count 4 "$AUTH"
grep -q 'https://output.circle-artifacts.com/0/metrics.txt' "$T/out/artifacts.json" ||
	fail "the stored artifact's URL is missing: $(cat "$T/out/artifacts.json")"
[ -f "$T/out/results.xml" ] || fail "no JUnit file for store_test_results"
assert_no_secret "$TOKEN"
