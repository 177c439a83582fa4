#!/usr/bin/env bash
# The coordinator on PostgreSQL loses its database: the server is shut down at once (as if it
# crashed) while clients submit tasks one by one. Submissions are answered 503 while it is down
# (never 2xx for a write that was not committed), the coordinator reconnects by itself once the
# server is back and carries on accepting, and after a restart of the coordinator on the same
# database every task it acknowledged is there.
. "$(dirname "$0")/lib.sh"
. "$DTF_SOURCE_DIR/tests/e2e/pg_lib.sh"

start_pg
start_coordinator

# A client that submits one task at a time until told to stop, writing "STATUS ID" per request.
cat > submitter.py <<'EOF'
import json, os, sys, time, urllib.request, urllib.error
url, out = sys.argv[1], open(sys.argv[2], "a", buffering=1)
deadline = time.time() + 120
i = 0
while not os.path.exists("stop") and time.time() < deadline:
    i += 1
    body = json.dumps({"name": f"t{i}", "command": ["true"]}).encode()
    req = urllib.request.Request(url + "/api/v1/tasks", data=body,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            out.write(f"{r.status} {json.load(r)['id']}\n")
    except urllib.error.HTTPError as e:
        out.write(f"{e.code} -\n")
    except Exception as e:
        out.write(f"ERR {type(e).__name__}\n")
    time.sleep(0.01)
EOF
python3 submitter.py "$URL" "$T/answers.txt" &
SUB=$!
track_pid "$SUB"

count() { grep -c "^$1 " "$T/answers.txt" 2>/dev/null || true; }
at_least() { [ "$(count "$1")" -ge "$2" ]; }

wait_for -t 20 -m "20 accepted submissions" at_least 201 20
log "killing PostgreSQL after $(count 201) accepted submissions"
kill_pg
wait_for -t 20 -m "submissions answered 503 while the database is down" at_least 503 5
ok_down=$(count 201)
# While it is down nothing more is accepted.
wait_for -t 10 -m "more 503s" at_least 503 $(( $(count 503) + 5 ))
assert_eq "$(count 201)" "$ok_down" "submissions accepted while the database is down"
restart_pg
log "PostgreSQL is back; $(count 503) submissions were refused"
wait_for -t 30 -m "the coordinator to accept submissions again" at_least 201 $((ok_down + 20))
touch stop
wait_exit "$SUB" 20

python3 - <<'EOF' || fail "answers other than 201 and 503"
lines = [l.split() for l in open("answers.txt") if l.strip()]
bad = [l for l in lines if l[0] not in ("201", "503")]
assert not bad, bad[:5]
EOF
awk '$1 == 201 { print $2 }' answers.txt | sort > acked.txt
log "$(wc -l < acked.txt) accepted, $(count 503) refused"

# Everything acknowledged is in the database: a fresh coordinator on it lists all of it.
stop_coordinator KILL
start_coordinator
api GET "/api/v1/tasks?limit=100000" > after.json
jq_py '"\n".join(t["id"] for t in d["tasks"])' after.json | sort > stored.txt
missing=$(comm -23 acked.txt stored.txt | head -5)
[ -z "$missing" ] || fail "acknowledged but lost: $missing"
grep -q "reconnected to the database" "$COORD_LOG" || fail "the coordinator log does not show the reconnect"
