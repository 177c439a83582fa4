/* sim.c: the scheduling simulator (see sim.h). Every task is submitted at time 0; a worker asks
 * for work at the start and whenever one of its tasks ends, exactly as a real worker's lease
 * does, and the real lease_tasks() answers it. Time only moves from one task end to the next. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/util.h"
#include "core/constraints.h"
#include "core/model.h"
#include "core/sim.h"

/* ---- a store that keeps nothing ---- */

static int null_open(struct dtf_store *st, const char *target)
{
	(void)st;
	(void)target;
	return 0;
}
static void null_close(struct dtf_store *st)
{
	(void)st;
}
static int null_tx(struct dtf_store *st)
{
	(void)st;
	return 0;
}
static int null_put_doc(struct dtf_store *st, const char *id, const json_t *doc)
{
	(void)st;
	(void)id;
	(void)doc;
	return 0;
}
static int null_put_task(struct dtf_store *st, const char *id, int64_t seq, const char *run_id,
			 const char *status, const json_t *doc)
{
	(void)st;
	(void)id;
	(void)seq;
	(void)run_id;
	(void)status;
	(void)doc;
	return 0;
}
static int null_put_attempt(struct dtf_store *st, const char *task_id, int attempt,
			    const json_t *doc)
{
	(void)st;
	(void)task_id;
	(void)attempt;
	(void)doc;
	return 0;
}
static int null_load(struct dtf_store *st, dtf_store_load_cb cb, void *arg)
{
	(void)st;
	(void)cb;
	(void)arg;
	return 0;
}

static const struct dtf_store_ops null_ops = {
    .name = "none",
    .open = null_open,
    .close = null_close,
    .begin = null_tx,
    .commit = null_tx,
    .rollback = null_tx,
    .put_run = null_put_doc,
    .put_task = null_put_task,
    .put_attempt = null_put_attempt,
    .put_worker = null_put_doc,
    .load = null_load,
};

struct coord *sim_coord_new(const json_t *sched_section, const char *strategy, bool batching,
			    int batch_limit, char *err, size_t errlen)
{
	struct coord *c = calloc(1, sizeof(*c));

	if (!c || !(c->store = calloc(1, sizeof(*c->store)))) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->store->ops = &null_ops;
	c->cfg.heartbeat_interval_s = 2;
	c->cfg.heartbeat_timeout_s = 15;
	c->cfg.default_timeout_s = 3600;
	c->cfg.batch_processing = batching;
	c->cfg.batch_size_limit = batch_limit > 0 ? batch_limit : 8;
	pthread_mutex_init(&c->lock, NULL);
	dtf_hmap_init(&c->tasks);
	dtf_hmap_init(&c->workers);
	dtf_hmap_init(&c->runs);
	c->next_seq = 1;
	if (lease_index_init(c, sched_section, strategy, err, errlen) != 0) {
		sim_coord_free(c);
		return NULL;
	}
	sx_set_virtual(c->sx, 0);
	return c;
}

void sim_coord_free(struct coord *c)
{
	if (!c)
		return;
	sx_free(c->sx);
	c->sx = NULL;
	state_free_all(c);
	pthread_mutex_destroy(&c->lock);
	free(c->store);
	free(c);
}

/* ---- events: task ends, in a binary heap by time ---- */

struct ev {
	int64_t at_ms;
	uint64_t order; /* ties end in lease order */
	struct ctask *t;
	struct cworker *w;
};

struct evq {
	struct ev *v;
	size_t n, cap;
};

static bool ev_less(const struct ev *a, const struct ev *b)
{
	return a->at_ms != b->at_ms ? a->at_ms < b->at_ms : a->order < b->order;
}

static int evq_push(struct evq *q, struct ev e)
{
	size_t i;

	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 1024;
		struct ev *v = realloc(q->v, cap * sizeof(*v));
		if (!v)
			return DTF_ENOMEM;
		q->v = v;
		q->cap = cap;
	}
	i = q->n++;
	while (i > 0 && ev_less(&e, &q->v[(i - 1) / 2])) {
		q->v[i] = q->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	q->v[i] = e;
	return 0;
}

static struct ev evq_pop(struct evq *q)
{
	struct ev top = q->v[0], last = q->v[--q->n];
	size_t i = 0;

	for (;;) {
		size_t l = 2 * i + 1, m = l;
		if (l >= q->n)
			break;
		if (l + 1 < q->n && ev_less(&q->v[l + 1], &q->v[l]))
			m = l + 1;
		if (!ev_less(&q->v[m], &last))
			break;
		q->v[i] = q->v[m];
		i = m;
	}
	if (q->n)
		q->v[i] = last;
	return top;
}

/* ---- the run ---- */

struct sim_user {
	size_t pending; /* tasks not leased yet */
	double service; /* slot-seconds received while every user had tasks waiting */
};

/* What the fairness figure needs: each task's start and end, and when the first user ran out
 * of waiting tasks (the end of the contention window). */
struct sim_track {
	struct dtf_hmap users;
	int64_t *start, *end;
	int64_t window_end; /* -1 until a user runs out */
};

static struct sim_user *user_get(struct sim_track *tr, const char *u)
{
	struct sim_user *su = dtf_hmap_get(&tr->users, u);

	if (!su && (su = calloc(1, sizeof(*su))) != NULL && dtf_hmap_put(&tr->users, u, su)) {
		free(su);
		su = NULL;
	}
	return su;
}

/* Leases to w and schedules the ends of what it got. */
static int lease_more(struct coord *c, struct cworker *w, struct evq *q, const double *dur,
		      uint64_t *order, struct sim_track *tr)
{
	json_t *got;
	size_t i;
	json_t *e;
	int rc = 0;

	if (w->used_slots >= w->slots)
		return 0;
	got = lease_tasks(c, w, w->slots - w->used_slots);
	json_array_foreach(got, i, e) {
		struct ctask *t = dtf_hmap_get(&c->tasks, dtf_json_str(e, "id", ""));
		struct ev ev;
		struct sim_user *su;
		if (!t)
			continue;
		su = dtf_hmap_get(&tr->users, dtf_json_str(task_doc(t), "user", ""));
		if (su && --su->pending == 0 && tr->window_end < 0)
			tr->window_end = sx_now_ms(c->sx);
		tr->start[t->sx.seq - 1] = sx_now_ms(c->sx);
		state_set_status(c, t, TS_RUNNING);
		ev.at_ms = sx_now_ms(c->sx) + (int64_t)llround(dur[t->sx.seq - 1] * 1000.0);
		ev.order = (*order)++;
		ev.t = t;
		ev.w = w;
		if ((rc = evq_push(q, ev)) != 0)
			break;
	}
	json_decref(got);
	return rc;
}

static json_t *worker_doc(const json_t *spec, int slots)
{
	json_t *hw = json_object_get(spec, "hardware");
	json_t *caps = json_object();
	double cores = dtf_json_num(spec, "cpu", (double)slots);

	json_object_set_new(caps, "cpu", json_pack("{s:f}", "cores", cores));
	if (json_is_array(hw))
		json_object_set(caps, "hardware", hw);
	else if (json_is_string(hw))
		json_object_set_new(caps, "hardware", json_pack("[O]", hw));
	else
		json_object_set_new(caps, "hardware", json_pack("[s]", "cpu"));
	if (json_is_number(json_object_get(spec, "memory")))
		json_object_set(caps, "memory", json_object_get(spec, "memory"));
	if (json_is_number(json_object_get(spec, "gpu_memory")))
		json_object_set(caps, "gpu_memory", json_object_get(spec, "gpu_memory"));
	if (json_is_object(json_object_get(spec, "labels")))
		return json_pack("{s:i,s:o,s:O}", "slots", slots, "capabilities", caps, "labels",
				 json_object_get(spec, "labels"));
	return json_pack("{s:i,s:o}", "slots", slots, "capabilities", caps);
}

static int add_workers(struct coord *c, const struct sim_config *cfg, const json_t *workers,
		       size_t *slots_total, char *err, size_t errlen)
{
	char id[32];
	size_t i, n = 0;
	json_t *spec;
	long long k, count;
	int slots;

	*slots_total = 0;
	if (!workers) {
		json_t *none = json_object();
		for (k = 0; k < cfg->workers; k++) {
			snprintf(id, sizeof(id), "w-%lld", k);
			if (!state_add_worker(c, id, worker_doc(none, cfg->slots))) {
				json_decref(none);
				snprintf(err, errlen, "out of memory");
				return DTF_ENOMEM;
			}
			*slots_total += (size_t)cfg->slots;
		}
		json_decref(none);
		return 0;
	}
	json_array_foreach(workers, i, spec) {
		count = dtf_json_int(spec, "count", 1);
		slots = (int)dtf_json_int(spec, "slots", cfg->slots);
		if (json_object_get(spec, "labels") &&
		    !constraints_labels_ok(json_object_get(spec, "labels"), err, errlen))
			return DTF_EINVAL;
		if (!json_is_object(spec) || count < 1 || count > SIM_MAX_WORKERS || slots < 1 ||
		    slots > 4096 || n + (size_t)count > SIM_MAX_WORKERS) {
			snprintf(err, errlen,
				 "workers[%zu]: needs count 1..%d and slots 1..4096 (at most %d "
				 "workers in all)",
				 i, SIM_MAX_WORKERS, SIM_MAX_WORKERS);
			return DTF_EINVAL;
		}
		for (k = 0; k < count; k++, n++) {
			snprintf(id, sizeof(id), "w-%zu", n);
			if (!state_add_worker(c, id, worker_doc(spec, slots))) {
				snprintf(err, errlen, "out of memory");
				return DTF_ENOMEM;
			}
			*slots_total += (size_t)slots;
		}
	}
	return 0;
}

/* Turns a workload entry into a dtf task document; its duration goes into *dur. */
static json_t *sim_task_doc(struct coord *c, const json_t *in, size_t i, double *dur, char *err,
			    size_t errlen)
{
	json_t *d = json_object_get(in, "duration_s"), *copy, *doc;
	char why[256], ts[32], name[32];

	if (!json_is_object(in) || !json_is_number(d) || json_number_value(d) < 0 ||
	    json_number_value(d) > 1e9) {
		snprintf(err, errlen, "tasks[%zu]: needs \"duration_s\", a number of seconds >= 0",
			 i);
		return NULL;
	}
	*dur = json_number_value(d);
	copy = json_deep_copy(in);
	json_object_del(copy, "duration_s");
	if (json_object_get(copy, "deadline_s")) {
		json_t *dl = json_object_get(copy, "deadline_s");
		if (!json_is_number(dl) || json_number_value(dl) < 0 ||
		    json_number_value(dl) > 1e9) {
			snprintf(err, errlen, "tasks[%zu]: \"deadline_s\" must be seconds >= 0", i);
			json_decref(copy);
			return NULL;
		}
		dtf_rfc3339(sx_wall_ms(c->sx) + (int64_t)llround(json_number_value(dl) * 1000.0),
			    ts);
		json_object_set_new(copy, "deadline", json_string(ts));
		json_object_del(copy, "deadline_s");
	}
	if (!json_object_get(copy, "command") && !json_object_get(copy, "shell"))
		json_object_set_new(copy, "command", json_pack("[s]", "true"));
	if (!json_object_get(copy, "name")) {
		snprintf(name, sizeof(name), "task-%zu", i);
		json_object_set_new(copy, "name", json_string(name));
	}
	json_object_del(copy, "id");
	snprintf(name, sizeof(name), "s-%zu", i);
	json_object_set_new(copy, "id", json_string(name));
	doc = task_normalize(copy, 3600, why, sizeof(why));
	json_decref(copy);
	if (!doc)
		snprintf(err, errlen, "tasks[%zu]: %s", i, why);
	return doc;
}

int sim_run(const struct sim_config *cfg, const json_t *tasks, const json_t *workers,
	    struct sim_result *out, char *err, size_t errlen)
{
	struct coord *c = NULL;
	struct evq q = {0};
	double *dur = NULL, total = 0, longest = 0, wait_sum = 0, num = 0, den = 0;
	struct sim_track tr = {.window_end = -1};
	size_t i, n = json_array_size(tasks), slots = 0, pos;
	uint64_t order = 0;
	int64_t start = dtf_mono_ms(), last_end = 0;
	const char *k;
	void *v;
	json_t *e;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	dtf_hmap_init(&tr.users);
	if (!json_is_array(tasks) || n > SIM_MAX_TASKS) {
		snprintf(err, errlen, "the workload must be a list of at most %d tasks",
			 SIM_MAX_TASKS);
		return DTF_EINVAL;
	}
	if (!workers && (cfg->workers < 1 || cfg->workers > SIM_MAX_WORKERS || cfg->slots < 1 ||
			 cfg->slots > 4096)) {
		snprintf(err, errlen, "--workers must be 1..%d and --slots 1..4096",
			 SIM_MAX_WORKERS);
		return DTF_EINVAL;
	}
	if (workers && !json_is_array(workers)) {
		snprintf(err, errlen, "workers must be a list");
		return DTF_EINVAL;
	}
	c = sim_coord_new(cfg->scheduler, cfg->strategy ? cfg->strategy : "priority", cfg->batching,
			  cfg->batch_limit, err, errlen);
	if (!c)
		return DTF_EINVAL;
	dur = calloc(n ? n : 1, sizeof(*dur));
	tr.start = calloc(n ? n : 1, sizeof(*tr.start));
	tr.end = calloc(n ? n : 1, sizeof(*tr.end));
	if (!dur || !tr.start || !tr.end) {
		rc = DTF_ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if ((rc = add_workers(c, cfg, workers, &slots, err, errlen)) != 0)
		goto out;
	json_array_foreach(tasks, i, e) {
		json_t *doc = sim_task_doc(c, e, i, &dur[i], err, errlen);
		struct ctask *t;
		struct sim_user *su;
		if (!doc) {
			rc = DTF_EINVAL;
			goto out;
		}
		if ((su = user_get(&tr, dtf_json_str(doc, "user", ""))) != NULL)
			su->pending++;
		if (cfg->history)
			sx_history_set(c->sx, dtf_json_str(doc, "name", ""), "*", dur[i], 1);
		if (json_object_get(doc, "deadline"))
			out->deadline_tasks++;
		total += dur[i];
		longest = dur[i] > longest ? dur[i] : longest;
		json_object_set_new(doc, "seq", json_integer((json_int_t)i + 1));
		t = state_add_task(c, doc, TS_PENDING);
		if (!t) {
			rc = DTF_ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	out->tasks = n;
	out->workers = c->workers.count;
	out->slots = slots;
	pos = 0;
	while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0)
		if ((rc = lease_more(c, v, &q, dur, &order, &tr)) != 0)
			goto out;
	while (q.n) {
		struct ev ev = evq_pop(&q);
		struct ctask *t = ev.t;
		double wait = (double)t->assigned_ms / 1000.0;
		int64_t dl;

		sx_set_virtual(c->sx, ev.at_ms);
		last_end = ev.at_ms;
		wait_sum += wait;
		tr.end[t->sx.seq - 1] = ev.at_ms;
		if (dtf_parse_rfc3339(dtf_json_str(task_doc(t), "deadline", ""), &dl) == 0 &&
		    sx_wall_ms(c->sx) > dl)
			out->deadline_misses++;
		sx_record_duration(c->sx, &t->sx, lease_worker_hw(ev.w), dur[t->sx.seq - 1]);
		state_release(c, t);
		state_set_status(c, t, TS_COMPLETED);
		out->completed++;
		if ((rc = lease_more(c, ev.w, &q, dur, &order, &tr)) != 0)
			goto out;
	}
	out->unschedulable = c->pending_count;
	out->makespan_s = (double)last_end / 1000.0;
	out->lower_bound_s = slots ? fmax(longest, total / (double)slots) : 0;
	out->ratio = out->lower_bound_s > 0 ? out->makespan_s / out->lower_bound_s : 1;
	out->mean_wait_s = out->completed ? wait_sum / (double)out->completed : 0;
	/* Fairness: each user's slot-seconds while every user still had tasks waiting, over its
	 * share; Jain's index of those (1 when each got the same per share). */
	if (tr.window_end <= 0)
		tr.window_end = last_end;
	pos = 0;
	while ((pos = dtf_hmap_next(&c->tasks, pos, &k, &v)) != 0) {
		struct ctask *t = v;
		struct sim_user *su =
		    dtf_hmap_get(&tr.users, dtf_json_str(task_doc(t), "user", ""));
		int64_t a = tr.start[t->sx.seq - 1], b = tr.end[t->sx.seq - 1];
		if (!su || t->status != TS_COMPLETED || a >= tr.window_end)
			continue;
		su->service += (double)((b < tr.window_end ? b : tr.window_end) - a) / 1000.0;
	}
	pos = 0;
	while ((pos = dtf_hmap_next(&tr.users, pos, &k, &v)) != 0) {
		struct sim_user *su = v;
		json_t *sh = json_object_get(json_object_get(cfg->scheduler, "shares"), "users");
		double share = json_number_value(json_object_get(sh, k));
		double x = su->service / (share > 0 ? share : 1);
		num += x;
		den += x * x;
		out->users++;
	}
	out->jain = den > 0 ? num * num / ((double)out->users * den) : 1;
	out->batches = (size_t)sx_batches(c->sx);
out:
	pos = 0;
	while ((pos = dtf_hmap_next(&tr.users, pos, &k, &v)) != 0)
		free(v);
	dtf_hmap_release(&tr.users);
	free(tr.start);
	free(tr.end);
	free(q.v);
	free(dur);
	sim_coord_free(c);
	out->real_s = (double)(dtf_mono_ms() - start) / 1000.0;
	return rc;
}

/* ---- synthetic workloads ---- */

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static double uniform(uint64_t *s)
{
	return ((double)(rnd(s) >> 11) + 0.5) / 9007199254740992.0;
}

json_t *sim_synthetic(size_t n, double median_s, double sigma, int users, uint64_t seed)
{
	json_t *out = json_array();
	uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
	char user[32], name[32];
	size_t i;

	if (users < 1)
		users = 1;
	for (i = 0; i < n; i++) {
		double z = sqrt(-2.0 * log(uniform(&s))) * cos(2 * M_PI * uniform(&s));
		double d = median_s * exp(sigma * z);
		/* Uneven users: user-0 submits the most. */
		int u = (int)(floor(pow(uniform(&s), 2.0) * users));
		snprintf(user, sizeof(user), "user-%d", u < users ? u : users - 1);
		snprintf(name, sizeof(name), "test-%zu", i);
		json_array_append_new(out, json_pack("{s:f,s:s,s:s,s:i}", "duration_s",
						     round(d * 1000) / 1000, "user", user, "name",
						     name, "priority", 5));
	}
	return out;
}
