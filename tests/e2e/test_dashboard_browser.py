#!/usr/bin/python3
"""The web dashboard in headless Chromium (run by test_dashboard_browser.sh, which starts the
coordinator with an API key and one worker, then runs this with DTF_URL, DTF_API_KEY_FOR_TEST,
DTF_WORKER_ID, DTF_E2E_TMP, DTF_SCALE and DTF_ARTIFACTS set).

What it checks, against the dashboard's DOM contract (docs/internals/testing.md):
  - plain HTTP: the pages redirect to /login without a key, POST /login sets an HttpOnly
    SameSite=Strict cookie dtf_key, every page has a Content-Security-Policy header;
  - the login form: a wrong key is refused, the right one leads to the pages;
  - the overview lists the run with the REST API's counts, and the passed count changes to its
    final value in the same page (a marker on window survives: no reload) once the test releases
    three waiting tasks; body.dataset.live is "open" (the EventSource is connected);
  - the run page: one rect.attempt per attempt the REST API records (two for the retried task),
    each with a <title> naming the task and its duration; the status filter hides passed rows;
  - the failed task's page shows its error; a task named like an HTML injection renders as text,
    no element carries an onerror attribute and no alert() ran;
  - the browser console holds no error (but the 401 of the wrong key on purpose).
Every assertion that fails is listed (element, expected, got); the script exits 1 if any did,
77 only when selenium itself cannot be imported.
"""
import http.client
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import urllib.parse

try:
    from selenium import webdriver
    from selenium.common.exceptions import (NoAlertPresentException, NoSuchElementException,
                                            StaleElementReferenceException, WebDriverException)
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
except ImportError as e:
    print(f"SKIP: selenium is not importable: {e}", file=sys.stderr)
    sys.exit(77)

URL = os.environ["DTF_URL"].rstrip("/")
KEY = os.environ["DTF_API_KEY_FOR_TEST"]
WORKER_ID = os.environ["DTF_WORKER_ID"]
TMP = os.environ["DTF_E2E_TMP"]
SCALE = float(os.environ.get("DTF_SCALE", "1"))
ARTIFACTS = os.environ["DTF_ARTIFACTS"]
HOST = urllib.parse.urlsplit(URL).hostname
PORT = urllib.parse.urlsplit(URL).port

XSS_NAME = "<img src=x onerror=alert(1)>"
FAIL_ERROR = "exit code 42"            # error.message of the failed task
FAIL_STDOUT = "dtf-browser-out-Hq2"     # what the failed task prints on stdout
FAIL_STDERR = "dtf-browser-err-Wk7"     # and on stderr
RELEASE = os.path.join(TMP, "release")  # the waiting tasks finish once it exists
T0 = time.monotonic()

FAILURES = []


def log(msg):
    print(f"[dashboard-browser +{time.monotonic() - T0:.1f}s] {msg}", file=sys.stderr, flush=True)


def check(cond, what, expected, got):
    """Records a failed assertion (element, expected, got) and goes on: one run lists them all."""
    if not cond:
        FAILURES.append(f"{what}: expected {expected!r}, got {got!r}")
        log(f"FAIL {what}: expected {expected!r}, got {got!r}")
    return bool(cond)


class Fatal(Exception):
    """An assertion that the rest of the test depends on."""


def require(cond, what, expected, got):
    if not check(cond, what, expected, got):
        raise Fatal(what)


def wait_until(fn, secs, what):
    """Polls fn until it returns a true value (returned) or secs (scaled) pass (None)."""
    deadline = time.monotonic() + secs * SCALE
    last = None
    while True:
        try:
            v = fn()
            if v:
                return v
            last = v
        except (WebDriverException, KeyError, ValueError) as e:
            last = e
        if time.monotonic() >= deadline:
            log(f"timed out after {secs * SCALE:.0f} s waiting for {what} (last: {last!r})")
            return None
        time.sleep(0.1)


# --- plain HTTP ---

def request(method, path, body=None, headers=None, key=True):
    """One request, redirects not followed: (status, headers as a lower-cased dict of lists,
    body text)."""
    h = dict(headers or {})
    if key:
        h["X-API-Key"] = KEY
    data = None
    if body is not None:
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        else:
            data = body.encode()
    c = http.client.HTTPConnection(HOST, PORT, timeout=10 * SCALE)
    try:
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        text = r.read().decode("utf-8", "replace")
        hd = {}
        for k, v in r.getheaders():
            hd.setdefault(k.lower(), []).append(v)
        return r.status, hd, text
    finally:
        c.close()


def api(method, path, body=None):
    st, _, text = request(method, path, body)
    if st // 100 != 2:
        raise Fatal(f"{method} {path} answered {st}: {text[:500]}")
    return json.loads(text)


def run_tasks(run_id):
    return api("GET", f"/api/v1/tasks?run_id={run_id}&limit=1000")["tasks"]


# --- the run ---

def submit_run():
    waiter = f"while [ ! -f '{RELEASE}' ]; do sleep 0.05; done; echo released"
    tasks = [
        {"name": "pass-1", "shell": "echo one"},
        {"name": "pass-2", "shell": "echo two"},
        {"name": "pass-3", "shell": "echo three"},
        {"name": "fail-known", "shell": f"echo {FAIL_STDOUT}; echo {FAIL_STDERR} >&2; exit 42"},
        # Fails on both attempts: two attempts, and no flaky pass, whose counting differs
        # between task counts and test counts.
        {"name": "retry-twice", "max_retries": 1, "shell": "echo attempt $DTF_ATTEMPT; exit 3"},
        {"name": XSS_NAME, "shell": "echo xss"},
    ] + [{"name": f"wait-{i}", "shell": waiter, "timeout_s": 120} for i in (1, 2, 3)]
    d = api("POST", "/api/v1/tasks", {"run": {"name": "browser e2e"}, "tasks": tasks})
    ids = {t["name"]: i for t, i in zip(tasks, d["ids"])}
    return d["run_id"], ids


def waiting_phase_reached(run_id, ids):
    by_id = {t["id"]: t for t in run_tasks(run_id)}
    for name, tid in ids.items():
        st = by_id[tid]["status"]
        if name.startswith("wait-"):
            if st != "running":
                return False
        elif st not in ("completed", "failed"):
            return False
    return True


def summary(run_id):
    return api("GET", f"/api/v1/runs/{run_id}")["summary"]


# --- the browser ---

ALERT_TRAP = """
(function () {
  var calls = [];
  try { calls = JSON.parse(sessionStorage.getItem('__dtfAlerts') || '[]'); } catch (e) {}
  window.__dtfAlerts = calls;
  function trap(kind) {
    return function (m) {
      calls.push(kind + ':' + String(m));
      try { sessionStorage.setItem('__dtfAlerts', JSON.stringify(calls)); } catch (e) {}
    };
  }
  window.alert = trap('alert');
  window.confirm = trap('confirm');
  window.prompt = trap('prompt');
})();
"""


def start_browser(profile):
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--disable-gpu", "--disable-dev-shm-usage",
              f"--user-data-dir={profile}", "--window-size=1280,1000", "--no-first-run",
              "--no-default-browser-check", "--disable-extensions", "--disable-sync",
              "--disable-background-networking", "--disable-component-update",
              "--disable-default-apps", "--disable-features=Translate,MediaRouter",
              # Nothing but the coordinator on loopback resolves: no network.
              "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):
        opts.add_argument(a)
    if os.geteuid() == 0:
        opts.add_argument("--no-sandbox")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path="/usr/bin/chromedriver",
                      log_path=os.path.join(TMP, "chromedriver.txt"))
    d = webdriver.Chrome(service=service, options=opts)
    d.set_page_load_timeout(20 * SCALE)
    d.set_script_timeout(10 * SCALE)
    d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": ALERT_TRAP})
    return d


CONSOLE_ERRORS = []


def collect_console(driver, page, allow_401=False):
    """Console errors since the last call. Chromium's own request for /favicon.ico is not the
    page's doing; a 401 is expected only where allow_401 says so (the wrong key on purpose)."""
    for e in driver.get_log("browser"):
        if e.get("level") not in ("SEVERE", "ERROR"):
            continue
        msg = e.get("message", "")
        if "favicon.ico" in msg:
            continue
        if allow_401 and re.search(r"\b401\b", msg):
            log(f"{page}: expected console entry: {msg}")
            continue
        CONSOLE_ERRORS.append(f"{page}: {msg}")


def shot(driver, name):
    path = os.path.join(ARTIFACTS, f"{name}.png")
    if driver.save_screenshot(path):
        print(f"screenshot: {path}", flush=True)
    else:
        check(False, f"screenshot {name}", "a PNG", "nothing written")


def no_alerts(driver, page):
    try:
        a = driver.switch_to.alert
        text = a.text
        a.dismiss()
        check(False, f"{page}: alert dialog", "none", text)
    except NoAlertPresentException:
        pass
    calls = driver.execute_script("return window.__dtfAlerts || []")
    check(calls == [], f"{page}: alert/confirm/prompt calls", [], calls)


def no_injected_markup(driver, page):
    """No element carries an event-handler attribute from the task name, and no <img src=x>."""
    bad = driver.execute_script("""
      var out = [];
      document.querySelectorAll('[onerror], img').forEach(function (e) {
        if (e.hasAttribute('onerror') || e.getAttribute('src') === 'x') out.push(e.outerHTML);
      });
      return out;""")
    check(bad == [], f"{page}: elements with onerror or <img src=x>", [], bad)


def fresh(fn, tries=20):
    """fn() again while the live page replaces the elements it holds (a re-render between
    finding an element and reading it); another failure, or the last try's, is raised."""
    for i in range(tries):
        try:
            return fn()
        except StaleElementReferenceException:
            if i == tries - 1:
                raise
            time.sleep(0.05)


def text_of(driver, css, root=None):
    """The text of the first element matching css (under root), None if there is none."""
    els = (root or driver).find_elements(By.CSS_SELECTOR, css)
    if not els:
        return None
    return driver.execute_script("return arguments[0].textContent", els[0]).strip()


def int_of(driver, css, root=None):
    t = text_of(driver, css, root)
    if t is None:
        return f"no {css}"
    m = re.fullmatch(r"\d+", t.replace(",", ""))
    return int(m.group(0)) if m else t


def counts(driver, root_css, cell=""):
    """passed/failed/skipped/total under root_css: the elements cell.passed etc., read from one
    rendering of the row (again if the live page replaced it meanwhile)."""
    def read():
        roots = driver.find_elements(By.CSS_SELECTOR, root_css)
        if not roots:
            return f"no {root_css}"
        return {k: int_of(driver, f"{cell}.{k}", roots[0])
                for k in ("passed", "failed", "skipped", "total")}
    return fresh(read)


def on_login_page(driver):
    return urllib.parse.urlsplit(driver.current_url).path.rstrip("/") == "/login"


def login_form_submit(driver, key):
    box = driver.find_element(By.CSS_SELECTOR, "input[name='key']")
    box.clear()
    box.send_keys(key)
    form_submit = driver.find_elements(By.CSS_SELECTOR,
                                       "button[type='submit'], input[type='submit'], button")
    require(form_submit, "login page: submit control", "a submit button", "none")
    # The form posts and a new document loads: wait for it (a marker on the old one is gone).
    driver.execute_script("window.__dtfOldPage = true")
    form_submit[0].click()
    require(wait_until(lambda: driver.execute_script(
        "return !window.__dtfOldPage && document.readyState === 'complete'"), 10,
        "the page after the login form"),
        "login form: a new page after submitting", "loaded", driver.current_url)


# --- the scenario ---

def http_checks(run_id, ids):
    """Redirects, the login cookie and the CSP header, through plain HTTP."""
    for path in ("/", f"/runs/{run_id}", f"/tasks/{ids['fail-known']}"):
        st, hd, _ = request("GET", path, key=False)
        loc = (hd.get("location") or [""])[0]
        check(st in (301, 302, 303, 307) and urllib.parse.urlsplit(loc).path == "/login",
              f"GET {path} without a key", "a redirect to /login", f"{st} Location: {loc}")
    st, hd, _ = request("GET", "/login", key=False)
    check(st == 200, "GET /login status", 200, st)
    check((hd.get("content-security-policy") or [""])[0].strip() != "",
          "GET /login Content-Security-Policy header", "present", hd.get("content-security-policy"))

    st, hd, _ = request("POST", "/login", body="key=wrong-key", key=False,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    bad_cookie = [c for c in hd.get("set-cookie", []) if c.startswith("dtf_key=") and
                  not re.match(r"dtf_key=;|dtf_key=\"\";", c)]
    check(not bad_cookie, "POST /login with a wrong key: Set-Cookie dtf_key", "none", bad_cookie)

    st, hd, _ = request("POST", "/login", body="key=" + urllib.parse.quote(KEY), key=False,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    cookies = [c for c in hd.get("set-cookie", []) if c.startswith("dtf_key=")]
    if not check(cookies, "POST /login: Set-Cookie dtf_key", "a cookie", hd.get("set-cookie")):
        return
    attrs = [a.strip().lower() for a in cookies[0].split(";")[1:]]
    check("httponly" in attrs, "dtf_key cookie", "HttpOnly", cookies[0])
    check("samesite=strict" in attrs, "dtf_key cookie", "SameSite=Strict", cookies[0])
    cookie = cookies[0].split(";")[0]
    for path in ("/", f"/runs/{run_id}", f"/tasks/{ids['fail-known']}", f"/tasks/{ids[XSS_NAME]}"):
        st, hd, body = request("GET", path, key=False, headers={"Cookie": cookie})
        check(st == 200, f"GET {path} with the login cookie: status", 200, st)
        csp = (hd.get("content-security-policy") or [""])[0]
        check(csp.strip() != "", f"GET {path}: Content-Security-Policy header", "present", csp)
        check(XSS_NAME not in body, f"GET {path}: the raw task name in the HTML", "escaped",
              "unescaped <img src=x onerror=alert(1)>")


def browser_login(driver, run_id):
    # Unauthenticated: the run page sends the browser to the login form.
    driver.get(f"{URL}/runs/{run_id}")
    require(wait_until(lambda: on_login_page(driver), 10, "the login page"),
            "GET /runs/ID without the cookie: browser URL", f"{URL}/login", driver.current_url)
    require(driver.find_elements(By.CSS_SELECTOR, "input[name='key']"),
            "login page: input[name=key]", "present", "absent")
    shot(driver, "login")
    # A wrong key on purpose: still the login page, no cookie (its 401 is allowed).
    login_form_submit(driver, "wrong-key")
    check(driver.get_cookie("dtf_key") is None, "cookie dtf_key after a wrong key", "none",
          driver.get_cookie("dtf_key"))
    check(driver.find_elements(By.CSS_SELECTOR, "input[name='key']"),
          "after a wrong key: the login form", "shown again", driver.current_url)
    collect_console(driver, "login (wrong key)", allow_401=True)

    driver.get(f"{URL}/login")
    login_form_submit(driver, KEY)
    require(wait_until(lambda: driver.get_cookie("dtf_key"), 10, "the dtf_key cookie"),
            "cookie dtf_key after the right key", "set", None)
    c = driver.get_cookie("dtf_key")
    check(c.get("httpOnly") is True, "dtf_key cookie httpOnly", True, c.get("httpOnly"))
    check(c.get("sameSite") == "Strict", "dtf_key cookie sameSite", "Strict", c.get("sameSite"))
    wait_until(lambda: not on_login_page(driver), 10, "leaving the login page")
    collect_console(driver, "login")


def overview(driver, run_id, before, final):
    driver.get(f"{URL}/")
    row_css = f"table#runs tr.run[data-run-id='{run_id}']"
    row = wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, row_css), 10, "the run's row")
    require(row, f"overview: {row_css}", "present", "absent")
    row = row[0]
    links = row.find_elements(By.CSS_SELECTOR, "a.run-link")
    check(links and links[0].get_attribute("href").endswith(f"/runs/{run_id}"),
          "overview: a.run-link href", f"/runs/{run_id}",
          links[0].get_attribute("href") if links else None)
    check(row.find_elements(By.CSS_SELECTOR, "progress"), "overview: <progress> in the run's row",
          "present", "absent")
    st = text_of(driver, ".run-status", row)
    check(st, "overview: .run-status", "non-empty", st)
    got = counts(driver, row_css, "td")
    check(got == before, "overview: counts before the release (td.passed/failed/skipped/total)",
          before, got)
    wsel = f"table#workers tr.worker[data-worker-id='{WORKER_ID}']"
    check(driver.find_elements(By.CSS_SELECTOR, wsel), f"overview: {wsel}", "present", "absent")
    check(driver.find_elements(By.CSS_SELECTOR, "#blocked"), "overview: #blocked", "present",
          "absent")
    check(driver.find_elements(By.CSS_SELECTOR, "table#pending"), "overview: table#pending",
          "present", "absent")
    no_injected_markup(driver, "overview")
    js = driver.execute_script("""return Array.prototype.map.call(document.scripts,
        function (s) { return s.src ? new URL(s.src).pathname : 'inline'; });""")
    check("/dashboard.js" in js, "overview: <script src=/dashboard.js>", "present", js)

    # Live: a marker on window survives only if the page is neither reloaded nor left.
    marker = f"m-{os.getpid()}-{time.time_ns()}"
    driver.execute_script("window.__dtfMarker = arguments[0]", marker)
    live = wait_until(lambda: driver.execute_script("return document.body.dataset.live") == "open",
                      10, "body.dataset.live == 'open'")
    check(live, "overview: document.body.dataset.live", "open",
          driver.execute_script("return document.body.dataset.live"))
    shot(driver, "overview-before")
    with open(RELEASE, "w") as f:
        f.write("go\n")
    log("released the waiting tasks")

    def final_shown():
        return int_of(driver, f"{row_css} td.passed") == final["passed"]
    updated = wait_until(final_shown, 15, "the passed count to reach its final value")
    got = counts(driver, row_css, "td")
    kept = driver.execute_script("return window.__dtfMarker || null")
    check(updated and got == final, "overview: counts updated live after the release",
          final, got)
    check(kept == marker, "overview: window marker after the live update (no reload)", marker,
          kept)
    shot(driver, "overview")
    no_alerts(driver, "overview")
    collect_console(driver, "overview")

    # A fresh render agrees, and the finished run's progress bar is full.
    driver.refresh()
    row = wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, row_css), 10, "the run's row")
    require(row, f"overview (reloaded): {row_css}", "present", "absent")
    got = counts(driver, row_css, "td")
    check(got == final, "overview (reloaded): counts", final, got)
    def progress():
        p = driver.find_elements(By.CSS_SELECTOR, f"{row_css} progress")
        return driver.execute_script("return [arguments[0].value, arguments[0].max]",
                                     p[0]) if p else None
    vm = fresh(progress)
    if vm:
        val, mx = vm
        check(mx > 0 and val == mx, "overview: <progress> of the finished run (value/max)",
              "value == max", f"{val}/{mx}")
    collect_console(driver, "overview (reloaded)")


def run_page(driver, run_id, ids, tasks, final):
    # Reached through the overview's link.
    link = driver.find_elements(By.CSS_SELECTOR,
                                f"table#runs tr.run[data-run-id='{run_id}'] a.run-link")
    if link:
        link[0].click()
    else:
        driver.get(f"{URL}/runs/{run_id}")
    wait_until(lambda: urllib.parse.urlsplit(driver.current_url).path == f"/runs/{run_id}", 10,
               "the run page")
    rows = wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "table#tasks tr.task"), 10,
                      "table#tasks tr.task")
    require(rows, "run page: table#tasks tr.task", f"{len(ids)} rows", 0)
    check(len(rows) == len(ids), "run page: number of table#tasks tr.task", len(ids), len(rows))
    got = counts(driver, "#run-counts")
    check(got == final, "run page: #run-counts", final, got)

    by_id = {t["id"]: t for t in tasks}
    status_of = {}
    for name, tid in ids.items():
        r = driver.find_elements(By.CSS_SELECTOR, f"table#tasks tr.task[data-task-id='{tid}']")
        if not check(len(r) == 1, f"run page: tr.task[data-task-id={tid}] ({name})", 1, len(r)):
            continue
        status_of[tid] = r[0].get_attribute("data-status")
        a = r[0].find_elements(By.CSS_SELECTOR, "td.task-name a.task-link")
        if not check(a, f"run page: td.task-name a.task-link of {name}", "present", "absent"):
            continue
        href = a[0].get_attribute("href")
        check(href.endswith(f"/tasks/{tid}"), f"run page: a.task-link href of {name}",
              f"/tasks/{tid}", href)
        txt = driver.execute_script("return arguments[0].textContent", a[0]).strip()
        check(txt == name, f"run page: a.task-link text of task {tid}", name, txt)
    no_injected_markup(driver, "run page")

    # The timeline: one rect per attempt the coordinator recorded.
    want_total = sum(len(by_id[tid].get("history", [])) for tid in ids.values())
    rects = driver.find_elements(By.CSS_SELECTOR, "svg#timeline rect.attempt")
    check(len(rects) == want_total, "run page: svg#timeline rect.attempt count", want_total,
          len(rects))
    dur_re = re.compile(r"\d+(?:\.\d+)?\s*(?:µs|us|ms|s|sec|seconds|min|m)\b")
    for name, tid in ids.items():
        mine = driver.find_elements(By.CSS_SELECTOR,
                                    f"svg#timeline rect.attempt[data-task-id='{tid}']")
        hist = by_id[tid].get("history", [])
        check(len(mine) == len(hist), f"run page: rect.attempt[data-task-id] of {name}",
              len(hist), len(mine))
        for i, rc in enumerate(mine):
            t = driver.execute_script(
                "var t = arguments[0].querySelector('title'); return t ? t.textContent : null",
                rc)
            check(t is not None and name in t and dur_re.search(t.replace(name, "")),
                  f"run page: <title> of rect {i + 1} of {name}", "the name and a duration", t)
            check(rc.get_attribute("data-outcome") not in (None, ""),
                  f"run page: data-outcome of rect {i + 1} of {name}", "non-empty",
                  rc.get_attribute("data-outcome"))
    retried = driver.find_elements(
        By.CSS_SELECTOR, f"svg#timeline rect.attempt[data-task-id='{ids['retry-twice']}']")
    check(len(retried) == 2, "run page: rects of the retried task", 2, len(retried))
    shot(driver, "run")

    # The status filter hides the passed rows, and shows them again.
    sel = driver.find_elements(By.CSS_SELECTOR, "select#status-filter")
    if check(sel, "run page: select#status-filter", "present", "absent"):
        s = Select(sel[0])
        opts = [(o.get_attribute("value"), o.text.strip()) for o in s.options]
        failed_opt = [v for v, t in opts if v.lower() == "failed" or t.lower().startswith("failed")]
        all_opt = [v for v, t in opts if v.lower() in ("", "all") or t.lower().startswith("all")]
        if check(failed_opt, "run page: #status-filter option 'failed'", "present", opts):
            s.select_by_value(failed_opt[0])
            passed_ids = [tid for tid, st in status_of.items() if st in ("completed", "passed")]
            failed_ids = [tid for tid, st in status_of.items() if st == "failed"]
            check(len(passed_ids) == final["passed"], "run page: rows with data-status passed",
                  final["passed"], status_of)
            check(len(failed_ids) == final["failed"], "run page: rows with data-status failed",
                  final["failed"], status_of)

            def shown(tid):
                return driver.find_element(
                    By.CSS_SELECTOR, f"table#tasks tr.task[data-task-id='{tid}']").is_displayed()
            hidden = wait_until(lambda: not any(shown(t) for t in passed_ids), 5,
                                "the passed rows to be hidden")
            check(hidden, "run page: passed rows after choosing 'failed'", "hidden",
                  [t for t in passed_ids if shown(t)])
            check(all(shown(t) for t in failed_ids), "run page: failed rows after 'failed'",
                  "shown", [t for t in failed_ids if not shown(t)])
            shot(driver, "run-filtered")
            if check(all_opt, "run page: #status-filter option 'all'", "present", opts):
                s.select_by_value(all_opt[0])
                back = wait_until(lambda: all(shown(t) for t in status_of), 5, "all rows shown")
                check(back, "run page: rows after choosing 'all'", "all shown",
                      [t for t in status_of if not shown(t)])
    no_alerts(driver, "run page")
    collect_console(driver, "run page")


def task_pages(driver, run_id, ids):
    # The failed task, reached through its link on the run page.
    a = driver.find_elements(By.CSS_SELECTOR,
                             f"table#tasks tr.task[data-task-id='{ids['fail-known']}'] a.task-link")
    if a:
        a[0].click()
    else:
        driver.get(f"{URL}/tasks/{ids['fail-known']}")
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "#task-status"), 10, "#task-status")
    for css in ("#task-status", "#task-error", "#task-output", "#attempts"):
        check(driver.find_elements(By.CSS_SELECTOR, css), f"failed task page: {css}", "present",
              "absent")
    if driver.find_elements(By.CSS_SELECTOR, "#task-status"):
        st = text_of(driver, "#task-status") or ""
        check("failed" in st.lower(), "failed task page: #task-status", "failed", st)
    if driver.find_elements(By.CSS_SELECTOR, "#task-error"):
        err = text_of(driver, "#task-error")
        check(FAIL_ERROR in err, "failed task page: #task-error", FAIL_ERROR, err)
    if driver.find_elements(By.CSS_SELECTOR, "#task-output"):
        out = text_of(driver, "#task-output")
        check(FAIL_STDOUT in out and FAIL_STDERR in out, "failed task page: #task-output",
              f"{FAIL_STDOUT} and {FAIL_STDERR}", out[:300])
    shot(driver, "task")
    no_alerts(driver, "failed task page")
    collect_console(driver, "failed task page")

    # The retried task's page lists both attempts.
    driver.get(f"{URL}/tasks/{ids['retry-twice']}")
    at = wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "#attempts"), 10, "#attempts")
    if check(at, "retried task page: #attempts", "present", "absent"):
        txt = text_of(driver, "#attempts")
        n = driver.execute_script(
            "return arguments[0].querySelectorAll('tr.attempt, li.attempt, .attempt').length",
            at[0])
        check(n == 2, "retried task page: .attempt entries in #attempts", 2, f"{n}: {txt[:200]}")
    collect_console(driver, "retried task page")

    # The task named like markup: its name is text on its own page too.
    driver.get(f"{URL}/tasks/{ids[XSS_NAME]}")
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "#task-status"), 10, "#task-status")
    body = driver.execute_script("return document.body.textContent")
    check(XSS_NAME in body, "markup-named task page: the name as text", XSS_NAME, body[:300])
    no_injected_markup(driver, "markup-named task page")
    shot(driver, "task-markup-name")
    no_alerts(driver, "markup-named task page")
    collect_console(driver, "markup-named task page")


def main():
    os.makedirs(ARTIFACTS, exist_ok=True)
    run_id, ids = submit_run()
    log(f"run {run_id}: {len(ids)} tasks")
    require(wait_until(lambda: waiting_phase_reached(run_id, ids), 30,
                       "the other tasks to finish and the waiting ones to run"),
            "REST: the tasks before the release", "6 finished, 3 running",
            {t["name"]: t["status"] for t in run_tasks(run_id)})
    s = summary(run_id)["tests"]
    before = {"passed": 4, "failed": 2, "skipped": 0, "total": 9}
    final = {"passed": 7, "failed": 2, "skipped": 0, "total": 9}
    rest_before = {k: s[k] for k in before}
    require(rest_before == before, "REST: the run's test counts before the release", before,
            rest_before)

    http_checks(run_id, ids)

    profile = tempfile.mkdtemp(prefix="chromium-", dir=TMP)
    driver = start_browser(profile)
    try:
        browser_login(driver, run_id)
        overview(driver, run_id, before, final)
        s = summary(run_id)["tests"]
        require({k: s[k] for k in final} == final, "REST: the run's test counts at the end",
                final, s)
        tasks = run_tasks(run_id)
        retried = [t for t in tasks if t["id"] == ids["retry-twice"]][0]
        require(len(retried.get("history", [])) == 2, "REST: attempts of the retried task", 2,
                retried.get("history"))
        run_page(driver, run_id, ids, tasks, final)
        task_pages(driver, run_id, ids)
    finally:
        try:
            driver.quit()
        except WebDriverException:
            pass
        shutil.rmtree(profile, ignore_errors=True)


def on_alarm(signum, frame):
    raise Fatal("the browser test ran past its deadline")


if __name__ == "__main__":
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(60 * SCALE))
    try:
        main()
    except Fatal as e:
        log(f"stopped: {e}")
        if not FAILURES:
            FAILURES.append(str(e))
    except (WebDriverException, NoSuchElementException) as e:
        FAILURES.append(f"webdriver: {e.__class__.__name__}: {str(e).splitlines()[0]}")
    signal.alarm(0)
    for c in CONSOLE_ERRORS:
        FAILURES.append(f"browser console error: {c}")
    log(f"took {time.monotonic() - T0:.1f} s")
    if FAILURES:
        print(f"FAIL: {len(FAILURES)} assertion(s) failed:", file=sys.stderr)
        for f in FAILURES:
            print(f"  - {f}", file=sys.stderr)
        sys.exit(1)
    print("PASS", file=sys.stderr)
