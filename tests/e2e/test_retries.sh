#!/usr/bin/env bash
# Retries: a failed task with retries left goes back to pending after a jittered exponential
# backoff (--retry-backoff), shows when it will be retried, and one that passes on a retry is
# reported as flaky; one that keeps failing ends failed after max_retries + 1 attempts.
. "$(dirname "$0")/lib.sh"

start_coordinator --retry-backoff 0.5
start_worker rt-1
wait_worker rt-1

M="$T/marker"
FLAKY=$(api POST /api/v1/tasks "{\"name\": \"flaky\", \"max_retries\": 2, \"shell\": \"if [ -f $M ]; then echo second; else touch $M; echo first >&2; exit 1; fi\"}" | jq_py 'd["id"]')
ALWAYS=$(api POST /api/v1/tasks '{"name": "always_fails", "max_retries": 2, "command": ["false"]}' | jq_py 'd["id"]')

wait_for -t 30 -m "the flaky task to complete" task_status_is "$FLAKY" completed
wait_for -t 30 -m "the failing task to fail for good" task_status_is "$ALWAYS" failed

http GET "/api/v1/tasks/$FLAKY" > /dev/null
python3 - "$T/body" <<'PY' || fail "flaky task: $(body)"
import json, sys, datetime
d = json.load(open(sys.argv[1]))
h = d["history"]
assert d["attempt"] == 2 and len(h) == 2, h
assert h[0]["outcome"] == "requeued" and h[0]["error_kind"] == "exit_code", h
assert h[1]["outcome"] == "passed", h
assert d["result"]["flaky"] is True, d["result"]
assert d["retries_used"] == 1, d
assert "retry_at" in d
PY

http GET "/api/v1/tasks/$ALWAYS" > /dev/null
python3 - "$T/body" <<'PY' || fail "failing task: $(body)"
import json, sys
from datetime import datetime
d = json.load(open(sys.argv[1]))
h = d["history"]
assert d["attempt"] == 3 and len(h) == 3, h
assert [a["outcome"] for a in h] == ["requeued", "requeued", "failed"], h
assert d["error"]["kind"] == "exit_code", d["error"]
t = [datetime.strptime(a["finished_at"], "%Y-%m-%dT%H:%M:%S.%fZ") for a in h]
# Backoff 0.5 s then 1 s, each jittered to between half and all of it.
gap1 = (t[1] - t[0]).total_seconds()
gap2 = (t[2] - t[1]).total_seconds()
assert gap1 >= 0.25, (gap1, h)
assert gap2 >= 0.5, (gap2, h)
PY

# The JSON report counts the flaky task.
api GET "/api/v1/tasks/export?ids=$FLAKY,$ALWAYS&format=json" > "$T/report.json"
assert_eq "$(jq_py 'd["summary"]["flaky"]' "$T/report.json")" 1 "flaky count in the JSON report"
# JUnit marks it the way Surefire marks reruns: a <flakyFailure> for the failed attempt, while
# it still counts as a pass.
api GET "/api/v1/tasks/export?ids=$FLAKY,$ALWAYS&format=junit" > "$T/report.xml"
python3 - "$T/report.xml" <<'PY' || fail "JUnit report: $(head -c 3000 "$T/report.xml")"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = {c.get("name"): c for c in root.iter("testcase")}
f = cases["flaky"]
ff = f.findall("flakyFailure")
assert len(ff) == 1 and ff[0].get("type") == "exit_code", [x.attrib for x in ff]
assert f.find("failure") is None, "the flaky task counts as failed"
assert cases["always_fails"].find("flakyFailure") is None
suite = root.find("testsuite")
assert suite.get("failures") == "1", suite.attrib
PY
exit 0
