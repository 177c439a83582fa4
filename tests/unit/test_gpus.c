/* test_gpus.c: unit tests of GPU matching (src/core/gpus.c) on the in-memory coordinator: which
 * tasks need a GPU, whole GPUs given to one task at a time (two 1-GPU tasks on a 2-GPU worker get
 * different ones, a third waits), gpu_memory matched GPU by GPU against the free memory of the
 * latest heartbeat, best fit, the reasons a pending GPU task gives, the GPUs given back when a
 * task ends, and workers that declare GPU memory without a GPU list keeping the pooled rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/json.h"
#include "coord_fixture.h"
#include "core/model.h"
#include "unit_main.h"

/* Two GPUs: index 0 an 80 GB one with 79000 MiB free, index 1 a 24 GB one with 23000 free. */
#define TWO_GPUS                                                                                   \
	"{\"slots\": 4, \"capabilities\": {\"hardware\": [\"cpu\", \"cuda\"], \"gpu_memory\": "    \
	"104000, \"gpus\": [{\"index\": 0, \"memory\": 80000, \"memory_free\": 79000}, "           \
	"{\"index\": 1, \"memory\": 24000, \"memory_free\": 23000}]}}"

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		print_error("\"%s\" does not contain \"%s\"\n", hay, needle);
	assert_non_null(strstr(hay, needle));
}

/* The GPU indices leased task t was given, as "0,1". */
static const char *given(struct ctask *t, char *buf, size_t len)
{
	json_t *a = json_object_get(task_doc(t), "assigned_gpus"), *e;
	size_t i, n = 0;

	buf[0] = '\0';
	json_array_foreach(a, i, e)
		n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%lld", i ? "," : "",
				      (long long)json_integer_value(e));
	return buf;
}

static void test_one_task_per_gpu(void **state)
{
	struct coord *c = ((struct coord_fixture *)*state)->c;
	struct cworker *w = coord_fixture_add_worker(c, "g", TWO_GPUS);
	struct ctask *a = coord_fixture_add_task(c, "a", "{\"hardware\": \"cuda\"}");
	struct ctask *b = coord_fixture_add_task(c, "b", "{\"hardware\": [\"cuda\"]}");
	struct ctask *x = coord_fixture_add_task(c, "x", "{\"hardware\": \"cuda\"}");
	struct ctask *p = coord_fixture_add_task(c, "p", "{}");
	json_t *tasks;
	char ga[32], gb[32], why[512];

	assert_int_equal(w->ngpus, 2);
	tasks = coord_fixture_lease(c, w, 4);
	/* a, b and the plain task: the third GPU task waits for a GPU, though a slot is free. */
	assert_int_equal(json_array_size(tasks), 3);
	json_decref(tasks);
	assert_int_equal(a->status, TS_ASSIGNED);
	assert_int_equal(b->status, TS_ASSIGNED);
	assert_int_equal(p->status, TS_ASSIGNED);
	assert_int_equal(x->status, TS_PENDING);
	given(a, ga, sizeof(ga));
	given(b, gb, sizeof(gb));
	assert_true(strlen(ga) == 1 && strlen(gb) == 1);
	assert_string_not_equal(ga, gb);
	assert_null(json_object_get(task_doc(p), "assigned_gpus"));
	assert_false(lease_pending_reason(c, x, why, sizeof(why)));
	assert_contains(why, "every GPU is given to another task");
	/* The worker's document shows who holds each GPU. */
	state_worker_sync(w);
	assert_string_equal(
	    dtf_json_str(
		json_array_get(json_object_get(json_object_get(w->doc, "capabilities"), "gpus"), 0),
		"task_id", ""),
	    strcmp(ga, "0") == 0 ? "a" : "b");

	/* a ends: its GPU goes to x. */
	state_release(c, a);
	assert_true(lease_fits_now(x, w));
	tasks = coord_fixture_lease(c, w, 1);
	assert_int_equal(json_array_size(tasks), 1);
	json_decref(tasks);
	assert_int_equal(x->status, TS_ASSIGNED);
	assert_string_equal(given(x, gb, sizeof(gb)), ga);
}

static void test_free_memory(void **state)
{
	struct coord *c = ((struct coord_fixture *)*state)->c;
	struct cworker *w = coord_fixture_add_worker(c, "g", TWO_GPUS);
	struct ctask *big = coord_fixture_add_task(c, "big",
						   "{\"requirements\": "
						   "{\"gpu_memory\": 30000}}");
	struct ctask *small = coord_fixture_add_task(c, "small",
						     "{\"requirements\": "
						     "{\"gpu_memory\": 10000}}");
	json_t *low = json_pack("[{s:i,s:i}]", "index", 0, "memory_free", 25000);
	json_t *high = json_pack("[{s:i,s:i,s:{s:i,s:i}}]", "index", 0, "memory_free", 79000,
				 "utilization", "gpu", 40, "memory", 10);
	char why[512], g[32];
	json_t *tasks;

	/* Something outside dtf uses GPU 0: its free memory drops below what big needs. */
	assert_false(gpus_heartbeat(w, low));
	state_worker_sync(w);
	assert_true(lease_could_run(big, w));
	assert_false(lease_fits_now(big, w));
	assert_false(lease_pending_reason(c, big, why, sizeof(why)));
	assert_contains(why, "it needs gpu_memory 30000 MiB free on one GPU, the most any free "
			     "GPU has is 25000 MiB");
	/* available_gpu_memory: the sum over free GPUs. */
	assert_int_equal((int)dtf_json_num(w->doc, "available_gpu_memory", 0), 25000 + 23000);

	/* Best fit: small goes to GPU 1 (23000 free, less than GPU 0's 25000), leaving GPU 0 for
	 * a larger task. */
	tasks = coord_fixture_lease(c, w, 1);
	assert_int_equal(json_array_size(tasks), 1);
	json_decref(tasks);
	assert_int_equal(small->status, TS_ASSIGNED);
	assert_string_equal(given(small, g, sizeof(g)), "1");

	/* The next heartbeat says GPU 0 is free again: big fits there. */
	assert_true(gpus_heartbeat(w, high));
	state_worker_sync(w);
	assert_true(lease_fits_now(big, w));
	tasks = coord_fixture_lease(c, w, 1);
	assert_int_equal(json_array_size(tasks), 1);
	json_decref(tasks);
	assert_string_equal(given(big, g, sizeof(g)), "0");
	{
		json_t *g0 = json_array_get(
		    json_object_get(json_object_get(w->doc, "capabilities"), "gpus"), 0);
		assert_int_equal(dtf_json_int(g0, "memory_free", 0), 79000);
		assert_int_equal(dtf_json_int(json_object_get(g0, "utilization"), "gpu", 0), 40);
	}
	json_decref(low);
	json_decref(high);
}

static void test_never(void **state)
{
	struct coord *c = ((struct coord_fixture *)*state)->c;
	struct cworker *w = coord_fixture_add_worker(c, "g", TWO_GPUS);
	struct ctask *huge = coord_fixture_add_task(c, "huge",
						    "{\"requirements\": "
						    "{\"gpu_memory\": 90000}}");
	struct ctask *three = coord_fixture_add_task(c, "three",
						     "{\"hardware\": \"cuda\", "
						     "\"requirements\": {\"gpus\": 3}}");
	struct ctask *two = coord_fixture_add_task(c, "two",
						   "{\"hardware\": \"cuda\", "
						   "\"requirements\": {\"gpus\": 2}}");
	char why[512], g[32];
	json_t *tasks;

	/* 90000 MiB fits the pooled sum (104000) but no single GPU. */
	assert_false(lease_could_run(huge, w));
	assert_true(lease_pending_reason(c, huge, why, sizeof(why)));
	assert_contains(why, "no registered worker can run it: it needs gpu_memory 90000 MiB on "
			     "one GPU, the largest GPU of any worker has 80000 MiB");
	assert_false(lease_could_run(three, w));
	assert_true(lease_pending_reason(c, three, why, sizeof(why)));
	assert_contains(why, "it needs 3 GPUs, the most any worker offers is 2");
	tasks = coord_fixture_lease(c, w, 4);
	assert_int_equal(json_array_size(tasks), 1);
	json_decref(tasks);
	assert_string_equal(given(two, g, sizeof(g)), "1,0");
}

static void test_which_tasks_need_gpus(void **state)
{
	struct coord *c = ((struct coord_fixture *)*state)->c;

	assert_int_equal(coord_fixture_add_task(c, "a", "{\"hardware\": \"cuda\"}")->sx.gpus, 1);
	assert_int_equal(
	    coord_fixture_add_task(c, "b", "{\"hardware\": [\"cuda\", \"cpu\"]}")->sx.gpus, 0);
	assert_int_equal(coord_fixture_add_task(c, "c",
						"{\"requirements\": {\"hardware\": "
						"[\"cuda\"]}}")
			     ->sx.gpus,
			 1);
	assert_int_equal(
	    coord_fixture_add_task(c, "d", "{\"requirements\": {\"gpu_memory\": 1}}")->sx.gpus, 1);
	assert_int_equal(coord_fixture_add_task(c, "e",
						"{\"hardware\": \"cuda\", \"requirements\": "
						"{\"gpus\": 0}}")
			     ->sx.gpus,
			 0);
	assert_int_equal(coord_fixture_add_task(c, "f", "{}")->sx.gpus, 0);
}

/* A worker that declares GPU memory and cuda without a GPU list (--capabilities) keeps the
 * pooled rule: several GPU tasks at once, gpu_memory against its total. */
static void test_declared_only(void **state)
{
	struct coord *c = ((struct coord_fixture *)*state)->c;
	struct cworker *w =
	    coord_fixture_add_worker(c, "d",
				     "{\"slots\": 4, \"capabilities\": {\"hardware\": [\"cuda\"], "
				     "\"gpu_memory\": 16000}}");
	json_t *tasks;

	assert_int_equal(w->ngpus, 0);
	coord_fixture_add_task(c, "a",
			       "{\"hardware\": \"cuda\", \"requirements\": "
			       "{\"gpu_memory\": 6000}}");
	coord_fixture_add_task(c, "b",
			       "{\"hardware\": \"cuda\", \"requirements\": "
			       "{\"gpu_memory\": 6000}}");
	coord_fixture_add_task(c, "c",
			       "{\"hardware\": \"cuda\", \"requirements\": "
			       "{\"gpu_memory\": 6000}}");
	tasks = coord_fixture_lease(c, w, 4);
	assert_int_equal(json_array_size(tasks), 2);
	assert_null(json_object_get(json_array_get(tasks, 0), "assigned_gpus"));
	json_decref(tasks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    coord_fixture_test(test_which_tasks_need_gpus),
	    coord_fixture_test(test_one_task_per_gpu),
	    coord_fixture_test(test_free_memory),
	    coord_fixture_test(test_never),
	    coord_fixture_test(test_declared_only),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
