/* ops.h: what front-ends call: the core's operations on tasks, runs and workers, each the whole
 * of one request's meaning (validation, the change, its commit, the wake-ups it causes) with no
 * transport in it. The REST handlers in src/api/ parse a request, take c->lock, call one of these
 * and turn the outcome into a reply; a GraphQL resolver or a dashboard does the same with the same
 * calls. Included by core/model.h; every call is made with c->lock held.
 *
 * An operation that fails returns a negative DTF_E* code and fills a struct core_err: the code,
 * a kind (the short machine-readable name clients see, such as "task_not_found") and a message.
 * What a code means to a client: DTF_EINVAL, DTF_EPROTO a bad request; DTF_ENOTFOUND unknown;
 * DTF_EEXISTS, DTF_ESTATE, DTF_ESTALE a conflict with the current state; DTF_ETOOBIG too much at
 * once; DTF_EAUTH a wrong credential; DTF_EDENIED not allowed; DTF_ESTORE, DTF_ENOMEM,
 * DTF_ESHUTDOWN unavailable for now (nothing was changed). */
#ifndef DTF_CORE_OPS_H
#define DTF_CORE_OPS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct coord;
struct ctask;
struct crun;
struct cworker;
struct dtf_buf;

struct core_err {
	int code;
	char kind[40];
	char msg[512];
};

/* Fills e and returns code (a negative DTF_E*). */
int core_fail(struct core_err *e, int code, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- reading (query.c) ---- */

/* The task as clients see it (a new reference): its document plus, while it is pending, why. */
json_t *core_task_view(struct coord *c, struct ctask *t);

/* Projects (docs/auth.md, "Project keys"). A front-end serving a caller limited to a project
 * passes that project to the calls below that take one (NULL: every project): another
 * project's task or run is then unknown (DTF_ENOTFOUND, as if it did not exist) and lists leave
 * them out. A task's project is its document's "project" ("" none); a run's is its document's
 * (set when a project-limited caller created it, or given); a run's tasks are of its project. */
bool core_task_in(const struct ctask *t, const char *project);
bool core_run_in(const struct crun *run, const char *project);
/* The blocked hardware classes ({class: {since, task_id, reason}}, a new copy) as project may
 * see them: the task that blocked a class and why are left out when it is another project's. */
json_t *core_blocked_hardware(struct coord *c, const char *project);
/* The task id names if project may see it, else NULL with DTF_ENOTFOUND (task_not_found). */
struct ctask *core_task_find(struct coord *c, const char *id, const char *project,
			     struct core_err *e);
/* Tasks of project (of a run, or of a comma-separated id list, or all) sorted by submission:
 * a new array (the caller frees it; NULL when empty) and *n. An unknown id in ids (or one of
 * another project) fails with DTF_ENOTFOUND (task_not_found). */
int core_tasks_collect(struct coord *c, const char *run_id, const char *ids, const char *project,
		       struct ctask ***out, size_t *n, struct core_err *e);
/* The counts of tasks ts by status (a new object), with the pending ones no worker could run
 * when with_blocked; with_tests adds "tests", their test entries by status. */
json_t *core_tasks_summary(struct coord *c, struct ctask **ts, size_t n, bool with_blocked,
			   bool with_tests);
/* True if no registered worker could ever run pending task t; lists it (the first 20) in
 * blocked with the reason. */
bool core_note_blocked(struct coord *c, struct ctask *t, json_t *blocked);
/* A task's output so far: its result's stdout and stderr, else its live output. */
void core_task_output(struct ctask *t, struct dtf_buf *out);
/* The report document {"run", "tasks"} of tasks ts (a new reference; run borrowed). */
json_t *core_report_doc(struct coord *c, const json_t *run, struct ctask **ts, size_t n);
/* The report document of a run's tasks or of the tasks ids names (or of all) of project, with
 * the run's document, or one named "export" when no run is given; another project's run is
 * DTF_ENOTFOUND (run_not_found). */
int core_export_doc(struct coord *c, const char *run_id, const char *ids, const char *project,
		    json_t **doc, struct core_err *e);
/* {"tasks": [views], "total"}: a run's tasks (or all) of project with status (an enum
 * task_status, or -1 for any), in submission order, offset of them skipped and at most limit
 * listed; total counts every match. */
json_t *core_tasks_list(struct coord *c, const char *run_id, int status, long limit, long offset,
			const char *project);

/* ---- runs (runs.c) ---- */

/* A run by id that project may see, or NULL with DTF_ENOTFOUND (run_not_found) in e. */
struct crun *core_run_find(struct coord *c, const char *id, const char *project,
			   struct core_err *e);
/* A new run in memory (not stored yet; name NULL: its id; meta an object or NULL; project NULL:
 * none). */
struct crun *core_run_new(struct coord *c, const char *name, json_t *meta, const char *project);
/* Creates and stores a run (name NULL: its id; meta an object or NULL; project NULL: none, else
 * the run and every task submitted into it are of that project). */
int core_run_create(struct coord *c, const char *name, json_t *meta, const char *project,
		    struct crun **out, struct core_err *e);
/* {"runs": [views]}: every run of project as clients see it. */
json_t *core_runs_list(struct coord *c, const char *project);
/* The run as clients see it, with a summary (a new reference). */
json_t *core_run_view(struct coord *c, struct crun *run, bool with_blocked);
/* The run's summary from its counters (a new reference), bounded however large the run. */
json_t *core_run_summary(struct coord *c, struct crun *run);
bool core_run_done(const struct crun *run);
/* Suspends a summary of run until it is done or wait_s has passed: token is answered through
 * c->fe.summary_done. */
int core_summary_wait(struct coord *c, struct crun *run, void *token, double wait_s,
		      struct core_err *e);
/* Answers the suspended summaries whose run is done (or, with expired_too, whose wait has
 * passed). */
void core_summary_check(struct coord *c, bool expired_too);
/* Forgets token if it is a suspended summary (its connection is gone). */
void core_summary_forget(struct coord *c, void *token);
/* Answers every suspended summary with DTF_ESHUTDOWN. */
void core_summary_end(struct coord *c);

/* ---- submission and changes by clients (submit.c) ---- */

/* Accepts one task object, a list, or {"tasks": [...], "run_id"?, "run": {"name"}?}: validates
 * them all before anything is stored, then stores them in one commit. *reply gets the created
 * task's view (one object) or {"run_id", "ids", "count"} (a new reference). With project (the
 * caller's limit; NULL none) every task gets that project (a task naming another is refused,
 * DTF_EDENIED "forbidden"), a run it creates is of that project and run_id must name one of
 * that project's runs. A task without a project takes its run's; one naming another project
 * than its run's is refused (DTF_EINVAL). */
int core_tasks_submit(struct coord *c, json_t *body, const char *project, json_t **reply,
		      struct core_err *e);
/* Changes a pending task's scheduling fields (priority, timeout_s, max_retries, max_requeues,
 * params, name); *reply gets its view. Another project's task is DTF_ENOTFOUND. */
int core_task_update(struct coord *c, const char *id, json_t *changes, const char *project,
		     json_t **reply, struct core_err *e);
/* Cancels a task (kind "cancelled", or "unschedulable" when no worker could ever run it); a
 * running one is stopped on its worker. *reply gets its view. Another project's task is
 * DTF_ENOTFOUND. */
int core_task_cancel(struct coord *c, const char *id, const char *kind, const char *project,
		     json_t **reply, struct core_err *e);

/* ---- workers (workers.c) ---- */

/* The worker id whose credentials match (protocol is the version it sent in its header, or
 * NULL; body may carry "protocol"), marked seen; NULL with e filled. */
struct cworker *core_worker_auth(struct coord *c, const char *id, const char *protocol,
				 const char *token, const json_t *body, struct core_err *e);
/* Registers a worker (again, after a restart: what it no longer runs goes back); *reply gets
 * {"worker_id", "token", "heartbeat_interval_s", ...}. With workers' JWTs on (c->auth.on), an
 * id that is registered and not lost is registered again only with that worker's current token
 * (credential) or when replace is set (an admin's explicit replacement); the attempt is refused
 * (409 worker_live) and logged otherwise, and a revoked id is refused (403) unless replace. */
int core_worker_register(struct coord *c, const char *protocol, const char *credential,
			 bool replace, json_t *body, json_t **reply, struct core_err *e);
/* Revokes worker id (an admin's act): its tokens fail at once, its tasks go back to the queue,
 * and it may register again only by an admin's replacement. 0 or DTF_ENOTFOUND. */
int core_worker_revoke(struct coord *c, const char *id, json_t **reply, struct core_err *e);
/* Turns workers' JWTs on with HS256 secret key (keylen bytes, at most 32 used) and lifetime
 * ttl_s. */
void core_auth_setup(struct coord *c, const unsigned char *key, size_t keylen, double ttl_s);
/* The API key set's document (the front-end's format: hashes and revocations, never a secret)
 * written in the store inside the current transaction: with the request's other changes, whose
 * reply the front-end holds until the commit (keystore.c). 0 or DTF_ESTORE. */
int core_keys_store(struct coord *c, const json_t *doc, struct core_err *e);
/* The stored key set's document (a new reference), or *doc NULL when none was ever stored; a
 * document that cannot be read is DTF_ESTORE. */
int core_keys_stored(struct coord *c, json_t **doc, struct core_err *e);
/* One of the coordinator's own documents (the store's meta_docs) written under key in a
 * transaction of its own (grouped with the request's other changes, if in one). 0 or
 * DTF_ESTORE. */
int core_meta_put(struct coord *c, const char *key, const json_t *doc, struct core_err *e);
/* The document stored under key (a new reference), or *doc NULL when there is none or the store
 * keeps none; one that cannot be read is DTF_ESTORE. */
int core_meta_get(struct coord *c, const char *key, json_t **doc, struct core_err *e);
/* A heartbeat of w (resources, draining, what it runs); *reply gets what the worker must do. */
json_t *core_worker_heartbeat(struct coord *c, struct cworker *w, const json_t *body);
/* A lease by worker worker_id (its credentials as for core_worker_auth, checked after the
 * request's fields): the results in body first, then up to max tasks (and ahead more). When nothing
 * is leased and the worker may wait, the lease is suspended with token and *reply stays NULL; else
 * *reply gets {"tasks", "cancel", "results"} and *leased the leased documents (a new reference,
 * NULL if none: what lease_undelivered() takes should the reply be lost). */
int core_worker_lease(struct coord *c, const char *worker_id, const char *protocol,
		      const char *credential, const json_t *body, void *token, json_t **reply,
		      json_t **leased, struct core_err *e);
/* All workers' views and the blocked hardware, {"workers", "blocked_hardware"}. */
json_t *core_workers_list(struct coord *c);
/* The browser instances of every worker's pool, with their probed capabilities and the recent
 * metrics of browser benchmarks (regressions flagged): GET /api/v1/browsers (browsers.c). */
json_t *core_browsers_list(struct coord *c);
/* For a run's report and page: each completed browser task among ts with its benchmark's trend
 * (per judged metric the last values up to this run), the median of the runs before it and a
 * regression flag when worse than that median by more than the margin (docs/browsers.md). A new
 * array, or NULL when none of ts is in the history. c->lock held. */
json_t *core_browsers_report(struct coord *c, struct ctask **ts, size_t n);
/* One worker's view, or NULL with DTF_ENOTFOUND. */
json_t *core_worker_get(struct coord *c, const char *id, struct core_err *e);

/* ---- what workers report (results.c) ---- */

/* Applies a worker's result for a task. Returns 0 when recorded, DTF_ESTALE when the task is no
 * longer this worker's attempt, DTF_ENOTFOUND, DTF_EINVAL for a malformed result; why says
 * which. */
int core_result_apply(struct coord *c, struct cworker *w, const char *task_id, json_t *res,
		      char *why, size_t len);
/* A result posted on its own, with an optional lease of lease_max tasks in the same round trip
 * (*leased as for core_worker_lease); *reply gets {"accepted", "tasks"?, "cancel"?}. */
int core_task_result(struct coord *c, struct cworker *w, const char *task_id, json_t *body,
		     json_t **reply, json_t **leased, struct core_err *e);
/* The worker started a task's attempt. */
int core_task_started(struct coord *c, struct cworker *w, const char *task_id, const json_t *body,
		      struct core_err *e);
/* A chunk of a running task's output (kept in memory, its last 64 KiB). */
int core_task_log_append(struct coord *c, struct cworker *w, const char *task_id,
			 const json_t *body, struct core_err *e);
/* Tasks charged to w that it does not list among those it runs were lost on the way: after a
 * grace period they go back to pending. */
void core_worker_reconcile(struct coord *c, struct cworker *w, const json_t *running);

#endif
