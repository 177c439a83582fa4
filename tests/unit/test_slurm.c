/* test_slurm.c: unit tests for worker/slurm: a worker inside a Slurm job offers the job's CPUs,
 * memory and GPUs (from the variables slurmd sets, in their order of precedence), carries the
 * job's labels without overriding the user's, and is named after the job array element. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "unit_main.h"
#include "worker/slurm.h"

static const char *const slurm_vars[] = {
    "SLURM_JOB_ID",	    "SLURM_ARRAY_JOB_ID",  "SLURM_ARRAY_TASK_ID",
    "SLURM_JOB_PARTITION",  "SLURMD_NODENAME",	   "SLURM_CLUSTER_NAME",
    "SLURM_CPUS_ON_NODE",   "SLURM_CPUS_PER_TASK", "SLURM_JOB_CPUS_PER_NODE",
    "SLURM_MEM_PER_NODE",   "SLURM_MEM_PER_CPU",   "SLURM_JOB_GPUS",
    "CUDA_VISIBLE_DEVICES", "SLURM_JOB_NAME",
};

static int clear_env(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(slurm_vars) / sizeof(slurm_vars[0]); i++)
		unsetenv(slurm_vars[i]);
	return 0;
}

/* What dtf_hw_detect() would say of a node with 8 cores, 64 GiB and three GPUs. */
static json_t *node_caps(void)
{
	return json_pack("{s:{s:i,s:s},s:i,s:i,s:[{s:i,s:s,s:i},{s:i,s:s,s:i},{s:i,s:s,s:i}],"
			 "s:[s,s]}",
			 "cpu", "cores", 8, "model", "Test CPU", "memory", 65536, "gpu_memory", 600,
			 "gpus", "index", 0, "uuid", "GPU-aaaa", "memory", 100, "index", 1, "uuid",
			 "GPU-bbbb", "memory", 200, "index", 2, "uuid", "GPU-cccc", "memory", 300,
			 "hardware", "cpu", "cuda");
}

static long long cores(json_t *caps)
{
	return json_integer_value(json_object_get(json_object_get(caps, "cpu"), "cores"));
}

static long long num(json_t *caps, const char *k)
{
	return json_integer_value(json_object_get(caps, k));
}

/* The GPUs' indexes, as "0,2". */
static void gpu_list(json_t *caps, char *out, size_t len)
{
	json_t *g;
	size_t i, off = 0;

	out[0] = '\0';
	json_array_foreach(json_object_get(caps, "gpus"), i, g) {
		off += (size_t)snprintf(out + off, len - off, "%s%lld", i ? "," : "",
					(long long)json_integer_value(json_object_get(g, "index")));
	}
}

static bool has_cuda(json_t *caps)
{
	json_t *h;
	size_t i;

	json_array_foreach(json_object_get(caps, "hardware"), i, h) {
		if (strcmp(json_string_value(h), "cuda") == 0)
			return true;
	}
	return false;
}

static void test_outside_a_job_changes_nothing(void **state)
{
	json_t *caps = node_caps(), *before = json_deep_copy(caps), *labels = json_object();
	char id[80] = "unchanged";

	(void)state;
	assert_int_equal(dtf_slurm_job_capabilities(caps), DTF_ENOTFOUND);
	assert_true(json_equal(caps, before));
	assert_int_equal(dtf_slurm_job_labels(labels), DTF_ENOTFOUND);
	assert_int_equal(json_object_size(labels), 0);
	assert_int_equal(dtf_slurm_worker_id(id, sizeof(id)), DTF_ENOTFOUND);
	assert_string_equal(id, "unchanged");
	assert_false(dtf_slurm_in_job());
	json_decref(caps);
	json_decref(before);
	json_decref(labels);
}

static void test_cpus_in_order_of_precedence(void **state)
{
	json_t *caps;

	(void)state;
	setenv("SLURM_JOB_ID", "12", 1);
	setenv("SLURM_CPUS_ON_NODE", "4", 1);
	setenv("SLURM_CPUS_PER_TASK", "3", 1);
	setenv("SLURM_JOB_CPUS_PER_NODE", "6(x2),2", 1);
	caps = node_caps();
	assert_int_equal(dtf_slurm_job_capabilities(caps), 0);
	assert_int_equal(cores(caps), 4);
	/* The CPU's model stays: only the count is the job's. */
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(caps, "cpu"), "model")), "Test CPU");
	json_decref(caps);

	unsetenv("SLURM_CPUS_ON_NODE");
	caps = node_caps();
	assert_int_equal(dtf_slurm_job_capabilities(caps), 0);
	assert_int_equal(cores(caps), 3);
	json_decref(caps);

	unsetenv("SLURM_CPUS_PER_TASK");
	caps = node_caps();
	assert_int_equal(dtf_slurm_job_capabilities(caps), 0);
	assert_int_equal(cores(caps), 6);
	json_decref(caps);

	/* Not a count: the detected value stays. */
	setenv("SLURM_JOB_CPUS_PER_NODE", "many", 1);
	setenv("SLURM_CPUS_ON_NODE", "0", 1);
	caps = node_caps();
	assert_int_equal(dtf_slurm_job_capabilities(caps), 0);
	assert_int_equal(cores(caps), 8);
	json_decref(caps);
}

static void test_memory_per_node_or_per_cpu(void **state)
{
	json_t *caps;

	(void)state;
	setenv("SLURM_JOB_ID", "12", 1);
	setenv("SLURM_CPUS_ON_NODE", "4", 1);
	setenv("SLURM_MEM_PER_CPU", "100", 1);
	caps = node_caps();
	assert_int_equal(dtf_slurm_job_capabilities(caps), 0);
	assert_int_equal(num(caps, "memory"), 400);
	json_decref(caps);

	setenv("SLURM_MEM_PER_NODE", "1000", 1);
	caps = node_caps();
	assert_int_equal(dtf_slurm_job_capabilities(caps), 0);
	assert_int_equal(num(caps, "memory"), 1000);
	json_decref(caps);

	unsetenv("SLURM_MEM_PER_NODE");
	unsetenv("SLURM_MEM_PER_CPU");
	caps = node_caps();
	assert_int_equal(dtf_slurm_job_capabilities(caps), 0);
	assert_int_equal(num(caps, "memory"), 65536);
	json_decref(caps);
}

static void test_gpus_of_the_allocation(void **state)
{
	json_t *caps;
	char list[64];

	(void)state;
	setenv("SLURM_JOB_ID", "12", 1);
	/* None given to the job: the node's GPUs are someone else's. */
	caps = node_caps();
	assert_int_equal(dtf_slurm_job_capabilities(caps), 0);
	gpu_list(caps, list, sizeof(list));
	assert_string_equal(list, "");
	assert_int_equal(num(caps, "gpu_memory"), 0);
	assert_false(has_cuda(caps));
	json_decref(caps);

	/* SLURM_JOB_GPUS (the node's indexes) wins over CUDA_VISIBLE_DEVICES. */
	setenv("SLURM_JOB_GPUS", "0,2", 1);
	setenv("CUDA_VISIBLE_DEVICES", "1", 1);
	caps = node_caps();
	assert_int_equal(dtf_slurm_job_capabilities(caps), 0);
	gpu_list(caps, list, sizeof(list));
	assert_string_equal(list, "0,2");
	assert_int_equal(num(caps, "gpu_memory"), 400);
	assert_true(has_cuda(caps));
	json_decref(caps);

	/* CUDA_VISIBLE_DEVICES by index, by UUID and by a UUID's prefix. */
	unsetenv("SLURM_JOB_GPUS");
	caps = node_caps();
	assert_int_equal(dtf_slurm_job_capabilities(caps), 0);
	gpu_list(caps, list, sizeof(list));
	assert_string_equal(list, "1");
	json_decref(caps);
	setenv("CUDA_VISIBLE_DEVICES", "GPU-cccc,GPU-aa", 1);
	caps = node_caps();
	assert_int_equal(dtf_slurm_job_capabilities(caps), 0);
	gpu_list(caps, list, sizeof(list));
	assert_string_equal(list, "0,2");
	assert_int_equal(num(caps, "gpu_memory"), 400);
	json_decref(caps);

	/* Slurm's word for none. */
	setenv("CUDA_VISIBLE_DEVICES", "NoDevFiles", 1);
	caps = node_caps();
	assert_int_equal(dtf_slurm_job_capabilities(caps), 0);
	gpu_list(caps, list, sizeof(list));
	assert_string_equal(list, "");
	assert_false(has_cuda(caps));
	json_decref(caps);
}

static void test_labels_leave_the_users_alone(void **state)
{
	json_t *labels = json_pack("{s:s,s:s}", "slurm_partition", "mine", "pool", "hpc");

	(void)state;
	setenv("SLURM_JOB_ID", "13", 1);
	setenv("SLURM_ARRAY_JOB_ID", "12", 1);
	setenv("SLURM_ARRAY_TASK_ID", "1", 1);
	setenv("SLURM_JOB_PARTITION", "gpu", 1);
	setenv("SLURMD_NODENAME", "node07", 1);
	setenv("SLURM_CLUSTER_NAME", "hpc1", 1);
	setenv("SLURM_JOB_NAME", "dtf-worker", 1);
	assert_int_equal(dtf_slurm_job_labels(labels), 0);
	assert_string_equal(json_string_value(json_object_get(labels, "slurm_job_name")),
			    "dtf-worker");
	assert_string_equal(json_string_value(json_object_get(labels, "launcher")), "slurm");
	assert_string_equal(json_string_value(json_object_get(labels, "slurm_job_id")), "13");
	assert_string_equal(json_string_value(json_object_get(labels, "slurm_array_job_id")), "12");
	assert_string_equal(json_string_value(json_object_get(labels, "slurm_array_task_id")), "1");
	assert_string_equal(json_string_value(json_object_get(labels, "slurm_partition")), "mine");
	assert_string_equal(json_string_value(json_object_get(labels, "slurm_node")), "node07");
	assert_string_equal(json_string_value(json_object_get(labels, "slurm_cluster")), "hpc1");
	assert_string_equal(json_string_value(json_object_get(labels, "pool")), "hpc");
	assert_int_equal(json_object_size(labels), 9);
	json_decref(labels);

	/* Not an array element: no array labels. */
	unsetenv("SLURM_ARRAY_JOB_ID");
	unsetenv("SLURM_ARRAY_TASK_ID");
	labels = json_object();
	assert_int_equal(dtf_slurm_job_labels(labels), 0);
	assert_null(json_object_get(labels, "slurm_array_job_id"));
	assert_string_equal(json_string_value(json_object_get(labels, "slurm_job_id")), "13");
	json_decref(labels);
}

static void test_worker_id_names_the_element(void **state)
{
	char id[80];

	(void)state;
	setenv("SLURM_JOB_ID", "13", 1);
	setenv("SLURM_ARRAY_JOB_ID", "12", 1);
	setenv("SLURM_ARRAY_TASK_ID", "1", 1);
	setenv("SLURM_CLUSTER_NAME", "hpc1", 1);
	assert_int_equal(dtf_slurm_worker_id(id, sizeof(id)), 0);
	assert_string_equal(id, "slurm-hpc1-12_1");
	/* A cluster name that cannot be part of an id is left out. */
	setenv("SLURM_CLUSTER_NAME", "hpc one", 1);
	assert_int_equal(dtf_slurm_worker_id(id, sizeof(id)), 0);
	assert_string_equal(id, "slurm-12_1");
	unsetenv("SLURM_CLUSTER_NAME");
	unsetenv("SLURM_ARRAY_TASK_ID");
	assert_int_equal(dtf_slurm_worker_id(id, sizeof(id)), 0);
	assert_string_equal(id, "slurm-13");
	/* Too small a buffer is refused, not cut. */
	assert_int_equal(dtf_slurm_worker_id(id, 6), DTF_ENOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_outside_a_job_changes_nothing, clear_env),
	    cmocka_unit_test_setup(test_cpus_in_order_of_precedence, clear_env),
	    cmocka_unit_test_setup(test_memory_per_node_or_per_cpu, clear_env),
	    cmocka_unit_test_setup(test_gpus_of_the_allocation, clear_env),
	    cmocka_unit_test_setup(test_labels_leave_the_users_alone, clear_env),
	    cmocka_unit_test_setup(test_worker_id_names_the_element, clear_env),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
