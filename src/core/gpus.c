/* gpus.c: the GPUs of workers that report them (capabilities.gpus, from NVML), given out one
 * task at a time. A task that needs GPUs (requirements.gpus, else one when it needs cuda or
 * gpu_memory) gets whole GPUs of its worker, each with at least its gpu_memory free as the
 * worker's latest heartbeat reported it, and never one another task of dtf holds: the indices
 * go to the worker in the task's "assigned_gpus", which sets CUDA_VISIBLE_DEVICES from them.
 * Workers that declare GPU memory without a GPU list (--capabilities) keep the pooled rule of
 * lease.c: gpu_memory against their total. docs/gpu.md says why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "core/model.h"

/* The most GPUs a task may ask for, and a worker may offer. */
#define MAX_GPUS 64

int gpus_of_task(const json_t *doc, const json_t *hw_any, const json_t *hw_all, double gpu_memory)
{
	const json_t *req = json_object_get(doc, "requirements"), *e;
	const json_t *n = json_object_get(req, "gpus");
	bool all_cuda = json_array_size(hw_any) > 0;
	size_t i;

	if (json_is_integer(n))
		return json_integer_value(n) < 0	  ? 0
		       : json_integer_value(n) > MAX_GPUS ? MAX_GPUS
							  : (int)json_integer_value(n);
	if (gpu_memory > 0)
		return 1;
	json_array_foreach(hw_all, i, e)
		if (strcmp(json_string_value(e) ? json_string_value(e) : "", "cuda") == 0)
			return 1;
	json_array_foreach(hw_any, i, e)
		if (strcmp(json_string_value(e) ? json_string_value(e) : "", "cuda") != 0)
			all_cuda = false;
	return all_cuda ? 1 : 0;
}

void gpus_load(struct cworker *w, const json_t *caps)
{
	const json_t *list = json_object_get(caps, "gpus"), *g;
	struct cgpu *old = w->gpus, *fresh = NULL;
	int nold = w->ngpus, n = 0, j;
	size_t i;

	if (json_array_size(list) > 0)
		fresh = calloc(json_array_size(list) < MAX_GPUS ? json_array_size(list) : MAX_GPUS,
			       sizeof(*fresh));
	json_array_foreach(fresh ? list : NULL, i, g) {
		struct cgpu *d = &fresh[n];

		if (n >= MAX_GPUS || !json_is_object(g) ||
		    !json_is_integer(json_object_get(g, "index")) ||
		    dtf_json_num(g, "memory", 0) <= 0)
			continue;
		d->index = (int)json_integer_value(json_object_get(g, "index"));
		d->total = dtf_json_num(g, "memory", 0);
		d->free = dtf_json_num(g, "memory_free", -1);
		d->util = (int)dtf_json_int(json_object_get(g, "utilization"), "gpu", -1);
		d->doc = (json_t *)g;
		/* A worker registering again keeps what its tasks hold. */
		for (j = 0; j < nold; j++)
			if (old[j].index == d->index) {
				snprintf(d->task, sizeof(d->task), "%s", old[j].task);
				d->reserved = old[j].reserved;
			}
		n++;
	}
	free(old);
	w->gpus = n ? fresh : NULL;
	w->ngpus = n;
	if (!n)
		free(fresh);
}

void gpus_free(struct cworker *w)
{
	free(w->gpus);
	w->gpus = NULL;
	w->ngpus = 0;
}

static struct cgpu *gpu_by_index(const struct cworker *w, json_int_t index)
{
	for (int i = 0; i < w->ngpus; i++)
		if (w->gpus[i].index == index)
			return &w->gpus[i];
	return NULL;
}

/* What a free GPU offers a new task: the free memory of the latest report (it counts processes
 * outside dtf), never more than its total; the total when nothing was reported. */
static double gpu_available(const struct cgpu *g)
{
	return g->free >= 0 && g->free < g->total ? g->free : g->total;
}

bool gpus_heartbeat(struct cworker *w, const json_t *live)
{
	const json_t *e;
	bool more = false;
	size_t i;

	json_array_foreach(live, i, e) {
		struct cgpu *g;

		if (i >= MAX_GPUS || !json_is_integer(json_object_get(e, "index")))
			continue;
		g = gpu_by_index(w, json_integer_value(json_object_get(e, "index")));
		if (!g)
			continue;
		if (json_is_number(json_object_get(e, "memory_free"))) {
			double f = dtf_json_num(e, "memory_free", -1);
			if (f > g->free)
				more = true;
			g->free = f;
		}
		if (json_is_object(json_object_get(e, "utilization")))
			g->util = (int)dtf_json_int(json_object_get(e, "utilization"), "gpu", -1);
	}
	return more;
}

bool gpus_could_run(const struct ctask *t, const struct cworker *w)
{
	int fit = 0;

	if (w->ngpus == 0 || t->sx.gpus == 0)
		return true;
	for (int i = 0; i < w->ngpus; i++)
		fit += w->gpus[i].total >= t->sx.gpu_memory;
	return fit >= t->sx.gpus;
}

bool gpus_fit_now(const struct ctask *t, const struct cworker *w)
{
	int fit = 0;

	if (w->ngpus == 0 || t->sx.gpus == 0)
		return true;
	for (int i = 0; i < w->ngpus; i++)
		fit += !w->gpus[i].task[0] && gpu_available(&w->gpus[i]) >= t->sx.gpu_memory;
	return fit >= t->sx.gpus;
}

void gpus_take(struct cworker *w, struct ctask *t)
{
	json_t *doc = task_doc(t), *given;

	json_object_del(doc, "assigned_gpus");
	if (w->ngpus == 0 || t->sx.gpus == 0)
		return;
	given = json_array();
	/* Best fit: the free GPUs with the least room that still fits, so that a later task that
	 * needs a large one still finds it. */
	for (int k = 0; k < t->sx.gpus && given; k++) {
		struct cgpu *best = NULL;
		for (int i = 0; i < w->ngpus; i++) {
			struct cgpu *g = &w->gpus[i];
			if (g->task[0] || gpu_available(g) < t->sx.gpu_memory)
				continue;
			if (!best || gpu_available(g) < gpu_available(best))
				best = g;
		}
		if (!best)
			break; /* lease_fits_now said it fits: only when memory ran out */
		snprintf(best->task, sizeof(best->task), "%s", t->id);
		best->reserved = t->sx.gpu_memory;
		json_array_append_new(given, json_integer(best->index));
	}
	if (given)
		json_object_set_new(doc, "assigned_gpus", given);
}

void gpus_hold(struct cworker *w, const struct ctask *t)
{
	const json_t *e;
	size_t i;

	json_array_foreach(json_object_get(task_doc((struct ctask *)t), "assigned_gpus"), i, e) {
		struct cgpu *g = gpu_by_index(w, json_integer_value(e));
		if (g) {
			snprintf(g->task, sizeof(g->task), "%s", t->id);
			g->reserved = t->sx.gpu_memory;
		}
	}
}

void gpus_give_back(struct cworker *w, const struct ctask *t)
{
	for (int i = 0; i < w->ngpus; i++)
		if (strcmp(w->gpus[i].task, t->id) == 0) {
			w->gpus[i].task[0] = '\0';
			w->gpus[i].reserved = 0;
		}
}

double gpus_available(const struct cworker *w)
{
	double sum = 0;

	if (w->ngpus == 0)
		return w->gpu_memory - w->used_gpu_memory;
	for (int i = 0; i < w->ngpus; i++)
		if (!w->gpus[i].task[0])
			sum += gpu_available(&w->gpus[i]);
	return sum;
}

void gpus_sync(struct cworker *w)
{
	for (int i = 0; i < w->ngpus; i++) {
		struct cgpu *g = &w->gpus[i];
		json_t *d = g->doc;

		if (g->free >= 0)
			json_object_set_new(d, "memory_free", json_integer((json_int_t)g->free));
		if (g->util >= 0 && g->util <= 100) {
			json_t *u = json_object_get(d, "utilization");
			if (json_is_object(u))
				json_object_set_new(u, "gpu", json_integer(g->util));
			else
				json_object_set_new(d, "utilization",
						    json_pack("{s:i}", "gpu", g->util));
		}
		if (g->task[0])
			json_object_set_new(d, "task_id", json_string(g->task));
		else
			json_object_del(d, "task_id");
	}
}

int gpus_explain(struct coord *c, const struct ctask *t, char *why, size_t len)
{
	size_t pos = 0;
	const char *k;
	void *v;
	double best_total = 0, best_free = -1;
	int gpu_workers = 0, most = 0, unheld = 0;

	if (t->sx.gpus == 0)
		return 0;
	while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0) {
		struct cworker *w = v;
		if (w->status == WS_LOST || w->ngpus == 0)
			continue;
		gpu_workers++;
		most = w->ngpus > most ? w->ngpus : most;
		for (int i = 0; i < w->ngpus; i++) {
			struct cgpu *g = &w->gpus[i];
			best_total = g->total > best_total ? g->total : best_total;
			if (!g->task[0]) {
				unheld++;
				if (gpu_available(g) > best_free)
					best_free = gpu_available(g);
			}
		}
	}
	if (gpu_workers == 0)
		return 0;
	if (t->sx.gpus > most) {
		snprintf(why, len,
			 "it needs %d GPUs, the most any worker offers is %d; requirements.gpus "
			 "counts whole GPUs",
			 t->sx.gpus, most);
		return 2;
	}
	if (t->sx.gpu_memory > best_total) {
		snprintf(why, len,
			 "it needs gpu_memory %.0f MiB on one GPU, the largest GPU of any worker "
			 "has %.0f MiB",
			 t->sx.gpu_memory, best_total);
		return 2;
	}
	if (unheld == 0) {
		snprintf(why, len,
			 "every GPU is given to another task (a GPU runs one task at a time)");
		return 1;
	}
	if (t->sx.gpu_memory > best_free) {
		snprintf(why, len,
			 "it needs gpu_memory %.0f MiB free on one GPU, the most any free GPU has "
			 "is %.0f MiB (as its worker's last heartbeat reported)",
			 t->sx.gpu_memory, best_free);
		return 1;
	}
	return 0;
}
