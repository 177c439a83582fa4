#!/usr/bin/env bash
# The browser pool under load: a worker with a pool of 4 instances (4 slots, instances recycled
# every 25 tasks) runs 200 browser tasks in a row; they all pass, the pool keeps 4 browsers, and
# the worker's own memory does not grow from the first 40 tasks to the last; and an instance
# past its memory bound is replaced.
. "$(dirname "$0")/lib.sh"

command -v chromedriver > /dev/null && [ -x /usr/bin/chromium ] ||
	{ echo "SKIP: chromium and chromedriver are needed" >&2; exit 77; }
# A sanitizer build measures nothing here (ASan's quarantine holds freed memory, so RSS grows by
# design) and its leak checks are in e2e.test_browser_pool; the 200 tasks would only cost CI time.
if [ "$SCALE" != 1 ]; then
	echo "SKIP: the memory-growth test runs in the developer build only" >&2
	exit 77
fi

PAGES="$DTF_SOURCE_DIR/tests/e2e/browser"

start_coordinator
start_worker bm-1 --slots 4 --browsers chromium:4 --browser-recycle 25
wait_for -t $((60 * SCALE)) -m "worker bm-1 to register" worker_registered bm-1

/usr/bin/python3 - "$URL" "${WORKER_PID[bm-1]}" "$PAGES" "$SCALE" <<'PY' || fail "200 browser tasks"
import json, sys, time, urllib.request

url, pid, pages, scale = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])

def call(method, path, body=None):
    req = urllib.request.Request(url + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)

def rss_kib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

def run_batch(n):
    tasks = [{"type": "browser", "cwd": pages, "page": "pass.html", "timeout_s": 30}
             for _ in range(n)]
    run = call("POST", "/api/v1/tasks", {"tasks": tasks})["run_id"]
    deadline = time.time() + 120 * scale
    while time.time() < deadline:
        s = call("GET", f"/api/v1/runs/{run}/summary")
        done = s.get("completed", 0) + s.get("failed", 0)
        if done >= n:
            assert s.get("failed", 0) == 0, s
            return
        time.sleep(0.2)
    raise SystemExit(f"run {run} did not finish: {s}")

t0 = time.time()
run_batch(40)
base = rss_kib()
for _ in range(4):
    run_batch(40)
end = rss_kib()
secs = time.time() - t0
print(f"200 tasks in {secs:.1f} s ({200 / secs:.1f} tasks/s); worker RSS after 40: {base} KiB, "
      f"after 200: {end} KiB (+{end - base} KiB)")
assert end - base < 4096, (base, end)
PY

# Still four browsers (recycling replaced them, it did not add any).
browsers() {
	local p
	for p in $(our_processes); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = chromium ] || continue
		tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q -- '--type=' && continue
		echo "$p"
	done
}
n=$(browsers | wc -l)
assert_eq "$n" 4 "browsers after 200 tasks"
grep -q "recycled after 25 tasks" "$T/worker-bm-1.log" || fail "no instance was recycled"

# The memory bound: an instance whose processes together (their proportional set sizes) pass it
# is replaced after its task, which still passes.
kill -TERM "${WORKER_PID[bm-1]}"
wait_exit "${WORKER_PID[bm-1]}" $((30 * SCALE))
start_worker bm-2 --browsers chromium:1 --browser-memory 50
wait_for -t $((60 * SCALE)) -m "worker bm-2 to register" worker_registered bm-2
ID=$(submit "{\"type\": \"browser\", \"cwd\": \"$PAGES\", \"page\": \"pass.html\", \"timeout_s\": 30}")
wait_for -t $((60 * SCALE)) -m "the task on bm-2 to pass" task_status_is "$ID" completed
wait_for -t $((30 * SCALE)) -m "the instance past its memory bound to be replaced" \
	grep -q "MiB past the bound of 50 MiB" "$T/worker-bm-2.log"
