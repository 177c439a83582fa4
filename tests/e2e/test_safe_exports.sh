#!/usr/bin/env bash
# Exports that are safe to open (docs/security.md): tasks named like spreadsheet formulas
# (=cmd|' /C calc'!A0, +1, -1, @SUM(…), a leading tab or CR) and with control bytes, run by a
# worker whose id starts with -, are exported as CSV through every path that writes it
# (`dtf client export-results`, GET /api/v1/runs/{id}/export?format=csv, GET
# /api/v1/tasks/export?format=csv when it exists) and read back with Python's csv module: no cell
# starts with a formula character unless it was escaped with a leading '. The HTML export has
# no live markup from the names and the JUnit export parses as XML. A 10,000-character name (of a
# task, a run, or a task renamed) is refused with a message naming the field and its limit.
. "$(dirname "$0")/lib.sh"

start_coordinator
start_worker -w-1
wait_worker -w-1
export DTF_COORDINATOR="$URL"

/usr/bin/python3 - > tasks.json <<'PY'
import json
names = ["=cmd|' /C calc'!A0", "+1", "-1", "@SUM(A1:A2)", "\tx=1", "\rx=1",
         "\u0001\u001b=bell", "<script>alert(1)</script>", "plain"]
print(json.dumps([{"name": n, "shell": "echo '=HYPERLINK(\"http://x\")' >&2; exit 3"}
                  for n in names]))
PY
out=$(dtf client submit-task --file tasks.json 2>&1) || fail "submit-task failed: $out"
RUN=$(cat .dtf/last-run)
dtf client wait-completion --timeout 60 > wait.out 2> wait.err
assert_eq "$?" 1 "wait-completion exit status ($(cat wait.out) $(tail -3 wait.err))"

dtf client export-results --format csv --output client.csv > /dev/null || fail "export csv failed"
code=$(http GET "/api/v1/runs/$RUN/export?format=csv")
assert_eq "$code" 200 "GET /api/v1/runs/$RUN/export?format=csv"
cp "$T/body" api.csv
files=(client.csv api.csv)
code=$(http GET "/api/v1/tasks/export?format=csv")
if [ "$code" = 200 ] && head -c 5 "$T/body" | grep -q '^name'; then
	cp "$T/body" tasks.csv
	files+=(tasks.csv)
fi

check_csv() {
	/usr/bin/python3 - "$1" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
assert rows[0][0] == "name", rows[0]
names = set()
for row in rows[1:]:
    for cell in row:
        assert not cell or cell[0] not in "=+-@\t\r", "live formula cell %r in %r" % (cell, row)
        assert not any(ord(c) < 0x20 and c not in "\t\r\n" for c in cell), "control byte in %r" % cell
    names.add(row[0])
want = {"'=cmd|' /C calc'!A0", "'+1", "'-1", "'@SUM(A1:A2)", "'\tx=1", "'\rx=1", "'=bell",
        "<script>alert(1)</script>", "plain"}
assert want <= names, "missing escaped names: %r" % (want - names)
PY
}
for f in "${files[@]}"; do
	check_csv "$f" || fail "$f has a cell a spreadsheet would run: $(head -c 600 "$f")"
done
# The worker id (-w-1) is escaped too.
grep -q "'-w-1" client.csv || fail "the worker id -w-1 is not escaped in the CSV"

# HTML: the name is text, not markup. JUnit: well-formed XML despite the control bytes.
dtf client export-results --format html --output r.html > /dev/null || fail "export html failed"
grep -q "<script>alert(1)" r.html && fail "the HTML export carries a live <script> from a name"
dtf client export-results --format junit --output r.xml > /dev/null || fail "export junit failed"
/usr/bin/python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' r.xml ||
	fail "the JUnit export is not well-formed XML"

# A field over its limit: the message names the field and the limit.
big=$(head -c 10000 /dev/zero | tr '\0' 'n')
code=$(http POST /api/v1/tasks "{\"name\": \"$big\", \"command\": [\"true\"]}")
assert_eq "$code" 400 "a task with a 10,000-character name"
assert_contains "$(body)" "field 'name' is too long: at most 4096 bytes (got 10000)" "the message"
code=$(http POST /api/v1/tasks "{\"run\": {\"name\": \"$big\"}, \"tasks\": [{\"command\": [\"true\"]}]}")
assert_eq "$code" 400 "a run with a 10,000-character name"
assert_contains "$(body)" "field 'run.name' is too long: at most 4096 bytes (got 10000)" "the message"
TID=$(submit '{"name": "waits", "command": ["true"], "hardware": "no-such-hardware"}')
code=$(http PUT "/api/v1/tasks/$TID" "{\"name\": \"$big\"}")
assert_eq "$code" 400 "renaming a task to a 10,000-character name"
assert_contains "$(body)" "field 'name' is too long: at most 4096 bytes (got 10000)" "the message"
echo "PASS: CSV, HTML and JUnit exports of hostile names are safe to open"
