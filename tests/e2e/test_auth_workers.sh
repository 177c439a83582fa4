#!/usr/bin/env bash
# Workers' enrollment and tokens (docs/auth.md): a worker enrolls with an enrollment key read
# from a file (never on the process list), gets a short-lived JWT (2 s here), runs tasks while
# heartbeats renew its token across several expiries, and is refused once an admin revokes it.
# Registering a live worker's id again without its token (a takeover) is refused, and a token
# that is another worker's, expired, forged or alg "none" gets 401 with its reason. Keys rotate
# through `dtf keys` and SIGHUP, are never written in the clear, and failed authentication is
# rate-limited per address, visible in /metrics.
. "$(dirname "$0")/lib.sh"

A=adm-secret-Hd72 E=enr-secret-Kq39 O=ops-secret-Vb16 O2=ops-secret-new-Jm44
# The enrollment key lives in the keys file: on no process's command line.
printf 'ops:read:%s\nenr:worker-enroll:%s\n' "$O" "$E" > "$T/keys"
chmod 600 "$T/keys"
start_coordinator --api-key "adm:admin:$A" --keys-file "$T/keys" --worker-token-ttl 2 --heartbeat-interval 0.3 \
	--auth-fail-rate 1 --auth-fail-burst 10
API_KEY=$A

# kcall KEY METHOD PATH [curl args…]: the status, with KEY as the bearer.
kcall() {
	local k=$1 m=$2 p=$3
	shift 3
	curl -s -o "$T/body" -w '%{http_code}' -X "$m" --max-time 10 -H "Authorization: Bearer $k" \
		-H 'X-DTF-Protocol: 1' "$@" "$URL$p"
}

# metric NAME: as lib.sh's, with the admin key (/metrics is protected when keys are set).
metric() { curl -s --max-time 5 -H "X-API-Key: $A" "$URL/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
c=$(curl -s -o /dev/null -w '%{http_code}' "$URL/metrics")
assert_eq "$c" 401 "/metrics without a key when keys are set"

# --- enrollment from a file, tasks across token expiries ---
printf '%s\n' "$E" > "$T/enroll"
chmod 600 "$T/enroll"
start_worker w1 --enroll-key-file "$T/enroll"
wait_worker w1
[ -n "$(pgrep -f -- "$E")" ] && fail "the enrollment key is on the process list"
issued0=$(metric dtf_worker_tokens_issued_total)
T1=$(submit '{"command": ["sh", "-c", "sleep 7; echo done"], "timeout": 60}')
wait_for -t 30 -m "the long task to pass" task_status_is "$T1" completed
issued1=$(metric dtf_worker_tokens_issued_total)
# 7 s with 2 s tokens: at least three renewals after the registration's token.
[ "${issued1%.*}" -ge $((${issued0%.*} + 3)) ] ||
	fail "tokens were not renewed across expiries ($issued0 -> $issued1)"
T2=$(submit '{"command": ["true"]}')
wait_for -t 20 -m "a task after the renewals to pass" task_status_is "$T2" completed
log "worker ran tasks across expiries: tokens issued $issued0 -> $issued1"

# --- the takeover of a live worker by registering its id again ---
c=$(kcall "$E" POST /api/v1/workers/register -d '{"worker_id": "w1", "hostname": "evil"}')
assert_eq "$c" 409 "registering live worker w1 again without its token"
assert_contains "$(body)" worker_live
grep -q "registration of live worker w1 refused" "$COORD_LOG" || fail "the takeover attempt is not logged"
[ "$(metric dtf_worker_takeovers_refused_total)" -ge 1 ] || fail "no takeover counted"
# An enrollment key cannot replace; an admin may not by accident either (replace is explicit).
c=$(kcall "$E" POST /api/v1/workers/register -d '{"worker_id": "w1", "hostname": "evil", "replace": true}')
assert_eq "$c" 409 "an enrollment key asking to replace w1"

# --- tokens: another worker's, expired, forged, alg none ---
c=$(kcall "$E" POST /api/v1/workers/register -d '{"worker_id": "mx", "hostname": "h"}')
assert_eq "$c" 201 "registering worker mx"
TOK=$(jq_py 'd["token"]' "$T/body")
c=$(kcall "$E" POST /api/v1/workers/w1/heartbeat -H "X-DTF-Worker-Token: $TOK" -d '{}')
assert_eq "$c" 401 "mx's token on w1's heartbeat"
assert_contains "$(body)" wrong_worker
c=$(kcall "$E" POST /api/v1/tasks/$T2/result -H "X-DTF-Worker-Token: $TOK" \
	-d '{"worker_id": "w1", "outcome": "failed", "exit_code": 1}')
assert_eq "$c" 401 "mx's token posting a result as w1"
FORGED="${TOK%.*}.$(printf 'AAAA%.0s' 1 2 3 4 5 6 7 8 9 10 11)"
c=$(kcall "$E" POST /api/v1/workers/mx/heartbeat -H "X-DTF-Worker-Token: $FORGED" -d '{}')
assert_eq "$c" 401 "a forged signature"
assert_contains "$(body)" bad_signature
NONE="$(printf '{"alg":"none","typ":"JWT"}' | base64 -w0 | tr '+/' '-_' | tr -d '=').${TOK#*.}"
NONE="${NONE%.*}."
c=$(kcall "$E" POST /api/v1/workers/mx/heartbeat -H "X-DTF-Worker-Token: $NONE" -d '{}')
assert_eq "$c" 401 "an alg none token"
assert_contains "$(body)" bad_alg
c=$(kcall "$E" POST /api/v1/workers/mx/heartbeat -H "X-DTF-Worker-Token: $TOK" -d '{}')
assert_eq "$c" 200 "mx's own token"
sleep_until_expired() { c=$(kcall "$E" POST /api/v1/workers/mx/heartbeat -H "X-DTF-Worker-Token: $TOK" -d '{}'); [ "$c" = 401 ]; }
wait_for -t 10 -m "mx's token to expire" sleep_until_expired
assert_contains "$(body)" expired

# --- revoking the enrollment key leaves enrolled workers working (their token is their
# credential), and fails new registrations ---
dtf keys revoke enr --coordinator "$URL" --api-key "$A" > /dev/null || fail "dtf keys revoke enr failed"
c=$(kcall "$E" POST /api/v1/workers/register -d '{"worker_id": "new-1", "hostname": "h"}')
assert_eq "$c" 401 "registering with the revoked enrollment key"
T2b=$(submit '{"command": ["true"]}')
wait_for -t 20 -m "w1 to run a task after its enrollment key was revoked" task_status_is "$T2b" completed

# --- revocation ---
dtf keys revoke-worker w1 --coordinator "$URL" --api-key "$A" > /dev/null || fail "dtf keys revoke-worker failed"
w1_lost() { [ "$(http GET /api/v1/workers/w1 >/dev/null; jq_py 'd["status"]' "$T/body")" = lost ]; }
wait_for -t 5 -m "w1 to be lost" w1_lost
worker_refused() { grep -q "registration refused" "$T/worker-w1.log"; }
wait_for -t 10 -m "w1 to be refused" worker_refused
T3=$(submit '{"command": ["true"]}')
sleep 1
task_status_is "$T3" pending || fail "a revoked worker took a task"
w1_lost || fail "the revoked worker came back"
log "revoked worker refused"

# --- key rotation: dtf keys add/revoke, SIGHUP ---
SECRET=$(dtf keys add ci submit --coordinator "$URL" --api-key "$A") || fail "dtf keys add failed"
[ ${#SECRET} -ge 32 ] || fail "no secret made: $SECRET"
c=$(kcall "$SECRET" POST /api/v1/tasks -d '{"command": ["true"]}')
assert_eq "$c" 201 "a task with the new key"
c=$(kcall "$SECRET" PUT /api/v1/scheduler -d '{"strategy": "priority"}')
assert_eq "$c" 403 "the submit key on an admin route"
dtf keys list --coordinator "$URL" --api-key "$A" | grep -q "^ci  *submit" || fail "dtf keys list lacks ci"
dtf keys revoke ci --coordinator "$URL" --api-key "$A" > /dev/null || fail "dtf keys revoke failed"
c=$(kcall "$SECRET" GET /api/v1/tasks)
assert_eq "$c" 401 "the revoked key"
c=$(kcall "$O" GET /api/v1/tasks)
assert_eq "$c" 200 "the keys file's key"
# The enrollment key revoked above stays revoked across the reload and the restart below (a
# revocation is of a key's name with its secret): w1 keeps its secret under a new name, so that
# after the restart its registration is refused for its own revocation, not its key's.
printf 'ops:read:%s\nenr-b:worker-enroll:%s\n' "$O2" "$E" > "$T/keys"
kill -HUP "$COORD_PID"
new_key_works() { [ "$(kcall "$O2" GET /api/v1/tasks)" = 200 ]; }
wait_for -t 10 -m "the reloaded key to work" new_key_works
c=$(kcall "$O" GET /api/v1/tasks)
assert_eq "$c" 401 "the old key after the reload"
# An enrollment key limited to worker ids, labels and a lifetime (GitLab Runner's glrt- style).
LK=$(dtf keys add gpu-enroll worker-enroll --worker-pattern 'gpu-*' --labels pool=gpu \
	--expires 3s --coordinator "$URL" --api-key "$A") || fail "dtf keys add with limits failed"
c=$(kcall "$LK" POST /api/v1/workers/register -d '{"worker_id": "cpu-1", "hostname": "h", "labels": {"pool": "gpu"}}')
assert_eq "$c" 403 "a limited enrollment key registering an id outside its pattern"
c=$(kcall "$LK" POST /api/v1/workers/register -d '{"worker_id": "gpu-1", "hostname": "h"}')
assert_eq "$c" 403 "a limited enrollment key registering a worker without its labels"
c=$(kcall "$LK" POST /api/v1/workers/register -d '{"worker_id": "gpu-1", "hostname": "h", "labels": {"pool": "gpu"}}')
assert_eq "$c" 201 "a limited enrollment key within its limits"
key_expired() { [ "$(kcall "$LK" POST /api/v1/workers/register -d '{"worker_id": "gpu-2", "hostname": "h", "labels": {"pool": "gpu"}}')" = 401 ]; }
wait_for -t 10 -m "the enrollment key to expire" key_expired

# A project key submits to its project and sees only its tasks.
PK=$(dtf keys add webci submit --project web --coordinator "$URL" --api-key "$A") || fail "dtf keys add --project failed"
c=$(kcall "$PK" POST /api/v1/tasks -d '{"command": ["true"]}')
assert_eq "$c" 201 "a task with the project key"
WT=$(jq_py 'd["id"]' "$T/body")
assert_eq "$(jq_py 'd.get("project")' "$T/body")" web "the project key's task's project"
c=$(kcall "$PK" POST /api/v1/tasks -d '{"command": ["true"], "project": "other"}')
assert_eq "$c" 403 "a task of another project with the project key"
c=$(kcall "$PK" GET /api/v1/tasks)
assert_eq "$c" 200 "listing with the project key"
assert_eq "$(jq_py '",".join(t["id"] for t in d["tasks"])' "$T/body")" "$WT" "the project key's list"
c=$(kcall "$PK" GET "/api/v1/tasks/$T2")
assert_eq "$c" 404 "another project's task with the project key"
c=$(kcall "$PK" DELETE "/api/v1/tasks/$T2")
assert_eq "$c" 404 "cancelling another project's task with the project key"

# Never in the clear: not in the store, not in the log.
for s in "$A" "$E" "$O" "$O2" "$SECRET" "$PK" "$LK"; do
	grep -rqa -- "$s" "$COORD_DB"* "$COORD_LOG" && fail "a secret is in the store or the log"
done

# --- a restart keeps the keys added through the API (hashed, beside the store) and the
# revocation of w1 ---
PORT_BEFORE=$COORD_PORT
stop_coordinator
COORD_PORT_WANT=$PORT_BEFORE start_coordinator --api-key "adm:admin:$A" --keys-file "$T/keys" \
	--auth-fail-rate 1 --auth-fail-burst 10
c=$(kcall "$PK" GET /api/v1/tasks)
assert_eq "$c" 200 "the API-added project key after a restart"
c=$(kcall "$SECRET" GET /api/v1/tasks)
assert_eq "$c" 401 "the revoked key after a restart"
/usr/bin/python3 -c 'import sqlite3, sys; r = sqlite3.connect(sys.argv[1]).execute("SELECT doc FROM meta_docs WHERE key = ?", ("api_keys",)).fetchone(); print(r[0] if r else "")' "$COORD_DB" | grep -q '"keys"' ||
	fail "the store does not keep the keys added through the API"
http GET /api/v1/workers/w1 > /dev/null
assert_eq "$(jq_py 'd.get("revoked")' "$T/body")" true "w1 is still revoked after a restart"
n_before=$(grep -c "registration of revoked worker w1 refused" "$COORD_LOG")
still_refused() { [ "$(grep -c "registration of revoked worker w1 refused" "$COORD_LOG")" -gt "$n_before" ]; }
wait_for -t 15 -m "w1 to be refused after the restart" still_refused

# --- failed authentication is rate-limited per address ---
limited=0
for i in $(seq 1 40); do
	c=$(kcall "wrong-$i" GET /api/v1/tasks)
	[ "$c" = 429 ] && limited=$((limited + 1))
done
[ "$limited" -ge 10 ] || fail "only $limited of 40 bad keys were limited"
# The limit is checked before the key: a good key from a limited address is refused too. The
# bucket refills at 1/s, so each good key follows a bad one within the same curl process
# (milliseconds apart, however loaded the machine): a pair finds the bucket below one token
# unless the bad key arrived at a whole token plus almost nothing; one of five pairs is enough.
good_limited=0
args=()
for i in 1 2 3 4 5; do
	[ "$i" = 1 ] || args+=(--next)
	args+=(-s -o /dev/null -w '%{http_code}\n' --max-time 10 -H "Authorization: Bearer wrong-again-$i"
		-H 'X-DTF-Protocol: 1' "$URL/api/v1/tasks" --next
		-s -o /dev/null -w 'good %{http_code}\n' --max-time 10 -H "Authorization: Bearer $A"
		-H 'X-DTF-Protocol: 1' "$URL/api/v1/tasks")
done
curl "${args[@]}" > "$T/pairs" || true
grep -qx 'good 429' "$T/pairs" && good_limited=1
[ "$good_limited" = 1 ] || fail "a good key from a limited address was never refused"
refilled() { [ "$(kcall "$A" GET /metrics)" = 200 ]; }
wait_for -t 10 -m "the limit to refill" refilled
grep -q '^dtf_auth_rate_limited_total [1-9]' "$T/body" || fail "the limit is not in /metrics"
grep -q '^dtf_auth_failures_total [1-9]' "$T/body" || fail "failures are not in /metrics"
# The dashboard's login form counts too.
codes=$(for i in $(seq 1 30); do curl -s -o /dev/null -w "%{http_code} " -d "key=bad-$i" "$URL/login"; done)
log "login codes: $codes"
n429=$(printf '%s\n' $codes | grep -c 429)
[ "$n429" -ge 15 ] || fail "only $n429 of 30 bad sign-ins were limited: $codes"
log "ok"
