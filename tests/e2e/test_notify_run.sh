#!/usr/bin/env bash
# `dtf run --config FILE` gives its embedded coordinator the file's integrations and
# notifications: the run's messages go out before dtf run exits, group windows cut short (a
# 10-minute window does not hold the run up); when the service is down, dtf run says how many
# messages are left after notifications.flush_timeout_s, exits with the tests' status, and the
# next dtf run on the same state directory sends them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify_lib.sh"

start_fake
cat > dtf.yaml <<EOC
integrations:
  hook: {type: webhook, url: "$FAKE_URL/hook"}
notifications:
  flush_timeout_s: 3
  backoff_s: 0.2
  max_backoff_s: 0.5
  max_tries: 50
  routes:
    - events: [task_failed]
      channels: [hook]
      group: {by: run, window_s: 600}
    - events: [run_completed]
      channels: [hook]
EOC
cat > tasks.json <<'EOT'
{"tasks": [{"name": "ok", "command": ["true"]},
           {"name": "bad-1", "command": ["false"], "max_retries": 0},
           {"name": "bad-2", "command": ["false"], "max_retries": 0}]}
EOT
start=$(now_ms)
dtf run --task-file tasks.json --workers 2 --config "$T/dtf.yaml" --state-dir state \
	--output-dir out --quiet > run.out 2> run.err
rc=$?
took=$(( $(now_ms) - start ))
assert_eq "$rc" 1 "dtf run's exit status (two tests fail)"
[ "$took" -lt $((60000 * SCALE)) ] || fail "dtf run took $took ms: the 600 s window held it up"
/usr/bin/python3 - "$FAKE_LOG" <<'PY' || fail "what the hook received: see $FAKE_LOG; $(cat run.err)"
import json, sys
R = [json.loads(l)["body"] for l in open(sys.argv[1]) if l.strip()]
ev = sorted(b["event"] for b in R)
assert ev == ["grouped", "run_completed"], ev
g = next(b for b in R if b["event"] == "grouped")
assert g["count"] == 2 and sorted(t["name"] for t in g["tests"]) == ["bad-1", "bad-2"], g
r = next(b for b in R if b["event"] == "run_completed")
assert r["run"]["counts"] == {"passed": 1, "failed": 2, "total": 3}, r["run"]
PY

# The service is down: dtf run gives up waiting after flush_timeout_s, says so, and keeps the
# tests' exit status; the next run on the same state directory sends what was left.
fake_reset
fake_script '[{"method": "POST", "target": "^/hook", "status": 503, "times": 0}]'
cat > pass.json <<'EOT'
{"tasks": [{"name": "ok", "command": ["true"]}]}
EOT
dtf run --task-file pass.json --workers 1 --config "$T/dtf.yaml" --state-dir state \
	--output-dir out2 --quiet > run2.out 2> run2.err
assert_eq "$?" 0 "dtf run's exit status with the service down"
assert_contains "$(cat run2.err)" "dtf run: 1 notification not sent yet; they stay in the state directory's outbox" "the warning"
fake_clear
fake_reset
# The message left over keeps its backoff (at most max_backoff_s) from the run before; this run
# waits up to 20 s for both (it ends as soon as the outbox is empty), so a slow build is no flake.
sed 's/flush_timeout_s: 3/flush_timeout_s: 20/' dtf.yaml > dtf3.yaml
dtf run --task-file pass.json --workers 1 --config "$T/dtf3.yaml" --state-dir state \
	--output-dir out3 --quiet > run3.out 2> run3.err
assert_eq "$?" 0 "the third run's exit status"
assert_eq "$(reqs 'str(sorted(r["body"]["run"]["id"] for r in R if r["status"] < 300))')" \
	"$(python3 -c 'import json,sys; print(sorted([json.load(open("out2/results.json"))["run"]["id"], json.load(open("out3/results.json"))["run"]["id"]]))')" \
	"the runs whose run_completed reached the hook"
exit 0
