#!/usr/bin/env bash
# The CUDA benchmark example end to end (docs/gpu.md): examples/cuda/tasks.json (its sizes made
# small) submitted to a coordinator with a CPU-only worker and a GPU worker on the fake NVML and
# the fake CUDA driver (tests/fixtures/fake_cuda.c, which computes on the CPU). The benchmark runs
# only on the GPU worker, with CUDA_VISIBLE_DEVICES naming its GPU; its metrics reach the task
# and the JSON, JUnit and HTML reports, its JUnit report's cases the task; without a device it
# skips (exit 77, or a skipped JUnit case through dtf); a wrong product fails it; a task that
# needs more gpu_memory than the GPU has waits, never schedulable, with the reason.
# dtf-cuda-bench is built only where nvcc works: without it this test exits 77 (skipped).
. "$(dirname "$0")/lib.sh"

: "${DTF_FAKE_NVML:?DTF_FAKE_NVML must point at the fake NVML library (tests/CMakeLists.txt)}"
: "${DTF_FAKE_CUDA:?DTF_FAKE_CUDA must point at the fake CUDA library (tests/CMakeLists.txt)}"
if [ -z "${DTF_CUDA_BENCH:-}" ] || [ ! -x "$DTF_CUDA_BENCH" ]; then
	echo "SKIP: dtf-cuda-bench was not built (no working nvcc)"
	exit 77
fi
BENCH_DIR=$(dirname "$DTF_CUDA_BENCH")
small=(--sizes 128,256 --copy-mib 4 --min-time 0)

# The program alone: no driver, no device, a wrong result.
DTF_CUDA_LIBRARY=/nonexistent/libcuda.so.1 "$DTF_CUDA_BENCH" "${small[@]}" > skip.out 2>&1
assert_eq "$?" 77 "exit status without a driver"
assert_contains "$(cat skip.out)" "no CUDA device: the CUDA driver library cannot be loaded" "message"
DTF_CUDA_LIBRARY="$DTF_FAKE_CUDA" FAKE_CUDA_DEVICES=0 "$DTF_CUDA_BENCH" "${small[@]}" \
	--junit skip.xml > skip.out 2>&1 || fail "with --junit, a skip exits 0: $(cat skip.out)"
assert_contains "$(cat skip.xml)" '<skipped message="no CUDA device: cuInit' "skip.xml"
DTF_CUDA_LIBRARY="$DTF_FAKE_CUDA" FAKE_CUDA_CORRUPT=1 "$DTF_CUDA_BENCH" "${small[@]}" > bad.out 2>&1
assert_eq "$?" 1 "exit status of a wrong product"
assert_contains "$(cat bad.out)" "sgemm_tiled n=128: wrong result: C[127][127]" "the check's message"

start_coordinator
export DTF_COORDINATOR="$URL"
DTF_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1 start_worker cpu --slots 2
DTF_NVML_LIBRARY="$DTF_FAKE_NVML" FAKE_NVML_GPUS=1 DTF_CUDA_LIBRARY="$DTF_FAKE_CUDA" \
	PATH="$BENCH_DIR:$PATH" start_worker gpu --slots 2
wait_worker cpu
wait_worker gpu

# The example's task file, sizes made small for a CPU; and the same task on a machine whose
# driver sees no device (skipped, through its JUnit report).
python3 - "$DTF_SOURCE_DIR/examples/cuda/tasks.json" > tasks.json <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
t = doc["tasks"][0]
assert t["type"] == "benchmark" and t["hardware"] == "cuda", t
cmd = t["command"]
cmd[cmd.index("--sizes") + 1] = "128,256"
cmd[cmd.index("--copy-mib") + 1] = "4"
cmd += ["--min-time", "0"]
t["batch_sizes"] = [128, 256]
skipped = dict(t, name="cuda-no-device", env={"FAKE_CUDA_DEVICES": "0"})
doc["tasks"].append(skipped)
print(json.dumps(doc))
EOF
out=$(dtf client submit-task --file tasks.json 2>&1) || fail "submit-task: $out"
RUN=$(cat .dtf/last-run)
dtf client wait-completion --timeout $((60 * SCALE)) > wait.out 2>&1 || fail "wait-completion: $(cat wait.out)"
api GET "/api/v1/tasks?run_id=$RUN" > tasks.out
python3 - tasks.out <<'EOF' || fail "the benchmark tasks: $(cat tasks.out)"
import json, sys
ts = {t["name"]: t for t in json.load(open(sys.argv[1]))["tasks"]}
t = ts["cuda-sgemm-and-copy"]
assert t["status"] == "completed" and t["worker_id"] == "gpu", (t["status"], t.get("worker_id"), t.get("error"))
assert t["params"]["batch_sizes"] == [128, 256], t["params"]
m = t["result"]["metrics"]
for k in ("sgemm_tiled_128_gflops", "sgemm_blocked_128_gflops", "sgemm_tiled_256_gflops",
          "sgemm_blocked_256_gflops", "sgemm_best_gflops", "memcpy_dtod_gbps", "copy_kernel_gbps"):
    assert isinstance(m.get(k), (int, float)) and m[k] > 0, (k, m)
assert m["ok"] is True and m["compute_capability"] == "9.0", m
cases = {c["name"]: c["status"] for c in t["result"]["testcases"]}
assert cases == {"sgemm_tiled n=128": "passed", "sgemm_blocked n=128": "passed",
                 "sgemm_tiled n=256": "passed", "sgemm_blocked n=256": "passed",
                 "memcpy_dtod": "passed", "copy_f4": "passed"}, cases
# The fake driver names the device after CUDA_VISIBLE_DEVICES: the worker's one GPU's UUID.
assert "device 0: Fake CUDA GPU-00000000-fake-0000-0000-000000000000" in t["result"]["stdout"], t["result"]["stdout"]
s = ts["cuda-no-device"]
assert s["status"] == "completed" and s["worker_id"] == "gpu", (s["status"], s.get("error"))
assert [c["status"] for c in s["result"]["testcases"]] == ["skipped"], s["result"]["testcases"]
assert "no CUDA device" in s["result"]["testcases"][0].get("message", ""), s["result"]["testcases"]
EOF

# The reports carry the metrics.
dtf client export-results --format json --output report.json > /dev/null || fail "export json"
assert_eq "$(jq_py '[t for t in d["tasks"] if t["name"] == "cuda-sgemm-and-copy"][0]["result"]["metrics"]["memcpy_dtod_gbps"] > 0' report.json)" \
	true "memcpy_dtod_gbps in report.json"
dtf client export-results --format junit --output report.xml > /dev/null || fail "export junit"
assert_contains "$(cat report.xml)" 'name="dtf.metric.cuda-sgemm-and-copy.sgemm_best_gflops"' "report.xml"
assert_contains "$(cat report.xml)" 'sgemm_blocked n=256' "report.xml"
dtf client export-results --format html --output report.html > /dev/null || fail "export html"
assert_contains "$(cat report.html)" "Sgemm Best Gflops" "report.html"
assert_contains "$(cat report.html)" "Memcpy Dtod Gbps" "report.html"

# More GPU memory than the fake GPU has (81559 MiB): pending for good, with the reason.
OVER=$(submit '{"name": "too-big", "type": "benchmark", "hardware": "cuda", "requirements": {"gpu_memory": 200000}, "command": ["dtf-cuda-bench"]}')
assert_eq "$(task_field "$OVER" 'd["status"]')" pending "status of too-big"
assert_eq "$(task_field "$OVER" 'd["schedulable"]')" false "too-big is schedulable"
assert_contains "$(task_field "$OVER" 'd["pending_reason"]')" \
	"no registered worker can run it: it needs gpu_memory 200000 MiB on one GPU, the largest GPU of any worker has 81559 MiB" \
	"too-big's reason"
exit 0
