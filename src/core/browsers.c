/* browsers.c: what the coordinator knows of the workers' browser pools (docs/browsers.md): the
 * instances and their states (from the workers' heartbeats), the probed capabilities (from their
 * registrations) and the performance history of browser benchmarks: per (worker, browser,
 * adapter, benchmark) the metrics of the last BPERF_KEEP passed runs, in memory, with a
 * regression flagged when the last run is worse than the median of the ones before by more than
 * BPERF_REGRESSION. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "core/model.h"
#include "core/ops.h"

#define BPERF_KEEP	 50   /* runs kept per key */
#define BPERF_MAX_KEYS	 4096 /* keys at most: past it, new keys are not recorded */
#define BPERF_REGRESSION 0.20 /* worse by more than this fraction of the baseline */
#define BPERF_MIN_BASE	 3    /* runs before the last one needed to judge it */

/* The adapter a worker's probe found, as one string ("google swiftshader (software)"). */
static void adapter_of(json_t *probe, char *out, size_t len)
{
	json_t *gpu = json_object_get(probe, "webgpu");
	json_t *info = json_object_get(gpu, "info");

	if (!dtf_json_bool(gpu, "adapter", false)) {
		snprintf(out, len, "none");
		return;
	}
	snprintf(out, len, "%s %s%s", dtf_json_str(info, "vendor", "?"),
		 dtf_json_str(info, "architecture", "?"),
		 dtf_json_bool(gpu, "software", false) ? " (software)" : "");
}

static json_t *probe_of(struct cworker *w, const char *browser)
{
	json_t *list = json_object_get(json_object_get(w->doc, "capabilities"), "browsers"), *b;
	size_t i;

	json_array_foreach(list, i, b)
		if (strcmp(dtf_json_str(b, "name", ""), browser) == 0)
			return b;
	return NULL;
}

void browsers_record(struct coord *c, struct ctask *t, struct cworker *w, json_t *result)
{
	json_t *doc = task_doc(t), *metrics = json_object_get(result, "metrics"), *num, *v, *e;
	json_t *runs;
	const char *browser = dtf_json_str(json_object_get(result, "browser"), "name", "chromium");
	const char *bench = dtf_json_str(doc, "name", "task");
	const char *k;
	char adapter[256], key[1024], at[32];

	if (strcmp(dtf_json_str(doc, "type", ""), "browser") != 0 || !w || !json_is_object(metrics))
		return;
	if (!c->browser_perf)
		c->browser_perf = json_object();
	adapter_of(probe_of(w, browser), adapter, sizeof(adapter));
	snprintf(key, sizeof(key), "%s|%s|%s|%s", w->id, browser, adapter, bench);
	e = json_object_get(c->browser_perf, key);
	if (!e) {
		if (json_object_size(c->browser_perf) >= BPERF_MAX_KEYS)
			return;
		e = json_pack("{s:s,s:s,s:s,s:s,s:[]}", "worker_id", w->id, "browser", browser,
			      "adapter", adapter, "benchmark", bench, "runs");
		json_object_set_new(c->browser_perf, key, e);
	}
	num = json_object();
	json_object_foreach(metrics, k, v)
		if (json_is_number(v))
			json_object_set(num, k, v);
	dtf_rfc3339(dtf_wall_ms(), at);
	runs = json_object_get(e, "runs");
	json_array_append_new(
	    runs, json_pack("{s:s,s:s,s:s,s:o}", "at", at, "task_id", t->id, "version",
			    dtf_json_str(json_object_get(result, "browser"), "version", ""),
			    "metrics", num));
	while (json_array_size(runs) > BPERF_KEEP)
		json_array_remove(runs, 0);
}

/* Higher is better for throughput-like names, lower for times; other metrics are not judged. */
static int direction(const char *metric)
{
	if (strstr(metric, "gflops") || strstr(metric, "throughput") || strstr(metric, "per_s") ||
	    strstr(metric, "ops") || strstr(metric, "fps"))
		return 1;
	if (strncmp(metric, "ms_", 3) == 0 || strstr(metric, "_ms") || strstr(metric, "latency") ||
	    strstr(metric, "duration"))
		return -1;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The entry's view: runs, the last metrics, each judged metric's baseline and any regression. */
static json_t *perf_view(json_t *e)
{
	json_t *runs = json_object_get(e, "runs");
	size_t n = json_array_size(runs), i;
	json_t *last = json_object_get(json_array_get(runs, n - 1), "metrics"), *v;
	json_t *out = json_pack(
	    "{s:O,s:O,s:O,s:I,s:O,s:[]}", "benchmark", json_object_get(e, "benchmark"), "adapter",
	    json_object_get(e, "adapter"), "browser", json_object_get(e, "browser"), "runs",
	    (json_int_t)n, "last", last ? last : json_null(), "regressions");
	json_t *reg = json_object_get(out, "regressions");
	const char *k;

	if (n < BPERF_MIN_BASE + 1)
		return out;
	json_object_foreach(last, k, v) {
		int dir = direction(k);
		double base[BPERF_KEEP], cur = json_number_value(v), med, change;
		size_t m = 0;
		if (!dir)
			continue;
		for (i = 0; i + 1 < n; i++) {
			json_t *x =
			    json_object_get(json_object_get(json_array_get(runs, i), "metrics"), k);
			if (json_is_number(x))
				base[m++] = json_number_value(x);
		}
		if (m < BPERF_MIN_BASE)
			continue;
		qsort(base, m, sizeof(base[0]), cmp_double);
		med = m % 2 ? base[m / 2] : (base[m / 2 - 1] + base[m / 2]) / 2;
		if (med == 0)
			continue;
		change = (cur - med) / med;
		if ((dir > 0 && change < -BPERF_REGRESSION) ||
		    (dir < 0 && change > BPERF_REGRESSION))
			json_array_append_new(reg, json_pack("{s:s,s:f,s:f,s:f}", "metric", k,
							     "last", cur, "baseline", med,
							     "change_pct", change * 100));
	}
	return out;
}

json_t *core_browsers_list(struct coord *c)
{
	json_t *list = json_array(), *e;
	size_t pos = 0;
	const char *k;
	void *v;

	while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0) {
		struct cworker *w = v;
		json_t *probes =
		    json_object_get(json_object_get(w->doc, "capabilities"), "browsers");
		json_t *pool = json_object_get(w->doc, "browser_pool"), *b;
		size_t i;
		json_array_foreach(probes, i, b) {
			const char *name = dtf_json_str(b, "name", "");
			char adapter[256], prefix[600];
			json_t *item, *inst = json_array(), *perf = json_array(), *x;
			const char *pk;
			size_t j;
			adapter_of(b, adapter, sizeof(adapter));
			json_array_foreach(pool, j, x)
				if (strcmp(dtf_json_str(x, "browser", name), name) == 0)
					json_array_append(inst, x);
			snprintf(prefix, sizeof(prefix), "%s|%s|", w->id, name);
			json_object_foreach(c->browser_perf, pk, e)
				if (strncmp(pk, prefix, strlen(prefix)) == 0)
					json_array_append_new(perf, perf_view(e));
			item = json_pack(
			    "{s:s,s:s,s:s,s:s,s:s,s:b,s:O?,s:O?,s:o,s:o}", "worker_id", w->id,
			    "worker_status", dtf_json_str(w->doc, "status", ""), "browser", name,
			    "version", dtf_json_str(b, "version", ""), "adapter", adapter,
			    "software",
			    dtf_json_bool(json_object_get(b, "webgpu"), "software", false),
			    "webgpu", json_object_get(b, "webgpu"), "webnn",
			    json_object_get(b, "webnn"), "instances", inst, "benchmarks", perf);
			json_array_append_new(list, item);
		}
	}
	return list;
}
