#!/bin/sh
# dashboard.sh: the web dashboard's time to first render with a large run. Starts a coordinator
# (no API key) and one worker of 4 slots, submits one run of N tasks (default 10,000: every 100th
# runs `false`, the rest `true`) and lets the worker finish them all, so the run page holds N
# task rows and N timeline rects ("finished"). Then a second run of N tasks that ask for a
# hardware class no worker offers, so they all stay pending with a reason ("pending": the
# overview's pending table and the blocked list have N candidates). For each, for the run page
# GET /runs/{id} and the overview GET /:
#   (a) the server: curl's time_starttransfer and time_total, median of R requests (default 7);
#   (b) headless Chromium through selenium: first-paint, first-contentful-paint,
#       domContentLoaded and load, from the page's navigation start, median of L loads
#       (default 5; each a fresh navigation in the same browser, the cache emptied before it).
# Usage: bench/dashboard.sh [N] [R] [L]. Needs /usr/bin/chromium, /usr/bin/chromedriver and
# python3-selenium for (b); without them only (a) is measured.
set -eu
N=${1:-10000}
R=${2:-7}
L=${3:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DTF=${DTF_BIN:-$ROOT/build/dtf}
[ -x "$DTF" ] || { echo "build dtf first (make)" >&2; exit 2; }
TMP=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	sleep 0.3
	for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

cd "$TMP"
"$DTF" coordinator --port 0 --port-file port --db-path "$TMP/bench.db" 2>coordinator.log &
pids="$pids $!"
i=0
while [ ! -s port ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
[ -s port ] || { echo "the coordinator did not start: $(tail -5 coordinator.log)" >&2; exit 1; }
URL="http://127.0.0.1:$(cat port)"
"$DTF" worker --coordinator "$URL" --worker-id dash-bench --slots 4 --work-dir "$TMP/work" \
	2>worker.log &
pids="$pids $!"

code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/")
if [ "$code" != 200 ]; then
	echo "GET / answered $code: this coordinator serves no dashboard" >&2
	exit 2
fi

python3 -c "
import json
json.dump({'run': {'name': 'dashboard bench'},
           'tasks': [{'name': 'task-%05d' % i, 'command': ['false' if i % 100 == 99 else 'true']}
                     for i in range($N)]}, open('tasks.json', 'w'))"
t0=$(date +%s.%N)
RUN=$(curl -s -X POST -H 'Content-Type: application/json' --data-binary @tasks.json \
	"$URL/api/v1/tasks" | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
# Until the run is done (the coordinator holds the request until then, up to 60 s a time).
i=0
until curl -s "$URL/api/v1/runs/$RUN/summary?wait_s=30" |
	python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["done"] else 1)'; do
	i=$((i + 1))
	[ $i -lt 20 ] || { echo "the run did not finish" >&2; exit 1; }
done
t1=$(date +%s.%N)
curl -s "$URL/api/v1/runs/$RUN/summary" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("run %s: %d tasks, %d completed, %d failed (finished in %s s)" % (
    sys.argv[1], d["total"], d["completed"], d["failed"], sys.argv[2]))' "$RUN" \
	"$(echo "$t1 - $t0" | bc -l | cut -c1-5)"

# (a) the server.
server() {
	# server PATH: R requests; prints the median time_starttransfer and time_total in ms and
	# the size of the page.
	for _ in $(seq "$R"); do
		curl -s -o page.html -w '%{time_starttransfer} %{time_total}\n' "$URL$1"
	done > times.txt
	python3 - "$1" times.txt page.html <<'EOF'
import os, statistics, sys
t = [tuple(map(float, l.split())) for l in open(sys.argv[2])]
print("%-22s server  first byte %7.1f ms  total %7.1f ms  (%d requests, page %d KiB)" % (
    "GET " + (sys.argv[1] if len(sys.argv[1]) < 18 else "/runs/{id}"),
    statistics.median(a for a, _ in t) * 1000, statistics.median(b for _, b in t) * 1000, len(t),
    os.path.getsize(sys.argv[3]) // 1024))
EOF
}
BROWSER=1
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] ||
	! /usr/bin/python3 -c 'import selenium' 2>/dev/null; then
	echo "no chromium, chromedriver or selenium: browser timings skipped" >&2
	BROWSER=0
fi
cat > browser.py <<'EOF'
import os, statistics, sys, time
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

url, run, loads, tmp = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
o = webdriver.ChromeOptions()
o.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
          f"--user-data-dir={tmp}/profile", "--window-size=1280,1000", "--disable-extensions",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):
    o.add_argument(a)
if os.geteuid() == 0:
    o.add_argument("--no-sandbox")
d = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=o)
d.set_page_load_timeout(120)
PROBE = """
var n = performance.getEntriesByType('navigation')[0], p = {};
performance.getEntriesByType('paint').forEach(function (e) { p[e.name] = e.startTime; });
return {fp: p['first-paint'], fcp: p['first-contentful-paint'],
        dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd, ttfb: n.responseStart,
        rows: document.querySelectorAll('#tasks tr.task').length,
        pend: document.querySelectorAll('#pending tbody tr').length,
        rects: document.querySelectorAll('svg#timeline rect.attempt').length};
"""
try:
    for path, label in ((f"/runs/{run}", "/runs/{id}"), ("/", "/")):
        got = []
        for _ in range(loads):
            d.execute_cdp_cmd("Network.clearBrowserCache", {})
            d.get("about:blank")
            d.get(url + path)
            deadline = time.monotonic() + 60
            while True:
                m = d.execute_script(PROBE)
                if (m["fcp"] is not None and m["load"]) or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            got.append(m)
        med = lambda k: statistics.median(g[k] for g in got if g[k] is not None) \
            if any(g[k] is not None for g in got) else float("nan")
        print("%-22s browser first byte %6.0f ms  first paint %6.0f ms  FCP %6.0f ms  "
              "DOMContentLoaded %6.0f ms  load %6.0f ms  (%d loads; %d task rows, %d rects, "
              "%d pending rows)" % (
                  "GET " + label, med("ttfb"), med("fp"), med("fcp"), med("dcl"), med("load"),
                  len(got), got[-1]["rows"], got[-1]["rects"], got[-1]["pend"]))
finally:
    d.quit()
EOF

# measure LABEL RUN: (a) and (b) for the run page of RUN and the overview.
measure() {
	echo "--- $1"
	server "/runs/$2"
	server "/"
	[ "$BROWSER" = 0 ] || /usr/bin/python3 browser.py "$URL" "$2" "$L" "$TMP"
}
measure "finished: $N tasks done (1% failed)" "$RUN"

# The pending run: nothing can run it, so it stays as submitted.
python3 -c "
import json
json.dump({'run': {'name': 'dashboard bench, pending'},
           'tasks': [{'name': 'waiting-%05d' % i, 'command': ['true'], 'hardware': 'rocm'}
                     for i in range($N)]}, open('pending.json', 'w'))"
RUN2=$(curl -s -X POST -H 'Content-Type: application/json' --data-binary @pending.json \
	"$URL/api/v1/tasks" | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
curl -s "$URL/api/v1/runs/$RUN2/summary" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["pending"] == d["total"], d
print("run %s: %d tasks, all pending" % (sys.argv[1], d["total"]))' "$RUN2"
measure "pending: $N tasks no worker can run (and the finished run beside them)" "$RUN2"

