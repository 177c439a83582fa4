#!/usr/bin/env bash
# dtf notify test against a fake JIRA. Cloud (REST v3, basic auth email:API token): for each
# failing test (at most max_issues) POST /rest/api/3/search/jql by the test's fingerprint label,
# then create a Bug with an ADF description and the labels, or comment on the open issue found;
# a test that passes again gets a comment and the "Done" transition looked up by name. Data
# Center (REST v2, bearer PAT): /rest/api/2/search and a plain-text description. Error answers:
# 410 from a retired search endpoint, 401, 404, 429 with Retry-After, 5xx, a slow answer, an
# oversized answer; the token never printed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify_lib.sh"

TOKEN=e2eJiraApiToken0123
start_fake
export JIRA_TOKEN=$TOKEN
cat > "$T/dtf.yaml" <<YAML
integrations:
  jira:
    type: jira
    flavor: cloud
    base_url: $FAKE_URL
    email: bot@example.com
    token_env: JIRA_TOKEN
    project: QA
    issue_type: Bug
    done_status: Done
    labels: [dtf, flaky-watch]
    max_issues: 2
    timeout_s: 2
    max_answer_bytes: 4096
  dc:
    type: jira
    flavor: datacenter
    base_url: $FAKE_URL
    token_env: JIRA_TOKEN
    project: OPS
    issue_type: Task
    done_status: Closed
    max_issues: 1
  noemail:
    type: jira
    base_url: $FAKE_URL
    token_env: JIRA_TOKEN
    project: QA
YAML
# The fingerprint, computed as docs/integrations.md says.
fp() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import sys
h = 1469598103934665603
for part in sys.argv[1:3]:
    for b in part.encode() + b"\xff":
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
print("dtf-%016x" % h)
PY
}
FP1=$(fp shop checkout/test_payment.py::test_card_declined)
FP2=$(fp shop checkout/test_payment.py::test_refund_partial)
BASIC="Basic $(printf 'bot@example.com:%s' "$TOKEN" | base64 -w0)"

notify --channel jira --event task_failed
[ "$NOTIFY_RC" = 0 ] || fail "send failed: $NOTIFY_OUT"
assert_contains "$NOTIFY_OUT" "answer: created QA-1; created QA-2" "answer"
assert_eq "$(reqs '[(r["method"], r["path"]) for r in R]')" '[["POST", "/rest/api/3/search/jql"], ["POST", "/rest/api/3/issue"], ["POST", "/rest/api/3/search/jql"], ["POST", "/rest/api/3/issue"]]' "requests"
assert_req_count 4 'r["headers"]["authorization"] == "'"$BASIC"'" and r["headers"]["content-type"] == "application/json; charset=utf-8" and r["headers"]["accept"] == "application/json" and r["raw_query"] == ""'
assert_eq "$(reqs 'R[0]["body"]')" '{"jql": "project = \"QA\" AND labels = \"'$FP1'\" AND statusCategory != Done ORDER BY created DESC", "fields": ["key", "status"], "maxResults": 1}' "search body"
F='R[1]["body"]["fields"]'
assert_eq "$(reqs "[$F[\"project\"], $F[\"issuetype\"], $F[\"summary\"], $F[\"labels\"]]")" '[{"key": "QA"}, {"name": "Bug"}, "[dtf] checkout/test_payment.py::test_card_declined fails", ["dtf", "flaky-watch", "'$FP1'"]]' "create fields"
assert_eq "$(reqs "[$F[\"description\"][\"type\"], $F[\"description\"][\"version\"], [c[\"type\"] for c in $F[\"description\"][\"content\"]]]")" '["doc", 1, ["paragraph", "paragraph", "codeBlock"]]' "ADF structure"
assert_eq "$(reqs "$F[\"description\"][\"content\"][0][\"content\"][1]")" '{"type": "text", "text": "checkout/test_payment.py::test_card_declined", "marks": [{"type": "code"}]}' "ADF test name"
assert_eq "$(reqs "$F[\"description\"][\"content\"][0][\"content\"][5][\"marks\"]")" '[{"type": "link", "attrs": {"href": "https://dtf.example.com/runs/r-sample-0001"}}]' "ADF run link"
assert_contains "$(reqs "$F[\"description\"][\"content\"][2][\"content\"][0][\"text\"]")" 'AssertionError: expected status 200, got 502 ("upstream <gateway>' "ADF error"
assert_eq "$(reqs 'R[2]["body"]["jql"]')" 'project = "QA" AND labels = "'$FP2'" AND statusCategory != Done ORDER BY created DESC' "second search"

# An open issue is found: a comment instead of a new issue.
fake_reset
fake_script '[{"target": "search/jql$", "body": {"issues": [{"id": "10007", "key": "QA-7"}], "isLast": true}}]'
notify --channel jira --event task_failed
[ "$NOTIFY_RC" = 0 ] || fail "send failed: $NOTIFY_OUT"
assert_contains "$NOTIFY_OUT" "answer: commented QA-7; created QA-3" "answer"
assert_req_count 1 'r["method"] == "POST" and r["path"] == "/rest/api/3/issue/QA-7/comment" and r["body"]["body"]["type"] == "doc" and r["body"]["body"]["content"][0]["content"][3]["text"] == "failed again"'

# The test passes again: comment, then the transition named done_status.
fake_reset
fake_script '[{"target": "search/jql$", "body": {"issues": [{"id": "10007", "key": "QA-7"}]}}]'
notify --channel jira --event test_passed
[ "$NOTIFY_RC" = 0 ] || fail "send failed: $NOTIFY_OUT"
assert_contains "$NOTIFY_OUT" "answer: commented and closed QA-7" "answer"
assert_eq "$(reqs '[(r["method"], r["path"]) for r in R]')" '[["POST", "/rest/api/3/search/jql"], ["POST", "/rest/api/3/issue/QA-7/comment"], ["GET", "/rest/api/3/issue/QA-7/transitions"], ["POST", "/rest/api/3/issue/QA-7/transitions"]]' "requests"
assert_eq "$(reqs 'R[3]["body"]')" '{"transition": {"id": "31"}}' "transition body"
assert_eq "$(reqs 'R[1]["body"]["body"]["content"][0]["content"][3]["text"]')" "passes again" "comment text"
# No open issue: nothing to close.
fake_reset
notify --channel jira --event test_passed
[ "$NOTIFY_RC" = 0 ] || fail "send failed: $NOTIFY_OUT"
assert_contains "$NOTIFY_OUT" "answer: no open issue for $FP1" "answer"
assert_req_count 1 'True'
# Other events are not JIRA's.
fake_reset
notify --channel jira --event run_completed
assert_contains "$NOTIFY_OUT" "nothing to do for run_completed" "other events"
assert_req_count 0 'True'

# Data Center: v2, bearer PAT, a text description.
fake_reset
notify --channel dc --event task_failed
[ "$NOTIFY_RC" = 0 ] || fail "DC send failed: $NOTIFY_OUT"
assert_eq "$(reqs '[(r["method"], r["path"]) for r in R]')" '[["POST", "/rest/api/2/search"], ["POST", "/rest/api/2/issue"]]' "DC requests"
assert_req_count 2 'r["headers"]["authorization"] == "Bearer '$TOKEN'"'
assert_eq "$(reqs 'R[1]["body"]["fields"]["issuetype"]')" '{"name": "Task"}' "DC issue type"
assert_contains "$(reqs 'R[1]["body"]["fields"]["description"]')" "Test checkout/test_payment.py::test_card_declined fails in run nightly-2026-12-06 (https://dtf.example.com/runs/r-sample-0001).
Worker: w-linux-01

{noformat}
AssertionError" "DC description"

# Error answers.
fake_script '[{"target": "search/jql$", "status": 410, "body": {"errorMessages": ["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."]}}]'
notify --channel jira --event task_failed
expect_failure 410 false 0
assert_contains "$NOTIFY_OUT" "gone (the endpoint was retired or removed)" "410 wording"
for st in 401 404; do
	fake_script '[{"target": "search/jql$", "status": '$st', "body": {"errorMessages": ["no"]}}]'
	notify --channel jira --event task_failed
	expect_failure $st false 0
done
fake_script '[{"target": "/rest/api/3/issue$", "status": 429, "headers": {"Retry-After": "4"}}]'
notify --channel jira --event task_failed
expect_failure 429 true 4000
fake_script '[{"target": "/rest/api/3/issue$", "status": 503}]'
notify --channel jira --event task_failed
expect_failure 503 true
fake_script '[{"target": "search/jql$", "delay_s": 5}]'
notify --channel jira --event task_failed
expect_failure 0 true
[ "$NOTIFY_MS" -lt $((4500 * SCALE)) ] || fail "a 2 s timeout took $NOTIFY_MS ms"
fake_script '[{"target": "search/jql$", "size": 10000}]'
notify --channel jira --event task_failed
expect_failure 0 false
assert_contains "$NOTIFY_OUT" "larger than 4096 bytes" "oversized answer"
assert_no_secret "$TOKEN"
assert_no_secret "$(printf 'bot@example.com:%s' "$TOKEN" | base64 -w0)"

notify --channel noemail
assert_contains "$NOTIFY_OUT" "integrations.noemail.email: missing" "cloud without email"
log "ok"
