#!/usr/bin/env bash
# A `dtf run` that is killed (SIGKILL: no chance to clean up) leaves nothing behind: its local
# workers see their parent die (--exit-with-parent), stop at once and kill their tasks, instead
# of retrying a coordinator that is gone forever.
. "$(dirname "$0")/lib.sh"

mkdir suite
cat > suite/test_long.sh <<'SH'
exec sleep 60
SH
"$DTF_BIN" run --workers 2 --test-dir suite --output-dir OUT --state-dir STATE --quiet \
	> run.out 2>&1 &
RUN_PID=$!
track_pid "$RUN_PID"
# Wait until the task is running: a process of the task exists.
running_task() {
	local p
	for p in $(our_processes); do
		tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -q '^DTF_TASK_ID=' && return 0
	done
	return 1
}
wait_for -t 30 -m "the test never started ($(cat run.out))" running_task
workers() {
	local p
	for p in $(our_processes); do
		tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q ' worker ' && echo "$p"
	done
}
[ -n "$(workers)" ] || fail "no local worker process found"
kill -KILL "$RUN_PID"
wait_exit "$RUN_PID" 5
# Every worker and the task's sleep are gone within a bounded time.
nothing_left() { ! running_task && [ -z "$(workers)" ]; }
wait_for -t 10 -m "dtf run's workers or their task outlived it: $(ps -o pid,args -p "$(our_processes | tr '\n' , | sed 's/,$//')" 2>/dev/null)" nothing_left
log "a killed dtf run leaves no worker and no task behind"
exit 0
