#!/bin/sh
# dtf: hardware=cuda type=benchmark timeout=120 gpu_memory=1024
# Needs an NVIDIA GPU: dtf places it only on a worker that offers cuda (and skips it when none
# does), and gives it a GPU of its own in CUDA_VISIBLE_DEVICES. There it runs the CUDA benchmark
# of examples/cuda (FP32 matrix multiplication and copy bandwidth, each checked against the CPU;
# docs/gpu.md) at small sizes; its last line is the task's metrics. Without dtf-cuda-bench (not
# built: no nvcc) it checks that the driver answers instead.
here=$(cd "$(dirname "$0")" && pwd)
bench=${DTF_CUDA_BENCH:-}
if [ -z "$bench" ]; then
	bench=$(command -v dtf-cuda-bench 2>/dev/null)
fi
if [ -z "$bench" ] && [ -x "$here/../../../build/dtf-cuda-bench" ]; then
	bench=$here/../../../build/dtf-cuda-bench
fi
echo "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-<unset>} DTF_GPUS=${DTF_GPUS-}"
if [ -n "$bench" ]; then
	exec "$bench" --sizes 1024,2048 --copy-mib 64 --min-time 0.1
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
