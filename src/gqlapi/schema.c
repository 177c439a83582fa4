/* schema.c: dtf's GraphQL schema (docs/graphql.md) and its resolvers. Each resolver makes the
 * core call the matching REST handler makes (core/ops.h; the caller holds c->lock for the whole
 * execution) and returns the same JSON document; the engine projects the fields asked for. Field
 * names are the documents' own (snake_case), so a GraphQL answer and a REST one read alike.
 *
 * Lists take first (at most MAX_FIRST, DEFAULT_FIRST when not given) and after (a cursor: the
 * endCursor of the page before) and come in two forms: the plain list (tasks) and a connection
 * (tasksConnection: nodes, totalCount, pageInfo). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "core/model.h"
#include "core/recovery.h"
#include "gqlapi/gqlapi.h"

#define MAX_FIRST "10000"

static struct coord *core_of(struct gql_resolve_info *ri)
{
	return ((struct gqlapi_ctx *)ri->app)->c;
}

/* The request's key's project limit (NULL: every project), passed to every core call that
 * takes one. */
static const char *project_of(struct gql_resolve_info *ri)
{
	return ((struct gqlapi_ctx *)ri->app)->project;
}

static int fail_core(struct gql_resolve_info *ri, const struct core_err *e)
{
	snprintf(ri->error, sizeof(ri->error), "%s", e->msg);
	snprintf(ri->code, sizeof(ri->code), "%s", e->kind);
	return -1;
}

static int fail(struct gql_resolve_info *ri, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct gql_resolve_info *ri, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ri->error, sizeof(ri->error), fmt, ap);
	va_end(ap);
	snprintf(ri->code, sizeof(ri->code), "%s", code);
	return -1;
}

static const char *arg_str(const struct gql_resolve_info *ri, const char *name)
{
	return json_string_value(json_object_get(ri->args, name));
}

/* ---- what a request keeps ---- */

void gqlapi_ctx_forget(struct gqlapi_ctx *g)
{
	size_t i;

	json_object_clear(g->workers);
	json_object_clear(g->memo);
	for (i = 0; i < g->ntasks; i++) {
		free(g->tasks[i].run_id);
		free(g->tasks[i].ts);
	}
	free(g->tasks);
	g->tasks = NULL;
	g->ntasks = 0;
}

void gqlapi_ctx_release(struct gqlapi_ctx *g)
{
	gqlapi_ctx_forget(g);
	json_decref(g->workers);
	json_decref(g->memo);
	g->workers = g->memo = NULL;
}

/* The document key names, built by make() the first time it is asked for in this request
 * (borrowed: the request keeps it). */
static json_t *memo(struct gql_resolve_info *ri, const char *key,
		    json_t *(*make)(struct coord *c, const void *arg), const void *arg)
{
	struct gqlapi_ctx *g = ri->app;
	json_t *v = json_object_get(g->memo, key);

	if (!v) {
		v = make(g->c, arg);
		if (!v || json_object_set_new(g->memo, key, v))
			return NULL;
	}
	return v;
}

/* The tasks of run_id (NULL: all) in submission order, collected once per request. */
static struct gqlapi_tasks *tasks_collected(struct gql_resolve_info *ri, const char *run_id,
					    struct core_err *e)
{
	struct gqlapi_ctx *g = ri->app;
	struct gqlapi_tasks *n, *t;
	size_t i;

	for (i = 0; i < g->ntasks; i++)
		if (strcmp(g->tasks[i].run_id, run_id ? run_id : "") == 0)
			return &g->tasks[i];
	n = realloc(g->tasks, (g->ntasks + 1) * sizeof(*n));
	if (!n)
		return NULL;
	g->tasks = n;
	t = &g->tasks[g->ntasks];
	memset(t, 0, sizeof(*t));
	t->run_id = strdup(run_id ? run_id : "");
	if (!t->run_id || core_tasks_collect(g->c, run_id, NULL, g->project, &t->ts, &t->n, e)) {
		free(t->run_id);
		return NULL;
	}
	g->ntasks++;
	return t;
}

/* ---- pages ---- */

struct page {
	long first, offset;
	bool connection;
};

static int page_of(struct gql_resolve_info *ri, struct page *p)
{
	const char *after = arg_str(ri, "after");
	json_t *first = json_object_get(ri->args, "first");

	p->first = json_is_integer(first) ? (long)json_integer_value(first) : 100;
	p->offset = 0;
	p->connection = strstr(ri->field, "Connection") != NULL;
	if (p->first < 0 || p->first > atol(MAX_FIRST))
		return fail(ri, "invalid_argument", "'first' must be from 0 to %s", MAX_FIRST);
	if (after) {
		char *end;
		errno = 0;
		p->offset = strtol(after, &end, 10);
		if (errno || end == after || *end || p->offset < 0)
			return fail(ri, "invalid_cursor", "'after' is not a cursor this API gave");
	}
	return 0;
}

/* The list, or its connection {nodes, totalCount, pageInfo}; nodes is taken. */
static json_t *paged(const struct page *p, json_t *nodes, long total)
{
	long end = p->offset + (long)json_array_size(nodes);
	char start_c[32], end_c[32];

	if (!p->connection)
		return nodes;
	snprintf(start_c, sizeof(start_c), "%ld", p->offset);
	snprintf(end_c, sizeof(end_c), "%ld", end);
	return json_pack("{s:o,s:I,s:{s:b,s:b,s:s,s:s}}", "nodes", nodes, "totalCount",
			 (json_int_t)total, "pageInfo", "hasNextPage",
			 end<total, "hasPreviousPage", p->offset> 0, "startCursor", start_c,
			 "endCursor", end_c);
}

/* The items of list (borrowed) that match keep(), paged. */
static json_t *page_list(const struct page *p, const json_t *list,
			 bool (*keep)(const json_t *item, const void *arg), const void *arg)
{
	json_t *out = json_array(), *item;
	long seen = 0;
	size_t i;

	json_array_foreach(list, i, item) {
		if (keep && !keep(item, arg))
			continue;
		if (seen >= p->offset && seen < p->offset + p->first)
			json_array_append(out, item);
		seen++;
	}
	return paged(p, out, seen);
}

/* ---- tasks ---- */

/* As core_tasks_list() (GET /api/v1/tasks): the views of the tasks of run_id with the status
 * asked for, paged; from the collection the request keeps. */
static int tasks_of(struct gql_resolve_info *ri, const char *run_id, json_t **out)
{
	const char *status = arg_str(ri, "status");
	enum task_status want = TS_PENDING;
	struct gqlapi_tasks *tc;
	struct core_err e = {0};
	struct page p;
	json_t *list;
	long matched = 0;
	size_t i;

	if (page_of(ri, &p))
		return -1;
	if (status && !task_status_parse(status, &want))
		return fail(ri, "invalid_status",
			    "unknown status '%s' (pending, assigned, running, completed, failed, "
			    "cancelled)",
			    status);
	tc = tasks_collected(ri, run_id, &e);
	if (!tc)
		return e.kind[0] ? fail_core(ri, &e) : fail(ri, "no_memory", "out of memory");
	list = json_array();
	for (i = 0; list && i < tc->n; i++) {
		if (status && tc->ts[i]->status != want)
			continue;
		if (matched >= p.offset && (long)json_array_size(list) < p.first)
			json_array_append_new(list, core_task_view(core_of(ri), tc->ts[i]));
		matched++;
	}
	if (!list)
		return fail(ri, "no_memory", "out of memory");
	*out = paged(&p, list, matched);
	return 0;
}

static int q_tasks(struct gql_resolve_info *ri, json_t **out)
{
	const char *run_id = arg_str(ri, "run_id");
	struct core_err e;

	if (run_id && !core_run_find(core_of(ri), run_id, project_of(ri), &e))
		return fail_core(ri, &e);
	return tasks_of(ri, run_id, out);
}

static int q_task(struct gql_resolve_info *ri, json_t **out)
{
	struct coord *c = core_of(ri);
	struct core_err e;
	struct ctask *t = core_task_find(c, arg_str(ri, "id"), project_of(ri), &e);

	*out = t ? core_task_view(c, t) : NULL;
	return 0;
}

static int t_model(struct gql_resolve_info *ri, json_t **out)
{
	*out = json_incref(json_object_get(json_object_get(ri->parent, "params"), ri->field));
	return 0;
}

/* A task's worker, from the worker views looked up once per request. */
static int t_worker(struct gql_resolve_info *ri, json_t **out)
{
	struct gqlapi_ctx *g = ri->app;
	const char *id = json_string_value(json_object_get(ri->parent, "worker_id"));
	json_t *w;
	struct core_err e;

	*out = NULL;
	if (!id || !*id)
		return 0;
	w = json_object_get(g->workers, id);
	if (!w) {
		w = core_worker_get(g->c, id, &e);
		json_object_set_new(g->workers, id, w ? w : json_null());
	}
	*out = json_is_object(w) ? json_incref(w) : NULL;
	return 0;
}

/* The outcome of a task that started or finished: status, times, metrics and what the worker
 * reported. */
static int t_result(struct gql_resolve_info *ri, json_t **out)
{
	json_t *t = ri->parent, *res = json_object_get(t, "result");
	const char *status = json_string_value(json_object_get(t, "status"));

	*out = NULL;
	if (!res && !json_object_get(t, "started_at") && !json_object_get(t, "finished_at"))
		return 0;
	/* What the worker reported (exit_code, stdout, metrics, ...), with the task's own. */
	*out = json_is_object(res) ? json_copy(res) : json_object();
	if (!*out)
		return fail(ri, "no_memory", "out of memory");
	json_object_set_new(*out, "status", status ? json_string(status) : json_null());
	json_object_set_new(*out, "start_time", json_incref(json_object_get(t, "started_at")));
	json_object_set_new(*out, "end_time", json_incref(json_object_get(t, "finished_at")));
	json_object_set_new(*out, "error", json_incref(json_object_get(t, "error")));
	return 0;
}

/* The whole document as REST shows it. */
static int x_document(struct gql_resolve_info *ri, json_t **out)
{
	*out = json_incref(ri->parent);
	return 0;
}

/* ---- workers ---- */

static bool worker_matches(const json_t *w, const void *arg)
{
	const json_t *args = arg;
	const char *status = json_string_value(json_object_get(args, "status"));
	const char *hw = json_string_value(json_object_get(args, "hardware"));
	json_t *h;
	size_t i;

	if (status && strcmp(status, dtf_json_str(w, "status", "")))
		return false;
	if (!hw)
		return true;
	json_array_foreach(json_object_get(json_object_get(w, "capabilities"), "hardware"), i, h)
		if (json_is_string(h) && strcmp(json_string_value(h), hw) == 0)
			return true;
	return false;
}

static json_t *workers_doc(struct coord *c, const void *arg)
{
	(void)arg;
	return core_workers_list(c);
}

/* A top-level list read once per request (memo) from a core document's member, paged by
 * first/after and filtered by keep (NULL: everything). */
static int memo_page(struct gql_resolve_info *ri, const char *member,
		     json_t *(*doc)(struct coord *c, const void *arg), const void *arg,
		     bool (*keep)(const json_t *item, const void *arg), json_t **out)
{
	struct page p;
	json_t *all;

	if (page_of(ri, &p))
		return -1;
	all = memo(ri, member, doc, arg);
	if (!all)
		return fail(ri, "no_memory", "out of memory");
	*out = page_list(&p, json_object_get(all, member), keep, ri->args);
	return 0;
}

static int q_workers(struct gql_resolve_info *ri, json_t **out)
{
	return memo_page(ri, "workers", workers_doc, NULL, worker_matches, out);
}

static int q_worker(struct gql_resolve_info *ri, json_t **out)
{
	struct core_err e;

	*out = core_worker_get(core_of(ri), arg_str(ri, "id"), &e);
	return 0;
}

static int w_hardware(struct gql_resolve_info *ri, json_t **out)
{
	json_t *hw = json_object_get(json_object_get(ri->parent, "capabilities"), "hardware");

	*out = hw ? json_incref(hw) : json_array();
	return 0;
}

/* ---- runs ---- */

static json_t *runs_doc(struct coord *c, const void *arg)
{
	return core_runs_list(c, arg);
}

static int q_runs(struct gql_resolve_info *ri, json_t **out)
{
	return memo_page(ri, "runs", runs_doc, project_of(ri), NULL, out);
}

static json_t *run_doc(struct coord *c, const void *arg)
{
	return core_run_view(c, (struct crun *)(uintptr_t)arg, true);
}

static int q_run(struct gql_resolve_info *ri, json_t **out)
{
	struct coord *c = core_of(ri);
	struct core_err e;
	struct crun *run = core_run_find(c, arg_str(ri, "id"), project_of(ri), &e);
	char key[80];

	*out = NULL;
	if (!run)
		return 0;
	snprintf(key, sizeof(key), "run:%s", run->id);
	*out = json_incref(memo(ri, key, run_doc, run));
	return *out ? 0 : fail(ri, "no_memory", "out of memory");
}

static int r_tasks(struct gql_resolve_info *ri, json_t **out)
{
	return tasks_of(ri, json_string_value(json_object_get(ri->parent, "id")), out);
}

/* ---- recovery, scheduler ---- */

static json_t *history_doc(struct coord *c, const void *arg)
{
	json_t *h = recovery_history_json(c);

	/* A project key sees which task blocked a class only when it is its project's. */
	if (arg)
		json_object_set_new(h, "blocked_hardware", core_blocked_hardware(c, arg));
	return h;
}

static int q_recovery(struct gql_resolve_info *ri, json_t **out)
{
	*out = json_incref(memo(ri, "recovery", history_doc, project_of(ri)));
	return *out ? 0 : fail(ri, "no_memory", "out of memory");
}

static bool history_matches(const json_t *h, const void *arg)
{
	const char *cls = json_string_value(json_object_get(arg, "class"));

	return !cls || strcmp(cls, dtf_json_str(h, "class", "")) == 0;
}

static int h_history(struct gql_resolve_info *ri, json_t **out)
{
	struct page p;

	if (page_of(ri, &p))
		return -1;
	*out = page_list(&p, json_object_get(ri->parent, "history"), history_matches, ri->args);
	return 0;
}

static int h_quarantined(struct gql_resolve_info *ri, json_t **out)
{
	struct page p;

	if (page_of(ri, &p))
		return -1;
	*out = page_list(&p, json_object_get(ri->parent, "quarantined_workers"), NULL, NULL);
	return 0;
}

static json_t *scheduler_doc(struct coord *c, const void *arg)
{
	(void)arg;
	return sx_describe(c->sx, c->plugins, c->cfg.batch_processing, c->cfg.batch_size_limit,
			   c->pending_count);
}

static int q_scheduler(struct gql_resolve_info *ri, json_t **out)
{
	*out = json_incref(memo(ri, "scheduler", scheduler_doc, NULL));
	return *out ? 0 : fail(ri, "no_memory", "out of memory");
}

/* ---- mutations ---- */

/* Roles (docs/auth.md): queries need read (the route), mutations submit, and quarantineWorker
 * admin, as their REST routes do. */
static bool role_ok(struct gql_resolve_info *ri, int need)
{
	int have = ((struct gqlapi_ctx *)ri->app)->role;

	if (dtf_role_allows(have, need))
		return true;
	fail(ri, "forbidden", "this key has role %s; the mutation needs %s", dtf_role_name(have),
	     dtf_role_name(need));
	return false;
}

static int m_create_task(struct gql_resolve_info *ri, json_t **out)
{
	struct core_err e;
	json_t *input = json_object_get(ri->args, "input");

	if (!role_ok(ri, DTF_ROLE_SUBMIT))
		return -1;
	/* What the request kept may change now. */
	gqlapi_ctx_forget(ri->app);
	if (core_tasks_submit(core_of(ri), input, project_of(ri), out, &e))
		return fail_core(ri, &e);
	return 0;
}

static int m_submit_tasks(struct gql_resolve_info *ri, json_t **out)
{
	struct core_err e;
	json_t *body = json_pack("{s:O}", "tasks", json_object_get(ri->args, "tasks"));
	const char *run_id = arg_str(ri, "run_id"), *run_name = arg_str(ri, "run_name");
	int rc;

	if (!role_ok(ri, DTF_ROLE_SUBMIT))
		return -1;
	/* What the request kept may change now. */
	gqlapi_ctx_forget(ri->app);
	if (run_id)
		json_object_set_new(body, "run_id", json_string(run_id));
	if (run_name)
		json_object_set_new(body, "run", json_pack("{s:s}", "name", run_name));
	rc = core_tasks_submit(core_of(ri), body, project_of(ri), out, &e);
	json_decref(body);
	if (rc)
		return fail_core(ri, &e);
	/* One task submitted alone comes back as its view: the same shape either way. */
	if (json_object_get(*out, "seq")) {
		json_t *one = *out;
		*out = json_pack("{s:O*,s:[O],s:i}", "run_id", json_object_get(one, "run_id"),
				 "ids", json_object_get(one, "id"), "count", 1);
		json_decref(one);
	}
	return 0;
}

static int m_update_task(struct gql_resolve_info *ri, json_t **out)
{
	struct core_err e;

	if (!role_ok(ri, DTF_ROLE_SUBMIT))
		return -1;
	/* What the request kept may change now. */
	gqlapi_ctx_forget(ri->app);
	if (core_task_update(core_of(ri), arg_str(ri, "id"), json_object_get(ri->args, "input"),
			     project_of(ri), out, &e))
		return fail_core(ri, &e);
	return 0;
}

static int m_cancel_task(struct gql_resolve_info *ri, json_t **out)
{
	struct core_err e;
	const char *reason = arg_str(ri, "reason");

	if (!role_ok(ri, DTF_ROLE_SUBMIT))
		return -1;
	/* What the request kept may change now. */
	gqlapi_ctx_forget(ri->app);
	if (core_task_cancel(core_of(ri), arg_str(ri, "id"), reason ? reason : "cancelled",
			     project_of(ri), out, &e))
		return fail_core(ri, &e);
	return 0;
}

static int m_create_run(struct gql_resolve_info *ri, json_t **out)
{
	struct coord *c = core_of(ri);
	struct core_err e;
	struct crun *run;
	json_t *meta = json_object_get(ri->args, "metadata");

	if (!role_ok(ri, DTF_ROLE_SUBMIT))
		return -1;
	/* What the request kept may change now. */
	gqlapi_ctx_forget(ri->app);
	if (meta && !json_is_object(meta) && !json_is_null(meta))
		return fail(ri, "invalid_run", "'metadata' must be an object");
	if (core_run_create(c, arg_str(ri, "name"), json_is_object(meta) ? meta : NULL,
			    project_of(ri), &run, &e))
		return fail_core(ri, &e);
	*out = core_run_view(c, run, false);
	return 0;
}

/* As POST (or, with lift, DELETE) /api/v1/workers/{id}/quarantine. */
static int m_quarantine(struct gql_resolve_info *ri, json_t **out)
{
	struct coord *c = core_of(ri);
	struct cworker *w = dtf_hmap_get(&c->workers, arg_str(ri, "id"));
	json_t *d = json_object_get(ri->args, "duration_s");
	double dur = json_is_number(d) ? json_number_value(d) : 0;
	const char *reason = arg_str(ri, "reason");

	if (!role_ok(ri, DTF_ROLE_ADMIN))
		return -1;
	/* What the request kept may change now. */
	gqlapi_ctx_forget(ri->app);
	if (json_is_number(d) && (dur <= 0 || dur > 365.0 * 86400))
		return fail(ri, "invalid_request",
			    "'duration_s' must be more than 0 and at most a year");
	if (!w)
		return fail(ri, "worker_not_found", "no worker '%s'", arg_str(ri, "id"));
	if (txn_begin(c) != 0)
		return fail(ri, "store_error", "the change could not be committed");
	if (json_is_true(json_object_get(ri->args, "lift")))
		recovery_unquarantine(c, w, "lifted by an admin call");
	else
		recovery_quarantine(c, w, reason ? reason : "quarantined by an admin call", dur);
	if (txn_commit(c) != 0)
		return fail(ri, "store_error", "the change could not be committed");
	state_worker_sync(w);
	*out = state_worker_view(w);
	lease_wake(c);
	return 0;
}

/* ---- the schema ---- */

#define END_ARGS                                                                                   \
	{                                                                                          \
		NULL, NULL, NULL, NULL, NULL                                                       \
	}
#define END_FIELDS                                                                                 \
	{                                                                                          \
		NULL, NULL, NULL, NULL, NULL, NULL                                                 \
	}
#define PAGE_ARGS                                                                                  \
	{"first", "Int", "100", "How many to list (at most " MAX_FIRST ").", NULL},                \
	{                                                                                          \
		"after", "String", NULL,                                                           \
		    "A cursor: the endCursor of the page before (the list starts after it).", NULL \
	}

static const struct gql_arg_def id_args[] = {
    {"id", "ID!", NULL, NULL, NULL},
    END_ARGS,
};
static const struct gql_arg_def tasks_args[] = {
    {"status", "String", NULL,
     "Only tasks in this status: pending, assigned, running, completed, failed or cancelled.",
     NULL},
    {"run_id", "ID", NULL, "Only the tasks of this run.", NULL},
    PAGE_ARGS,
    END_ARGS,
};
static const struct gql_arg_def run_tasks_args[] = {
    {"status", "String", NULL, "Only tasks in this status.", NULL},
    PAGE_ARGS,
    END_ARGS,
};
static const struct gql_arg_def workers_args[] = {
    {"status", "String", NULL, "Only workers in this status: idle, busy, draining or lost.", NULL},
    {"hardware", "String", NULL, "Only workers with this hardware class.", NULL},
    PAGE_ARGS,
    END_ARGS,
};
static const struct gql_arg_def page_args[] = {
    PAGE_ARGS,
    END_ARGS,
};
static const struct gql_arg_def history_args[] = {
    {"class", "String", NULL, "Only this failure class.", NULL},
    PAGE_ARGS,
    END_ARGS,
};

static const struct gql_field_def query_fields[] = {
    {"tasks", "[Task!]!", "Tasks in submission order (GET /api/v1/tasks).", tasks_args, q_tasks,
     NULL},
    {"tasksConnection", "TaskConnection!", "The same tasks with totalCount and pageInfo.",
     tasks_args, q_tasks, NULL},
    {"task", "Task", "A task by id (null when there is none).", id_args, q_task, NULL},
    {"runs", "[Run!]!", "Runs (GET /api/v1/runs).", page_args, q_runs, NULL},
    {"runsConnection", "RunConnection!", "The same runs with totalCount and pageInfo.", page_args,
     q_runs, NULL},
    {"run", "Run", "A run by id, with its summary and tasks.", id_args, q_run, NULL},
    {"workers", "[Worker!]!", "Workers (GET /api/v1/workers).", workers_args, q_workers, NULL},
    {"workersConnection", "WorkerConnection!", "The same workers with totalCount and pageInfo.",
     workers_args, q_workers, NULL},
    {"worker", "Worker", "A worker by id.", id_args, q_worker, NULL},
    {"recoveryHistory", "RecoveryHistory!",
     "Error recovery: outcomes by failure class and strategy, blocked hardware, quarantined "
     "workers (GET /api/v1/recovery/history).",
     NULL, q_recovery, NULL},
    {"scheduler", "Scheduler!", "The scheduling strategy and its state (GET /api/v1/scheduler).",
     NULL, q_scheduler, NULL},
    END_FIELDS,
};

static const struct gql_field_def task_fields[] = {
    {"id", "ID!", NULL, NULL, NULL, NULL},
    {"name", "String", NULL, NULL, NULL, NULL},
    {"type", "String", "command, test, benchmark, shell or a plugin's type.", NULL, NULL, NULL},
    {"status", "String", "pending, assigned, running, completed, failed or cancelled.", NULL, NULL,
     NULL},
    {"priority", "Int", "1 (most urgent) to 10.", NULL, NULL, NULL},
    {"run_id", "ID", NULL, NULL, NULL, NULL},
    {"created_at", "String", "RFC 3339.", NULL, NULL, NULL},
    {"updated_at", "String", NULL, NULL, NULL, NULL},
    {"assigned_at", "String", NULL, NULL, NULL, NULL},
    {"started_at", "String", NULL, NULL, NULL, NULL},
    {"finished_at", "String", NULL, NULL, NULL, NULL},
    {"worker_id", "ID", NULL, NULL, NULL, NULL},
    {"worker", "Worker", "The worker the task is (or was last) assigned to.", NULL, t_worker, NULL},
    {"assigned_gpus", "[Int!]",
     "NVML indices of the GPUs of its worker it was given (docs/gpu.md).", NULL, NULL, NULL},
    {"result", "TaskResult", "The outcome, once the task started.", NULL, t_result, NULL},
    {"model", "String", "params.model (the seed's benchmark tasks).", NULL, t_model, NULL},
    {"batch_sizes", "[Int!]", "params.batch_sizes.", NULL, t_model, NULL},
    {"command", "[String!]", NULL, NULL, NULL, NULL},
    {"shell", "String", NULL, NULL, NULL, NULL},
    {"hardware", "[String!]", "Hardware classes, any of which may run the task.", NULL, NULL, NULL},
    {"requirements", "JSON", NULL, NULL, NULL, NULL},
    {"constraints", "JSON", NULL, NULL, NULL, NULL},
    {"params", "JSON", NULL, NULL, NULL, NULL},
    {"timeout_s", "Float", NULL, NULL, NULL, NULL},
    {"max_retries", "Int", NULL, NULL, NULL, NULL},
    {"max_requeues", "Int", NULL, NULL, NULL, NULL},
    {"attempt", "Int", NULL, NULL, NULL, NULL},
    {"seq", "Int", "Submission order.", NULL, NULL, NULL},
    {"batch_key", "String", NULL, NULL, NULL, NULL},
    {"pending_reason", "String", "Why a pending task waits.", NULL, NULL, NULL},
    {"schedulable", "Boolean", NULL, NULL, NULL, NULL},
    {"error", "JSON", NULL, NULL, NULL, NULL},
    {"history", "JSON", "Earlier attempts.", NULL, NULL, NULL},
    {"labels", "JSON", NULL, NULL, NULL, NULL},
    {"metadata", "JSON", NULL, NULL, NULL, NULL},
    {"user", "String", NULL, NULL, NULL, NULL},
    {"project", "String", NULL, NULL, NULL, NULL},
    {"deadline", "String", NULL, NULL, NULL, NULL},
    {"deadline_at_risk", "Boolean", NULL, NULL, NULL, NULL},
    {"batch_id", "String", NULL, NULL, NULL, NULL},
    {"requeues", "Int", "Times it went back to pending without spending a retry.", NULL, NULL,
     NULL},
    {"document", "JSON!", "The whole task as GET /api/v1/tasks/{id} shows it.", NULL, x_document,
     NULL},
    END_FIELDS,
};

static const struct gql_field_def result_fields[] = {
    {"status", "String", "The task's status.", NULL, NULL, NULL},
    {"start_time", "String", "When it started (RFC 3339).", NULL, NULL, NULL},
    {"end_time", "String", "When it finished.", NULL, NULL, NULL},
    {"metrics", "JSON", "What a benchmark reported.", NULL, NULL, NULL},
    {"exit_code", "Int", NULL, NULL, NULL, NULL},
    {"signal", "Int", NULL, NULL, NULL, NULL},
    {"duration_s", "Float", NULL, NULL, NULL, NULL},
    {"stdout", "String", NULL, NULL, NULL, NULL},
    {"stderr", "String", NULL, NULL, NULL, NULL},
    {"stdout_truncated", "Int", NULL, NULL, NULL, NULL},
    {"stderr_truncated", "Int", NULL, NULL, NULL, NULL},
    {"worker_id", "ID", NULL, NULL, NULL, NULL},
    {"tests", "JSON", "Test counts of a test task.", NULL, NULL, NULL},
    {"testcases", "JSON", NULL, NULL, NULL, NULL},
    {"error", "JSON", "{kind, message} of a failure.", NULL, NULL, NULL},
    END_FIELDS,
};

static const struct gql_field_def worker_fields[] = {
    {"id", "ID!", NULL, NULL, NULL, NULL},
    {"hostname", "String", NULL, NULL, NULL, NULL},
    {"status", "String", "idle, busy, draining or lost.", NULL, NULL, NULL},
    {"available_hardware", "[String!]!", "Its hardware classes (capabilities.hardware).", NULL,
     w_hardware, NULL},
    {"capabilities", "JSON", NULL, NULL, NULL, NULL},
    {"labels", "JSON", NULL, NULL, NULL, NULL},
    {"slots", "Int", NULL, NULL, NULL, NULL},
    {"active_tasks", "Int", NULL, NULL, NULL, NULL},
    {"available_slots", "Int", NULL, NULL, NULL, NULL},
    {"available_cpu", "Float", NULL, NULL, NULL, NULL},
    {"available_memory", "Float", NULL, NULL, NULL, NULL},
    {"available_gpu_memory", "Float", NULL, NULL, NULL, NULL},
    {"registered_at", "String", NULL, NULL, NULL, NULL},
    {"last_heartbeat", "String", NULL, NULL, NULL, NULL},
    {"quarantined", "Boolean", NULL, NULL, NULL, NULL},
    {"quarantine", "JSON", "{until, reason} while quarantined.", NULL, NULL, NULL},
    {"strikes", "Int", NULL, NULL, NULL, NULL},
    {"executor_restarts", "Int", NULL, NULL, NULL, NULL},
    {"live", "JSON", "What its last heartbeat said.", NULL, NULL, NULL},
    {"document", "JSON!", "The whole worker as GET /api/v1/workers/{id} shows it.", NULL,
     x_document, NULL},
    END_FIELDS,
};

static const struct gql_field_def run_fields[] = {
    {"id", "ID!", NULL, NULL, NULL, NULL},
    {"name", "String", NULL, NULL, NULL, NULL},
    {"created_at", "String", NULL, NULL, NULL, NULL},
    {"metadata", "JSON", NULL, NULL, NULL, NULL},
    {"project", "String", "Its project: every task in it is of that project.", NULL, NULL, NULL},
    {"summary", "JSON", "Counts by status and of test entries.", NULL, NULL, NULL},
    {"tasks", "[Task!]!", "The run's tasks in submission order.", run_tasks_args, r_tasks, NULL},
    {"tasksConnection", "TaskConnection!", NULL, run_tasks_args, r_tasks, NULL},
    {"document", "JSON!", "The whole run as GET /api/v1/runs/{id} shows it.", NULL, x_document,
     NULL},
    END_FIELDS,
};

static const struct gql_field_def page_info_fields[] = {
    {"hasNextPage", "Boolean!", NULL, NULL, NULL, NULL},
    {"hasPreviousPage", "Boolean!", NULL, NULL, NULL, NULL},
    {"startCursor", "String", NULL, NULL, NULL, NULL},
    {"endCursor", "String", "Pass it as after for the next page.", NULL, NULL, NULL},
    END_FIELDS,
};

#define CONNECTION(T)                                                                              \
	{                                                                                          \
		{"nodes", "[" T "!]!", NULL, NULL, NULL, NULL},                                    \
		    {"totalCount", "Int!", "How many match, on every page.", NULL, NULL, NULL},    \
		    {"pageInfo", "PageInfo!", NULL, NULL, NULL, NULL}, END_FIELDS                  \
	}

static const struct gql_field_def task_conn_fields[] = CONNECTION("Task");
static const struct gql_field_def run_conn_fields[] = CONNECTION("Run");
static const struct gql_field_def worker_conn_fields[] = CONNECTION("Worker");

static const struct gql_field_def history_fields[] = {
    {"history", "[RecoveryStat!]!", NULL, history_args, h_history, NULL},
    {"blocked_hardware", "JSON", "Hardware classes no task is leased to, with why.", NULL, NULL,
     NULL},
    {"quarantined_workers", "[QuarantinedWorker!]!", NULL, page_args, h_quarantined, NULL},
    END_FIELDS,
};

static const struct gql_field_def stat_fields[] = {
    {"class", "String!", "The failure class.", NULL, NULL, NULL},
    {"strategy", "String!", NULL, NULL, NULL, NULL},
    {"level", "Int!", NULL, NULL, NULL, NULL},
    {"attempts", "Int!", NULL, NULL, NULL, NULL},
    {"successes", "Int!", NULL, NULL, NULL, NULL},
    {"success_rate", "Float", NULL, NULL, NULL, NULL},
    {"mean_time_to_recover_s", "Float", NULL, NULL, NULL, NULL},
    END_FIELDS,
};

static const struct gql_field_def quarantined_fields[] = {
    {"id", "ID!", NULL, NULL, NULL, NULL},
    {"until", "String", NULL, NULL, NULL, NULL},
    {"reason", "String", NULL, NULL, NULL, NULL},
    END_FIELDS,
};

static const struct gql_field_def scheduler_fields[] = {
    {"strategy", "String!", NULL, NULL, NULL, NULL},
    {"strategies", "[Strategy!]!", NULL, NULL, NULL, NULL},
    {"batch_processing", "Boolean", NULL, NULL, NULL, NULL},
    {"batch_size_limit", "Int", NULL, NULL, NULL, NULL},
    {"pending", "Int", NULL, NULL, NULL, NULL},
    {"usage", "JSON", NULL, NULL, NULL, NULL},
    {"signatures", "Int", NULL, NULL, NULL, NULL},
    {"lanes", "Int", NULL, NULL, NULL, NULL},
    {"delayed", "Int", NULL, NULL, NULL, NULL},
    {"half_life_s", "Float", NULL, NULL, NULL, NULL},
    {"history_entries", "Int", NULL, NULL, NULL, NULL},
    {"document", "JSON!", "Everything GET /api/v1/scheduler shows.", NULL, x_document, NULL},
    END_FIELDS,
};

static const struct gql_field_def strategy_fields[] = {
    {"name", "String!", NULL, NULL, NULL, NULL},
    {"description", "String", NULL, NULL, NULL, NULL},
    {"source", "String", "builtin or the plugin's.", NULL, NULL, NULL},
    {"plugin", "String", NULL, NULL, NULL, NULL},
    END_FIELDS,
};

static const struct gql_arg_def create_task_args[] = {
    {"input", "TaskInput!", NULL, NULL, NULL},
    END_ARGS,
};
static const struct gql_arg_def submit_args[] = {
    {"tasks", "[TaskInput!]!", NULL, NULL, NULL},
    {"run_id", "ID", NULL, "Add them to this run.", NULL},
    {"run_name", "String", NULL, "Or to a new run of this name.", NULL},
    END_ARGS,
};
static const struct gql_arg_def update_args[] = {
    {"id", "ID!", NULL, NULL, NULL},
    {"input", "TaskUpdateInput!", NULL, NULL, NULL},
    END_ARGS,
};
static const struct gql_arg_def cancel_args[] = {
    {"id", "ID!", NULL, NULL, NULL},
    {"reason", "String", NULL, "cancelled (the default) or unschedulable.", NULL},
    END_ARGS,
};
static const struct gql_arg_def run_args[] = {
    {"name", "String", NULL, NULL, NULL},
    {"metadata", "JSON", NULL, "An object.", NULL},
    END_ARGS,
};
static const struct gql_arg_def quarantine_args[] = {
    {"id", "ID!", NULL, NULL, NULL},
    {"reason", "String", NULL, NULL, NULL},
    {"duration_s", "Float", NULL, "How long (the configured quarantine time when not given).",
     NULL},
    {"lift", "Boolean", "false", "Lift the quarantine instead.", NULL},
    END_ARGS,
};

static const struct gql_field_def mutation_fields[] = {
    {"createTask", "Task", "Submits one task (POST /api/v1/tasks).", create_task_args,
     m_create_task, NULL},
    {"submitTasks", "SubmitResult", "Submits tasks in one commit, optionally in a run.",
     submit_args, m_submit_tasks, NULL},
    {"updateTask", "Task", "Changes a pending task (PUT /api/v1/tasks/{id}).", update_args,
     m_update_task, NULL},
    {"cancelTask", "Task", "Cancels a task (DELETE /api/v1/tasks/{id}).", cancel_args,
     m_cancel_task, NULL},
    {"createRun", "Run", "Creates a run (POST /api/v1/runs).", run_args, m_create_run, NULL},
    {"quarantineWorker", "Worker",
     "Quarantines a worker, or lifts its quarantine (POST/DELETE "
     "/api/v1/workers/{id}/quarantine).",
     quarantine_args, m_quarantine, NULL},
    END_FIELDS,
};

static const struct gql_field_def submit_fields[] = {
    {"run_id", "ID", NULL, NULL, NULL, NULL},
    {"ids", "[ID!]!", NULL, NULL, NULL, NULL},
    {"count", "Int!", NULL, NULL, NULL, NULL},
    END_FIELDS,
};

static const struct gql_arg_def task_input[] = {
    {"type", "String", NULL, "command (the default), test, benchmark, shell or a plugin's.", NULL},
    {"name", "String", NULL, NULL, NULL},
    {"command", "[String!]", NULL, "The argv to run (or shell).", NULL},
    {"shell", "String", NULL, "A shell command line (or command).", NULL},
    {"cwd", "String", NULL, NULL, NULL},
    {"env", "JSON", NULL, "An object of strings.", NULL},
    {"model", "String", NULL, "Kept in params (and the default batch_key).", NULL},
    {"hardware", "[String!]", NULL, "Hardware classes, any of which may run it.", NULL},
    {"batch_sizes", "[Int!]", NULL, "Kept in params.", NULL},
    {"priority", "Int", NULL, "1 (most urgent) to 10; 5 when not given.", NULL},
    {"timeout_s", "Float", NULL, NULL, NULL},
    {"max_retries", "Int", NULL, NULL, NULL},
    {"max_requeues", "Int", NULL, NULL, NULL},
    {"requirements", "JSON", NULL, "{hardware, cpu, memory, gpu_memory, ...}.", NULL},
    {"constraints", "JSON", NULL, "A constraint expression or a list of them.", NULL},
    {"params", "JSON", NULL, "An object.", NULL},
    {"artifacts", "[String!]", NULL, NULL, NULL},
    {"deadline", "String", NULL, "RFC 3339.", NULL},
    {"labels", "JSON", NULL, NULL, NULL},
    {"metadata", "JSON", NULL, NULL, NULL},
    {"user", "String", NULL, NULL, NULL},
    {"project", "String", NULL, NULL, NULL},
    {"junit", "String", NULL, NULL, NULL},
    {"batch_key", "String", NULL, NULL, NULL},
    {"id", "ID", NULL, "A client-chosen id.", NULL},
    {"run_id", "ID", NULL, NULL, NULL},
    END_ARGS,
};

static const struct gql_arg_def task_update_input[] = {
    {"priority", "Int", NULL, NULL, NULL},
    {"timeout_s", "Float", NULL, NULL, NULL},
    {"max_retries", "Int", NULL, NULL, NULL},
    {"max_requeues", "Int", NULL, NULL, NULL},
    {"params", "JSON", NULL, NULL, NULL},
    {"name", "String", NULL, NULL, NULL},
    END_ARGS,
};

static const struct gql_type_def types[] = {
    {GQL_DEF_OBJECT, "Query", NULL, query_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "Mutation", NULL, mutation_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "Task", "A task, as the REST API shows it.", task_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "TaskResult", NULL, result_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "Worker", NULL, worker_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "Run", NULL, run_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "PageInfo", NULL, page_info_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "TaskConnection", NULL, task_conn_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "RunConnection", NULL, run_conn_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "WorkerConnection", NULL, worker_conn_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "RecoveryHistory", NULL, history_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "RecoveryStat", NULL, stat_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "QuarantinedWorker", NULL, quarantined_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "Scheduler", NULL, scheduler_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "Strategy", NULL, strategy_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "SubmitResult", NULL, submit_fields, NULL, NULL, NULL},
    {GQL_DEF_INPUT, "TaskInput",
     "A task as POST /api/v1/tasks takes it: command or shell is needed.", NULL, task_input, NULL,
     NULL},
    {GQL_DEF_INPUT, "TaskUpdateInput", "The fields of a pending task that may change.", NULL,
     task_update_input, NULL, NULL},
    {GQL_DEF_SCALAR, "JSON", "Any JSON value.", NULL, NULL, NULL,
     "https://www.rfc-editor.org/rfc/rfc8259"},
    {GQL_DEF_OBJECT, NULL, NULL, NULL, NULL, NULL, NULL},
};

const struct gql_schema_def gqlapi_schema_def = {
    "dtf: the distributed testing framework's coordinator (tasks, runs, workers).", types, "Query",
    "Mutation"};
