/* model.h: the coordinator core's model and lifecycle, private to the coordinator. The live state
 * (tasks, runs, workers, the pending index) is in memory under one lock; every change is written
 * to the store and committed before the caller that caused it is answered. The core knows no
 * transport: front-ends (the REST API in src/api/, later GraphQL and the dashboard) translate
 * requests into the calls below and register a struct core_frontend through which the core
 * answers what they left waiting (a long-poll lease, a run summary, a held reply). Every call
 * is made with c->lock held unless its comment says otherwise. See
 * docs/internals/coordinator.md for the layers and what may call what. */
#ifndef DTF_CORE_MODEL_H
#define DTF_CORE_MODEL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/hmap.h"
#include "common/testcount.h"
#include "core/config.h"
#include "core/constraints.h"
#include "core/events.h"
#include "core/recovery.h"
#include "plugin/plugin.h"
#include "sched/sched.h"
#include "store/store.h"

#define DTF_PROTOCOL_VERSION	  1
#define DTF_MAX_TASKS_PER_REQUEST 100000
#define DTF_PRIORITY_LEVELS	  10
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

/* What a front-end registers with the core (c->fe): how the core answers what a front-end left
 * waiting. Called with c->lock held; a NULL hook is not called. Errors are DTF_E* codes with a
 * kind (a short machine-readable name such as "worker_lost") and a message; the front-end turns
 * them into its transport's form (the REST API: an HTTP status and a JSON error body). */
struct core_frontend {
	void *ctx;
	/* True while the calling thread is inside the front-end's request loop: a change made
	 * there may wait for the group commit at the end of the loop's pass (txn.c). */
	bool (*in_request)(void *ctx);
	/* A group commit ended: rc 0, or a DTF_E* code with why; the front-end releases the
	 * replies it held for it (or fails them). */
	void (*committed)(void *ctx, int rc, const char *why);
	/* A suspended lease (waiter, the front-end's token) ends. With reply ({"tasks",
	 * "cancel"}, owned by the callee) and tasks (the leased documents, borrowed: the
	 * front-end keeps a reference to give them back with lease_undelivered() should the
	 * reply not arrive); or, when reply is NULL, with err, kind and msg. */
	void (*lease_done)(void *ctx, void *waiter, json_t *reply, json_t *tasks, int err,
			   const char *kind, const char *msg);
	/* A suspended run summary (token) ends with summary (owned by the callee), or, when
	 * summary is NULL, with err, kind and msg. */
	void (*summary_done)(void *ctx, void *token, json_t *summary, int err, const char *kind,
			     const char *msg);
};

struct ctask {
	char id[48];
	char run_id[48];
	json_t *jdoc; /* the task as the API shows it (owned), NULL while kept as text:
		       * read it through task_doc(); status fields kept in sync */
	enum task_status status;
	const char *type; /* borrowed from doc */
	json_t *hw_any;	  /* borrowed: array of hardware classes, any of which will do */
	json_t *hw_all;	  /* borrowed: requirements.hardware, all of which are needed */
	int attempt;	  /* the current attempt, 0 before the first lease */
	int max_retries;
	int retries_used;
	int max_requeues;    /* requeues after its worker was lost or stopped it, at most */
	int requeues;	     /* such requeues so far (doc.requeues; they spend no retry) */
	char worker_id[72];  /* while assigned or running */
	int64_t assigned_ms; /* monotonic: when the current attempt was leased (or loaded) */
	struct ctask *qprev, *qnext; /* the pending queue of its priority */
	bool queued;
	bool pinned;   /* rec.pin holds the next attempt for its worker (this process) */
	bool packed;   /* text is packed (taskdoc.c) */
	bool in_block; /* text lives in one of taskdoc.c's blocks, not malloc'd */
	uint32_t room; /* bytes of strs[] allocated with the task */
	struct dtf_constraints *constraints; /* compiled constraints (constraints.h), or NULL */
	json_t *rec; /* borrowed doc.recovery while a recovery is in progress */
	/* What the pending index and the strategies see of it (src/sched/sched.h), filled in by
	 * lease_index_task. Also the task's own fields that the index reads, kept only here:
	 * sx.seq (submission order, the age for FIFO within a priority), sx.priority (1 most
	 * urgent … 10), sx.cpu, sx.memory, sx.gpu_memory (requirements; cpu 0 means "one slot, no
	 * core count") and sx.not_before_ms (retry backoff, monotonic). */
	struct sx_task sx;
	char *text; /* a pending task's document as compact JSON (taskdoc.c), or NULL */
	/* Room for the index's strings (sx.strs: name, batch_key, hardware), allocated with the
	 * task so that a task costs one allocation. */
	char strs[];
};

/* One GPU of a worker that reported its GPUs (capabilities.gpus): gpus.c gives it to one task
 * at a time. */
struct cgpu {
	int index;    /* NVML's, on its worker */
	int util;     /* percent, from the latest heartbeat; -1 unknown */
	double total; /* MiB */
	double free;  /* MiB free as the latest heartbeat (or the registration) said; -1 unknown */
	double reserved; /* the gpu_memory of the task that holds it */
	char task[48];	 /* the task that holds it, "" when free */
	json_t *doc;	 /* borrowed: its object in the worker's capabilities.gpus */
};

struct cworker {
	char id[72];
	json_t *doc;	    /* registration plus live fields, as the API shows it (owned) */
	json_t *hardware;   /* borrowed from doc.capabilities.hardware */
	json_t *task_types; /* borrowed; NULL means the built-in types */
	int slots;
	double cpu, memory, gpu_memory; /* totals */
	int used_slots;
	double used_cpu, used_memory, used_gpu_memory;
	enum worker_status status;
	int64_t last_seen_ms; /* monotonic */
	char token[48];	   /* the registration's secret; with worker JWTs, the tokens' sid claim */
	int64_t token_exp; /* with worker JWTs: when the last token it showed expires (s) */
	void *waiter;	   /* a suspended lease (its front-end's token), or NULL */
	int waiter_max;
	int64_t waiter_deadline_ms;
	json_t *cancel;	  /* task ids the worker must stop (sent with the next reply) */
	int active;	  /* tasks assigned or running here */
	bool quarantined; /* no new leases until quarantine_until_ms (wall) */
	int64_t quarantine_until_ms;
	char quarantine_reason[160];
	int strikes;	       /* tasks that failed here, then passed elsewhere, since a pass */
	bool restart_executor; /* told with the next reply: restart the executors */
	struct sx_worker sx;   /* what the strategies see of it (src/sched/sched.h) */
	struct cgpu *gpus;     /* its GPUs (owned), NULL when it reported none (gpus.c) */
	int ngpus;
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
	int unschedulable; /* cancelled because no worker could run them */
	int total;
	struct dtf_testcount tests; /* its test entries by status (common/testcount.h) */
};

/* A suspended run summary (GET /api/v1/runs/{id}/summary?wait_s=S), answered once the run is
 * done or S has passed (a client waiting for a run learns the end at once instead of polling). */
struct run_waiter {
	void *token; /* the front-end's */
	char run_id[48];
	int64_t deadline_ms;
	struct run_waiter *next;
};

/* Workers' JWTs (docs/auth.md): on when the coordinator has keys (the front-end sets this up). */
struct coord_auth {
	bool on;
	unsigned char key[32]; /* HS256 secret */
	double ttl_s;	       /* a token's lifetime */
	json_t *revoked;       /* worker ids an admin revoked: {id: true} (owned) */
	uint64_t issued;       /* tokens issued (registrations and renewals) */
	uint64_t refused;      /* worker calls refused for their token */
	uint64_t takeovers;    /* registrations of a live worker refused */
};

struct coord {
	pthread_mutex_t lock;
	struct coord_config cfg;
	struct coord_auth auth;
	struct dtf_store *store;
	struct core_frontend fe; /* the front-end's hooks (coordinator.c sets them) */
	struct dtf_hmap tasks, workers, runs;
	struct ctask *qhead[DTF_PRIORITY_LEVELS + 1], *qtail[DTF_PRIORITY_LEVELS + 1];
	size_t pending_count;
	int counts[TS__COUNT];
	int64_t next_seq;
	int64_t started_wall_ms;
	int64_t next_backoff_ms; /* monotonic: the earliest retry backoff to expire, 0 if none */
	/* The tick's walks over all workers, skipped until something can be due: no live worker's
	 * heartbeat can expire before hb_check_ms (monotonic; 0: walk), no quarantine end before
	 * quarantine_check_ms (wall; 0: walk). A worker's last_seen_ms only moves forward, so only
	 * a new worker or a new quarantine brings them closer. */
	int64_t hb_check_ms, quarantine_check_ms;
	uint64_t rng;		     /* xorshift state for backoff jitter */
	struct dtf_events *events;   /* GET /api/v1/events; NULL while the state is loading */
	struct dtf_plugins *plugins; /* hooks are fired into it; NULL while loading */
	volatile bool stopping;
	bool loading;	  /* state_load: pending queues are put in submission order at its end */
	json_t *load_idx; /* state_load: the last scanned task's index document, reused */
	uint32_t load_unsorted; /* state_load: bit p, a task came after a later one in queue p */
	struct load_pipe *load_pipe; /* state_load: tasks prepared on a second thread, or NULL */
	/* Counters for /metrics. */
	uint64_t m_submitted, m_leases, m_leased_tasks, m_results[TS__COUNT], m_stale_results;
	uint64_t m_requeued, m_leased_ahead;
	/* Requeues that spent no retry, by cause (enum requeue_cause, RQ_INFRA's kinds: see
	 * state_requeue_kind_names), and tasks failed because they reached max_requeues. */
	uint64_t m_infra_requeues[2], m_requeue_limit;
	struct dtf_constraint_registry *constraints; /* defaults and shared compiled constraints */
	/* Group commit (txn.c): the open transaction; the front-end holds the replies that wait
	 * for it (gc_dirty: a change in it waits for the commit at the end of the pass). */
	bool gc_open, gc_dirty;
	int gc_changes;
	uint64_t m_commits, m_commit_changes;
	/* Recovery (recovery.c). */
	struct rec_history *rhist;
	json_t *blocked_hw; /* hardware class -> {since, task_id, reason} */
	uint64_t m_quarantines, m_recoveries_started, m_recoveries_completed, m_recoveries_failed;
	struct sx *sx; /* the pending index and the scheduling strategy (src/sched/) */
	struct run_waiter *run_waiters; /* suspended run summaries */
	struct outbox *outbox;		/* notifications (outbox.c); NULL when none are set up */
	/* Browser benchmarks' history (browsers.c): "worker|browser|adapter|benchmark" ->
	 * {worker_id, browser, adapter, benchmark, runs: [{at, task_id, version, metrics}]}. */
	json_t *browser_perf;
};

/* ---- browsers.c ---- */

/* Records the metrics of a passed browser task's run in the performance history. */
void browsers_record(struct coord *c, struct ctask *t, struct cworker *w, json_t *result);
/* Loads the stored performance history (at start, c->lock held). 0 or DTF_ESTORE. */
int browsers_load(struct coord *c);

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
/* Whether a task may be kept as text (pending or finished, and nothing in struct ctask borrowed
 * from its document); task_keep_text then replaces its document by text (owned, the document
 * as compact JSON). */
bool task_compactable(const struct ctask *t);
void task_keep_text(struct ctask *t, char *text);
/* task_keep_text in two steps, for the start-up load: the first touches nothing of a core (any
 * thread may run it beside the core's): s[0..n), the text of the task with that id and run_id,
 * packed and copied to where kept texts live; NULL when it cannot be (task_keep_text then keeps
 * it its own way). The second, under the core's lock, makes that the task's kept text. A
 * prepared text no task adopted goes back with task_text_discard. */
char *task_text_prepare(const char *id, const char *run_id, const char *s, size_t n);
void task_adopt_text(struct ctask *t, char *kept);
void task_text_discard(char *kept);

/* What start-up reads of a stored task's text without parsing it into a tree (task_text_scan):
 * a pending task that could be kept as text, with the fields struct ctask and the pending index
 * need. The strings name … project point into the text (not NUL-terminated). */
struct task_scan {
	char id[48], run_id[48], worker_id[72];
	const char *type; /* a built-in type's static name */
	const char *name, *batch_key, *user, *project;
	size_t name_len, batch_key_len, user_len, project_len;
	int64_t seq;
	int priority, max_retries, retries_used, max_requeues, requeues, attempt;
	int requirements; /* 0 none, 1 {}, 2 {"hardware": []} */
	bool has_hardware, has_status;
};
/* Scans text[0..len) (a stored task: compact JSON). True when it is such a task and ts holds its
 * fields; false when it must be parsed (anything else, or not what the coordinator writes). */
bool task_text_scan(const char *text, size_t len, struct task_scan *ts);

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
/* Loads the state from the store (start-up). */
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

/* ---- core.c: the core's life ---- */

/* A new core from cfg (copied; its strings must outlive the core): the store opened, the state
 * loaded, the scheduler and the plugins set up. NULL with a reason in err. Not under a lock. */
struct coord *core_new(const struct coord_config *cfg, char *err, size_t errlen);
/* Once every 100 ms (coordinator.c's thread; takes c->lock): workers silent past the heartbeat
 * timeout are lost, long-polls and summaries past their deadline answered, backoffs and
 * recoveries advanced. */
void core_tick(struct coord *c);
/* Answers every suspended lease and summary with DTF_ESHUTDOWN (shutdown, c->lock held). */
void core_end_waiting(struct coord *c);
/* Frees the core: plugins, the last duration history, the state, the store. Accepts NULL. Not
 * under a lock; no front-end may call in any more. */
void core_free(struct coord *c);

/* ---- lease.c: matching and leases ---- */

/* Creates the index c->sx if it has none (with the core's checks as its sx_ops and the duration
 * history loaded from the store) and applies a scheduler section (may be NULL) and strategy name
 * as sx_configure does. 0, or an error with the reason in err (may be NULL). */
int lease_index_init(struct coord *c, const json_t *section, const char *strategy, char *err,
		     size_t errlen);
/* c->sx, created with the defaults if the core has none yet (tests build cores by hand); NULL
 * only when out of memory. */
struct sx *lease_index(struct coord *c);
/* Fills t->sx from the task's fields and document: at submission, and when a pending task's
 * priority or name changes while it is out of the queue. */
void lease_index_task(struct coord *c, struct ctask *t);
/* Recomputes deadline_at_risk for a task with a deadline and shows it in its document. */
void lease_deadline_check(struct coord *c, struct ctask *t);
/* A worker's first hardware class (the key of the duration history), or NULL. */
const char *lease_worker_hw(const struct cworker *w);

/* True if the worker could ever run the task (hardware, task type, total capacity). */
bool lease_could_run(const struct ctask *t, const struct cworker *w);
/* True if the worker can run it now (could_run and free resources). */
bool lease_fits_now(const struct ctask *t, const struct cworker *w);
/* Leases up to max tasks to w (status assigned, resources taken, attempt started); returns a new
 * array of task documents (possibly empty). */
json_t *lease_tasks(struct coord *c, struct cworker *w, int max);
/* Lease-ahead: up to `ahead` more tasks once w's slots are all taken (at most one per slot
 * beyond them), appended to out, for a worker that runs short tasks and queues its next ones so
 * that no slot waits for a round trip. Only while no other worker waits for work, only tasks
 * whose other resources still fit, never for a draining, lost or quarantined worker. Returns
 * how many. */
int lease_ahead(struct coord *c, struct cworker *w, int ahead, json_t *out);
/* Builds the reply to a lease (steals tasks): {"tasks": […], "cancel": [ids]}. */
json_t *lease_reply(struct cworker *w, json_t *tasks);
/* Completes suspended leases that can now be served (through c->fe.lease_done). */
void lease_wake(struct coord *c);

/* gpus.c: GPUs given out whole, one task each (docs/gpu.md). */
/* The GPUs a task needs: requirements.gpus, else 1 when it needs gpu_memory or cuda (required,
 * or the only hardware it accepts), else 0. */
int gpus_of_task(const json_t *doc, const json_t *hw_any, const json_t *hw_all, double gpu_memory);
/* Reads the worker's GPUs from its capabilities (keeping what its tasks hold across a
 * registration); frees them. */
void gpus_load(struct cworker *w, const json_t *caps);
void gpus_free(struct cworker *w);
/* Applies a heartbeat's "gpus" readings; true when some GPU has more free memory than before
 * (pending tasks may fit now). */
bool gpus_heartbeat(struct cworker *w, const json_t *live);
/* Whether w has GPUs enough for t ever (by total memory), and now (free, unheld GPUs with
 * gpu_memory available). True for a task that needs none or a worker without a GPU list. */
bool gpus_could_run(const struct ctask *t, const struct cworker *w);
bool gpus_fit_now(const struct ctask *t, const struct cworker *w);
/* Gives t the GPUs it needs (best fit) and writes them to its "assigned_gpus"; gives them back;
 * marks them held again from its document (after a load). */
void gpus_take(struct cworker *w, struct ctask *t);
void gpus_give_back(struct cworker *w, const struct ctask *t);
void gpus_hold(struct cworker *w, const struct ctask *t);
/* GPU memory w could give a new task now (MiB): the sum over its free GPUs, or the pooled
 * total less what its tasks were given on a worker without a GPU list. */
double gpus_available(const struct cworker *w);
/* Shows each GPU's free memory, utilization and holder in the worker's document. */
void gpus_sync(struct cworker *w);
/* Why no GPU fits t: 2 with a reason no worker will ever do, 1 with one that holds for now, 0
 * when GPUs are not why. */
int gpus_explain(struct coord *c, const struct ctask *t, char *why, size_t len);
/* Writes why a pending task is still pending into why; returns true when no registered worker
 * could ever run it. */
bool lease_pending_reason(struct coord *c, const struct ctask *t, char *why, size_t len);
/* Suspends w's lease: token (the front-end's) is answered through c->fe.lease_done once tasks
 * can be leased to w (at most max), or with no tasks once wait_s has passed. */
void lease_suspend(struct coord *c, struct cworker *w, void *token, int max, double wait_s);
/* Ends w's suspended lease, if any: with no tasks when err is 0, else with the error. */
void lease_end(struct coord *c, struct cworker *w, int err, const char *kind, const char *msg);
/* Forgets token if it is a suspended lease (its connection is gone, nothing is sent). */
void lease_forget(struct coord *c, void *token);
/* A lease reply that did not reach its worker: its tasks (documents with "id") still assigned
 * go back to pending at no cost, and suspended leases are served again. */
void lease_undelivered(struct coord *c, const json_t *tasks);
/* A task passed on w: records its duration (result.duration_s, else the time since its lease)
 * in the history. Called before its resources are released, inside the caller's transaction. */
void lease_task_passed(struct coord *c, struct ctask *t, struct cworker *w, const json_t *result);

/* ---- txn.c: transactions and the group commit ---- */

/* txn_begin joins the open transaction or opens one; inside the front-end's request loop
 * txn_commit only marks the change for the group commit that runs at the end of the loop's pass
 * (the front-end holds its reply until then), elsewhere it commits at once. txn_begin_alone
 * commits the open group first, so that the caller may roll back its own changes;
 * txn_commit_now commits at once; txn_rollback undoes an open transaction that holds no other
 * request's change (the caller must not have written since its begin otherwise). */
int txn_begin(struct coord *c);
int txn_begin_alone(struct coord *c);
int txn_commit(struct coord *c);
int txn_commit_now(struct coord *c);
void txn_rollback(struct coord *c);
/* True while a change waits for the group commit (a reply made now must be held for it). */
bool txn_pending(const struct coord *c);
/* Commits the open group, if any (the front-end's end of a pass). */
int txn_flush(struct coord *c);

#include "core/ops.h"

#endif
