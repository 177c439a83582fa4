#!/usr/bin/env bash
# A full disk in the worker's work directory (DESIGN.md §7): the failure is reported as
# error.kind infrastructure (reason disk_full), not as the task's own failure, and the task is
# retried on another worker (recovery level 2, retry_elsewhere) or, with no retries left, fails
# with that kind. Two ways to fill the disk:
#  e1. a real one: the worker runs in a mount namespace where its work directory is a 1 MiB tmpfs
#      (skipped, with a message, where tmpfs cannot be mounted);
#  e2. an injected one, everywhere: DTF_WORKER_FAULT_WORKDIR=enospc makes the worker fail to
#      create the task's work directory with ENOSPC; the task never starts.
. "$(dirname "$0")/faults_lib.sh"

# A long first backoff: the retry waits while the test releases the second worker (held back in
# quarantine, so that the first attempt goes to the worker with the full disk).
start_faults_coordinator --retry-backoff 6
# check_retried_elsewhere TASK BAD GOOD: two attempts, the first infrastructure on BAD, the
# second passed on GOOD, recovered by retry_elsewhere (and not reported as flaky).
check_retried_elsewhere() {
	python3 - "$T/body" "$2" "$3" <<'PY' || fail "$1's final state is wrong: $(body)"
import json, sys
t = json.load(open(sys.argv[1]))
bad, good = sys.argv[2], sys.argv[3]
h = t["history"]
assert t["status"] == "completed" and t["attempt"] == 2, (t["status"], t["attempt"])
assert [(x["worker_id"], x["outcome"], x.get("error_kind")) for x in h] == \
    [(bad, "requeued", "infrastructure"), (good, "passed", None)], h
assert t["last_error"]["kind"] == "infrastructure", t["last_error"]
assert t["result"]["worker_id"] == good and not t["result"].get("flaky"), t["result"]
assert "recovery" not in t, t["recovery"]
PY
}

# ---------------------------------------------------------------------------------------------
WE="$T/work/ke"
mkdir -p "$WE"
if ! unshare -m sh -c 'mount -t tmpfs -o size=1m tmpfs "$1"' sh "$WE" 2> "$T/unshare.err"; then
	log "case e1: SKIPPED: cannot mount a tmpfs in a mount namespace here ($(head -c 200 "$T/unshare.err"))"
else
	log "case e1: a full disk in the work directory (1 MiB tmpfs)"
	unshare -m sh -c 'mount -t tmpfs -o size=1m tmpfs "$1" || exit 97; shift; exec "$@"' \
		sh "$WE" "$DTF_BIN" worker --coordinator "$URL" --worker-id ke --work-dir "$WE" \
		--lease-wait 5 --hardware fe,fe-small >> "$T/worker-ke.log" 2>&1 &
	WORKER_PID[ke]=$!
	track_pid "$!"
	wait_worker ke
	grep -q " $WE tmpfs " "/proc/${WORKER_PID[ke]}/mounts" || fail "ke's work directory is not a tmpfs"
	# No retry: fails with the kind, on ke.
	E1=$(submit '{"name": "fills_disk", "hardware": "fe-small",
		"shell": "'"$NOTE"'; dd if=/dev/zero of=\"$DTF_WORK_DIR/fill\" bs=1M count=5"}')
	wait_for -t 20 -m "fills_disk to fail" task_status_is "$E1" failed
	assert_eq "$(task_field "$E1" '"%s %s %s" % (d["error"]["kind"], d["error"].get("reason"), d["error"].get("errno"))')" \
		"infrastructure disk_full 28" "error of fills_disk"
	assert_contains "$(task_field "$E1" 'd["result"]["stderr"]')" "No space left on device" "stderr of fills_disk"
	assert_eq "$(task_field "$E1" '"%s %d" % (d["result"]["worker_id"], len(d["history"]))')" "ke 1" "worker and attempts of fills_disk"
	# The disk stays full (a failed task's directory is kept): a task that writes, with a retry,
	# fails there and passes on ke2, which is held in quarantine until the first attempt failed.
	start_worker ke2 --hardware fe
	wait_worker ke2
	assert_eq "$(http POST /api/v1/workers/ke2/quarantine '{"reason": "not yet"}')" 200 "holding ke2 back"
	E2=$(submit '{"name": "writes_on_full_disk", "hardware": "fe", "max_retries": 1,
		"shell": "'"$NOTE"'; echo data > \"$DTF_WORK_DIR/small\" && echo wrote on $DTF_WORKER_ID"}')
	wait_for -t 20 -m "writes_on_full_disk's first attempt to fail" first_attempts_failed "$E2" 1
	assert_eq "$(task_field "$E2" 'd["recovery"]["strategy"] + " " + d["recovery"]["class"] + " " + ",".join(d["recovery"]["exclude"])')" \
		"retry_elsewhere infrastructure ke" "recovery of writes_on_full_disk"
	assert_eq "$(http DELETE /api/v1/workers/ke2/quarantine)" 200 "releasing ke2"
	wait_for -t 30 -m "writes_on_full_disk to complete" task_status_is "$E2" completed
	check_retried_elsewhere "$E2" ke ke2
	assert_eq "$(executions "$E1") $(executions "$E2")" "1 2" "executions"
	pid_alive "${WORKER_PID[ke]}" || fail "worker ke exited"
	kill -TERM "${WORKER_PID[ke2]}"
	wait_exit "${WORKER_PID[ke2]}" 20
fi

# ---------------------------------------------------------------------------------------------
log "case e2: an injected ENOSPC creating the work directory"
DTF_WORKER_FAULT_WORKDIR=enospc start_worker kf --hardware ff
wait_worker kf
F1=$(submit '{"name": "no_retry", "hardware": "ff", "shell": "'"$NOTE"'"}')
wait_for -t 20 -m "no_retry to fail" task_status_is "$F1" failed
assert_eq "$(task_field "$F1" '"%s %s %s %s" % (d["error"]["kind"], d["error"].get("reason"), d["error"].get("errno"), d["result"]["worker_id"])')" \
	"infrastructure disk_full 28 kf" "error of no_retry"
assert_contains "$(task_field "$F1" 'd["error"]["message"]')" "No space left on device" "message of no_retry"
start_worker kf2 --hardware ff
wait_worker kf2
assert_eq "$(http POST /api/v1/workers/kf2/quarantine '{"reason": "not yet"}')" 200 "holding kf2 back"
F2=$(submit '{"name": "retried", "hardware": "ff", "max_retries": 1, "shell": "'"$NOTE"'; echo ok"}')
wait_for -t 20 -m "retried's first attempt to fail" first_attempts_failed "$F2" 1
assert_eq "$(http DELETE /api/v1/workers/kf2/quarantine)" 200 "releasing kf2"
wait_for -t 30 -m "retried to complete" task_status_is "$F2" completed
check_retried_elsewhere "$F2" kf kf2
# The task never started on kf: one execution, on kf2.
assert_eq "$(executions "$F1") $(grep "^$F2 " "$RAN" | tr '\n' ' ')" "0 $F2 2 kf2 " "executions"
# The recovery history counts it.
api GET /api/v1/recovery/history > hist.json
python3 - hist.json <<'PY' || fail "recovery history: $(cat hist.json)"
import json, sys
h = {(e["class"], e["strategy"]): e for e in json.load(open(sys.argv[1]))["history"]}
e = h[("infrastructure", "retry_elsewhere")]
assert e["attempts"] >= 1 and e["successes"] == e["attempts"] and e["success_rate"] == 1.0, e
assert e["mean_time_to_recover_s"] > 0, e
PY
pid_alive "${WORKER_PID[kf]}" || fail "worker kf exited"
exit 0
