# ci_lib.sh: helpers for the `dtf ci` provider tests (tests/e2e/test_ci_*.sh), sourced after
# lib.sh. A mock CI service (tests/fixtures/mock_ci.py) records each request it receives.
#
#   start_mock [--fail METHOD:REGEX:STATUS[:RETRY_AFTER]]…   sets MOCK_URL, MOCK_LOG
#   mock_fail RULE…          adds failure rules to the running mock
#   make_suite               $T/suite: test_ok.sh (passes, leaves metrics.txt as an artifact)
#                            and test_bad.sh (fails)
#   add_junit_test           $T/suite/test_cases.sh: a JUnit report with one failing case
#   run_ci [args…]           dtf ci --embedded on $T/suite against the mock; CI_RC, $T/ci.out
#   reqs EXPR                EXPR over R, the list of recorded requests (python)
#   assert_req_count N EXPR  exactly N recorded requests satisfy the predicate EXPR over r
#   assert_no_secret S       S appears nowhere in dtf's output

MOCK_LOG="$T/mock.log"
MOCK_URL=""

start_mock() {
	local pf="$T/mock.port"
	python3 "$DTF_SOURCE_DIR/tests/fixtures/mock_ci.py" --port-file "$pf" --log "$MOCK_LOG" \
		"$@" >> "$T/mock.log.err" 2>&1 &
	track_pid $!
	wait_for -t 10 -m "the mock CI service to start" test -s "$pf"
	MOCK_URL="http://127.0.0.1:$(cat "$pf")"
	: > "$MOCK_LOG"
}

mock_fail() {
	local rules
	rules=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "$@")
	curl -s -o /dev/null -X POST --data-binary "$rules" "$MOCK_URL/_mock/fail" ||
		fail "cannot reach the mock"
}

make_suite() {
	mkdir -p "$T/suite"
	cat > "$T/suite/test_ok.sh" <<'SH'
#!/bin/sh
# dtf: artifacts=metrics.txt
echo "throughput 124.5" > "$DTF_WORK_DIR/metrics.txt"
echo ok
SH
	cat > "$T/suite/test_bad.sh" <<'SH'
#!/bin/sh
echo "boom: expected 4, got 5" >&2
exit 1
SH
}

# add_junit_test: $T/suite/test_cases.sh writes a JUnit report with test_add passing and
# test_div failing ("division by zero").
add_junit_test() {
	cat > "$T/suite/test_cases.sh" <<'SH'
#!/bin/sh
# dtf: junit=r.xml
cat > "$DTF_WORK_DIR/r.xml" <<'XML'
<testsuite name="calc" tests="2"><testcase classname="calc" name="test_add" time="0.5"/>
<testcase classname="calc" name="test_div"><failure message="division by zero">trace</failure></testcase></testsuite>
XML
SH
}

run_ci() {
	local start=$(date +%s%N)
	"$DTF_BIN" ci --embedded --workers 2 --state-dir "$T/state" --test-dir suite \
		--test-pattern 'test_*' --output-dir "$T/out" --report-formats json,junit \
		--api-url "$MOCK_URL" --poll-interval 0.2 --timeout 60 --quiet "$@" \
		> "$T/ci.out" 2>&1
	CI_RC=$?
	CI_MS=$(( ($(date +%s%N) - start) / 1000000 ))
	log "dtf ci exited $CI_RC after $CI_MS ms"
}

reqs() {
	python3 - "$MOCK_LOG" "$1" <<'PY'
import json, sys
R = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
v = eval(sys.argv[2])
print(v if isinstance(v, str) else json.dumps(v))
PY
}

assert_req_count() {
	local got
	got=$(reqs "len([r for r in R if ($2)])")
	[ "$got" = "$1" ] || fail "want $1 requests with $2, got $got; log: $(cut -c1-300 "$MOCK_LOG")"
}

assert_no_secret() {
	if grep -qF -- "$1" "$T/ci.out"; then
		fail "the secret appears in dtf's output: $(grep -F -- "$1" "$T/ci.out" | head -3)"
	fi
}

# A failed test case exits 1: dtf ci's own output goes with the failure message.
ci_out() { cat "$T/ci.out"; }
