#!/usr/bin/env bash
# Group commit (DESIGN.md §8): requests that reach the coordinator together share one store
# transaction, and each is answered only after the commit that holds its change. 40 keep-alive
# connections send a POST /api/v1/runs each while the coordinator is stopped (SIGSTOP), so all 40
# are ready in one pass of its HTTP loop when it resumes: they must be committed in a handful of
# transactions (the store counters in /metrics), not 40; with --no-group-commit, one each. Then a
# second burst is answered and the coordinator is SIGKILLed the moment the last reply is read:
# restarted on the same database, it has every run it acknowledged.
. "$(dirname "$0")/lib.sh"

N=40
BURST="$DTF_SOURCE_DIR/tests/fixtures/burst.py"


# Without group commit: every request is a transaction of its own.
start_coordinator --no-group-commit
c0=$(metric dtf_store_commits_total)
python3 "$BURST" "$COORD_PORT" "$COORD_PID" "$N" solo > solo_ids.txt || fail "solo burst"
c1=$(metric dtf_store_commits_total)
assert_eq "$((c1 - c0))" "$N" "commits for $N requests without group commit"
stop_coordinator
rm -f "$COORD_DB" "$COORD_DB"-wal "$COORD_DB"-shm

# With group commit (the default): the burst shares a few transactions.
start_coordinator
c0=$(metric dtf_store_commits_total)
ch0=$(metric dtf_store_committed_changes_total)
python3 "$BURST" "$COORD_PORT" "$COORD_PID" "$N" grouped > grouped_ids.txt || fail "grouped burst"
c1=$(metric dtf_store_commits_total)
ch1=$(metric dtf_store_committed_changes_total)
assert_eq "$(wc -l < grouped_ids.txt)" "$N" "runs acknowledged"
assert_eq "$((ch1 - ch0))" "$N" "changes committed"
[ "$((c1 - c0))" -le $((N / 4)) ] ||
	fail "$N requests ready together took $((c1 - c0)) commits (want at most $((N / 4)))"
log "$N requests in $((c1 - c0)) commits"

# Durable on reply: SIGKILL right after the last reply, restart, every acknowledged run is there.
python3 "$BURST" "$COORD_PORT" "$COORD_PID" "$N" killed kill > killed_ids.txt || fail "kill burst"
wait_exit "$COORD_PID" 10
assert_eq "$(wc -l < killed_ids.txt)" "$N" "runs acknowledged before the kill"
OLD_PORT=$COORD_PORT
COORD_PORT_WANT=$OLD_PORT start_coordinator
api GET "/api/v1/runs?limit=1000" > runs.json
found=$(cat grouped_ids.txt killed_ids.txt | python3 -c '
import json, sys
d = json.load(open("runs.json"))
have = {r["id"] for r in (d["runs"] if isinstance(d, dict) else d)}
want = [i.strip() for i in sys.stdin if i.strip()]
lost = [i for i in want if i not in have]
print(len(want) - len(lost), " ".join(lost))') || fail "cannot read the run list"
assert_eq "$found" "$((2 * N)) " "acknowledged runs found after SIGKILL and restart"
