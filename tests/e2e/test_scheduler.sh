#!/usr/bin/env bash
# The scheduler endpoints and strategies end to end: GET /api/v1/scheduler lists the strategies
# and the active one; PUT switches it at run time (bad names and bodies are 400s) and the new
# order applies to tasks already pending (deadline: earliest first, whatever the priority);
# deadline_at_risk shows in the task and in `dtf client status`; /metrics names the strategy;
# then a coordinator started with a scheduler plugin (.so) and --strategy uses it.
. "$(dirname "$0")/lib.sh"
BUILD=${DTF_BUILD_DIR:-$(dirname "$DTF_BIN")}

start_coordinator
api GET /api/v1/scheduler > sched.json
assert_eq "$(jq_py 'd["strategy"]' sched.json)" priority "default strategy"
assert_eq "$(jq_py 'sorted(s["name"] for s in d["strategies"])' sched.json)" \
	'["deadline", "duration", "fair-share", "priority", "resource-aware", "round-robin"]' "strategies"

# Bad requests change nothing.
assert_eq "$(http PUT /api/v1/scheduler '{"strategy": "fastest"}')" 400 "unknown strategy"
assert_contains "$(body)" "unknown strategy 'fastest'" "unknown strategy message"
assert_eq "$(http PUT /api/v1/scheduler '{"strategy": 1}')" 400 "strategy not a string"
assert_eq "$(http PUT /api/v1/scheduler '{"strategy": "priority", "x": 1}')" 400 "extra member"
assert_eq "$(http PUT /api/v1/scheduler 'nope')" 400 "malformed body"
assert_eq "$(jq_py 'd["strategy"]' <(api GET /api/v1/scheduler))" priority "still priority"

# Tasks queued before the switch: priority would run "late" (priority 1) first. Each sleeps 60 ms
# so that completion times are apart (results of tasks under 50 ms may share one request, and
# so one finished_at millisecond).
SOON=$(python3 -c 'import datetime as d; print((d.datetime.now(d.timezone.utc)+d.timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ"))')
LATE=$(python3 -c 'import datetime as d; print((d.datetime.now(d.timezone.utc)+d.timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ"))')
api POST /api/v1/tasks "{\"tasks\": [
  {\"name\": \"late\", \"command\": [\"sleep\", \"0.06\"], \"priority\": 1, \"deadline\": \"$LATE\"},
  {\"name\": \"soon\", \"command\": [\"sleep\", \"0.06\"], \"priority\": 9, \"deadline\": \"$SOON\"},
  {\"name\": \"missed\", \"command\": [\"sleep\", \"0.06\"], \"priority\": 9, \"deadline\": \"2020-01-01T00:00:00Z\"}
]}" > sub.json
MISSED=$(jq_py 'd["ids"][2]' sub.json)
assert_eq "$(task_field "$MISSED" 'd["deadline_at_risk"]')" true "deadline_at_risk of a past deadline"
assert_eq "$(task_field "$(jq_py 'd["ids"][0]' sub.json)" 'd["deadline_at_risk"]')" false "deadline_at_risk of a far deadline"
out=$(dtf client --coordinator "$URL" status --task "$MISSED") || fail "client status"
assert_contains "$out" "deadline at risk" "client status of the missed task"
assert_contains "$out" "no worker is registered yet" "client status shows the pending reason"

api PUT /api/v1/scheduler '{"strategy": "deadline"}' > put.json
assert_eq "$(jq_py 'd["strategy"]' put.json)" deadline "PUT answer"
assert_eq "$(jq_py 'd["pending"]' put.json)" 3 "pending count in the answer"
api GET /metrics > metrics.txt
assert_contains "$(cat metrics.txt)" 'dtf_scheduler_info{strategy="deadline"} 1' "metrics name the strategy"

# One 1-slot worker runs them one at a time: earliest deadline first.
start_worker w1 --slots 1
all_done() { [ "$(api GET "/api/v1/tasks?status=completed" | jq_py 'len(d["tasks"])')" = 3 ]; }
wait_for -t 20 -m "the three tasks to complete" all_done
api GET /api/v1/tasks > tasks.json
assert_eq "$(jq_py '[t["name"] for t in sorted(d["tasks"], key=lambda t: t["history"][0]["finished_at"])]' tasks.json)" \
	'["missed", "soon", "late"]' "completion order under deadline"

# Fair share: while alice's task holds the only slot, her next one is deferred for bob's, and
# the task and `dtf client status` say why. alice_1 holds the slot until the checks are done (the
# file $T/alice_1.done; a minute at most), not for a fixed time a slow machine could outlast.
api PUT /api/v1/scheduler '{"strategy": "fair-share"}' > /dev/null
A1=$(api POST /api/v1/tasks '{"name": "alice_1", "user": "alice",
	"shell": "i=0; while [ ! -e '"$T"'/alice_1.done ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done"}' | jq_py 'd["id"]')
wait_for -t 20 -m "alice_1 to run" task_status_is "$A1" running
A2=$(api POST /api/v1/tasks '{"name": "alice_2", "command": ["sleep", "0.06"], "user": "alice"}' | jq_py 'd["id"]')
B1=$(api POST /api/v1/tasks '{"name": "bob_1", "command": ["sleep", "0.06"], "user": "bob"}' | jq_py 'd["id"]')
reason=$(task_field "$A2" 'd["pending_reason"]')
assert_contains "$reason" "all workers that can run it are busy (1 fitting, all full)" "alice_2 reason"
assert_contains "$reason" "deferred by fair share: user alice is over its share" "alice_2 reason"
assert_contains "$(dtf client --coordinator "$URL" status --task "$A2")" "deferred by fair share" "client status"
task_status_is "$A1" running || fail "alice_1 ended before the checks of alice_2"
touch "$T/alice_1.done"
wait_for -t 20 -m "alice_2 to complete" task_status_is "$A2" completed
task_status_is "$B1" completed || fail "bob_1 did not run before alice_2"
assert_eq "$(python3 -c "import sys; print(sys.argv[1] < sys.argv[2])" "$(task_field "$B1" 'd["finished_at"]')" "$(task_field "$A2" 'd["finished_at"]')")" True "bob_1 ended before alice_2"
stop_coordinator

# A scheduler plugin replaces the built-ins: started with it, then back to a built-in.
cat > plugins.yaml <<EOF
plugins:
  directories: [$BUILD/examples/plugins]
  enabled: [shortest_first]
scheduler:
  strategy: shortest-first
EOF
rm -f "$COORD_DB"
start_coordinator --config plugins.yaml
api GET /api/v1/scheduler > sched.json
assert_eq "$(jq_py 'd["strategy"]' sched.json)" shortest-first "plugin strategy active"
assert_eq "$(jq_py '[s["plugin"] for s in d["strategies"] if s["source"] == "plugin"]' sched.json)" \
	'["shortest_first"]' "plugin strategy listed"
api POST /api/v1/tasks '{"tasks": [
  {"name": "e30", "command": ["sleep", "0.06"], "params": {"estimate_s": 30}},
  {"name": "e10", "command": ["sleep", "0.06"], "params": {"estimate_s": 10}},
  {"name": "e20", "command": ["sleep", "0.06"], "params": {"estimate_s": 20}}
]}' > /dev/null
start_worker w2 --slots 1
wait_for -t 20 -m "the three tasks to complete" all_done
api GET /api/v1/tasks > tasks.json
assert_eq "$(jq_py '[t["name"] for t in sorted(d["tasks"], key=lambda t: t["history"][0]["finished_at"])]' tasks.json)" \
	'["e10", "e20", "e30"]' "completion order under the plugin"
api PUT /api/v1/scheduler '{"strategy": "priority"}' > /dev/null
assert_eq "$(jq_py 'd["strategy"]' <(api GET /api/v1/scheduler))" priority "back to priority"

# A strategy nobody offers stops the start with a clear error.
stop_coordinator
if "$DTF_BIN" coordinator --port 0 --db-path "$T/x.db" --strategy nope > bad.out 2>&1; then
	fail "a coordinator with an unknown strategy started"
fi
assert_contains "$(cat bad.out)" "unknown strategy 'nope'" "unknown strategy at start"
log "ok"
