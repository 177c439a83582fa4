#!/usr/bin/env bash
# A GPU worker on the fake NVML (tests/fixtures/fake_nvml.c: three GPUs, CUDA_VISIBLE_DEVICES
# offering two) next to a CPU-only worker (docs/gpu.md): `dtf worker --detect` shows the new
# fields; GPU tasks land only on the GPU worker; two 1-GPU tasks running at once get different
# GPUs in CUDA_VISIBLE_DEVICES (whatever the task's own env says) while a third waits with the
# reason; a gpu_memory larger than any GPU's free memory waits with the reason until a heartbeat
# reports more free memory; one larger than any GPU is never schedulable; GET /api/v1/workers and
# the dashboard show the GPUs' live state.
. "$(dirname "$0")/lib.sh"

: "${DTF_FAKE_NVML:?DTF_FAKE_NVML must point at the fake NVML library (tests/CMakeLists.txt)}"
UUID0=GPU-00000000-fake-0000-0000-000000000000
UUID2=GPU-22222222-fake-2222-2222-000000000000
mkdir -p bar
echo "free=1000,1000,1000" > nvml.state

gpu_env() {
	env DTF_NVML_LIBRARY="$DTF_FAKE_NVML" FAKE_NVML_GPUS=3 FAKE_NVML_STATE="$T/nvml.state" \
		FAKE_NVML_UTIL=5,6,7 CUDA_VISIBLE_DEVICES="$UUID0,2" "$@"
}

# Detection, as the GPU worker will see it: GPUs 0 and 2 of three, with every field.
gpu_env "$DTF_BIN" worker --detect > detect.json || fail "dtf worker --detect"
assert_eq "$(jq_py '[g["index"] for g in d["gpus"]]' detect.json)" "[0, 2]" "GPUs offered"
assert_eq "$(jq_py 'd["gpus"][1]["uuid"]' detect.json)" "$UUID2" "uuid of the second"
assert_eq "$(jq_py '[d["gpus"][0][k] for k in ("compute_capability", "driver", "cuda_driver", "memory", "memory_free", "temperature_c", "power_w", "mig")]' detect.json)" \
	'["9.0", "550.54.15", "12.4", 81559, 1000, 35, 72.5, "disabled"]' "GPU 0's fields"
assert_eq "$(jq_py 'd["gpus"][1]["utilization"]' detect.json)" '{"gpu": 7, "memory": 3}' "utilization"
assert_eq "$(jq_py 'd["gpu_memory"]' detect.json)" 163118 "gpu_memory"
assert_contains "$(jq_py 'd["hardware"]' detect.json)" cuda "hardware"

start_coordinator
export DTF_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1
start_worker cpu --slots 2
DTF_NVML_LIBRARY="$DTF_FAKE_NVML" FAKE_NVML_GPUS=3 FAKE_NVML_STATE="$T/nvml.state" \
	FAKE_NVML_UTIL=5,6,7 CUDA_VISIBLE_DEVICES="$UUID0,2" start_worker gpu --slots 4
wait_worker cpu
wait_worker gpu

api GET /api/v1/workers > workers.json
assert_eq "$(jq_py '{w["id"]: [g["index"] for g in w["capabilities"]["gpus"]] for w in d["workers"]}' workers.json)" \
	'{"cpu": [], "gpu": [0, 2]}' "GPUs by worker"

# Two 1-GPU tasks that wait for each other (both hold a GPU at once) and print what they were
# given; one asks for GPU 7 in its own env, which dtf overrides. A third waits for a GPU.
task() { # task NAME [ENV_JSON]
	local envj=${2:-'{}'}
	printf '{"name": "%s", "hardware": "cuda", "env": %s, "timeout_s": 60, "shell": %s}' "$1" "$envj" \
		"$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' \
		'echo "CVD=$CUDA_VISIBLE_DEVICES GPUS=$DTF_GPUS ORDER=$CUDA_DEVICE_ORDER"; touch "'"$T"'/bar/$DTF_TASK_ID"; i=0; while [ ! -e "'"$T"'/bar/release" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done')"
}
A=$(submit "$(task a '{"CUDA_VISIBLE_DEVICES": "7"}')")
B=$(submit "$(task b)")
both_running() { [ -e "bar/$A" ] && [ -e "bar/$B" ]; }
wait_for -t 30 -m "the two GPU tasks to run at once" both_running
C=$(submit "$(task c)")
reason_gpus_busy() { task_field "$C" 'd.get("pending_reason", "")' | grep -q "every GPU is given to another task"; }
wait_for -t 10 -m "the third GPU task's reason" reason_gpus_busy
assert_eq "$(task_field "$C" 'd["status"]')" pending "status of the third GPU task"
# The worker's GPUs show who holds them.
api GET /api/v1/workers/gpu > gpu.json
assert_eq "$(jq_py 'sorted(g.get("task_id", "") for g in d["capabilities"]["gpus"])' gpu.json)" \
	"$(python3 -c 'import json,sys; print(json.dumps(sorted(sys.argv[1:])))' "$A" "$B")" "holders"
touch bar/release
for id in "$A" "$B" "$C"; do
	wait_for -t 30 -m "task $id to complete" task_status_is "$id" completed
done
gpus_of() { task_field "$1" 'd["result"]["stdout"].strip()'; }
ga=$(gpus_of "$A"); gb=$(gpus_of "$B")
log "a: $ga; b: $gb"
python3 - "$ga" "$gb" "$UUID0" "$UUID2" <<'EOF' || fail "GPUs given: a '$ga', b '$gb'"
import sys
a, b, u0, u2 = sys.argv[1:]
given = sorted([a, b])
assert given == sorted([f"CVD={u0} GPUS=0 ORDER=PCI_BUS_ID", f"CVD={u2} GPUS=2 ORDER=PCI_BUS_ID"]), given
EOF
for id in "$A" "$B" "$C"; do
	assert_eq "$(task_field "$id" 'd["worker_id"]')" gpu "worker of $id"
	assert_eq "$(task_field "$id" 'len(d["assigned_gpus"])')" 1 "GPUs given to $id"
done

# gpu_memory against the free memory heartbeats report (1000 MiB on each GPU now).
BIG=$(submit '{"name": "big", "hardware": "cuda", "requirements": {"gpu_memory": 5000}, "shell": "echo GPUS=$DTF_GPUS"}')
reason_free() { task_field "$BIG" 'd.get("pending_reason", "")' | grep -q "it needs gpu_memory 5000 MiB free on one GPU, the most any free GPU has is 1000 MiB"; }
wait_for -t 10 -m "big's reason" reason_free
assert_eq "$(task_field "$BIG" 'd["schedulable"]')" true "big is schedulable"
echo "free=1000,1000,70000" > nvml.state
wait_for -t 20 -m "big to complete once GPU 2 has room" task_status_is "$BIG" completed
assert_eq "$(task_field "$BIG" 'd["result"]["stdout"].strip()')" "GPUS=2" "the GPU big got"
api GET /api/v1/workers/gpu > gpu.json
assert_eq "$(jq_py '[g["memory_free"] for g in d["capabilities"]["gpus"]]' gpu.json)" "[1000, 70000]" "free memory shown"
assert_eq "$(jq_py 'd["available_gpu_memory"]' gpu.json)" 71000.0 "available_gpu_memory"

# Larger than any GPU: never, and said so.
HUGE=$(submit '{"name": "huge", "hardware": "cuda", "requirements": {"gpu_memory": 100000}, "shell": "true"}')
assert_eq "$(task_field "$HUGE" 'd["schedulable"]')" false "huge is schedulable"
assert_contains "$(task_field "$HUGE" 'd["pending_reason"]')" \
	"it needs gpu_memory 100000 MiB on one GPU, the largest GPU of any worker has 81559 MiB" "huge's reason"
out=$(dtf client --coordinator "$URL" status --task "$HUGE") || fail "dtf client status --task: $out"
assert_contains "$out" "largest GPU of any worker has 81559 MiB" "dtf client status --task"

# requirements.gpus is checked at submission.
code=$(http POST /api/v1/tasks '{"shell": "true", "requirements": {"gpus": 1.5}}')
assert_eq "$code" 400 "status of requirements.gpus 1.5"
assert_contains "$(body)" "requirements.gpus" "error"

# The dashboard's workers table shows each GPU's state.
page=$(curl -s --max-time 10 "$URL/")
assert_contains "$page" "Fake GPU H100 (81559 MiB, 70000 free, 7%)" "dashboard GPU cell"
exit 0
