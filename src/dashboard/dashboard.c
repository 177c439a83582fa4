/* dashboard.c: the dashboard's routes, the page shell every page shares (security headers, the
 * style sheet under a per-reply nonce, navigation), its script (/dashboard.js) and small helpers.
 * Every text from a run, a task or a worker goes through dtf_html_escape (report/timeline.h). */
#include "dashboard/dashboard.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/testcount.h"
#include "common/util.h"
#include "dashboard/internal.h"
#include "report/timeline.h"

static void h_script(struct dtf_http_req *r);

/* Pages need a key (a browser without one is sent to /login); the live JSON view and the
 * timeline fragment are read by the script with the page's cookie, and answer 401 without it;
 * the script itself and the login form are open. */
const struct dtf_http_route dashboard_routes[] = {
    {"GET", "/", dash_h_overview, DTF_ROUTE_PAGE_READ},
    {"GET", "/runs/{id}", dash_h_run, DTF_ROUTE_PAGE_READ},
    {"GET", "/runs/{id}/timeline", dash_h_run_timeline, DTF_ROUTE_READ},
    {"GET", "/tasks/{id}", dash_h_task, DTF_ROUTE_PAGE_READ},
    {"GET", "/dashboard/live", dash_h_live, DTF_ROUTE_READ},
    {"GET", "/dashboard.js", h_script, DTF_ROUTE_OPEN},
    {"GET", "/login", dash_h_login_form, DTF_ROUTE_OPEN},
    {"POST", "/login", dash_h_login, DTF_ROUTE_OPEN},
    {"GET", "/logout", dash_h_logout, DTF_ROUTE_OPEN},
    {NULL, NULL, NULL, 0},
};

static const char style[] =
    ":root{--pass:#2e7d32;--fail:#c62828;--skip:#9e9e9e;--run:#1565c0;--warn:#ef6c00;"
    "--line:#e0e0e0}\n"
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;"
    "background:#fafafa;color:#212121}\n"
    "header{background:#263238;color:#fff;padding:10px 24px;display:flex;gap:18px;"
    "align-items:center;flex-wrap:wrap}\n"
    "header a{color:#fff;text-decoration:none}header .brand{font-weight:700;font-size:17px}\n"
    "header .live{margin-left:auto;font-size:12px;opacity:.8}\n"
    "main{padding:8px 24px 24px}\n"
    "section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:10px 14px;"
    "margin:14px 0;overflow-x:auto}\n"
    "h1{font-size:19px;margin:12px 0}h2{font-size:15px;margin:4px 0 10px}\n"
    "table{border-collapse:collapse;width:100%}\n"
    "th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);"
    "vertical-align:top}\n"
    "th{background:#eceff1;font-weight:600}\n"
    "td.passed,td.failed,td.skipped,td.total,td.num{text-align:right;white-space:nowrap}\n"
    "#run-counts span{font-weight:700;font-size:18px;margin-right:4px}\n"
    "#run-counts .passed,td.passed{color:var(--pass)}#run-counts .failed,td.failed{color:"
    "var(--fail)}\n"
    "[data-status=passed] .task-status,.st-passed{color:var(--pass)}"
    "[data-status=failed] .task-status,.st-failed{color:var(--fail);font-weight:600}"
    "[data-status=running] .task-status,.st-running{color:var(--run)}\n"
    "progress{width:140px}\n"
    "pre{background:#263238;color:#eceff1;padding:10px;border-radius:4px;overflow:auto;"
    "max-height:480px;white-space:pre-wrap;word-break:break-word}\n"
    "pre:empty{display:none}\n"
    ".muted{color:#757575;font-size:12px}.error-text{color:var(--fail)}\n"
    "form.login{max-width:360px}form.login input{width:100%;padding:6px;margin:6px 0 10px;"
    "box-sizing:border-box}\n"
    "svg.timeline{background:#fff}svg.timeline a rect:hover{opacity:.75}\n";

/* The script: live updates from the event stream (docs/dashboard.md). It writes no markup: only
 * textContent and attributes, so nothing it receives can become HTML. */
static const char script[] =
    "(function () {\n"
    "  'use strict';\n"
    "  var body = document.body, page = body.dataset.page;\n"
    "  var runId = body.dataset.runId || '', taskId = body.dataset.taskId || '';\n"
    "  function q(sel, root) { return (root || document).querySelector(sel); }\n"
    "  function set(el, v) {\n"
    "    if (el && el.textContent !== String(v)) el.textContent = String(v);\n"
    "  }\n"
    "  function esc(s) { return window.CSS && CSS.escape ? CSS.escape(s) :\n"
    "    String(s).replace(/[^\\w-]/g, function (c) { return '\\\\' + c; }); }\n"
    "  function rowStatus(t) {\n"
    "    if (t.status === 'completed') return 'passed';\n"
    "    if (t.status === 'cancelled' && t.error && t.error.kind === 'unschedulable')\n"
    "      return 'skipped';\n"
    "    return t.status;\n"
    "  }\n"
    /* The status filter: hides rows client-side and keeps ?status= in the address. */
    "  var filter = document.getElementById('status-filter');\n"
    "  var serverFiltered = /[?&]status=/.test(window.location.search);\n"
    "  function applyFilter() {\n"
    "    if (!filter) return;\n"
    "    var want = filter.value;\n"
    "    Array.prototype.forEach.call(document.querySelectorAll('tr.task'), function (tr) {\n"
    "      tr.hidden = !!want && tr.dataset.status !== want;\n"
    "    });\n"
    "  }\n"
    "  if (filter) filter.addEventListener('change', function () {\n"
    "    applyFilter();\n"
    "    var u = new URL(window.location.href);\n"
    "    if (filter.value) u.searchParams.set('status', filter.value);\n"
    "    else u.searchParams.delete('status');\n"
    "    window.history.replaceState(null, '', u.pathname + u.search);\n"
    "    if (serverFiltered) window.location.reload();\n"
    "  });\n"
    "  function setCounts(root, r) {\n"
    "    if (!root) return;\n"
    "    ['passed', 'failed', 'skipped', 'total'].forEach(function (k) {\n"
    "      set(q('.' + k, root), r[k]);\n"
    "    });\n"
    "    set(q('.run-status', root), r.status);\n"
    "    var p = q('progress', root);\n"
    "    if (p) { p.max = Math.max(r.tasks_total, 1); p.value = r.finished;\n"
    "      p.textContent = r.finished + '/' + r.tasks_total; }\n"
    "    root.dataset.done = r.done ? 'true' : 'false';\n"
    "  }\n"
    "  function cell(tr, cls, text) {\n"
    "    var td = document.createElement('td');\n"
    "    td.className = cls; td.textContent = text; tr.appendChild(td); return td;\n"
    "  }\n"
    "  function addRun(r) {\n"
    "    var tb = q('#runs tbody');\n"
    "    if (!tb) return null;\n"
    "    var tr = document.createElement('tr');\n"
    "    tr.className = 'run'; tr.dataset.runId = r.id;\n"
    "    var td = cell(tr, 'run-name', ''), a = document.createElement('a');\n"
    "    a.className = 'run-link'; a.href = '/runs/' + encodeURIComponent(r.id);\n"
    "    a.textContent = r.name; td.appendChild(a);\n"
    "    cell(tr, 'run-status', r.status);\n"
    "    td = cell(tr, 'run-progress', ''); td.appendChild(document.createElement('progress'));\n"
    "    ['passed', 'failed', 'skipped', 'total'].forEach(function (k) { cell(tr, k, r[k]); });\n"
    "    cell(tr, 'created', r.created_at || '');\n"
    "    tb.insertBefore(tr, tb.firstChild);\n"
    "    var none = q('#runs .empty'); if (none) none.remove();\n"
    "    return tr;\n"
    "  }\n"
    "  function setWorker(w) {\n"
    "    var tr = q('tr.worker[data-worker-id=\"' + esc(w.id) + '\"]');\n"
    "    if (!tr) return;\n"
    "    tr.dataset.status = w.status;\n"
    "    set(q('.worker-status', tr), w.status);\n"
    "    set(q('.slots-used', tr), w.used);\n"
    "    set(q('.slots-total', tr), w.slots);\n"
    "    set(q('.quarantine', tr), w.quarantine || '\\u2014');\n"
    "  }\n"
    "  function apply(d) {\n"
    "    (d.runs || []).forEach(function (r) {\n"
    "      var tr = q('tr.run[data-run-id=\"' + esc(r.id) + '\"]');\n"
    "      if (!tr && page === 'overview') tr = addRun(r);\n"
    "      setCounts(tr, r);\n"
    "      if (page === 'run' && r.id === runId) {\n"
    "        setCounts(document.getElementById('run-counts'), r);\n"
    "        if (r.done && !timelineDone) { timelineDone = true; refreshTimeline(); }\n"
    "      }\n"
    "    });\n"
    "    if (d.workers && page === 'overview') d.workers.forEach(setWorker);\n"
    "    if (d.pending_total !== undefined) set(q('#pending-total'), d.pending_total);\n"
    "    if (d.task && page === 'task') {\n"
    "      var st = document.getElementById('task-status');\n"
    "      set(st, d.task.status); if (st) st.dataset.status = d.task.status;\n"
    "      set(document.getElementById('task-error'), d.task.error || '');\n"
    "      set(document.getElementById('task-output'), d.task.output || '');\n"
    "      set(document.getElementById('task-attempt'), d.task.attempt);\n"
    "      set(document.getElementById('task-worker'), d.task.worker || '\\u2014');\n"
    "    }\n"
    "    body.dataset.updated = String(Date.now());\n"
    "  }\n"
    "  var timer = null, busy = false, again = false, timelineDone = false;\n"
    "  function liveUrl() {\n"
    "    var u = '/dashboard/live';\n"
    "    if (page === 'run') u += '?run=' + encodeURIComponent(runId);\n"
    "    else if (page === 'task') u += '?task=' + encodeURIComponent(taskId);\n"
    "    return u;\n"
    "  }\n"
    "  function refresh() {\n"
    "    timer = null;\n"
    "    if (busy) { again = true; return; }\n"
    "    busy = true;\n"
    "    fetch(liveUrl(), {credentials: 'same-origin', cache: 'no-store'})\n"
    "      .then(function (r) { return r.ok ? r.json() : null; })\n"
    "      .then(function (d) { if (d) apply(d); })\n"
    "      .catch(function () {})\n"
    "      .then(function () { busy = false; if (again) { again = false; schedule(); } });\n"
    "  }\n"
    "  function schedule() { if (!timer) timer = setTimeout(refresh, 200); }\n"
    /* The timeline is redrawn by the coordinator once the run is done (an SVG fragment: the
     * server escaped every text in it, and the page's policy runs no script inside it). */
    "  function refreshTimeline() {\n"
    "    var box = document.getElementById('timeline-box');\n"
    "    if (!box) return;\n"
    "    fetch('/runs/' + encodeURIComponent(runId) + '/timeline',\n"
    "          {credentials: 'same-origin', cache: 'no-store'})\n"
    "      .then(function (r) { return r.ok ? r.text() : null; })\n"
    "      .then(function (t) {\n"
    "        if (t === null) return;\n"
    "        var doc = new DOMParser().parseFromString(t, 'image/svg+xml');\n"
    "        var svg = doc.documentElement;\n"
    "        if (svg && svg.nodeName === 'svg') {\n"
    "          box.replaceChildren(document.importNode(svg, true));\n"
    "        }\n"
    "      }).catch(function () {});\n"
    "  }\n"
    /* A task submitted to the run after the page was drawn: a row at the end. */
    "  function addTask(t) {\n"
    "    var tb = q('#tasks tbody');\n"
    "    if (!tb) return null;\n"
    "    var tr = document.createElement('tr');\n"
    "    tr.className = 'task'; tr.dataset.taskId = t.id;\n"
    "    var td = cell(tr, 'task-name', ''), a = document.createElement('a');\n"
    "    a.className = 'task-link'; a.href = '/tasks/' + encodeURIComponent(t.id);\n"
    "    a.textContent = t.name || t.id; td.appendChild(a);\n"
    "    cell(tr, 'task-status', ''); cell(tr, 'duration num', '\\u2014');\n"
    "    cell(tr, 'worker', ''); cell(tr, 'attempts num', '0'); cell(tr, 'error', '');\n"
    "    tb.appendChild(tr);\n"
    "    return tr;\n"
    "  }\n"
    "  function onTask(e) {\n"
    "    var t;\n"
    "    try { t = JSON.parse(e.data); } catch (x) { return; }\n"
    "    if (page === 'run' && t.run_id === runId) {\n"
    "      var tr = q('tr.task[data-task-id=\"' + esc(t.id) + '\"]');\n"
    "      if (!tr && !serverFiltered) tr = addTask(t);\n"
    "      if (tr) {\n"
    "        tr.dataset.status = rowStatus(t);\n"
    "        set(q('.task-status', tr), rowStatus(t));\n"
    "        if (t.worker_id) set(q('.worker', tr), t.worker_id);\n"
    "        set(q('.attempts', tr), t.attempt);\n"
    "        if (t.error) set(q('.error', tr), t.error.message || t.error.kind || '');\n"
    "        if (filter && filter.value) tr.hidden = tr.dataset.status !== filter.value;\n"
    "      }\n"
    "      if (t.status !== 'completed' && t.status !== 'failed') timelineDone = false;\n"
    "    }\n"
    "    schedule();\n"
    "  }\n"
    "  applyFilter();\n"
    /* A running task's output grows without events: its page asks every 2 s while it runs. */
    "  if (page === 'task') setInterval(function () {\n"
    "    var s = document.getElementById('task-status');\n"
    "    if (s && (s.dataset.status === 'running' || s.dataset.status === 'assigned'))\n"
    "      schedule();\n"
    "  }, 2000);\n"
    "  if (!window.EventSource || page === 'login') return;\n"
    "  var src = '/api/v1/events';\n"
    "  if (body.dataset.streamRun) src += '?run_id=' + "
    "encodeURIComponent(body.dataset.streamRun);\n"
    "  var es = new EventSource(src);\n"
    "  es.onopen = function () {\n"
    "    body.dataset.live = 'open';\n"
    "    set(document.getElementById('live'), 'live');\n"
    "    schedule();\n"
    "  };\n"
    "  es.onerror = function () {\n"
    "    body.dataset.live = es.readyState === 2 ? 'closed' : 'reconnecting';\n"
    "    set(document.getElementById('live'), body.dataset.live);\n"
    "  };\n"
    "  es.addEventListener('task', onTask);\n"
    "  ['worker', 'recovery', 'intervention'].forEach(function (k) {\n"
    "    es.addEventListener(k, schedule);\n"
    "  });\n"
    "})();\n";

static void h_script(struct dtf_http_req *r)
{
	dash_headers(r, NULL);
	r->status = 200;
	r->content_type = "text/javascript; charset=utf-8";
	dtf_buf_reset(&r->resp);
	dtf_buf_add(&r->resp, script, sizeof(script) - 1);
}

void dash_headers(struct dtf_http_req *r, char *nonce)
{
	char n[24], csp[400];

	dtf_id_new("", n, sizeof(n));
	if (nonce)
		snprintf(nonce, 17, "%s", n);
	snprintf(csp, sizeof(csp),
		 "default-src 'none'; script-src 'self'; style-src 'nonce-%.16s'; "
		 "connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; "
		 "frame-ancestors 'none'",
		 n);
	dtf_http_add_header(r, "Content-Security-Policy", csp);
	dtf_http_add_header(r, "X-Content-Type-Options", "nosniff");
	dtf_http_add_header(r, "Referrer-Policy", "no-referrer");
	dtf_http_add_header(r, "Cache-Control", "no-store");
	dtf_http_add_header(r, "X-Frame-Options", "DENY");
}

int dash_page_begin(struct dtf_http_req *r, const char *title, const char *page, const char *run_id,
		    const char *task_id)
{
	struct dtf_buf *b = &r->resp;
	char nonce[17];
	int rc;

	dtf_buf_reset(b);
	r->status = 200;
	r->content_type = "text/html; charset=utf-8";
	dash_headers(r, nonce);
	rc = dtf_buf_adds(b,
			  "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
			  "<meta name=\"viewport\" content=\"width=device-width, "
			  "initial-scale=1\">\n<link rel=\"icon\" href=\"data:,\">\n<title>") ||
	     dtf_html_escape_cap(b, title, 300) ||
	     dtf_buf_printf(b, " \xe2\x80\x94 dtf</title>\n<style nonce=\"%s\">\n", nonce) ||
	     dtf_buf_adds(b, style) || dtf_buf_adds(b, "</style>\n</head>\n<body data-page=\"") ||
	     dtf_html_escape(b, page) || dtf_buf_adds(b, "\"");
	if (!rc && run_id)
		rc = dtf_buf_adds(b, " data-run-id=\"") || dtf_html_escape(b, run_id) ||
		     dtf_buf_adds(b, "\" data-stream-run=\"") || dtf_html_escape(b, run_id) ||
		     dtf_buf_adds(b, "\"");
	if (!rc && task_id)
		rc = dtf_buf_adds(b, " data-task-id=\"") || dtf_html_escape(b, task_id) ||
		     dtf_buf_adds(b, "\"");
	if (!rc)
		rc = dtf_buf_adds(b, " data-live=\"connecting\">\n<header><a class=\"brand\" "
				     "href=\"/\">dtf</a><a href=\"/\">Overview</a>");
	if (!rc && dtf_http_keys_required(r))
		rc = dtf_buf_adds(b, "<a href=\"/logout\">Sign out</a>");
	if (!rc)
		rc = dtf_buf_adds(b, "<span class=\"live\" id=\"live\">connecting</span></header>\n"
				     "<main>\n");
	return rc ? DTF_ENOMEM : 0;
}

int dash_page_end(struct dtf_http_req *r)
{
	return dtf_buf_adds(&r->resp,
			    "</main>\n<script src=\"/dashboard.js\"></script>\n</body>\n</html>\n");
}

void dash_error(struct dtf_http_req *r, unsigned status, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (dash_page_begin(r, "Error", "error", NULL, NULL) ||
	    dtf_buf_adds(&r->resp, "<h1>Error</h1>\n<p class=\"error-text\" id=\"error\">") ||
	    dtf_html_escape(&r->resp, msg) ||
	    dtf_buf_adds(&r->resp, "</p>\n<p><a href=\"/\">Back to the overview</a></p>\n") ||
	    dash_page_end(r)) {
		dtf_http_reply_error(r, 500, "render_failed", "could not render the page");
		return;
	}
	r->status = status;
}

int dash_url_part(struct dtf_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (; !rc && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			rc = dtf_buf_add(b, s, 1);
		} else {
			char enc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
			rc = dtf_buf_add(b, enc, 3);
		}
	}
	return rc;
}

const char *dash_task_status(json_t *task)
{
	const char *st = dtf_json_str(task, "status", "unknown");

	if (strcmp(st, "completed") == 0)
		return "passed";
	if (strcmp(st, "cancelled") == 0 &&
	    strcmp(dtf_json_str(json_object_get(task, "error"), "kind", ""), "unschedulable") == 0)
		return "skipped";
	return st;
}

const char *dash_run_state(json_t *summary)
{
	struct dtf_testcount tc;
	const char *s;

	if (!json_is_true(json_object_get(summary, "done")))
		return "running";
	dtf_testcount_from_json(&tc, json_object_get(summary, "tests"));
	s = dtf_testcount_state(&tc, false);
	if (strcmp(s, "success") == 0)
		return "passed";
	if (strcmp(s, "failure") == 0)
		return "failed";
	return s;
}

double dash_task_duration(json_t *task)
{
	json_t *d = json_object_get(json_object_get(task, "result"), "duration_s");
	int64_t a, z;

	if (json_is_number(d))
		return json_number_value(d);
	if (json_is_string(json_object_get(task, "started_at")) &&
	    json_is_string(json_object_get(task, "finished_at")) &&
	    dtf_parse_rfc3339(dtf_json_str(task, "started_at", ""), &a) == 0 &&
	    dtf_parse_rfc3339(dtf_json_str(task, "finished_at", ""), &z) == 0 && z >= a)
		return (double)(z - a) / 1000.0;
	return -1;
}

void dash_fmt_secs(double s, char out[32])
{
	if (s < 0)
		snprintf(out, 32, "\xe2\x80\x94");
	else if (s < 60)
		snprintf(out, 32, "%.2fs", s);
	else if (s < 3600)
		snprintf(out, 32, "%dm %02ds", (int)(s / 60), (int)s % 60);
	else
		snprintf(out, 32, "%dh %02dm", (int)(s / 3600), (int)s / 60 % 60);
}
