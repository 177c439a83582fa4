#!/usr/bin/env bash
# dtf ci on GitLab CI (detected from GITLAB_CI): the commit status goes running (after a 503
# and a 429 with Retry-After, retried) then failed, with PRIVATE-TOKEN auth; the MR note is
# posted, then edited in place by a re-run; the token is never printed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ci_lib.sh"

TOKEN=glpat-e2eSecretToken99
start_mock --fail 'POST:^/projects/42/statuses/:503' --fail 'POST:^/projects/42/statuses/:429:1'
make_suite
export GITLAB_CI=true GITLAB_TOKEN=$TOKEN CI_PROJECT_ID=42 CI_COMMIT_SHA=def456 \
	CI_COMMIT_REF_NAME=feature CI_MERGE_REQUEST_IID=5 CI_PIPELINE_ID=314 \
	CI_JOB_URL=https://gitlab.example/g/p/-/jobs/9
unset CI_API_V4_URL CI_JOB_TOKEN GITHUB_ACTIONS

run_ci --provider auto
assert_eq "$CI_RC" 1 "exit code with a failing test ($(ci_out))"
AUTH='r["headers"].get("private-token") == "'$TOKEN'"'
assert_eq "$(reqs '[(r["status"], r["body"]["state"]) for r in R if r["method"] == "POST" and r["path"] == "/projects/42/statuses/def456"]')" \
	'[[503, "running"], [429, "running"], [201, "running"], [201, "failed"]]' "status posts"
GAP=$(reqs 'round(R[2]["t"] - R[1]["t"], 2)')
python3 -c "import sys; sys.exit(0 if 0.9 <= $GAP <= 5 else 1)" || fail "waited $GAP s after Retry-After: 1"
assert_req_count 4 'r["path"] == "/projects/42/statuses/def456" and r["body"]["name"] == "dtf" and r["body"]["ref"] == "feature" and r["body"]["pipeline_id"] == 314 and r["body"]["target_url"] == "https://gitlab.example/g/p/-/jobs/9" and '"$AUTH"
assert_req_count 1 'r["method"] == "GET" and r["path"] == "/projects/42/merge_requests/5/notes" and '"$AUTH"
assert_req_count 1 'r["method"] == "POST" and r["path"] == "/projects/42/merge_requests/5/notes" and "<!-- dtf-ci-report -->" in r["body"]["body"] and "bad.sh" in r["body"]["body"]'

: > "$MOCK_LOG"
run_ci --provider gitlab
assert_eq "$CI_RC" 1 "exit code of the re-run"
assert_req_count 0 'r["method"] == "POST" and r["path"].endswith("/notes")'
assert_req_count 1 'r["method"] == "PUT" and r["path"] == "/projects/42/merge_requests/5/notes/1001" and "<!-- dtf-ci-report -->" in r["body"]["body"] and '"$AUTH"
assert_no_secret "$TOKEN"
