#!/usr/bin/env bash
# Coordinator crashes (issue 5, DESIGN.md §7, §8): a 500-task run on 2 workers of 2 slots while
# the coordinator is killed with SIGKILL at 10 or more random instants and restarted each time on
# the same database and port; the workers keep running (they hold their results and retry with
# backoff while it is down). Tasks are submitted in batches between the crashes. At the end:
#  - the run finishes with exactly the 500 tasks whose ids the coordinator acknowledged, every one
#    completed, each with exactly one passing attempt, the last one, and attempt == len(history):
#    no result recorded twice, no acknowledged task lost;
#  - every attempt really ran at most once, and a task ran more than once only when its history
#    shows why (an attempt requeued after a crash); the count of such re-executions is reported;
#  - /metrics says dtf_tasks{status="completed"} 500.
# FAULTS_SEED=N repeats a run's kill schedule (it is printed).
. "$(dirname "$0")/faults_lib.sh"

N=500
FIRST=260          # tasks in the first batch; the rest come in batches of BATCH between kills
BATCH=20
MIN_KILLS=10
MAX_KILLS=20
SEED=${FAULTS_SEED:-$$}
RANDOM=$SEED
log "kill schedule seed $SEED (FAULTS_SEED=$SEED repeats it)"

start_coordinator
for w in 1 2; do start_worker "crash-$w" --slots 2; done
for w in 1 2; do wait_worker "crash-$w"; done
RUN=$(api POST /api/v1/runs '{"name": "coordinator-crashes"}' | jq_py 'd["id"]')

# Every execution appends "task attempt worker" to $RAN (appends of a line are atomic). One
# task in ten returns at once, the others sleep 0.1-0.2 s: about 20 s of work for the 4 slots,
# long enough for 10 kills (one every second or so, restart included) to land while tasks run.
# In a sanitizer build (SCALE 3), where a restart takes longer, the sleeps are 1.5 times longer.
# On a loaded machine a restart may take so long that the workers run out of work before the
# tenth kill: so the first task of batch K (K < MIN_KILLS; batch K goes in after kill K) runs
# until kill K+1 has been made (the file killed-(K+1); a minute at most), and every one of the
# first MIN_KILLS kills lands while the run has unfinished work, however slow the machine.
python3 - "$N" "$FIRST" "$BATCH" "$RUN" "$RAN" "$SCALE" "$MIN_KILLS" "$T" <<'EOF'
import json, sys
n, first, batch, run, log = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
slow = 1 + (int(sys.argv[6]) - 1) / 4
min_kills, tmp = int(sys.argv[7]), sys.argv[8]
tasks = []
for i in range(n):
    sh = f'echo "$DTF_TASK_ID $DTF_ATTEMPT $DTF_WORKER_ID" >> {log}'
    if i % 10:
        sh += "; sleep %.2f" % ((0.1, 0.15, 0.2, 0.2)[i % 4] * slow)
    tasks.append({"name": f"c{i:03d}", "shell": sh})
batches = [tasks[:first]] + [tasks[j:j + batch] for j in range(first, n, batch)]
for k in range(min(min_kills, len(batches))):
    b = batches[k][0]
    b["shell"] = (f'echo "$DTF_TASK_ID $DTF_ATTEMPT $DTF_WORKER_ID" >> {log}; i=0; '
                  f'while [ ! -e {tmp}/killed-{k + 1} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done')
for k, b in enumerate(batches):
    json.dump({"run_id": run, "tasks": b}, open(f"batch-{k}.json", "w"))
EOF
NBATCHES=$(ls batch-*.json | wc -l)
: > acked_ids.txt
submit_batch() {
	api POST /api/v1/tasks "@batch-$1.json" > "acked-$1.json"
	assert_eq "$(jq_py 'd["run_id"]' "acked-$1.json")" "$RUN" "run of batch $1"
	jq_py '"\n".join(d["ids"])' "acked-$1.json" >> acked_ids.txt
}
submit_batch 0
NEXT=1

summary() { curl -s --max-time 5 "$URL/api/v1/runs/$RUN/summary"; }
run_done() { [ "$(summary | jq_py 'd["done"]' 2>/dev/null)" = true ]; }
unfinished() { summary | jq_py 'd["pending"] + d["assigned"] + d["running"]'; }

# Kill at random instants (0.1-0.6 s after it serves again) while the run has unfinished tasks,
# MAX_KILLS times at most; at least MIN_KILLS kills must hit unfinished tasks. When the workers
# have caught up (no unfinished task), the next batch goes in instead of a kill. Then the batches
# left are submitted and the run must end.
kills=0 busy_kills=0
while [ "$kills" -lt "$MAX_KILLS" ]; do
	sleep "$(awk -v ms=$(( RANDOM % 500 + 100 )) 'BEGIN { printf "%.3f", ms / 1000 }')"
	left=$(unfinished) || fail "no summary of the run before kill $((kills + 1))"
	if [ "$left" = 0 ]; then
		[ "$NEXT" -lt "$NBATCHES" ] || break # the run is over: further kills would not hit it
		# The workers caught up (a slow restart): give the next kill work to land in.
		submit_batch "$NEXT"
		NEXT=$((NEXT + 1))
		continue
	fi
	OLD_PORT=$COORD_PORT
	stop_coordinator KILL
	kills=$((kills + 1))
	touch "$T/killed-$kills"
	[ "$left" -gt 0 ] && busy_kills=$((busy_kills + 1))
	COORD_PORT_WANT=$OLD_PORT start_coordinator
	assert_eq "$COORD_PORT" "$OLD_PORT" "port after restart $kills"
	# Everything acknowledged so far is there after each restart.
	assert_eq "$(summary | jq_py 'd["total"]')" "$(wc -l < acked_ids.txt)" "tasks of the run after restart $kills"
	if [ "$NEXT" -lt "$NBATCHES" ]; then
		submit_batch "$NEXT"
		NEXT=$((NEXT + 1))
	fi
	log "kill $kills done ($left unfinished before it; $(wc -l < acked_ids.txt) tasks submitted)"
done
while [ "$NEXT" -lt "$NBATCHES" ]; do
	submit_batch "$NEXT"
	NEXT=$((NEXT + 1))
done
[ "$busy_kills" -ge "$MIN_KILLS" ] || fail "only $busy_kills of $kills kills hit unfinished work"
assert_eq "$(wc -l < acked_ids.txt)" "$N" "acknowledged tasks"

wait_for -t 60 -m "the run to finish after $kills coordinator kills" run_done

api GET "/api/v1/tasks?run_id=$RUN&limit=1000" > final.json
api GET "/api/v1/runs/$RUN/summary" > summary.json
python3 - "$N" "$RAN" <<'EOF' || fail "the run after $kills coordinator kills is not what it should be"
import json, sys, collections
n = int(sys.argv[1])
tasks = json.load(open("final.json"))
summary = json.load(open("summary.json"))
acked = open("acked_ids.txt").read().split()
runs = [tuple(line.split()) for line in open(sys.argv[2]) if line.strip()]
by_id = {t["id"]: t for t in tasks["tasks"]}

assert len(acked) == n and len(set(acked)) == n, f"{len(acked)} acknowledged ids, {len(set(acked))} distinct"
assert tasks["total"] == n and len(by_id) == n, (tasks["total"], len(by_id))
# Exactly the acknowledged tasks: none lost, none made up.
assert set(by_id) == set(acked), f"differ: {sorted(set(by_id) ^ set(acked))[:10]}"
assert summary["total"] == n and summary["completed"] == n and summary["done"], summary
per_attempt = collections.Counter((tid, int(att)) for tid, att, _ in runs)
ran = collections.Counter(tid for tid, _, _ in runs)
assert set(ran) <= set(by_id), f"executions of unknown tasks: {sorted(set(ran) - set(by_id))[:5]}"
twice = [k for k, c in per_attempt.items() if c > 1]
assert not twice, f"attempts executed more than once: {twice[:10]}"
reexec, why = 0, collections.Counter()
for tid, t in by_id.items():
    h = t.get("history", [])
    assert t["status"] == "completed", f"{tid}: {t['status']} {h}"
    passed = [x for x in h if x["outcome"] == "passed"]
    # One result recorded: one passing attempt, the last, the task's current attempt.
    assert len(passed) == 1, f"{tid}: {len(passed)} passing attempts: {h}"
    assert h[-1]["outcome"] == "passed" and passed[0]["attempt"] == t["attempt"], f"{tid}: {h}"
    # One history entry per attempt handed out, numbered 1..attempt.
    assert t["attempt"] == len(h), f"{tid}: attempt {t['attempt']} but history {h}"
    assert [x["attempt"] for x in h] == list(range(1, len(h) + 1)), f"{tid}: {h}"
    assert all(x["outcome"] == "requeued" and x.get("error_kind") for x in h[:-1]), f"{tid}: {h}"
    assert t["result"]["exit_code"] == 0 and t["result"]["worker_id"] == passed[0]["worker_id"], t["result"]
    # The passing attempt really ran, on the worker the result names; no attempt ran that the
    # coordinator did not hand out.
    assert (tid, t["attempt"]) in per_attempt, f"{tid}: passing attempt {t['attempt']} never ran"
    assert 1 <= ran[tid] <= t["attempt"], f"{tid}: ran {ran[tid]} times in {t['attempt']} attempts"
    assert all(1 <= a <= t["attempt"] for (i, a) in per_attempt if i == tid), f"{tid}"
    if ran[tid] > 1:
        reexec += ran[tid] - 1
    for x in h[:-1]:
        why[x["error_kind"]] += 1
retried = sum(1 for t in by_id.values() if t["attempt"] > 1)
print(f"{n} tasks completed exactly once; {retried} needed more than one attempt "
      f"({dict(why)}); {reexec} re-executions of tasks whose lease was lost in a crash; "
      f"{len(runs)} executions in all")
EOF
metric_completed=$(curl -s --max-time 5 "$URL/metrics" | awk '$1 == "dtf_tasks{status=\"completed\"}" { print $2 }')
assert_eq "$metric_completed" "$N" 'dtf_tasks{status="completed"} in /metrics'
# The workers stayed up through every crash and are registered with the last coordinator.
for w in 1 2; do
	pid_alive "${WORKER_PID[crash-$w]}" || fail "crash-$w exited"
	worker_registered "crash-$w" || fail "crash-$w is not registered at the end"
done
log "$kills coordinator kills ($busy_kills with unfinished work); the workers held a message" \
	"$(cat "$T"/worker-crash-*.log | grep -c 'holding the message') times while it was down and had" \
	"$(cat "$T"/worker-crash-*.log | grep -c ' refused: ') refused as already recorded"
exit 0
