#!/usr/bin/env bash
# Configured keys (docs/auth.md): keys of --api-key, the keys file and the YAML file carry the
# limits `dtf keys add` gives (";worker-pattern=GLOB;labels=k=v,k=v;expires=TIME" after the
# role): an enrollment key registers only matching workers with the labels asked for, and an
# expired key is refused. A configured key revoked through the API stays revoked across SIGHUP
# and a restart (its revocation is kept in the store, by name and SHA-256), and `dtf keys list`
# says to remove it from the configuration. An earlier release's side file <db-path>.keys is
# imported into the store once (refused when others may read it); a newer format is refused.
. "$(dirname "$0")/lib.sh"

A=adm-secret-Rf52 E=enr-secret-Gx17 Y=yml-secret-Pq90 R=ro-secret-Uw33 O=old-secret-Mk08
printf 'enr:worker-enroll;worker-pattern=gpu-*;labels=pool=gpu:%s\nold:read;expires=2001-01-01:%s\n' \
	"$E" "$O" > "$T/keys"
chmod 600 "$T/keys"
cat > "$T/dtf.yaml" <<EOF
coordinator:
  api_keys:
    - "yk:worker-enroll;worker-pattern=y-*;expires=2999-12-31T23:59:59Z:$Y"
EOF
chmod 600 "$T/dtf.yaml"
ARGS=(--config "$T/dtf.yaml" --api-key "adm:admin:$A" --api-key "ro:read;expires=2999-01-01:$R"
	--keys-file "$T/keys" --auth-fail-rate 100000 --auth-fail-burst 100000)
start_coordinator "${ARGS[@]}"
API_KEY=$A

# kcall KEY METHOD PATH [curl args…]: the status, the body in $T/body.
kcall() {
	local k=$1 m=$2 p=$3
	shift 3
	curl -s -o "$T/body" -w '%{http_code}' -X "$m" --max-time 10 -H "Authorization: Bearer $k" \
		-H 'X-DTF-Protocol: 1' "$@" "$URL$p"
}
reg() { kcall "$1" POST /api/v1/workers/register -d "$2"; }

# --- limits of configured keys ---
assert_eq "$(reg "$E" '{"worker_id": "cpu-1", "hostname": "h", "labels": {"pool": "gpu"}}')" 403 \
	"the keys file's enrollment key, a worker id outside its pattern"
assert_contains "$(body)" forbidden
assert_eq "$(reg "$E" '{"worker_id": "gpu-1", "hostname": "h"}')" 403 \
	"the keys file's enrollment key, a worker without its labels"
assert_eq "$(reg "$E" '{"worker_id": "gpu-1", "hostname": "h", "labels": {"pool": "gpu"}}')" 201 \
	"the keys file's enrollment key, a matching worker"
assert_eq "$(reg "$Y" '{"worker_id": "z-1", "hostname": "h"}')" 403 "the YAML key, a worker id outside its pattern"
assert_eq "$(reg "$Y" '{"worker_id": "y-1", "hostname": "h"}')" 201 "the YAML key, a matching worker"
assert_eq "$(kcall "$O" GET /api/v1/tasks)" 401 "an expired key of the keys file"
assert_eq "$(kcall "$R" GET /api/v1/tasks)" 200 "a flag's key with an expiry to come"
api GET /api/v1/keys > "$T/keys.json"
assert_eq "$(jq_py '[[k["name"], k.get("worker_pattern"), k.get("labels"), k.get("expires_at")] for k in d["keys"] if k["name"] in ("enr", "yk", "ro")]' "$T/keys.json")" \
	'[["ro", null, null, "2999-01-01T00:00:00.000Z"], ["yk", "y-*", null, "2999-12-31T23:59:59.000Z"], ["enr", "gpu-*", "pool=gpu", null]]' \
	"the configured keys' limits in the list"

# --- a configured key revoked through the API stays revoked ---
dtf keys revoke ro --coordinator "$URL" --api-key "$A" > /dev/null || fail "dtf keys revoke ro failed"
assert_eq "$(kcall "$R" GET /api/v1/tasks)" 401 "the revoked configured key"
kill -HUP "$COORD_PID"
wait_for -t 10 -m "the keys to be reloaded" grep -q "keys reloaded" "$COORD_LOG"
assert_eq "$(kcall "$R" GET /api/v1/tasks)" 401 "the revoked configured key after SIGHUP"
/usr/bin/python3 -c 'import sqlite3, sys; r = sqlite3.connect(sys.argv[1]).execute("SELECT doc FROM meta_docs WHERE key = ?", ("api_keys",)).fetchone(); print(r[0] if r else "")' "$COORD_DB" > "$T/kept"
grep -q '"revoked_config"' "$T/kept" || fail "the store does not keep the revocation: $(cat "$T/kept")"
grep -q -- "$R" "$T/kept" && fail "the kept keys hold a secret"
[ -e "$COORD_DB.keys" ] && fail "the keys are kept in a side file"
stop_coordinator
start_coordinator "${ARGS[@]}"
assert_eq "$(kcall "$R" GET /api/v1/tasks)" 401 "the revoked configured key after a restart"
assert_eq "$(kcall "$A" GET /api/v1/tasks)" 200 "the admin key after a restart"
assert_eq "$(reg "$E" '{"worker_id": "gpu-2", "hostname": "h", "labels": {"pool": "gpu"}}')" 201 \
	"the keys file's enrollment key after a restart"
dtf keys list --coordinator "$URL" --api-key "$A" > "$T/list" || fail "dtf keys list failed"
grep -E '^ro .*revoked \(kept across restarts: remove it from the configuration\)' "$T/list" > /dev/null ||
	fail "dtf keys list does not tell to remove the revoked key: $(cat "$T/list")"
grep -E '^adm .* live$' "$T/list" > /dev/null || fail "the admin key is not live: $(cat "$T/list")"
# Given a new secret in the configuration, the key works again.
R2=ro-secret-new-Ve71
ARGS=("${ARGS[@]/ro:read;expires=2999-01-01:$R/ro:read:$R2}")
stop_coordinator
start_coordinator "${ARGS[@]}"
assert_eq "$(kcall "$R2" GET /api/v1/tasks)" 200 "the configured key with a new secret"
assert_eq "$(kcall "$R" GET /api/v1/tasks)" 401 "the old secret of the revoked key"

# --- an earlier release's <db-path>.keys, imported once ---
M=mig-secret-Hv40
assert_eq "$(kcall "$A" POST /api/v1/keys -H 'Content-Type: application/json' \
	--data "{\"name\": \"mig\", \"role\": \"read\", \"secret\": \"$M\"}")" 201 "adding a key"
dtf keys revoke yk --coordinator "$URL" --api-key "$A" > /dev/null || fail "dtf keys revoke yk failed"
stop_coordinator
# The stored document as that release wrote its file (no "format"), and no row in the store.
/usr/bin/python3 - "$COORD_DB" <<'EOF'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
doc = json.loads(db.execute("SELECT doc FROM meta_docs WHERE key = 'api_keys'").fetchone()[0])
del doc["format"]
open(sys.argv[1] + ".keys", "w").write(json.dumps(doc))
db.execute("DELETE FROM meta_docs")
db.commit()
EOF
chmod 644 "$COORD_DB.keys"
out=$(timeout 30 "$DTF_BIN" coordinator --port 0 --db-path "$COORD_DB" "${ARGS[@]}" 2>&1) &&
	fail "the coordinator started with a side file others may read"
assert_contains "$out" "chmod 600" "the refusal of a side file others may read"
chmod 600 "$COORD_DB.keys"
start_coordinator "${ARGS[@]}"
grep -q "are now in the store" "$COORD_LOG" || fail "the import of the side file is not logged"
assert_eq "$(kcall "$M" GET /api/v1/tasks)" 200 "a key of the side file after the import"
assert_eq "$(reg "$Y" '{"worker_id": "y-2", "hostname": "h"}')" 401 "a revocation of the side file"
stop_coordinator
rm "$COORD_DB.keys"
start_coordinator "${ARGS[@]}"
assert_eq "$(kcall "$M" GET /api/v1/tasks)" 200 "an imported key once the side file is gone"
assert_eq "$(reg "$Y" '{"worker_id": "y-3", "hostname": "h"}')" 401 \
	"an imported revocation once the side file is gone"
stop_coordinator
# A key set of a newer format is refused rather than read in part.
/usr/bin/python3 - "$COORD_DB" <<'EOF'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
doc = json.loads(db.execute("SELECT doc FROM meta_docs WHERE key = 'api_keys'").fetchone()[0])
doc["format"] = 99
db.execute("UPDATE meta_docs SET doc = ? WHERE key = 'api_keys'", (json.dumps(doc),))
db.commit()
EOF
out=$(timeout 30 "$DTF_BIN" coordinator --port 0 --db-path "$COORD_DB" "${ARGS[@]}" 2>&1) &&
	fail "the coordinator started with keys of a newer format"
assert_contains "$out" "newer format" "the refusal of a newer format"
log "ok"
