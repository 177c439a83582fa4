#!/usr/bin/env bash
# Routing, grouping, throttling and dead letters of the notifications outbox
# (docs/notifications.md), against webhooks on a fake service:
#   - a run of 30 failing and 2 passing tasks: a route grouped by run sends ONE message with all
#     30 (10 listed, "20 more"); a throttled route (per_minute 30) sends fewer messages than
#     events, at least 2 s apart, and together they carry every failure once;
#   - a route whose channel answers 404 gives up at once (a dead letter), and the dead letter,
#     routed as an event, reaches another channel; a route matching other runs sends nothing;
#     run_completed goes through a route's template;
#   - dtf coordinator --check names the file and line of a bad route, event or template.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify_lib.sh"

start_fake
fake_script '[{"method": "POST", "target": "^/gone", "status": 404, "body": "no such hook", "times": 0}]'
WINDOW=$((5 * SCALE))
cat > dtf.yaml <<EOC
integrations:
  grp: {type: webhook, url: "$FAKE_URL/hook/grp"}
  slow: {type: webhook, url: "$FAKE_URL/hook/slow"}
  gone: {type: webhook, url: "$FAKE_URL/gone"}
  oncall: {type: webhook, url: "$FAKE_URL/hook/oncall"}
  never: {type: webhook, url: "$FAKE_URL/hook/never"}
  done: {type: webhook, url: "$FAKE_URL/hook/done"}
  starts: {type: webhook, url: "$FAKE_URL/hook/starts"}
  passes: {type: webhook, url: "$FAKE_URL/hook/passes"}
notifications:
  base_url: http://dtf.example:8080/
  templates:
    finished: '{"text": "done: {{run.name}}: {{run.summary}}", "url": "{{run.url}}"}'
  routes:
    - events: [task_failed]
      channels: [grp]
      group: {by: run, window_s: $WINDOW}
    - events: [task_failed]
      channels: [slow]
      throttle: {per_minute: 30}
    - events: [run_failed]
      severity: ">= error"
      match: {run: "nightly-*", project: vision}
      channels: [gone]
    - events: [notification_dead]
      channels: [oncall]
    - events: all
      match: {run: "other-*"}
      channels: [never]
    - events: [run_completed]
      channels: [done]
      template: finished
    - events: [run_started]
      channels: [starts]
    - events: [test_passed]
      channels: [passes]
EOC
dtf coordinator --config "$T/dtf.yaml" --check > check.out 2>&1 || fail "--check: $(cat check.out)"
assert_contains "$(cat check.out)" "notifications: 8 channels, 8 routes" "--check's summary"
start_coordinator --config "$T/dtf.yaml"
start_worker w1 --slots 8

python3 > tasks.json <<'PY'
import json
tasks = [{"name": "bad-%02d" % i, "shell": "echo broken-%02d >&2; exit 1" % i, "max_retries": 0} for i in range(30)]
tasks += [{"name": "good-%d" % i, "command": ["true"]} for i in range(2)]
print(json.dumps({"run": {"name": "nightly-1", "metadata": {"project": "vision"}}, "tasks": tasks}))
PY
RUN=$(api POST /api/v1/tasks "$(cat tasks.json)" | jq_py 'd["run_id"]')
wait_for -t $((60 * SCALE)) -m "the run to end and its messages to go out" eval \
	'[ "$(reqs "str(len([r for r in R if r[\"path\"] == \"/hook/done\"]))")" = 1 ]'
wait_for -t $((30 * SCALE)) -m "the grouped message" eval \
	'[ "$(reqs "str(len([r for r in R if r[\"path\"] == \"/hook/grp\"]))")" = 1 ]'
wait_for -t $((30 * SCALE)) -m "the throttled messages to carry all 30 failures" eval \
	'[ "$(reqs "str(sum(r[\"body\"].get(\"count\", 1) for r in R if r[\"path\"] == \"/hook/slow\"))")" = 30 ]'
wait_for -t $((30 * SCALE)) -m "the dead letter to reach oncall" eval \
	'[ "$(reqs "str(len([r for r in R if r[\"path\"] == \"/hook/oncall\"]))")" = 1 ]'

/usr/bin/python3 - "$FAKE_LOG" "$RUN" "$SCALE" <<'PY' || fail "what the channels received: see $FAKE_LOG"
import json, sys
R = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
run = sys.argv[2]
scale = int(sys.argv[3])
at = lambda p: [r for r in R if r["path"] == p]
bad = ["bad-%02d" % i for i in range(30)]
# Grouped by run: one message with every failure.
(g,) = at("/hook/grp")
b = g["body"]
assert b["event"] == "grouped" and b["count"] == 30, b
assert b["title"] == "30 tests failed in run nightly-1", b["title"]
assert len(b["tests"]) == 10 and b["more"] == 20 and len(b["ids"]) == 30, b
assert b["events"] == {"task_failed": 30} and b["run"]["id"] == run, b
assert sorted(i["test"]["name"] for i in b["items"]) == sorted(i["test"]["name"] for i in b["items"])
assert all(t["error_kind"] and t["url"].startswith("http://dtf.example:8080/tasks/") for t in b["tests"]), b["tests"]
# Throttled: fewer messages than failures, 2 s apart at least, every failure once.
slow = at("/hook/slow")
assert 1 < len(slow) < 30, len(slow)
names = []
for r in slow:
    body = r["body"]
    if body["event"] == "grouped":
        names += [i["test"]["name"] for i in body["items"]] if body["count"] <= 10 else []
        assert len(body["ids"]) == body["count"]
    else:
        names.append(body["test"]["name"])
ids = [i for r in slow for i in (r["body"]["ids"] if r["body"]["event"] == "grouped" else [None])]
assert sum(r["body"].get("count", 1) for r in slow) == 30
assert len([i for i in ids if i]) == len(set(i for i in ids if i)), "an entry sent twice"
# The throttle spaces the sends 2 s apart; the fake service sees them after dtf's HTTP client has
# sent them, a path as much slower in a sanitizer build as the rest: 0.1 s of slack per SCALE.
times = [r["t"] for r in slow]
assert all(b - a >= 2 - 0.1 * scale for a, b in zip(times, times[1:])), times
assert any(r["body"]["event"] == "grouped" for r in slow)
# The 404 channel: one try, then a dead letter routed to oncall.
assert len(at("/gone")) == 1, at("/gone")
(o,) = at("/hook/oncall")
assert o["body"]["event"] == "notification_dead" and o["body"]["channel"] == "gone", o["body"]
assert "404" in o["body"]["error"] and o["body"]["original"]["event"] == "run_failed", o["body"]
# A route for other runs: nothing. The template route: the rendered template.
assert at("/hook/never") == []
(d,) = at("/hook/done")
assert d["body"]["text"].startswith("done: nightly-1: 32 tests: 2 passed, 30 failed"), d["body"]
assert d["body"]["url"] == "http://dtf.example:8080/runs/" + run, d["body"]
PY
curl -s --max-time 5 "$URL/api/v1/notifications?state=dead" > dead.json
jq_py '[(n["channel"], n["event"], n["tries"], "404" in n["last_error"]) for n in d["notifications"]]' dead.json > dead.txt
assert_eq "$(cat dead.txt)" '[["gone", "run_failed", 1, true]]' "the dead letters"
assert_eq "$(metric 'dtf_notifications_total{channel="gone",type="webhook",outcome="dead"}')" 1 "dead in /metrics"
assert_eq "$(metric 'dtf_notifications_total{channel="grp",type="webhook",outcome="sent"}')" 1 "grouped sends in /metrics"

# A later run: bad-00 passes now (test_passed, once), bad-01 fails again (nothing new there);
# each run's start was said with its tests, pending.
api POST /api/v1/tasks '{"run": {"name": "nightly-2"}, "tasks": [
	{"name": "bad-00", "command": ["true"]}, {"name": "bad-01", "command": ["false"], "max_retries": 0}]}' > run2.json
RUN2=$(jq_py 'd["run_id"]' run2.json)
wait_for -t $((60 * SCALE)) -m "the second run to end" eval \
	'[ "$(reqs "str(len([r for r in R if r[\"path\"] == \"/hook/done\"]))")" = 2 ]'
wait_for -t $((30 * SCALE)) -m "test_passed for bad-00" eval \
	'[ "$(reqs "str(len([r for r in R if r[\"path\"] == \"/hook/passes\"]))")" = 1 ]'
/usr/bin/python3 - "$FAKE_LOG" "$RUN" "$RUN2" <<'PY' || fail "run_started and test_passed: see $FAKE_LOG"
import json, sys
R = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
at = lambda p: [r["body"] for r in R if r["path"] == p]
(p,) = at("/hook/passes")
assert p["event"] == "test_passed" and p["test"]["name"] == "bad-00" and p["run"]["id"] == sys.argv[3], p
starts = at("/hook/starts")
assert [s["run"]["id"] for s in starts] == sys.argv[2:4], starts
assert len(starts[0]["results"]) == 32 and {r["status"] for r in starts[0]["results"]} == {"pending"}, starts[0]
assert sorted(r["name"] for r in starts[1]["results"]) == ["bad-00", "bad-01"], starts[1]
done = at("/hook/done")
assert done[1]["text"].startswith("done: nightly-2: 2 tests: 1 passed, 1 failed"), done[1]
PY

# --check: mistakes named with file and line.
check_fails() { # YAML-text expected-message
	printf '%s\n' "$1" > bad.yaml
	if dtf coordinator --config "$T/bad.yaml" --check > bad.out 2>&1; then
		fail "--check accepted: $1"
	fi
	assert_contains "$(cat bad.out)" "$2" "--check's message"
}
check_fails 'integrations:
  a: {type: webhook, url: "http://127.0.0.1:1/x"}
notifications:
  routes:
    - events: [task_failed]
      channels: [b]' "bad.yaml:6: notifications.routes[0].channels: 'b' is not a channel under integrations"
check_fails 'integrations:
  a: {type: webhook, url: "http://127.0.0.1:1/x"}
notifications:
  routes:
    - events: [task_exploded]
      channels: [a]' "bad.yaml:5: notifications.routes[0].events: unknown event 'task_exploded'"
check_fails 'integrations:
  a: {type: webhook, url: "http://127.0.0.1:1/x"}
notifications:
  templates:
    t: "{{#tests}}x"
  routes:
    - events: [task_failed]
      channels: [a]
      template: t' "bad.yaml:5: notifications.templates.t: line 1, column 1 of the template: section {{#tests}} is not closed"
check_fails 'integrations:
  a: {type: webhook, url: "http://127.0.0.1:1/x"}
notifications:
  routes:
    - events: [task_failed]
      channels: [a]
      throttle: {per_minute: 0}' "notifications.routes[0].throttle.per_minute: must be a number from 0.01 to 100000"
exit 0
