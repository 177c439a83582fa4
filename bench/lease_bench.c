/* lease_bench.c: how long one lease decision takes with 1,000 workers and 1k, 10k and 100k
 * pending tasks, per strategy. Builds the coordinator's state without HTTP or store (the
 * simulator's coordinator), fills it with tasks of a few hardware classes and users, then times
 * lease_tasks() for one task on a random worker; each leased task goes back to pending, so the
 * queue length stays put. Run by bench/lease.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "core/model.h"
#include "core/sim.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static const char *const hw[] = {"cpu", "cuda", "rocm", "tpu"};

static int run(const char *strategy, size_t pending, int nworkers, int iters)
{
	char err[256], id[32];
	struct coord *c = sim_coord_new(NULL, strategy, false, 8, err, sizeof(err));
	double *lat = calloc((size_t)iters, sizeof(*lat)), sum = 0;
	struct cworker **ws = calloc((size_t)nworkers, sizeof(*ws));
	uint64_t s = 88172645463325252ULL;
	size_t i;
	int k, got = 0;

	if (!c || !lat || !ws) {
		fprintf(stderr, "lease_bench: %s\n", c ? "out of memory" : err);
		return 1;
	}
	for (k = 0; k < nworkers; k++) {
		json_t *doc = json_pack("{s:i,s:{s:{s:i},s:[s,s]}}", "slots", 4, "capabilities",
					"cpu", "cores", 16, "hardware", "cpu", hw[k % 4]);
		snprintf(id, sizeof(id), "w-%d", k);
		ws[k] = state_add_worker(c, id, doc);
	}
	for (i = 0; i < pending; i++) {
		char user[16], name[32];
		json_t *in, *doc;
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		snprintf(id, sizeof(id), "t-%zu", i);
		snprintf(user, sizeof(user), "u%d", (int)(s % 8));
		snprintf(name, sizeof(name), "test-%zu", i % 5000);
		in = json_pack("{s:s,s:s,s:s,s:[s],s:s,s:i,s:{s:i}}", "id", id, "name", name,
			       "user", user, "command", "true", "hardware", hw[(s >> 8) % 4],
			       "priority", (int)(1 + (s >> 16) % 10), "requirements", "cpu",
			       (int)(1 + (s >> 24) % 4));
		doc = task_normalize(in, 60, err, sizeof(err));
		json_decref(in);
		if (!doc || !state_add_task(c, doc, TS_PENDING)) {
			fprintf(stderr, "lease_bench: %s\n", err);
			return 1;
		}
	}
	for (k = 0; k < iters; k++) {
		struct cworker *w;
		json_t *tasks;
		double t0;
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		w = ws[s % (uint64_t)nworkers];
		t0 = now_us();
		tasks = lease_tasks(c, w, 1);
		lat[k] = now_us() - t0;
		sum += lat[k];
		if (json_array_size(tasks)) {
			struct ctask *t = dtf_hmap_get(
			    &c->tasks, dtf_json_str(json_array_get(tasks, 0), "id", ""));
			got++;
			/* Back to pending: the queue keeps its length. */
			state_release(c, t);
			state_set_status(c, t, TS_PENDING);
		}
		json_decref(tasks);
	}
	qsort(lat, (size_t)iters, sizeof(*lat), cmp_d);
	printf("%-15s %8zu %8d %10.1f %10.1f %10.1f %8d\n", strategy, pending, nworkers,
	       sum / iters, lat[iters / 2], lat[iters * 99 / 100], got);
	sim_coord_free(c);
	free(lat);
	free(ws);
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const strategies[] = {"priority",	   "fair-share", "round-robin",
						 "resource-aware", "deadline",	 "duration"};
	static const size_t sizes[] = {1000, 10000, 100000};
	int workers = argc > 1 ? atoi(argv[1]) : 1000, iters = argc > 2 ? atoi(argv[2]) : 2000;
	size_t i, j;

	if (workers < 1 || iters < 1) {
		fprintf(stderr, "usage: lease_bench [WORKERS [ITERATIONS]]\n");
		return 2;
	}
	printf("%-15s %8s %8s %10s %10s %10s %8s\n", "strategy", "pending", "workers", "mean_us",
	       "p50_us", "p99_us", "leased");
	for (i = 0; i < sizeof(strategies) / sizeof(strategies[0]); i++)
		for (j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++)
			if (run(strategies[i], sizes[j], workers, iters))
				return 1;
	return 0;
}
