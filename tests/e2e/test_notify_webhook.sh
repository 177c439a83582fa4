#!/usr/bin/env bash
# dtf notify test against a fake receiver for the generic webhook: the JSON context POSTed with
# Idempotency-Key (the message key), X-Dtf-Event, a bearer token, extra headers and an
# HMAC-SHA256 signature of the exact body that the receiver can recompute; a rendered template
# instead of the context; PUT; the error answers (401, 404, 410, 429 with Retry-After, 5xx, a
# slow answer, an oversized answer), the secrets never printed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify_lib.sh"

SECRET=e2e-hmac-secret-0f9d
TOKEN=e2e-bearer-token-77aa
start_fake
export HOOK_SECRET=$SECRET HOOK_TOKEN=$TOKEN HOOK_URL="$FAKE_URL/hook/e2eSecretUrlPart"
echo "$SECRET" > "$T/secret.txt"
cat > "$T/dtf.yaml" <<YAML
integrations:
  hook:
    type: webhook
    url: $FAKE_URL/hook/dtf
    secret_file: $T/secret.txt
    token_env: HOOK_TOKEN
    headers:
      X-Team: qa
    timeout_s: 2
    max_answer_bytes: 4096
  secreturl:
    type: webhook
    url_env: HOOK_URL
    method: PUT
    content_type: text/plain; charset=utf-8
  twice:
    type: webhook
    url: $FAKE_URL/hook
    url_env: HOOK_URL
  authhdr:
    type: webhook
    url: $FAKE_URL/hook
    headers:
      Authorization: Bearer inline
YAML

notify --channel hook
[ "$NOTIFY_RC" = 0 ] || fail "send failed: $NOTIFY_OUT"
assert_contains "$NOTIFY_OUT" 'answer: HTTP 200 {"received": true}' "answer"
assert_req_count 1 'r["method"] == "POST" and r["path"] == "/hook/dtf" and r["raw_query"] == "" and r["headers"]["content-type"] == "application/json" and r["headers"]["idempotency-key"] == "r-sample-0001/run_failed/sample" and r["headers"]["x-dtf-event"] == "run_failed" and r["headers"]["authorization"] == "Bearer '$TOKEN'" and r["headers"]["x-team"] == "qa"'
assert_eq "$(reqs '[R[0]["body"]["event"], R[0]["body"]["run"]["id"], R[0]["body"]["more"], len(R[0]["body"]["tests"]), R[0]["body"]["run"]["counts"]["failed"]]')" '["run_failed", "r-sample-0001", 27, 10, 37]' "the context"
/usr/bin/python3 - "$FAKE_LOG" "$SECRET" <<'PY' || fail "the signature does not verify"
import hashlib, hmac, json, sys
r = json.loads(open(sys.argv[1]).readline())
want = "sha256=" + hmac.new(sys.argv[2].encode(), r["raw"].encode(), hashlib.sha256).hexdigest()
assert r["headers"]["x-dtf-signature-256"] == want, (r["headers"]["x-dtf-signature-256"], want)
PY

# 5,000 failed tests with long errors: the list is cut to keep the body within 1 MiB.
fake_reset
notify --channel hook --listed 5000
[ "$NOTIFY_RC" = 0 ] || fail "a long list failed: $NOTIFY_OUT"
assert_eq "$(reqs '[len(R[0]["raw"].encode()) <= 1048576, len(R[0]["raw"].encode()) > 900000, len(R[0]["body"]["tests"]) + R[0]["body"]["more"]]')" '[true, true, 5000]' "the cut body"

# Another event's sample: a lost worker, no tests.

fake_reset
notify --channel hook --event worker_lost
[ "$NOTIFY_RC" = 0 ] || fail "send failed: $NOTIFY_OUT"
assert_eq "$(reqs '[R[0]["body"]["event"], R[0]["body"]["severity"], R[0]["body"]["worker"]["id"], R[0]["body"]["tests"], R[0]["headers"]["x-dtf-event"]]')" '["worker_lost", "warning", "w-linux-02", [], "worker_lost"]' "worker_lost sample"

# A template renders the body; PUT to a secret URL.

printf '{{title}}: {{#tests}}{{name}} {{/tests}}(+{{more}})' > "$T/body.tpl"
fake_reset
notify --channel secreturl --template "$T/body.tpl"
[ "$NOTIFY_RC" = 0 ] || fail "templated send failed: $NOTIFY_OUT"
assert_req_count 1 'r["method"] == "PUT" and r["path"] == "/hook/e2eSecretUrlPart" and r["headers"]["content-type"] == "text/plain; charset=utf-8" and r["body"].startswith("Run nightly-2026-12-06 failed: 37 of 412 tests failed: checkout/") and r["body"].endswith("(+27)") and "x-dtf-signature-256" not in r["headers"] and "authorization" not in r["headers"]'

# Error answers.
for st in 401 404 410; do
	fake_script '[{"target": "^/hook", "status": '$st', "body": "denied for Bearer '$TOKEN'"}]'
	notify --channel hook
	expect_failure $st false 0
done
fake_script '[{"target": "^/hook", "status": 429, "headers": {"Retry-After": "5"}}]'
notify --channel hook
expect_failure 429 true 5000
fake_script '[{"target": "^/hook", "status": 429, "headers": {"X-RateLimit-Reset": "9"}}]'
notify --channel hook
expect_failure 429 true 9000
fake_script '[{"target": "^/hook", "status": 500}]'
notify --channel hook
expect_failure 500 true
fake_script '[{"target": "^/hook", "delay_s": 5}]'
notify --channel hook
expect_failure 0 true
[ "$NOTIFY_MS" -lt $((4500 * SCALE)) ] || fail "a 2 s timeout took $NOTIFY_MS ms"
fake_script '[{"target": "^/hook", "size": 20000}]'
notify --channel hook
expect_failure 0 false
assert_contains "$NOTIFY_OUT" "larger than 4096 bytes" "oversized answer"
fake_script '[{"target": "^/hook/e2e", "status": 404, "body": "no such hook e2eSecretUrlPart"}]'
notify --channel secreturl
expect_failure 404 false
assert_no_secret "$TOKEN"
assert_no_secret "$SECRET"
assert_no_secret "e2eSecretUrlPart"

notify --channel nosuch
[ "$NOTIFY_RC" = 1 ] || fail "a missing channel: exit $NOTIFY_RC"
assert_contains "$NOTIFY_OUT" "no integrations.nosuch block" "a missing channel"
"$DTF_BIN" notify test --channel hook > /dev/null 2>&1
assert_eq "$?" 2 "exit status of a usage error"
notify --channel twice

assert_contains "$NOTIFY_OUT" "integrations.twice.url: give url or url_env, not both" "url twice"
notify --channel authhdr
assert_contains "$NOTIFY_OUT" "integrations.authhdr.headers: Authorization is a secret" "inline Authorization"
log "ok"
