#!/usr/bin/env bash
# Reports from the coordinator: `dtf client export-results` and GET /api/v1/runs/{id}/export in
# every format (docs/reports.md). A run of a passing task, a failing one and a benchmark with
# metrics: the Markdown shows the status, summary with percentages, metrics and the failure; the
# HTML is one document with the rows; the CSV has a row per task; an unknown format is a 400 from
# the API and exit 2 from the client.
. "$(dirname "$0")/lib.sh"

start_coordinator
start_worker worker-1
wait_worker worker-1
export DTF_COORDINATOR="$URL"

cat > tasks.json <<'EOF2'
[
  {"name": "test_ok", "command": ["true"]},
  {"name": "test_bad | pipe", "shell": "echo 'bad <thing>' >&2; exit 4"},
  {"name": "bench_speed", "type": "benchmark", "shell": "echo '{\"ops_per_s\": 4200.25}'"}
]
EOF2
out=$(dtf client submit-task --file tasks.json 2>&1) || fail "submit-task failed: $out"
RUN=$(cat .dtf/last-run)
dtf client wait-completion > wait.out 2> wait.err
assert_eq "$?" 1 "wait-completion exit status ($(cat wait.out) $(tail -3 wait.err))"

dtf client export-results --format md --output report.md > /dev/null || fail "export md failed"
md=$(cat report.md)
assert_contains "$md" "**Status:** FAILURE" "report.md"
assert_contains "$md" "- Passed: 2 (66.7%)" "report.md"
assert_contains "$md" "- Failed: 1 (33.3%)" "report.md"
assert_contains "$md" "| bench\\_speed | Ops Per S | 4200.25 |" "report.md"
assert_contains "$md" "| test\\_bad \\| pipe | failed | exit code 4 |" "report.md"

dtf client export-results --format html --output report.html > /dev/null || fail "export html failed"
html=$(cat report.html)
assert_contains "$html" "<!DOCTYPE html>" "report.html"
assert_contains "$html" "<td>test_bad | pipe</td>" "report.html"
assert_eq "$(grep -c '<script' report.html)" 1 "script elements in report.html"

dtf client export-results --format csv > /dev/null || fail "export csv failed"
[ -s test-results.csv ] || fail "no default test-results.csv"
assert_eq "$(wc -l < test-results.csv | tr -d ' ')" 4 "lines of the CSV (header + 3 tasks)"
assert_contains "$(cat test-results.csv)" "bench_speed," "CSV"
assert_contains "$(cat test-results.csv)" "ops_per_s=4200.25" "CSV metrics"

code=$(http GET "/api/v1/runs/$RUN/export?format=csv")
assert_eq "$code" 200 "GET export?format=csv"
code=$(curl -s -o /dev/null -w '%{content_type}' "$URL/api/v1/runs/$RUN/export?format=html")
assert_contains "$code" "text/html" "content type of the HTML export"
code=$(http GET "/api/v1/runs/$RUN/export?format=pdf")
assert_eq "$code" 400 "GET export?format=pdf"
dtf client export-results --format pdf --output x.pdf > /dev/null 2> bad.err
assert_eq "$?" 2 "export-results --format pdf exit status"
[ ! -e x.pdf ] || fail "an unknown format wrote a file"
