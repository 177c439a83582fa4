#!/usr/bin/env bash
# The dashboard at scale (docs/dashboard.md): a run of 10,000 tasks renders its page with every
# row in well under the bound (the HTML is streamed into one buffer; nothing is quadratic in the
# tasks), and the overview stays bounded (50 pending tasks listed, the total counted).
. "$(dirname "$0")/lib.sh"

N=10000
start_coordinator
python3 -c "
import json
print(json.dumps({'run': {'name': 'scale'}, 'tasks': [
    {'name': 'scale-%05d' % i, 'command': ['true'], 'hardware': 'nobody-has-this'} for i in range($N)]}))
" > big.json
api POST /api/v1/tasks @big.json > sub.json
RUN=$(jq_py 'd["run_id"]' sub.json)

# get PATH FILE: prints "CODE SECONDS".
get() { curl -s -o "$2" -w '%{http_code} %{time_total}' --max-time 60 "$URL$1"; }
read -r code secs < <(get "/runs/$RUN" run.html)
assert_eq "$code" 200 "GET /runs/$RUN"
log "run page of $N pending tasks: $secs s, $(wc -c < run.html) bytes"
assert_eq "$(grep -c '<tr class="task" data-task-id=' run.html)" "$N" "task rows"
awk -v s="$secs" -v b="$((5 * SCALE))" 'BEGIN { exit !(s < b) }' ||
	fail "the run page of $N tasks took $secs s (bound $((5 * SCALE)) s)"

read -r code secs < <(get "/" ov.html)
assert_eq "$code" 200 "GET /"
log "overview with $N pending tasks: $secs s, $(wc -c < ov.html) bytes"
assert_eq "$(grep -c '<tr class="pending-task"' ov.html)" 50 "pending rows on the overview"
grep -q "<span id=\"pending-total\">$N</span>" ov.html || fail "the overview does not count $N pending"
awk -v s="$secs" -v b="$((2 * SCALE))" 'BEGIN { exit !(s < b) }' ||
	fail "the overview took $secs s (bound $((2 * SCALE)) s)"

read -r code secs < <(get "/runs/$RUN?status=failed" none.html)
assert_eq "$code" 200 "GET /runs/$RUN?status=failed"
assert_eq "$(grep -c '<tr class="task" data-task-id=' none.html)" 0 "failed rows of a run with none"
exit 0
