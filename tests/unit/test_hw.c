/* test_hw.c: unit tests for worker/hw: the shape of the capabilities object, CPU cores as the
 * system reports them, and NVML handling: missing library, library without NVML symbols, and a
 * fake NVML (tests/fixtures/fake_nvml.c, passed in DTF_FAKE_NVML by CMake) with two GPUs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit_main.h"
#include "worker/hw.h"

static bool array_has(json_t *a, const char *s)
{
	size_t i;

	for (i = 0; i < json_array_size(a); i++) {
		if (json_is_string(json_array_get(a, i)) &&
		    strcmp(json_string_value(json_array_get(a, i)), s) == 0)
			return true;
	}
	return false;
}

static long expected_cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) >= 1 &&
	    CPU_COUNT(&set) < n)
		n = CPU_COUNT(&set);
	return n;
}

static void test_detect_shape(void **state)
{
	json_t *caps, *cpu, *gpus, *hw;
	char *dump;

	(void)state;
	caps = dtf_hw_detect();
	assert_non_null(caps);
	dump = json_dumps(caps, JSON_COMPACT);
	print_message("capabilities: %.300s\n", dump ? dump : "?");
	free(dump);

	cpu = json_object_get(caps, "cpu");
	assert_true(json_is_object(cpu));
	assert_true(json_is_integer(json_object_get(cpu, "cores")));
	assert_in_range(json_integer_value(json_object_get(cpu, "cores")), 1, 1 << 20);
	assert_int_equal(json_integer_value(json_object_get(cpu, "cores")), expected_cores());
	assert_true(json_is_string(json_object_get(cpu, "model")));
	assert_true(json_is_array(json_object_get(cpu, "flags")));
#if defined(__x86_64__) || defined(__i386__)
	assert_true(strlen(json_string_value(json_object_get(cpu, "model"))) > 0);
	assert_true(json_array_size(json_object_get(cpu, "flags")) > 0);
#endif

	assert_true(json_is_integer(json_object_get(caps, "memory")));
	assert_in_range(json_integer_value(json_object_get(caps, "memory")), 1, INT64_MAX);
	assert_true(json_is_integer(json_object_get(caps, "gpu_memory")));
	gpus = json_object_get(caps, "gpus");
	assert_true(json_is_array(gpus));
	hw = json_object_get(caps, "hardware");
	assert_true(json_is_array(hw));
	assert_true(array_has(hw, "cpu"));
	assert_int_equal(array_has(hw, "cuda"), json_array_size(gpus) > 0);

	assert_string_equal(json_string_value(json_object_get(caps, "os")), "linux");
	assert_true(json_is_string(json_object_get(caps, "arch")));
	assert_true(strlen(json_string_value(json_object_get(caps, "arch"))) > 0);
	assert_true(json_is_string(json_object_get(caps, "hostname")));
	json_decref(caps);
}

static void expect_no_gpus(const char *library)
{
	char driver[64] = "junk";
	json_t *gpus, *caps;

	assert_int_equal(setenv("DTF_NVML_LIBRARY", library, 1), 0);
	gpus = dtf_hw_nvidia_gpus(driver, sizeof(driver));
	assert_non_null(gpus);
	assert_int_equal(json_array_size(gpus), 0);
	assert_string_equal(driver, "");
	json_decref(gpus);

	caps = dtf_hw_detect();
	assert_non_null(caps);
	assert_int_equal(json_array_size(json_object_get(caps, "gpus")), 0);
	assert_int_equal(json_integer_value(json_object_get(caps, "gpu_memory")), 0);
	assert_true(array_has(json_object_get(caps, "hardware"), "cpu"));
	assert_false(array_has(json_object_get(caps, "hardware"), "cuda"));
	json_decref(caps);
	unsetenv("DTF_NVML_LIBRARY");
}

static void test_no_nvml(void **state)
{
	(void)state;
	expect_no_gpus("/nonexistent/libnvidia-ml.so.1");
	/* A library that loads but has no NVML in it. */
	expect_no_gpus("libc.so.6");
}

static void test_fake_nvml(void **state)
{
	const char *lib = getenv("DTF_FAKE_NVML");
	char driver[64] = "";
	json_t *gpus, *g, *caps;

	(void)state;
	if (!lib || !*lib)
		skip();
	assert_int_equal(setenv("DTF_NVML_LIBRARY", lib, 1), 0);
	gpus = dtf_hw_nvidia_gpus(driver, sizeof(driver));
	assert_non_null(gpus);
	assert_int_equal(json_array_size(gpus), 2);
	assert_string_equal(driver, "550.54.15");
	g = json_array_get(gpus, 0);
	assert_int_equal(json_integer_value(json_object_get(g, "index")), 0);
	assert_string_equal(json_string_value(json_object_get(g, "name")), "Fake GPU H100");
	assert_int_equal(json_integer_value(json_object_get(g, "memory")), 81559);
	assert_string_equal(json_string_value(json_object_get(g, "compute_capability")), "9.0");
	assert_string_equal(json_string_value(json_object_get(g, "driver")), "550.54.15");
	assert_string_equal(json_string_value(json_object_get(g, "uuid")),
			    "GPU-00000000-fake-0000-0000-000000000000");
	g = json_array_get(gpus, 1);
	assert_int_equal(json_integer_value(json_object_get(g, "index")), 1);
	assert_string_equal(json_string_value(json_object_get(g, "compute_capability")), "8.6");
	json_decref(gpus);

	caps = dtf_hw_detect();
	assert_non_null(caps);
	assert_int_equal(json_array_size(json_object_get(caps, "gpus")), 2);
	assert_int_equal(json_integer_value(json_object_get(caps, "gpu_memory")), 81559 + 22731);
	assert_true(array_has(json_object_get(caps, "hardware"), "cuda"));
	json_decref(caps);

	/* nvmlInit failing (no driver loaded) means no GPUs. */
	assert_int_equal(setenv("FAKE_NVML_FAIL_INIT", "1", 1), 0);
	gpus = dtf_hw_nvidia_gpus(driver, sizeof(driver));
	assert_int_equal(json_array_size(gpus), 0);
	assert_string_equal(driver, "");
	json_decref(gpus);
	unsetenv("FAKE_NVML_FAIL_INIT");
	unsetenv("DTF_NVML_LIBRARY");
}

/* The fields beyond the basics, each left out when NVML lacks the entry point or says it is not
 * supported; CUDA_VISIBLE_DEVICES limiting what is offered; the live readings of heartbeats. */
static void test_fake_nvml_fields(void **state)
{
	const char *lib = getenv("DTF_FAKE_NVML"), *minimal = getenv("DTF_FAKE_NVML_MINIMAL");
	char driver[64] = "";
	json_t *gpus, *g, *live;

	(void)state;
	if (!lib || !*lib || !minimal || !*minimal)
		skip();
	assert_int_equal(setenv("DTF_NVML_LIBRARY", lib, 1), 0);
	assert_int_equal(setenv("FAKE_NVML_GPUS", "3", 1), 0);
	assert_int_equal(setenv("FAKE_NVML_FREE", "1000,2000,3000", 1), 0);
	assert_int_equal(setenv("FAKE_NVML_UTIL", "10,20,30", 1), 0);
	unsetenv("CUDA_VISIBLE_DEVICES");
	gpus = dtf_hw_nvidia_gpus(driver, sizeof(driver));
	assert_int_equal(json_array_size(gpus), 3);
	g = json_array_get(gpus, 2);
	assert_string_equal(json_string_value(json_object_get(g, "uuid")),
			    "GPU-22222222-fake-2222-2222-000000000000");
	assert_int_equal(json_integer_value(json_object_get(g, "memory_free")), 3000);
	assert_string_equal(json_string_value(json_object_get(g, "cuda_driver")), "12.4");
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(g, "utilization"), "gpu")), 30);
	assert_int_equal(json_integer_value(json_object_get(g, "temperature_c")), 37);
	assert_true(json_real_value(json_object_get(g, "power_w")) == 72.5);
	assert_string_equal(json_string_value(json_object_get(g, "mig")), "disabled");
	json_decref(gpus);

	/* Not supported: left out, the rest still there. */
	assert_int_equal(setenv("FAKE_NVML_NOT_SUPPORTED",
				"nvmlDeviceGetPowerUsage,nvmlDeviceGetMigMode,"
				"nvmlSystemGetCudaDriverVersion_v2",
				1),
			 0);
	gpus = dtf_hw_nvidia_gpus(driver, sizeof(driver));
	g = json_array_get(gpus, 0);
	assert_null(json_object_get(g, "power_w"));
	assert_null(json_object_get(g, "mig"));
	assert_null(json_object_get(g, "cuda_driver"));
	assert_int_equal(json_integer_value(json_object_get(g, "temperature_c")), 35);
	assert_string_equal(json_string_value(json_object_get(g, "compute_capability")), "9.0");
	json_decref(gpus);
	unsetenv("FAKE_NVML_NOT_SUPPORTED");

	/* CUDA_VISIBLE_DEVICES: indices, UUIDs (or a unique prefix), in its order, up to the first
	 * entry that names no GPU; empty leaves none. */
	assert_int_equal(setenv("CUDA_VISIBLE_DEVICES", "2,0", 1), 0);
	gpus = dtf_hw_nvidia_gpus(driver, sizeof(driver));
	assert_int_equal(json_array_size(gpus), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(gpus, 0), "index")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(gpus, 1), "index")), 0);
	json_decref(gpus);
	assert_int_equal(setenv("CUDA_VISIBLE_DEVICES", "GPU-11111111,7,0", 1), 0);
	gpus = dtf_hw_nvidia_gpus(driver, sizeof(driver));
	assert_int_equal(json_array_size(gpus), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(gpus, 0), "index")), 1);
	json_decref(gpus);
	assert_int_equal(setenv("CUDA_VISIBLE_DEVICES", "", 1), 0);
	gpus = dtf_hw_nvidia_gpus(driver, sizeof(driver));
	assert_int_equal(json_array_size(gpus), 0);
	json_decref(gpus);
	assert_int_equal(setenv("CUDA_VISIBLE_DEVICES", "1", 1), 0);
	{
		json_t *caps = dtf_hw_detect();
		assert_int_equal(json_integer_value(json_object_get(caps, "gpu_memory")), 22731);
		json_decref(caps);
	}

	/* Heartbeats' readings, for the GPUs offered. */
	gpus = dtf_hw_nvidia_gpus(driver, sizeof(driver));
	live = dtf_hw_gpu_live(gpus);
	assert_int_equal(json_array_size(live), 1);
	g = json_array_get(live, 0);
	assert_int_equal(json_integer_value(json_object_get(g, "index")), 1);
	assert_int_equal(json_integer_value(json_object_get(g, "memory_free")), 2000);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(g, "utilization"), "gpu")), 20);
	json_decref(live);
	json_decref(gpus);
	unsetenv("CUDA_VISIBLE_DEVICES");

	/* An old driver without the optional entry points. */
	assert_int_equal(setenv("DTF_NVML_LIBRARY", minimal, 1), 0);
	gpus = dtf_hw_nvidia_gpus(driver, sizeof(driver));
	assert_int_equal(json_array_size(gpus), 3);
	g = json_array_get(gpus, 0);
	assert_int_equal(json_integer_value(json_object_get(g, "memory_free")), 1000);
	assert_null(json_object_get(g, "cuda_driver"));
	assert_null(json_object_get(g, "utilization"));
	assert_null(json_object_get(g, "temperature_c"));
	assert_null(json_object_get(g, "power_w"));
	assert_null(json_object_get(g, "mig"));
	json_decref(gpus);
	unsetenv("FAKE_NVML_GPUS");
	unsetenv("FAKE_NVML_FREE");
	unsetenv("FAKE_NVML_UTIL");
	unsetenv("DTF_NVML_LIBRARY");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_detect_shape),
	    cmocka_unit_test(test_no_nvml),
	    cmocka_unit_test(test_fake_nvml),
	    cmocka_unit_test(test_fake_nvml_fields),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
