/* hw.h: hardware detection for workers: CPU cores, model and flags, memory, NVIDIA GPUs (through
 * NVML loaded with dlopen at run time, so no GPU or driver simply means none), and the hardware
 * classes the worker offers. */
#ifndef DTF_WORKER_HW_H
#define DTF_WORKER_HW_H

#include <jansson.h>

/* Returns a new capabilities object:
 *   {"cpu": {"cores": 8, "model": "…", "flags": ["avx2", …]},
 *    "memory": 16384,                       (MiB of physical memory)
 *    "gpu_memory": 81559,                   (MiB, sum over GPUs; 0 without GPUs)
 *    "gpus": [{"index": 0, "name": "NVIDIA H100 80GB HBM3", "memory": 81559,
 *              "compute_capability": "9.0", "driver": "550.54.15", "uuid": "GPU-…"}],
 *    "hardware": ["cpu", "cuda"],           ("cuda" only when NVML found a GPU)
 *    "os": "linux", "arch": "x86_64", "hostname": "…"}
 * The caller owns the reference. Never NULL except on allocation failure. */
json_t *dtf_hw_detect(void);

/* Detects NVIDIA GPUs only; returns a new array (empty without NVML or GPUs) and writes the
 * driver version (or "") to driver. Exposed for tests and `dtf worker --detect`. */
json_t *dtf_hw_nvidia_gpus(char *driver, size_t driver_len);

#endif
