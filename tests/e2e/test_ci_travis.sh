#!/usr/bin/env bash
# dtf ci on Travis CI (detected from TRAVIS): reports are files; with TRAVIS_TOKEN the job is
# read with API v3 (GET /job/{id}, `Travis-API-Version: 3`, `Authorization: token …`; after a
# 503 and a 429 with Retry-After, retried); the token is never printed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ci_lib.sh"

TOKEN=travisE2eSecretToken42
start_mock --fail 'GET:^/job/7001$:503' --fail 'GET:^/job/7001$:429:1'
make_suite
export TRAVIS=true TRAVIS_TOKEN=$TOKEN TRAVIS_REPO_SLUG=acme/rocket TRAVIS_COMMIT=0ff1ce \
	TRAVIS_BRANCH=feature TRAVIS_PULL_REQUEST=false TRAVIS_JOB_ID=7001 \
	TRAVIS_JOB_WEB_URL=https://app.travis-ci.com/acme/rocket/jobs/7001
unset GITHUB_ACTIONS GITLAB_CI TF_BUILD CIRCLECI

run_ci --provider auto --verbose
assert_eq "$CI_RC" 1 "exit code with a failing test ($(ci_out))"
assert_eq "$(reqs '[(r["method"], r["path"], r["status"]) for r in R]')" \
	'[["GET", "/job/7001", 503], ["GET", "/job/7001", 429], ["GET", "/job/7001", 200]]' "requests"
assert_req_count 3 'r["headers"].get("travis-api-version") == "3" and r["headers"].get("authorization") == "token '$TOKEN'"'
GAP=$(reqs 'round(R[2]["t"] - R[1]["t"], 2)')
python3 -c "import sys; sys.exit(0 if 0.9 <= $GAP <= 5 else 1)" || fail "waited $GAP s after Retry-After: 1"
assert_contains "$(ci_out)" 'travis reports: {"@type":"job"' "the job read back"
assert_contains "$(ci_out)" "commit '0ff1ce' branch 'feature' pr ''" "the detected environment"
assert_no_secret "$TOKEN"
