/* strategy.c: the built-in scheduling strategies (priority, fair-share, round-robin,
 * resource-aware, deadline, duration) and the adapter for scheduler plugins; the scheduler
 * section of the configuration; fair-share accounting; the per-test duration history; deadline
 * flags; explanations and metrics. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/prom.h"
#include "common/util.h"
#include "plugin/plugin.h"
#include "sched/internal.h"

#define NO_DEADLINE   1e300
#define UNKNOWN_FIRST 1e12 /* tasks without history go first under duration: they may be long */

static const struct {
	const char *name;
	const char *description;
} kinds[SX__COUNT] = {
    [SX_PRIORITY] = {"priority", "priority (1 first), then submission order"},
    [SX_FAIR_SHARE] = {"fair-share",
		       "the user and project furthest below their share of resource-seconds first "
		       "(decayed), then priority"},
    [SX_ROUND_ROBIN] = {"round-robin",
			"users (or runs, for tasks without a user) take turns, then priority"},
    [SX_RESOURCE_AWARE] = {"resource-aware",
			   "best fit: the task that leaves the least of the worker unused, so "
			   "big machines stay free for big tasks"},
    [SX_DEADLINE] = {"deadline", "earliest deadline first; tasks that cannot make it are "
				 "flagged deadline_at_risk"},
    [SX_DURATION] = {"duration", "longest expected duration first (per-test history), so the "
				 "suite's makespan approaches its lower bound"},
    [SX_PLUGIN] = {"plugin", "a scheduler plugin orders the candidates"},
};

const char *sx_kind_name(enum sx_kind k)
{
	return k < SX__COUNT ? kinds[k].name : "unknown";
}

static bool kind_parse(const char *name, enum sx_kind *out)
{
	int k;

	for (k = 0; k < SX_PLUGIN; k++)
		if (strcmp(kinds[k].name, name) == 0) {
			*out = (enum sx_kind)k;
			return true;
		}
	return false;
}

bool sx_builtin(const char *name)
{
	enum sx_kind k;

	return name && kind_parse(name, &k);
}

/* ---- clocks ---- */

int64_t sx_now_ms(const struct sx *s)
{
	return s && s->virt ? s->virt_ms : dtf_mono_ms();
}

int64_t sx_wall_ms(const struct sx *s)
{
	return s && s->virt ? s->virt_wall0 + s->virt_ms : dtf_wall_ms();
}

void sx_set_virtual(struct sx *s, int64_t now_ms)
{
	if (!s)
		return;
	if (!s->virt) {
		s->virt = true;
		s->virt_wall0 = dtf_wall_ms();
	}
	s->virt_ms = now_ms;
}

/* ---- accounts (fair-share, round-robin) ---- */

static struct sx_account *account(struct dtf_hmap *m, const char *name, double share, bool create)
{
	struct sx_account *a = dtf_hmap_get(m, name);

	if (a || !create)
		return a;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->share = share;
	if (dtf_hmap_put(m, name, a) != 0) {
		free(a);
		return NULL;
	}
	return a;
}

static double share_of(const struct sx *s, const char *group, const char *name)
{
	json_t *v = json_object_get(json_object_get(s->shares, group), name);

	return json_is_number(v) ? json_number_value(v) : s->default_share;
}

static double decayed(const struct sx *s, const struct sx_account *a)
{
	int64_t now = sx_now_ms(s);

	if (!a)
		return 0;
	if (s->half_life_s <= 0 || now <= a->at_ms)
		return a->usage;
	return a->usage * pow(0.5, (double)(now - a->at_ms) / 1000.0 / s->half_life_s);
}

static void charge(struct sx *s, struct dtf_hmap *m, const char *group, const char *name,
		   double amount)
{
	struct sx_account *a;

	if (!name || !*name)
		return;
	a = account(m, name, share_of(s, group, name), true);
	if (!a)
		return;
	a->usage = decayed(s, a) + amount;
	if (a->usage < 0)
		a->usage = 0;
	a->at_ms = sx_now_ms(s);
}

static double weight(const struct sx_task *t)
{
	return t->cpu > 1 ? t->cpu : 1;
}

/* usage / share of the task's user plus that of its project. */
static double fair_score(const struct sx *s, const struct sx_task *t)
{
	const char *u = t->user, *p = t->project;
	double score = 0, sh;

	sh = share_of(s, "users", u);
	score += decayed(s, dtf_hmap_get(&s->users, u)) / (sh > 0 ? sh : 1e-9);
	if (*p) {
		sh = share_of(s, "projects", p);
		score += decayed(s, dtf_hmap_get(&s->projects, p)) / (sh > 0 ? sh : 1e-9);
	}
	return score;
}

void sx_assigned(struct sx *s, struct sx_task *t)
{
	struct sx_account *a;
	char lane[SX_LANE_MAX];
	double est;

	if (!s)
		return;
	s->clock++;
	/* Charge what it is expected to use now, corrected when it ends: tasks leased in one
	 * burst already count against their user. */
	est = sx_expected(s, t);
	t->charged = (est > 0 ? est : 1.0) * weight(t);
	charge(s, &s->users, "users", t->user, t->charged);
	charge(s, &s->projects, "projects", t->project, t->charged);
	snprintf(lane, sizeof(lane), "%s", *t->user ? t->user : t->run_id);
	a = account(&s->rr, lane, 1, true);
	if (a)
		a->served = s->clock;
}

void sx_released(struct sx *s, struct sx_task *t, int64_t assigned_ms)
{
	double used;

	if (!s || assigned_ms <= 0)
		return;
	used = (double)(sx_now_ms(s) - assigned_ms) / 1000.0 * weight(t);
	if (used < 0)
		used = 0;
	charge(s, &s->users, "users", t->user, used - t->charged);
	charge(s, &s->projects, "projects", t->project, used - t->charged);
	t->charged = 0;
}

/* ---- history ---- */

static void hist_key(char *out, size_t len, const char *name, const char *hw)
{
	snprintf(out, len, "%s\x1f%s", name, hw);
}

void sx_history_set(struct sx *s, const char *name, const char *hw, double mean_s, int64_t n)
{
	char key[600];
	struct sx_hist *h;

	if (!s)
		return;
	hist_key(key, sizeof(key), name, hw);
	h = dtf_hmap_get(&s->hist, key);
	if (!h) {
		h = calloc(1, sizeof(*h));
		if (!h || dtf_hmap_put(&s->hist, key, h) != 0) {
			free(h);
			return;
		}
	}
	h->mean_s = mean_s;
	h->n = n;
}

static bool persistent(const struct sx *s)
{
	return s->ops && s->ops->persistent && s->ops->put_duration && s->ops->persistent(s->ctx);
}

static void hist_update(struct sx *sx, const char *name, const char *hw, double s)
{
	char key[600];
	struct sx_hist *h;
	double mean;
	int64_t n;

	hist_key(key, sizeof(key), name, hw);
	h = dtf_hmap_get(&sx->hist, key);
	n = h ? h->n : 0;
	/* A plain mean for the first runs, then an exponential one that follows change. */
	mean = !h      ? s
	       : n < 5 ? (h->mean_s * (double)n + s) / (double)(n + 1)
		       : 0.7 * h->mean_s + 0.3 * s;
	sx_history_set(sx, name, hw, mean, n + 1);
	h = dtf_hmap_get(&sx->hist, key);
	if (h && !h->dirty && persistent(sx)) {
		char *k = strdup(key);
		if (k && sx->nhist_dirty == sx->caphist_dirty) {
			size_t cap = sx->caphist_dirty ? sx->caphist_dirty * 2 : 256;
			char **v = realloc(sx->hist_dirty, cap * sizeof(*v));
			if (v) {
				sx->hist_dirty = v;
				sx->caphist_dirty = cap;
			}
		}
		if (k && sx->nhist_dirty < sx->caphist_dirty) {
			sx->hist_dirty[sx->nhist_dirty++] = k;
			h->dirty = true;
		} else {
			free(k);
		}
	}
}

/* Past this many waiting entries they are written without waiting for the second. */
#define HIST_DIRTY_MAX 65536

void sx_history_persist(struct sx *sx, bool all)
{
	int64_t now;
	size_t i;

	if (!sx || !sx->nhist_dirty || !persistent(sx))
		return;
	now = dtf_mono_ms();
	if (!all && sx->nhist_dirty < HIST_DIRTY_MAX &&
	    now - sx->hist_persisted_ms < SX_HIST_PERSIST_MS)
		return;
	for (i = 0; i < sx->nhist_dirty; i++) {
		char *key = sx->hist_dirty[i], *sep = strchr(key, '\x1f');
		struct sx_hist *h = dtf_hmap_get(&sx->hist, key);
		if (h && sep) {
			*sep = '\0';
			sx->ops->put_duration(sx->ctx, key, sep + 1, h->mean_s, h->n);
			h->dirty = false;
		}
		free(key);
	}
	sx->nhist_dirty = 0;
	sx->hist_persisted_ms = now;
}

void sx_record_duration(struct sx *s, const struct sx_task *t, const char *hw, double seconds)
{
	const char *name = sx_task_name(t);

	if (!s || !name || !*name || seconds < 0 || !isfinite(seconds))
		return;
	if (!hw)
		hw = "any";
	hist_update(s, name, hw, seconds);
	if (strcmp(hw, "*") != 0)
		hist_update(s, name, "*", seconds);
}

double sx_expected(const struct sx *s, const struct sx_task *t)
{
	char key[600];
	struct sx_hist *h;
	double sum = 0;
	size_t n = 0;
	const char *name = sx_task_name(t), *hw;
	unsigned i;

	if (!s || !name || !s->hist.count)
		return -1;
	for (i = 0, hw = sx_task_hw(t); i < t->nhw; i++, hw += strlen(hw) + 1) {
		hist_key(key, sizeof(key), name, hw);
		if ((h = dtf_hmap_get(&s->hist, key)) != NULL) {
			sum += h->mean_s;
			n++;
		}
	}
	if (n)
		return sum / (double)n;
	hist_key(key, sizeof(key), name, "*");
	h = dtf_hmap_get(&s->hist, key);
	return h ? h->mean_s : -1;
}

/* ---- deadlines ---- */

static double deadline_ms(const struct sx_task *t)
{
	return t->deadline_ms ? (double)t->deadline_ms : NO_DEADLINE;
}

bool sx_deadline_check(const struct sx *s, struct sx_task *t)
{
	double dl = deadline_ms(t), exp_s;

	if (dl >= NO_DEADLINE) {
		t->at_risk = false;
		return false;
	}
	exp_s = sx_expected(s, t);
	t->at_risk = (double)sx_wall_ms(s) + (exp_s > 0 ? exp_s * 1000.0 : 0) > dl;
	return t->at_risk;
}

/* ---- the strategies ---- */

void sx_lane_name(const struct sx *s, const struct sx_task *t, char *out, size_t len)
{
	switch (s->kind) {
	case SX_FAIR_SHARE:
		snprintf(out, len, "%s\x1f%s", t->user, t->project);
		break;
	case SX_ROUND_ROBIN:
		snprintf(out, len, "%s", *t->user ? t->user : t->run_id);
		break;
	default:
		out[0] = '\0';
	}
}

void sx_task_key(const struct sx *s, struct sx_task *t)
{
	double e;

	switch (s->kind) {
	case SX_DEADLINE:
		t->k1 = deadline_ms(t);
		t->k2 = t->priority;
		break;
	case SX_DURATION:
		e = sx_expected(s, t);
		t->k1 = -(e >= 0 ? e : UNKNOWN_FIRST);
		t->k2 = t->priority;
		break;
	default:
		t->k1 = t->priority;
		t->k2 = 0;
	}
}

/* What share of the worker's capacity stays unused if t runs there now (0 a perfect fit). */
static double leftover(const struct sx_task *t, const struct sx_worker *w)
{
	double waste = 0;
	double slots_left = (double)(w->slots - w->used_slots - 1);

	waste += slots_left / (double)w->slots;
	if (w->cpu > 0)
		waste += (w->cpu - w->used_cpu - t->cpu) / w->cpu;
	if (w->memory > 0)
		waste += (w->memory - w->used_memory - t->memory) / w->memory;
	if (w->gpu_memory > 0)
		/* Unused GPU memory counts double: a GPU machine is the scarcest. */
		waste += 2 * (w->gpu_memory - w->used_gpu_memory - t->gpu_memory) / w->gpu_memory;
	return waste;
}

double sx_score(const struct sx *s, const struct sx_lane *ln, const struct sx_task *t,
		const struct sx_worker *w)
{
	struct sx_account *a;

	switch (s->kind) {
	case SX_FAIR_SHARE:
		return fair_score(s, t);
	case SX_ROUND_ROBIN:
		a = dtf_hmap_get(&s->rr, ln->name);
		return a ? (double)a->served : 0;
	case SX_RESOURCE_AWARE:
		return leftover(t, w);
	default:
		return 0;
	}
}

/* ---- configuration ---- */

static int read_shares(struct sx *s, const json_t *sh, char *err, size_t errlen)
{
	const char *k, *name;
	json_t *v, *share;

	if (!json_is_object(sh)) {
		snprintf(err, errlen, "scheduler.shares must be a mapping of users and projects");
		return DTF_EINVAL;
	}
	json_object_foreach((json_t *)sh, k, v) {
		if (strcmp(k, "users") != 0 && strcmp(k, "projects") != 0) {
			snprintf(err, errlen,
				 "scheduler.shares.%s: unknown key (users and projects are known)",
				 k);
			return DTF_EINVAL;
		}
		if (!json_is_object(v)) {
			snprintf(err, errlen,
				 "scheduler.shares.%s must be a mapping of names to "
				 "shares",
				 k);
			return DTF_EINVAL;
		}
		json_object_foreach(v, name, share) {
			if (!json_is_number(share) || json_number_value(share) <= 0 ||
			    json_number_value(share) > SX_MAX_SHARE || strlen(name) > 128) {
				snprintf(err, errlen,
					 "scheduler.shares.%s.%s must be a number above 0 and at "
					 "most %g",
					 k, name, SX_MAX_SHARE);
				return DTF_EINVAL;
			}
		}
	}
	json_decref(s->shares);
	s->shares = json_deep_copy(sh);
	return 0;
}

static int configure(struct sx *s, const json_t *sec, const char **strategy, char *err,
		     size_t errlen)
{
	const char *k;
	json_t *v;
	double d;

	if (!sec)
		return 0;
	if (!json_is_object(sec)) {
		snprintf(err, errlen, "scheduler must be a mapping");
		return DTF_EINVAL;
	}
	json_object_foreach((json_t *)sec, k, v) {
		if (strcmp(k, "strategy") == 0) {
			if (!json_is_string(v) || !json_string_length(v) ||
			    json_string_length(v) >= sizeof(s->plugin)) {
				snprintf(err, errlen, "scheduler.strategy must be a strategy name");
				return DTF_EINVAL;
			}
			if (!*strategy)
				*strategy = json_string_value(v);
		} else if (strcmp(k, "default_constraints") == 0) {
			/* Checked and applied by the constraints (the core's constraints.c); what
			 * they read of a task shapes the signatures (see sx_constraint_reads). */
			sx_constraint_reads(v, &s->defaults_read);
		} else if (strcmp(k, "shares") == 0) {
			if (read_shares(s, v, err, errlen))
				return DTF_EINVAL;
		} else if (strcmp(k, "default_share") == 0) {
			if (!json_is_number(v) || json_number_value(v) <= 0 ||
			    json_number_value(v) > SX_MAX_SHARE) {
				snprintf(err, errlen,
					 "scheduler.default_share must be a number "
					 "above 0");
				return DTF_EINVAL;
			}
			s->default_share = json_number_value(v);
		} else if (strcmp(k, "half_life") == 0) {
			if (json_is_number(v))
				d = json_number_value(v);
			else if (!json_is_string(v) || dtf_parse_seconds(json_string_value(v), &d))
				d = -1;
			if (d < 0) {
				snprintf(err, errlen,
					 "scheduler.half_life must be a duration such as 1h (0: "
					 "usage never decays)");
				return DTF_EINVAL;
			}
			s->half_life_s = d;
		} else {
			snprintf(err, errlen,
				 "scheduler.%s: unknown key (strategy, shares, default_share, "
				 "half_life and default_constraints are known)",
				 k);
			return DTF_EINVAL;
		}
	}
	return 0;
}

struct sx *sx_new(const struct sx_ops *ops, void *ctx)
{
	struct sx *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->ops = ops;
	s->ctx = ctx;
	dtf_hmap_init(&s->classes);
	dtf_hmap_init(&s->names);
	dtf_hmap_init(&s->users);
	dtf_hmap_init(&s->projects);
	dtf_hmap_init(&s->rr);
	dtf_hmap_init(&s->hist);
	s->default_share = 1;
	s->half_life_s = 3600;
	return s;
}

int sx_configure(struct sx *s, const json_t *section, const char *const *default_constraints,
		 const char *strategy, char *err, size_t errlen)
{
	char ebuf[256];
	enum sx_kind k = SX_PRIORITY;

	if (!err) {
		err = ebuf;
		errlen = sizeof(ebuf);
	}
	if (configure(s, section, &strategy, err, errlen))
		return DTF_EINVAL;
	for (const char *const *f = default_constraints; f && *f; f++) {
		json_t *one = json_string(*f);
		sx_constraint_reads(one, &s->defaults_read);
		json_decref(one);
	}
	if (strategy && !kind_parse(strategy, &k)) {
		snprintf(
		    err, errlen,
		    "scheduler.strategy: unknown strategy '%s' (priority, fair-share, "
		    "round-robin, resource-aware, deadline, duration, or a scheduler plugin's)",
		    strategy);
		return DTF_ENOTFOUND;
	}
	if (k != s->kind) {
		s->kind = k;
		sx_rebuild(s);
	}
	return 0;
}

static void free_values(struct dtf_hmap *m)
{
	size_t pos = 0;
	const char *k;
	void *v;

	while ((pos = dtf_hmap_next(m, pos, &k, &v)) != 0)
		free(v);
	dtf_hmap_release(m);
}

void sx_free(struct sx *s)
{
	if (!s)
		return;
	sx_index_release(s);
	free_values(&s->users);
	free_values(&s->projects);
	free_values(&s->rr);
	free_values(&s->hist);
	while (s->nhist_dirty)
		free(s->hist_dirty[--s->nhist_dirty]);
	free(s->hist_dirty);
	json_decref(s->shares);
	free(s);
}

int sx_set_strategy(struct sx *s, struct dtf_plugins *ps, const char *name, char *err,
		    size_t errlen)
{
	enum sx_kind k;

	if (kind_parse(name, &k)) {
		s->plugin[0] = '\0';
	} else if (dtf_plugins_has_strategy(ps, name) && strlen(name) < sizeof(s->plugin)) {
		k = SX_PLUGIN;
		snprintf(s->plugin, sizeof(s->plugin), "%s", name);
	} else {
		snprintf(err, errlen,
			 "unknown strategy '%s' (priority, fair-share, round-robin, "
			 "resource-aware, deadline, duration, or an enabled scheduler plugin's)",
			 name);
		return DTF_ENOTFOUND;
	}
	if (k != s->kind) {
		s->kind = k;
		sx_rebuild(s);
	}
	log_info("scheduler: strategy %s", sx_strategy(s));
	return 0;
}

const char *sx_strategy(const struct sx *s)
{
	if (!s)
		return "priority";
	return s->kind == SX_PLUGIN ? s->plugin : sx_kind_name(s->kind);
}

bool sx_is_plugin(const struct sx *s)
{
	return s && s->kind == SX_PLUGIN;
}

json_t *sx_describe(struct sx *s, struct dtf_plugins *ps, bool batch_processing,
		    int batch_size_limit, size_t pending)
{
	json_t *out = json_object(), *list = json_array(), *pl;
	size_t sigs, lanes, delayed, i;
	json_t *e;
	int k;

	for (k = 0; k < SX_PLUGIN; k++)
		json_array_append_new(list, json_pack("{s:s,s:s,s:s}", "name", kinds[k].name,
						      "description", kinds[k].description, "source",
						      "builtin"));
	pl = dtf_plugins_strategies(ps);
	json_array_foreach(pl, i, e)
		json_array_append(list, e);
	json_decref(pl);
	sx_index_stats(s, &sigs, &lanes, &delayed);
	json_object_set_new(out, "strategy", json_string(sx_strategy(s)));
	json_object_set_new(out, "strategies", list);
	json_object_set_new(out, "batch_processing", json_boolean(batch_processing));
	json_object_set_new(out, "batch_size_limit", json_integer(batch_size_limit));
	json_object_set_new(out, "pending", json_integer((json_int_t)pending));
	json_object_set_new(out, "signatures", json_integer((json_int_t)sigs));
	json_object_set_new(out, "lanes", json_integer((json_int_t)lanes));
	json_object_set_new(out, "delayed", json_integer((json_int_t)delayed));
	if (s) {
		json_t *use = json_object(), *u = json_object(), *p = json_object();
		size_t pos = 0;
		const char *name;
		void *v;
		while ((pos = dtf_hmap_next(&s->users, pos, &name, &v)) != 0)
			json_object_set_new(u, name,
					    json_pack("{s:f,s:f}", "usage", decayed(s, v), "share",
						      share_of(s, "users", name)));
		pos = 0;
		while ((pos = dtf_hmap_next(&s->projects, pos, &name, &v)) != 0)
			json_object_set_new(p, name,
					    json_pack("{s:f,s:f}", "usage", decayed(s, v), "share",
						      share_of(s, "projects", name)));
		json_object_set_new(use, "users", u);
		json_object_set_new(use, "projects", p);
		json_object_set_new(out, "usage", use);
		json_object_set_new(out, "half_life_s", json_real(s->half_life_s));
		json_object_set_new(out, "history_entries",
				    json_integer((json_int_t)s->hist.count));
	}
	return out;
}

/* ---- scheduler plugins ---- */

int sx_plugin_order(struct sx *s, struct dtf_plugins *ps, const char *worker_json,
		    const char *tasks_json, size_t n, size_t *order)
{
	if (!s || s->kind != SX_PLUGIN)
		return DTF_EINVAL;
	return dtf_plugins_order(ps, s->plugin, worker_json, tasks_json, n, order);
}

/* ---- explanations and metrics ---- */

void sx_reason(const struct sx *s, const struct sx_task *t, char *why, size_t len)
{
	struct sx_lane *ln = t->lane;
	size_t i;

	why[0] = '\0';
	if (!s || !ln)
		return;
	if (s->kind == SX_FAIR_SHARE) {
		double mine = fair_score(s, t), least = mine;
		const struct sx_task *other = NULL;
		for (i = 0; i < ln->cls->nlanes; i++) {
			const struct sx_lane *o = ln->cls->lanes[i];
			double sc;
			if (o == ln || !o->n)
				continue;
			sc = fair_score(s, o->heap[0]);
			if (sc < least) {
				least = sc;
				other = o->heap[0];
			}
		}
		if (other) {
			const char *u = *t->user ? t->user : "(no user)";
			snprintf(why, len,
				 "deferred by fair share: user %s is over its share (%.0f "
				 "resource-seconds used for share %g; user %s has used less)",
				 u, decayed(s, dtf_hmap_get(&s->users, t->user)),
				 share_of(s, "users", t->user),
				 *other->user ? other->user : "(no user)");
		}
	} else if (s->kind == SX_DEADLINE && t->at_risk) {
		snprintf(why, len, "its deadline cannot be met at its expected duration");
	} else if (s->kind == SX_DURATION && t->pos > 0) {
		snprintf(why, len, "longer tasks go first (strategy duration)");
	}
}

void sx_count_batch(struct sx *s, size_t n)
{
	if (!s || n < 2)
		return;
	s->batches++;
	s->batched_tasks += n;
	s->batch_hist[n == 2 ? 0 : n <= 4 ? 1 : n <= 8 ? 2 : n <= 16 ? 3 : 4]++;
}

uint64_t sx_batches(const struct sx *s)
{
	return s ? s->batches : 0;
}

int sx_metrics(const struct sx *s, struct dtf_prom *pm)
{
	size_t sigs, lanes, delayed;
	static const char *const le[] = {"2", "4", "8", "16", "+Inf"};
	uint64_t cum = 0;
	int i;

	sx_index_stats(s, &sigs, &lanes, &delayed);
	dtf_prom_family(pm, "dtf_scheduler_info", DTF_PROM_GAUGE,
			"The active scheduling strategy.");
	dtf_prom_sample(pm, NULL, DTF_PROM_LABELS("strategy", sx_strategy(s)), 1);
	dtf_prom_single(pm, "dtf_scheduler_signatures", DTF_PROM_GAUGE,
			"Distinct task signatures in the pending index.", (double)sigs);
	dtf_prom_single(pm, "dtf_scheduler_lanes", DTF_PROM_GAUGE,
			"Lanes (signature and user or run) in the pending index.", (double)lanes);
	dtf_prom_single(pm, "dtf_scheduler_delayed_tasks", DTF_PROM_GAUGE,
			"Pending tasks waiting out a retry backoff.", (double)delayed);
	dtf_prom_single(pm, "dtf_batches_total", DTF_PROM_COUNTER,
			"Leases that took a batch of tasks sharing a batch_key.",
			(double)(s ? s->batches : 0));
	dtf_prom_family(pm, "dtf_batch_size", DTF_PROM_HISTOGRAM, "Tasks per batch.");
	for (i = 0; i < 5; i++) {
		cum += s ? s->batch_hist[i] : 0;
		dtf_prom_sample(pm, "_bucket", DTF_PROM_LABELS("le", le[i]), (double)cum);
	}
	dtf_prom_sample(pm, "_sum", NULL, (double)(s ? s->batched_tasks : 0));
	return dtf_prom_sample(pm, "_count", NULL, (double)cum);
}

int sx_config_check(const json_t *section, const char *strategy, char *err, size_t errlen)
{
	struct sx *s = sx_new(NULL, NULL);
	int rc;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return DTF_ENOMEM;
	}
	if (!strategy)
		strategy = json_string_value(json_object_get(section, "strategy"));
	/* A name no built-in has may be a plugin's: checked when plugins are loaded. */
	rc = sx_configure(s, section, NULL,
			  strategy && sx_builtin(strategy) ? strategy : "priority", err, errlen);
	sx_free(s);
	return rc;
}
