"""dashboard_dom.py: a small DOM for the dashboard's pages (tests/e2e/test_dashboard.sh): parses
HTML with the standard library's parser into nodes and finds them by tag, id, class and attribute,
so that the test checks the DOM contract of docs/dashboard.md without a browser.

    python3 dashboard_dom.py CHECK PAGE.html [ARGS…]   runs check CHECK (see CHECKS) and exits 1
                                                       with the reason when it does not hold.
"""
import json
import re
import sys
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children = []

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def walk(self):
        for c in self.children:
            if isinstance(c, Node):
                yield c
                yield from c.walk()

    def find_all(self, tag=None, cls=None, **attrs):
        out = []
        for n in self.walk():
            if tag and n.tag != tag:
                continue
            if cls and cls not in n.classes():
                continue
            if any(n.attrs.get(k.replace("_", "-")) != v for k, v in attrs.items()):
                continue
            out.append(n)
        return out

    def find(self, tag=None, cls=None, **attrs):
        found = self.find_all(tag, cls, **attrs)
        return found[0] if found else None


class Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse(path):
    b = Builder()
    b.feed(open(path, encoding="utf-8").read())
    b.close()
    return b.root


def need(cond, why):
    if not cond:
        print("dashboard_dom: " + why, file=sys.stderr)
        sys.exit(1)


def integer(node, what):
    need(node is not None, f"no {what}")
    t = node.text().strip()
    need(re.fullmatch(r"\d+", t) is not None, f"{what} holds {t!r}, not an integer")
    return int(t)


def counts_of(root, what):
    return {k: integer(root.find(cls=k), f"{what} .{k}") for k in ("passed", "failed", "skipped",
                                                                   "total")}


def check_overview(doc, run_id, summary_path, worker_id):
    tests = json.load(open(summary_path))["tests"]
    runs = doc.find("table", id="runs")
    need(runs is not None, "no table#runs")
    row = runs.find("tr", cls="run", data_run_id=run_id)
    need(row is not None, f"no tr.run[data-run-id={run_id}]")
    link = row.find("a", cls="run-link")
    need(link is not None and link.attrs.get("href") == "/runs/" + run_id, "run-link href")
    need(row.find("progress") is not None, "no progress in the run's row")
    got = counts_of(row, "the run's row")
    want = {k: tests[k] for k in got}
    need(got == want, f"run row counts {got}, the summary says {want}")
    need(row.find(cls="run-status") is not None, "no .run-status")
    workers = doc.find("table", id="workers")
    need(workers is not None, "no table#workers")
    w = workers.find("tr", cls="worker", data_worker_id=worker_id)
    need(w is not None, f"no tr.worker[data-worker-id={worker_id}]")
    need(re.fullmatch(r"\d+ / \d+", w.find(cls="slots").text().strip()) is not None,
         "worker slots are not 'used / total'")
    need(doc.find(id="blocked") is not None, "no #blocked")
    need(doc.find("table", id="pending") is not None, "no table#pending")


def check_pending(doc, task_id):
    row = doc.find("table", id="pending").find("tr", data_task_id=task_id)
    need(row is not None, f"pending task {task_id} is not listed")
    need(row.find(cls="why-pending").text().strip() != "", "no why-pending reason")


def check_run(doc, run_id, summary_path, tasks_path, filtered=""):
    tests = json.load(open(summary_path))["tests"]
    tasks = json.load(open(tasks_path))["tasks"]
    need(doc.find("body").attrs.get("data-run-id") == run_id, "body data-run-id")
    box = doc.find(id="run-counts")
    need(box is not None, "no #run-counts")
    got = counts_of(box, "#run-counts")
    want = {k: tests[k] for k in got}
    need(got == want, f"#run-counts {got}, the summary says {want}")
    need(doc.find("select", id="status-filter") is not None, "no select#status-filter")
    table = doc.find("table", id="tasks")
    need(table is not None, "no table#tasks")
    rows = table.find_all("tr", cls="task")

    def row_status(t):
        if t["status"] == "completed":
            return "passed"
        if t["status"] == "cancelled" and (t.get("error") or {}).get("kind") == "unschedulable":
            return "skipped"
        return t["status"]
    want_rows = {t["id"]: row_status(t) for t in tasks if not filtered or row_status(t) == filtered}
    got_rows = {r.attrs.get("data-task-id"): r.attrs.get("data-status") for r in rows}
    need(got_rows == want_rows, f"task rows {got_rows}, want {want_rows}")
    for r in rows:
        tid = r.attrs["data-task-id"]
        name = [t["name"] for t in tasks if t["id"] == tid][0]
        cell = r.find("td", cls="task-name")
        need(cell is not None, "no td.task-name")
        a = cell.find("a", cls="task-link")
        need(a is not None and a.attrs.get("href") == "/tasks/" + tid, "task-link href")
        need(a.text() == name, f"task name {a.text()!r}, want {name!r}")
        for cls in ("task-status", "duration", "worker", "attempts", "error"):
            need(r.find(cls=cls) is not None, f"no .{cls} in task row {tid}")
    # The timeline: exactly one rect.attempt per attempt.
    svg = doc.find("svg", id="timeline")
    need(svg is not None, "no svg#timeline")
    rects = svg.find_all("rect", cls="attempt")
    attempts = sorted((t["id"], a["attempt"]) for t in tasks for a in t.get("history", []))
    drawn = sorted((r.attrs.get("data-task-id"), int(r.attrs.get("data-attempt"))) for r in rects)
    need(drawn == attempts, f"timeline rects {drawn}, attempts {attempts}")
    for r in rects:
        need(r.find("title") is not None and r.find("title").text(), "a rect without a title")
        need(r.attrs.get("data-outcome"), "a rect without data-outcome")
    need(svg.find_all("text", cls="lane-label"), "the timeline has no lane labels")
    print(len(rects))


def check_task(doc, status, error_nonempty, output_contains):
    st = doc.find(id="task-status")
    need(st is not None and st.tag == "span", "no span#task-status")
    need(st.text() == status, f"task-status {st.text()!r}, want {status!r}")
    err = doc.find(id="task-error")
    need(err is not None and err.tag == "pre", "no pre#task-error")
    if error_nonempty == "1":
        need(err.text().strip() != "", "pre#task-error is empty for a failed task")
    out = doc.find(id="task-output")
    need(out is not None and out.tag == "pre", "no pre#task-output")
    need(output_contains in out.text(), f"task-output {out.text()!r} lacks {output_contains!r}")
    need(doc.find("table", id="attempts") is not None, "no table#attempts")


def check_attempt_outcomes(doc, task_id, outcomes):
    rects = doc.find("svg", id="timeline").find_all("rect", cls="attempt", data_task_id=task_id)
    got = [r.attrs.get("data-outcome") for r in sorted(rects, key=lambda r: int(r.attrs["data-attempt"]))]
    need(got == outcomes.split(","), f"task {task_id} attempts {got}, want {outcomes}")


def check_report(doc, results_path):
    tasks = json.load(open(results_path))["tasks"]
    svg = doc.find("svg", id="timeline")
    need(svg is not None, "the HTML report has no svg#timeline")
    attempts = sorted((t["id"], a["attempt"]) for t in tasks for a in t.get("history", []))
    drawn = sorted((r.attrs.get("data-task-id"), int(r.attrs.get("data-attempt")))
                   for r in svg.find_all("rect", cls="attempt"))
    need(attempts and drawn == attempts, f"report timeline rects {drawn}, attempts {attempts}")


CHECKS = {"report": check_report, "overview": check_overview, "pending": check_pending, "run": check_run,
          "task": check_task, "outcomes": check_attempt_outcomes}

if __name__ == "__main__":
    CHECKS[sys.argv[1]](parse(sys.argv[2]), *sys.argv[3:])
