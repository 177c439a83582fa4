#!/usr/bin/env bash
# dtf notify test against a fake Slack: chat.postMessage with a bearer token and Block Kit (header,
# counts as fields, the failed tests with "and 27 more"), chat.update of the run's message on the
# second send, the incoming webhook; Slack's {"ok": false} errors, 401/404/410, 429 with
# Retry-After, 5xx, a slow answer past the timeout and an oversized answer, each reported with
# whether a retry makes sense, and the token never printed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify_lib.sh"

TOKEN=xoxb-e2e-secret-token-4242
HOOK_PATH=/services/T000/B000/e2eSecretHookPath
start_fake
export SLACK_BOT_TOKEN=$TOKEN SLACK_HOOK_URL=$FAKE_URL$HOOK_PATH
cat > "$T/dtf.yaml" <<YAML
integrations:
  ops:
    type: slack
    token_env: SLACK_BOT_TOKEN
    channel: "#ci-alerts"
    base_url: $FAKE_URL/api
    timeout_s: 2
    max_answer_bytes: 4096
  hook:
    type: slack_webhook
    url_env: SLACK_HOOK_URL
    timeout_s: 2
  inline:
    type: slack
    token: xoxb-not-here
    channel: "#x"
  nochan:
    type: slack
    token_env: SLACK_BOT_TOKEN
YAML

# A post, then the same run again: the message is updated in place.
notify --channel ops --repeat 2
[ "$NOTIFY_RC" = 0 ] || fail "send failed: $NOTIFY_OUT"
assert_contains "$NOTIFY_OUT" "answer: posted ts=1765000000.000100 channel=C0FAKE123" "first answer"
assert_contains "$NOTIFY_OUT" "answer: updated ts=1765000000.000100 channel=C0FAKE123" "second answer"
assert_contains "$NOTIFY_OUT" "ref: C0FAKE123:1765000000.000100" "the ref"
assert_req_count 2 'r["method"] == "POST" and r["headers"]["authorization"] == "Bearer '$TOKEN'" and r["headers"]["content-type"] == "application/json; charset=utf-8" and r["raw_query"] == ""'
P='[r for r in R if r["path"] == "/api/chat.postMessage"][0]["body"]'
assert_eq "$(reqs "$P[\"channel\"]")" "#ci-alerts" "channel"
assert_eq "$(reqs "[b[\"type\"] for b in $P[\"blocks\"]]")" '["header", "section", "section", "section", "context"]' "block types"
assert_eq "$(reqs "$P[\"blocks\"][0][\"text\"]")" '{"type": "plain_text", "text": ":x: Run nightly-2026-12-06 failed: 37 of 412 tests failed", "emoji": true}' "header"
assert_eq "$(reqs "[f[\"text\"] for f in $P[\"blocks\"][2][\"fields\"]]")" '["*Total*\n412", "*Passed*\n370", "*Failed*\n37", "*Skipped*\n5", "*Duration*\n812.4 s"]' "count fields"
LIST=$(reqs "$P[\"blocks\"][3][\"text\"][\"text\"]")
assert_contains "$LIST" "• *checkout/test_payment.py::test_card_declined*: AssertionError: expected status 200, got 502 (\"upstream &lt;gateway&gt; timed out\" after 2.5 s)" "first test (mrkdwn-escaped)"
assert_contains "$LIST" "inventory/test_sync.py::test_warehouse_timeout" "tenth test"
assert_contains "$LIST" "_and 27 more_" "the rest counted"
assert_eq "$(reqs "$P[\"text\"]")" "Run nightly-2026-12-06 failed: 37 of 412 tests failed" "fallback text"
assert_eq "$(reqs "$P[\"unfurl_links\"]")" "false" "unfurl_links"
assert_contains "$(reqs "$P[\"blocks\"][4][\"elements\"][0][\"text\"]")" "<https://dtf.example.com/runs/r-sample-0001|Open run nightly-2026-12-06>" "context link"
U='[r for r in R if r["path"] == "/api/chat.update"][0]["body"]'
assert_eq "$(reqs "[$U[\"channel\"], $U[\"ts\"], $U[\"blocks\"] == $P[\"blocks\"]]")" '["C0FAKE123", "1765000000.000100", true]' "chat.update body"

# After a restart the outbox passes the ref: the first send updates.
fake_reset
notify --channel ops --ref C0FAKE123:1765000000.000100
[ "$NOTIFY_RC" = 0 ] || fail "update by ref failed: $NOTIFY_OUT"
assert_req_count 1 'r["path"] == "/api/chat.update" and r["body"]["ts"] == "1765000000.000100"'
assert_req_count 0 'r["path"] == "/api/chat.postMessage"'
# A message that is gone is posted anew.
fake_reset
fake_script '[{"target": "chat\\.update", "body": {"ok": false, "error": "message_not_found"}}]'
notify --channel ops --ref C0FAKE123:1765000000.000100
[ "$NOTIFY_RC" = 0 ] || fail "post after message_not_found failed: $NOTIFY_OUT"
assert_eq "$(reqs '[r["path"] for r in R]')" '["/api/chat.update", "/api/chat.postMessage"]' "update then post"

# 400 failed tests with long errors: every block within Slack's limits, the rest counted.
fake_reset
notify --channel ops --listed 400 --run-id r-long
[ "$NOTIFY_RC" = 0 ] || fail "a long list failed: $NOTIFY_OUT"
assert_eq "$(reqs "[len(b[\"text\"][\"text\"]) <= (150 if b[\"type\"] == \"header\" else 3000) for b in $P[\"blocks\"] if \"text\" in b]")" '[true, true, true]' "block text limits"
assert_contains "$(reqs "$P[\"blocks\"][3][\"text\"][\"text\"]")" " more_" "the cut list counts the rest"
[ "$(reqs "len($P[\"blocks\"][3][\"text\"][\"text\"])")" -ge 2000 ] || fail "the list was cut more than needed"

# A custom template replaces the test list.

printf '{{#tests}}\n> {{name}}\n{{/tests}}\n{{#more}}\n…and {{more}} more\n{{/more}}\n' > "$T/list.tpl"
fake_reset
notify --channel ops --template "$T/list.tpl"
[ "$NOTIFY_RC" = 0 ] || fail "templated send failed: $NOTIFY_OUT"
assert_contains "$(reqs "$P[\"blocks\"][2][\"text\"][\"text\"]")" "> checkout/test_payment.py::test_card_declined" "templated list"
assert_contains "$(reqs "$P[\"text\"]")" "…and 27 more" "templated fallback text"

# Slack's errors come as HTTP 200 {"ok": false}.
fake_reset
fake_script '[{"target": "postMessage", "body": {"ok": false, "error": "invalid_auth"}}]'
notify --channel ops
expect_failure 200 false 0
assert_contains "$NOTIFY_OUT" 'Slack answered error "invalid_auth"' "invalid_auth"
fake_script '[{"target": "postMessage", "body": {"ok": false, "error": "channel_not_found"}}]'
notify --channel ops
expect_failure 200 false 0
fake_script '[{"target": "postMessage", "status": 429, "headers": {"Retry-After": "30"}, "body": {"ok": false, "error": "ratelimited"}}]'
notify --channel ops
expect_failure 429 true 30000
fake_script '[{"target": "postMessage", "body": {"ok": false, "error": "ratelimited"}, "headers": {"Retry-After": "7"}}]'
notify --channel ops
expect_failure 200 true 7000
for st in 401 404 410; do
	fake_script '[{"target": "postMessage", "status": '$st', "body": "echo: Bearer '$TOKEN'"}]'
	notify --channel ops
	expect_failure $st false 0
done
assert_contains "$NOTIFY_OUT" "gone (the endpoint was retired or removed)" "410 wording"
fake_script '[{"target": "postMessage", "status": 503, "body": "upstream down"}]'
notify --channel ops
expect_failure 503 true
fake_script '[{"target": "postMessage", "delay_s": 6, "body": {"ok": true, "ts": "1", "channel": "C"}}]'
notify --channel ops
expect_failure 0 true
[ "$NOTIFY_MS" -lt $((5000 * SCALE)) ] || fail "a 2 s timeout took $NOTIFY_MS ms"
assert_contains "$NOTIFY_OUT" "no answer within 2 s" "timeout wording"
fake_script '[{"target": "postMessage", "size": 100000}]'
notify --channel ops
expect_failure 0 false
assert_contains "$NOTIFY_OUT" "the answer is larger than 4096 bytes" "oversized answer"
assert_no_secret "$TOKEN"

# The incoming webhook: plain JSON {text, blocks} to the secret URL.
fake_reset
notify --channel hook
[ "$NOTIFY_RC" = 0 ] || fail "webhook send failed: $NOTIFY_OUT"
assert_contains "$NOTIFY_OUT" "answer: ok" "webhook answer"
assert_req_count 1 'r["method"] == "POST" and r["path"] == "'$HOOK_PATH'" and r["headers"]["content-type"] == "application/json; charset=utf-8" and sorted(r["body"]) == ["blocks", "text"] and "authorization" not in r["headers"]'
fake_script '[{"target": "^/services/", "status": 410, "body": "channel_is_archived"}]'
notify --channel hook
expect_failure 410 false 0
assert_contains "$NOTIFY_OUT" "channel_is_archived" "webhook error"
assert_no_secret "e2eSecretHookPath"
fake_script '[{"target": "^/services/", "status": 429, "headers": {"Retry-After": "2"}, "body": "rate_limited"}]'
notify --channel hook
expect_failure 429 true 2000

# Configuration errors name the field, never the secret.
notify --channel inline
[ "$NOTIFY_RC" = 1 ] || fail "an inline token was accepted"
assert_contains "$NOTIFY_OUT" "integrations.inline.token: a secret is not written in the configuration" "inline token"
notify --channel nochan
assert_contains "$NOTIFY_OUT" "integrations.nochan.channel: missing" "missing channel"
unset SLACK_BOT_TOKEN
notify --channel ops
assert_contains "$NOTIFY_OUT" "integrations.ops.token_env: the environment variable SLACK_BOT_TOKEN is not set" "unset token"
log "ok"
