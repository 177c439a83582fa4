#!/usr/bin/env bash
# device-gpu-check.sh [DIR]: checks dtf's GPU path on a real NVIDIA machine (docs/gpu.md,
# DEVELOPERS.md). DIR (default device/) is what scripts/device-pack.sh made: dtf,
# dtf-cuda-bench, tasks.json and lib.tar.gz; nothing is installed and no network is used, so it
# runs on a bare Ubuntu 24.04 GPU machine with only the NVIDIA driver. It prints:
#   1. nvidia-smi -L (when present) and `dtf worker --detect` verbatim;
#   2. dtf-cuda-bench run alone (its measurements and metrics line);
#   3. a coordinator, a CPU-only worker and a GPU worker; examples/cuda/tasks.json submitted as a
#      run: where the benchmark ran, its output, the JUnit and Markdown reports' metric lines;
#   4. a task needing more gpu_memory than any GPU has: its pending reason;
#   5. GET /api/v1/workers/gpu (the live GPU fields from heartbeats).
# Every step is bounded; the whole takes about a minute and at most about three. Exit status 0
# when the benchmark task passed and the oversized task waits with its reason, else 1.
# A dry run on a machine without a GPU: DTF_CHECK_NVML and DTF_CHECK_CUDA name the fake NVML and
# CUDA libraries of the build (build/tests/libfake_nvml.so, build/tests/libfake_cuda.so), and
# DTF_CHECK_SIZES (e.g. 128,256) replaces the matrix sizes, which the fake driver multiplies on
# the CPU.
set -u
DIR=$(cd "${1:-device}" && pwd) || { echo "device-gpu-check: no directory ${1:-device}" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/dtf-gpu-check.XXXXXX") || exit 1
PIDS=()
STATUS=0
START=$(date +%s)

cleanup() {
	local p i
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		for i in $(seq 30); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT

section() { printf '\n===== %s (+%ss) =====\n' "$*" "$(($(date +%s) - START))"; }
bad() {
	echo "CHECK FAILED: $*"
	STATUS=1
}

if [ -f "$DIR/lib.tar.gz" ]; then
	tar xzf "$DIR/lib.tar.gz" -C "$T" || { echo "cannot unpack $DIR/lib.tar.gz" >&2; exit 1; }
	export LD_LIBRARY_PATH="$T/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
DTF="$DIR/dtf"
BENCH="$DIR/dtf-cuda-bench"
export PATH="$DIR:$PATH"
unset DTF_NVML_LIBRARY DTF_CUDA_LIBRARY DTF_API_KEY DTF_COORDINATOR
[ -n "${DTF_CHECK_NVML:-}" ] && export DTF_NVML_LIBRARY="$DTF_CHECK_NVML"
[ -n "${DTF_CHECK_CUDA:-}" ] && export DTF_CUDA_LIBRARY="$DTF_CHECK_CUDA"
SIZES=${DTF_CHECK_SIZES:-1024,2048,4096,8192}
sed 's/"--sizes", "[0-9,]*"/"--sizes", "'"$SIZES"'"/' "$DIR/tasks.json" > "$T/tasks.json"

section "machine"
uname -a
grep -m1 PRETTY_NAME /etc/os-release 2>/dev/null
echo "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-<unset>}"
command -v nvidia-smi > /dev/null && timeout 20 nvidia-smi -L
"$DTF" --version 2>/dev/null || true
missing=$(ldd "$DTF" "$BENCH" 2>&1 | grep 'not found')
[ -z "$missing" ] || { echo "$missing"; bad "libraries missing (LD_LIBRARY_PATH=$LD_LIBRARY_PATH)"; exit 1; }

section "dtf worker --detect"
timeout 30 "$DTF" worker --detect | tee "$T/detect.json"
grep -q '"cuda"' "$T/detect.json" || bad "detection found no GPU (no \"cuda\" hardware)"

section "dtf-cuda-bench alone"
(cd "$T" && timeout 45 "$BENCH" --sizes "$SIZES" --junit alone.xml)
echo "exit status $?"
cat "$T/alone.xml" 2>/dev/null

section "coordinator, a CPU-only worker and a GPU worker"
mkdir -p "$T/run" && cd "$T/run" || exit 1
"$DTF" coordinator --port 0 --port-file "$T/port" --db-path "$T/run/dtf.db" \
	--heartbeat-interval 1 > "$T/coordinator.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
	[ -s "$T/port" ] && break
	sleep 0.1
done
URL="http://127.0.0.1:$(head -n1 "$T/port")"
export DTF_COORDINATOR="$URL"
echo "coordinator at $URL"
DTF_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1 "$DTF" worker --coordinator "$URL" \
	--worker-id cpu --slots 2 --work-dir "$T/work-cpu" > "$T/worker-cpu.log" 2>&1 &
PIDS+=($!)
"$DTF" worker --coordinator "$URL" --worker-id gpu --slots 2 --work-dir "$T/work-gpu" \
	> "$T/worker-gpu.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
	[ "$("$DTF" client workers 2>/dev/null | grep -cE '^(cpu|gpu) ')" = 2 ] && break
	sleep 0.1
done
"$DTF" client workers

section "the benchmark task (examples/cuda/tasks.json)"
"$DTF" client submit-task --file "$T/tasks.json"
RUN=$(cat .dtf/last-run)
timeout 100 "$DTF" client wait-completion --run "$RUN" --timeout 90 --quiet
echo "wait-completion: exit status $?"
"$DTF" client status --run "$RUN"
"$DTF" client export-results --run "$RUN" --format json --output "$T/report.json" > /dev/null
"$DTF" client export-results --run "$RUN" --format junit --output "$T/report.xml" > /dev/null
"$DTF" client export-results --run "$RUN" --format markdown --output "$T/report.md" > /dev/null
echo "--- the task: worker, GPUs given, outcome, output, metrics ---"
if command -v python3 > /dev/null; then
	python3 - "$T/report.json" <<'EOF'
import json, sys
for t in json.load(open(sys.argv[1]))["tasks"]:
    r = t.get("result", {})
    print(f'{t["name"]}: {t["status"]} on {t.get("worker_id")}, assigned_gpus {t.get("assigned_gpus")}, '
          f'exit {r.get("exit_code")}, {r.get("duration_s", 0):.1f} s')
    print(r.get("stdout", "")[-6000:])
    print(r.get("stderr", "")[-3000:])
    print("metrics:", json.dumps(r.get("metrics"), indent=1))
EOF
else
	tr -d '\n' < "$T/report.json" |
		grep -oE '"(worker_id|assigned_gpus|status|exit_code|stdout|metrics)": *(\[[^]]*\]|"([^"\\]|\\.)*"|\{[^}]*\}|[0-9]+)'
fi
echo "--- JUnit report: metric properties and test cases ---"
grep -E 'dtf\.metric|<testcase|<failure|<skipped' "$T/report.xml"
echo "--- Markdown report: metrics ---"
sed -n '/Performance Metrics/,/^## [^P]/p' "$T/report.md" | head -n 40
grep -q '"worker_id": *"gpu"' "$T/report.json" || bad "the benchmark did not run on the GPU worker"
grep -q '"status": *"completed"' "$T/report.json" || bad "the benchmark task did not complete"
grep -q 'dtf\.metric\.cuda-sgemm-and-copy\.sgemm_best_gflops' "$T/report.xml" ||
	bad "no sgemm_best_gflops metric in the JUnit report"

section "a task needing more gpu_memory than any GPU has"
printf '[{"name": "too-big", "type": "benchmark", "hardware": "cuda", "requirements": {"gpu_memory": 10000000}, "command": ["dtf-cuda-bench"]}]\n' > big.json
"$DTF" client submit-task --file big.json
BIG_RUN=$(cat .dtf/last-run)
sleep 2
"$DTF" client status --run "$BIG_RUN" | tee "$T/big.txt"
grep -q "largest GPU of any worker" "$T/big.txt" || bad "the oversized task's reason is not the GPU's size"

section "GET /api/v1/workers/gpu"
if command -v curl > /dev/null; then
	curl -s --max-time 10 "$URL/api/v1/workers/gpu"
	echo
elif command -v python3 > /dev/null; then
	python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' \
		"$URL/api/v1/workers/gpu"
else
	"$DTF" client workers
fi

section "logs (last lines)"
tail -n 5 "$T/coordinator.log" "$T/worker-gpu.log" "$T/worker-cpu.log"
section "done: $([ "$STATUS" = 0 ] && echo PASS || echo FAIL)"
exit "$STATUS"
