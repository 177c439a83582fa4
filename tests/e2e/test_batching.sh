#!/usr/bin/env bash
# Batching (--batch-processing): pending tasks with the same batch_key (by default params.model)
# and the same hardware are leased together to one worker, at most --batch-size-limit at a time;
# each member sees its batch in DTF_BATCH_ID; /metrics counts batches. Tasks of another model or
# without one are not mixed in.
. "$(dirname "$0")/lib.sh"

start_coordinator --batch-processing --batch-size-limit 3
python3 - > suite.json <<'EOF'
import json
tasks = [{"name": f"llama_{i}", "shell": 'echo "batch=$DTF_BATCH_ID"',
          "params": {"model": "llama"}} for i in range(6)]
tasks += [{"name": f"bert_{i}", "shell": 'echo "batch=$DTF_BATCH_ID"',
           "params": {"model": "bert"}} for i in range(2)]
tasks.append({"name": "plain", "shell": 'echo "batch=$DTF_BATCH_ID"'})
print(json.dumps(tasks))
EOF
out=$(dtf client --coordinator "$URL" submit-task --file suite.json) || fail "submit-task: $out"
RUN=$(cat .dtf/last-run)
# The worker comes after the tasks, so its first lease sees them all.
start_worker w1 --slots 8
all_done() {
	api GET "/api/v1/tasks?run_id=$RUN" > tasks.json
	[ "$(jq_py 'sum(1 for t in d["tasks"] if t["status"] == "completed")' tasks.json)" = 9 ]
}
wait_for -t 30 -m "the 9 tasks to complete" all_done

python3 - tasks.json <<'EOF' || fail "batches are wrong"
import json, sys, collections
ts = json.load(open(sys.argv[1]))["tasks"]
batches = collections.defaultdict(list)
for t in ts:
    out = t["result"]["stdout"].strip()
    b = t.get("batch_id")
    # What the task saw is what the coordinator recorded.
    assert out == f"batch={b or ''}", (t["name"], out, b)
    if b:
        batches[b].append(t)
assert batches, "no batch at all"
for b, members in batches.items():
    models = {m["params"].get("model") for m in members}
    assert len(models) == 1 and None not in models, (b, models)
    assert 2 <= len(members) <= 3, (b, len(members))
    assert len({m["result"]["worker_id"] for m in members}) == 1, b
sizes = sorted(len(m) for m in batches.values())
assert sizes.count(3) >= 1, sizes
plain = [t for t in ts if t["name"] == "plain"][0]
assert "batch_id" not in plain, plain
print("batch sizes:", sizes)
EOF
api GET /metrics > metrics.txt
n=$(awk '$1 == "dtf_batches_total" {print $2}' metrics.txt)
[ -n "$n" ] && [ "$n" -ge 1 ] || fail "dtf_batches_total is '$n'"
assert_contains "$(cat metrics.txt)" 'dtf_batch_size_bucket{le="4"}' "batch size histogram"
api GET /api/v1/scheduler > sched.json
assert_eq "$(jq_py 'd["batch_processing"]' sched.json)" true "batch_processing shown"
assert_eq "$(jq_py 'd["batch_size_limit"]' sched.json)" 3 "batch_size_limit shown"
log "ok"
