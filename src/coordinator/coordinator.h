/* coordinator.h: the coordinator's state and its parts. The live state (tasks, runs, workers, the
 * pending index) is in memory under one lock; every change is written to the store and committed
 * before the request that caused it is answered. HTTP handlers (api.c) run on the server's
 * thread; the tick thread (coordinator.c) handles liveness and long-poll deadlines. */
#ifndef DTF_COORDINATOR_H
#define DTF_COORDINATOR_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/hmap.h"
#include "common/testcount.h"
#include "coordinator/constraints.h"
#include "coordinator/events.h"
#include "coordinator/recovery.h"
#include "net/http.h"
#include "plugin/plugin.h"
#include "sched/sched.h"
#include "store/store.h"

#define DTF_PROTOCOL_VERSION 1
#define DTF_MAX_TASKS_PER_REQUEST 100000
#define DTF_PRIORITY_LEVELS 10
/* A task's max_requeues when neither it nor the coordinator's configuration gives one. */
#define DTF_MAX_REQUEUES 3

enum task_status {
	TS_PENDING,
	TS_ASSIGNED,
	TS_RUNNING,
	TS_COMPLETED,
	TS_FAILED,
	TS_CANCELLED,
	TS__COUNT
};

enum worker_status { WS_IDLE, WS_BUSY, WS_DRAINING, WS_LOST };

struct cworker;

struct ctask {
	char id[48];
	char run_id[48];
	int64_t seq;             /* submission order, also the age for FIFO within a priority */
	json_t *jdoc;            /* the task as the API shows it (owned), NULL while kept as text:
				  * read it through task_doc(); status fields kept in sync */
	enum task_status status;
	int priority;            /* 1 most urgent … 10 */
	const char *type;        /* borrowed from doc */
	json_t *hw_any;          /* borrowed: array of hardware classes, any of which will do */
	json_t *hw_all;          /* borrowed: requirements.hardware, all of which are needed */
	double cpu, memory, gpu_memory; /* requirements; cpu 0 means "one slot, no core count" */
	int attempt;             /* the current attempt, 0 before the first lease */
	int max_retries;
	int retries_used;
	int max_requeues;        /* requeues after its worker was lost or stopped it, at most */
	int requeues;            /* such requeues so far (doc.requeues; they spend no retry) */
	char worker_id[72];      /* while assigned or running */
	int64_t assigned_ms;     /* monotonic: when the current attempt was leased (or loaded) */
	struct ctask *qprev, *qnext; /* the pending queue of its priority */
	bool queued;
	struct dtf_constraints *constraints; /* compiled constraints (constraints.h), or NULL */
	json_t *rec;             /* borrowed doc.recovery while a recovery is in progress */
	bool pinned;             /* rec.pin holds the next attempt for its worker (this process) */
	/* What the pending index and the strategies see of it (src/sched/sched.h), filled in by
	 * sched_task_set; also its retry backoff (sx.not_before_ms, monotonic). */
	struct sx_task sx;
	char *text;              /* a pending task's document as compact JSON (taskdoc.c), or NULL */
};

struct cworker {
	char id[72];
	json_t *doc;             /* registration plus live fields, as the API shows it (owned) */
	json_t *hardware;        /* borrowed from doc.capabilities.hardware */
	json_t *task_types;      /* borrowed; NULL means the built-in types */
	int slots;
	double cpu, memory, gpu_memory; /* totals */
	int used_slots;
	double used_cpu, used_memory, used_gpu_memory;
	enum worker_status status;
	int64_t last_seen_ms;    /* monotonic */
	char token[48];
	struct dtf_http_req *waiter; /* a suspended lease, or NULL */
	int waiter_max;
	int64_t waiter_deadline_ms;
	json_t *cancel;          /* task ids the worker must stop (sent with the next reply) */
	int active;              /* tasks assigned or running here */
	bool quarantined;        /* no new leases until quarantine_until_ms (wall) */
	int64_t quarantine_until_ms;
	char quarantine_reason[160];
	int strikes;             /* tasks that failed here, then passed elsewhere, since a pass */
	bool restart_executor;   /* told with the next reply: restart the executors */
	struct sx_worker sx;     /* what the strategies see of it (src/sched/sched.h) */
};

/* The task and worker a scheduler record is embedded in. */
static inline struct ctask *ctask_of(const struct sx_task *st)
{
	return (struct ctask *)((char *)(uintptr_t)st - offsetof(struct ctask, sx));
}

static inline struct cworker *cworker_of(const struct sx_worker *sw)
{
	return (struct cworker *)((char *)(uintptr_t)sw - offsetof(struct cworker, sx));
}

struct crun {
	char id[48];
	json_t *doc;
	int counts[TS__COUNT];
	int unschedulable;       /* cancelled because no worker could run them */
	int total;
	struct dtf_testcount tests; /* its test entries by status (common/testcount.h) */
};

/* A suspended GET /api/v1/runs/{id}/summary?wait_s=S, answered once the run is done or S has
 * passed (a client waiting for a run learns the end at once instead of polling). */
struct run_waiter {
	struct dtf_http_req *r;
	char run_id[48];
	int64_t deadline_ms;
	struct run_waiter *next;
};

struct coord_config {
	const char *host;
	unsigned port;
	const char *db_path;
	const char *const *api_keys;     /* NULL-terminated or NULL */
	const char *const *workers;      /* ids allowed without auto-discovery (NULL: any) */
	bool auto_discovery;
	bool batch_processing;
	int batch_size_limit;
	double heartbeat_interval_s;
	double heartbeat_timeout_s;
	double default_timeout_s;
	double retry_backoff_s;          /* first retry delay after a failure; doubles, jittered */
	const char *tls_cert, *tls_key;
	const json_t *config_doc;        /* the parsed --config (plugins section), or NULL */
	const char *config_path;
	const char *const *default_constraints; /* --constraint flags, NULL-terminated, or NULL */
	bool no_group_commit;            /* commit every request on its own */
	int quarantine_threshold;        /* strikes that quarantine a worker (0: never) */
	double quarantine_s;             /* how long a quarantine lasts */
	int max_requeues;                /* default of a task's max_requeues (0: DTF_MAX_REQUEUES;
					  * negative: none, a lost worker's task fails) */
	const char *strategy;            /* --strategy: overrides scheduler.strategy, or NULL */
};

struct coord {
	pthread_mutex_t lock;
	struct coord_config cfg;
	struct dtf_store *store;
	struct dtf_http_server *http;
	struct dtf_hmap tasks, workers, runs;
	struct ctask *qhead[DTF_PRIORITY_LEVELS + 1], *qtail[DTF_PRIORITY_LEVELS + 1];
	size_t pending_count;
	int counts[TS__COUNT];
	int64_t next_seq;
	int64_t started_wall_ms;
	int64_t next_backoff_ms;  /* monotonic: the earliest retry backoff to expire, 0 if none */
	uint64_t rng;             /* xorshift state for backoff jitter */
	pthread_t tick;
	bool tick_running;
	struct dtf_events *events; /* GET /api/v1/events; NULL while the state is loading */
	struct dtf_plugins *plugins; /* hooks are fired into it; NULL while loading */
	volatile bool stopping;
	/* Counters for /metrics. */
	uint64_t m_submitted, m_leases, m_leased_tasks, m_results[TS__COUNT], m_stale_results;
	uint64_t m_requeued, m_http_errors, m_leased_ahead;
	/* Requeues that spent no retry, by cause (enum requeue_cause, RQ_INFRA's kinds: see
	 * state_requeue_kind_names), and tasks failed because they reached max_requeues. */
	uint64_t m_infra_requeues[2], m_requeue_limit;
	struct dtf_constraint_registry *constraints; /* defaults and shared compiled constraints */
	/* Group commit (commit.c): the open transaction and the responses held until it commits. */
	bool gc_open, gc_dirty;
	int gc_changes;
	struct dtf_http_req **gc_held;
	size_t gc_nheld, gc_cap;
	uint64_t m_commits, m_commit_changes;
	/* Recovery (recovery.c). */
	struct rec_history *rhist;
	json_t *blocked_hw;       /* hardware class -> {since, task_id, reason} */
	uint64_t m_quarantines, m_recoveries_started, m_recoveries_completed, m_recoveries_failed;
	struct sx *sx; /* the pending index and the scheduling strategy (src/sched/) */
	struct run_waiter *run_waiters; /* suspended run summaries */
};

/* Answers the suspended run summaries whose run is done (or, with expired_too, whose wait has
 * passed). Called with c->lock held, after a commit and from the tick. */
void coord_run_waiters_check(struct coord *c, bool expired_too);
/* Forgets r if it is a suspended run summary (its connection is gone); called with c->lock. */
void coord_run_waiters_forget(struct coord *c, struct dtf_http_req *r);
/* Answers every suspended run summary with 503 (shutdown); called with c->lock held. */
void coord_run_waiters_end(struct coord *c);

/* Opens the store, loads the state, starts the HTTP server and the tick thread. Returns a new
 * coordinator the caller stops with coord_stop(), or NULL with a reason in err. */
struct coord *coord_start(const struct coord_config *cfg, char *err, size_t errlen);
/* The port the server listens on. */
unsigned coord_port(const struct coord *c);
/* Stops serving, joins the tick thread, closes the store and frees everything. Accepts NULL. */
void coord_stop(struct coord *c);

/* ---- task.c: validation and documents ---- */

/* Validates a submitted task object and returns a new normalized document (defaults filled,
 * hardware as a list, unknown members moved under params), or NULL with the reason in err
 * (naming the field). */
/* taskdoc.c: a pending or finished task's document is kept as compact JSON text until it is
 * needed. */
json_t *task_doc(struct ctask *t);
json_t *task_doc_copy(struct ctask *t);
void task_compact(struct ctask *t);
int task_save_compact(struct coord *c, struct ctask *t);
void task_doc_free(struct ctask *t);

json_t *task_normalize(const json_t *in, double default_timeout_s, char *err, size_t errlen);
/* The same, also accepting the task types of plugins (NULL-terminated; such tasks need no
 * command: their task processor runs them). */
json_t *task_normalize_ex(const json_t *in, double default_timeout_s,
			  const char *const *plugin_types, char *err, size_t errlen);
const char *task_status_name(enum task_status s);
bool task_status_parse(const char *name, enum task_status *out);
bool task_is_final(enum task_status s);

/* ---- state.c: the in-memory model; every function is called with c->lock held ---- */

/* Builds a task from a normalized document and indexes it (pending tasks are queued). */
struct ctask *state_add_task(struct coord *c, json_t *doc, enum task_status status);
/* Forgets a task entirely (used to undo a submission whose commit failed). */
void state_remove_task(struct coord *c, struct ctask *t);
void state_set_status(struct coord *c, struct ctask *t, enum task_status s);
void state_queue(struct coord *c, struct ctask *t);
void state_unqueue(struct coord *c, struct ctask *t);
struct crun *state_run(struct coord *c, const char *id);
struct crun *state_add_run(struct coord *c, const char *id, json_t *doc);
struct cworker *state_add_worker(struct coord *c, const char *id, json_t *doc);
/* Writes a worker's live fields (status, free resources, last heartbeat) into its document.
 * Done when the document is shown or saved, not at every lease and release. */
void state_worker_sync(struct cworker *w);
/* A new copy of a worker's document as others may see it (without its token). */
json_t *state_worker_view(const struct cworker *w);
/* Tells event-stream clients about a worker's status. */
void state_publish_worker(struct coord *c, struct cworker *w);
/* Writes a task (or worker, run) to the store; the caller commits. */
int state_save_task(struct coord *c, struct ctask *t);
/* Frees every task, worker and run in memory and the maps that hold them (teardown). */
void state_free_all(struct coord *c);
int state_save_worker(struct coord *c, struct cworker *w);
int state_save_run(struct coord *c, struct crun *r);
/* Transactions (commit.c). state_begin joins the open transaction or opens one; on the HTTP
 * thread state_commit only marks the change for the group commit that runs after the current
 * pass (the response is held until then), elsewhere it commits at once. state_begin_alone
 * commits the open group first, so that the caller may roll back its own changes;
 * state_commit_now commits at once; state_rollback undoes an open transaction that holds no
 * other request's change (the caller must not have written since its begin otherwise). */
int state_begin(struct coord *c);
int state_begin_alone(struct coord *c);
int state_commit(struct coord *c);
int state_commit_now(struct coord *c);
void state_rollback(struct coord *c);
int state_load(struct coord *c);
/* Why an assigned or running task goes back to pending, which decides what it spends. */
enum requeue_cause {
	/* Not the task's doing and it did not run (a lease that went astray, a quarantined
	 * worker's work moved elsewhere): spends nothing. */
	RQ_FREE = 0,
	/* The attempt failed by itself (exit code, signal, timeout, ...): spends one of its
	 * max_retries; with none left the task fails. */
	RQ_FAILURE = 1,
	/* The infrastructure's fault: its worker was lost (SIGKILL, silence), restarted without
	 * it, or stopped it while shutting down. Spends no retry but one of its max_requeues
	 * (so that a task that keeps killing its machine stops); with none left the task fails
	 * with the kind given (worker_lost, interrupted). */
	RQ_INFRA = 2,
};
/* The RQ_INFRA kinds counted apart in /metrics (the index into m_infra_requeues); any other
 * kind counts under the first. */
extern const char *const state_requeue_kind_names[2];
/* Sends an assigned or running task back to pending, or fails it when what the cause spends is
 * used up (see enum requeue_cause). Records the attempt in the history, settles or starts a
 * recovery (RQ_FAILURE, and RQ_INFRA for a lost worker) and saves the task (the caller
 * commits). */
void state_requeue(struct coord *c, struct ctask *t, const char *kind, const char *why,
		   enum requeue_cause cause);
/* The max_requeues a task gets when it gives none (the configuration's, else
 * DTF_MAX_REQUEUES). */
int state_default_max_requeues(const struct coord *c);
/* Fires a task hook with the task's document (task_started shows it running). */
void state_fire_task(struct coord *c, struct ctask *t, enum dtf_hook hook);
/* Fires a recovery hook about a task (level 1 retry, or 2 for a lost worker's task). */
void state_fire_recovery(struct coord *c, struct ctask *t, enum dtf_hook hook, const char *kind,
			 const char *why);
/* Appends an attempt's outcome to the task's history and writes the attempt record. */
void state_record_attempt(struct coord *c, struct ctask *t, const char *outcome, const char *kind,
			  const char *why);
/* Frees the resources a task held on its worker. */
void state_release(struct coord *c, struct ctask *t);
/* Delays a failed task's next attempt: retry_backoff_s doubled per retry used (at most 60 s),
 * with jitter (half to all of it), so retries of many tasks do not arrive together. */
void state_backoff(struct coord *c, struct ctask *t);
/* Wakes suspended leases once a backoff has expired (called from the tick thread). */
void state_backoff_tick(struct coord *c);
/* Marks a worker lost and requeues its work. */
void state_worker_lost(struct coord *c, struct cworker *w, const char *why);

/* ---- sched.c: matching and leases; called with c->lock held ---- */

/* Creates the scheduler c->sx if it has none (with the coordinator's checks as its sx_ops and
 * the duration history loaded from the store) and applies a scheduler section (may be NULL)
 * and strategy name as sx_configure does. 0, or an error with the reason in err (may be
 * NULL). */
int sched_init(struct coord *c, const json_t *section, const char *strategy, char *err,
	       size_t errlen);
/* c->sx, created with the defaults if the coordinator has none yet (tests build coordinators
 * by hand); NULL only when out of memory. */
struct sx *sched_sx(struct coord *c);
/* Fills t->sx from the task's fields and document: at submission, and when a pending task's
 * priority or name changes while it is out of the queue. */
void sched_task_set(struct coord *c, struct ctask *t);
/* Recomputes deadline_at_risk for a task with a deadline and shows it in its document. */
void sched_deadline_check(struct coord *c, struct ctask *t);
/* A worker's first hardware class (the key of the duration history), or NULL. */
const char *sched_worker_hw(const struct cworker *w);

/* True if the worker could ever run the task (hardware, task type, total capacity). */
bool sched_could_run(const struct ctask *t, const struct cworker *w);
/* True if the worker can run it now (could_run and free resources). */
bool sched_fits_now(const struct ctask *t, const struct cworker *w);
/* Leases up to max tasks to w (status assigned, resources taken, attempt started); returns a new
 * array of task documents (possibly empty). */
json_t *sched_lease(struct coord *c, struct cworker *w, int max);
/* Lease-ahead: up to `ahead` more tasks once w's slots are all taken (at most one per slot
 * beyond them), appended to out, for a worker that runs short tasks and queues its next ones so
 * that no slot waits for a round trip. Only while no other worker waits for work, only tasks
 * whose other resources still fit, never for a draining, lost or quarantined worker. Returns
 * how many. */
int sched_lease_ahead(struct coord *c, struct cworker *w, int ahead, json_t *out);
/* Builds the reply to a lease (steals tasks): {"tasks": […], "cancel": [ids]}. */
json_t *sched_lease_reply(struct cworker *w, json_t *tasks);
/* Completes suspended leases that can now be served. */
void sched_wake(struct coord *c);
/* Writes why a pending task is still pending into why; returns true when no registered worker
 * could ever run it. */
bool sched_pending_reason(struct coord *c, const struct ctask *t, char *why, size_t len);

/* ---- api.c ---- */
extern const struct dtf_http_route coord_routes[];
void coord_on_done(struct dtf_http_req *r, bool ok);
/* ---- commit.c: the HTTP server's group-commit hooks ---- */
bool coord_hold(struct dtf_http_req *r);
void coord_after_run(void *app);

/* ---- sched_api.c ---- */
struct dtf_prom;
void coord_h_scheduler_get(struct dtf_http_req *r);
void coord_h_scheduler_put(struct dtf_http_req *r);
/* Writes the scheduler's metric families for /metrics (the writer's error state). */
int coord_sched_metrics(struct coord *c, struct dtf_prom *pm);
/* A task passed on w: records its duration (result.duration_s, else the time since its lease)
 * in the history. Called before its resources are released, inside the caller's transaction. */
void coord_task_passed(struct coord *c, struct ctask *t, struct cworker *w, const json_t *result);

#endif
