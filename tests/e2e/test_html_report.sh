#!/usr/bin/env bash
# The HTML report in a real browser: `dtf run` runs a small suite (passing, failing with hostile
# output, a benchmark with metrics, a test needing hardware nobody offers) with an lcov file and
# writes every format and the badges; headless Chromium then opens report.html from disk, and
# the DOM it dumps must hold the expected rows, the marker the page's script adds once it ran,
# and no console error (a script error or a blocked resource shows as CONSOLE lines on stderr).
# The screenshot is kept as $DTF_BUILD_DIR/test-artifacts/report.png.
#
# Without Chromium (Debian package `chromium`, installed by scripts/install-deps.sh) the test
# says so and exits 77, which CTest reports as skipped.
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
	echo "SKIP: no chromium on PATH (install the Debian package 'chromium'," \
		"e.g. with scripts/install-deps.sh as root)" >&2
	exit 77
fi
. "$(dirname "$0")/lib.sh"

mkdir suite
cat > tasks.json <<'EOF2'
[
  {"name": "test_ok.sh", "shell": "echo fine", "params": {"test_type": "integration"}},
  {"name": "test_broken <b>bold</b> & \"q\".sh", "shell": "echo 'boom <script>x</script>' >&2; exit 3",
   "params": {"test_type": "integration"}},
  {"name": "bench_sum", "type": "benchmark",
   "shell": "echo warming up; echo '{\"throughput\": 1250.5, \"latency_ms\": 0.8}'"},
  {"name": "test_needs_rocm", "shell": "true", "hardware": "rocm"}
]
EOF2
cat > cov.info <<'EOF2'
SF:src/main.c
DA:1,1
DA:2,1
DA:3,0
DA:4,1
end_of_record
EOF2

dtf run --workers 2 --task-file tasks.json --output-dir OUT --state-dir STATE \
	--report-formats json,junit,markdown,html,csv --badges-dir BADGES --coverage cov.info \
	> run.out 2> run.err
rc=$?
assert_eq "$rc" 1 "dtf run exit status (stderr: $(tail -5 run.err))"
for f in results.json results.xml report.md report.html results.csv; do
	[ -s "OUT/$f" ] || fail "no OUT/$f (stderr: $(cat run.err))"
done
for f in combined-status.json integration-status.json benchmark-status.json coverage.json; do
	[ -s "BADGES/$f" ] || fail "no BADGES/$f (have: $(ls BADGES))"
done
assert_eq "$(jq_py 'd["message"]' BADGES/coverage.json)" "75.0%" "coverage badge"
assert_eq "$(jq_py 'd["color"]' BADGES/coverage.json)" "yellowgreen" "coverage badge colour"
assert_eq "$(jq_py 'd["color"]' BADGES/combined-status.json)" "red" "status badge colour"

ART="${DTF_BUILD_DIR:-$T}/test-artifacts"
mkdir -p "$ART" || fail "cannot create $ART"
rm -f "$ART/report.png"
# Chromium gets its own profile under $T and a bounded time; it runs as a child of this test, so
# the cleanup of lib.sh stops whatever it leaves.
timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
	--user-data-dir="$T/chromium-profile" --enable-logging=stderr --v=0 \
	--window-size=1280,1600 --screenshot="$ART/report.png" --dump-dom \
	"file://$T/OUT/report.html" > dom.html 2> chromium.err
crc=$?
[ "$crc" = 0 ] || fail "chromium exited with $crc: $(tail -20 chromium.err)"
[ -s dom.html ] || fail "chromium dumped no DOM: $(tail -20 chromium.err)"
if grep -q 'CONSOLE' chromium.err; then
	fail "console messages while loading the report: $(grep CONSOLE chromium.err)"
fi
[ -s "$ART/report.png" ] || fail "no screenshot at $ART/report.png"
[ "$(head -c 8 "$ART/report.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
	fail "$ART/report.png is not a PNG"

python3 - dom.html <<'EOF2' || fail "the DOM of the report is not as expected"
import sys
from html.parser import HTMLParser

class Doc(HTMLParser):
    """Collects the rows of every table by id, the marker, and every script element."""
    def __init__(self):
        super().__init__()
        self.tables, self.table, self.row, self.cell = {}, None, None, None
        self.marker = None
        self.scripts = 0
        self.ids = set()
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "script":
            self.scripts += 1
        if tag == "div" and a.get("id") == "dtf-js-ok":
            self.marker = a
        if tag == "table":
            self.table = a.get("id")
            self.tables[self.table] = []
        elif tag == "tr" and self.table is not None:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = ""
    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.row.append(self.cell.strip())
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.tables[self.table].append(self.row)
            self.row = None
        elif tag == "table":
            self.table = None
    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data

d = Doc()
d.feed(open(sys.argv[1], encoding="utf-8").read())
assert d.marker is not None, "the page's script did not run (no #dtf-js-ok)"
assert d.marker.get("data-tables") == "4", d.marker  # metrics, coverage, failures, all tests
assert d.scripts == 1, f"{d.scripts} script elements: a test name was not escaped"

fails = d.tables["failures-table"][1:]
assert len(fails) == 1, fails
assert fails[0][0] == 'test_broken <b>bold</b> & "q".sh', fails[0]
assert fails[0][2] == "exit code 3", fails[0]

tests = {r[0]: r[2] for r in d.tables["tests-table"][1:]}
assert tests == {"test_ok.sh": "passed", 'test_broken <b>bold</b> & "q".sh': "failed",
                 "bench_sum": "passed", "test_needs_rocm": "skipped"}, tests

metrics = {(r[0], r[1]): r[2] for r in d.tables["metrics-table"][1:]}
assert metrics == {("bench_sum", "Throughput"): "1250.50",
                   ("bench_sum", "Latency Ms"): "0.80"}, metrics

cov = d.tables["coverage-table"][1:]
assert cov[0][:4] == ["src/main.c", "4", "3", "75.00%"], cov
assert "summary" in d.ids and "status" in d.ids
EOF2
log "screenshot kept at $ART/report.png"

# Sorting: a copy of the page with one more script that clicks the "Test" header of the table of
# all tests twice and writes the order of the rows after each click into the DOM.
python3 - OUT/report.html sort.html <<'EOF2' || fail "cannot write sort.html"
import sys
page = open(sys.argv[1], encoding="utf-8").read()
probe = """<script>
var th = document.querySelector('#tests-table th');
function names() {
  return Array.prototype.map.call(document.querySelectorAll('#tests-table tbody tr'),
    function (r) { return r.cells[0].textContent; }).join('\\n');
}
th.click();
var a = document.createElement('pre'); a.id = 'asc'; a.textContent = names();
th.click();
var d = document.createElement('pre'); d.id = 'desc'; d.textContent = names();
document.body.appendChild(a); document.body.appendChild(d);
</script>
"""
open(sys.argv[2], "w", encoding="utf-8").write(page.replace("</body>", probe + "</body>"))
EOF2
timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
	--user-data-dir="$T/chromium-profile" --enable-logging=stderr --v=0 --dump-dom \
	"file://$T/sort.html" > sorted.html 2> chromium-sort.err || fail "chromium failed on sort.html"
grep -q CONSOLE chromium-sort.err && fail "console messages: $(grep CONSOLE chromium-sort.err)"
python3 - sorted.html <<'EOF2' || fail "clicking a header does not sort the table"
import re, sys, html
page = open(sys.argv[1], encoding="utf-8").read()
def order(id):
    m = re.search(r'<pre id="%s">(.*?)</pre>' % id, page, re.S)
    assert m, f"no #{id}: the probe did not run"
    return html.unescape(m.group(1)).split("\n")
asc, desc = order("asc"), order("desc")
want = sorted(asc, key=str.lower)
assert len(asc) == 4 and asc == want, asc
assert desc == want[::-1], desc
EOF2

# A second run compared with the first: the broken test is fixed, the good one now fails.
python3 - <<'EOF2' || fail "cannot write tasks2.json"
import json
tasks = json.load(open("tasks.json"))
tasks[0]["shell"] = "exit 1"
tasks[1]["shell"] = "true"
json.dump(tasks, open("tasks2.json", "w"))
EOF2
dtf run --workers 2 --task-file tasks2.json --output-dir OUT2 --state-dir STATE2 \
	--report-formats json,markdown --compare-with OUT/results.json > run2.out 2> run2.err
assert_eq "$?" 1 "exit status of the second run (stderr: $(tail -5 run2.err))"
assert_eq "$(jq_py 'd["comparison"]["new_failures"]' OUT2/results.json)" '["test_ok.sh"]' \
	"new failures"
assert_eq "$(jq_py 'd["comparison"]["fixed"]' OUT2/results.json)" \
	'["test_broken <b>bold</b> & \"q\".sh"]' "fixed tests"
assert_eq "$(jq_py 'd["comparison"]["previous_run_id"]' OUT2/results.json)" \
	"$(jq_py 'd["run"]["id"]' OUT/results.json)" "previous run id"
assert_contains "$(cat OUT2/report.md)" "## Comparison with the Previous Run" "report.md"
