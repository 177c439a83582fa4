#!/usr/bin/env bash
# dtf bench: each phase starts its own coordinator, drives it to the end (every submitted task
# accepted, every leased task completed) and reports; nothing is left behind.
. "$(dirname "$0")/lib.sh"

export TMPDIR="$T"
dtf bench --tasks 2000 --batch 500 --workers 4 --lease-max 16 --poll-workers 50 \
	--pending 2000 --task-ms 20 --duration 1 --latency-log lat.txt > bench.txt 2> bench.err ||
	fail "dtf bench: $(cat bench.err)"
out=$(cat bench.txt)
assert_contains "$out" "submit:   2000 tasks in batches of 500" "submit phase"
assert_contains "$out" "complete: 2000 tasks by 4 workers leasing 16 at a time" "complete phase"
assert_contains "$out" "longpoll: 50 long-polling workers, 2000 tasks pending" "longpoll phase"
grep -Eq 'lease latency p50 [0-9.]+ ms, p99 [0-9.]+ ms' bench.txt || fail "no latency figures: $out"
grep -Eq 'peak RSS \(VmHWM\) [1-9][0-9.]* MiB' bench.txt || fail "no RSS figure: $out"
# The kernel's receive time of each reply: the latency to it is never above the latency as the
# client read the reply (1 ms of slack for the two clocks), and the log has a line per lease.
grep -Eq "lease latency to the reply's arrival: p50 [0-9.]+ ms, p99 [0-9.]+ ms" bench.txt ||
	fail "no arrival latency: $out"
grep -Eq 'coordinator CPU [0-9]+ % of a core' bench.txt || fail "no coordinator CPU: $out"
leases=$(sed -nE 's/.*ms: ([0-9]+) leases in.*/\1/p' bench.txt)
assert_eq "$(wc -l < lat.txt)" "$leases" "lines of --latency-log"
bad=$(awk 'NF != 3 || $3 < 0 || $3 > $2 + 1000' lat.txt | head -3)
assert_eq "$bad" "" "lease log lines with an arrival after the read"
left=$(find "$T" -maxdepth 1 -name 'dtf-bench.*' | wc -l)
assert_eq "$left" 0 "coordinator directories left behind"

# A bad option value is refused.
dtf bench --lease-max 0 > /dev/null 2>&1
assert_eq "$?" 2 "exit status for --lease-max 0"

# --port drives a coordinator that is already running: submit, then drain what it holds.
dtf bench --phases drain > /dev/null 2>&1
assert_eq "$?" 1 "exit status for drain without --port"
start_coordinator --worker-auto-discovery
port=$COORD_PORT
dtf bench --port "$port" --phases submit --tasks 300 --batch 100 > attach.txt 2>&1 ||
	fail "dtf bench --port submit: $(cat attach.txt)"
assert_contains "$(cat attach.txt)" "submit:   300 tasks in batches of 100" "submit on --port"
dtf bench --port "$port" --phases drain --tasks 300 --workers 2 --lease-max 16 > drain.txt 2>&1 ||
	fail "dtf bench --port drain: $(cat drain.txt)"
assert_contains "$(cat drain.txt)" "drain:    300 tasks by 2 workers leasing 16 at a time" "drain"
assert_eq "$(metric 'dtf_tasks{status="completed"}')" 300 "tasks completed by the drain"
