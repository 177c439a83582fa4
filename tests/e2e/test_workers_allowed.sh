#!/usr/bin/env bash
# Which workers may join: a coordinator with a list of workers (--allow-worker, or `workers:` in
# the config) refuses others with 403 and the refused worker exits non-zero;
# --worker-auto-discovery accepts any. Also seed 002's command lines:
#   dtf coordinator --host H --port P --worker-auto-discovery --batch-processing
#   dtf worker --coordinator-url URL --auto-register
#   dtf submit-task --coordinator-url URL --task-file task.json
. "$(dirname "$0")/lib.sh"

# run_refused ID: a worker with that id must be refused and exit non-zero by itself.
run_refused() {
	local id=$1 pid
	"$DTF_BIN" worker --coordinator "$URL" --worker-id "$id" --work-dir "$T/work/$id" \
		>> "worker-$id.log" 2>&1 &
	pid=$!
	track_pid $pid
	wait_exit $pid 20
	[ "$WAIT_RC" != 0 ] || fail "worker $id was refused but exited 0"
	[ "$WAIT_RC" -lt 128 ] || fail "worker $id died of signal $((WAIT_RC - 128)) instead of exiting"
	grep -q "403\|not listed\|not allowed\|refused" "worker-$id.log" ||
		fail "worker $id does not say why it stopped: $(tail -3 "worker-$id.log")"
}

# --- --allow-worker worker-1 ---
start_coordinator --allow-worker worker-1
start_worker worker-1
wait_worker worker-1
run_refused intruder
code=$(http POST /api/v1/workers/register '{"worker_id": "intruder", "protocol": 1}')
assert_eq "$code" 403 "registering an unlisted worker"
assert_eq "$(jq_py 'd["error"]["code"]' "$T/body")" worker_not_allowed "error code for an unlisted worker"
assert_contains "$(jq_py 'd["error"]["message"]' "$T/body")" intruder "error message for an unlisted worker"
# A worker without an id gets a generated one, which is not listed either.
code=$(http POST /api/v1/workers/register '{"protocol": 1}')
assert_eq "$code" 403 "registering a worker without an id"
assert_eq "$(api GET /api/v1/workers | jq_py '",".join(sorted(w["id"] for w in d["workers"]))')" worker-1 \
	"registered workers"
# The listed worker works.
TID=$(api POST /api/v1/tasks '{"name": "allowed", "command": ["true"]}' | jq_py 'd["id"]')
wait_for -t 20 -m "the task to complete" task_status_is "$TID" completed
kill -TERM "${WORKER_PID[worker-1]}"
wait_exit "${WORKER_PID[worker-1]}" 20
assert_eq "$WAIT_RC" 0 "worker-1 exit status"
stop_coordinator

# --- the same list from a config file ---
cat > coordinator.yaml <<'EOF'
coordinator:
  workers:
    - cfg-worker
EOF
COORD_DB="$T/coordinator-cfg.db"
start_coordinator --config coordinator.yaml
start_worker cfg-worker
wait_worker cfg-worker
run_refused worker-9
kill -TERM "${WORKER_PID[cfg-worker]}"
wait_exit "${WORKER_PID[cfg-worker]}" 20
stop_coordinator

# --- with --worker-auto-discovery any worker may join ---
COORD_DB="$T/coordinator2.db"
start_coordinator --allow-worker worker-1 --worker-auto-discovery
start_worker worker-1
start_worker intruder
wait_worker worker-1
wait_worker intruder
pid_alive "${WORKER_PID[intruder]}" || fail "intruder exited although auto-discovery is on"
kill -TERM "${WORKER_PID[worker-1]}" "${WORKER_PID[intruder]}"
wait_exit "${WORKER_PID[worker-1]}" 20
wait_exit "${WORKER_PID[intruder]}" 20
stop_coordinator

# --- seed 002's form ---
COORD_DB="$T/coordinator3.db"
start_coordinator --host 127.0.0.1 --worker-auto-discovery --batch-processing
"$DTF_BIN" worker --coordinator-url "$URL" --auto-register > worker-auto.log 2>&1 &
AUTO=$!
track_pid $AUTO
auto_registered() {
	api GET /api/v1/workers | jq_py '[w["id"] for w in d["workers"] if w.get("status") != "lost"]' > ids.json
	[ "$(jq_py 'len(d)' ids.json)" = 1 ]
}
wait_for -t 20 -m "the auto-registered worker" auto_registered
WID=$(jq_py 'd[0]' ids.json)
case "$WID" in w-*) ;; *) fail "the auto-registered worker got id '$WID', want a generated w-… id" ;; esac
python3 -c '
import json
print(json.dumps([{"name": "seed002_a", "command": ["echo", "from seed 002"]},
                  {"name": "seed002_b", "shell": "true", "model": "bert-base-uncased"}]))' > task.json
out=$(dtf submit-task --coordinator-url "$URL" --task-file task.json 2>&1) || fail "dtf submit-task: $out"
assert_contains "$out" "submitted 2 tasks" "dtf submit-task output"
RUN=$(cat .dtf/last-run)
out=$(dtf client --coordinator-url "$URL" wait-completion --run "$RUN" --timeout 30 2>/dev/null)
assert_eq "$?" 0 "wait-completion of the seed 002 run ($out)"
api GET "/api/v1/tasks?run_id=$RUN" > tasks.json
python3 - tasks.json "$WID" <<'EOF' || fail "the seed 002 tasks did not run as expected"
import json, sys
ts = {t["name"]: t for t in json.load(open(sys.argv[1]))["tasks"]}
assert set(ts) == {"seed002_a", "seed002_b"}, set(ts)
for t in ts.values():
    assert t["status"] == "completed", t
    assert t["result"]["worker_id"] == sys.argv[2], t["result"]
assert "from seed 002" in ts["seed002_a"]["result"]["stdout"]
# Unknown fields are the task's own parameters, and the model is the batch key.
assert ts["seed002_b"]["params"]["model"] == "bert-base-uncased", ts["seed002_b"]
assert ts["seed002_b"].get("batch_key") == "bert-base-uncased", ts["seed002_b"]
EOF
# A single task object in the file works too.
echo '{"name": "single_object", "command": ["true"]}' > one.json
out=$(dtf submit-task --coordinator-url "$URL" --task-file one.json 2>&1) || fail "dtf submit-task (one task): $out"
assert_contains "$out" "submitted 1 task as run" "dtf submit-task output (one task)"
out=$(dtf client --coordinator-url "$URL" wait-completion --timeout 30 2>/dev/null)
assert_eq "$?" 0 "wait-completion of the single task ($out)"
kill -TERM $AUTO
wait_exit $AUTO 20
assert_eq "$WAIT_RC" 0 "the auto-registered worker's exit status"
exit 0
