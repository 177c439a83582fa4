#!/usr/bin/env bash
# dtf ci on GitHub Actions (detected from GITHUB_ACTIONS): the check run is created (after a
# 503 and a 429 with Retry-After, each retried) and completed with annotations, the commit
# status set, the PR comment posted and, on a re-run, edited in place; `::error` workflow
# commands and the job summary are written; retries are bounded and the token never printed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ci_lib.sh"

TOKEN=ghs_e2eSecretToken1234
start_mock --fail 'POST:^/repos/octo/hello/check-runs$:503' \
	--fail 'POST:^/repos/octo/hello/check-runs$:429:1'
make_suite
export GITHUB_ACTIONS=true GITHUB_TOKEN=$TOKEN GITHUB_REPOSITORY=octo/hello GITHUB_SHA=abc123 \
	GITHUB_REF=refs/pull/7/merge GITHUB_HEAD_REF=feature GITHUB_RUN_ID=99 \
	GITHUB_SERVER_URL=https://github.example GITHUB_STEP_SUMMARY="$T/summary.md"
unset GITHUB_EVENT_PATH GITHUB_API_URL

run_ci --provider auto
assert_eq "$CI_RC" 1 "exit code with a failing test ($(ci_out))"
AUTH='r["headers"].get("authorization") == "Bearer '$TOKEN'"'
GH='r["headers"].get("accept") == "application/vnd.github+json" and r["headers"].get("x-github-api-version") == "2022-11-28"'

# The check run: 503, then 429 (Retry-After: 1, honoured), then created.
assert_eq "$(reqs '[r["status"] for r in R if r["method"] == "POST" and r["path"] == "/repos/octo/hello/check-runs"]')" \
	"[503, 429, 201]" "check-run creation attempts"
assert_req_count 3 'r["path"] == "/repos/octo/hello/check-runs" and '"$AUTH and $GH"
assert_req_count 1 'r["method"] == "POST" and r["status"] == 201 and r["path"].endswith("/check-runs") and r["body"]["name"] == "dtf" and r["body"]["head_sha"] == "abc123" and r["body"]["status"] == "in_progress" and r["body"]["details_url"] == "https://github.example/octo/hello/actions/runs/99"'
GAP=$(reqs 'round([r["t"] for r in R if r["path"].endswith("/check-runs")][2] - [r["t"] for r in R if r["path"].endswith("/check-runs")][1], 2)')
python3 -c "import sys; sys.exit(0 if 0.9 <= $GAP <= 5 else 1)" || fail "waited $GAP s after Retry-After: 1"

# Completed with the conclusion, the Markdown summary and an annotation for the failure.
assert_req_count 1 'r["method"] == "PATCH" and r["path"] == "/repos/octo/hello/check-runs/4242" and r["body"]["status"] == "completed" and r["body"]["conclusion"] == "failure" and "completed_at" in r["body"] and "bad.sh" in r["body"]["output"]["summary"] and [a["path"] for a in r["body"]["output"]["annotations"]] == ["suite/test_bad.sh"] and r["body"]["output"]["annotations"][0]["annotation_level"] == "failure"'
# The commit status and the PR comment.
assert_req_count 1 'r["method"] == "POST" and r["path"] == "/repos/octo/hello/statuses/abc123" and r["body"]["state"] == "failure" and r["body"]["context"] == "dtf" and r["body"]["target_url"].endswith("/runs/99") and '"$AUTH"
assert_req_count 1 'r["method"] == "GET" and r["path"] == "/repos/octo/hello/issues/7/comments"'
assert_req_count 1 'r["method"] == "POST" and r["path"] == "/repos/octo/hello/issues/7/comments" and "<!-- dtf-ci-report -->" in r["body"]["body"] and "bad.sh" in r["body"]["body"]'
# Workflow commands and the job summary.
grep -q '^::error file=suite/test_bad.sh,line=1,title=test_bad.sh::exit code 1' "$T/ci.out" ||
	fail "no ::error annotation: $(ci_out)"
grep -q 'bad.sh' "$T/summary.md" || fail "the job summary lacks the failure"
[ -f "$T/out/results.xml" ] && [ -f "$T/out/results.json" ] || fail "reports missing"
grep -q 'throughput' "$T/out/artifacts/test_ok.sh/metrics.txt" || fail "artifact not collected"

# A re-run edits our comment instead of adding one; a 429 asking for an hour waits at most
# DTF_CI_MAX_RETRY_WAIT; a status that keeps failing is retried 3 times, then reported.
CID=$(reqs '[r for r in R if r["method"] == "POST" and r["path"].endswith("/issues/7/comments")][0]["path"] and 1001')
mock_fail 'PATCH:^/repos/octo/hello/check-runs/4242$:429:3600' \
	'POST:^/repos/octo/hello/statuses/:500' 'POST:^/repos/octo/hello/statuses/:502' \
	'POST:^/repos/octo/hello/statuses/:503' 'POST:^/repos/octo/hello/statuses/:500'
: > "$MOCK_LOG"
DTF_CI_MAX_RETRY_WAIT=1 run_ci --provider github
assert_eq "$CI_RC" 1 "exit code of the re-run ($(ci_out))"
[ "$CI_MS" -lt 15000 ] || fail "the capped Retry-After took $CI_MS ms"
assert_req_count 0 'r["method"] == "POST" and r["path"] == "/repos/octo/hello/issues/7/comments"'
assert_req_count 1 'r["method"] == "PATCH" and r["path"] == "/repos/octo/hello/issues/comments/'"$CID"'" and "<!-- dtf-ci-report -->" in r["body"]["body"]'
assert_req_count 4 'r["method"] == "POST" and r["path"] == "/repos/octo/hello/statuses/abc123"'
assert_contains "$(ci_out)" "warning: set_build_status" "the reported status failure"
assert_contains "$(ci_out)" "simulated failure for Bearer ***" "the masked echo of the token"
assert_no_secret "$TOKEN"

# A token that may not create check runs (a personal token): reported through the status.
# A runner's JUnit report gives one annotation per failed test case.
add_junit_test
mock_fail 'POST:^/repos/octo/hello/check-runs$:403'
: > "$MOCK_LOG"
run_ci --provider github
assert_eq "$CI_RC" 1 "exit code without check runs ($(ci_out))"
assert_req_count 0 'r["path"].startswith("/repos/octo/hello/check-runs/")'
assert_req_count 1 'r["method"] == "POST" and r["path"] == "/repos/octo/hello/statuses/abc123" and r["body"]["state"] == "failure"'
assert_contains "$(ci_out)" "cannot create check runs" "the note"
assert_contains "$(ci_out)" "::error file=suite/test_cases.sh,line=1,title=test_cases.sh%3A test_div::division by zero" "the test case's annotation"
assert_no_secret "$TOKEN"
