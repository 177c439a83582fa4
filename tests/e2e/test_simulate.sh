#!/usr/bin/env bash
# dtf simulate from the command line: a workload file with a known optimum (durations 2, 3, 3, 4
# on two 1-slot workers: 6 s, the lower bound) is met by duration and missed by FIFO (7 s);
# `--strategy all` reports every strategy; a synthetic workload runs; bad input exits 2 naming
# the problem.
. "$(dirname "$0")/lib.sh"

cat > wl.json <<'EOF'
[{"duration_s": 2, "name": "a", "user": "u1"}, {"duration_s": 3, "name": "b", "user": "u2"},
 {"duration_s": 3, "name": "c", "user": "u1"}, {"duration_s": 4, "name": "d", "user": "u2"}]
EOF
dtf simulate --workload wl.json --workers 2 --strategy duration --json > dur.json || fail "simulate duration"
assert_eq "$(jq_py 'd["makespan_s"]' dur.json)" 6.0 "duration makespan"
assert_eq "$(jq_py 'd["ratio"]' dur.json)" 1.0 "duration ratio"
dtf simulate --workload wl.json --workers 2 --strategy priority --json > fifo.json || fail "simulate priority"
assert_eq "$(jq_py 'd["makespan_s"]' fifo.json)" 7.0 "FIFO makespan"
out=$(dtf simulate --workload wl.json --workers 2 --strategy all) || fail "simulate all"
for s in priority fair-share round-robin resource-aware deadline duration; do
	assert_contains "$out" "strategy $s:" "--strategy all lists $s"
done
dtf simulate --tasks 2000 --workers 20 --slots 2 --users 3 --seed 5 --strategy fair-share --json > syn.json || fail "synthetic"
assert_eq "$(jq_py 'd["completed"]' syn.json)" 2000 "synthetic tasks completed"
assert_eq "$(jq_py 'd["users"]' syn.json)" 3 "synthetic users"
assert_eq "$(jq_py 'd["ratio"] >= 1' syn.json)" true "ratio at least 1"

echo '[{"name": "no duration"}]' > bad.json
if dtf simulate --workload bad.json > bad.out 2>&1; then fail "a task without duration_s was accepted"; fi
assert_contains "$(cat bad.out)" 'tasks[0]: needs "duration_s"' "bad workload message"
if dtf simulate --strategy nope > bad2.out 2>&1; then fail "an unknown strategy was accepted"; fi
assert_contains "$(cat bad2.out)" "unknown strategy 'nope'" "unknown strategy message"
if dtf simulate --workers 0 > bad3.out 2>&1; then fail "--workers 0 was accepted"; fi
assert_contains "$(cat bad3.out)" "bad value '0'" "bad --workers message"
log "ok"
