#!/usr/bin/env bash
# dtf notify test against a fake Teams Workflows webhook: an Adaptive Card 1.4 in the message
# envelope (title in a container styled by severity, text, facts, the failed tests, a link),
# the legacy MessageCard with format: message_card, a custom card template, a list of 2,000
# failed tests cut under Teams' 28 KB, and the error answers (401, 404, 410, 413, 429 with
# Retry-After, 5xx, a slow answer, an oversized answer) with the secret URL never printed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify_lib.sh"

HOOK=/workflows/e2eSecretWorkflowSig/triggers/manual/paths/invoke
start_fake
export TEAMS_URL="$FAKE_URL$HOOK?api-version=2016-06-01&sig=e2eSecretSig"
cat > "$T/dtf.yaml" <<YAML
integrations:
  teams:
    type: teams
    url_env: TEAMS_URL
    timeout_s: 2
    max_answer_bytes: 2048
  legacy:
    type: teams
    url_env: TEAMS_URL
    format: message_card
  bad:
    type: teams
    url_env: TEAMS_URL
    format: hero_card
YAML

notify --channel teams
[ "$NOTIFY_RC" = 0 ] || fail "send failed: $NOTIFY_OUT"
assert_contains "$NOTIFY_OUT" "status: 202" "Workflows' 202"
assert_req_count 1 'r["method"] == "POST" and r["path"] == "'$HOOK'" and r["query"] == {"api-version": "2016-06-01", "sig": "e2eSecretSig"} and r["headers"]["content-type"] == "application/json; charset=utf-8" and "authorization" not in r["headers"]'
B='R[0]["body"]'
assert_eq "$(reqs "[$B[\"type\"], len($B[\"attachments\"]), $B[\"attachments\"][0][\"contentType\"], $B[\"attachments\"][0][\"contentUrl\"]]")" '["message", 1, "application/vnd.microsoft.card.adaptive", null]' "envelope"
C="$B[\"attachments\"][0][\"content\"]"
assert_eq "$(reqs "[$C[\"type\"], $C[\"version\"], $C[\"\$schema\"]]")" '["AdaptiveCard", "1.4", "http://adaptivecards.io/schemas/adaptive-card.json"]' "card header"
assert_eq "$(reqs "[$C[\"body\"][0][\"type\"], $C[\"body\"][0][\"style\"], $C[\"body\"][0][\"items\"][0][\"text\"], $C[\"body\"][0][\"items\"][0][\"color\"]]")" '["Container", "attention", "Run nightly-2026-12-06 failed: 37 of 412 tests failed", "Attention"]' "title container"
assert_eq "$(reqs "[(f[\"title\"], f[\"value\"]) for f in $C[\"body\"][2][\"facts\"]]")" '[["Total", "412"], ["Passed", "370"], ["Failed", "37"], ["Skipped", "5"], ["Duration", "812.4 s"], ["Run", "nightly-2026-12-06"]]' "facts"
LIST=$(reqs "$C[\"body\"][3][\"text\"]")
assert_contains "$LIST" '- **checkout/test_payment.py::test_card_declined**: AssertionError: expected status 200, got 502 ("upstream <gateway> timed out" after 2.5 s)' "first test"
assert_contains "$LIST" "_and 27 more_" "the rest counted"
assert_eq "$(reqs "$C[\"actions\"]")" '[{"type": "Action.OpenUrl", "title": "Open run", "url": "https://dtf.example.com/runs/r-sample-0001"}]' "action"

# A passing run is "good"; the legacy MessageCard.
fake_reset
notify --channel legacy --event run_started
[ "$NOTIFY_RC" = 0 ] || fail "message card send failed: $NOTIFY_OUT"
assert_eq "$(reqs '[R[0]["body"]["@type"], R[0]["body"]["@context"], R[0]["body"]["themeColor"], R[0]["body"]["title"]]')" '["MessageCard", "https://schema.org/extensions", "2DC72D", "Run nightly-2026-12-06 started: 412 tests"]' "MessageCard"
assert_eq "$(reqs '[(f["name"], f["value"]) for f in R[0]["body"]["sections"][0]["facts"]][:3]')" '[["Total", "412"], ["Passed", "0"], ["Failed", "0"]]' "MessageCard facts"

# 2,000 failed tests with long errors: cut under 28 KB, never refused.
fake_reset
notify --channel teams --listed 2000
[ "$NOTIFY_RC" = 0 ] || fail "a long list failed: $NOTIFY_OUT"
SIZE=$(reqs 'len(R[0]["raw"].encode())')
[ "$SIZE" -le 28000 ] || fail "the message is $SIZE bytes"
[ "$SIZE" -ge 20000 ] || fail "the list was cut more than needed: $SIZE bytes"
assert_contains "$(reqs "$C[\"body\"][3][\"text\"]")" "more_" "the cut list counts the rest"

# A custom template is the card's content (a JSON document, values escaped as JSON strings).
cat > "$T/card.tpl" <<'TPL'
{"type": "AdaptiveCard", "version": "1.4", "body": [
  {"type": "TextBlock", "text": "{{title}}"},
  {{#tests}}{"type": "TextBlock", "text": "{{name}}: {{error}}"},{{/tests}}
  {"type": "TextBlock", "text": "and {{more}} more"}]}
TPL
fake_reset
notify --channel teams --template "$T/card.tpl"
[ "$NOTIFY_RC" = 0 ] || fail "templated send failed: $NOTIFY_OUT"
assert_eq "$(reqs "len($C[\"body\"])")" 12 "templated card blocks"
assert_eq "$(reqs "$C[\"body\"][1][\"text\"]")" 'checkout/test_payment.py::test_card_declined: AssertionError: expected status 200, got 502 ("upstream <gateway> timed out" after 2.5 s)' "JSON-escaped value"
echo '{"type": "AdaptiveCard", {{title}}' > "$T/broken.tpl"
notify --channel teams --template "$T/broken.tpl"
expect_failure 0 false
assert_contains "$NOTIFY_OUT" "did not render a JSON object" "broken template"

# Error answers.
for st in 401 404 410 413; do
	fake_script '[{"target": "^/workflows/", "status": '$st', "body": {"error": {"code": "X", "message": "echo sig=e2eSecretSig"}}}]'
	notify --channel teams
	expect_failure $st false 0
done
fake_script '[{"target": "^/workflows/", "status": 429, "headers": {"Retry-After": "12"}}]'
notify --channel teams
expect_failure 429 true 12000
fake_script '[{"target": "^/workflows/", "status": 502}]'
notify --channel teams
expect_failure 502 true
fake_script '[{"target": "^/workflows/", "delay_s": 5}]'
notify --channel teams
expect_failure 0 true
[ "$NOTIFY_MS" -lt $((4500 * SCALE)) ] || fail "a 2 s timeout took $NOTIFY_MS ms"
fake_script '[{"target": "^/workflows/", "status": 202, "size": 50000}]'
notify --channel teams
expect_failure 0 false
assert_contains "$NOTIFY_OUT" "larger than 2048 bytes" "oversized answer"
assert_no_secret "e2eSecretSig"
assert_no_secret "e2eSecretWorkflowSig"

notify --channel bad
[ "$NOTIFY_RC" = 1 ] || fail "a bad format was accepted"
assert_contains "$NOTIFY_OUT" "integrations.bad.format: must be adaptive_card or message_card" "bad format"
log "ok"
