#!/bin/sh
# device-pack.sh [BUILD_DIR]: collects what scripts/device-gpu-check.sh needs on a GPU machine
# that has no package registry (docs/gpu.md, DEVELOPERS.md) into device/ at the repository root
# (ignored by git): the dtf binary and dtf-cuda-bench (debug info stripped), the example's task
# file, and every shared library `ldd` lists for the two programs in device/lib.tar.gz (about
# 22 MiB: ICU's data is most of it), except the C library's own (libc, libm, libdl, libpthread,
# librt, ld-linux), which must come from the machine. Run the check there with
#     sh scripts/device-gpu-check.sh device
# which unpacks the libraries and sets LD_LIBRARY_PATH itself. The CUDA driver (libcuda.so.1)
# and NVML (libnvidia-ml.so.1) are never packed: they belong to the machine's driver, and dtf
# and dtf-cuda-bench load both with dlopen.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
out=$root/device
for f in "$build/dtf" "$build/dtf-cuda-bench"; do
	[ -x "$f" ] || { echo "device-pack: $f is missing: build first (nvcc is needed for dtf-cuda-bench)" >&2; exit 1; }
done
rm -rf "$out"
mkdir -p "$out/lib"
for f in dtf dtf-cuda-bench; do
	strip --strip-debug -o "$out/$f" "$build/$f" 2>/dev/null || cp "$build/$f" "$out/$f"
done
cp "$root/examples/cuda/tasks.json" "$out/"
# Only what the machine's glibc provides is left behind: a newer glibc is compatible, an older
# one would refuse our binaries anyway (Ubuntu 24.04 has glibc 2.39, Debian 12 2.36).
ldd "$build/dtf" "$build/dtf-cuda-bench" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u |
	while read -r lib; do
		case "$(basename "$lib")" in
		libc.so.* | libm.so.* | libdl.so.* | libpthread.so.* | librt.so.* | ld-linux* | \
			libcuda.so* | libnvidia-ml.so*) ;;
		*) cp -L "$lib" "$out/lib/" ;;
		esac
	done
tar czf "$out/lib.tar.gz" -C "$out" lib
rm -rf "$out/lib"
printf 'device-pack: %s: %s libraries, %s\n' "$out" "$(tar tzf "$out/lib.tar.gz" | grep -c '\.so')" "$(du -sh "$out" | cut -f1)"
