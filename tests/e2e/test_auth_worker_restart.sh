#!/usr/bin/env bash
# A worker restarted from scratch on a coordinator with keys (docs/auth.md, "Takeover
# protection"): SIGKILLed with a task running, it is started again at once with the same id and
# work directory, long before the coordinator could declare its old self lost (heartbeat timeout
# 120 s here). It registers at once with the token its last run kept in the work directory
# (.worker-ID.token, mode 0600): the same credential, so no takeover. The task it held goes back
# to the queue as the recovery rules say (docs/recovery.md: the restarted worker reports what its
# last run left, "interrupted", a requeue that spends no retry) and passes on the next attempt.
# A process without that token is still refused (409 worker_live), even with the same
# enrollment key.
. "$(dirname "$0")/lib.sh"

A=adm-secret-Wd45 E=enr-secret-Jt82
start_coordinator --api-key "adm:admin:$A" --api-key "enr:worker-enroll:$E" --heartbeat-timeout 120 \
	--auth-fail-rate 100000 --auth-fail-burst 100000
API_KEY=$A
printf '%s\n' "$E" > "$T/enroll"
chmod 600 "$T/enroll"

start_worker w1 --enroll-key-file "$T/enroll"
wait_worker w1
TOKF="$T/work/w1/.worker-w1.token"
wait_for -t 10 -m "w1 to keep its token" test -s "$TOKF"
assert_eq "$(stat -c %a "$TOKF")" 600 "the kept token's mode"
X=$(submit '{"name": "held", "shell": "if [ $DTF_ATTEMPT = 1 ]; then sleep 60; fi; echo done", "max_retries": 0}')
running_on_w1() { [ "$(task_field "$X" '"%s %s" % (d["status"], d.get("worker_id", ""))')" = "running w1" ]; }
wait_for -t 20 -m "the task to run on w1" running_on_w1

kill -KILL "${WORKER_PID[w1]}"
wait_exit "${WORKER_PID[w1]}" 10
t0=$(now_ms)
start_worker w1 --enroll-key-file "$T/enroll"
# Both runs log to the same file: the second "registered as w1" is the restarted worker's.
registered_again() { [ "$(grep -c "registered as w1" "$T/worker-w1.log")" -ge 2 ]; }
wait_for -t 15 -m "the restarted w1 to register" registered_again
took=$(($(now_ms) - t0))
log "the restarted worker registered after $took ms"
grep -q "registering with the token kept by the last run" "$T/worker-w1.log" ||
	fail "the restarted worker did not use its kept token"
grep -q "registration of live worker w1 refused" "$COORD_LOG" &&
	fail "the restarted worker was refused before it registered"
# Its held task: requeued as interrupted (no retry spent), then passed on the next attempt.
wait_for -t 30 -m "the held task to pass" task_status_is "$X" completed
task_field "$X" 'd' > "$T/x.json"
python3 - "$T/x.json" <<'EOF' || fail "the held task: $(cat "$T/x.json")"
import json, sys
t = json.load(open(sys.argv[1]))
h = t["history"]
assert t["attempt"] == 2 and t["requeues"] == 1 and t.get("retries_used", 0) == 0, t
assert (h[0]["worker_id"], h[0]["outcome"], h[0]["error_kind"]) == ("w1", "requeued", "interrupted"), h
assert (h[1]["worker_id"], h[1]["outcome"]) == ("w1", "passed"), h
EOF

# Without the token, the same enrollment key cannot register the live w1.
c=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $E" -H 'X-DTF-Protocol: 1' \
	-d '{"worker_id": "w1", "hostname": "evil"}' "$URL/api/v1/workers/register")
assert_eq "$c" 409 "registering the live w1 without its token"
assert_contains "$(body)" worker_live
# Nor with a token that is not w1's current one (an earlier registration's).
OLD=$(cat "$TOKF")
c=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $E" -H 'X-DTF-Protocol: 1' \
	-H "X-DTF-Worker-Token: ${OLD}x" -d '{"worker_id": "w1", "hostname": "evil"}' "$URL/api/v1/workers/register")
assert_eq "$c" 409 "registering the live w1 with a forged token"
log "ok"
