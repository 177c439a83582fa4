#!/usr/bin/env bash
# A notification channel from a plugin (include/dtf/plugin.h, struct dtf_channel_ops; docs/
# notifications.md "Channels from plugins"): the example file_channel.so appends each message to
# a file. Through the coordinator's outbox: a channel answering retry once then sent gets the
# message once in its file, shown sent after 2 tries with the same key; a channel answering
# failed makes a dead letter; a plugin serving the type "slack" replaces the built-in connector
# (no token needed, the message lands in its file); `dtf coordinator --check` shows the
# plugin's open() refusing a block; `dtf notify test` sends through it. Also: a run says it finished once (run_completed), even when
# a task is added to it after it finished.
. "$(dirname "$0")/lib.sh"

BUILD=${DTF_BUILD_DIR:-$(dirname "$DTF_BIN")}
EX="$BUILD/examples/plugins"
FIX="$BUILD/tests/fixtures/plugins"
for f in "$EX/file_channel.so" "$FIX/slack_file.so"; do
	[ -f "$f" ] || fail "$f is missing: build the plugins first (cmake --build)"
done

conf() { # the integrations block follows on stdin
	{
		cat <<EOC
plugins:
  directories: [$EX, $FIX]
  enabled: [file_channel, slack_file]
integrations:
EOC
		cat
		cat <<EOC
notifications:
  backoff_s: 0.2
  max_tries: 3
  routes:
    - events: [task_failed]
      channels: [audit, broken, sl]
    - events: [run_completed]
      channels: [runs]
EOC
	} > "$T/coord.yaml"
}

# --check: the plugin's open() refuses a block without a path.
conf <<EOC
  audit: {type: file_channel}
  broken: {type: "plugin:file_channel", path: $T/broken.jsonl, fail: true}
  sl: {type: slack, path: $T/slack.jsonl}
  runs: {type: file_channel, path: $T/runs.jsonl}
EOC
dtf coordinator --config "$T/coord.yaml" --db-path "$T/check.db" --check > check.out 2>&1 &&
	fail "a channel block the plugin refuses passed --check"
assert_contains "$(cat check.out)" "integrations.audit.path: missing" "the plugin's reason"

conf <<EOC
  audit: {type: file_channel, path: $T/audit.jsonl, retry_first: 1}
  broken: {type: "plugin:file_channel", path: $T/broken.jsonl, fail: true}
  sl: {type: slack, path: $T/slack.jsonl}
  runs: {type: file_channel, path: $T/runs.jsonl}
EOC
dtf coordinator --config "$T/coord.yaml" --db-path "$T/check.db" --check > check.out 2>&1 ||
	fail "--check refused a good configuration: $(cat check.out)"
assert_contains "$(cat check.out)" "notifications: 4 channels, 2 routes" "--check's summary"

# `dtf notify test` loads the file's plugins too.
cat > "$T/cli.yaml" <<EOC
plugins:
  directories: [$EX]
  enabled: [file_channel]
integrations:
  cli: {type: file_channel, path: $T/cli.jsonl}
EOC
out=$(dtf notify test --config "$T/cli.yaml" --channel cli --event run_failed 2>&1) ||
	fail "dtf notify test on a plugin's channel: $out"
assert_contains "$out" "answer: appended to $T/cli.jsonl" "dtf notify test's answer"
assert_eq "$(jq_py '[d["channel"], d["event"]]' cli.jsonl)" '["cli", "run_failed"]' "what dtf notify test sent"

start_coordinator --config "$T/coord.yaml"
start_worker w1
submit '{"name": "broken_test", "command": ["false"], "max_retries": 0}' > /dev/null
counts() { curl -s "$URL/api/v1/notifications" | jq_py '[d["counts"]["sent"], d["counts"]["dead"]]'; }
wait_for -t 30 -m "two messages sent and one dead letter" eval '[ "$(counts)" = "[2, 1]" ]'
curl -s "$URL/api/v1/notifications" > list.json
assert_eq "$(jq_py '[[n["channel"], n["state"], n["tries"]] for n in d["notifications"] if n["event"] == "task_failed"]' list.json | tr -d '\n')" \
	'[["sl", "sent", 1], ["broken", "dead", 1], ["audit", "sent", 2]]' "each channel's outcome"
assert_contains "$(jq_py '[n["last_error"] for n in d["notifications"] if n["channel"] == "broken"][0]' list.json)" \
	"set to fail (fail: true)" "the dead letter's error"
assert_contains "$(jq_py '[n["answer"] for n in d["notifications"] if n["channel"] == "audit"][0]' list.json)" \
	"appended to $T/audit.jsonl" "the plugin's answer"
assert_eq "$(wc -l < audit.jsonl)" 1 "the retried message arrived once"
assert_eq "$(jq_py '[d["channel"], d["type"], d["event"], d["data"]["tests"][0]["name"]]' audit.jsonl)" \
	'["audit", "file_channel", "task_failed", "broken_test"]' "the document send() got"
assert_eq "$(jq_py '[d["channel"], d["type"]]' slack.jsonl)" '["sl", "slack"]' \
	"the plugin serving slack replaced the built-in connector"
[ ! -e broken.jsonl ] || fail "the failing channel wrote its file"
curl -s "$URL/api/v1/plugins" | jq_py '[p.get("channel_type") for p in d["plugins"] if p["name"] in ("file_channel", "slack_file")]' > pl.json
assert_eq "$(cat pl.json)" '["file_channel", "slack"]' "GET /api/v1/plugins names the channel types"

# A run finishes once: a task added after it finished does not send run_completed again.
RUN=$(api POST /api/v1/tasks '{"tasks": [{"name": "one", "command": ["true"]}], "run": {"name": "r1"}}' | jq_py 'd["run_id"]')
wait_for -t 20 -m "run_completed of r1" eval '[ -s runs.jsonl ]'
TID=$(submit '{"name": "late", "command": ["true"], "run_id": "'"$RUN"'"}')
wait_for -t 20 -m "the late task to complete" task_status_is "$TID" completed
# The outbox is written in the transaction of the change: nothing more is pending once the
# late task's completion is stored.
wait_for -t 10 -m "nothing pending" eval \
	'[ "$(curl -s "$URL/api/v1/notifications" | jq_py "d[\"counts\"][\"pending\"]")" = 0 ]'
assert_eq "$(wc -l < runs.jsonl)" 1 "run_completed sent once"
assert_eq "$(jq_py '[d["event"], d["data"]["run"]["id"]]' runs.jsonl)" "[\"run_completed\", \"$RUN\"]" "the run"
exit 0
