/* json_bench.c: the project's JSON reader and writer (src/common/json.c) against jansson's, on
 * a finished task's document as the coordinator stores it (about 600 bytes: command, result,
 * history). Reading includes building the value and freeing it. Each side runs N times (default
 * 200,000), interleaved in three rounds; prints µs per document and the ratios. Usage:
 * build/json_bench [N]. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"

static const char doc[] =
    "{\"id\":\"t-1a2ce9a22cf21d76\",\"run_id\":\"r-2663f2307cb3b6bc\",\"seq\":1234,"
    "\"name\":\"tests/test_x.py::test_y[3]\",\"type\":\"command\","
    "\"command\":[\"pytest\",\"-q\",\"tests/test_x.py\"],\"priority\":5,\"max_retries\":0,"
    "\"timeout_s\":3600.0,\"hardware\":[],\"requirements\":{\"hardware\":[]},\"params\":{},"
    "\"status\":\"completed\",\"attempt\":1,\"created_at\":\"2026-11-24T10:00:00.123Z\","
    "\"worker_id\":\"w1\",\"assigned_at\":\"2026-11-24T10:00:01.000Z\","
    "\"result\":{\"exit_code\":0,\"stdout\":\"1 passed in 0.01s\\n\",\"stderr\":\"\","
    "\"duration_s\":0.0123},\"history\":[{\"attempt\":1,\"worker_id\":\"w1\","
    "\"outcome\":\"passed\",\"finished_at\":\"2026-11-24T10:00:01.500Z\"}]}";

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One timed loop: 0 jansson's reader, 1 ours, 2 jansson's writer, 3 ours. */
static double run(int which, const json_t *v, long n)
{
	size_t len = sizeof(doc) - 1;
	double t0 = now_s();
	long i;

	for (i = 0; i < n; i++) {
		json_t *r = NULL;
		char *s = NULL;

		switch (which) {
		case 0:
			r = json_loadb(doc, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
			break;
		case 1:
			r = dtf_json_load(doc, len, DTF_JSON_MAX_DEPTH);
			break;
		case 2:
			s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			break;
		default:
			s = dtf_json_dumps(v);
			break;
		}
		if (!r && !s) {
			fprintf(stderr, "json_bench: loop %d failed\n", which);
			exit(1);
		}
		json_decref(r);
		free(s);
	}
	return (now_s() - t0) / (double)n * 1e6;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	double best[4] = {1e9, 1e9, 1e9, 1e9};
	json_t *v = dtf_json_load(doc, sizeof(doc) - 1, DTF_JSON_MAX_DEPTH);
	char *a, *b;
	int round, k;

	if (!v || n < 1) {
		fprintf(stderr, "usage: json_bench [N]\n");
		return 2;
	}
	/* The two writers agree, or the comparison means nothing. */
	a = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	b = dtf_json_dumps(v);
	if (!a || !b || strcmp(a, b) != 0) {
		fprintf(stderr, "json_bench: the writers disagree\n");
		return 1;
	}
	free(a);
	free(b);
	for (round = 0; round < 3; round++)
		for (k = 0; k < 4; k++) {
			double us = run(k, v, n);

			if (us < best[k])
				best[k] = us;
		}
	printf("document: %zu bytes, %ld times each, best of 3 rounds\n", sizeof(doc) - 1, n);
	printf("read  (build and free the value): jansson %.2f us, dtf %.2f us: %.1fx\n", best[0],
	       best[1], best[0] / best[1]);
	printf("write (compact text):             jansson %.2f us, dtf %.2f us: %.1fx\n", best[2],
	       best[3], best[2] / best[3]);
	json_decref(v);
	return 0;
}
