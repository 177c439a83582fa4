#!/usr/bin/env bash
# The notifications outbox never loses a message (docs/notifications.md, "Delivery"): 100 failing
# tasks queue 100 task_failed messages to a webhook whose service answers 503; every message is
# tried (and retried) while it is down; the coordinator is SIGKILLed with all 100 in the outbox,
# restarted on the same database, the service recovers, and each message arrives exactly once
# (one 2xx request per task, the same Idempotency-Key on every try of a message). GET
# /api/v1/notifications and /metrics say what happened.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify_lib.sh"

N=100
start_fake
fake_script '[{"method": "POST", "target": "^/hook", "status": 503, "body": "down", "times": 0}]'
cat > dtf.yaml <<EOC
integrations:
  hook: {type: webhook, url: "$FAKE_URL/hook"}
notifications:
  backoff_s: 0.2
  max_backoff_s: 0.5
  max_tries: 1000
  routes:
    - events: [task_failed]
      channels: [hook]
      throttle: {per_minute: 100000}
EOC
start_coordinator --config "$T/dtf.yaml"
counts() { curl -s --max-time 5 -H "Authorization: Bearer x" "$URL/api/v1/notifications?limit=1" | jq_py "$1"; }

python3 - "$N" > tasks.json <<'PY'
import json, sys
n = int(sys.argv[1])
print(json.dumps({"tasks": [{"name": "fail-%03d" % i, "command": ["false"], "max_retries": 0}
                            for i in range(n)]}))
PY
api POST /api/v1/tasks "$(cat tasks.json)" > /dev/null
start_worker w1 --slots 8
wait_for -t 60 -m "$N notifications in the outbox" eval '[ "$(counts "d[\"counts\"][\"pending\"]")" = '"$N"' ]'
# Every message was tried against the service that is down (and is still pending).
tried_all() {
	curl -s --max-time 5 "$URL/api/v1/notifications?state=pending&limit=1000" |
		jq_py 'len([n for n in d["notifications"] if n["tries"] >= 1 and "503" in n.get("last_error", "")])' |
		grep -qx "$N"
}
wait_for -t 60 -m "every message to be tried and refused with 503" tried_all
assert_eq "$(counts 'd["counts"]["sent"]')" 0 "messages sent while the service is down"
assert_eq "$(reqs 'str(len([r for r in R if r["path"] == "/hook" and r["status"] < 300]))')" 0 \
	"2xx answers while the service is down"

# Killed with everything in the outbox; the service recovers; a new coordinator on the same
# database sends it all.
stop_coordinator KILL
stop_worker_all() { local id; for id in "${!WORKER_PID[@]}"; do kill "${WORKER_PID[$id]}" 2>/dev/null; done; }
stop_worker_all
fake_clear
start_coordinator --config "$T/dtf.yaml"
wait_for -t 60 -m "all $N messages to be sent after the restart" eval '[ "$(counts "d[\"counts\"][\"sent\"]")" = '"$N"' ]'
assert_eq "$(counts 'd["counts"]["pending"]')" 0 "messages still pending"
assert_eq "$(counts 'd["counts"]["dead"]')" 0 "dead letters"

# Exactly once: one accepted request per task, and every try of a message had the same key.
/usr/bin/python3 - "$FAKE_LOG" "$N" <<'PY' || fail "the requests the service received: see $FAKE_LOG"
import collections, json, sys
R = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
n = int(sys.argv[2])
hook = [r for r in R if r["path"] == "/hook"]
ok = [r for r in hook if r["status"] < 300]
names = collections.Counter(r["body"]["test"]["name"] for r in ok)
assert len(ok) == n, (len(ok), n)
assert sorted(names) == ["fail-%03d" % i for i in range(n)], names
assert all(v == 1 for v in names.values()), [k for k, v in names.items() if v > 1]
keys = collections.defaultdict(set)
for r in hook:
    keys[r["body"]["test"]["name"]].add(r["headers"]["idempotency-key"])
assert all(len(k) == 1 for k in keys.values()), {n: k for n, k in keys.items() if len(k) > 1}
assert len({next(iter(k)) for k in keys.values()}) == n, "two messages share a key"
assert all(r["body"]["event"] == "task_failed" for r in ok)
assert len(hook) > n, "no request was refused before the restart"
print("accepted %d, refused %d" % (len(ok), len(hook) - len(ok)))
PY

# The API's record and the metrics.
curl -s --max-time 5 "$URL/api/v1/notifications?state=sent&limit=5" > sent.json
jq_py 'all(n["state"] == "sent" and n["channel"] == "hook" and n["event"] == "task_failed" and n["tries"] >= 2 and n["key"].startswith("dtf-n-") for n in d["notifications"]) and len(d["notifications"]) == 5' sent.json | grep -qx true ||
	fail "GET /api/v1/notifications?state=sent: $(cat sent.json)"
assert_eq "$(metric 'dtf_notifications_total{channel="hook",type="webhook",outcome="sent"}')" "$N" "sent in /metrics"
assert_eq "$(metric 'dtf_notifications_pending{channel="hook",type="webhook"}')" 0 "pending in /metrics"
http GET "/api/v1/notifications?state=lost" > /dev/null
assert_eq "$(http GET '/api/v1/notifications?state=lost')" 400 "a bad state filter"
exit 0
