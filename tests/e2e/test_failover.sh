#!/usr/bin/env bash
# Several coordinators on one PostgreSQL database (a private server): a leader and a standby, two
# workers given both URLs. (1) The leader is SIGKILLed in the middle of a 200-task run: the
# standby leases again within 2 s of the kill, and every task completes exactly once (one run
# of its command, one passed attempt), none lost. (2) Fencing: the new leader is SIGSTOPped, the
# other coordinator takes over and commits; the old one, resumed with a write waiting for it,
# commits nothing (the database's count of its commits does not move, the write is answered
# 503 and absent) and steps down (exit status 3).
. "$(dirname "$0")/lib.sh"
. "$DTF_SOURCE_DIR/tests/e2e/pg_lib.sh"

start_pg

# start_coord NAME: a coordinator with --standby on a free port; sets NAME_PID and NAME_URL.
start_coord() { start_pg_coordinator "$1" --heartbeat-interval 0.5; }
leases_on() { curl -s --max-time 2 "$1/metrics" | awk '$1 == "dtf_leases_total" { print $2 }'; }
has_leased() { [ "$(leases_on "$1")" -gt 0 ] 2>/dev/null; }
commits_of() { psql "$PG_URL" -qAt -c "SELECT commits FROM leader_commits WHERE epoch = $1"; }
epoch_now() { psql "$PG_URL" -qAt -c "SELECT epoch FROM leader"; }

start_coord A
wait_for -t 20 -m "A to lead" role_is "$A_URL" leader
start_coord B
wait_for -t 20 -m "B to stand by" role_is "$B_URL" standby
# A standby answers everything with where the leader is.
code=$(curl -s -o "$T/body" -w '%{http_code}' "$B_URL/api/v1/tasks")
assert_eq "$code" 307 "a standby's answer to a read"
assert_eq "$(jq_py 'd["error"]["code"] + " " + d["leader"]' "$T/body")" "not_leader $A_URL" \
	"a standby's hint"
# The redirect keeps the query (re-encoded).
loc=$(curl -s -o /dev/null -w '%{redirect_url}' "$B_URL/api/v1/tasks?state=pending&name=a%20b%26c")
assert_eq "$loc" "$A_URL/api/v1/tasks?state=pending&name=a%20b%26c" "a standby's Location keeps the query"
code=$(curl -s -o /dev/null -w '%{http_code}' "$B_URL/healthz")
assert_eq "$code" 503 "a standby's /healthz status"

URL=$A_URL
for w in w1 w2; do
	"$DTF_BIN" worker --coordinator "$A_URL,$B_URL" --worker-id "$w" --work-dir "$T/work/$w" \
		--slots 2 --lease-wait 5 >> "$T/worker-$w.log" 2>&1 &
	track_pid "$!"
done
wait_worker w1
wait_worker w2

# --- (1) SIGKILL the leader in the middle of a run ---
N=200
python3 - "$N" "$T/ran.log" > tasks.json <<'EOF'
import json, sys
n, log = int(sys.argv[1]), sys.argv[2]
tasks = [{"name": f"t{i:03d}", "shell": f'echo "$DTF_TASK_ID $DTF_ATTEMPT" >> {log}; sleep 0.1'}
         for i in range(n)]
print(json.dumps({"tasks": tasks, "run": {"name": "failover"}}))
EOF
api POST /api/v1/tasks @tasks.json > submit.json
RUN=$(jq_py 'd["run_id"]' submit.json)
jq_py '"\n".join(d["ids"])' submit.json | sort > acked_ids.txt
# At 4 tasks at once, 0.1 s each, the run lasts 5 s: the kill comes with most of it pending.
wait_for -t 60 -m "40 tasks to complete" run_completed_at_least "$RUN" 40
EPOCH_A=$(epoch_now)
kill -KILL "$A_PID"
KILL_MS=$(now_ms)
wait_for -t 20 -m "B to lease after the kill" has_leased "$B_URL"
TAKEOVER_MS=$(( $(now_ms) - KILL_MS ))
log "the standby leased again $TAKEOVER_MS ms after the kill"
[ "$(psql "$PG_URL" -qAt -c "SELECT count(*) FROM tasks WHERE run_id = '$RUN' AND status = 'completed'")" -lt "$N" ] ||
	fail "the run was over before the standby took over: nothing measured"
wait_exit "$A_PID" 5
# The bound, with the poll's 0.1 s; a sanitizer build is slower to load the state.
[ "$TAKEOVER_MS" -le $(( 2000 * SCALE + 100 )) ] ||
	fail "the standby took $TAKEOVER_MS ms to lease again (bound 2000 ms)"
[ "$(epoch_now)" -gt "$EPOCH_A" ] || fail "the epoch did not move on at the takeover"
URL=$B_URL
run_done() {
	[ "$(curl -s --max-time 5 "$URL/api/v1/runs/$RUN/summary" | jq_py 'd["done"]' 2>/dev/null)" = true ]
}
wait_for -t 60 -m "the run to finish on B" run_done
api GET "/api/v1/tasks?run_id=$RUN&limit=1000" > after.json
python3 - "$N" "$T/ran.log" <<'EOF' || fail "the run after the failover is not what it should be"
import collections, json, sys
n, log = int(sys.argv[1]), sys.argv[2]
after = {t["id"]: t for t in json.load(open("after.json"))["tasks"]}
acked = open("acked_ids.txt").read().split()
assert len(acked) == n and sorted(after) == sorted(acked), sorted(set(acked) ^ set(after))
for tid, t in after.items():
    hist = t.get("history", [])
    passed = [h for h in hist if h["outcome"] == "passed"]
    # A lease whose reply the kill cut off never reached a worker: requeued, not run.
    other = [h for h in hist if h["outcome"] != "passed" and h.get("error_kind") != "lease_lost"]
    assert t["status"] == "completed" and len(passed) == 1 and not other, \
        f"{tid}: {t['status']} {hist}"
runs = collections.Counter(line.split()[0] for line in open(log))
twice = {k: v for k, v in runs.items() if v != 1}
assert not twice, f"tasks run more than once: {twice}"
assert sorted(runs) == sorted(acked), sorted(set(acked) ^ set(runs))
EOF
n=$(psql "$PG_URL" -qAt -c "SELECT count(*) FROM tasks WHERE run_id = '$RUN' AND status = 'completed'")
assert_eq "$n" "$N" "completed tasks of the run in PostgreSQL"

# --- (2) fencing: a paused leader resumed after a takeover commits nothing ---
start_coord A
wait_for -t 20 -m "A to stand by" role_is "$A_URL" standby
EPOCH_B=$(epoch_now)
kill -STOP "$B_PID"
STOP_MS=$(now_ms)
# A write that waits in B's socket while it is paused, and is handled once it resumes.
curl -s -o "$T/old.body" -w '%{http_code}' --max-time 30 -X POST \
	-H 'Content-Type: application/json' --data '{"name": "from-the-old-leader", "command": ["true"]}' \
	"$B_URL/api/v1/tasks" > "$T/old.code" &
OLD_WRITE=$!
wait_for -t 20 -m "A to take over from the paused B" role_is "$A_URL" leader
log "A took over $(( $(now_ms) - STOP_MS )) ms after B was paused"
EPOCH_NEW=$(epoch_now)
[ "$EPOCH_NEW" -gt "$EPOCH_B" ] || fail "the epoch did not move on ($EPOCH_B, $EPOCH_NEW)"
URL=$A_URL
submit '{"name": "from-the-new-leader", "command": ["true"]}' > /dev/null
[ "$(commits_of "$EPOCH_NEW")" -ge 1 ] || fail "the new leader's commit is not counted"
B_COMMITS=$(commits_of "$EPOCH_B")
kill -CONT "$B_PID"
wait_exit "$B_PID" 20
assert_eq "$WAIT_RC" 3 "the superseded leader's exit status"
wait "$OLD_WRITE"
code=$(cat "$T/old.code")
[ "$code" = 503 ] || [ "$code" = 000 ] || fail "the old leader answered $code: $(cat "$T/old.body")"
assert_eq "$(commits_of "$EPOCH_B")" "$B_COMMITS" "commits of the superseded epoch after its takeover"
n=$(psql "$PG_URL" -qAt -c "SELECT count(*) FROM tasks WHERE doc LIKE '%from-the-old-leader%'")
assert_eq "$n" 0 "the old leader's write in the database"
n=$(psql "$PG_URL" -qAt -c "SELECT count(*) FROM tasks WHERE doc LIKE '%from-the-new-leader%'")
assert_eq "$n" 1 "the new leader's write in the database"
grep -q "stepping down" "$T/coord-B.log" || fail "the old leader did not log that it stepped down"
log "ok"
