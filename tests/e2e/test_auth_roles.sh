#!/usr/bin/env bash
# The route-role matrix (docs/auth.md): every route of every front-end, as
# `dtf coordinator --print-routes` lists them with the role each needs, answers 401 without a
# key, 403 with a key of too low a role (the dashboard's pages: 303 to /login instead), and
# reaches its handler (not 401/403/429) with the right one. Open routes answer without a key.
# GraphQL checks roles per operation: a query with read, a mutation with submit, quarantineWorker
# with admin.
. "$(dirname "$0")/lib.sh"

A=adm-secret-Qk31 S=sub-secret-Wn48 R=read-secret-Ty59 E=enr-secret-Pz62
start_coordinator --api-key "adm:admin:$A" --api-key "sub:submit:$S" --api-key "rd:read:$R" \
	--api-key "enr:worker-enroll:$E" --auth-fail-rate 100000 --auth-fail-burst 100000
API_KEY=$A

# A worker's token, from a registration with the enrollment key.
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $E" \
	-H 'X-DTF-Protocol: 1' -d '{"worker_id": "mx", "hostname": "h"}' "$URL/api/v1/workers/register")
assert_eq "$code" 201 "registration with the enrollment key"
TOK=$(jq_py 'd["token"]' "$T/body")
case "$TOK" in *.*.*) ;; *) fail "the worker token is not a JWT: $TOK" ;; esac

TID=$(submit '{"command": ["true"], "run_id": null}')
RID=$(api POST /api/v1/runs '{"name": "matrix"}' | jq_py 'd["id"]')
[ -n "$TID" ] && [ -n "$RID" ] || fail "no task or run to test with"

# key_for ROLE: a key of that role; lower ROLE: a key of too low a role for it.
key_for() {
	case $1 in admin) echo "$A" ;; submit) echo "$S" ;; read) echo "$R" ;; worker-enroll) echo "$E" ;; esac
}
lower() {
	case $1 in admin) echo "$S" ;; submit) echo "$R" ;; read) echo "$E" ;; worker-enroll) echo "$R" ;;
	worker) echo "$R" ;; esac
}

# call METHOD PATH [curl args…]: the status.
call() {
	local m=$1 p=$2
	shift 2
	curl -s -o "$T/body" -w '%{http_code}' -X "$m" --max-time 2 "$@" "$URL$p" || true
}

n=0
dtf coordinator --print-routes > "$T/routes" || fail "--print-routes failed"
[ "$(wc -l < "$T/routes")" -ge 40 ] || fail "too few routes: $(cat "$T/routes")"
while read -r m pat role; do
	p=${pat//\{name\}/tmpkey}
	case $p in
	/api/v1/tasks/*) p=${p//\{id\}/$TID} ;;
	/api/v1/runs/* | /runs/*) p=${p//\{id\}/$RID} ;;
	/tasks/*) p=${p//\{id\}/$TID} ;;
	*) p=${p//\{id\}/mx} ;;
	esac
	data='{}'
	case "$m $pat" in
	"POST /api/v1/keys") data='{"name": "tmpkey", "role": "read"}' ;;
	"POST /api/v1/tasks") data='{"command": ["true"]}' ;;
	"POST /api/v1/runs") data='{"name": "r2"}' ;;
	"POST /api/v1/workers/register") data='{"worker_id": "mx2", "hostname": "h"}' ;;
	"POST /api/v1/workers/{id}/lease") data='{"max": 0}' ;;
	"POST /api/v1/tasks/{id}/"*) data='{"worker_id": "mx", "outcome": "passed", "data": "x"}' ;;
	"POST /graphql") data='{"query": "{ tasks(first: 1) { total } }"}' ;;
	"PUT /api/v1/scheduler") data='{"strategy": "priority"}' ;;
	"POST /login") data="key=$R" ;;
	esac
	args=(-H 'X-DTF-Protocol: 1' -H 'Content-Type: application/json')
	[ "$m" = GET ] || args+=(--data-binary "$data")
	if [ "$role" = open ]; then
		c=$(call "$m" "$p" "${args[@]}")
		case $c in 401 | 403 | 429 | 000) fail "$m $pat is open but answered $c without a key" ;; esac
		n=$((n + 1))
		continue
	fi
	# No key.
	c=$(call "$m" "$p" "${args[@]}")
	case $pat in
	/ | /runs/\{id\} | /tasks/\{id\}) want=303 ;;
	*) want=401 ;;
	esac
	assert_eq "$c" "$want" "$m $pat ($role) without a key"
	# Too low a role.
	c=$(call "$m" "$p" "${args[@]}" -H "Authorization: Bearer $(lower "$role")")
	[ "$want" = 303 ] || want=403
	assert_eq "$c" "$want" "$m $pat ($role) with a key of too low a role"
	# The right role (a worker route: the worker's token).
	if [ "$role" = worker ]; then
		c=$(call "$m" "$p" "${args[@]}" -H "Authorization: Bearer $E" -H "X-DTF-Worker-Token: $TOK")
	else
		c=$(call "$m" "$p" "${args[@]}" -H "Authorization: Bearer $(key_for "$role")")
	fi
	# The handler answers: 2xx, or its own refusal of this request (a 404 of a handler is not
	# the router's "no such endpoint").
	case $c in
	2?? | 400 | 409) ;;
	404) grep -q 'no such endpoint' "$T/body" && fail "$m $pat is not routed" ;;
	*) fail "$m $pat ($role) with the right key answered $c: $(body)" ;;
	esac
	n=$((n + 1))
done < "$T/routes"
log "$n routes checked"

# GraphQL: a mutation needs submit, quarantineWorker admin.
gql() {
	curl -s --max-time 5 -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
		-d "$2" "$URL/graphql"
}
MUT='{"query": "mutation { createRun(name: \"g\") { id } }"}'
gql "$R" "$MUT" | grep -q '"forbidden"' || fail "a read key ran a mutation"
gql "$S" "$MUT" | grep -q '"errors"' && fail "a submit key could not run a mutation"
QM='{"query": "mutation { quarantineWorker(id: \"mx\") { id } }"}'
gql "$S" "$QM" | grep -q '"forbidden"' || fail "a submit key quarantined a worker"
gql "$A" "$QM" | grep -q '"errors"' && fail "an admin key could not quarantine a worker"

# The dashboard's login form refuses an enrollment key (it cannot read).
c=$(curl -s -o /dev/null -w '%{http_code}' -d "key=$E" "$URL/login")
assert_eq "$c" 401 "signing in with an enrollment key"
c=$(curl -s -o /dev/null -w '%{http_code}' -d "key=$R" "$URL/login")
assert_eq "$c" 303 "signing in with a read key"
log "ok"
