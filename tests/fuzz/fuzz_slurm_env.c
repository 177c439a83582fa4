/* fuzz_slurm_env.c: libFuzzer target for a worker's reading of its Slurm job's environment
 * (src/worker/slurm.c). The input is lines "N=VALUE": N (a letter from a) picks one of the
 * variables it reads, VALUE (at most 4 KiB) is set as it. It must not crash or leak; cores and
 * memory are whole numbers above 0 (or the detected ones), the GPUs kept are some of the detected
 * ones and gpu_memory is their sum, labels are strings, and an id it gives is a valid worker id. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/util.h"
#include "worker/slurm.h"

static const char *const vars[] = {
    "SLURM_JOB_ID",	  "SLURM_ARRAY_JOB_ID",	 "SLURM_ARRAY_TASK_ID",	    "SLURM_CLUSTER_NAME",
    "SLURM_CPUS_ON_NODE", "SLURM_CPUS_PER_TASK", "SLURM_JOB_CPUS_PER_NODE", "SLURM_MEM_PER_NODE",
    "SLURM_MEM_PER_CPU",  "SLURM_JOB_GPUS",	 "CUDA_VISIBLE_DEVICES",
};
#define NVARS (sizeof(vars) / sizeof(vars[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *line, *save = NULL, id[80];
	json_t *caps, *labels, *g, *v;
	long long mem = 0;
	size_t i;

	if (size > 16384)
		return 0;
	for (i = 0; i < NVARS; i++)
		unsetenv(vars[i]);
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] >= 'a' && (size_t)(line[0] - 'a') < NVARS && line[1] == '=' &&
		    strlen(line + 2) <= 4096)
			setenv(vars[line[0] - 'a'], line + 2, 1);
	}
	free(text);
	caps = json_pack("{s:{s:i},s:i,s:i,s:[{s:i,s:s,s:i},{s:i,s:s,s:i}],s:[s,s]}", "cpu",
			 "cores", 8, "memory", 65536, "gpu_memory", 300, "gpus", "index", 0, "uuid",
			 "GPU-aaaa", "memory", 100, "index", 1, "uuid", "GPU-bbbb", "memory", 200,
			 "hardware", "cpu", "cuda");
	labels = json_object();
	dtf_slurm_job_capabilities(caps);
	v = json_object_get(json_object_get(caps, "cpu"), "cores");
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		abort();
	v = json_object_get(caps, "memory");
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		abort();
	if (json_array_size(json_object_get(caps, "gpus")) > 2)
		abort();
	json_array_foreach(json_object_get(caps, "gpus"), i, g)
		mem += json_integer_value(json_object_get(g, "memory"));
	if (json_integer_value(json_object_get(caps, "gpu_memory")) != mem)
		abort();
	dtf_slurm_job_labels(labels);
	{
		const char *k;
		json_object_foreach(labels, k, v)
			if (!json_is_string(v))
				abort();
	}
	if (dtf_slurm_worker_id(id, sizeof(id)) == 0 && !dtf_valid_id(id))
		abort();
	json_decref(caps);
	json_decref(labels);
	return 0;
}
