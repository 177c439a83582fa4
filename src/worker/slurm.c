/* slurm.c: what a worker inside a Slurm job offers and is called (worker/slurm.h), read from the
 * environment slurmd gives the batch step. */
#include "worker/slurm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/util.h"

bool dtf_slurm_in_job(void)
{
	const char *id = getenv("SLURM_JOB_ID");

	return id && *id;
}

/* A positive whole number at the start of s (the rest must be empty, or start with one of
 * stop_at when that is given); -1 otherwise. */
static long long leading_count(const char *s, const char *stop_at)
{
	char *end;
	long long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || v <= 0 || end == s)
		return -1;
	if (*end && (!stop_at || !strchr(stop_at, *end)))
		return -1;
	return v;
}

static long long env_count(const char *name, const char *stop_at)
{
	return leading_count(getenv(name), stop_at);
}

/* The CPUs of the allocation on this node, or -1 when Slurm did not say. */
static long long job_cpus(void)
{
	long long n = env_count("SLURM_CPUS_ON_NODE", NULL);

	if (n < 0)
		n = env_count("SLURM_CPUS_PER_TASK", NULL);
	/* "4(x2),2": 4 CPUs on each of the first two nodes, 2 on the third. A batch step runs on
	 * the first node of the allocation. */
	if (n < 0)
		n = env_count("SLURM_JOB_CPUS_PER_NODE", "(,");
	return n;
}

/* True when the comma-separated list has an entry equal to index (a number) or, for entries
 * that are UUIDs ("GPU-…", "MIG-…"), one that uuid starts with (CUDA accepts a UUID's prefix). */
static bool list_has_gpu(const char *list, long long index, const char *uuid)
{
	const char *p = list;

	while (p && *p) {
		size_t n = strcspn(p, ",");
		if (n > 0) {
			char *end;
			long long v;
			errno = 0;
			v = strtoll(p, &end, 10);
			if (end == p + n && !errno && *p >= '0' && *p <= '9') {
				if (v == index)
					return true;
			} else if (uuid && n <= strlen(uuid) && strncmp(p, uuid, n) == 0) {
				return true;
			}
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

/* Keeps the GPUs of caps that the job was given (see slurm.h); returns 0 or DTF_ENOMEM. */
static int narrow_gpus(json_t *caps)
{
	const char *list = getenv("SLURM_JOB_GPUS");
	bool by_index = list && *list;
	json_t *gpus = json_object_get(caps, "gpus"), *kept = json_array(), *g, *hw;
	long long mem = 0;
	size_t i;

	if (!kept)
		return DTF_ENOMEM;
	if (!by_index)
		list = getenv("CUDA_VISIBLE_DEVICES");
	json_array_foreach(gpus, i, g) {
		json_t *idx = json_object_get(g, "index");
		const char *uuid = by_index ? NULL : dtf_json_str(g, "uuid", NULL);
		if (!json_is_integer(idx) || !list_has_gpu(list, json_integer_value(idx), uuid))
			continue;
		json_array_append(kept, g);
		mem += dtf_json_int(g, "memory", 0);
	}
	if (json_object_set_new(caps, "gpus", kept) ||
	    json_object_set_new(caps, "gpu_memory", json_integer(mem)))
		return DTF_ENOMEM;
	hw = json_object_get(caps, "hardware");
	if (json_array_size(kept) == 0) {
		for (i = json_array_size(hw); i-- > 0;) {
			const char *h = json_string_value(json_array_get(hw, i));
			if (h && strcmp(h, "cuda") == 0)
				json_array_remove(hw, i);
		}
	}
	return 0;
}

int dtf_slurm_job_capabilities(json_t *caps)
{
	long long cpus, mem;
	json_t *cpu;

	if (!dtf_slurm_in_job())
		return DTF_ENOTFOUND;
	cpus = job_cpus();
	if (cpus > 0) {
		cpu = json_object_get(caps, "cpu");
		if (!json_is_object(cpu)) {
			cpu = json_object();
			if (!cpu || json_object_set_new(caps, "cpu", cpu))
				return DTF_ENOMEM;
		}
		if (json_object_set_new(cpu, "cores", json_integer(cpus)))
			return DTF_ENOMEM;
	}
	mem = env_count("SLURM_MEM_PER_NODE", NULL);
	if (mem < 0 && cpus > 0 && (mem = env_count("SLURM_MEM_PER_CPU", NULL)) > 0)
		mem *= cpus;
	if (mem > 0 && json_object_set_new(caps, "memory", json_integer(mem)))
		return DTF_ENOMEM;
	return narrow_gpus(caps);
}

static int add_label(json_t *labels, const char *name, const char *value)
{
	if (!value || !*value || json_object_get(labels, name))
		return 0;
	return json_object_set_new(labels, name, json_string(value)) ? DTF_ENOMEM : 0;
}

int dtf_slurm_job_labels(json_t *labels)
{
	static const struct {
		const char *label, *env;
	} from_env[] = {
	    {"slurm_job_id", "SLURM_JOB_ID"},
	    {"slurm_job_name", "SLURM_JOB_NAME"},
	    {"slurm_array_job_id", "SLURM_ARRAY_JOB_ID"},
	    {"slurm_array_task_id", "SLURM_ARRAY_TASK_ID"},
	    {"slurm_partition", "SLURM_JOB_PARTITION"},
	    {"slurm_node", "SLURMD_NODENAME"},
	    {"slurm_cluster", "SLURM_CLUSTER_NAME"},
	};
	size_t i;
	int rc;

	if (!dtf_slurm_in_job())
		return DTF_ENOTFOUND;
	if ((rc = add_label(labels, "launcher", "slurm")) != 0)
		return rc;
	for (i = 0; i < sizeof(from_env) / sizeof(from_env[0]); i++)
		if ((rc = add_label(labels, from_env[i].label, getenv(from_env[i].env))) != 0)
			return rc;
	return 0;
}

int dtf_slurm_worker_id(char *out, size_t len)
{
	const char *job = getenv("SLURM_JOB_ID"), *array = getenv("SLURM_ARRAY_JOB_ID");
	const char *task = getenv("SLURM_ARRAY_TASK_ID"), *cluster = getenv("SLURM_CLUSTER_NAME");
	char id[128], with[192];

	if (!job || !*job)
		return DTF_ENOTFOUND;
	if (array && *array && task && *task)
		snprintf(id, sizeof(id), "%s_%s", array, task);
	else
		snprintf(id, sizeof(id), "%s", job);
	if (cluster && *cluster) {
		snprintf(with, sizeof(with), "slurm-%s-%s", cluster, id);
		if (dtf_valid_id(with) && strlen(with) < len) {
			snprintf(out, len, "%s", with);
			return 0;
		}
	}
	snprintf(with, sizeof(with), "slurm-%s", id);
	if (!dtf_valid_id(with) || strlen(with) >= len)
		return DTF_ENOTFOUND;
	snprintf(out, len, "%s", with);
	return 0;
}
