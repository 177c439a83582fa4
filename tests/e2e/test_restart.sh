#!/usr/bin/env bash
# Durability (DESIGN.md §7, §8): a coordinator killed with SIGKILL in the middle of a run restarts
# on the same database and port; the workers keep running, hold their results while it is down
# and reconnect; the run finishes with every task completed exactly once, and nothing that was
# acknowledged before the kill (accepted tasks, recorded results) is lost.
. "$(dirname "$0")/lib.sh"

N=40
start_coordinator
start_worker worker-1
start_worker worker-2
wait_worker worker-1
wait_worker worker-2

# 40 tasks of 0.1-0.3 s; each notes every execution in ran.log (appends are atomic).
python3 - "$N" "$T/ran.log" > tasks.json <<'EOF'
import json, sys
n, log = int(sys.argv[1]), sys.argv[2]
tasks = [{"name": f"t{i:02d}",
          "shell": f'echo "$DTF_TASK_ID $DTF_ATTEMPT" >> {log}; sleep 0.{1 + i % 3}'}
         for i in range(n)]
print(json.dumps({"tasks": tasks, "run": {"name": "restart"}}))
EOF
api POST /api/v1/tasks @tasks.json > submit.json
RUN=$(jq_py 'd["run_id"]' submit.json)
assert_eq "$(jq_py 'd["count"]' submit.json)" "$N" "tasks accepted"
jq_py '"\n".join(d["ids"])' submit.json | sort > acked_ids.txt

wait_for -t 30 -m "10 tasks to complete" run_completed_at_least "$RUN" 10

# What the coordinator has acknowledged so far: every result it recorded.
api GET "/api/v1/tasks?run_id=$RUN" > before.json
jq_py '{t["id"]: t.get("finished_at") for t in d["tasks"] if t["status"] == "completed"}' \
	before.json > done_before.json
ndone=$(python3 -c 'import json; print(len(json.load(open("done_before.json"))))')
log "killing the coordinator with $ndone of $N tasks completed"
OLD_PORT=$COORD_PORT
stop_coordinator KILL

# Down for a moment: tasks finish meanwhile and their results must be held by the workers.
sleep 1
COORD_PORT_WANT=$OLD_PORT start_coordinator
assert_eq "$COORD_PORT" "$OLD_PORT" "port after the restart"
# Every accepted task is back at once, finished or not.
assert_eq "$(api GET "/api/v1/tasks?run_id=$RUN" | jq_py 'd["total"]')" "$N" "tasks of the run after the restart"

run_done() {
	[ "$(curl -s --max-time 5 "$URL/api/v1/runs/$RUN/summary" | jq_py 'd["done"]' 2>/dev/null)" = true ]
}
wait_for -t 60 -m "the run to finish after the restart" run_done

api GET "/api/v1/tasks?run_id=$RUN" > after.json
api GET "/api/v1/runs/$RUN/summary" > summary.json
python3 - "$N" <<'EOF' || fail "the run after the restart is not what it should be"
import json, sys, collections
n = int(sys.argv[1])
after = json.load(open("after.json"))["tasks"]
summary = json.load(open("summary.json"))
acked = open("acked_ids.txt").read().split()
done_before = json.load(open("done_before.json"))
ran = collections.Counter(line.split()[0] for line in open("ran.log") if line.strip())
by_id = {t["id"]: t for t in after}

# Every accepted task is there, and nothing else.
assert sorted(by_id) == sorted(acked), f"tasks after the restart differ: {sorted(set(acked) ^ set(by_id))}"
assert summary["total"] == n and summary["completed"] == n, summary
assert sum(1 for t in after if t["status"] == "completed") == n, [t["status"] for t in after]
for tid, t in by_id.items():
    hist = t.get("history", [])
    passed = [h for h in hist if h["outcome"] == "passed"]
    # Completed exactly once: one passing attempt, and it is the last one.
    assert len(passed) == 1, f"{tid}: {len(passed)} passing attempts: {hist}"
    assert hist[-1]["outcome"] == "passed", f"{tid}: {hist}"
    # One history entry per attempt the coordinator handed out.
    assert t["attempt"] == len(hist), f"{tid}: attempt {t['attempt']} but history {hist}"
    assert passed[0]["attempt"] == t["attempt"], f"{tid}: {hist}"
    assert t["result"]["exit_code"] == 0, t["result"]
    # It ran at least once, and never more often than it was handed out.
    assert 1 <= ran[tid] <= t["attempt"], f"{tid}: ran {ran[tid]} times, {t['attempt']} attempts"
# Results acknowledged before the kill are intact (not redone, not re-recorded).
for tid, fin in done_before.items():
    t = by_id[tid]
    assert t["status"] == "completed" and t.get("finished_at") == fin, f"{tid}: {t.get('finished_at')} != {fin}"
    assert ran[tid] == 1, f"{tid} completed before the kill but ran {ran[tid]} times"
reruns = sum(1 for tid in by_id if by_id[tid]["attempt"] > 1)
print(f"restart ok: {len(done_before)} done before the kill, {reruns} tasks needed a second attempt")
EOF

# The workers stayed up through the restart and are still registered with it.
for w in worker-1 worker-2; do
	pid_alive "${WORKER_PID[$w]}" || fail "$w exited during the restart"
	worker_registered "$w" || fail "$w is not registered after the restart"
done

# A task whose assignment was committed but whose lease reply never reached the worker (the
# coordinator killed between its commit and the reply) goes back to pending: the worker's
# heartbeat lists what it holds, and the coordinator requeues what it does not. A fake worker
# that drops a lease reply shows it.
api POST /api/v1/workers/register '{"worker_id": "ghost", "protocol": 1, "capabilities": {"hardware": ["ghost-hw"]}}' > ghost.json
GHOST_TOKEN=$(jq_py 'd["token"]' ghost.json)
G=$(api POST /api/v1/tasks '{"name": "lost_lease", "command": ["true"], "hardware": "ghost-hw"}' | jq_py 'd["id"]')
code=$(http POST /api/v1/workers/ghost/lease '{"protocol": 1, "max": 1}' -H "X-DTF-Worker-Token: $GHOST_TOKEN")
assert_eq "$(task_field "$G" 'd["status"]')" assigned "lost_lease after the lease"
OLD_PORT=$COORD_PORT; stop_coordinator KILL; COORD_PORT_WANT=$OLD_PORT start_coordinator
ghost_alive_without_it() {
	http POST /api/v1/workers/ghost/heartbeat '{"protocol": 1, "running": []}' -H "X-DTF-Worker-Token: $GHOST_TOKEN" > /dev/null
	[ "$(task_field "$G" 'd["status"]')" = pending ]
}
wait_for -t 20 -m "the undelivered task to go back to pending" ghost_alive_without_it
exit 0
