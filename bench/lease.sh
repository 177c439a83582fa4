#!/bin/sh
# lease.sh: the time of one lease decision with 1,000 workers and 1k, 10k and 100k pending tasks,
# for every strategy (bench/lease_bench.c: the coordinator's state without HTTP or store; four
# hardware classes, eight users, ten priorities, one to four cores per task). The time should not
# grow with the queue: the pending index looks at one task per signature and lane, not at every
# pending task. Usage: bench/lease.sh [WORKERS [ITERATIONS]]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${DTF_BUILD_DIR:-$ROOT/build}
if [ ! -x "$BUILD/lease_bench" ]; then
	cmake --build "$BUILD" --target lease_bench -j2 >/dev/null || {
		echo "build first: cmake -S . -B build && cmake --build build" >&2
		exit 2
	}
fi
"$BUILD/lease_bench" "${1:-1000}" "${2:-2000}"
