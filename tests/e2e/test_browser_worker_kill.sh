#!/usr/bin/env bash
# The browser pool (docs/browsers.md) with the real headless Chromium, two things the main test
# does not cover: a page that posts its result before its load event (the harness hooks
# messages only after it) still reports it; and a worker killed with SIGKILL leaves no
# chromedriver and no Chromium behind (each instance's keeper stops its process group when the
# worker's end of a pipe closes), within a few seconds.
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
