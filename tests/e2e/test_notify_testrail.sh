#!/usr/bin/env bash
# dtf notify test against a fake TestRail (API v2, index.php?/api/v2/…, basic auth user:API key):
# run_started adds the run (include_all false, the mapped case ids from the tests' testrail
# markers and the case_map file); results go in with add_results_for_cases in batches (status
# ids passed 1, blocked 2, retest 4, failed 5) to the run found again by --ref after a restart;
# run_completed closes it; match_titles reads get_cases following _links.next; error answers
# (401, 404, 410, 429 with Retry-After, 5xx, a slow answer, an oversized answer).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify_lib.sh"

KEY=e2eTestRailApiKey55
start_fake
export TESTRAIL_KEY=$KEY
cat > "$T/cases.yaml" <<'YAML'
"checkout/test_payment.py::test_card_declined": C1001
"other/test_x.py::test_y": C3001
"other/test_x.py::test_z": 3002
YAML
cat > "$T/dtf.yaml" <<YAML
integrations:
  tr:
    type: testrail
    base_url: $FAKE_URL
    username: qa-bot@example.com
    token_env: TESTRAIL_KEY
    project_id: 1
    suite_id: 3
    case_map: $T/cases.yaml
    batch_size: 4
    timeout_s: 2
    max_answer_bytes: 4096
  titles:
    type: testrail
    base_url: $FAKE_URL
    username: qa-bot@example.com
    token_env: TESTRAIL_KEY
    project_id: 1
    suite_id: 3
    match_titles: true
  badmap:
    type: testrail
    base_url: $FAKE_URL
    username: qa-bot@example.com
    token_env: TESTRAIL_KEY
    project_id: 1
    case_map: $T/missing.yaml
YAML
BASIC="Basic $(printf 'qa-bot@example.com:%s' "$KEY" | base64 -w0)"

notify --channel tr --event run_started
[ "$NOTIFY_RC" = 0 ] || fail "send failed: $NOTIFY_OUT"
assert_contains "$NOTIFY_OUT" "ref: 77" "the ref"
assert_req_count 1 'r["method"] == "POST" and r["path"] == "/index.php" and r["raw_query"] == "/api/v2/add_run/1" and r["headers"]["authorization"] == "'"$BASIC"'" and r["headers"]["content-type"] == "application/json; charset=utf-8"'
assert_eq "$(reqs 'R[0]["body"]')" '{"name": "nightly-2026-12-06", "include_all": false, "case_ids": [1001, 3001, 3002], "suite_id": 3, "description": "https://dtf.example.com/runs/r-sample-0001"}' "add_run body"

# After a restart, the ref finds the run: results in batches of 4, no new run.
fake_reset
notify --channel tr --event run_failed --ref 77
[ "$NOTIFY_RC" = 0 ] || fail "send failed: $NOTIFY_OUT"
assert_contains "$NOTIFY_OUT" "answer: run 77: 10 results added, 0 tests unmapped" "answer"
assert_eq "$(reqs '[(r["method"], r["raw_query"], len(r["body"]["results"])) for r in R]')" '[["POST", "/api/v2/add_results_for_cases/77", 4], ["POST", "/api/v2/add_results_for_cases/77", 4], ["POST", "/api/v2/add_results_for_cases/77", 2]]' "batches"
assert_eq "$(reqs '{k: R[0]["body"]["results"][0][k] for k in ("case_id", "status_id", "elapsed")}')" '{"case_id": 1001, "status_id": 5, "elapsed": "2s"}' "a result"
assert_contains "$(reqs 'R[0]["body"]["results"][0]["comment"]')" "AssertionError: expected status 200" "result comment"
# A passing test is status 1; run_completed closes the run.
fake_reset
notify --channel tr --event test_passed --ref 77
assert_eq "$(reqs '[r["body"]["results"][0]["status_id"] for r in R]')" '[1]' "passed status"
fake_reset
notify --channel tr --event run_completed --ref 77
[ "$NOTIFY_RC" = 0 ] || fail "send failed: $NOTIFY_OUT"
assert_eq "$(reqs '[r["raw_query"] for r in R]')" '["/api/v2/add_results_for_cases/77", "/api/v2/add_results_for_cases/77", "/api/v2/add_results_for_cases/77", "/api/v2/close_run/77"]' "results then close"
assert_contains "$NOTIFY_OUT" ", closed" "answer"
# Without a ref (a run the channel has not seen) the run is added first, with the tests' cases.
fake_reset
notify --channel tr --event run_failed --run-id r-other
assert_eq "$(reqs 'R[0]["raw_query"]')" "/api/v2/add_run/1" "lazy add_run"
assert_eq "$(reqs 'R[0]["body"]["case_ids"]')" '[1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 3001, 3002]' "lazy add_run cases"

# match_titles: get_cases, both pages of the bulk answer.
fake_reset
notify --channel titles --event run_started
[ "$NOTIFY_RC" = 0 ] || fail "send failed: $NOTIFY_OUT"
assert_eq "$(reqs '[(r["method"], r["raw_query"]) for r in R]')" '[["GET", "/api/v2/get_cases/1&suite_id=3"], ["GET", "/api/v2/get_cases/1&suite_id=3&limit=2&offset=2"], ["POST", "/api/v2/add_run/1"]]' "pagination"

# Error answers.
for st in 401 404 410; do
	fake_script '[{"target": "add_results_for_cases", "status": '$st', "body": {"error": "Authentication failed: invalid or missing user/password or session cookie."}}]'
	notify --channel tr --event run_failed --ref 77
	expect_failure $st false 0
done
fake_script '[{"target": "add_results_for_cases", "status": 429, "headers": {"Retry-After": "60"}}]'
notify --channel tr --event run_failed --ref 77
expect_failure 429 true 60000
fake_script '[{"target": "add_run", "status": 500}]'
notify --channel tr --event run_started
expect_failure 500 true
fake_script '[{"target": "add_run", "delay_s": 5}]'
notify --channel tr --event run_started
expect_failure 0 true
[ "$NOTIFY_MS" -lt $((4500 * SCALE)) ] || fail "a 2 s timeout took $NOTIFY_MS ms"
fake_script '[{"target": "add_run", "size": 10000}]'
notify --channel tr --event run_started
expect_failure 0 false
assert_contains "$NOTIFY_OUT" "larger than 4096 bytes" "oversized answer"
assert_no_secret "$KEY"

notify --channel badmap
assert_contains "$NOTIFY_OUT" "integrations.badmap.case_map:" "a missing case map"
log "ok"
