#!/usr/bin/env bash
# Placement of a mixed suite on mixed workers (DESIGN.md §4): four workers with different labels
# and capabilities given on the command line, and tasks that ask for hardware (any of), required
# hardware (all of), and constraint expressions on labels and free resources. Every task must
# run on a worker it may run on; the coordinator's default constraints (from --config and
# --constraint) keep every task off a reserved worker; a task whose constraint no worker meets
# stays pending with a reason naming that constraint, also after a restart; a bad expression is a
# 400 naming its position, and nothing of that request is stored. Bad default constraints stop the coordinator
# at start-up with the position.
. "$(dirname "$0")/lib.sh"

# Bad default constraints are refused before anything starts.
out=$(dtf coordinator --check --db-path "$T/check.db" --constraint 'worker.labels.os ==' 2>&1) &&
	fail "a bad --constraint was accepted: $out"
assert_contains "$out" "position 20: expected an operand" "--constraint error"
printf 'scheduler:\n  default_constraints:\n    - "true"\n    - "worker.labels.os = 1"\n' > bad.yaml
out=$(dtf coordinator --check --db-path "$T/check.db" --config bad.yaml 2>&1) &&
	fail "a bad scheduler.default_constraints was accepted: $out"
assert_contains "$out" "scheduler.default_constraints[1]: position 18: '=' is not an operator" \
	"default_constraints error"

cat > coord.yaml <<'EOF2'
scheduler:
  default_constraints:
    - '!(worker.labels.pool == "reserved")'
EOF2
start_coordinator --config coord.yaml --constraint '"os" in worker.labels'

start_worker cuda-a --slots 2 --hardware cuda --labels os=linux,zone=a \
	--capabilities '{"gpu_memory": 16000, "memory": 8000}'
start_worker rocm-b --slots 2 --hardware rocm --labels os=linux,zone=b \
	--capabilities '{"gpu_memory": 8000, "memory": 4000}'
start_worker win-a --slots 2 --label os=windows --label zone=a --capabilities '{"memory": 2000}'
start_worker reserved --slots 2 --hardware cuda,rocm --labels os=linux,zone=a,pool=reserved \
	--capabilities '{"gpu_memory": 32000, "memory": 64000}'
for w in cuda-a rocm-b win-a reserved; do
	wait_worker "$w"
done

# Labels arrive with the registration and are shown.
api GET /api/v1/workers/win-a > win.json
assert_eq "$(jq_py 'd["labels"]' win.json)" '{"os": "windows", "zone": "a"}' "labels of win-a"
out=$(dtf client --coordinator "$URL" workers) || fail "dtf client workers"
assert_contains "$(printf '%s\n' "$out" | grep '^win-a')" "os=windows,zone=a" "dtf client workers"

# A bad expression: 400 naming the position, nothing stored (alone or inside a list).
before=$(api GET /api/v1/tasks | jq_py 'len(d["tasks"])')
code=$(http POST /api/v1/tasks '{"name": "bad", "shell": "true", "constraints": ["worker.labels.os == "]}')
assert_eq "$code" 400 "status of a task with a bad constraint"
assert_eq "$(jq_py 'd["error"]["code"]' "$T/body")" invalid_constraint "error code"
assert_eq "$(jq_py 'd["error"]["message"]' "$T/body")" \
	"constraints[0]: position 21: expected an operand, found the end of the expression" "message"
code=$(http POST /api/v1/tasks '[{"shell": "true"}, {"shell": "true", "constraints": "task.cpu <= worker.available_cpu &&& true"}]')
assert_eq "$code" 400 "status of a list with a bad constraint"
assert_contains "$(body)" "task 1: constraints[0]: position 36: '&' is not an operator" "list error"
after=$(api GET /api/v1/tasks | jq_py 'len(d["tasks"])')
assert_eq "$after" "$before" "tasks stored after the rejected submissions"

python3 - > suite.json <<'EOF2'
import json
tasks = []
def add(name, **kw):
    tasks.append(dict(name=name, shell="sleep 0.2", **kw))
for i in range(3):
    add(f"any_gpu_{i}", hardware=["cuda", "rocm"])
    add(f"all_cuda_{i}", requirements={"hardware": ["cuda"]})
    add(f"linux_{i}", constraints='worker.labels.os == "linux"')
    add(f"windows_{i}", constraints=["worker.labels.os == 'windows'", "worker.labels.zone in ['a']"])
    add(f"plain_{i}")
add("free_memory", constraints=["worker.available_memory >= 6000"])
add("big_gpu", hardware=["rocm", "cuda"], requirements={"gpu_memory": 10000},
    constraints=["task.gpu_memory <= worker.available_gpu_memory", "task.hardware in worker.hardware"])
add("zone_b_rocm", constraints=["worker.labels.zone == 'b' && 'rocm' in worker.hardware"])
add("impossible", constraints=["worker.labels.zone != 'z'", 'worker.labels.os == "macos"'])
print(json.dumps(tasks))
EOF2
out=$(dtf client --coordinator "$URL" submit-task --file suite.json) || fail "submit-task: $out"
RUN=$(cat .dtf/last-run)

runnable_done() {
	api GET "/api/v1/tasks?run_id=$RUN" > tasks.json
	[ "$(jq_py 'sum(1 for t in d["tasks"] if t["status"] in ("completed", "failed"))' tasks.json)" -ge 18 ]
}
wait_for -t 40 -m "the 18 runnable tasks to finish" runnable_done

python3 - tasks.json <<'EOF2' || fail "placement is wrong"
import json, sys
ts = {t["name"]: t for t in json.load(open(sys.argv[1]))["tasks"]}
may = {}
for i in range(3):
    may[f"any_gpu_{i}"] = {"cuda-a", "rocm-b"}
    may[f"all_cuda_{i}"] = {"cuda-a"}
    may[f"linux_{i}"] = {"cuda-a", "rocm-b"}
    may[f"windows_{i}"] = {"win-a"}
    may[f"plain_{i}"] = {"cuda-a", "rocm-b", "win-a"}
may["free_memory"] = {"cuda-a"}
may["big_gpu"] = {"cuda-a"}
may["zone_b_rocm"] = {"rocm-b"}
for name, allowed in may.items():
    t = ts[name]
    assert t["status"] == "completed", (name, t["status"], t.get("error"))
    ran_on = {t["worker_id"], t["result"]["worker_id"]} | {h["worker_id"] for h in t["history"]}
    assert ran_on <= allowed, f"{name} ran on {ran_on}, may run on {allowed}"
t = ts["impossible"]
assert t["status"] == "pending" and t["attempt"] == 0, (t["status"], t["attempt"])
assert t["schedulable"] is False, t
assert "worker.labels.os == \"macos\"" in t["pending_reason"], t["pending_reason"]
assert "zone" not in t["pending_reason"], t["pending_reason"]
EOF2

# Nothing ever ran on the reserved worker.
api GET "/api/v1/tasks?run_id=$RUN" > tasks.json
assert_eq "$(jq_py 'sum(1 for t in d["tasks"] if t.get("worker_id") == "reserved")' tasks.json)" 0 \
	"tasks on the reserved worker"
IMP=$(jq_py '[t["id"] for t in d["tasks"] if t["name"] == "impossible"][0]' tasks.json)
assert_eq "$(task_field "$IMP" 'd["status"]')" pending "status of the impossible task"
out=$(dtf client --coordinator "$URL" status --task "$IMP") || fail "dtf client status --task: $out"
assert_contains "$out" 'worker.labels.os == "macos"' "dtf client status --task"
api GET "/api/v1/runs/$RUN/summary" > summary.json
assert_eq "$(jq_py 'd["blocked_count"]' summary.json)" 1 "blocked_count"
assert_eq "$(jq_py 'd["completed"]' summary.json)" 18 "completed"

# After a restart the stored constraints are compiled again: the task is still held back, for the
# same reason, and a new task with a constraint still lands only where it may.
stop_coordinator
COORD_PORT_WANT=$COORD_PORT start_coordinator --config coord.yaml --constraint '"os" in worker.labels'
reason_names_macos() {
	task_field "$IMP" 'd.get("pending_reason", "")' | grep -qF 'worker.labels.os == "macos"'
}
wait_for -t 20 -m "the impossible task's reason after the restart" reason_names_macos
assert_eq "$(task_field "$IMP" 'd["status"]')" pending "status of the impossible task after the restart"
NEW=$(api POST /api/v1/tasks '{"name": "after_restart", "shell": "true", "constraints": "worker.labels.zone == \"b\""}' | jq_py 'd["id"]')
wait_for -t 30 -m "after_restart to complete" task_status_is "$NEW" completed
assert_eq "$(task_field "$NEW" 'd["worker_id"]')" rocm-b "worker of after_restart"
exit 0
