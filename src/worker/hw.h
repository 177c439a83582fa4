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
 *              "compute_capability": "9.0", "driver": "550.54.15", "cuda_driver": "12.4",
 *              "uuid": "GPU-…", "memory_free": 81000, "utilization": {"gpu": 0, "memory": 0},
 *              "temperature_c": 31, "power_w": 72.5, "mig": "disabled"}],
 *                                           (cuda_driver, memory_free, utilization,
 *                                            temperature_c, power_w and mig only when NVML
 *                                            gives them; index is NVML's, in PCI bus order;
 *                                            only the GPUs CUDA_VISIBLE_DEVICES lets through)
 *    "hardware": ["cpu", "cuda"],           ("cuda" only when NVML found a GPU)
 *    "os": "linux", "arch": "x86_64", "hostname": "…"}
 * The caller owns the reference. Never NULL except on allocation failure. */
json_t *dtf_hw_detect(void);

/* Detects NVIDIA GPUs only; returns a new array (empty without NVML or GPUs) and writes the
 * driver version (or "") to driver. Exposed for tests and `dtf worker --detect`. */
json_t *dtf_hw_nvidia_gpus(char *driver, size_t driver_len);

/* The most GPUs one worker reports. */
#define DTF_HW_MAX_GPUS 64

/* Keeps the GPUs of gpus (an array of GPU objects as above) that visible, the value of
 * CUDA_VISIBLE_DEVICES, lets through, in its order: NVML indices or UUIDs (or unique UUID
 * prefixes), comma-separated; the list ends at the first entry that names no GPU, as in CUDA, so
 * "" or "-1" leaves none. visible NULL keeps them all. Takes gpus' reference and returns a new
 * one (gpus itself when visible is NULL). */
json_t *dtf_hw_visible_gpus(json_t *gpus, const char *visible);

/* The live readings of the GPUs in gpus (as detected): a new array of {"index", "memory_free",
 * "utilization": {"gpu", "memory"}}, the latter two when NVML gives them; NULL without GPUs or
 * NVML. NVML stays loaded between calls. Safe to call from any thread. */
json_t *dtf_hw_gpu_live(const json_t *gpus);
#endif
