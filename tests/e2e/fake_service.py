#!/usr/bin/env python3
"""fake_service.py: a loopback HTTP server that stands in for the services `dtf notify` talks to
(Slack's Web API and incoming webhooks, a Teams Workflows webhook, a plain webhook, JIRA Cloud and
Data Center, TestRail), for the end-to-end tests. It records every request as one JSON line
(method, path, raw query, query, headers, body: parsed JSON when the content type says JSON, else
text) and answers each from the scripted rules first, else with the service's usual success.

usage: fake_service.py --port-file F --log F

POST /_fake/script with a JSON list of rules adds rules while it runs (not recorded); POST
/_fake/clear drops them all (the service recovers). A rule:
  {"method": "POST", "target": REGEX (matched against path + "?" + query), "status": 429,
   "headers": {"Retry-After": "3"}, "body": JSON or text, "delay_s": 5 (answer late),
   "size": N (a body of N bytes), "times": 1 (0: every time)}
Rules are tried in the order given; a used-up rule is dropped.
"""
import argparse
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
RULES = []
LOG = None
STATE = {"issue": 0}


def testrail_cases(m, q):
    # get_cases: two pages of bulk answers, linked by _links.next.
    offset = int(re.search(r"offset=(\d+)", q).group(1)) if "offset=" in q else 0
    cases = [{"id": 2001 + offset + i, "title": "case %d" % (offset + i)} for i in range(2)]
    nxt = None if offset >= 2 else "/api/v2/get_cases/1&suite_id=3&limit=2&offset=%d" % (offset + 2)
    return 200, {"offset": offset, "limit": 2, "size": 2, "_links": {"next": nxt, "prev": None},
                 "cases": cases}


def jira_create(m, q):
    STATE["issue"] += 1
    return 201, {"id": str(10000 + STATE["issue"]), "key": "QA-%d" % STATE["issue"],
                 "self": "http://jira.example/rest/api/3/issue/%d" % (10000 + STATE["issue"])}


# (method, regex over path?query, answer(match, query) -> (status, body))
ROUTES = [
    ("POST", r"^/api/chat\.postMessage$",
     lambda m, q: (200, {"ok": True, "channel": "C0FAKE123", "ts": "1765000000.000100",
                         "message": {"text": "x"}})),
    ("POST", r"^/api/chat\.update$",
     lambda m, q: (200, {"ok": True, "channel": "C0FAKE123", "ts": "1765000000.000100"})),
    ("POST", r"^/services/", lambda m, q: (200, "ok")),
    ("POST", r"^/workflows/", lambda m, q: (202, "")),
    ("POST", r"^/hook", lambda m, q: (200, {"received": True})),
    ("PUT", r"^/hook", lambda m, q: (200, {"received": True})),

    ("POST", r"^/rest/api/[23]/search(/jql)?$", lambda m, q: (200, {"issues": []})),
    ("POST", r"^/rest/api/[23]/issue$", jira_create),
    ("POST", r"^/rest/api/[23]/issue/([A-Z]+-\d+)/comment$",
     lambda m, q: (201, {"id": "20001"})),
    ("GET", r"^/rest/api/[23]/issue/([A-Z]+-\d+)/transitions$",
     lambda m, q: (200, {"transitions": [{"id": "11", "name": "In Progress"},
                                         {"id": "31", "name": "Done"}]})),
    ("POST", r"^/rest/api/[23]/issue/([A-Z]+-\d+)/transitions$", lambda m, q: (204, "")),
    ("POST", r"^/index\.php\?/api/v2/add_run/(\d+)$",
     lambda m, q: (200, {"id": 77, "name": "x", "url": "http://testrail.example/runs/view/77"})),
    ("POST", r"^/index\.php\?/api/v2/add_results_for_cases/(\d+)$", lambda m, q: (200, [])),
    ("POST", r"^/index\.php\?/api/v2/close_run/(\d+)$",
     lambda m, q: (200, {"id": int(m.group(1)), "is_completed": True})),
    ("GET", r"^/index\.php\?/api/v2/get_cases/(\d+)", testrail_cases),
]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def handle(self):
        try:
            super().handle()
        except OSError:
            pass  # the client hung up (a timeout it set, an answer past its cap)


    def answer(self, status, body, headers=None):
        if isinstance(body, (dict, list)):
            raw = json.dumps(body).encode()
            ctype = "application/json; charset=utf-8"
        else:
            raw = (body or "").encode()
            ctype = "text/plain; charset=utf-8"
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
        except OSError:
            # The client gave up (a timeout, an answer past its cap): nothing to do.
            self.close_connection = True

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        split = urlsplit(self.path)
        target = split.path + ("?" + split.query if split.query else "")
        text = raw.decode("utf-8", "replace")
        if split.path == "/_fake/script":
            with LOCK:
                RULES.extend(json.loads(text))
            self.answer(204, "")
            return
        if split.path == "/_fake/clear":
            with LOCK:
                RULES.clear()
            self.answer(204, "")
            return
        ctype = self.headers.get("Content-Type") or ""
        body = text
        if raw and "json" in ctype:
            try:
                body = json.loads(text)
            except ValueError:
                body = {"_unparsable": text}
        entry = {"t": time.time(), "method": self.command, "path": split.path,
                 "raw_query": split.query, "target": target,
                 "query": {k: v[0] for k, v in parse_qs(split.query).items()},
                 "headers": {k.lower(): v for k, v in self.headers.items()},
                 "body": body, "raw": text}
        rule = None
        with LOCK:
            for r in RULES:
                if r.get("method", self.command) == self.command and \
                        re.search(r.get("target", ""), target):
                    rule = r
                    break
            if rule is not None:
                rule["times"] = rule.get("times", 1) - 1
                if rule["times"] == 0:
                    RULES.remove(rule)
        if rule is not None:
            status, ans, hdrs = rule.get("status", 200), rule.get("body", ""), rule.get("headers")
            if "size" in rule:
                ans = "x" * int(rule["size"])
        else:
            status, ans, hdrs = 404, {"error": "no route for %s %s" % (self.command, target)}, None
            for method, rx, fn in ROUTES:
                m = re.search(rx, target)
                if method == self.command and m:
                    status, ans = fn(m, split.query)
                    break
        entry["status"] = status
        with LOCK:
            with open(LOG, "a") as f:
                f.write(json.dumps(entry) + "\n")
        if rule is not None and rule.get("delay_s"):
            time.sleep(float(rule["delay_s"]))
        self.answer(status, ans, hdrs)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


def main():
    global LOG
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    LOG = a.log
    open(LOG, "w").close()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
