#!/bin/sh
# throughput.sh: dtf's overhead per task. Runs N no-op tasks (`true`) through a coordinator and
# W local workers of S slots each (SLOTS, default 2) over loopback, and the same N commands
# through `xargs -P W*S`, in one run, and
# prints tasks/s for both and the ratio. Usage: bench/throughput.sh [N] [W]
# AUTH=1: the coordinator has API keys (an admin key for the client, an enrollment key for the
# workers, which then authenticate with JWTs; docs/auth.md), to measure what that costs.
# TLS=1: the coordinator serves HTTPS with a certificate from a throwaway CA made here with
# openssl, and the workers and the client verify it (--ca-cert).
set -eu
N=${1:-2000}
W=${2:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DTF=${DTF_BIN:-$ROOT/build/dtf}
[ -x "$DTF" ] || { echo "build dtf first (make)" >&2; exit 2; }
TMP=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	sleep 0.2
	for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
now() { date +%s.%N; }

# Slots per worker: the comparison runs xargs with the same total parallelism (W x S).
S=${SLOTS:-2}
P=$((W * S))

# xargs -P: the same commands, spawned directly.
t0=$(now)
seq "$N" | xargs -P "$P" -I{} true
t1=$(now)
xargs_s=$(echo "$t1 - $t0" | bc -l)

# dtf: coordinator + W workers, N tasks submitted as one run.
cd "$TMP"
KEYARGS="" WKEY="" CKEY="" HKEY=""
if [ "${AUTH:-0}" = 1 ]; then
	KEYARGS="--api-key bench:admin:bench-admin-key-0123456789 --api-key enr:worker-enroll:bench-enroll-key-0123456789"
	WKEY="--enroll-key bench-enroll-key-0123456789"
	CKEY="--api-key bench-admin-key-0123456789"
	HKEY="X-API-Key: bench-admin-key-0123456789"
fi
TLS_SERVER="" TLS_CLIENT="" SCHEME=http
if [ "${TLS:-0}" = 1 ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
		-out ca.pem -days 1 -subj "/CN=bench CA" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key \
		-out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1\n' > ext
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
		-extfile ext -out server.pem 2>/dev/null
	chmod 600 server.key
	TLS_SERVER="--tls-cert $TMP/server.pem --tls-key $TMP/server.key"
	TLS_CLIENT="--ca-cert $TMP/ca.pem"
	SCHEME=https
	export CURL_CA_BUNDLE="$TMP/ca.pem"
fi
# shellcheck disable=SC2086 # the TLS flags are words
"$DTF" coordinator --port 0 --port-file port --db-path "$TMP/bench.db" $KEYARGS $TLS_SERVER 2>coordinator.log &
pids="$pids $!"
i=0
while [ ! -s port ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
URL="$SCHEME://127.0.0.1:$(cat port)"
for w in $(seq "$W"); do
	# shellcheck disable=SC2086
	"$DTF" worker --coordinator "$URL" --worker-id "bench-$w" --slots "$S" --work-dir "$TMP/work-$w" $WKEY $TLS_CLIENT 2>"worker-$w.log" &
	pids="$pids $!"
done
python3 -c "
import json,sys
json.dump({'tasks':[{'name':'noop-%d'%i,'command':['true']} for i in range($N)]}, open('tasks.json','w'))"
# Wait for the workers to register.
i=0
until [ "$(curl -s -H "$HKEY" "$URL/api/v1/workers" | grep -o '"status":"idle"' | wc -l)" -ge "$W" ] || [ $i -ge 100 ]; do
	sleep 0.05; i=$((i + 1))
done
t0=$(now)
# shellcheck disable=SC2086
"$DTF" client --coordinator "$URL" $CKEY $TLS_CLIENT submit-task --file tasks.json >/dev/null
# shellcheck disable=SC2086
"$DTF" client --coordinator "$URL" $CKEY $TLS_CLIENT wait-completion --quiet >/dev/null
t1=$(now)
dtf_s=$(echo "$t1 - $t0" | bc -l)
for p in $pids; do awk -v p=$p '{printf "pid %s cpu %.2fs\n", p, ($14+$15)/100}' /proc/$p/stat; done >&2
completed=$(curl -s -H "$HKEY" "$URL/api/v1/runs/$(cat .dtf/last-run)/summary" | python3 -c 'import json,sys; print(json.load(sys.stdin)["completed"])')
[ "$completed" = "$N" ] || { echo "only $completed of $N tasks completed" >&2; exit 1; }

printf '%-10s %8s %10s %10s\n' tool tasks seconds tasks/s
printf '%-10s %8d %10.2f %10.0f\n' "xargs -P$P" "$N" "$xargs_s" "$(echo "$N / $xargs_s" | bc -l)"
printf '%-10s %8d %10.2f %10.0f\n' "dtf ${W}x$S$([ "$SCHEME" = https ] && echo ' tls')" "$N" "$dtf_s" "$(echo "$N / $dtf_s" | bc -l)"
printf 'dtf / xargs throughput ratio: %.2f\n' "$(echo "$xargs_s / $dtf_s" | bc -l)"
