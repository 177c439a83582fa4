#!/usr/bin/env bash
# TLS end to end (docs/security.md): a throwaway CA made with openssl at run time; a coordinator
# serving HTTPS; a worker, `dtf client`, `dtf submit-task`, `dtf ci` and `dtf plugins` that trust
# the CA through --ca-cert or DTF_CA_CERT and run tasks; a client without the CA refused with a
# message that says what to do; --insecure refused towards a host that is not loopback (before
# connecting) unless --insecure-force; a key file others may read refused; SIGHUP serving a new
# certificate to new connections while an open event stream stays up; mutual TLS
# (--tls-client-ca) refusing a worker without a client certificate, or with one from another CA,
# and accepting one with a valid one.
. "$(dirname "$0")/lib.sh"

command -v openssl > /dev/null || { echo "SKIP: no openssl"; exit 77; }

# --- the throwaway PKI ---
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2> /dev/null; }
mkca() { # mkca NAME
	ec "$1.key" || fail "openssl genpkey"
	openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 2 -subj "/CN=dtf test $1" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
		2> openssl.err || fail "openssl req: $(cat openssl.err)"
}
mkcert() { # mkcert NAME CA SERIAL: a certificate for 127.0.0.1/localhost signed by CA
	ec "$1.key" || fail "openssl genpkey"
	openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$1" 2> openssl.err ||
		fail "openssl req: $(cat openssl.err)"
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' > "$1.ext"
	openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -set_serial "$3" -days 2 \
		-extfile "$1.ext" -out "$1.pem" 2> openssl.err || fail "openssl x509: $(cat openssl.err)"
	chmod 600 "$1.key"
}
mkca ca
mkca otherca
mkcert server ca 4097
mkcert server2 ca 8193
mkcert client ca 12289
mkcert stranger otherca 16385
export CURL_CA_BUNDLE="$T/ca.pem" # for lib.sh's curl calls only: dtf itself ignores it

# start_tls [args…]: like start_coordinator, over HTTPS.
start_tls() {
	local pf="$T/coordinator.port"
	rm -f "$pf"
	"$DTF_BIN" coordinator --port 0 --port-file "$pf" --db-path "$COORD_DB" \
		--heartbeat-interval 0.5 "$@" >> "$COORD_LOG" 2>&1 &
	COORD_PID=$!
	track_pid "$COORD_PID"
	wait_for -t 20 -m "the coordinator to write its port file" port_file_ready "$pf" "$COORD_PID"
	COORD_PORT=$(head -n1 "$pf")
	URL="https://127.0.0.1:$COORD_PORT"
	export URL
	wait_for -t 20 -m "the coordinator to answer /healthz over TLS" tls_healthz_ok
}
CURL_CERT=()
tls_healthz_ok() { curl -s --max-time 5 "${CURL_CERT[@]}" "$URL/healthz" | grep -q '"ok"'; }

# serial_served: the serial of the certificate a new connection gets, in hex.
serial_served() {
	openssl s_client -connect "127.0.0.1:$COORD_PORT" -CAfile ca.pem < /dev/null 2> /dev/null |
		openssl x509 -noout -serial 2> /dev/null | sed 's/^serial=//'
}

# --- a key file others may read is refused ---
chmod 644 server.key
"$DTF_BIN" coordinator --port 0 --db-path "$T/refused.db" --tls-cert server.pem \
	--tls-key server.key > refused.log 2>&1 &
pid=$!
track_pid $pid
wait_exit $pid 20
[ "$WAIT_RC" != 0 ] || fail "a coordinator with a world-readable key started"
grep -q "chmod 600" refused.log || fail "the refusal does not say what to do: $(cat refused.log)"
chmod 600 server.key

# Copies that SIGHUP will reload later.
cp server.pem live.pem
cp server.key live.key
chmod 600 live.key
start_tls --tls-cert live.pem --tls-key live.key
assert_eq "$(serial_served)" 1001 "the serial served at start"

# --- clients without the CA are refused, with the way out in the message ---
out=$(dtf client --coordinator "$URL" workers 2>&1)
[ $? != 0 ] || fail "dtf client without --ca-cert trusted a private CA: $out"
assert_contains "$out" "certificate is not trusted" "the refusal"
assert_contains "$out" "--ca-cert" "the refusal's advice"
out=$(dtf submit-task --coordinator-url "$URL" --task-file /dev/null 2>&1)
[ $? != 0 ] || fail "dtf submit-task without --ca-cert succeeded"
out=$(dtf client --coordinator "$URL" --ca-cert otherca.pem workers 2>&1)
[ $? != 0 ] || fail "dtf client trusted a certificate another CA signed: $out"
assert_contains "$out" "certificate is not trusted" "the refusal with the wrong CA"

out=$(dtf plugins list --coordinator "$URL" 2>&1)
[ $? != 0 ] || fail "dtf plugins list without --ca-cert trusted a private CA: $out"
assert_contains "$out" "certificate is not trusted" "dtf plugins' refusal"
dtf plugins list --coordinator "$URL" --ca-cert ca.pem > /dev/null 2> err.txt ||
	fail "dtf plugins list --ca-cert failed: $(cat err.txt)"

# --- with the CA: flag or environment ---
dtf client --coordinator "$URL" --ca-cert ca.pem workers > /dev/null 2> err.txt ||
	fail "dtf client --ca-cert failed: $(cat err.txt)"
DTF_CA_CERT="$T/ca.pem" dtf client --coordinator "$URL" workers > /dev/null 2> err.txt ||
	fail "dtf client with DTF_CA_CERT failed: $(cat err.txt)"

# --- a worker over TLS runs the tasks submitted over TLS ---
start_worker tls-w1 --ca-cert "$T/ca.pem"
wait_worker tls-w1
cat > suite.json <<'JSON'
[{"name": "tls_a", "command": ["true"]}, {"name": "tls_b", "shell": "echo over tls"}]
JSON
dtf submit-task --coordinator-url "$URL" --ca-cert ca.pem --task-file suite.json > sub.txt 2>&1 ||
	fail "dtf submit-task --ca-cert failed: $(cat sub.txt)"
out=$(DTF_CA_CERT="$T/ca.pem" dtf client --coordinator "$URL" wait-completion --timeout 30 2>&1)
assert_eq "$?" 0 "wait-completion over TLS ($out)"
assert_contains "$out" "2 passed" "the run over TLS"

# dtf ci against the TLS coordinator: refused without the CA, runs with it.
mkdir -p citests
printf '#!/bin/sh\nexit 0\n' > citests/test_ci_tls.sh
chmod +x citests/test_ci_tls.sh
out=$(dtf ci --provider local --coordinator "$URL" --test-dir citests --test-pattern 'test_*.sh' \
	--output-dir ci-out 2>&1)
[ $? != 0 ] || fail "dtf ci without --ca-cert trusted a private CA: $out"
assert_contains "$out" "certificate is not trusted" "dtf ci's refusal"
out=$(dtf ci --provider local --coordinator "$URL" --ca-cert ca.pem --test-dir citests \
	--test-pattern 'test_*.sh' --output-dir ci-out 2>&1)
assert_eq "$?" 0 "dtf ci --ca-cert ($out)"
assert_contains "$out" "1 passed" "dtf ci's run over TLS"

# --- --insecure: loopback only, with a warning ---
out=$(dtf client --coordinator "$URL" --insecure workers 2>&1)
assert_eq "$?" 0 "--insecure towards loopback ($out)"
assert_contains "$out" "not checked" "the --insecure warning"
# A name that resolves nowhere: the refusal must come before any connection is tried.
out=$(dtf client --coordinator "https://dtf-tls-test.invalid:9" --insecure workers 2>&1)
[ $? != 0 ] || fail "--insecure towards a remote host was accepted"
assert_contains "$out" "refusing --insecure" "the --insecure refusal"
assert_contains "$out" "--insecure-force" "the --insecure refusal's advice"
out=$(dtf client --coordinator "https://dtf-tls-test.invalid:9" --insecure-force workers 2>&1)
[ $? != 0 ] || fail "a host that does not exist answered"
case "$out" in *"refusing --insecure"*) fail "--insecure-force was refused: $out" ;; esac
"$DTF_BIN" worker --coordinator "https://dtf-tls-test.invalid:9" --insecure \
	--work-dir "$T/work/insecure" > worker-insecure.log 2>&1 &
pid=$!
track_pid $pid
wait_exit $pid 10
assert_eq "$WAIT_RC" 2 "a worker with --insecure towards a remote host"
grep -q "refusing --insecure" worker-insecure.log || fail "the worker does not say why: $(cat worker-insecure.log)"

# --- SIGHUP: the new certificate for new connections, open ones stay ---
curl -sN --max-time 120 "$URL/api/v1/events" > events.txt &
SSE=$!
track_pid $SSE
wait_for -t 10 -m "the event stream to open" grep -q "dtf events" events.txt
cp server2.pem live.pem
cp server2.key live.key
kill -HUP "$COORD_PID"
wait_for -t 10 -m "the new certificate to be served" eval '[ "$(serial_served)" = 2001 ]'
grep -q "reloaded the TLS certificate" "$COORD_LOG" || fail "the coordinator does not log the reload"
pid_alive "$SSE" || fail "the open event stream was dropped by the reload"
dtf submit-task --coordinator-url "$URL" --ca-cert ca.pem --task-file suite.json --name after-hup \
	> sub2.txt 2>&1 || fail "submit after the reload failed: $(cat sub2.txt)"
RUN2=$(cat .dtf/last-run)
wait_for -t 20 -m "the old stream to carry the new run's events" grep -q "$RUN2" events.txt
pid_alive "$SSE" || fail "the event stream ended"
# A broken pair is refused and the served one stays.
echo "not a certificate" > live.pem
kill -HUP "$COORD_PID"
wait_for -t 10 -m "the coordinator to log the refused reload" grep -q "kept the old TLS certificate" "$COORD_LOG"
assert_eq "$(serial_served)" 2001 "the serial after a failed reload"
# So is a certificate with a key that is not its own.
cp server.pem live.pem
cp server2.key live.key
kill -HUP "$COORD_PID"
wait_for -t 10 -m "the coordinator to refuse a key that is not the certificate's" \
	grep -q "is not the key of the certificate" "$COORD_LOG"
assert_eq "$(serial_served)" 2001 "the serial after a mismatched pair"
pid_alive "$COORD_PID" || fail "the coordinator died on a bad reload"
kill "$SSE" 2> /dev/null
stop_coordinator

# --- mutual TLS ---
COORD_DB="$T/mtls.db"
CURL_CERT=(--cert client.pem --key client.key)
start_tls --tls-cert server.pem --tls-key server.key --tls-client-ca ca.pem
code=$(curl -s -o body.txt -w '%{http_code}' "$URL/api/v1/workers")
assert_eq "$code" 403 "a request without a client certificate"
assert_contains "$(cat body.txt)" "client certificate is required" "the mTLS refusal"
code=$(curl -s -o /dev/null -w '%{http_code}' "${CURL_CERT[@]}" "$URL/api/v1/workers")
assert_eq "$code" 200 "a request with a client certificate"
"$DTF_BIN" worker --coordinator "$URL" --ca-cert "$T/ca.pem" --worker-id nocert \
	--work-dir "$T/work/nocert" > worker-nocert.log 2>&1 &
pid=$!
track_pid $pid
wait_exit $pid 20
[ "$WAIT_RC" != 0 ] || fail "a worker without a client certificate was accepted"
grep -q "client certificate" worker-nocert.log || fail "the worker does not say why: $(tail -5 worker-nocert.log)"
"$DTF_BIN" worker --coordinator "$URL" --ca-cert "$T/ca.pem" --worker-id stranger \
	--tls-cert "$T/stranger.pem" --tls-key "$T/stranger.key" \
	--work-dir "$T/work/stranger" > worker-stranger.log 2>&1 &
pid=$!
track_pid $pid
wait_exit $pid 20
[ "$WAIT_RC" != 0 ] || fail "a worker with another CA's certificate was accepted"
start_worker mtls-w1 --ca-cert "$T/ca.pem" --tls-cert "$T/client.pem" --tls-key "$T/client.key"
mtls_registered() {
	[ "$(http GET /api/v1/workers/mtls-w1 "" "${CURL_CERT[@]}")" = 200 ]
}
wait_for -t 20 -m "worker mtls-w1 to register" mtls_registered
dtf submit-task --coordinator-url "$URL" --ca-cert ca.pem --tls-cert client.pem --tls-key client.key \
	--task-file suite.json > sub3.txt 2>&1 || fail "submit over mTLS failed: $(cat sub3.txt)"
out=$(dtf client --coordinator "$URL" --ca-cert ca.pem --tls-cert client.pem --tls-key client.key \
	wait-completion --timeout 30 2>&1)
assert_eq "$?" 0 "wait-completion over mTLS ($out)"
assert_contains "$out" "2 passed" "the run over mTLS"
echo "PASS: TLS, --ca-cert, --insecure, SIGHUP reload and mutual TLS"
