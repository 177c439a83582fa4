#!/usr/bin/env bash
# dtf ci on Bitbucket Pipelines (detected from BITBUCKET_BUILD_NUMBER): the commit build
# status (after a 503 and a 429 with Retry-After, retried), the Code Insights test report with
# an annotation for the failure, the PR comment posted then edited in place by a re-run;
# Bearer auth; the token is never printed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ci_lib.sh"

TOKEN=bbRepoAccessToken777
B=/repositories/team/app/commit/0a1b2c
start_mock --fail "POST:^$B/statuses/build\$:503" --fail "POST:^$B/statuses/build\$:429:1"
make_suite
export BITBUCKET_BUILD_NUMBER=21 BITBUCKET_TOKEN=$TOKEN BITBUCKET_REPO_FULL_NAME=team/app \
	BITBUCKET_COMMIT=0a1b2c BITBUCKET_BRANCH=feature BITBUCKET_PR_ID=3 \
	BITBUCKET_GIT_HTTP_ORIGIN=http://bitbucket.org/team/app
unset GITHUB_ACTIONS GITLAB_CI TF_BUILD CIRCLECI TRAVIS TEAMCITY_VERSION

run_ci --provider auto
assert_eq "$CI_RC" 1 "exit code with a failing test ($(ci_out))"
AUTH='r["headers"].get("authorization") == "Bearer '$TOKEN'"'
assert_eq "$(reqs '[(r["status"], r["body"]["state"]) for r in R if r["path"] == "'$B'/statuses/build"]')" \
	'[[503, "INPROGRESS"], [429, "INPROGRESS"], [200, "INPROGRESS"], [200, "FAILED"]]' "build statuses"
GAP=$(reqs 'round(R[2]["t"] - R[1]["t"], 2)')
python3 -c "import sys; sys.exit(0 if 0.9 <= $GAP <= 5 else 1)" || fail "waited $GAP s after Retry-After: 1"
assert_req_count 4 'r["path"] == "'$B'/statuses/build" and r["body"]["key"] == "dtf" and r["body"]["url"] == "http://bitbucket.org/team/app/pipelines/results/21" and r["body"]["name"] == "dtf" and '"$AUTH"
assert_req_count 1 'r["method"] == "PUT" and r["path"] == "'$B'/reports/dtf-tests" and r["body"]["report_type"] == "TEST" and r["body"]["result"] == "FAILED" and r["body"]["title"] and [d["title"] for d in r["body"]["data"]] == ["Total", "Passed", "Failed", "Duration"]'
assert_req_count 1 'r["method"] == "POST" and r["path"] == "'$B'/reports/dtf-tests/annotations" and [[a["path"], a["annotation_type"], a["summary"]] for a in r["body"]] == [["suite/test_bad.sh", "BUG", "test_bad.sh"]] and all(a["external_id"] for a in r["body"])'
assert_req_count 1 'r["method"] == "POST" and r["path"] == "/repositories/team/app/pullrequests/3/comments" and "<!-- dtf-ci-report -->" in r["body"]["content"]["raw"]'

add_junit_test
: > "$MOCK_LOG"
run_ci --provider bitbucket
assert_eq "$CI_RC" 1 "exit code of the re-run"
assert_req_count 0 'r["method"] == "POST" and r["path"].endswith("/comments")'
# The report is deleted (with its annotations) before it is written again; a JUnit report
# gives one annotation per failed case.
assert_eq "$(reqs '[r["method"] for r in R if r["path"] == "'$B'/reports/dtf-tests"]')" '["DELETE", "PUT", "GET"]' "report replacement, then the read-back"
assert_req_count 1 'r["method"] == "POST" and r["path"] == "'$B'/reports/dtf-tests/annotations" and sorted([a["summary"], a["details"]] for a in r["body"]) == [["test_bad.sh", "exit code 1"], ["test_cases.sh: test_div", "division by zero"]] and len(set(a["external_id"] for a in r["body"])) == 2'
assert_req_count 1 'r["method"] == "PUT" and r["path"] == "/repositories/team/app/pullrequests/3/comments/1001" and "<!-- dtf-ci-report -->" in r["body"]["content"]["raw"] and '"$AUTH"
assert_no_secret "$TOKEN"
