#!/usr/bin/env bash
# GET /api/v1/events (server-sent events): a client sees each task's status changes and the
# workers' registrations as they happen, can filter by run, and resumes after a reconnect from
# Last-Event-ID without missing an event.
. "$(dirname "$0")/lib.sh"

start_coordinator
curl -sN --max-time 60 "$URL/api/v1/events" > "$T/all.txt" &
ALL=$!
track_pid "$ALL"
wait_for -t 10 -m "the event stream to open" grep -q "dtf events" "$T/all.txt"

start_worker ev-1
wait_worker ev-1
wait_for -t 10 -m "the worker's registration event" grep -q '"id":"ev-1"' "$T/all.txt"

RUN=$(api POST /api/v1/tasks '{"tasks": [{"name": "ev_pass", "command": ["true"]}, {"name": "ev_fail", "command": ["false"]}]}' | jq_py 'd["run_id"]')
# From the start of the ring (Last-Event-ID: 0), so nothing is missed if the run is already done.
curl -sN --max-time 60 -H "Last-Event-ID: 0" "$URL/api/v1/events?run_id=$RUN" > "$T/run.txt" &
track_pid "$!"
OTHER=$(api POST /api/v1/tasks '{"name": "ev_other", "command": ["true"]}' | jq_py 'd["id"]')

all_final() {
	grep -q '"name":"ev_pass","status":"completed"' "$T/all.txt" &&
		grep -q '"name":"ev_fail","status":"failed"' "$T/all.txt" &&
		grep -q '"name":"ev_other","status":"completed"' "$T/all.txt"
}
wait_for -t 20 -m "completed and failed events for every task" all_final

# Each task went pending -> assigned -> completed/failed, in that order, with ids that grow.
python3 - "$T/all.txt" <<'PY' || fail "the event stream is out of order: $(cat "$T/all.txt")"
import json, sys
events, last_id, cur = [], 0, {}
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("id: "):
        cur = {"id": int(line[4:])}
    elif line.startswith("event: "):
        cur["event"] = line[7:]
    elif line.startswith("data: "):
        cur["data"] = json.loads(line[6:])
        events.append(cur)
ids = [e["id"] for e in events]
assert ids == sorted(ids) and len(set(ids)) == len(ids), ids
for name, final in (("ev_pass", "completed"), ("ev_fail", "failed"), ("ev_other", "completed")):
    seq = [e["data"]["status"] for e in events if e["event"] == "task" and e["data"]["name"] == name]
    assert seq[0] == "pending" and seq[-1] == final and "assigned" in seq, (name, seq)
    assigned = [e["data"] for e in events if e["event"] == "task" and e["data"]["name"] == name
                and e["data"]["status"] == "assigned"][0]
    assert assigned["worker_id"] == "ev-1" and assigned["attempt"] == 1, assigned
fail = [e["data"] for e in events if e["event"] == "task" and e["data"]["name"] == "ev_fail"][-1]
assert fail["error"]["kind"] == "exit_code", fail
PY

# The run filter: only the run's two tasks, never the other one.
wait_for -t 10 -m "the filtered stream to see ev_fail fail" grep -q '"name":"ev_fail","status":"failed"' "$T/run.txt"
grep -q "$OTHER" "$T/run.txt" && fail "the run filter let another task's events through"

# Reconnecting with Last-Event-ID replays what came after it.
FIRST=$(grep -m1 '^id: ' "$T/all.txt" | cut -d' ' -f2)
curl -sN --max-time 2 -H "Last-Event-ID: $FIRST" "$URL/api/v1/events" > "$T/replay.txt" || true
NEXT=$(grep -m1 '^id: ' "$T/replay.txt" | cut -d' ' -f2)
assert_eq "$NEXT" "$((FIRST + 1))" "the first event replayed after Last-Event-ID"
exit 0
