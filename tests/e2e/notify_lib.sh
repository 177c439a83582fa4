# notify_lib.sh: helpers for the `dtf notify` connector tests (tests/e2e/test_notify_*.sh),
# sourced after lib.sh. A fake service (tests/e2e/fake_service.py) on a loopback port chosen at
# run time records each request and plays scripted answers.
#
#   start_fake                 sets FAKE_URL, FAKE_LOG
#   fake_script JSON           adds answer rules (a JSON list, see fake_service.py)
#   fake_reset                 forgets the recorded requests
#   fake_clear                 drops the scripted rules (the service answers normally again)
#   notify ARGS…               dtf notify test --config $T/dtf.yaml ARGS…; NOTIFY_RC, NOTIFY_OUT
#                              (stdout and stderr), NOTIFY_MS (how long it took)
#   out_field NAME             the value of "NAME: …" in the last send's output
#   reqs EXPR                  EXPR over R, the recorded requests (python; strings print raw)
#   assert_req_count N EXPR    exactly N recorded requests satisfy the predicate EXPR over r
#   assert_no_secret S         S appears neither in dtf's output nor in its error lines

FAKE_LOG="$T/fake.jsonl"
FAKE_URL=""

start_fake() {
	local pf="$T/fake.port"
	/usr/bin/python3 "$DTF_SOURCE_DIR/tests/e2e/fake_service.py" --port-file "$pf" \
		--log "$FAKE_LOG" >> "$T/fake.log" 2>&1 &
	track_pid $!
	wait_for -t 10 -m "the fake service to start" test -s "$pf"
	FAKE_URL="http://127.0.0.1:$(cat "$pf")"
}

fake_script() {
	curl -s -o /dev/null --max-time 5 -X POST --data-binary "$1" "$FAKE_URL/_fake/script" ||
		fail "cannot reach the fake service"
}

fake_reset() { : > "$FAKE_LOG"; }

fake_clear() {
	curl -s -o /dev/null --max-time 5 -X POST "$FAKE_URL/_fake/clear" ||
		fail "cannot reach the fake service"
}

notify() {
	local start=$(date +%s%N)
	NOTIFY_OUT=$("$DTF_BIN" notify test --config "$T/dtf.yaml" "$@" 2>&1)
	NOTIFY_RC=$?
	NOTIFY_MS=$(( ($(date +%s%N) - start) / 1000000 ))
	printf '%s\n' "$NOTIFY_OUT" >> "$T/notify.log"
	log "dtf notify test $* -> $NOTIFY_RC in $NOTIFY_MS ms"
}

out_field() { printf '%s\n' "$NOTIFY_OUT" | sed -n "s/^$1: //p" | tail -n 1; }

reqs() {
	/usr/bin/python3 - "$FAKE_LOG" "$1" <<'PY'
import json, sys
R = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
v = eval(sys.argv[2])
print(v if isinstance(v, str) else json.dumps(v))
PY
}

assert_req_count() {
	local got
	got=$(reqs "len([r for r in R if ($2)])") || fail "bad predicate: $2"
	[ "$got" = "$1" ] || fail "want $1 requests with $2, got $got: $(reqs '[(r["method"], r["target"], r["status"]) for r in R]')"
}

assert_no_secret() {
	case "$NOTIFY_OUT$(cat "$T/notify.log")" in
	*"$1"*) fail "the secret appears in dtf's output" ;;
	esac
}

# expect_failure STATUS RETRY [RETRY_AFTER_MS]: the last notify failed with these (STATUS * for any).
expect_failure() {
	[ "$NOTIFY_RC" = 1 ] || fail "exit status $NOTIFY_RC, want 1: $NOTIFY_OUT"
	[ "$1" = "*" ] || assert_eq "$(out_field status)" "$1" "status ($NOTIFY_OUT)"
	assert_eq "$(out_field retry)" "$2" "retry ($NOTIFY_OUT)"
	[ -z "${3:-}" ] || assert_eq "$(out_field retry_after_ms)" "$3" "retry_after_ms ($NOTIFY_OUT)"
	[ -n "$(out_field error)" ] || fail "no error line: $NOTIFY_OUT"
}
