#!/usr/bin/env bash
# The browser pool (docs/browsers.md) with the real headless Chromium, what the main test does
# not cover: a page that posts its result before its load event (the harness hooks messages
# only after it) still reports it; the benchmarks' performance history survives a coordinator
# restart, and a run whose benchmark regressed shows it in its report (JSON and HTML) and on its
# dashboard page; a worker killed with SIGKILL leaves no chromedriver and no Chromium behind
# (each instance's keeper stops its process group when the worker's end of a pipe closes),
# within a few seconds.
. "$(dirname "$0")/lib.sh"

command -v chromedriver > /dev/null && [ -x /usr/bin/chromium ] ||
	{ echo "SKIP: chromium and chromedriver are needed" >&2; exit 77; }

PAGES="$DTF_SOURCE_DIR/tests/e2e/browser"
# The worker's browser processes: chromedriver, Chromium and its helpers, found by the
# environment every process of this test carries.
browser_procs() {
	local p
	for p in $(our_processes); do
		case "$(cat "/proc/$p/comm" 2>/dev/null)" in
		chromedriver | chromium | chrome*) echo "$p" ;;
		esac
	done
}

start_coordinator
COORD_PORT_WANT=$COORD_PORT # a restart keeps the port the worker knows
start_worker bk-1 --browsers chromium:1
wait_for -t $((60 * SCALE)) -m "worker bk-1 to register" worker_registered bk-1

ID=$(submit "{\"type\": \"browser\", \"cwd\": \"$PAGES\", \"page\": \"postearly.html\", \"timeout_s\": 10}")
wait_for -t $((40 * SCALE)) -m "the early-posting page's task to finish" eval \
	'[ "$(task_field "$ID" "d[\"status\"]")" = completed ] || [ "$(task_field "$ID" "d[\"status\"]")" = failed ]'
http GET "/api/v1/tasks/$ID" > /dev/null
python3 - "$T/body" <<'PY' || fail "the page that posted before its load event: $(body)"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "completed", (d["status"], d.get("error"))
assert d["result"]["metrics"]["early"] == 1, d["result"]
PY
log "a message posted before the load event was kept"

# Three runs of a benchmark make its history; a coordinator restart keeps it.
for g in 10 11 10; do
	id=$(submit "{\"name\": \"perfbench\", \"type\": \"browser\", \"cwd\": \"$PAGES\", \"page\": \"perf.html?gflops=$g\", \"timeout_s\": 20}")
	wait_for -t $((30 * SCALE)) -m "perfbench $g to complete" task_status_is "$id" completed
done
stop_coordinator KILL
start_coordinator
wait_for -t $((30 * SCALE)) -m "worker bk-1 back after the restart" worker_registered bk-1
runs_of() { api GET /api/v1/browsers | jq_py '[b["runs"] for x in d["browsers"] for b in x["benchmarks"] if b["benchmark"] == "perfbench"]'; }
assert_eq "$(runs_of)" "[3]" "the history after the restart"
# A run whose benchmark is much slower than the median of the ones before.
RUN=$(api POST /api/v1/tasks "{\"run\": {\"name\": \"slow\"}, \"tasks\": [{\"name\": \"perfbench\", \"type\": \"browser\", \"cwd\": \"$PAGES\", \"page\": \"perf.html?gflops=4\", \"timeout_s\": 20}]}" | jq_py 'd["run_id"]')
run_done() { [ "$(api GET "/api/v1/runs/$RUN/summary" | jq_py 'd["done"]')" = true ]; }
wait_for -t $((30 * SCALE)) -m "the slow run to finish" run_done
http GET "/api/v1/runs/$RUN/export?format=json" > /dev/null
python3 - "$T/body" <<'PY' || fail "the slow run's report: $(body)"
import json, sys
d = json.load(open(sys.argv[1]))
b = d["browser_benchmarks"]
assert len(b) == 1 and b[0]["benchmark"] == "perfbench" and b[0]["regression"] is True, b
m = {x["metric"]: x for x in b[0]["metrics"]}
g = m["gflops"]
assert g["trend"] == [10, 11, 10, 4] and g["median"] == 10 and g["regression"], g
assert round(g["change_pct"]) == -60 and g["runs_before"] == 3, g
assert m["ms_total"]["regression"] is True, m["ms_total"]
PY
http GET "/api/v1/runs/$RUN/export?format=html" > /dev/null
assert_contains "$(body)" ">REGRESSION</td>" "the HTML report's regression flag"
http GET "/runs/$RUN" > /dev/null
assert_contains "$(body)" 'class="regression"' "the run's dashboard page"
log "the history survived a restart; the regressed run's report flags it"

PROCS=$(browser_procs | tr '\n' ' ')
[ -n "$PROCS" ] || fail "no chromedriver or Chromium process found"
log "killing worker ${WORKER_PID[bk-1]} with SIGKILL; browser processes: $PROCS"
kill -KILL "${WORKER_PID[bk-1]}"
gone() {
	local p
	for p in $PROCS; do pid_alive "$p" && return 1; done
	return 0
}
wait_for -t 5 -m "chromedriver and Chromium to go with the SIGKILLed worker" gone
log "no browser process left 5 s after the worker's SIGKILL"
exit 0
