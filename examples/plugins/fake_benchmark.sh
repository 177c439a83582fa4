#!/bin/sh
# fake_benchmark.sh MODEL BATCH_SIZE: a stand-in for a real benchmark, for the benchmark plugin's
# example and test. It logs a little, then prints its metrics as one JSON object on the last line,
# which is what the plugin collects. Throughput grows with the batch size; so does latency.
set -eu
model=${1:?usage: fake_benchmark.sh MODEL BATCH_SIZE}
batch=${2:?usage: fake_benchmark.sh MODEL BATCH_SIZE}
case "$batch" in
''|*[!0-9]*) echo "batch size must be a positive integer" >&2; exit 2 ;;
esac
echo "benchmarking $model with batch size $batch"
echo "warming up" >&2
throughput=$((batch * 100))
latency=$((10 + batch))
printf '{"model": "%s", "batch_size": %d, "throughput_items_per_s": %d, "latency_ms": %d}\n' \
	"$model" "$batch" "$throughput" "$latency"
