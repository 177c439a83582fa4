/* browsers.c: what the coordinator knows of the workers' browser pools (docs/browsers.md): the
 * instances and their states (from the workers' heartbeats), the probed capabilities (from their
 * registrations) and the performance history of browser benchmarks: per (worker, browser,
 * adapter, benchmark) the metrics of the last BPERF_KEEP passed runs, kept in the store (one
 * document per key, rewritten with each run, loaded at start) when it has the table, with a
 * regression flagged when the last run is worse than the median of the ones before by more than
 * BPERF_REGRESSION. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
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
	/* In the transaction of the result that made it. */
	if (c->store->ops->put_browser_perf && c->store->ops->put_browser_perf(c->store, key, e))
		log_warn("browsers: the performance history of %s was not stored: %s", key,
			 c->store->error);
}

static int load_cb(void *arg, const char *key, json_t *doc)
{
	struct coord *c = arg;
	json_t *runs = json_object_get(doc, "runs");

	if (!json_is_array(runs) || !json_is_string(json_object_get(doc, "benchmark")) ||
	    json_object_size(c->browser_perf) >= BPERF_MAX_KEYS)
		return 0;
	/* Bounded per key whatever the stored document says. */
	while (json_array_size(runs) > BPERF_KEEP)
		json_array_remove(runs, 0);
	json_object_set(c->browser_perf, key, doc);
	return 0;
}

int browsers_load(struct coord *c)
{
	if (!c->store->ops->load_browser_perf)
		return 0;
	if (!c->browser_perf)
		c->browser_perf = json_object();
	return c->store->ops->load_browser_perf(c->store, load_cb, c);
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

/* The median of metric k over runs[0..j) (the runs before run j), at most BPERF_KEEP of them;
 * returns how many values it had. */
static size_t median_before(json_t *runs, size_t j, const char *k, double *med)
{
	double base[BPERF_KEEP];
	size_t m = 0, i;

	for (i = j > BPERF_KEEP ? j - BPERF_KEEP : 0; i < j; i++) {
		json_t *x = json_object_get(json_object_get(json_array_get(runs, i), "metrics"), k);
		if (json_is_number(x))
			base[m++] = json_number_value(x);
	}
	if (!m)
		return 0;
	qsort(base, m, sizeof(base[0]), cmp_double);
	*med = m % 2 ? base[m / 2] : (base[m / 2 - 1] + base[m / 2]) / 2;
	return m;
}

/* True if cur is worse than med by more than the margin, for a metric of direction dir. */
static bool regressed(int dir, double cur, double med, double *change)
{
	*change = med != 0 ? (cur - med) / med : 0;
	return med != 0 && ((dir > 0 && *change < -BPERF_REGRESSION) ||
			    (dir < 0 && *change > BPERF_REGRESSION));
}

#define BPERF_TREND 10 /* values a report shows per metric: this run's and the ones before */

/* One report item: the run at index j of entry e, each judged metric with its trend. */
static json_t *report_item(json_t *e, json_t *runs, size_t j)
{
	json_t *run = json_array_get(runs, j), *metrics = json_array(), *v;
	json_t *cur = json_object_get(run, "metrics");
	bool any = false;
	const char *k;

	json_object_foreach(cur, k, v) {
		int dir = direction(k);
		json_t *trend = json_array(), *item;
		double med = 0, change = 0;
		size_t i, m;
		bool reg = false;
		if (!dir || !json_is_number(v)) {
			json_decref(trend);
			continue;
		}
		for (i = j + 1 > BPERF_TREND ? j + 1 - BPERF_TREND : 0; i <= j; i++) {
			json_t *x =
			    json_object_get(json_object_get(json_array_get(runs, i), "metrics"), k);
			json_array_append_new(trend,
					      json_is_number(x) ? json_incref(x) : json_null());
		}
		m = median_before(runs, j, k, &med);
		item =
		    json_pack("{s:s,s:O,s:o,s:s,s:I}", "metric", k, "value", v, "trend", trend,
			      "better", dir > 0 ? "higher" : "lower", "runs_before", (json_int_t)m);
		if (m >= BPERF_MIN_BASE) {
			reg = regressed(dir, json_number_value(v), med, &change);
			json_object_set_new(item, "median", json_real(med));
			json_object_set_new(item, "change_pct", json_real(change * 100));
		}
		json_object_set_new(item, "regression", json_boolean(reg));
		any = any || reg;
		json_array_append_new(metrics, item);
	}
	return json_pack(
	    "{s:O,s:O,s:O,s:O,s:O,s:O,s:b,s:f,s:o}", "benchmark", json_object_get(e, "benchmark"),
	    "task_id", json_object_get(run, "task_id"), "worker_id",
	    json_object_get(e, "worker_id"), "browser", json_object_get(e, "browser"), "adapter",
	    json_object_get(e, "adapter"), "at", json_object_get(run, "at"), "regression", any,
	    "margin_pct", BPERF_REGRESSION * 100, "metrics", metrics);
}

json_t *core_browsers_report(struct coord *c, struct ctask **ts, size_t n)
{
	json_t *ids = NULL, *out = NULL, *e;
	const char *k;
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(dtf_json_str(task_doc(ts[i]), "type", ""), "browser") == 0 &&
		    ts[i]->status == TS_COMPLETED) {
			if (!ids)
				ids = json_object();
			json_object_set_new(ids, ts[i]->id, json_true());
		}
	if (!ids || !c->browser_perf)
		goto done;
	json_object_foreach(c->browser_perf, k, e) {
		json_t *runs = json_object_get(e, "runs"), *r;
		size_t j;
		json_array_foreach(runs, j, r) {
			if (!json_object_get(ids, dtf_json_str(r, "task_id", "")))
				continue;
			if (!out)
				out = json_array();
			json_array_append_new(out, report_item(e, runs, j));
		}
	}
done:
	json_decref(ids);
	return out;
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
