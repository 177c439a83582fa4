#!/usr/bin/env bash
# A channel of type exec is a program (docs/integrations.md, "A program as a channel"): it gets
# the message as one JSON document on stdin (with the route's template rendered as "text"),
# answers on stdout, and says with its exit status whether the message was taken (0), should be
# tried again (75) or failed for good (anything else); a program past its timeout is stopped and
# tried again. Checked through `dtf notify test`, and through the coordinator's outbox: a program
# that answers 75 twice and then 0 gets the same message (same key) three times, and the outbox
# records it sent.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify_lib.sh"

cat > prog.sh <<'EOS'
#!/bin/sh
# Records its input, then behaves as $MODE says.
n=$(ls "$DIR" | wc -l)
cat > "$DIR/in-$n.json"
case "$MODE" in
ok) echo '{"answer": "taken as #'"$n"'", "ref": "r'"$n"'"}' ;;
text) printf 'queued fine\nsecond line\n' ;;
temp) echo "the service is busy" >&2; exit 75 ;;
bad) echo "starting" >&2; echo "no such room" >&2; exit 3 ;;
slow) sleep 30 ;;
flaky) [ "$n" -ge 2 ] || { echo "busy" >&2; exit 75; }; echo '{"answer": "ok at last"}' ;;
esac
EOS
chmod +x prog.sh
mkdir -p in
conf() { # MODE [timeout]
	cat > dtf.yaml <<EOC
integrations:
  prog:
    type: exec
    command: ["$T/prog.sh"]
    env: {MODE: "$1", DIR: "$T/in"}
    timeout_s: ${2:-10}
EOC
}
conf ok
notify --channel prog --event task_failed
assert_eq "$NOTIFY_RC" 0 "exit status (program exits 0)"
assert_eq "$(out_field answer)" "taken as #0" "the answer from the program's JSON"
assert_eq "$(out_field ref)" "r0" "the reference from the program's JSON"
jq_py '[d["event"], d["channel"], d["data"]["event"], bool(d["key"]), "tests" in d["data"]]' in/in-0.json > got.txt
assert_eq "$(cat got.txt)" '["task_failed", "prog", "task_failed", true, true]' "the program's input"
conf text
notify --channel prog
assert_eq "$(out_field answer)" "queued fine" "a plain-text answer's first line"
conf temp
notify --channel prog
assert_eq "$NOTIFY_RC" 1 "exit status (program exits 75)"
assert_eq "$(out_field retry)" true "75 means try again"
assert_contains "$(out_field error)" "exited with status 75 (try again later): the service is busy" "the error"
conf bad
notify --channel prog
assert_eq "$(out_field retry)" false "3 means failed for good"
assert_contains "$(out_field error)" "exited with status 3: no such room" "the error's last stderr line"
conf slow 1
notify --channel prog
assert_eq "$(out_field retry)" true "a program past its timeout is tried again"
[ "$NOTIFY_MS" -lt 10000 ] || fail "the timeout did not stop the program ($NOTIFY_MS ms)"
cat > bad.yaml <<'EOC'
integrations:
  prog: {type: exec, command: "just a string"}
EOC
dtf notify test --config "$T/bad.yaml" --channel prog > bad.out 2>&1 && fail "a command that is not a list was accepted"
assert_contains "$(cat bad.out)" "integrations.prog.command: must be a list of 1 to 64 strings" "the configuration error"

# Through the outbox: two refusals (75), then taken; one message, three tries, the same key.
rm -f in/*
cat > coord.yaml <<EOC
integrations:
  prog:
    type: exec
    command: ["$T/prog.sh"]
    env: {MODE: flaky, DIR: "$T/in"}
notifications:
  backoff_s: 0.2
  templates:
    line: "{{test.name}} failed: {{test.error_kind}}"
  routes:
    - events: [task_failed]
      channels: [prog]
      template: line
EOC
start_coordinator --config "$T/coord.yaml"
start_worker w1
submit '{"name": "broken", "command": ["false"], "max_retries": 0}' > /dev/null
wait_for -t 30 -m "the message to be sent" eval \
	'[ "$(curl -s "$URL/api/v1/notifications?state=sent" | jq_py "d[\"counts\"][\"sent\"]")" = 1 ]'
curl -s "$URL/api/v1/notifications?state=sent" | jq_py 'd["notifications"][0]' > sent.json
assert_eq "$(jq_py '[d["tries"], d["answer"]]' sent.json)" '[3, "ok at last"]' "tries and answer"
assert_eq "$(ls in | wc -l)" 3 "the program's runs"
assert_eq "$(for f in in/*.json; do jq_py 'd["key"]' "$f"; done | sort -u | wc -l)" 1 "one key on every try"
assert_eq "$(jq_py 'd["text"]' in/in-2.json)" "broken failed: exit_code" "the route's template, rendered"
exit 0
