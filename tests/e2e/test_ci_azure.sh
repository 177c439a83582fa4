#!/usr/bin/env bash
# dtf ci on Azure Pipelines (detected from TF_BUILD): a test run is created (after a 503 and
# a 429 with Retry-After, retried), its results added and the run completed (api-version
# 7.1), the artifact attached, the PR thread posted then its comment edited by a re-run, the
# step result set with ##vso[task.complete]; Bearer auth; the token is never printed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ci_lib.sh"

TOKEN=azSystemAccessToken555
start_mock --fail 'POST:^/Proj/_apis/test/runs$:503' --fail 'POST:^/Proj/_apis/test/runs$:429:1'
make_suite
export TF_BUILD=True SYSTEM_ACCESSTOKEN=$TOKEN SYSTEM_COLLECTIONURI=https://dev.azure.com/org/ \
	SYSTEM_TEAMPROJECT=Proj BUILD_BUILDID=88 BUILD_SOURCEVERSION=feed42 \
	BUILD_SOURCEBRANCHNAME=feature BUILD_REPOSITORY_ID=repo-guid \
	SYSTEM_PULLREQUEST_PULLREQUESTID=11
unset GITHUB_ACTIONS GITLAB_CI AZURE_DEVOPS_TOKEN

run_ci --provider auto
assert_eq "$CI_RC" 1 "exit code with a failing test ($(ci_out))"
AUTH='r["headers"].get("authorization") == "Bearer '$TOKEN'"'
assert_eq "$(reqs '[r["status"] for r in R if r["path"] == "/Proj/_apis/test/runs"]')" "[503, 429, 200]" "test run creation"
GAP=$(reqs 'round(R[2]["t"] - R[1]["t"], 2)')
python3 -c "import sys; sys.exit(0 if 0.9 <= $GAP <= 5 else 1)" || fail "waited $GAP s after Retry-After: 1"
assert_req_count 1 'r["status"] == 200 and r["path"] == "/Proj/_apis/test/runs" and r["query"]["api-version"] == "7.1" and r["body"]["name"] == "dtf" and r["body"]["automated"] is True and r["body"]["build"]["id"] == "88" and '"$AUTH"
assert_req_count 1 'r["method"] == "POST" and r["path"] == "/Proj/_apis/test/Runs/77/results" and r["query"]["api-version"] == "7.1" and sorted([x["testCaseTitle"], x["outcome"], x["state"]] for x in r["body"]) == [["test_bad.sh", "Failed", "Completed"], ["test_ok.sh", "Passed", "Completed"]] and "automatedTestName" in r["body"][0]'
assert_req_count 1 'r["method"] == "PATCH" and r["path"] == "/Proj/_apis/test/runs/77" and r["body"]["state"] == "Completed"'
assert_req_count 1 'r["method"] == "POST" and r["path"] == "/Proj/_apis/test/Runs/77/attachments" and r["body"]["fileName"] == "metrics.txt" and r["body"]["attachmentType"] == "GeneralAttachment" and __import__("base64").b64decode(r["body"]["stream"]).startswith(b"throughput")'
assert_req_count 1 'r["method"] == "POST" and r["path"] == "/Proj/_apis/git/repositories/repo-guid/pullRequests/11/threads" and r["body"]["comments"][0]["parentCommentId"] == 0 and r["body"]["comments"][0]["commentType"] == 1 and "<!-- dtf-ci-report -->" in r["body"]["comments"][0]["content"]'
grep -q '^##vso\[task.complete result=Failed;\]' "$T/ci.out" || fail "no task.complete: $(ci_out)"
grep -q 'https://dev.azure.com/attachments/' "$T/out/artifacts.json" || fail "no artifact URL in artifacts.json"

# A runner's JUnit report gives one result per test case.
add_junit_test
: > "$MOCK_LOG"
run_ci --provider azure
assert_eq "$CI_RC" 1 "exit code of the re-run"
assert_req_count 0 'r["method"] == "POST" and r["path"].endswith("/threads")'
assert_req_count 1 'r["method"] == "POST" and r["path"] == "/Proj/_apis/test/Runs/77/results" and sorted([x["automatedTestName"], x["outcome"], x.get("errorMessage", "")] for x in r["body"]) == [["calc.test_add", "Passed", ""], ["calc.test_div", "Failed", "division by zero"], ["test_bad.sh", "Failed", "exit code 1"], ["test_ok.sh", "Passed", ""]]'
assert_req_count 1 'r["method"] == "PATCH" and r["path"] == "/Proj/_apis/git/repositories/repo-guid/pullRequests/11/threads/1002/comments/1" and "<!-- dtf-ci-report -->" in r["body"]["content"] and '"$AUTH"
assert_no_secret "$TOKEN"
