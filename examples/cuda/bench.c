/* bench.c: dtf-cuda-bench, a CUDA benchmark that a dtf `benchmark` task runs on a GPU worker.
 *
 *   dtf-cuda-bench [--sizes 1024,2048,4096,8192] [--copy-mib 256] [--min-time 0.3]
 *                  [--samples 256] [--junit FILE]
 *
 * It measures FP32 matrix multiplication (two kernels: the textbook 32 x 32 shared-memory tiles,
 * and 128 x 128 tiles with 8 x 8 register blocking) at each size, and device-to-device copy
 * bandwidth (cuMemcpyDtoD and a copy kernel). Each result is checked against the CPU: a sample
 * of C's elements against a double-precision dot product, the copy in full. The last line of
 * stdout is one flat JSON object, dtf's benchmark metrics (docs/tasks.md):
 * sgemm_<kernel>_<n>_gflops, sgemm_best_gflops, memcpy_dtod_gbps and copy_kernel_gbps (GB/s count
 * bytes read plus bytes written, as NVIDIA's bandwidthTest does). With --junit it also writes a
 * JUnit report, one test case per measurement. DTF_BENCH_BATCH_SIZE (set by the benchmark plugin
 * for each of a task's batch_sizes) is the size when --sizes is not given.
 *
 * The CUDA driver is loaded with dlopen("libcuda.so.1") (DTF_CUDA_LIBRARY overrides the path)
 * and the kernels come from a fat binary nvcc built from kernels.cu, embedded here
 * (kernels_fatbin.inc): the program has no link-time CUDA dependency, and the same binary runs
 * on a machine without CUDA, where it says "no CUDA device" and skips: exit status 77, or, with
 * --junit, exit 0 with a report whose one test case is skipped (dtf's marker for a skipped test).
 * Exit status 1 when a result is wrong or CUDA fails after it started, 2 for bad arguments. */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels_fatbin.inc" /* const unsigned char dtf_cuda_kernels[]; (generated) */

#define SKIP_STATUS 77
#define MAX_SIZES   16
#define MAX_N	    32768

/* The driver API's types and the few constants used (cuda.h's values), so that the build needs
 * no CUDA headers. */
typedef int CUresult;
typedef int CUdevice;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef unsigned long long CUdeviceptr;
#define CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT     16
#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR 75
#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR 76

struct cuda {
	void *lib;
	CUresult (*init)(unsigned int flags);
	CUresult (*driver_version)(int *version);
	CUresult (*device_count)(int *count);
	CUresult (*device_get)(CUdevice *dev, int ordinal);
	CUresult (*device_name)(char *name, int len, CUdevice dev);
	CUresult (*device_attr)(int *value, int attr, CUdevice dev);
	CUresult (*device_mem)(size_t *bytes, CUdevice dev);
	CUresult (*ctx_retain)(CUcontext *ctx, CUdevice dev);
	CUresult (*ctx_release)(CUdevice dev);
	CUresult (*ctx_set)(CUcontext ctx);
	CUresult (*ctx_sync)(void);
	CUresult (*module_load)(CUmodule *mod, const void *image);
	CUresult (*module_unload)(CUmodule mod);
	CUresult (*module_function)(CUfunction *f, CUmodule mod, const char *name);
	CUresult (*mem_alloc)(CUdeviceptr *p, size_t bytes);
	CUresult (*mem_free)(CUdeviceptr p);
	CUresult (*htod)(CUdeviceptr dst, const void *src, size_t bytes);
	CUresult (*dtoh)(void *dst, CUdeviceptr src, size_t bytes);
	CUresult (*dtod)(CUdeviceptr dst, CUdeviceptr src, size_t bytes);
	CUresult (*launch)(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
			   unsigned int bx, unsigned int by, unsigned int bz, unsigned int shmem,
			   CUstream stream, void **params, void **extra);
	CUresult (*error_string)(CUresult err, const char **text); /* optional */
};

struct options {
	int sizes[MAX_SIZES];
	int nsizes;
	double copy_mib, min_time, samples;
	const char *junit;
};

/* One measurement, for the JUnit report. */
struct record {
	char name[64];
	double seconds;
	char failure[256]; /* "" when it passed */
};

static struct record records[2 * MAX_SIZES + 2];
static int nrecords;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *cu_error(const struct cuda *cu, CUresult r)
{
	const char *s = NULL;

	if (cu->error_string && cu->error_string(r, &s) == 0 && s)
		return s;
	return "CUDA error";
}

/* Reports a failed call (with its code and the driver's text) and returns true when r is one. */
static bool failed(const struct cuda *cu, CUresult r, const char *what)
{
	if (r == 0)
		return false;
	fprintf(stderr, "dtf-cuda-bench: %s: %s (CUresult %d)\n", what, cu_error(cu, r), r);
	return true;
}

static void *sym(void *lib, const char *name, const char *fallback)
{
	void *p = dlsym(lib, name);

	return p || !fallback ? p : dlsym(lib, fallback);
}

/* dlsym() gives a void *, which POSIX guarantees converts to the function it names. */
#define LOAD(cu, field, name, fallback)                                                            \
	do {                                                                                       \
		void *p_ = sym((cu)->lib, name, fallback);                                         \
		memcpy(&(cu)->field, &p_, sizeof(p_));                                             \
		if (!p_ && strcmp(name, "cuGetErrorString") != 0)                                  \
			missing = name;                                                            \
	} while (0)

/* Loads the driver; on failure writes why into why. */
static bool cuda_load(struct cuda *cu, char *why, size_t len)
{
	const char *path = getenv("DTF_CUDA_LIBRARY"), *missing = NULL;

	memset(cu, 0, sizeof(*cu));
	cu->lib = dlopen(path && *path ? path : "libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!cu->lib) {
		snprintf(why, len, "the CUDA driver library cannot be loaded (%s)", dlerror());
		return false;
	}
	LOAD(cu, init, "cuInit", NULL);
	LOAD(cu, driver_version, "cuDriverGetVersion", NULL);
	LOAD(cu, device_count, "cuDeviceGetCount", NULL);
	LOAD(cu, device_get, "cuDeviceGet", NULL);
	LOAD(cu, device_name, "cuDeviceGetName", NULL);
	LOAD(cu, device_attr, "cuDeviceGetAttribute", NULL);
	LOAD(cu, device_mem, "cuDeviceTotalMem_v2", NULL);
	LOAD(cu, ctx_retain, "cuDevicePrimaryCtxRetain", NULL);
	LOAD(cu, ctx_release, "cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease");
	LOAD(cu, ctx_set, "cuCtxSetCurrent", NULL);
	LOAD(cu, ctx_sync, "cuCtxSynchronize", NULL);
	LOAD(cu, module_load, "cuModuleLoadData", NULL);
	LOAD(cu, module_unload, "cuModuleUnload", NULL);
	LOAD(cu, module_function, "cuModuleGetFunction", NULL);
	LOAD(cu, mem_alloc, "cuMemAlloc_v2", NULL);
	LOAD(cu, mem_free, "cuMemFree_v2", NULL);
	LOAD(cu, htod, "cuMemcpyHtoD_v2", NULL);
	LOAD(cu, dtoh, "cuMemcpyDtoH_v2", NULL);
	LOAD(cu, dtod, "cuMemcpyDtoD_v2", NULL);
	LOAD(cu, launch, "cuLaunchKernel", NULL);
	LOAD(cu, error_string, "cuGetErrorString", NULL);
	if (missing) {
		snprintf(why, len, "the CUDA driver library has no %s", missing);
		dlclose(cu->lib);
		cu->lib = NULL;
		return false;
	}
	return true;
}

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if (*s == '&')
			fputs("&amp;", f);
		else if (*s == '"')
			fputs("&quot;", f);
		else
			fputc(*s, f);
	}
}

/* Writes the JUnit report: the records, or one skipped test case with skip_reason. */
static int write_junit(const char *path, const char *skip_reason)
{
	FILE *f = fopen(path, "w");
	int fails = 0, i;

	if (!f) {
		fprintf(stderr, "dtf-cuda-bench: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (i = 0; i < nrecords; i++)
		fails += records[i].failure[0] != '\0';
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(f,
		"<testsuite name=\"dtf-cuda-bench\" tests=\"%d\" failures=\"%d\" skipped=\"%d\">\n",
		skip_reason ? 1 : nrecords, fails, skip_reason ? 1 : 0);
	if (skip_reason) {
		fprintf(f, "  <testcase classname=\"cuda\" name=\"cuda-bench\" time=\"0\">\n"
			   "    <skipped message=\"");
		xml_text(f, skip_reason);
		fprintf(f, "\"/>\n  </testcase>\n");
	}
	for (i = 0; !skip_reason && i < nrecords; i++) {
		fprintf(f, "  <testcase classname=\"cuda\" name=\"%s\" time=\"%.6f\"",
			records[i].name, records[i].seconds);
		if (!records[i].failure[0]) {
			fprintf(f, "/>\n");
			continue;
		}
		fprintf(f, ">\n    <failure message=\"");
		xml_text(f, records[i].failure);
		fprintf(f, "\"/>\n  </testcase>\n");
	}
	fprintf(f, "</testsuite>\n");
	return fclose(f) == 0 ? 0 : -1;
}

static struct record *record(const char *name, double seconds)
{
	struct record *r =
	    &records[nrecords < (int)(sizeof(records) / sizeof(records[0])) - 1 ? nrecords++
										: nrecords - 1];

	snprintf(r->name, sizeof(r->name), "%s", name);
	r->seconds = seconds;
	r->failure[0] = '\0';
	return r;
}

/* A fixed-seed generator, so runs are comparable: uniform in [-1, 1). */
static float rand_unit(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (float)((double)(*s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

/* Runs f (grid gx x gy, block bx x by) until min_time has passed (at least once after a warm-up);
 * returns the seconds per launch, or -1 on a CUDA error. */
static double time_launches(const struct cuda *cu, CUfunction f, unsigned gx, unsigned gy,
			    unsigned bx, unsigned by, void **params, double min_time)
{
	double t0, t, per;
	long k, reps = 1;

	if (failed(cu, cu->launch(f, gx, gy, 1, bx, by, 1, 0, NULL, params, NULL), "launch") ||
	    failed(cu, cu->ctx_sync(), "synchronize after the warm-up launch"))
		return -1;
	for (;;) {
		t0 = now_s();
		for (k = 0; k < reps; k++)
			if (failed(cu, cu->launch(f, gx, gy, 1, bx, by, 1, 0, NULL, params, NULL),
				   "launch"))
				return -1;
		if (failed(cu, cu->ctx_sync(), "synchronize"))
			return -1;
		t = now_s() - t0;
		per = t / (double)reps;
		if (t >= min_time || reps >= 100000)
			return per;
		/* Enough launches for min_time, with a margin. */
		reps = (long)(min_time * 1.2 / (per > 1e-7 ? per : 1e-7)) + 1;
	}
}

/* Checks samples elements of C (n x n, from the GPU) against double-precision dot products;
 * writes the first bad one to why and returns false. The bound grows with |a| . |b|, the scale
 * of the rounding error FP32 accumulation may make. */
static bool check_matmul(const float *A, const float *B, const float *C, int n, int samples,
			 double *max_rel, char *why, size_t len)
{
	uint64_t s = 12345;
	int k, q;

	*max_rel = 0;
	for (q = 0; q < samples; q++) {
		int i, j;
		double ref = 0, mag = 0, err;

		if (q == 0) {
			i = 0;
			j = 0;
		} else if (q == 1) {
			i = n - 1;
			j = n - 1;
		} else {
			s = s * 6364136223846793005ull + 1442695040888963407ull;
			i = (int)((s >> 33) % (uint64_t)n);
			s = s * 6364136223846793005ull + 1442695040888963407ull;
			j = (int)((s >> 33) % (uint64_t)n);
		}
		for (k = 0; k < n; k++) {
			double p = (double)A[(size_t)i * n + k] * (double)B[(size_t)k * n + j];
			ref += p;
			mag += fabs(p);
		}
		err = fabs((double)C[(size_t)i * n + j] - ref);
		if (mag > 0 && err / mag > *max_rel)
			*max_rel = err / mag;
		if (!(err <= 1e-4 * mag + 1e-6)) { /* also catches NaN */
			snprintf(why, len, "C[%d][%d] = %.9g, the CPU says %.9g (n = %d)", i, j,
				 (double)C[(size_t)i * n + j], ref, n);
			return false;
		}
	}
	return true;
}

static bool parse_sizes(const char *s, struct options *o)
{
	o->nsizes = 0;
	while (*s) {
		char *end;
		long v = strtol(s, &end, 10);

		if (end == s || v < 16 || v > MAX_N || o->nsizes == MAX_SIZES ||
		    (*end && *end != ','))
			return false;
		o->sizes[o->nsizes++] = (int)v;
		s = *end ? end + 1 : end;
	}
	return o->nsizes > 0;
}

static int usage(const char *msg)
{
	fprintf(stderr,
		"dtf-cuda-bench: %s\nusage: dtf-cuda-bench [--sizes N,N,...] [--copy-mib M] "
		"[--min-time S] [--samples K] [--junit FILE]\n",
		msg);
	return 2;
}

/* The metrics object, written as one line (the last of stdout) at the end. */
static char metrics[8192];
static size_t metrics_len;

static void metric(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (metrics_len >= sizeof(metrics))
		return;
	n = snprintf(metrics + metrics_len, sizeof(metrics) - metrics_len, "%s",
		     metrics_len ? ", " : "{");
	metrics_len += n > 0 ? (size_t)n : 0;
	if (metrics_len >= sizeof(metrics))
		return;
	va_start(ap, fmt);
	n = vsnprintf(metrics + metrics_len, sizeof(metrics) - metrics_len, fmt, ap);
	va_end(ap);
	metrics_len += n > 0 ? (size_t)n : 0;
}

/* The matrix multiplications. Returns 0, or 1 when a result was wrong or CUDA failed. */
static int bench_matmul(const struct cuda *cu, CUmodule mod, const struct options *o, double *best)
{
	static const char *const kernels[] = {"sgemm_tiled", "sgemm_blocked"};
	int bad = 0;

	for (int si = 0; si < o->nsizes; si++) {
		int n = o->sizes[si];
		size_t bytes = (size_t)n * n * sizeof(float);
		float *A = malloc(bytes), *B = malloc(bytes), *C = malloc(bytes);
		CUdeviceptr dA = 0, dB = 0, dC = 0;
		uint64_t seed = 42;

		if (!A || !B || !C) {
			fprintf(stderr, "dtf-cuda-bench: out of host memory for n = %d\n", n);
			free(A);
			free(B);
			free(C);
			return 1;
		}
		for (size_t i = 0; i < (size_t)n * n; i++) {
			A[i] = rand_unit(&seed);
			B[i] = rand_unit(&seed);
		}
		if (failed(cu, cu->mem_alloc(&dA, bytes), "cuMemAlloc A") ||
		    failed(cu, cu->mem_alloc(&dB, bytes), "cuMemAlloc B") ||
		    failed(cu, cu->mem_alloc(&dC, bytes), "cuMemAlloc C") ||
		    failed(cu, cu->htod(dA, A, bytes), "copy A to the device") ||
		    failed(cu, cu->htod(dB, B, bytes), "copy B to the device")) {
			bad = 1;
			goto next;
		}
		for (int ki = 0; ki < 2; ki++) {
			CUfunction f = NULL;
			void *params[] = {&n, &dA, &dB, &dC};
			bool blocked = ki == 1;
			unsigned g = blocked ? (unsigned)(n / 128) : (unsigned)((n + 31) / 32);
			char name[64], why[256] = "";
			double per, gflops, max_rel = 0;
			struct record *r;

			if (blocked && n % 128 != 0)
				continue; /* that kernel needs multiples of 128 */
			snprintf(name, sizeof(name), "%s n=%d", kernels[ki], n);
			/* NaN everywhere first: a kernel that leaves an element unwritten fails. */
			for (size_t i = 0; i < (size_t)n * n; i++)
				C[i] = NAN;
			if (failed(cu, cu->htod(dC, C, bytes), "clear C") ||
			    failed(cu, cu->module_function(&f, mod, kernels[ki]), kernels[ki])) {
				bad = 1;
				continue;
			}
			per = blocked ? time_launches(cu, f, g, g, 256, 1, params, o->min_time)
				      : time_launches(cu, f, g, g, 32, 32, params, o->min_time);
			r = record(name, per > 0 ? per : 0);
			if (per < 0 || failed(cu, cu->dtoh(C, dC, bytes), "copy C back")) {
				snprintf(r->failure, sizeof(r->failure), "CUDA failed");
				bad = 1;
				continue;
			}
			if (!check_matmul(A, B, C, n, (int)o->samples, &max_rel, why,
					  sizeof(why))) {
				snprintf(r->failure, sizeof(r->failure), "wrong result: %s", why);
				fprintf(stderr, "dtf-cuda-bench: %s: wrong result: %s\n", name,
					why);
				bad = 1;
				continue;
			}
			gflops = 2.0 * n * (double)n * n / per / 1e9;
			if (gflops > *best)
				*best = gflops;
			printf(
			    "%-22s %10.1f GFLOP/s  %9.3f ms  (checked %d elements, max rel error "
			    "%.2g)\n",
			    name, gflops, per * 1e3, (int)o->samples, max_rel);
			metric("\"%s_%d_gflops\": %.1f", kernels[ki], n, gflops);
		}
	next:
		if (dA)
			cu->mem_free(dA);
		if (dB)
			cu->mem_free(dB);
		if (dC)
			cu->mem_free(dC);
		free(A);
		free(B);
		free(C);
	}
	return bad;
}

/* Device-to-device copies: cuMemcpyDtoD and the copy_f4 kernel. 0, or 1 on a failure. */
static int bench_copy(const struct cuda *cu, CUmodule mod, const struct options *o, int sms)
{
	size_t bytes = (size_t)(o->copy_mib * 1024 * 1024) / 16 * 16, n4 = bytes / 16;
	unsigned char *h = malloc(bytes), *back = malloc(bytes);
	CUdeviceptr src = 0, dst = 0;
	CUfunction f = NULL;
	int bad = 0;

	if (!h || !back || !bytes) {
		free(h);
		free(back);
		fprintf(stderr, "dtf-cuda-bench: cannot allocate %zu bytes on the host\n", bytes);
		return 1;
	}
	for (size_t i = 0; i < bytes; i++)
		h[i] = (unsigned char)(i * 2654435761u >> 13);
	if (failed(cu, cu->mem_alloc(&src, bytes), "cuMemAlloc") ||
	    failed(cu, cu->mem_alloc(&dst, bytes), "cuMemAlloc") ||
	    failed(cu, cu->htod(src, h, bytes), "copy to the device") ||
	    failed(cu, cu->module_function(&f, mod, "copy_f4"), "copy_f4")) {
		bad = 1;
		goto out;
	}
	for (int way = 0; way < 2; way++) {
		const char *name = way ? "copy kernel" : "cuMemcpyDtoD";
		double t0, t = 0, per = -1, gbps;
		long reps = 1, k;
		struct record *r;

		memset(back, 0, bytes);
		if (failed(cu, cu->htod(dst, back, bytes), "clear the destination")) {
			bad = 1;
			break;
		}
		/* Warm up once, then enough repetitions for min_time. */
		for (int round = 0; round < 8; round++) {
			CUresult e = 0;
			void *params[] = {&n4, &src, &dst};
			unsigned grid = (unsigned)(n4 / 256 + 1);

			if (grid > (unsigned)sms * 32u)
				grid = (unsigned)sms * 32u;
			t0 = now_s();
			for (k = 0; k < reps && !e; k++)
				e = way ? cu->launch(f, grid, 1, 1, 256, 1, 1, 0, NULL, params,
						     NULL)
					: cu->dtod(dst, src, bytes);
			if (failed(cu, e, name) || failed(cu, cu->ctx_sync(), "synchronize")) {
				per = -1;
				break;
			}
			t = now_s() - t0;
			per = t / (double)reps;
			if (round > 0 && (t >= o->min_time || reps >= 100000))
				break;
			reps = (long)(o->min_time * 1.2 / (per > 1e-7 ? per : 1e-7)) + 1;
		}
		r = record(way ? "copy_f4" : "memcpy_dtod", per > 0 ? per : 0);
		if (per < 0 || failed(cu, cu->dtoh(back, dst, bytes), "copy back")) {
			snprintf(r->failure, sizeof(r->failure), "CUDA failed");
			bad = 1;
			continue;
		}
		if (memcmp(back, h, bytes) != 0) {
			snprintf(r->failure, sizeof(r->failure),
				 "%s: the copy differs from the source", name);
			fprintf(stderr, "dtf-cuda-bench: %s\n", r->failure);
			bad = 1;
			continue;
		}
		gbps = 2.0 * (double)bytes / per / 1e9;
		printf("%-22s %10.1f GB/s     %9.3f ms  (%zu MiB, read + write, checked in full)\n",
		       name, gbps, per * 1e3, bytes >> 20);
		metric("\"%s\": %.1f", way ? "copy_kernel_gbps" : "memcpy_dtod_gbps", gbps);
	}
out:
	if (src)
		cu->mem_free(src);
	if (dst)
		cu->mem_free(dst);
	free(h);
	free(back);
	return bad;
}

/* Says why there is nothing to measure and skips. */
static int skip(const struct options *o, const char *why)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "no CUDA device: %s", why);
	printf("dtf-cuda-bench: %s; skipped\n", msg);
	fprintf(stderr, "dtf-cuda-bench: %s; skipped\n", msg);
	if (o->junit)
		return write_junit(o->junit, msg) == 0 ? 0 : 1;
	return SKIP_STATUS;
}

int main(int argc, char **argv)
{
	struct options o = {.copy_mib = 256, .min_time = 0.3, .samples = 256};
	struct cuda cu;
	char why[512], name[256] = "";
	int count = 0, version = 0, major = 0, minor = 0, sms = 1, bad = 0, i;
	const char *env = getenv("DTF_BENCH_BATCH_SIZE");
	size_t total = 0;
	CUdevice dev = 0;
	CUcontext ctx = NULL;
	CUmodule mod = NULL;
	CUresult r;
	double best = 0;

	parse_sizes(env && *env ? env : "1024,2048,4096,8192", &o);
	for (i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = NULL;

		if (strcmp(argv[i], "--junit") == 0 && v) {
			o.junit = v;
		} else if (strcmp(argv[i], "--sizes") == 0 && v) {
			if (!parse_sizes(v, &o))
				return usage(
				    "--sizes: a list of 1 to 16 integers from 16 to 32768");
		} else if (strcmp(argv[i], "--copy-mib") == 0 && v) {
			o.copy_mib = strtod(v, &end);
			if (*end || !(o.copy_mib >= 1 && o.copy_mib <= 65536))
				return usage("--copy-mib: a number of MiB from 1 to 65536");
		} else if (strcmp(argv[i], "--min-time") == 0 && v) {
			o.min_time = strtod(v, &end);
			if (*end || !(o.min_time >= 0 && o.min_time <= 60))
				return usage("--min-time: seconds from 0 to 60");
		} else if (strcmp(argv[i], "--samples") == 0 && v) {
			o.samples = strtod(v, &end);
			if (*end || !(o.samples >= 2 && o.samples <= 1e6))
				return usage("--samples: from 2 to 1000000");
		} else {
			return usage(strcmp(argv[i], "--help") == 0 ? "help" : "bad argument");
		}
		i++;
	}
	if (!cuda_load(&cu, why, sizeof(why)))
		return skip(&o, why);
	r = cu.init(0);
	/* CUDA_ERROR_NO_DEVICE; CUDA_ERROR_STUB_LIBRARY (the toolkit's stubs/libcuda.so, not a
	 * driver); CUDA_ERROR_INSUFFICIENT_DRIVER (a library older than the kernel module). */
	if (r == 100 || r == 34 || r == 35) {
		snprintf(why, sizeof(why), "cuInit: %s (CUresult %d)", cu_error(&cu, r), r);
		return skip(&o, why);
	}
	if (failed(&cu, r, "cuInit"))
		return 1;
	if (failed(&cu, cu.device_count(&count), "cuDeviceGetCount"))
		return 1;
	if (count < 1)
		return skip(&o, "the driver sees no device (CUDA_VISIBLE_DEVICES may hide them)");
	if (failed(&cu, cu.device_get(&dev, 0), "cuDeviceGet") ||
	    failed(&cu, cu.device_name(name, (int)sizeof(name) - 1, dev), "cuDeviceGetName") ||
	    failed(&cu, cu.device_attr(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev),
		   "compute capability") ||
	    failed(&cu, cu.device_attr(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev),
		   "compute capability") ||
	    failed(&cu, cu.device_attr(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev),
		   "multiprocessor count") ||
	    failed(&cu, cu.device_mem(&total, dev), "cuDeviceTotalMem") ||
	    failed(&cu, cu.driver_version(&version), "cuDriverGetVersion"))
		return 1;
	name[sizeof(name) - 1] = '\0';
	printf("device 0: %s, compute capability %d.%d, %d SMs, %zu MiB, CUDA driver %d.%d "
	       "(of %d visible)\n",
	       name, major, minor, sms, total >> 20, version / 1000, version % 1000 / 10, count);
	if (failed(&cu, cu.ctx_retain(&ctx, dev), "cuDevicePrimaryCtxRetain") ||
	    failed(&cu, cu.ctx_set(ctx), "cuCtxSetCurrent"))
		return 1;
	r = cu.module_load(&mod, dtf_cuda_kernels);
	if (failed(&cu, r, "cuModuleLoadData (the embedded kernels)")) {
		fprintf(
		    stderr,
		    "dtf-cuda-bench: the kernels hold SASS for sm_80 and sm_90 and PTX for "
		    "compute_75 (this driver: CUDA %d.%d; PTX needs a driver at least as new as "
		    "the nvcc that built it)\n",
		    version / 1000, version % 1000 / 10);
		return 1;
	}
	metrics_len = 0;
	bad |= bench_matmul(&cu, mod, &o, &best);
	bad |= bench_copy(&cu, mod, &o, sms);
	if (best > 0)
		metric("\"sgemm_best_gflops\": %.1f", best);
	metric("\"compute_capability\": \"%d.%d\"", major, minor);
	metric("\"ok\": %s", bad ? "false" : "true");
	cu.module_unload(mod);
	cu.ctx_release(dev);
	if (o.junit && write_junit(o.junit, NULL) != 0)
		bad = 1;
	printf("%s}\n", metrics);
	fflush(stdout);
	return bad ? 1 : 0;
}
