#!/usr/bin/env bash
# Hardware-aware placement (DESIGN.md §4, §6) with capabilities given on the command line: tasks
# that need cuda and 8000 MiB of GPU memory run only on the worker that offers them; plain tasks
# run anywhere; a task nobody can run (rocm, too much GPU memory) stays pending with a reason
# naming what is missing, which `dtf client status` shows.
. "$(dirname "$0")/lib.sh"

start_coordinator
start_worker gpu-1 --hardware cuda --capabilities '{"gpu_memory": 16000}'
start_worker cpu-1
wait_worker gpu-1
wait_worker cpu-1

# The coordinator sees what each worker offers.
api GET /api/v1/workers/gpu-1 > gpu1.json
assert_eq "$(jq_py '"cuda" in d["capabilities"]["hardware"]' gpu1.json)" true "gpu-1 offers cuda"
assert_eq "$(jq_py 'd["capabilities"]["gpu_memory"]' gpu1.json)" 16000 "gpu-1 gpu_memory"
api GET /api/v1/workers/cpu-1 > cpu1.json
assert_eq "$(jq_py '"cuda" in d["capabilities"]["hardware"]' cpu1.json)" false "cpu-1 offers cuda"
out=$(dtf client --coordinator "$URL" workers) || fail "dtf client workers"
assert_contains "$out" "gpu-1" "dtf client workers"
assert_contains "$(printf '%s\n' "$out" | grep gpu-1)" cuda "dtf client workers (gpu-1 line)"

# A first cuda task that runs until it has been seen running (the file $T/cuda_long.go; a minute
# at most: a 1 s task could end between two polls on a loaded machine): its worker_id is gpu-1.
FIRST=$(api POST /api/v1/tasks '{"name": "cuda_long", "hardware": "cuda", "requirements": {"gpu_memory": 8000},
	"shell": "i=0; while [ ! -e '"$T"'/cuda_long.go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done"}' | jq_py 'd["id"]')
wait_for -t 20 -m "cuda_long to run" task_status_is "$FIRST" running
assert_eq "$(task_field "$FIRST" 'd.get("worker_id")')" gpu-1 "worker_id of the running cuda task"
touch "$T/cuda_long.go"

# Then 6 more cuda tasks (both spellings of the need), 6 plain ones, and three nobody can run.
python3 - > suite.json <<'EOF'
import json
tasks = []
for i in range(6):
    t = {"name": f"cuda_{i}", "shell": "sleep 0.2; echo gpu work",
         "requirements": {"gpu_memory": 8000}}
    if i % 2:
        t["hardware"] = "cuda"
    else:
        t["requirements"]["hardware"] = ["cuda"]
    tasks.append(t)
tasks += [{"name": f"plain_{i}", "shell": "sleep 0.2"} for i in range(6)]
tasks.append({"name": "needs_rocm", "command": ["rocminfo"], "hardware": "rocm"})
tasks.append({"name": "needs_both", "command": ["true"], "hardware": "cuda",
              "requirements": {"hardware": ["cuda", "rocm"]}})
tasks.append({"name": "too_big", "command": ["true"], "hardware": "cuda",
              "requirements": {"gpu_memory": 32000}})
print(json.dumps(tasks))
EOF
out=$(dtf client --coordinator "$URL" submit-task --file suite.json) || fail "submit-task: $out"
RUN=$(cat .dtf/last-run)

all_runnable_done() {
	api GET "/api/v1/tasks?run_id=$RUN" > tasks.json
	[ "$(jq_py 'sum(1 for t in d["tasks"] if t["status"] in ("completed", "failed"))' tasks.json)" = 12 ]
}
wait_for -t 30 -m "the 12 runnable tasks to finish" all_runnable_done
wait_for -t 20 -m "cuda_long to complete" task_status_is "$FIRST" completed
assert_eq "$(task_field "$FIRST" 'd["result"]["worker_id"]')" gpu-1 "worker of cuda_long"

python3 - tasks.json <<'EOF' || fail "placement is wrong"
import json, sys
ts = {t["name"]: t for t in json.load(open(sys.argv[1]))["tasks"]}
for i in range(6):
    t = ts[f"cuda_{i}"]
    assert t["status"] == "completed", (t["name"], t["status"], t.get("error"))
    ran_on = {t["result"]["worker_id"], t["history"][-1]["worker_id"]}
    assert ran_on == {"gpu-1"}, f"{t['name']} ran on {ran_on}"
plain_on = [ts[f"plain_{i}"]["result"]["worker_id"] for i in range(6)]
assert all(ts[f"plain_{i}"]["status"] == "completed" for i in range(6))
assert set(plain_on) <= {"gpu-1", "cpu-1"}, plain_on
# With gpu-1 busy with the cuda tasks, cpu-1 is not left idle.
assert "cpu-1" in plain_on, f"no plain task ran on cpu-1: {plain_on}"
for name in ("needs_rocm", "needs_both", "too_big"):
    t = ts[name]
    assert t["status"] == "pending" and t["attempt"] == 0, (name, t["status"], t["attempt"])
    assert t["schedulable"] is False, (name, t)
assert "rocm" in ts["needs_rocm"]["pending_reason"], ts["needs_rocm"]["pending_reason"]
assert "rocm" in ts["needs_both"]["pending_reason"], ts["needs_both"]["pending_reason"]
print("too_big:", ts["too_big"]["pending_reason"])
EOF

# The blocked tasks stay blocked (nothing picks them up a little later either).
ROCM=$(jq_py '[t["id"] for t in d["tasks"] if t["name"] == "needs_rocm"][0]' tasks.json)
reason=$(task_field "$ROCM" 'd["pending_reason"]')
assert_contains "$reason" rocm "pending_reason of needs_rocm"

# `dtf client status` shows the reason, for the run and for the task.
out=$(dtf client --coordinator "$URL" status) || fail "dtf client status: $out"
line=$(printf '%s\n' "$out" | grep needs_rocm) || fail "dtf client status does not list needs_rocm: $out"
assert_contains "$line" pending "status line of needs_rocm"
assert_contains "$line" rocm "status line of needs_rocm"
line=$(printf '%s\n' "$out" | grep cuda_0) || fail "dtf client status does not list cuda_0: $out"
assert_contains "$line" completed "status line of cuda_0"
out=$(dtf client --coordinator "$URL" status --task "$ROCM") || fail "dtf client status --task: $out"
assert_contains "$out" rocm "dtf client status --task"
assert_contains "$out" pending "dtf client status --task"

# The run summary counts them as blocked.
api GET "/api/v1/runs/$RUN/summary" > summary.json
assert_eq "$(jq_py 'd["blocked_count"]' summary.json)" 3 "blocked_count"
assert_eq "$(jq_py 'd["completed"]' summary.json)" 12 "completed"
exit 0
