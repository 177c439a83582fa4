#!/usr/bin/env bash
# Coordinators on one PostgreSQL database share the workers' token secret (docs/deploy-postgres.md,
# "Several coordinators"): the first one keeps its fingerprint in meta_docs (token_secret; an
# HMAC, never the secret), a standby with the same --token-secret-file stands by, and after the
# leader is SIGKILLed it accepts the token the old leader issued. A coordinator with another
# secret, or with none, is refused at start: exit status 1, the option named, nothing written
# (the leader row and meta_docs as they were).
. "$(dirname "$0")/lib.sh"
. "$DTF_SOURCE_DIR/tests/e2e/pg_lib.sh"

start_pg

A_KEY=adm-secret-Qx71 E_KEY=enr-secret-Lp39
printf 'shared-secret-0123456789abcdef\n' > "$T/s1"
printf 'another-secret-0123456789abcdef\n' > "$T/s2"
chmod 600 "$T/s1" "$T/s2"

# start_coord NAME ARGS…: a coordinator with --standby and the test's keys on a free port; sets
# NAME_PID, NAME_URL.
start_coord() {
	local name=$1
	shift
	start_pg_coordinator "$name" --api-key "adm:admin:$A_KEY" --api-key "enr:worker-enroll:$E_KEY" "$@"
}
sql() { psql "$PG_URL" -qAt -c "$1"; }

start_coord A --token-secret-file "$T/s1"
wait_for -t 20 -m "A to lead" role_is "$A_URL" leader
FP=$(sql "SELECT doc FROM meta_docs WHERE key = 'token_secret'")
assert_contains "$FP" '"hmac_sha256"'
grep -q -e shared-secret -e "$(od -An -tx1 "$T/s1" | tr -d ' \n' | cut -c1-16)" <<< "$FP" &&
	fail "the stored fingerprint holds the secret: $FP"

start_coord B --token-secret-file "$T/s1"
wait_for -t 20 -m "B to stand by" role_is "$B_URL" standby

# A worker's token from A.
code=$(curl -s -o "$T/reg.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $E_KEY" \
	-H 'X-DTF-Protocol: 1' -H 'Content-Type: application/json' \
	-d '{"worker_id": "w1", "hostname": "h", "slots": 1}' "$A_URL/api/v1/workers/register")
assert_eq "$code" 201 "registering w1 on A"
TOKEN=$(jq_py 'd["token"]' "$T/reg.json")

# Another secret, then none: refused at once, with the option named, nothing written.
before=$(sql "SELECT epoch, holder, heartbeat_at IS NOT NULL FROM leader; SELECT key, doc FROM meta_docs ORDER BY key")
for args in "--token-secret-file $T/s2" ""; do
	# shellcheck disable=SC2086 # args is split on purpose (empty: no option)
	"$DTF_BIN" coordinator --port 0 --db-url "$PG_URL" --standby \
		--api-key "adm:admin:$A_KEY" $args > "$T/refused.out" 2> "$T/refused.err" &
	pid=$!
	track_pid "$pid"
	wait_exit "$pid" 20
	assert_eq "$WAIT_RC" 1 "the exit status of a coordinator started with '${args:-no secret}'"
	assert_contains "$(cat "$T/refused.err")" "--token-secret-file"
	if [ -n "$args" ]; then
		assert_contains "$(cat "$T/refused.err")" "is not the secret the coordinators of this database"
	else
		assert_contains "$(cat "$T/refused.err")" "start this one with --token-secret-file"
	fi
	grep -q "standby: serving" "$T/refused.err" && fail "the refused coordinator stood by first"
done
after=$(sql "SELECT epoch, holder, heartbeat_at IS NOT NULL FROM leader; SELECT key, doc FROM meta_docs ORDER BY key")
assert_eq "$after" "$before" "the leader row and meta_docs after the refusals"
role_is "$A_URL" leader || fail "A no longer leads after the refusals"

# Failover: B leads and accepts the token A issued.
kill -KILL "$A_PID"
wait_for -t 20 -m "B to lead after A's kill" role_is "$B_URL" leader
code=$(curl -s -o "$T/hb.json" -w '%{http_code}' -X POST -H "X-DTF-Worker-Token: $TOKEN" \
	-H 'X-DTF-Protocol: 1' -H 'Content-Type: application/json' -d '{}' \
	"$B_URL/api/v1/workers/w1/heartbeat")
assert_eq "$code" 200 "w1's heartbeat on B with A's token ($(cat "$T/hb.json"))"
log "PASS"
