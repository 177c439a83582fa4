/* hw.c: what a worker machine has: CPU cores (within this process's affinity), the CPU model and
 * flags from /proc/cpuinfo, physical memory, NVIDIA GPUs through NVML (loaded with dlopen at run
 * time, so no driver simply means no GPUs), and the hardware classes offered. */
#include "worker/hw.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"

#define NVML_DEFAULT_LIBRARY "libnvidia-ml.so.1"
#define CPUINFO_CAP	     (16u << 20) /* /proc/cpuinfo of a very large machine fits */
#define MEMINFO_CAP	     (1u << 20)
#define NVML_STR	     128 /* NVML's own buffers for names, UUIDs, versions are <= 96 */
#define MIB		     (1024ull * 1024ull)

/* The few NVML types used, declared here so the build needs no CUDA headers. nvmlReturn_t is an
 * enum whose 0 is NVML_SUCCESS; nvmlDevice_t is an opaque pointer. The signatures are nvml.h's. */
typedef int nvml_return;
typedef struct nvml_device_st *nvml_device;
struct nvml_memory {
	unsigned long long total, free, used; /* bytes */
};
struct nvml_utilization {
	unsigned int gpu, memory; /* percent of the last sample period */
};
#define NVML_TEMPERATURE_GPU 0
#define NVML_MIG_ENABLE	     1

struct nvml {
	void *lib;
	nvml_return (*init)(void);
	nvml_return (*shutdown)(void);
	nvml_return (*count)(unsigned int *count);
	nvml_return (*handle)(unsigned int index, nvml_device *device);
	nvml_return (*name)(nvml_device device, char *name, unsigned int length);
	nvml_return (*memory)(nvml_device device, struct nvml_memory *memory);
	nvml_return (*capability)(nvml_device device, int *major, int *minor);
	nvml_return (*driver)(char *version, unsigned int length);
	nvml_return (*uuid)(nvml_device device, char *uuid, unsigned int length);
	/* Optional: older drivers lack some, and any may answer NVML_ERROR_NOT_SUPPORTED (a
	 * GeForce has no power reading, a GPU before Ampere no MIG). Each is skipped then. */
	nvml_return (*cuda_driver)(int *version);
	nvml_return (*utilization)(nvml_device device, struct nvml_utilization *util);
	nvml_return (*temperature)(nvml_device device, int sensor, unsigned int *celsius);
	nvml_return (*power)(nvml_device device, unsigned int *milliwatts);
	nvml_return (*mig)(nvml_device device, unsigned int *current, unsigned int *pending);
};

/* Looks up name, or old_name (the pre-_v2 entry point of old drivers) when given. */
static void *sym(void *lib, const char *name, const char *old_name)
{
	void *p = dlsym(lib, name);

	if (!p && old_name)
		p = dlsym(lib, old_name);
	return p;
}

/* Stores the symbol in a function pointer field. dlsym() gives a void *, which POSIX guarantees
 * converts to the function it names; memcpy says so without a cast per type. */
#define LOAD(n, field, name, old_name)                                                             \
	do {                                                                                       \
		void *p_ = sym((n)->lib, name, old_name);                                          \
		memcpy(&(n)->field, &p_, sizeof(p_));                                              \
	} while (0)

/* Loads NVML. False when the library or one of the symbols it can't do without is missing. */
static bool nvml_load(struct nvml *n)
{
	const char *path = getenv("DTF_NVML_LIBRARY");

	memset(n, 0, sizeof(*n));
	n->lib = dlopen(path && *path ? path : NVML_DEFAULT_LIBRARY, RTLD_NOW | RTLD_LOCAL);
	if (!n->lib)
		return false;
	LOAD(n, init, "nvmlInit_v2", "nvmlInit");
	LOAD(n, shutdown, "nvmlShutdown", NULL);
	LOAD(n, count, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
	LOAD(n, handle, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
	LOAD(n, name, "nvmlDeviceGetName", NULL);
	LOAD(n, memory, "nvmlDeviceGetMemoryInfo", NULL);
	LOAD(n, capability, "nvmlDeviceGetCudaComputeCapability", NULL);
	LOAD(n, driver, "nvmlSystemGetDriverVersion", NULL);
	LOAD(n, uuid, "nvmlDeviceGetUUID", NULL);
	LOAD(n, cuda_driver, "nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion");
	LOAD(n, utilization, "nvmlDeviceGetUtilizationRates", NULL);
	LOAD(n, temperature, "nvmlDeviceGetTemperature", NULL);
	LOAD(n, power, "nvmlDeviceGetPowerUsage", NULL);
	LOAD(n, mig, "nvmlDeviceGetMigMode", NULL);
	if (!n->init || !n->shutdown || !n->count || !n->handle) {
		dlclose(n->lib);
		n->lib = NULL;
		return false;
	}
	return true;
}

/* A JSON string of s, or "" when s is not valid UTF-8 (text from the system isn't checked). */
static json_t *str_json(const char *s)
{
	json_t *j = json_string(s);

	return j ? j : json_string("");
}

/* Sets key to v in o unless v is NULL; false when o could not take it. */
static bool set_opt(json_t *o, const char *key, json_t *v)
{
	return !v || json_object_set_new(o, key, v) == 0;
}

/* What changes while the worker runs: free memory and utilization, added to g. False when g
 * could not take them. */
static bool live_fields(const struct nvml *n, nvml_device dev, json_t *g)
{
	struct nvml_memory mem = {0, 0, 0};
	struct nvml_utilization u = {0, 0};
	bool ok = true;

	if (n->memory && n->memory(dev, &mem) == 0)
		ok &= set_opt(g, "memory_free", json_integer((json_int_t)(mem.free / MIB)));
	if (n->utilization && n->utilization(dev, &u) == 0 && u.gpu <= 100 && u.memory <= 100)
		ok &= set_opt(g, "utilization",
			      json_pack("{s:i,s:i}", "gpu", (int)u.gpu, "memory", (int)u.memory));
	return ok;
}

/* Describes one GPU; NULL when NVML has no handle for it or memory ran out. */
static json_t *gpu_json(const struct nvml *n, unsigned int index, const char *driver,
			const char *cuda_driver)
{
	char name[NVML_STR] = "", uuid[NVML_STR] = "", cc[32] = "";
	struct nvml_memory mem = {0, 0, 0};
	nvml_device dev = NULL;
	int major = 0, minor = 0;
	unsigned int temp = 0, mw = 0, mig = 0, mig_pending = 0;
	bool ok;
	json_t *g;

	if (n->handle(index, &dev) != 0)
		return NULL;
	if (n->name && n->name(dev, name, sizeof(name)) != 0)
		name[0] = '\0';
	if (n->memory && n->memory(dev, &mem) != 0)
		mem.total = 0;
	if (n->capability && n->capability(dev, &major, &minor) == 0)
		snprintf(cc, sizeof(cc), "%d.%d", major, minor);
	if (n->uuid && n->uuid(dev, uuid, sizeof(uuid)) != 0)
		uuid[0] = '\0';
	/* The library is outside code: don't trust it to terminate what it writes. */
	name[sizeof(name) - 1] = '\0';
	uuid[sizeof(uuid) - 1] = '\0';

	g = json_object();
	if (!g)
		return NULL;
	ok = json_object_set_new(g, "index", json_integer(index)) == 0 &&
	     json_object_set_new(g, "name", str_json(name)) == 0 &&
	     json_object_set_new(g, "memory", json_integer((json_int_t)(mem.total / MIB))) == 0 &&
	     json_object_set_new(g, "compute_capability", str_json(cc)) == 0 &&
	     json_object_set_new(g, "driver", str_json(driver)) == 0 &&
	     json_object_set_new(g, "uuid", str_json(uuid)) == 0;
	if (ok && cuda_driver[0])
		ok = json_object_set_new(g, "cuda_driver", str_json(cuda_driver)) == 0;
	if (ok)
		ok = live_fields(n, dev, g);
	/* Each optional reading is left out when the entry point is missing or not supported. */
	if (ok && n->temperature && n->temperature(dev, NVML_TEMPERATURE_GPU, &temp) == 0 &&
	    temp < 1000)
		ok = json_object_set_new(g, "temperature_c", json_integer(temp)) == 0;
	if (ok && n->power && n->power(dev, &mw) == 0)
		ok = json_object_set_new(g, "power_w", json_real(mw / 1000.0)) == 0;
	if (ok && n->mig && n->mig(dev, &mig, &mig_pending) == 0)
		ok = json_object_set_new(
			 g, "mig", json_string(mig == NVML_MIG_ENABLE ? "enabled" : "disabled")) ==
		     0;
	if (!ok) {
		json_decref(g);
		return NULL;
	}
	return g;
}

/* True when entry (one item of CUDA_VISIBLE_DEVICES) names g: an index, or a UUID or a prefix of
 * one (CUDA accepts any unique prefix, "GPU-" included). */
static bool visible_entry_names(const char *entry, size_t len, const json_t *g)
{
	const char *uuid = json_string_value(json_object_get(g, "uuid"));
	size_t i;

	for (i = 0; i < len && entry[i] >= '0' && entry[i] <= '9'; i++)
		;
	if (len && i == len)
		return strtoll(entry, NULL, 10) == json_integer_value(json_object_get(g, "index"));
	return uuid && len >= 5 && strncmp(entry, "GPU-", 4) == 0 && strncmp(uuid, entry, len) == 0;
}

json_t *dtf_hw_visible_gpus(json_t *gpus, const char *visible)
{
	json_t *out;
	const char *p = visible;

	if (!visible)
		return gpus;
	out = json_array();
	if (!out)
		return gpus;
	/* CUDA's rule: the list ends at the first entry that names no device. */
	while (*p) {
		size_t len, i;
		json_t *g, *hit = NULL;

		while (*p == ' ')
			p++;
		len = strcspn(p, ",");
		while (len && p[len - 1] == ' ')
			len--;
		json_array_foreach(gpus, i, g)
			if (visible_entry_names(p, len, g))
				hit = g;
		if (!hit)
			break;
		json_array_foreach(out, i, g)
			if (g == hit)
				hit = NULL; /* named twice: CUDA refuses that too; keep the first */
		if (hit && json_array_append(out, hit) != 0)
			break;
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	json_decref(gpus);
	return out;
}

json_t *dtf_hw_nvidia_gpus(char *driver, size_t driver_len)
{
	char version[NVML_STR] = "", cuda[32] = "";
	unsigned int count = 0, i;
	int cv = 0;
	struct nvml n;
	json_t *gpus = json_array();

	if (driver && driver_len)
		driver[0] = '\0';
	if (!gpus || !nvml_load(&n))
		return gpus;
	if (n.init() != 0)
		goto out;
	if (n.driver && n.driver(version, sizeof(version)) != 0)
		version[0] = '\0';
	version[sizeof(version) - 1] = '\0';
	/* 1000 * major + 10 * minor: 12040 is CUDA 12.4. */
	if (n.cuda_driver && n.cuda_driver(&cv) == 0 && cv > 0)
		snprintf(cuda, sizeof(cuda), "%d.%d", cv / 1000, cv % 1000 / 10);
	if (n.count(&count) == 0) {
		for (i = 0; i < count && i < DTF_HW_MAX_GPUS; i++) {
			json_t *g = gpu_json(&n, i, version, cuda);

			if (g)
				json_array_append_new(gpus, g);
		}
	}
	n.shutdown();
	if (driver && driver_len)
		snprintf(driver, driver_len, "%s", version);
out:
	dlclose(n.lib);
	return dtf_hw_visible_gpus(gpus, getenv("CUDA_VISIBLE_DEVICES"));
}

/* NVML stays loaded for the live readings: nvmlInit costs tens of milliseconds (more without
 * the persistence daemon), too much for every heartbeat. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nvml live_nvml;
static int live_state; /* 0 not tried, 1 ready, -1 unavailable */

json_t *dtf_hw_gpu_live(const json_t *gpus)
{
	json_t *out = NULL, *g;
	size_t i;

	if (json_array_size(gpus) == 0)
		return NULL;
	pthread_mutex_lock(&live_lock);
	if (live_state == 0) {
		live_state = -1;
		if (nvml_load(&live_nvml)) {
			if (live_nvml.init() == 0)
				live_state = 1;
			else
				dlclose(live_nvml.lib);
		}
	}
	if (live_state == 1)
		out = json_array();
	json_array_foreach(out ? gpus : NULL, i, g) {
		nvml_device dev = NULL;
		json_int_t index = json_integer_value(json_object_get(g, "index"));
		json_t *e = json_pack("{s:I}", "index", index);

		if (!e || index < 0 || live_nvml.handle((unsigned int)index, &dev) != 0 ||
		    !live_fields(&live_nvml, dev, e) || json_array_append_new(out, e) != 0) {
			json_decref(e);
			continue;
		}
	}
	pthread_mutex_unlock(&live_lock);
	return out;
}

/* Cores this process may run on: the online ones, or fewer when its affinity says so. */
static long cpu_cores(void)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	long conf = sysconf(_SC_NPROCESSORS_CONF);
	cpu_set_t *set;
	size_t size;
	int allowed;

	if (online < 1)
		online = 1;
	if (conf < online)
		conf = online;
	/* A dynamically sized set, so machines with more than CPU_SETSIZE CPUs work too. */
	set = CPU_ALLOC((int)conf);
	if (!set)
		return online;
	size = CPU_ALLOC_SIZE((int)conf);
	CPU_ZERO_S(size, set);
	if (sched_getaffinity(0, size, set) == 0) {
		allowed = CPU_COUNT_S(size, set);
		if (allowed >= 1 && allowed < online)
			online = allowed;
	}
	CPU_FREE(set);
	return online;
}

/* Finds the value of the first "key : value" line of text whose key is exactly key and stores a
 * new string in *value. False when absent. */
static bool cpuinfo_value(const char *text, const char *key, char **value)
{
	size_t klen = strlen(key);
	const char *line = text;

	while (*line) {
		const char *end = strchr(line, '\n');
		const char *colon, *k;
		size_t len = end ? (size_t)(end - line) : strlen(line);

		colon = memchr(line, ':', len);
		if (colon) {
			k = colon;
			while (k > line && (k[-1] == ' ' || k[-1] == '\t'))
				k--;
			if ((size_t)(k - line) == klen && memcmp(line, key, klen) == 0) {
				const char *v = colon + 1, *vend = line + len;

				while (v < vend && (*v == ' ' || *v == '\t'))
					v++;
				while (vend > v &&
				       (vend[-1] == ' ' || vend[-1] == '\t' || vend[-1] == '\r'))
					vend--;
				*value = strndup(v, (size_t)(vend - v));
				return *value != NULL;
			}
		}
		if (!end)
			break;
		line = end + 1;
	}
	return false;
}

/* Splits a space-separated flag list into a JSON array. */
static json_t *split_flags(const char *s)
{
	json_t *a = json_array();

	while (a && *s) {
		size_t len;

		while (*s == ' ' || *s == '\t')
			s++;
		len = strcspn(s, " \t");
		if (len && json_array_append_new(a, json_stringn(s, len))) {
			json_decref(a);
			return NULL;
		}
		s += len;
	}
	return a;
}

/* The CPU object: cores, model and flags. The key names differ between architectures: x86 has
 * "model name" and "flags", ARM "Features" and sometimes "Hardware", POWER "cpu", s390
 * "features"; whatever isn't found is left empty. */
static json_t *cpu_json(void)
{
	static const char *const model_keys[] = {"model name", "Processor", "cpu model", "cpu",
						 "Hardware"};
	static const char *const flag_keys[] = {"flags", "Features", "features"};
	char *text = NULL, *model = NULL, *flags = NULL;
	json_t *cpu = json_object();
	int bad = 0;
	size_t i;

	if (!cpu)
		return NULL;
	if (dtf_read_file("/proc/cpuinfo", CPUINFO_CAP, &text, NULL) == 0) {
		for (i = 0; !model && i < sizeof(model_keys) / sizeof(model_keys[0]); i++)
			cpuinfo_value(text, model_keys[i], &model);
		for (i = 0; !flags && i < sizeof(flag_keys) / sizeof(flag_keys[0]); i++)
			cpuinfo_value(text, flag_keys[i], &flags);
	}
	/* No short-circuit: each call takes its value's reference, even when it fails. */
	bad |= json_object_set_new(cpu, "cores", json_integer(cpu_cores()));
	bad |= json_object_set_new(cpu, "model", str_json(model ? model : ""));
	bad |= json_object_set_new(cpu, "flags", split_flags(flags ? flags : ""));
	if (bad) {
		json_decref(cpu);
		cpu = NULL;
	}
	free(text);
	free(model);
	free(flags);
	return cpu;
}

/* Physical memory in MiB: from sysconf, or MemTotal in /proc/meminfo when that fails. */
static long long memory_mib(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
	long long kb = 0;
	char *text = NULL, *v = NULL;

	if (pages > 0 && page > 0)
		return (long long)((unsigned long long)pages * (unsigned long long)page / MIB);
	if (dtf_read_file("/proc/meminfo", MEMINFO_CAP, &text, NULL) == 0 &&
	    cpuinfo_value(text, "MemTotal", &v))
		kb = strtoll(v, NULL, 10);
	free(text);
	free(v);
	return kb / 1024;
}

json_t *dtf_hw_detect(void)
{
	char host[HOST_NAME_MAX + 1] = "";
	char driver[NVML_STR];
	json_t *caps = json_object(), *gpus, *hardware;
	long long gpu_mem = 0;
	struct utsname u;
	int bad = 0;
	size_t i;

	if (!caps)
		return NULL;
	gpus = dtf_hw_nvidia_gpus(driver, sizeof(driver));
	for (i = 0; gpus && i < json_array_size(gpus); i++) {
		json_t *g = json_array_get(gpus, i);

		gpu_mem += json_integer_value(json_object_get(g, "memory"));
	}
	hardware = json_array();
	if (hardware) {
		if (json_array_append_new(hardware, json_string("cpu")) ||
		    (json_array_size(gpus) > 0 &&
		     json_array_append_new(hardware, json_string("cuda")))) {
			json_decref(hardware);
			hardware = NULL;
		}
	}
	if (gethostname(host, sizeof(host) - 1) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	if (uname(&u) != 0)
		snprintf(u.machine, sizeof(u.machine), "unknown");

	/* No short-circuit: each call takes its value's reference, even when it fails. */
	bad |= json_object_set_new(caps, "cpu", cpu_json());
	bad |= json_object_set_new(caps, "memory", json_integer(memory_mib()));
	bad |= json_object_set_new(caps, "gpu_memory", json_integer(gpu_mem));
	bad |= json_object_set_new(caps, "gpus", gpus);
	bad |= json_object_set_new(caps, "hardware", hardware);
	bad |= json_object_set_new(caps, "os", json_string("linux"));
	bad |= json_object_set_new(caps, "arch", str_json(u.machine));
	bad |= json_object_set_new(caps, "hostname", str_json(host));
	if (bad) {
		json_decref(caps);
		return NULL;
	}
	return caps;
}
