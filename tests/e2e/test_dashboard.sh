#!/usr/bin/env bash
# The web dashboard (docs/dashboard.md) on a coordinator with an API key and a real worker: the
# login flow (redirect without the key, the cookie's flags, the cookie reads but never changes),
# every page answers with a Content-Security-Policy and the DOM contract (counts equal to the
# run's summary, one task row per task, one timeline bar per attempt, a retried task's two),
# names are escaped, the live view and the event stream resume after Last-Event-ID; and the HTML
# report of `dtf run --dashboard` embeds the timeline, the run printing its dashboard URL.
. "$(dirname "$0")/lib.sh"

DOM="$DTF_SOURCE_DIR/tests/e2e/dashboard_dom.py"
K=dash-key-Qm93xv
XSS='<img src=x onerror=alert(1)>'

start_coordinator --api-key "$K"
API_KEY=$K
start_worker dw-1 --api-key "$K" --slots 2
wait_worker dw-1

# page PATH FILE [curl args…]: GET with the cookie; prints the status, headers in FILE.h.
page() {
	local p=$1 f=$2
	shift 2
	curl -s -o "$f" -D "$f.h" -w '%{http_code}' --max-time 30 -b "dtf_key=$K" "$@" "$URL$p"
}
has_csp() {
	grep -qi "^Content-Security-Policy: default-src 'none'; script-src 'self';.*frame-ancestors 'none'" "$1.h" ||
		fail "$2: no Content-Security-Policy header: $(cat "$1.h")"
}

# --- a run: a pass, a failure with an unsafe name, a retried task, one nobody can run ---
FLAG="$T/retry.flag"
cat > run.json <<EOF
{"run": {"name": "dash <run>"}, "tasks": [
 {"name": "d_pass", "shell": "echo ok-output-marker"},
 {"name": "$XSS", "shell": "echo boom-marker >&2; exit 3"},
 {"name": "d_retry", "shell": "test -f $FLAG || { touch $FLAG; exit 1; }", "max_retries": 1},
 {"name": "d_nohw", "command": ["true"], "hardware": "no-such-hardware"}]}
EOF
api POST /api/v1/tasks @run.json > sub.json
RUN=$(jq_py 'd["run_id"]' sub.json)
PASS=$(jq_py 'd["ids"][0]' sub.json)
BAD=$(jq_py 'd["ids"][1]' sub.json)
RETRY=$(jq_py 'd["ids"][2]' sub.json)
NOHW=$(jq_py 'd["ids"][3]' sub.json)
finished_is() {
	http GET "/api/v1/runs/$RUN/summary" > /dev/null
	[ "$(jq_py 'd["finished"]' "$T/body")" = "$1" ]
}
wait_for -t 30 -m "the three runnable tasks to finish" finished_is 3

# --- auth: no key, a wrong key, the login form, the cookie ---
code=$(curl -s -o /dev/null -D noauth.h -w '%{http_code}' "$URL/")
assert_eq "$code" 303 "GET / without a key"
grep -qi '^Location: /login' noauth.h || fail "GET / without a key does not go to /login"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/runs/$RUN")" 303 "a run page without a key"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/v1/tasks")" 401 "the API without a key"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/dashboard/live")" 401 "the live view without a key"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -b "dtf_key=wrong" "$URL/")" 303 "a page with a wrong cookie"
code=$(curl -s -o login.html -D login.html.h -w '%{http_code}' "$URL/login")
assert_eq "$code" 200 "GET /login"
has_csp login.html "GET /login"
grep -q '<form class="login" id="login" method="post" action="/login">' login.html || fail "no login form"
code=$(curl -s -o bad.html -D bad.h -w '%{http_code}' --data-urlencode "key=not-$K" "$URL/login")
assert_eq "$code" 401 "POST /login with a wrong key"
grep -qi '^Set-Cookie' bad.h && fail "a wrong key got a cookie"
code=$(curl -s -o /dev/null -D good.h -w '%{http_code}' --data-urlencode "key=$K" "$URL/login")
assert_eq "$code" 303 "POST /login with the key"
grep -qi '^Location: /$' <(tr -d '\r' < good.h) || fail "the login does not go to /: $(cat good.h)"
cookie=$(tr -d '\r' < good.h | grep -i '^Set-Cookie:')
assert_eq "$cookie" "Set-Cookie: dtf_key=$K; HttpOnly; SameSite=Strict; Path=/" "the login cookie"
# The cookie reads (pages, the API, the event stream) but never changes anything.
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -b "dtf_key=$K" "$URL/api/v1/tasks")" 200 "GET /api/v1/tasks with the cookie"
code=$(curl -s -o post.json -w '%{http_code}' -b "dtf_key=$K" -H 'Content-Type: application/json' \
	--data '{"name": "by_cookie", "command": ["true"]}' "$URL/api/v1/tasks")
assert_eq "$code" 401 "POST /api/v1/tasks with only the cookie"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -b "dtf_key=$K" -X DELETE "$URL/api/v1/tasks/$NOHW")" 401 \
	"DELETE with only the cookie"
assert_eq "$(task_field "$NOHW" 'd["status"]')" pending "the task the cookie tried to cancel"
code=$(curl -s -o /dev/null -D out.h -w '%{http_code}' -b "dtf_key=$K" "$URL/logout")
assert_eq "$code" 303 "GET /logout"
tr -d '\r' < out.h | grep -qi '^Set-Cookie: dtf_key=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0' ||
	fail "logout does not clear the cookie: $(cat out.h)"

# --- the overview while a task waits: why it waits ---
assert_eq "$(page / ov1.html)" 200 "GET / with the cookie"
has_csp ov1.html "GET /"
python3 "$DOM" pending ov1.html "$NOHW" || fail "the pending table"
# Nobody can run it: cancelled as unschedulable, it counts as skipped.
api DELETE "/api/v1/tasks/$NOHW?reason=unschedulable" > /dev/null
api GET "/api/v1/runs/$RUN/summary" > summary.json
jq_py 'd["done"]' summary.json | grep -q true || fail "the run is not done: $(cat summary.json)"
api GET "/api/v1/tasks?run_id=$RUN" > tasks.json
assert_eq "$(jq_py 'len(d["tasks"])' tasks.json)" 4 "tasks of the run"
assert_eq "$(jq_py "[t for t in d['tasks'] if t['id'] == '$RETRY'][0]['attempt']" tasks.json)" 2 "the retried task's attempts"

assert_eq "$(page / ov.html)" 200 "GET /"
python3 "$DOM" overview ov.html "$RUN" summary.json dw-1 || fail "the overview's DOM contract"
grep -q 'dash &lt;run&gt;' ov.html || fail "the run's name is not escaped on the overview"
grep -q '<tr class="recovery-stat"><td>' ov.html || fail "the overview shows no recovery record after a retry"

# --- the run page ---
assert_eq "$(page "/runs/$RUN" run.html)" 200 "GET /runs/$RUN"
has_csp run.html "GET /runs/$RUN"
rects=$(python3 "$DOM" run run.html "$RUN" summary.json tasks.json) || fail "the run page's DOM contract"
assert_eq "$rects" 4 "timeline bars (one per attempt: 1 + 1 + 2 + 0)"
python3 "$DOM" outcomes run.html "$RETRY" failed,passed || fail "the retried task's bars"
# The worker says which of its 2 slots ran each attempt: no more lanes than slots.
lanes=$(grep -o 'data-lanes="[0-9]*"' run.html | grep -o '[0-9]*')
[ "$lanes" -ge 1 ] && [ "$lanes" -le 2 ] || fail "$lanes timeline lanes for a worker with 2 slots"
assert_eq "$(jq_py "sorted(set(a.get('slot', -1) for t in d['tasks'] for a in t.get('history', [])) - {0, 1})" tasks.json)" "[]" \
	"the slots recorded in the attempts' history"
python3 "$DOM" outcomes run.html "$BAD" failed || fail "the failed task's bar"
grep -q '&lt;img src=x onerror=alert(1)&gt;' run.html || fail "the unsafe name is not escaped"
grep -q '<img' run.html && fail "a raw <img> tag reached the run page"
assert_eq "$(page "/runs/$RUN?status=failed" runf.html)" 200 "GET /runs/$RUN?status=failed"
python3 "$DOM" run runf.html "$RUN" summary.json tasks.json failed > /dev/null || fail "?status=failed"
assert_eq "$(page "/runs/$RUN?status=bogus" bogus.html)" 400 "an unknown status filter"
assert_eq "$(page "/runs/no-such-run" nf.html)" 404 "an unknown run"
assert_eq "$(page "/runs/$RUN/timeline" tl.svg)" 200 "the timeline fragment"
grep -qi '^Content-Type: image/svg+xml' tl.svg.h || fail "the timeline fragment is not SVG"
assert_eq "$(grep -o '<rect class="attempt"' tl.svg | wc -l)" 4 "bars in the timeline fragment"

# --- the task pages ---
assert_eq "$(page "/tasks/$BAD" bad.html)" 200 "GET /tasks/$BAD"
has_csp bad.html "GET /tasks/$BAD"
python3 "$DOM" task bad.html failed 1 boom-marker || fail "the failed task's page"
grep -q '<img' bad.html && fail "a raw <img> tag reached the task page"
assert_eq "$(page "/tasks/$PASS" pass.html)" 200 "GET /tasks/$PASS"
python3 "$DOM" task pass.html completed 0 ok-output-marker || fail "the passed task's page"
assert_eq "$(page "/tasks/$RETRY" retry.html)" 200 "GET /tasks/$RETRY"
assert_eq "$(grep -c '<tr class="attempt" data-attempt=' retry.html)" 2 "attempt rows of the retried task"
grep -q 'id="recovery"' retry.html || fail "the retried task shows no recovery steps"
assert_eq "$(page "/dashboard.js" js.txt)" 200 "GET /dashboard.js"
has_csp js.txt "GET /dashboard.js"
grep -q "body.dataset.live = 'open'" js.txt || fail "the script does not mark the stream open"
if command -v node > /dev/null; then
	cp js.txt dashboard.js
	node --check dashboard.js || fail "/dashboard.js is not valid JavaScript"
fi

# --- the live view the script reads ---
assert_eq "$(page "/dashboard/live?run=$RUN" live.json)" 200 "GET /dashboard/live?run="
python3 - live.json summary.json <<'EOF' || fail "the live view's counts"
import json, sys
live, s = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
r = live["runs"][0]
for k in ("passed", "failed", "skipped", "total"):
    assert r[k] == s["tests"][k], (k, r, s)
assert r["done"] and r["finished"] == 4 and r["tasks_total"] == 4, r
EOF

# --- the event stream with the cookie, resumed from Last-Event-ID as EventSource does ---
curl -sN --max-time 3 -b "dtf_key=$K" -H "Last-Event-ID: 0" "$URL/api/v1/events?run_id=$RUN" > ev1.txt || true
grep -q "^event: task" ev1.txt || fail "no task event with the cookie: $(head -c 500 ev1.txt)"
FIRST=$(grep -m1 '^id: ' ev1.txt | cut -d' ' -f2)
LAST=$(grep '^id: ' ev1.txt | tail -n1 | cut -d' ' -f2)
[ "$LAST" -gt "$FIRST" ] || fail "only one event in the stream"
curl -sN --max-time 3 -b "dtf_key=$K" -H "Last-Event-ID: $FIRST" "$URL/api/v1/events?run_id=$RUN" > ev2.txt || true
NEXT=$(grep -m1 '^id: ' ev2.txt | cut -d' ' -f2)
[ -n "$NEXT" ] && [ "$NEXT" -gt "$FIRST" ] || fail "the stream did not resume after Last-Event-ID $FIRST"
grep -q "^id: $FIRST\$" ev2.txt && fail "the stream replayed the event of Last-Event-ID itself"

# --- with TLS the cookie is also Secure (openssl makes a throwaway certificate) ---
if command -v openssl > /dev/null; then
	openssl req -x509 -newkey rsa:2048 -nodes -keyout tls.key -out tls.crt -days 1 \
		-subj /CN=127.0.0.1 > /dev/null 2>&1 || fail "openssl could not make a certificate"
	"$DTF_BIN" coordinator --port 0 --port-file tls.port --db-path "$T/tls.db" --api-key "$K" \
		--tls-cert tls.crt --tls-key tls.key > tls-coordinator.log 2>&1 &
	track_pid $!
	wait_for -t 20 -m "the TLS coordinator's port file" port_file_ready tls.port $!
	TLS_URL="https://127.0.0.1:$(head -n1 tls.port)"
	tls_login() { curl -sk -o /dev/null -D tls.h --max-time 10 --data-urlencode "key=$K" "$TLS_URL/login"; }
	wait_for -t 20 -m "the TLS coordinator to answer" tls_login
	cookie=$(tr -d '\r' < tls.h | grep -i '^Set-Cookie:')
	assert_eq "$cookie" "Set-Cookie: dtf_key=$K; HttpOnly; SameSite=Strict; Path=/; Secure" "the login cookie over TLS"
fi

# --- dtf run --dashboard: its URL printed and served during the run, its HTML report with the
# timeline, no waiting at the end ---
GATE="$T/gate"
cat > local.json <<EOF
[{"name": "l_pass", "shell": "for i in \$(seq 300); do [ -f $GATE ] && exit 0; sleep 0.1; done; exit 1"},
 {"name": "l_fail", "shell": "exit 1"},
 {"name": "l_retry", "shell": "test -f $T/l.flag || { touch $T/l.flag; exit 1; }", "max_retries": 1}]
EOF
"$DTF_BIN" run --workers 2 --task-file local.json --report-formats html,json \
	--output-dir OUT --state-dir STATE --dashboard > lrun.out 2> lrun.err &
LRUN=$!
track_pid $LRUN
wait_for -t 30 -m "dtf run to print its dashboard URL" grep -q '^dtf run: dashboard at http://127.0.0.1:[0-9]*/$' lrun.err
DASH=$(grep -m1 '^dtf run: dashboard at' lrun.err | sed 's/^dtf run: dashboard at //')
# The URL comes before the tasks are submitted; while l_pass waits for the gate, the run is under
# way and its page shows it, not finished.
run_shown() {
	[ "$(curl -s -o during.html -w '%{http_code}' --max-time 10 "$DASH")" = 200 ] &&
		grep -q '<tr class="run" data-run-id="[^"]*" data-done="false"' during.html
}
wait_for -t 30 -m "the dashboard of dtf run to show the run under way" run_shown
touch "$GATE"
wait_exit $LRUN 60
assert_eq "$WAIT_RC" 1 "dtf run --dashboard exit status (a test fails): $(tail -5 lrun.err)"
[ -s OUT/report.html ] || fail "no OUT/report.html"
python3 "$DOM" report OUT/report.html OUT/results.json || fail "the HTML report's timeline"
assert_eq "$(grep -o '<rect class="attempt"' OUT/report.html | wc -l)" 4 "bars in the report (1 + 1 + 2)"

# --dashboard-keep: after the reports the dashboard stays until SIGINT.
rm -f "$T/l.flag"
"$DTF_BIN" run --workers 1 --task-file local.json --report-formats json --output-dir OUT2 \
	--state-dir STATE2 --dashboard-keep > krun.out 2> krun.err &
KRUN=$!
track_pid $KRUN
wait_for -t 60 -m "dtf run --dashboard-keep to finish its run and keep serving" grep -q 'stays at' krun.err
[ -s OUT2/results.json ] || fail "--dashboard-keep kept serving before writing its reports"
DASH=$(grep -m1 '^dtf run: dashboard at' krun.err | sed 's/^dtf run: dashboard at //')
assert_eq "$(curl -s -o kept.html -w '%{http_code}' --max-time 10 "$DASH")" 200 "the kept dashboard"
grep -q 'data-done="true"' kept.html || fail "the kept dashboard does not show the finished run"
pid_alive $KRUN || fail "dtf run --dashboard-keep did not wait"
kill -INT $KRUN
wait_exit $KRUN 30
assert_eq "$WAIT_RC" 1 "dtf run --dashboard-keep's exit status after Ctrl-C"
exit 0
