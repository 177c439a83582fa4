#!/usr/bin/env bash
# Plugins end to end: a coordinator and a worker configured from one YAML file with the example
# plugins (the CSV results handler, the benchmark task processor, the shell notifier through the
# exec kind, the built-in log notifier) and a deliberately failing plugin. A suite runs to the
# end; the CSV file has exactly one row per task with the right statuses; the benchmark task
# reports its metrics; the failing plugin is disabled and reported while the run completes;
# `dtf plugins list` and GET /api/v1/plugins show it all; a bad plugin configuration names the
# file, line and key.
. "$(dirname "$0")/lib.sh"

BUILD=${DTF_BUILD_DIR:-$(dirname "$DTF_BIN")}
EX="$BUILD/examples/plugins"
FIX="$BUILD/tests/fixtures/plugins"
SRC="$DTF_SOURCE_DIR/examples/plugins"
for f in "$EX/csv_results.so" "$EX/benchmark.so" "$FIX/failing.so"; do
	[ -f "$f" ] || fail "$f is missing: build the plugins first (cmake --build)"
done

cat > dtf.yaml <<EOF
coordinator:
  worker_auto_discovery: true
plugins:
  directories:
    - $EX
    - $FIX
  enabled: [csv_results, benchmark, notify, log, failing]
  hook_timeout: 2
  config:
    csv_results:
      output_file: $T/results.csv
    benchmark:
      command: [sh, $SRC/fake_benchmark.sh, "{model}", "{batch_size}"]
    notify:
      exec: [$SRC/notify.sh, $T/notify.log]
      type: notification
EOF

# --- dtf plugins list --config: what the file loads, before anything runs ---
out=$(dtf plugins list --config dtf.yaml 2>plugins-list.log)
rc=$?
assert_eq "$rc" 0 "exit status of 'dtf plugins list --config dtf.yaml' ($out; $(cat plugins-list.log))"
for want in "csv_results" "1.0.0" "results_handler" "$EX/csv_results.so" "benchmark" \
	"task_processor" "notify" "exec" "notification" "$SRC/notify.sh" "log" "builtin" \
	"failing" '"formats":["csv"]' 'task types: ["benchmark"]'; do
	assert_contains "$out" "$want" "dtf plugins list"
done
[ ! -e results.csv ] || fail "listing plugins created the CSV file"
[ ! -e notify.log ] || fail "listing plugins started the notifier"
dtf plugins list --config dtf.yaml --json > list.json 2>/dev/null || fail "plugins list --json"
python3 - list.json <<'EOF' || fail "plugins list --json check failed"
import json, sys
d = json.load(open(sys.argv[1]))
p = {e["name"]: e for e in d["plugins"]}
for n in ["csv_results", "benchmark", "notify", "log", "failing"]:
    assert p[n]["state"] == "enabled", (n, p[n])
assert p["csv_results"]["type"] == "results_handler" and p["csv_results"]["version"] == "1.0.0"
assert p["csv_results"]["capabilities"]["formats"] == ["csv"], p["csv_results"]
assert p["benchmark"]["task_types"] == ["benchmark"], p["benchmark"]
assert p["notify"]["source"] == "exec" and p["notify"]["type"] == "notification", p["notify"]
assert p["log"]["source"] == "builtin", p["log"]
assert p["nosym"]["state"] == "invalid" and "dtf_plugin_entry" in p["nosym"]["reason"], p["nosym"]
assert p["newabi"]["state"] == "invalid" and "newer" in p["newabi"]["reason"], p["newabi"]
EOF

# --- a configuration error names the file, the line and the key ---
cat > bad.yaml <<EOF
plugins:
  directories: [$EX]
  enabled:
    - csv_results
    - nope
EOF
out=$(dtf coordinator --config bad.yaml --check 2>&1)
rc=$?
[ "$rc" -ne 0 ] || fail "--check accepted an unknown plugin: $out"
assert_contains "$out" "bad.yaml:5: plugins.enabled[1]: no plugin named 'nope'" "--check error"
out=$(dtf plugins list --config bad.yaml 2>&1)
assert_eq "$?" 2 "exit status of plugins list with a bad config ($out)"
assert_contains "$out" "bad.yaml:5: plugins.enabled[1]" "plugins list error"

# --- the coordinator and a worker, both with the plugins ---
start_coordinator --config dtf.yaml
start_worker w1 --config dtf.yaml
wait_worker w1
api GET /api/v1/workers/w1 > w1.json
types=$(jq_py 'd.get("task_types")' w1.json)
assert_contains "$types" '"benchmark"' "the worker's task types"
wait_for -t 10 -m "notify.log to get coordinator_startup" grep -q ' coordinator_startup' notify.log

cat > suite.json <<'EOF'
[
  {"name": "pass-1", "command": ["true"]},
  {"name": "pass-2", "shell": "echo hello"},
  {"name": "fail-1", "shell": "echo failing >&2; exit 3"},
  {"name": "bench-bert", "type": "benchmark", "model": "bert-base-uncased", "batch_sizes": [1, 2, 4]},
  {"name": "cancel-me", "command": ["true"], "hardware": "no-such-hardware"},
  {"name": "retry-fail", "shell": "exit 1", "max_retries": 1},
  {"name": "retry-pass", "shell": "test -f \"$DTF_E2E_TMP/marker\" || { touch \"$DTF_E2E_TMP/marker\"; exit 1; }", "max_retries": 1}
]
EOF
out=$(dtf client submit-task --coordinator "$URL" --file suite.json 2>&1) || fail "submit-task: $out"
assert_contains "$out" "submitted 7 tasks" "submit-task output"
RUN=$(cat .dtf/last-run)
api GET "/api/v1/tasks?run_id=$RUN" > tasks.json
CANCEL_ID=$(jq_py '[t["id"] for t in d["tasks"] if t["name"] == "cancel-me"][0]' tasks.json)
api DELETE "/api/v1/tasks/$CANCEL_ID" > /dev/null

out=$(dtf client wait-completion --coordinator "$URL" --timeout 60 2>/dev/null)
assert_contains "$out" "7 tests: 3 passed, 2 failed, 1 flaky, 1 cancelled" "wait-completion summary"

api GET "/api/v1/tasks?run_id=$RUN" > tasks.json
python3 - tasks.json <<'EOF' || fail "task check failed"
import json, sys
t = {x["name"]: x for x in json.load(open(sys.argv[1]))["tasks"]}
want = {"pass-1": "completed", "pass-2": "completed", "fail-1": "failed",
        "bench-bert": "completed", "cancel-me": "cancelled", "retry-fail": "failed",
        "retry-pass": "completed"}
got = {n: x["status"] for n, x in t.items()}
assert got == want, got
m = t["bench-bert"]["result"]["metrics"]
assert m["model"] == "bert-base-uncased", m
assert m["batch_sizes"] == [1, 2, 4], m
assert m["by_batch_size"]["4"]["throughput_items_per_s"] == 400, m
assert m["by_batch_size"]["1"]["latency_ms"] == 11, m
assert "benchmarking bert-base-uncased with batch size 2" in t["bench-bert"]["result"]["stdout"]
EOF

# --- the CSV: a header and exactly one row per task, with the right status ---
csv_rows() { [ -f results.csv ] && [ "$(($(wc -l < results.csv) - 1))" -ge "$1" ]; }
wait_for -t 10 -m "results.csv to have 7 rows" csv_rows 7
sleep 0.5 # an eighth row would be a bug: give it the chance to show
python3 - results.csv tasks.json <<'EOF' || fail "CSV check failed: $(cat results.csv)"
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1])))
assert rows[0] == ["task_id", "name", "status", "duration_s", "exit_code"], rows[0]
rows = rows[1:]
tasks = {x["id"]: x for x in json.load(open(sys.argv[2]))["tasks"]}
ids = [r[0] for r in rows]
assert sorted(ids) == sorted(tasks), (ids, list(tasks))
assert len(ids) == len(set(ids)) == 7, ids
for r in rows:
    t = tasks[r[0]]
    assert r[1] == t["name"] and r[2] == t["status"], (r, t["status"])
    if t["status"] != "cancelled":
        assert float(r[3]) >= 0 and r[4] == str(t["result"]["exit_code"]), r
by = {r[1]: r for r in rows}
assert by["fail-1"][2] == "failed" and by["fail-1"][4] == "3", by["fail-1"]
assert by["cancel-me"][2] == "cancelled", by["cancel-me"]
assert by["retry-fail"][2] == "failed" and by["retry-pass"][2] == "completed", by
EOF

# --- the failing plugin: disabled, reported, and the run went on ---
api GET /api/v1/plugins > plugins.json
python3 - plugins.json <<'EOF' || fail "GET /api/v1/plugins check failed: $(cat plugins.json)"
import json, sys
p = {e["name"]: e for e in json.load(open(sys.argv[1]))["plugins"]}
f = p["failing"]
assert f["state"] == "disabled" and f["enabled"] is False, f
assert "boom" in f["reason"], f["reason"]
assert f["counters"]["errors"] == 1, f["counters"]
for n in ["csv_results", "benchmark", "notify", "log"]:
    assert p[n]["state"] == "enabled", (n, p[n])
c = p["csv_results"]["counters"]
assert c["events"] == 7 and c["errors"] == 0 and c["timeouts"] == 0, c
EOF
assert_contains "$(cat "$COORD_LOG")" "plugin failing disabled" "coordinator log"
assert_contains "$(cat "$COORD_LOG")" "plugin log: task" "coordinator log (the log notifier)"
out=$(dtf plugins list --coordinator "$URL" 2>&1)
assert_eq "$?" 1 "exit status of plugins list --coordinator with a disabled plugin ($out)"
assert_contains "$out" "reason: the task_created hook failed" "plugins list --coordinator"

# --- the shell notifier: one line per event it was sent ---
# It runs notify.sh once per event, in order, behind the coordinator: on a loaded machine the
# last events come seconds after the tasks ended. Counted once every kind has all it should.
at_least() { [ "$(grep -c " $1 " notify.log)" -ge "$2" ]; }
notified_all() {
	at_least task_created 7 && at_least task_assigned 8 && at_least task_started 8 &&
		at_least task_completed 4 && at_least task_failed 2 && at_least task_cancelled 1 &&
		[ "$(grep -c ' recovery_' notify.log)" -ge 4 ]
}
wait_for -t 30 -m "notify.log to hear of every event" notified_all
for name in pass-1 pass-2 bench-bert retry-pass; do
	n=$(grep -c " task_completed .* name=$name status=completed" notify.log)
	assert_eq "$n" 1 "task_completed lines for $name in notify.log"
done
assert_eq "$(grep -c ' task_failed .* name=fail-1 status=failed' notify.log)" 1 "task_failed lines"
assert_eq "$(grep -c ' task_failed ' notify.log)" 2 "task_failed lines (a retried task fails once)"
assert_eq "$(grep -c ' task_cancelled .* name=cancel-me' notify.log)" 1 "task_cancelled lines"
assert_eq "$(grep -c ' task_created ' notify.log)" 7 "task_created lines"
# One assignment and one start per attempt that ran (the retried tasks ran twice).
assert_eq "$(grep -c ' task_assigned ' notify.log)" 8 "task_assigned lines"
assert_eq "$(grep -c ' task_started ' notify.log)" 8 "task_started lines"
# A retried task: recovery started once for each, then failed for one and completed for the other.
RF=$(jq_py '[t["id"] for t in d["tasks"] if t["name"] == "retry-fail"][0]' tasks.json)
RP=$(jq_py '[t["id"] for t in d["tasks"] if t["name"] == "retry-pass"][0]' tasks.json)
assert_eq "$(grep -c " recovery_started task=$RF strategy=retry" notify.log)" 1 "recovery_started (retry-fail)"
assert_eq "$(grep -c " recovery_failed task=$RF" notify.log)" 1 "recovery_failed (retry-fail)"
assert_eq "$(grep -c " recovery_started task=$RP strategy=retry" notify.log)" 1 "recovery_started (retry-pass)"
assert_eq "$(grep -c " recovery_completed task=$RP" notify.log)" 1 "recovery_completed (retry-pass)"
assert_eq "$(grep -c ' recovery_' notify.log)" 4 "recovery lines"
assert_eq "$(grep -c ' custom plugin_failed' notify.log)" 1 "plugin_failed lines"
assert_eq "$(grep -c ' worker_registered w1' notify.log)" 1 "worker_registered lines"

# --- shutdown reaches the plugins before they are unloaded ---
stop_coordinator
assert_eq "$WAIT_RC" 0 "coordinator exit status"
grep -q ' coordinator_shutdown' notify.log || fail "notify.log has no coordinator_shutdown: $(tail -3 notify.log)"
assert_eq "$(($(wc -l < results.csv) - 1))" 7 "CSV rows after shutdown"
