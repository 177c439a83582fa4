#!/usr/bin/env bash
# Slack takes no idempotency key, so the outbox sends to a Slack channel one message at a time,
# recording each as being sent before the call and its outcome right after (docs/integrations.md,
# Slack, "No idempotency key"). Three failing tests make three messages to an incoming webhook;
# the service answers the first two and hangs on the third; the coordinator is SIGKILLed during
# that call and restarted on the same database: only the third message is posted again (four
# requests in all, not the whole batch again), and the coordinator says it may show twice.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify_lib.sh"

start_fake
fake_script '[{"method": "POST", "target": "^/hook", "status": 200, "body": "ok", "times": 2},
              {"method": "POST", "target": "^/hook", "delay_s": 60, "times": 1}]'
export SLACK_HOOK_URL="$FAKE_URL/hook"
cat > dtf.yaml <<EOC
integrations:
  sl: {type: slack_webhook, url_env: SLACK_HOOK_URL, timeout_s: 120}
notifications:
  backoff_s: 0.2
  routes:
    - events: [task_failed]
      channels: [sl]
      throttle: {per_minute: 100000}
EOC
start_coordinator --config "$T/dtf.yaml"
api POST /api/v1/tasks '{"tasks": [
  {"name": "fail_1", "command": ["false"], "max_retries": 0, "priority": 1},
  {"name": "fail_2", "command": ["false"], "max_retries": 0, "priority": 1},
  {"name": "fail_3", "command": ["false"], "max_retries": 0, "priority": 1}]}' > /dev/null
start_worker w1 --slots 3 # the three fail at once: their messages queue together
posted() { [ "$(reqs 'len([r for r in R if r["path"] == "/hook"])')" = "$1" ]; }
wait_for -t 30 -m "the third message to be in flight" posted 3
stop_coordinator KILL
start_coordinator --config "$T/dtf.yaml"
sent() { [ "$(curl -s "$URL/api/v1/notifications" | jq_py 'd["counts"]["sent"]')" = 3 ]; }
wait_for -t 30 -m "the three messages sent" sent
assert_eq "$(reqs 'len([r for r in R if r["path"] == "/hook"])')" 4 "requests: the one in flight posted again, no other"
# In the order posted: three different tests, then the third (the one that hung) again.
reqs '[[t for t in ("fail_1", "fail_2", "fail_3") if t in r["raw"]] for r in R if r["path"] == "/hook"]' > posted.json
assert_eq "$(jq_py 'len({tuple(x) for x in d[:3]}) == 3 and all(len(x) == 1 for x in d) and d[3] == d[2]' posted.json)" \
	true "which messages were posted: $(cat posted.json)"
grep -q "was being sent when the coordinator stopped" "$COORD_LOG" ||
	fail "the restarted coordinator did not say a message may show twice"
exit 0
