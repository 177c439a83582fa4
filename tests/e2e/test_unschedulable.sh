#!/usr/bin/env bash
# Waiting forever is a choice: a coordinator with one CPU worker, a task that needs cuda and a
# plain one. `dtf client wait-completion --unschedulable-timeout 2` stops waiting for the cuda
# task after 2 s, reports it skipped with the reason (and the coordinator records the same, so the
# exported reports agree), and the plain task passed; `--unschedulable-timeout 0` waits (until
# --timeout); a task that becomes runnable while it is timed is not skipped; `dtf ci` on the
# coordinator (fleet mode) does the same with its own reports.
. "$(dirname "$0")/lib.sh"

# summary_says LINE PASSED SKIPPED WHAT: a summary line counts PASSED passed, SKIPPED skipped
# (or none) and nothing failed, errored or cancelled.
summary_says() {
	grep -qE "(^|[^0-9])$2 passed" <<< "$1" || fail "$4: not $2 passed: $1"
	if [ "$3" -gt 0 ]; then
		grep -qE "(^|[^0-9])$3 skipped" <<< "$1" || fail "$4: not $3 skipped: $1"
	else
		grep -qE "(^|[^0-9])[1-9][0-9]* skipped" <<< "$1" && fail "$4: skipped: $1"
	fi
	grep -qE "(^|[^0-9])[1-9][0-9]* (failed|errors?|cancelled)" <<< "$1" && fail "$4: $1"
	return 0
}

start_coordinator
export DTF_COORDINATOR="$URL"
start_worker cpu-1
wait_worker cpu-1

cat > tasks.json <<'EOF'
[{"name": "needs_cuda", "command": ["true"], "hardware": "cuda"},
 {"name": "plain", "shell": "echo plain ok"}]
EOF

# --- wait-completion --unschedulable-timeout 2: returns after about 2 s, exit 0 ---
dtf client submit-task --file tasks.json > /dev/null || fail "submit-task"
RUN=$(cat .dtf/last-run)
t0=$(date +%s%N)
dtf client wait-completion --unschedulable-timeout 2 > wait.out 2> wait.err
rc=$?
took_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
log "wait-completion took $took_ms ms: $(cat wait.out)"
assert_eq "$rc" 0 "wait-completion exit status ($(cat wait.out wait.err))"
[ "$took_ms" -ge 2000 ] || fail "wait-completion skipped the task after $took_ms ms, before 2 s"
[ "$took_ms" -le $((8000 * SCALE)) ] || fail "wait-completion took $took_ms ms"
out=$(cat wait.out)
assert_contains "$out" "skipped needs_cuda" "wait-completion output"
assert_contains "$out" "none has hardware cuda (1 worker registered)" "the reason in the wait-completion output"
summary_says "$(tail -n1 wait.out)" 1 1 "the wait-completion summary"
assert_contains "$(cat wait.err)" "skipping needs_cuda" "the progress output"
# The coordinator recorded it: cancelled as unschedulable, with the reason.
api GET "/api/v1/tasks?run_id=$RUN" > tasks.out
python3 - tasks.out <<'EOF' || fail "the coordinator's record of the run"
import json, sys
t = {x["name"]: x for x in json.load(open(sys.argv[1]))["tasks"]}
assert t["plain"]["status"] == "completed", t["plain"]["status"]
c = t["needs_cuda"]
assert c["status"] == "cancelled", c["status"]
assert c["error"]["kind"] == "unschedulable", c["error"]
assert "no registered worker can run it" in c["error"]["message"], c["error"]
assert "cuda" in c["error"]["message"], c["error"]
EOF
# The exported reports say skipped, with the reason.
dtf client export-results --format junit --output run.xml > /dev/null || fail "export junit"
python3 - run.xml <<'EOF' || fail "JUnit export of the run"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = {c.get("name"): c for c in root.iter("testcase")}
assert set(cases) == {"needs_cuda", "plain"}, set(cases)
s = cases["needs_cuda"].find("skipped")
assert s is not None, ET.tostring(cases["needs_cuda"])
assert "cuda" in (s.get("message") or "") + (s.text or ""), ET.tostring(s)
assert cases["plain"].find("skipped") is None and cases["plain"].find("failure") is None
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
assert sum(int(x.get("skipped", 0)) for x in suites) == 1, [x.attrib for x in suites]
EOF
dtf client export-results --format json --output run.json > /dev/null || fail "export json"
assert_eq "$(jq_py 'd["summary"]["skipped"]' run.json)" 1 "skipped in the JSON export"

# --- --unschedulable-timeout 0 waits: only --timeout ends the wait, the task stays pending ---
dtf client submit-task --file tasks.json > /dev/null || fail "submit-task (2)"
RUN2=$(cat .dtf/last-run)
dtf client wait-completion --unschedulable-timeout 0 --timeout 3 > wait0.out 2> wait0.err
rc=$?
assert_eq "$rc" 3 "wait-completion --unschedulable-timeout 0 --timeout 3 ($(cat wait0.out wait0.err))"
assert_contains "$(cat wait0.out)" "timed out" "wait-completion output with 0"
api GET "/api/v1/tasks?run_id=$RUN2&status=pending" > pending.out
assert_eq "$(jq_py '[t["name"] for t in d["tasks"]]' pending.out)" '["needs_cuda"]' \
	"pending tasks after --unschedulable-timeout 0"
dtf client cancel --run "$RUN2" > /dev/null || fail "cancel the second run"

# --- dtf ci on the coordinator (fleet mode) ---
mkdir -p suite
printf '#!/bin/sh\n# dtf: hardware=cuda\nnvidia-smi\n' > suite/test_gpu.sh
printf '#!/bin/sh\necho fine\n' > suite/test_ok.sh
t0=$(date +%s%N)
dtf ci --provider local --coordinator "$URL" --test-dir suite --test-pattern 'test_*' \
	--output-dir ci-out --unschedulable-timeout 2 --poll-interval 1 > ci.out 2> ci.err
rc=$?
took_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
log "dtf ci took $took_ms ms: $(cat ci.out)"
assert_eq "$rc" 0 "dtf ci exit status ($(cat ci.out; tail -5 ci.err))"
[ "$took_ms" -ge 2000 ] || fail "dtf ci skipped the test after $took_ms ms, before 2 s"
[ "$took_ms" -le $((15000 * SCALE)) ] || fail "dtf ci took $took_ms ms"
assert_contains "$(cat ci.out)" "skipped test_gpu.sh" "dtf ci output"
summary_says "$(tail -n1 ci.out)" 1 1 "the dtf ci summary"
python3 - ci-out/results.xml ci-out/results.json <<'EOF' || fail "dtf ci reports"
import json, sys, xml.etree.ElementTree as ET
cases = {c.get("name"): c for c in ET.parse(sys.argv[1]).getroot().iter("testcase")}
s = cases["test_gpu.sh"].find("skipped")
assert s is not None and "cuda" in (s.get("message") or "") + (s.text or ""), cases
d = json.load(open(sys.argv[2]))
assert d["summary"]["skipped"] == 1 and d["summary"]["failed"] == 0, d["summary"]
EOF

# --- a task that becomes runnable while it is timed is not skipped (last: the cuda worker
# stays registered) ---
dtf client submit-task --file tasks.json > /dev/null || fail "submit-task (3)"
"$DTF_BIN" client wait-completion --unschedulable-timeout $((10 * SCALE)) > wait3.out \
	2> wait3.err &
WAITER=$!
track_pid $WAITER
wait_for -t 10 -m "wait-completion to say the cuda task is blocked" grep -q "blocked: needs_cuda" wait3.err
start_worker gpu-1 --hardware cuda
wait_exit $WAITER $((20 * SCALE))
assert_eq "$WAIT_RC" 0 "wait-completion once a cuda worker came ($(cat wait3.out wait3.err))"
summary_says "$(tail -n1 wait3.out)" 2 0 "the summary with a cuda worker"
grep -q "skipped" wait3.err && fail "a task was skipped though a worker could run it: $(cat wait3.err)"

exit 0
