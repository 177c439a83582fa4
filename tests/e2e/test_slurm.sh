#!/usr/bin/env bash
# Workers started by Slurm (docs/deploy.md), on a private one-node cluster
# (scripts/slurm-test-cluster.sh: its own munged, slurmctld, slurmd):
#  1. `dtf slurm submit-workers --count 2` starts a job array whose elements register as workers
#     with the job's allocation (1 CPU, --mem) and its labels (launcher=slurm, slurm_job_id,
#     slurm_partition, slurm_node); a suite of 6 tasks runs on them and only on them;
#  2. `dtf slurm status` lists each element with its worker; `dtf slurm stop-workers` drains
#     them: the task they run completes, the workers leave, the jobs end with status 0;
#  3. the warning before a time limit (--time 1 --warning 50: --signal=B:TERM@50, which Slurm
#     sends to the batch step, the exec'd worker; simulated with the same delivery, scancel
#     --batch --signal=TERM, since slurmctld checks time limits only every 30 s) drains a worker
#     while it runs a task: the task completes (not cut, not requeued) and the worker leaves;
#  4. `dtf slurm autoscale --once`: 3 waiting tasks and --max 2 submit 2 workers (and no more while
#     they start); once they are idle, --idle-timeout 0 stops them down to --min;
#  5. the cluster stops and no process of it or of the workers is left.
# Bad options of submit-workers are refused first, with a reason.
# Exits 77 (skipped) when Slurm's daemons or munged are not installed.
. "$(dirname "$0")/lib.sh"

for b in sbatch squeue scancel scontrol; do
	command -v "$b" >/dev/null 2>&1 || { echo "SKIP: $b is not installed (slurm-wlm)"; exit 77; }
done
for b in slurmctld slurmd munged; do
	command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] ||
		{ echo "SKIP: $b is not installed (slurm-wlm, munge)"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP: the private Slurm cluster's daemons need root"; exit 77; }

# Bad input is refused with a reason, before anything is submitted.
bad_submit() {
	# bad_submit WANT_IN_STDERR ARGS…
	local want=$1
	shift
	if dtf slurm submit-workers "$@" > "$T/out" 2> "$T/err"; then
		fail "submit-workers $* was accepted"
	fi
	[ -s "$T/out" ] && fail "submit-workers $* printed a job id: $(cat "$T/out")"
	assert_contains "$(cat "$T/err")" "$want" "the reason for submit-workers $*"
}
bad_submit "--count" --coordinator http://127.0.0.1:1
bad_submit "--count" --count 0 --coordinator http://127.0.0.1:1
bad_submit "--coordinator" --count 1
bad_submit "control character" --count 1 --coordinator http://127.0.0.1:1 --partition $'a\nb'
bad_submit "--enroll-key-file" --count 1 --coordinator http://127.0.0.1:1 --enroll-key-file "$T/none"
bad_submit "cannot run" --count 1 --coordinator http://127.0.0.1:1 --sbatch "$T/no-sbatch"
if dtf slurm restart-workers > /dev/null 2> "$T/err"; then fail "an unknown action was accepted"; fi
assert_contains "$(cat "$T/err")" "unknown action" "the reason for an unknown action"

CLUSTER="$T/slurm"
stop_cluster() { sh "$DTF_SOURCE_DIR/scripts/slurm-test-cluster.sh" stop "$CLUSTER" >/dev/null 2>&1; }
CLEANUP_HOOKS+=(stop_cluster)
out=$(sh "$DTF_SOURCE_DIR/scripts/slurm-test-cluster.sh" start "$CLUSTER" 2>&1) ||
	fail "the private Slurm cluster did not start: $out"
export SLURM_CONF="$CLUSTER/slurm.conf"
assert_eq "$out" "export SLURM_CONF=$SLURM_CONF" "what slurm-test-cluster.sh start prints"
NODE=$(hostname -s)
log "Slurm cluster up ($SLURM_CONF)"

start_coordinator

# Every worker the coordinator knows: "id status" lines.
workers() { api GET /api/v1/workers | jq_py '"\n".join(w["id"] + " " + w["status"] for w in d["workers"])'; }
count_workers_in() {
	# count_workers_in STATUS N: N workers, all in STATUS.
	local got
	got=$(workers | awk -v s="$1" '$2 == s' | wc -l)
	[ "$got" = "$2" ] && [ "$(workers | grep -c .)" = "$2" ]
}
# The squeue lines of the jobs named $1 (running or pending).
jobs_of() { squeue --noheader --array --name="$1" --format='%i %T'; }
no_jobs_of() { [ -z "$(jobs_of "$1")" ]; }

# --- 1. two workers from a job array run a suite ---
dry=$(dtf slurm submit-workers --count 2 --coordinator "$URL" --mem 200 --time 10 --warning 90 \
	--labels pool=hpc --log-dir "$T" --dry-run) || fail "submit-workers --dry-run failed"
assert_contains "$dry" "'--array=0-1'" "the sbatch command"
assert_contains "$dry" "'--signal=B:TERM@90'" "the sbatch command"
assert_contains "$dry" "exec '$DTF_BIN' worker --slurm --coordinator '$URL' --slots 1 --drain-timeout 75" "the batch script"
[ -z "$(squeue --noheader)" ] || fail "--dry-run submitted a job: $(squeue)"

ARRAY=$(dtf slurm submit-workers --count 2 --coordinator "$URL" --mem 200 --labels pool=hpc \
	--log-dir "$T" 2>"$T/submit.err") || fail "submit-workers failed: $(cat "$T/submit.err")"
[[ "$ARRAY" =~ ^[0-9]+$ ]] || fail "submit-workers printed '$ARRAY', not a job id"
log "job array $ARRAY submitted"
wait_for -t 20 -m "the two Slurm workers to register" count_workers_in idle 2
api GET /api/v1/workers > "$T/workers.json"
python3 - "$T/workers.json" "$ARRAY" "$NODE" "$(squeue --noheader --array --name=dtf-worker --format='%i=%A' | tr '\n' ' ')" <<'EOF' || fail "the Slurm workers are not described right: $(cat "$T/workers.json")"
import json, sys
d = json.load(open(sys.argv[1]))
array, node = sys.argv[2], sys.argv[3]
# "12_0=13 12_1=12": each element's own job id, which the worker's slurm_job_id label gives.
elements = dict(e.split("=") for e in sys.argv[4].split())
ws = d["workers"]
assert sorted(w["id"] for w in ws) == ["slurm-dtftest-%s_0" % array, "slurm-dtftest-%s_1" % array], ws
for w in ws:
    l, c = w["labels"], w["capabilities"]
    idx = w["id"].rsplit("_", 1)[1]
    assert l["launcher"] == "slurm" and l["pool"] == "hpc", l
    assert l["slurm_array_job_id"] == array and l["slurm_array_task_id"] == idx, l
    assert l["slurm_job_id"] == elements["%s_%s" % (array, idx)], (l, elements)
    assert l["slurm_partition"] == "debug" and l["slurm_node"] == node, l
    assert l["slurm_cluster"] == "dtftest", l
    # The allocation (one CPU, --mem 200), not the node's.
    assert c["cpu"]["cores"] == 1 and c["memory"] == 200, c
    assert c["gpus"] == [] and "cuda" not in c["hardware"], c
EOF

python3 - > "$T/suite.json" <<'EOF'
import json
print(json.dumps([{"name": "t%d" % i, "shell": "sleep 0.2; echo ran t%d" % i,
                   "constraints": ['worker.labels.launcher == "slurm"']} for i in range(6)]))
EOF
RUN=$(api POST /api/v1/tasks @"$T/suite.json" | jq_py 'd["run_id"]')
run_done() { [ "$(api GET "/api/v1/runs/$RUN/summary" | jq_py 'd["completed"]')" = 6 ]; }
wait_for -t 30 -m "the suite's 6 tasks to complete" run_done
api GET "/api/v1/tasks?run_id=$RUN" > "$T/tasks.json"
python3 - "$T/tasks.json" "$ARRAY" <<'EOF' || fail "the suite did not run on the Slurm workers: $(head -c 3000 "$T/tasks.json")"
import json, sys
d = json.load(open(sys.argv[1]))
ts = d["tasks"] if isinstance(d, dict) else d
array = sys.argv[2]
assert len(ts) == 6, len(ts)
ids = {"slurm-dtftest-%s_0" % array, "slurm-dtftest-%s_1" % array}
for t in ts:
    assert t["status"] == "completed", t
    assert t["result"]["worker_id"] in ids, t["result"]["worker_id"]
    assert t["result"]["stdout"].strip() == "ran " + t["name"], t["result"]
EOF

# --- 2. status, then stop-workers drains them ---
st=$(dtf slurm status --coordinator "$URL") || fail "dtf slurm status failed"
assert_contains "$st" "${ARRAY}_0" "dtf slurm status"
assert_contains "$st" "slurm-dtftest-${ARRAY}_1 idle" "dtf slurm status"
assert_eq "$(printf '%s\n' "$st" | grep -c RUNNING)" 2 "running elements in dtf slurm status"
# The tasks below run until the test releases them (the file exists), so that "still running
# while the worker drains" does not depend on timing.
release_task() { : > "$T/release-$1"; }
held_task() {
	# held_task NAME: a task document that waits for release_task NAME, then prints "finished".
	printf '{"name": "%s", "shell": "while [ ! -e %s ]; do sleep 0.05; done; echo finished", "constraints": ["worker.labels.launcher == \\"slurm\\""]}' \
		"$1" "$T/release-$1"
}
T1=$(submit "$(held_task being_drained)")
wait_for -t 20 -m "being_drained to run" task_status_is "$T1" running
dtf slurm stop-workers || fail "dtf slurm stop-workers failed"
wait_for -t 10 -m "the workers to drain" count_workers_in draining 2
assert_eq "$(task_field "$T1" 'd["status"]')" running "the running task while its worker drains"
[ -n "$(jobs_of dtf-worker)" ] || fail "the array ended while its worker still ran a task"
release_task being_drained
wait_for -t 20 -m "the drained array's jobs to end" no_jobs_of dtf-worker
assert_eq "$(task_field "$T1" 'd["status"]')" completed "the task the stopped worker ran"
assert_contains "$(task_field "$T1" 'd["result"]["stdout"]')" finished "the drained task's stdout"
assert_eq "$(task_field "$T1" 'd["attempt"]')" 1 "attempts of the drained task"
for i in 0 1; do
	scontrol show job "${ARRAY}_$i" > "$T/job.txt" 2>&1
	assert_contains "$(cat "$T/job.txt")" "JobState=COMPLETED" "element $i after stop-workers"
	assert_contains "$(cat "$T/job.txt")" "ExitCode=0:0" "element $i after stop-workers"
	grep -q draining "$T/dtf-worker-${ARRAY}_$i.log" || fail "element $i's log does not say it drained"
done

# --- 3. the warning before the time limit drains a worker running a task ---
TL=$(dtf slurm submit-workers --count 1 --coordinator "$URL" --time 1 --warning 50 \
	--job-name dtf-timelimit --log-dir "$T" 2>>"$T/submit.err") ||
	fail "submit-workers --time 1 failed: $(cat "$T/submit.err")"
tl_registered() { worker_registered "slurm-dtftest-${TL}_0"; }
wait_for -t 20 -m "the time-limited worker to register" tl_registered
T2=$(submit "$(held_task at_the_time_limit)")
wait_for -t 20 -m "at_the_time_limit to run" task_status_is "$T2" running
assert_eq "$(task_field "$T2" 'd["worker_id"]')" "slurm-dtftest-${TL}_0" "the worker running at_the_time_limit"
# What slurmctld does when the job is within 50 s of its limit (--signal=B:TERM@50).
scancel --batch --signal=TERM "${TL}_0" || fail "scancel --batch failed"
wait_for -t 10 -m "the time-limited worker to drain" grep -q draining "$T/dtf-timelimit-${TL}_0.log"
assert_eq "$(task_field "$T2" 'd["status"]')" running "the task when the warning came"
[ -n "$(jobs_of dtf-timelimit)" ] || fail "the time-limited job ended while its worker still ran a task"
release_task at_the_time_limit
wait_for -t 20 -m "the time-limited job to end" no_jobs_of dtf-timelimit
assert_eq "$(task_field "$T2" 'd["status"]')" completed "the task the warned worker ran"
assert_contains "$(task_field "$T2" 'd["result"]["stdout"]')" finished "its stdout"
assert_eq "$(task_field "$T2" 'd["attempt"]')" 1 "its attempts (not requeued)"
assert_eq "$(task_field "$T2" 'd["result"]["worker_id"]')" "slurm-dtftest-${TL}_0" "its worker"
scontrol show job "${TL}_0" > "$T/job.txt" 2>&1
assert_contains "$(cat "$T/job.txt")" "ExitCode=0:0" "the time-limited job"

# --- 4. autoscale: workers for waiting tasks, up to --max; idle ones leave ---
AUTO=(--coordinator "$URL" --job-name dtf-auto --max 2 --mem 100 --log-dir "$T")
python3 - > "$T/auto.json" <<'EOF2'
import json
print(json.dumps([{"name": "a%d" % i, "shell": "sleep 0.5; echo ran a%d" % i,
                   "constraints": ['worker.labels.slurm_job_name == "dtf-auto"']} for i in range(3)]))
EOF2
RUN2=$(api POST /api/v1/tasks @"$T/auto.json" | jq_py 'd["run_id"]')
out=$(dtf slurm autoscale "${AUTO[@]}" --once) || fail "autoscale --once failed: $out"
assert_contains "$out" "3 pending tasks" "autoscale's first look"
assert_contains "$out" "submitting 2 workers" "autoscale's first look (3 tasks, --max 2)"
assert_eq "$(jobs_of dtf-auto | wc -l)" 2 "elements after autoscale"
# Those two are the answer while they start: no more.
out=$(dtf slurm autoscale "${AUTO[@]}" --once) || fail "autoscale --once failed: $out"
case "$out" in *submitting*) fail "autoscale submitted again while its workers started: $out" ;; esac
run2_done() { [ "$(api GET "/api/v1/runs/$RUN2/summary" | jq_py 'd["completed"]')" = 3 ]; }
wait_for -t 30 -m "the autoscaled workers to run the 3 tasks" run2_done
auto_idle() { dtf slurm autoscale "${AUTO[@]}" --once | grep -q "2 idle"; }
wait_for -t 10 -m "the autoscaled workers to be idle" auto_idle
out=$(dtf slurm autoscale "${AUTO[@]}" --once --idle-timeout 0 --min 1) || fail "autoscale failed: $out"
assert_eq "$(printf '%s\n' "$out" | grep -c "stopping the idle worker")" 1 "workers stopped down to --min 1"
out=$(dtf slurm autoscale "${AUTO[@]}" --once --idle-timeout 0) || fail "autoscale failed: $out"
wait_for -t 20 -m "the idle autoscaled workers to leave" no_jobs_of dtf-auto

# --- 5. nothing left ---
for f in slurmd.pid slurmctld.pid munge/munged.pid; do
	PIDS+=("$(cat "$CLUSTER/$f")")
done
stop_cluster
for p in "${PIDS[@]}"; do
	pid_alive "$p" && fail "process $p of the cluster is still running after stop"
done
mapfile -t mine < <(our_processes)
left=""
for p in "${mine[@]}"; do
	[ "$p" = "$COORD_PID" ] && continue
	pid_alive "$p" && left+="$(ps -o pid=,args= -p "$p")"$'\n'
done
[ -z "$left" ] || fail "processes left after the cluster stopped: $left"
