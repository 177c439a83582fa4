/* constraints.c: the coordinator's side of constraint expressions: validation at submission,
 * one compiled set per task, evaluation against a worker's live figures, the coordinator's
 * default constraints, and the reason a task whose constraints no worker meets stays pending. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "core/constraints.h"
#include "core/model.h"
#include "sched/expr.h"

/* A compiled expression shared by every task whose constraint has the same text. */
struct shared_expr {
	struct dtf_expr *e;
	size_t refs;
};

struct dtf_constraint_registry {
	struct dtf_hmap exprs;		  /* source text -> struct shared_expr (owned) */
	struct dtf_constraints *defaults; /* owned, or NULL */
};

struct dtf_constraints {
	struct dtf_constraint_registry *reg;	/* borrowed: where e[] come from, or NULL (owned) */
	const struct dtf_constraints *defaults; /* borrowed: the coordinator's, or NULL */
	char *broken; /* why a stored expression no longer compiles (the task cannot run) */
	bool is_default;
	bool live; /* some expression here or in defaults reads worker.available_* */
	size_t n;
	struct dtf_expr *e[];
};

static struct dtf_constraints *set_new(size_t n)
{
	return calloc(1, sizeof(struct dtf_constraints) + n * sizeof(struct dtf_expr *));
}

/* Compiles src, or takes another reference to the registry's copy of it. */
static int acquire(struct dtf_constraint_registry *reg, const char *src, struct dtf_expr **out,
		   char *err, size_t errlen)
{
	struct shared_expr *sh = reg ? dtf_hmap_get(&reg->exprs, src) : NULL;
	int rc;

	if (sh) {
		sh->refs++;
		*out = sh->e;
		return 0;
	}
	rc = dtf_expr_compile(src, out, err, errlen);
	if (rc || !reg)
		return rc;
	sh = malloc(sizeof(*sh));
	if (!sh || dtf_hmap_put(&reg->exprs, dtf_expr_source(*out), sh) != 0) {
		free(sh);
		dtf_expr_free(*out);
		*out = NULL;
		snprintf(err, errlen, "out of memory");
		return DTF_ENOMEM;
	}
	sh->e = *out;
	sh->refs = 1;
	return 0;
}

static void release(struct dtf_constraint_registry *reg, struct dtf_expr *e)
{
	struct shared_expr *sh;

	if (!reg) {
		dtf_expr_free(e);
		return;
	}
	sh = dtf_hmap_get(&reg->exprs, dtf_expr_source(e));
	if (sh && sh->e == e && --sh->refs == 0) {
		dtf_hmap_del(&reg->exprs, dtf_expr_source(e));
		dtf_expr_free(e);
		free(sh);
	}
}

void constraints_free(struct dtf_constraints *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++)
		release(s->reg, s->e[i]);
	free(s->broken);
	free(s);
}

int constraints_registry_new(const json_t *config_doc, const char *const *flags,
			     struct dtf_constraint_registry **out, char *err, size_t errlen)
{
	struct dtf_constraint_registry *reg = calloc(1, sizeof(*reg));
	int rc;

	*out = NULL;
	if (!reg) {
		snprintf(err, errlen, "out of memory");
		return DTF_ENOMEM;
	}
	dtf_hmap_init(&reg->exprs);
	rc = constraints_defaults(config_doc, flags, &reg->defaults, err, errlen);
	if (rc) {
		constraints_registry_free(reg);
		return rc;
	}
	*out = reg;
	return 0;
}

void constraints_registry_free(struct dtf_constraint_registry *reg)
{
	size_t pos = 0;
	const char *k;
	void *v;

	if (!reg)
		return;
	while ((pos = dtf_hmap_next(&reg->exprs, pos, &k, &v)) != 0) {
		struct shared_expr *sh = v;
		dtf_expr_free(sh->e);
		free(sh);
	}
	dtf_hmap_release(&reg->exprs);
	constraints_free(reg->defaults);
	free(reg);
}

bool constraints_registry_has_defaults(const struct dtf_constraint_registry *reg)
{
	return reg && reg->defaults;
}

size_t constraints_registry_size(const struct dtf_constraint_registry *reg)
{
	return reg ? reg->exprs.count : 0;
}

static bool expr_str_ok(const json_t *v)
{
	return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v);
}

json_t *constraints_normalize(const json_t *v, char *err, size_t errlen)
{
	json_t *out;
	size_t i;
	json_t *e;
	char msg[256];

	if (json_is_string(v))
		out = json_pack("[O]", v);
	else if (json_is_array(v))
		out = json_deep_copy(v);
	else {
		snprintf(err, errlen,
			 "field 'constraints' must be an expression or a list of expressions");
		return NULL;
	}
	if (json_array_size(out) > DTF_MAX_CONSTRAINTS) {
		snprintf(err, errlen, "field 'constraints' has more than %d expressions",
			 DTF_MAX_CONSTRAINTS);
		json_decref(out);
		return NULL;
	}
	json_array_foreach(out, i, e) {
		struct dtf_expr *x = NULL;
		if (!expr_str_ok(e)) {
			snprintf(err, errlen, DTF_CONSTRAINTS_ERR_PREFIX "%zu]: must be a string",
				 i);
			json_decref(out);
			return NULL;
		}
		if (dtf_expr_compile(json_string_value(e), &x, msg, sizeof(msg)) != 0) {
			snprintf(err, errlen, DTF_CONSTRAINTS_ERR_PREFIX "%zu]: %s", i, msg);
			json_decref(out);
			return NULL;
		}
		dtf_expr_free(x);
	}
	return out;
}

bool constraints_labels_ok(const json_t *labels, char *err, size_t errlen)
{
	const char *k;
	json_t *v;

	if (!json_is_object(labels)) {
		snprintf(err, errlen, "'labels' must be an object of name: value");
		return false;
	}
	if (json_object_size(labels) > 64) {
		snprintf(err, errlen, "at most 64 labels");
		return false;
	}
	json_object_foreach((json_t *)labels, k, v) {
		if (!*k || strlen(k) > 128) {
			snprintf(err, errlen, "label names are 1-128 bytes");
			return false;
		}
		if (!(json_is_string(v) && expr_str_ok(v) && json_string_length(v) <= 1024) &&
		    !json_is_number(v) && !json_is_boolean(v)) {
			snprintf(
			    err, errlen,
			    "label '%.128s' must be a string (at most 1024 bytes), a number or "
			    "a boolean",
			    k);
			return false;
		}
	}
	return true;
}

int constraints_defaults(const json_t *config_doc, const char *const *flags,
			 struct dtf_constraints **out, char *err, size_t errlen)
{
	const json_t *sched = json_object_get(config_doc, "scheduler"), *list;
	struct dtf_constraints *s;
	size_t nflags = 0, n, i;
	char msg[256];
	int rc = 0;

	*out = NULL;
	if (!sched)
		sched = json_object_get(json_object_get(config_doc, "coordinator"), "scheduler");
	list = json_object_get(sched, "default_constraints");
	if (list && json_is_string(list)) {
		/* One expression given as a plain string. */
	} else if (list && !json_is_array(list)) {
		snprintf(err, errlen,
			 "scheduler.default_constraints must be a list of expressions");
		return DTF_EINVAL;
	}
	while (flags && flags[nflags])
		nflags++;
	n = (json_is_string(list) ? 1 : json_array_size(list)) + nflags;
	if (n == 0)
		return 0;
	if (n > DTF_MAX_CONSTRAINTS) {
		snprintf(err, errlen, "at most %d default constraints", DTF_MAX_CONSTRAINTS);
		return DTF_ETOOBIG;
	}
	s = set_new(n);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return DTF_ENOMEM;
	}
	s->is_default = true;
	for (i = 0; i < n; i++) {
		const json_t *v = json_is_string(list) ? list : json_array_get(list, i);
		const char *src;
		char where[96];
		if (i < n - nflags) {
			snprintf(where, sizeof(where), "scheduler.default_constraints[%zu]", i);
			if (!expr_str_ok(v)) {
				snprintf(err, errlen, "%s must be a string", where);
				rc = DTF_EINVAL;
				goto fail;
			}
			src = json_string_value(v);
		} else {
			snprintf(where, sizeof(where), "--constraint '%.60s'",
				 flags[i - (n - nflags)]);
			src = flags[i - (n - nflags)];
		}
		rc = dtf_expr_compile(src, &s->e[i], msg, sizeof(msg));
		if (rc) {
			snprintf(err, errlen, "default constraint %s: %s", where, msg);
			goto fail;
		}
		s->live = s->live || dtf_expr_uses_available(s->e[i]);
		s->n++;
	}
	*out = s;
	return 0;
fail:
	constraints_free(s);
	return rc;
}

void constraints_attach(struct coord *c, struct ctask *t)
{
	const json_t *list = json_object_get(task_doc(t), "constraints");
	size_t n = json_is_array(list) ? json_array_size(list) : 0, i;
	struct dtf_constraints *s;
	char msg[256];

	struct dtf_constraint_registry *reg = c->constraints;
	const struct dtf_constraints *defaults = reg ? reg->defaults : NULL;

	constraints_free(t->constraints);
	t->constraints = NULL;
	if (n == 0 && !defaults)
		return;
	if (n > DTF_MAX_CONSTRAINTS)
		n = DTF_MAX_CONSTRAINTS + 1; /* only to report it as broken below */
	s = set_new(n);
	if (!s) {
		log_error("task %s: out of memory compiling its constraints", t->id);
		return;
	}
	s->reg = reg;
	s->defaults = defaults;
	t->constraints = s;
	for (i = 0; i < n; i++) {
		const json_t *v = json_array_get(list, i);
		int rc;
		if (i >= DTF_MAX_CONSTRAINTS || !expr_str_ok(v)) {
			s->broken =
			    strdup("its constraints are not a list of at most 64 expressions");
			break;
		}
		rc = acquire(reg, json_string_value(v), &s->e[s->n], msg, sizeof(msg));
		if (rc) {
			char why[400];
			snprintf(why, sizeof(why), "constraint '%.100s' does not compile: %s",
				 json_string_value(v), msg);
			s->broken = strdup(why);
			break;
		}
		s->live = s->live || dtf_expr_uses_available(s->e[s->n]);
		s->n++;
	}
	if (s->defaults && s->defaults->live)
		s->live = true;
	if (s->broken)
		log_warn("task %s cannot be scheduled: %s", t->id, s->broken);
}

static void fill_ctx(struct dtf_expr_ctx *x, const struct ctask *t, const struct cworker *w,
		     bool now)
{
	x->task = task_doc((struct ctask *)t);
	x->worker = w->doc;
	x->task_hardware = t->hw_any;
	x->worker_hardware = w->hardware;
	x->num[DTF_EXPR_TASK_CPU] = t->sx.cpu;
	x->num[DTF_EXPR_TASK_MEMORY] = t->sx.memory;
	x->num[DTF_EXPR_TASK_GPU_MEMORY] = t->sx.gpu_memory;
	x->num[DTF_EXPR_TASK_PRIORITY] = t->sx.priority;
	x->num[DTF_EXPR_WORKER_CPU] = w->cpu;
	x->num[DTF_EXPR_WORKER_MEMORY] = w->memory;
	x->num[DTF_EXPR_WORKER_GPU_MEMORY] = w->gpu_memory;
	x->num[DTF_EXPR_WORKER_SLOTS] = w->slots;
	x->num[DTF_EXPR_WORKER_AVAILABLE_CPU] = now ? w->cpu - w->used_cpu : w->cpu;
	x->num[DTF_EXPR_WORKER_AVAILABLE_MEMORY] = now ? w->memory - w->used_memory : w->memory;
	x->num[DTF_EXPR_WORKER_AVAILABLE_GPU_MEMORY] = now ? gpus_available(w) : w->gpu_memory;
	x->num[DTF_EXPR_WORKER_AVAILABLE_SLOTS] = now ? w->slots - w->used_slots : w->slots;
}

static bool set_holds(const struct dtf_constraints *s, const struct dtf_expr_ctx *x)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!dtf_expr_eval(s->e[i], x))
			return false;
	return true;
}

bool constraints_hold(const struct ctask *t, const struct cworker *w, bool now)
{
	const struct dtf_constraints *s = t->constraints;
	struct dtf_expr_ctx x;

	if (!s)
		return true;
	if (s->broken)
		return false;
	fill_ctx(&x, t, w, now);
	return set_holds(s, &x) && (!s->defaults || set_holds(s->defaults, &x));
}

bool constraints_hold_now(const struct ctask *t, const struct cworker *w)
{
	const struct dtf_constraints *s = t->constraints;

	return !s || !s->live || constraints_hold(t, w, true);
}

/* Finds, among the workers that could run t but for its constraints, whether any satisfies
 * expression e (with their totals). */
static bool anyone_satisfies(struct coord *c, const struct ctask *bare, const struct dtf_expr *e)
{
	size_t pos = 0;
	const char *k;
	void *v;
	struct dtf_expr_ctx x;

	while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0) {
		const struct cworker *w = v;
		if (w->status == WS_LOST || !lease_could_run(bare, w))
			continue;
		fill_ctx(&x, bare, w, false);
		if (dtf_expr_eval(e, &x))
			return true;
	}
	return false;
}

bool constraints_explain(struct coord *c, const struct ctask *t, char *why, size_t len)
{
	const struct dtf_constraints *s = t->constraints, *sets[2];
	struct ctask bare;
	size_t pos = 0, candidates = 0, i, j;
	const char *k;
	void *v;

	if (!s)
		return false;
	if (s->broken) {
		snprintf(why, len, "no registered worker can run it: %s", s->broken);
		return true;
	}
	/* The same task without constraints: which workers have its hardware and capacity. */
	bare = *t;
	bare.constraints = NULL;
	while ((pos = dtf_hmap_next(&c->workers, pos, &k, &v)) != 0) {
		const struct cworker *w = v;
		if (w->status == WS_LOST || !lease_could_run(&bare, w))
			continue;
		candidates++;
		if (constraints_hold(t, w, false))
			return false;
	}
	if (candidates == 0)
		return false;
	sets[0] = s;
	sets[1] = s->defaults;
	for (j = 0; j < 2; j++) {
		for (i = 0; sets[j] && i < sets[j]->n; i++) {
			if (anyone_satisfies(c, &bare, sets[j]->e[i]))
				continue;
			snprintf(
			    why, len,
			    "no registered worker can run it: none of the %zu worker%s with its "
			    "hardware and capacity satisfies %sconstraint '%s'",
			    candidates, candidates == 1 ? "" : "s",
			    j ? "the coordinator's default " : "", dtf_expr_source(sets[j]->e[i]));
			return true;
		}
	}
	snprintf(why, len,
		 "no registered worker can run it: none of the %zu worker%s with its hardware and "
		 "capacity satisfies all its constraints together",
		 candidates, candidates == 1 ? "" : "s");
	return true;
}
