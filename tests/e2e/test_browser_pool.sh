#!/usr/bin/env bash
# The worker's browser pool (docs/browsers.md) with the real headless Chromium: the probe finds a
# software WebGPU adapter (SwiftShader) and no usable WebNN context, and the worker registers
# those facts; the WebGPU matmul example passes and reports GFLOP/s; a page that throws fails its
# task with the message; postMessage reports; a browser killed with SIGKILL mid-task is replaced
# and the task passes on the retry; a hung page is cut at its timeout and its instance recycled;
# a task of 3 shards runs on three instances at once and merges; no browser outlives the worker.
. "$(dirname "$0")/lib.sh"

command -v chromedriver > /dev/null && [ -x /usr/bin/chromium ] ||
	{ echo "SKIP: chromium and chromedriver are needed" >&2; exit 77; }

task_done() {
	local st
	st=$(task_field "$1" 'd["status"]')
	[ "$st" = completed ] || [ "$st" = failed ]
}

EX="$DTF_SOURCE_DIR/examples/browser"
PAGES="$DTF_SOURCE_DIR/tests/e2e/browser"

# The config file's browsers.chromium section, as --detect shows it (flags would win over it).
printf 'browsers:\n  chromium:\n    instances: 1\n    extra_flags: "--disable-extensions"\n' > "$T/w.yaml"
dtf worker --config "$T/w.yaml" --detect --work-dir "$T/detect" > "$T/detect.json" 2> "$T/detect.log" ||
	fail "dtf worker --config --detect: $(cat "$T/detect.log")"
assert_eq "$(jq_py '[d["browsers"][0]["instances"], "webgpu:software" in d["hardware"]]' "$T/detect.json")" \
	"[1, true]" "the config file's browser pool"
dtf worker --browsers firefox:2 --detect > /dev/null 2>&1 && fail "--browsers firefox:2 was accepted"

start_coordinator
# A browser task needs a page or a URL.
code=$(http POST /api/v1/tasks '{"type": "browser", "script": "1"}')
assert_eq "$code" 400 "a browser task without page or url"
assert_contains "$(body)" "needs 'page'" "the refusal's message"
start_worker bw-1 --browsers chromium:3 --browser-recycle 100
wait_for -t $((60 * SCALE)) -m "worker bw-1 to register" worker_registered bw-1

# What the probe found, as registered.
http GET /api/v1/workers/bw-1 > /dev/null
python3 - "$T/body" <<'PY' || fail "registered capabilities: $(body)"
import json, sys
d = json.load(open(sys.argv[1]))
c = d["capabilities"]
hw = c["hardware"]
assert "browser:chromium" in hw and "webgpu:software" in hw, hw
assert "webgpu" not in hw, hw  # a software adapter is not a GPU
assert not any(h.startswith("webnn:") for h in hw), hw
b = c["browsers"][0]
assert b["name"] == "chromium" and b["version"], b
g = b["webgpu"]
assert g["available"] and g["adapter"] and g["software"] and g["compute_ok"], g
assert g["info"]["architecture"] == "swiftshader", g
assert g["limits"]["maxComputeWorkgroupSizeX"] >= 64 and g["features"], g
n = b["webnn"]
assert n["cpu"] is False and n["gpu"] is False and n["npu"] is False, n
PY
log "probe: software WebGPU adapter, no WebNN context"

# A task that needs a real WebGPU adapter never lands here; one that allows software does.
REAL=$(submit '{"name": "needs-gpu", "type": "browser", "page": "matmul.html", "hardware": "webgpu"}')
MATMUL=$(submit "{\"name\": \"matmul\", \"type\": \"browser\", \"browser\": \"chromium\", \"cwd\": \"$EX\", \"page\": \"matmul.html\", \"timeout_s\": 120, \"hardware\": [\"webgpu\", \"webgpu:software\"]}")
wait_for -t $((120 * SCALE)) -m "the matmul task to finish" task_done "$MATMUL"
http GET "/api/v1/tasks/$MATMUL" > /dev/null
python3 - "$T/body" <<'PY' || fail "matmul task: $(body)"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "completed", (d["status"], d.get("error"), d["result"].get("stderr"))
r = d["result"]
m = r["metrics"]
for n in (64, 128, 256):
    assert m[f"gflops_{n}"] > 0, m
names = sorted(t["name"] for t in r["testcases"])
assert names == ["matmul_128", "matmul_256", "matmul_64"], names
assert "GFLOP/s" in r["stdout"], r["stdout"]
print("matmul GFLOP/s:", {k: v for k, v in m.items() if k.startswith("gflops")})
PY
assert_eq "$(task_field "$REAL" 'd["status"]')" pending "the task that needs a real WebGPU adapter"

# A page that throws fails with its message.
THROW=$(submit "{\"type\": \"browser\", \"cwd\": \"$PAGES\", \"page\": \"throws.html\", \"timeout_s\": 30}")
POST=$(submit "{\"type\": \"browser\", \"cwd\": \"$PAGES\", \"page\": \"postmessage.html\", \"timeout_s\": 30}")
wait_for -t $((60 * SCALE)) -m "the throwing page's task to fail" task_status_is "$THROW" failed
wait_for -t $((60 * SCALE)) -m "the postMessage page's task to pass" task_status_is "$POST" completed
assert_contains "$(task_field "$THROW" 'd["error"]["message"]')" "dtf-page-boom: the page threw" \
	"the failed page's message"
assert_eq "$(task_field "$THROW" 'd["error"]["kind"]')" test_failures "the failed page's kind"
assert_contains "$(task_field "$THROW" 'd["result"]["stdout"]')" "about to fail" "console output"
assert_eq "$(task_field "$POST" 'd["result"]["metrics"]["answer"]')" 42 "the postMessage result"

# A hung page is cut at its timeout, and its instance is replaced.
HANG=$(submit "{\"type\": \"browser\", \"cwd\": \"$PAGES\", \"page\": \"hang.html\", \"timeout_s\": 3}")
wait_for -t $((60 * SCALE)) -m "the hung page's task to fail" task_status_is "$HANG" failed
assert_eq "$(task_field "$HANG" 'd["error"]["kind"]')" timeout "the hung page's error kind"
assert_contains "$(task_field "$HANG" 'd["error"]["message"]')" "did not finish in 3.0 s" \
	"the hung page's message"
wait_for -t $((30 * SCALE)) -m "the hung page's instance to be replaced" \
	grep -q "replaced (hung past its timeout)" "$T/worker-bw-1.log"

# A cancelled task stops waiting for its page (the next heartbeat tells the worker), and the
# instance, whose page may still run, is replaced.
CAN=$(submit "{\"type\": \"browser\", \"cwd\": \"$PAGES\", \"page\": \"hang.html\", \"timeout_s\": 120}")
wait_for -t $((30 * SCALE)) -m "the task to cancel to run" task_status_is "$CAN" running
api DELETE "/api/v1/tasks/$CAN" > /dev/null
wait_for -t $((30 * SCALE)) -m "the cancelled page's instance to be replaced" \
	grep -q "replaced (its task was cancelled)" "$T/worker-bw-1.log"
assert_eq "$(task_field "$CAN" 'd["status"]')" cancelled "the cancelled browser task"

# The browsers (not their drivers): Chromium's main processes of this test.
browsers() {
	local p
	for p in $(our_processes); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = chromium ] || continue
		tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q -- '--type=' && continue
		echo "$p"
	done
}

# SIGKILL to the browsers while a page runs: the instance is replaced and the page passes on the
# retry, on a fresh browser.
SLOW=$(submit "{\"type\": \"browser\", \"cwd\": \"$PAGES\", \"page\": \"slow.html?ms=4000\", \"timeout_s\": 60}")
wait_for -t $((30 * SCALE)) -m "the slow page's task to run" task_status_is "$SLOW" running
OLD=$(browsers | tr '\n' ' ')
[ -n "$OLD" ] || fail "no browser process found"
log "killing browsers $OLD"
# shellcheck disable=SC2086
kill -KILL $OLD
wait_for -t $((90 * SCALE)) -m "the slow page's task to finish" task_done "$SLOW"
http GET "/api/v1/tasks/$SLOW" > /dev/null
python3 - "$T/body" <<'PY' || fail "the task whose browser was killed: $(body)"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "completed", (d["status"], d.get("error"), d["result"].get("stderr"))
assert d["result"]["browser"]["retries"] == 1, d["result"]["browser"]
assert d["result"]["metrics"]["waited_ms"] == 4000, d["result"]
PY
grep -q "replaced (crashed" "$T/worker-bw-1.log" || fail "no instance was replaced after the kill"
for p in $OLD; do pid_alive "$p" && fail "browser $p survived its SIGKILL"; done
log "a killed browser's task passed on the retry"
# The browsers that were idle died too: each instance is replaced (the busy one after its page
# failed, the idle ones by the pool's supervisor) before the next test needs all three.
replaced_all() { [ "$(grep -c "replaced (crashed" "$T/worker-bw-1.log")" -ge 3 ]; }
wait_for -t $((30 * SCALE)) -m "the three instances to be replaced" replaced_all

# Three shards on three instances at once, merged into one result.
SH=$(submit "{\"type\": \"browser\", \"cwd\": \"$PAGES\", \"page\": \"shard.html\", \"script\": \"await dtfRun()\", \"shards\": 3, \"items\": [1, 2, 3, 4, 5, 6], \"timeout_s\": 60}")
wait_for -t $((60 * SCALE)) -m "the sharded task to finish" task_done "$SH"
http GET "/api/v1/tasks/$SH" > /dev/null
python3 - "$T/body" <<'PY' || fail "the sharded task: $(body)"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "completed", (d["status"], d.get("error"), d["result"].get("stderr"))
r = d["result"]
sh = r["browser"]["shards"]
assert len(sh) == 3 and all(s["passed"] for s in sh), sh
assert len({s["instance"] for s in sh}) == 3, sh  # three instances
m = r["metrics"]
# Each shard ran 2 s; at once, every one started before any ended: the worker's own times of
# each shard (a page's clock starts only once its instance has loaded it, which under a loaded
# sanitizer build can take longer than another shard's whole run).
starts = [s["started_at"] for s in sh]
ends = [s["finished_at"] for s in sh]
assert max(starts) < min(ends), (starts, ends)
assert sorted(m[f"shard{k}/items"] for k in range(3)) == [2, 2, 2], m
assert sum(m[f"shard{k}/sum"] for k in range(3)) == 21, m
names = sorted(t["name"] for t in r["testcases"])
assert len(names) == 6 and names[0].startswith("shard"), names
PY
log "3 shards ran at once on three instances and merged"

# The performance history: GET /api/v1/browsers lists the pool's instances with their states,
# the adapter, and per benchmark the recent metrics; a run much slower than the ones before is
# flagged as a regression.
for g in 10 11 10 4; do
	id=$(submit "{\"name\": \"perfbench\", \"type\": \"browser\", \"cwd\": \"$PAGES\", \"page\": \"perf.html?gflops=$g\", \"timeout_s\": 30}")
	wait_for -t $((30 * SCALE)) -m "perfbench $g to finish" task_status_is "$id" completed
done
pool_reported() { api GET /api/v1/browsers | jq_py 'len(d["browsers"][0]["instances"])' | grep -qx 3; }
wait_for -t 10 -m "the pool's instances in a heartbeat" pool_reported
api GET /api/v1/browsers > "$T/browsers.json"
python3 - "$T/browsers.json" <<'PY' || fail "GET /api/v1/browsers: $(cat "$T/browsers.json")"
import json, sys
d = json.load(open(sys.argv[1]))["browsers"]
assert len(d) == 1, d
b = d[0]
assert b["worker_id"] == "bw-1" and b["browser"] == "chromium" and b["software"] is True, b
assert b["adapter"] == "google swiftshader (software)", b["adapter"]
states = [i["state"] for i in b["instances"]]
assert len(states) == 3 and all(s in ("idle", "busy", "recycling", "crashed", "starting", "down") for s in states), states
assert sum(i["restarts"] for i in b["instances"]) >= 5, b["instances"]  # hang, cancel, kill of 3
bench = {x["benchmark"]: x for x in b["benchmarks"]}
assert bench["matmul"]["runs"] == 1 and bench["matmul"]["last"]["gflops_256"] > 0, bench["matmul"]
p = bench["perfbench"]
assert p["runs"] == 4 and p["last"]["gflops"] == 4, p
reg = {r["metric"]: r for r in p["regressions"]}
assert set(reg) == {"gflops", "ms_total"}, p["regressions"]
assert reg["gflops"]["baseline"] == 10 and round(reg["gflops"]["change_pct"]) == -60, reg
PY
log "GET /api/v1/browsers: instances, adapter, history and a regression flagged"

# No browser outlives its worker.
kill -TERM "${WORKER_PID[bw-1]}"
wait_exit "${WORKER_PID[bw-1]}" $((30 * SCALE))
no_browsers() { [ -z "$(browsers)" ]; }
wait_for -t 10 -m "the browsers to be gone with the worker" no_browsers
log "no browser left after the worker stopped"
