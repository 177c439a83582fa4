#!/usr/bin/env bash
# Lease-ahead: a worker whose slots are all taken may ask for `ahead` tasks to queue (at most one
# per slot); the coordinator gives them only while what other waiting workers ask for stays
# pending. Checked on the API with workers registered by hand, then on a real one-slot worker:
# short tasks (below its --lease-ahead-below) are leased ahead (a task is assigned before the
# previous one finished), longer ones are not (each is assigned only once the previous one
# finished).
. "$(dirname "$0")/lib.sh"

# The hand-registered workers send no heartbeat, and the API checks between their calls took more
# than the default 15 s on a loaded machine: no worker is to be lost here.
start_coordinator --heartbeat-timeout 300

# --- the API: two hand-registered one-slot workers ---
api POST /api/v1/workers/register \
	'{"worker_id": "la-1", "protocol": 1, "slots": 1, "capabilities": {"hardware": ["la-hw"]}}' > la1.json
TOK1=$(jq_py 'd["token"]' la1.json)
api POST /api/v1/workers/register \
	'{"worker_id": "la-2", "protocol": 1, "slots": 1, "capabilities": {"hardware": ["other-hw"]}}' > la2.json
TOK2=$(jq_py 'd["token"]' la2.json)
python3 - > la_tasks.json <<'EOF'
import json
print(json.dumps({"tasks": [{"name": "la-%d" % i, "command": ["true"], "hardware": "la-hw"}
                            for i in range(6)]}))
EOF
api POST /api/v1/tasks @la_tasks.json > /dev/null

lease1() { http POST /api/v1/workers/la-1/lease "$1" -H "X-DTF-Worker-Token: $TOK1"; }

code=$(lease1 '{"protocol": 1, "max": 1, "ahead": 99}')
assert_eq "$code" 400 "ahead out of range ($(body))"
assert_contains "$(body)" invalid_lease "error for ahead=99"

# One task for the free slot and one queued ahead.
code=$(lease1 '{"protocol": 1, "max": 1, "ahead": 1}')
assert_eq "$code" 200 "lease with ahead ($(body))"
mapfile -t IDS < <(jq_py '"\n".join(t["id"] for t in d["tasks"])' "$T/body")
assert_eq "${#IDS[@]}" 2 "tasks given for max 1 + ahead 1"
for id in "${IDS[@]}"; do
	assert_eq "$(task_field "$id" '[d["status"], d["worker_id"]]')" '["assigned", "la-1"]' "task $id"
done
assert_eq "$(metric dtf_leased_ahead_total)" 1 "dtf_leased_ahead_total"
# At most one queued task per slot, whatever is asked.
code=$(lease1 '{"protocol": 1, "max": 0, "ahead": 5}')
assert_eq "$code" 200 "second lease with ahead ($(body))"
assert_eq "$(jq_py 'len(d["tasks"])' "$T/body")" 0 "tasks given past one queued per slot"

# A result with the next request: its slot goes to the queued task, and one more comes ahead.
result() {
	printf '{"task_id": "%s", "worker_id": "la-1", "attempt": 1, "outcome": "passed", "result": {"exit_code": 0, "stdout": "", "stderr": ""}}' "$1"
}
code=$(lease1 "{\"protocol\": 1, \"max\": 0, \"ahead\": 1, \"results\": [$(result "${IDS[0]}")]}")
assert_eq "$code" 200 "lease with a result ($(body))"
assert_eq "$(jq_py '[r["accepted"] for r in d["results"]]' "$T/body")" "[true]" "result acknowledgement"
assert_eq "$(jq_py 'len(d["tasks"])' "$T/body")" 1 "tasks given ahead after a result"
NEXT=$(jq_py 'd["tasks"][0]["id"]' "$T/body")
assert_eq "$(task_field "${IDS[0]}" 'd["status"]')" completed "the reported task"

# la-2 parks a long-poll for 10 tasks: the 3 pending ones stay for it, so no lease-ahead.
curl -s -o parked.json -w '%{http_code}' --max-time 30 -X POST -H "X-DTF-Worker-Token: $TOK2" \
	-H 'Content-Type: application/json' --data-binary '{"protocol": 1, "max": 10, "wait_s": 4}' \
	"$URL/api/v1/workers/la-2/lease" > parked.code &
PARKED=$!
wait_for -t 10 -m "la-2's long-poll to be parked" eval '[ "$(metric dtf_lease_waiters)" = 1 ]'
code=$(lease1 "{\"protocol\": 1, \"max\": 0, \"ahead\": 1, \"results\": [$(result "${IDS[1]}")]}")
assert_eq "$code" 200 "lease while another worker waits ($(body))"
assert_eq "$(jq_py 'len(d["tasks"])' "$T/body")" 0 "tasks given ahead while another worker waits"
assert_eq "$(metric dtf_lease_waiters)" 1 "la-2's long-poll is still parked after la-1's results"
wait "$PARKED"
assert_eq "$(cat parked.code)" 200 "la-2's long-poll answer"
assert_eq "$(jq_py 'len(d["tasks"])' parked.json)" 0 "tasks for la-2 (it has no la-hw)"
# Nobody waits any more: lease-ahead again.
code=$(lease1 '{"protocol": 1, "max": 0, "ahead": 1}')
assert_eq "$(jq_py 'len(d["tasks"])' "$T/body")" 1 "tasks given ahead once nobody waits ($code)"
assert_eq "$(metric dtf_leased_ahead_total)" 3 "dtf_leased_ahead_total"

# --- a real one-slot worker ---
# A task is short below 0.5 s here, not the default 50 ms: on a loaded machine (a sanitizer build
# above all) starting the process of a 10 ms task alone may take longer than 50 ms.
start_worker real-1 --slots 1 --hardware real-hw --lease-ahead-below 0.5
wait_worker real-1

# overlaps RUN: how many of the run's tasks were assigned before the previous one finished.
overlaps() {
	api GET "/api/v1/tasks?run_id=$1&limit=1000" > run.json
	python3 - run.json <<'EOF'
import json, sys
ts = [t for t in json.load(open(sys.argv[1]))["tasks"] if t["status"] == "completed"]
ts.sort(key=lambda t: t["assigned_at"])
print(sum(1 for a, b in zip(ts, ts[1:]) if b["assigned_at"] < a["finished_at"]))
EOF
}
run_suite() {
	# run_suite SECONDS COUNT: COUNT tasks sleeping SECONDS on real-hw, waited for; sets RUN.
	python3 - "$1" "$2" > suite.json <<'EOF'
import json, sys
s, n = sys.argv[1], int(sys.argv[2])
print(json.dumps({"tasks": [{"name": "s-%d" % i, "command": ["sleep", s], "hardware": "real-hw"}
                            for i in range(n)]}))
EOF
	api POST /api/v1/tasks @suite.json > suite.out
	RUN=$(jq_py 'd["run_id"]' suite.out)
	http GET "/api/v1/runs/$RUN/summary?wait_s=60" > /dev/null
	[ "$(jq_py 'd["completed"]' "$T/body")" = "$2" ] || fail "run of $2 x sleep $1: $(body)"
}
# Tasks of 10 ms are short: the worker queues the next one while one runs.
run_suite 0.01 30
n=$(overlaps "$RUN")
log "short tasks: $n of 29 assigned before the previous one finished"
[ "$n" -ge 20 ] || fail "only $n of 29 short tasks were leased ahead"
# Tasks of 0.6 s are not: each is assigned once the slot is free.
run_suite 0.6 4
assert_eq "$(overlaps "$RUN")" 0 "long tasks assigned before the previous one finished"
exit 0
