/* sched.h: the pending index and the scheduling strategies (docs/scheduling.md,
 * docs/internals/coordinator.md).
 *
 * Pending tasks are indexed by their matching signature (type, hardware, requirements,
 * constraints): tasks with one signature fit a worker, or not, together, so a lease looks at one
 * task per signature (and lane) instead of the whole queue. Inside a signature, tasks sit in
 * lanes (one per user for fair-share, per user or run for round-robin, one lane otherwise), each
 * a binary heap ordered by the active strategy's key. A lease compares the lane heads of the
 * signatures the worker can run now and takes the best, so its cost grows with the number of
 * signatures and lanes, not with the number of pending tasks.
 *
 * This layer sits below the coordinator's core and knows nothing of it: it sees a task through
 * a struct sx_task and a worker through a struct sx_worker, both embedded in the core's own
 * records, whose fields the core fills in (a task's at submission, from the document it parses
 * then: no strategy switch, lease or rebuild reads a task's document again). What needs the core
 * (whether a task fits a worker now, whether recovery allows it there, whether a worker still
 * waits, writing the duration history) is asked through the struct sx_ops given to sx_new.
 *
 * Every function runs with the coordinator's lock held. Functions that take a struct sx *
 * accept NULL unless said otherwise (nothing is indexed then). */
#ifndef DTF_SCHED_SCHED_H
#define DTF_SCHED_SCHED_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dtf_plugins;
struct dtf_prom;
struct sx;
struct sx_class;
struct sx_group;
struct sx_lane;

/* The lowest and highest share a user or project may be given. */
#define SX_MAX_SHARE 1e6
/* How many candidates a scheduler plugin's order() sees per lease, at most. */
#define SX_PLUGIN_CANDIDATES 64
/* The most tasks one batch lease takes. */
#define SX_MAX_BATCH 256
/* Priorities run from 1 (most urgent) to this. */
#define SX_PRIORITY_LEVELS 10

/* A task as the index sees it, embedded in the core's task record. The small members are last,
 * so that the record costs what it must (there is one per task the coordinator holds). */
struct sx_task {
	/* Set by the core before sx_task_set (and again, with it, when a pending task's priority
	 * or name changes while it is out of the index). */
	const char *run_id;		/* borrowed from the record it is embedded in */
	int64_t seq;			/* submission order */
	double cpu, memory, gpu_memory; /* requirements */
	/* Monotonic ms before which it is not leased (retry backoff); the core sets it. */
	int64_t not_before_ms;
	/* Set by sx_task_set from the task's document. */
	const char *user, *project; /* "" when none; interned in the sx (never freed before it) */
	/* The name (when has_name; the history is kept by it), then the batch_key (when has_key),
	 * then nhw hardware classes any of which will do, each ending in '\0': in the room the
	 * caller gave sx_task_set, or owned (strs_owned). */
	char *strs;
	int64_t deadline_ms;  /* wall; 0 when none */
	struct sx_class *cls; /* its signature, interned in the sx */
	/* The index's own: its lane, its batch group, its key under the active strategy, and the
	 * resource-seconds charged to its user when it was leased. */
	struct sx_lane *lane;
	struct sx_group *group;
	struct sx_task *bprev, *bnext;
	double k1, k2;
	double charged;
	uint32_t pos; /* in its lane's heap, or in the delayed set */
	int priority; /* 1 … SX_PRIORITY_LEVELS (set by the core) */
	uint16_t nhw;
	uint8_t gpus; /* whole GPUs it needs (set by the core; src/core/gpus.c) */
	bool has_name : 1, has_key : 1, strs_owned : 1;
	bool at_risk : 1; /* sx_deadline_check's last answer */
	bool delayed : 1; /* in the delayed set */
};

/* A worker as the index sees it, embedded in the core's worker record. */
struct sx_worker {
	const char *id; /* borrowed from the record it is embedded in */
	/* Capacity and use, for resource-aware's best fit: copied in by the core before it asks
	 * sx_pick or sx_candidates. */
	int slots, used_slots;
	double cpu, used_cpu, memory, used_memory, gpu_memory, used_gpu_memory;
	bool waiting; /* listed among the workers with a suspended lease */
};

/* What the index asks of the core; ctx is the one given to sx_new. */
struct sx_ops {
	/* True if w can run t now (hardware, type, constraints, free resources). The index asks
	 * for one task per signature and takes the answer for all its tasks. */
	bool (*fits)(void *ctx, const struct sx_task *t, const struct sx_worker *w);
	/* True if recovery lets w run t (a retry may be pinned to another worker, or w excluded).
	 * NULL: always. */
	bool (*allows)(void *ctx, const struct sx_task *t, const struct sx_worker *w);
	/* True while w still has a suspended lease. NULL: never. */
	bool (*waiting)(void *ctx, const struct sx_worker *w);
	/* True if the duration history is written to a store (put_duration is called); asked
	 * when an entry changes. NULL: never. */
	bool (*persistent)(void *ctx);
	/* Writes one history entry into the open transaction; the error is not acted on. */
	int (*put_duration)(void *ctx, const char *name, const char *hw, double mean_s, int64_t n);
};

/* A new scheduler with the strategy priority and no configuration; ops (kept, not copied) and
 * ctx are handed to every call of the ops. NULL when out of memory. Freed with sx_free. */
struct sx *sx_new(const struct sx_ops *ops, void *ctx);
/* Applies the configuration's scheduler section (may be NULL), the coordinator's default
 * constraints (NULL-terminated, or NULL) and a strategy name (NULL: the section's, else the
 * current one). 0, or DTF_EINVAL with "scheduler.key: reason" in err (err may be NULL). */
int sx_configure(struct sx *s, const json_t *section, const char *const *default_constraints,
		 const char *strategy, char *err, size_t errlen);
/* Checks a scheduler section (and strategy name, NULL: the section's) without a coordinator:
 * 0, or DTF_EINVAL with "scheduler.key: reason" in err. */
int sx_config_check(const json_t *section, const char *strategy, char *err, size_t errlen);
/* Frees s. The task records it indexed must not be indexed again (their signatures were its). */
void sx_free(struct sx *s);
/* Switches the active strategy (re-keys the index): a built-in one, or one an enabled scheduler
 * plugin of ps offers. 0, or DTF_ENOTFOUND with a reason. s must not be NULL. */
int sx_set_strategy(struct sx *s, struct dtf_plugins *ps, const char *name, char *err,
		    size_t errlen);
const char *sx_strategy(const struct sx *s);
/* True if name is a built-in strategy. */
bool sx_builtin(const char *name);
/* {"strategy", "strategies": [{"name", "description", "source"}], "batch_processing",
 * "batch_size_limit", "pending", "signatures", "lanes", "shares"?} for GET /api/v1/scheduler;
 * the caller gives its batching settings and pending count. */
json_t *sx_describe(struct sx *s, struct dtf_plugins *ps, bool batch_processing,
		    int batch_size_limit, size_t pending);

/* Fills the parts of t read from the task's document doc: user, project, name, batch_key,
 * hardware, deadline and the signature (which may read t->priority: set it first). Called at
 * submission and when a pending task's priority or name changes, while t is not indexed.
 * Replaces what an earlier call filled. The name, batch_key and hardware classes
 * (sx_task_strs_size(doc) bytes) go in room (cap bytes the caller allocated with the record,
 * kept as long as t) when they fit, else in a block of t's own: a task's record and its strings
 * then cost one allocation, not two (a small block per task slows every later malloc). */
size_t sx_task_strs_size(const json_t *doc);
void sx_task_set(struct sx *s, struct sx_task *t, const json_t *doc, char *room, size_t cap);
/* Frees what sx_task_set allocated (not the record itself); s may already be freed. */
void sx_task_release(struct sx_task *t);
/* The task's name (the duration history's key), or NULL. */
const char *sx_task_name(const struct sx_task *t);
/* Indexes a pending task / takes it out (both idempotent). */
void sx_add(struct sx *s, struct sx_task *t);
void sx_remove(struct sx *s, struct sx_task *t);
/* How many pending tasks have a priority more urgent than priority (1 most urgent). */
size_t sx_ahead(const struct sx *s, int priority);
/* Moves a task whose retry backoff started (t->not_before_ms) into the delayed set. */
void sx_delay(struct sx *s, struct sx_task *t);
/* Puts delayed tasks whose backoff ended back in the index; returns the next end still to come
 * (monotonic ms), or 0 if none. */
int64_t sx_expire(struct sx *s, int64_t now_ms);

/* The best pending task that fits w now under the active strategy, or NULL. */
struct sx_task *sx_pick(struct sx *s, struct sx_worker *w, int64_t now_ms);
/* Up to max pending tasks that may join t's batch (same signature and batch_key, ready now),
 * in submission order; returns how many it wrote. */
size_t sx_batch_mates(struct sx *s, struct sx_task *t, int64_t now_ms, struct sx_task **out,
		      size_t max);
/* For a scheduler plugin: the up to max best candidates that fit w, in priority order. */
size_t sx_candidates(struct sx *s, struct sx_worker *w, int64_t now_ms, struct sx_task **out,
		     size_t max);
bool sx_is_plugin(const struct sx *s);
/* Asks the active scheduler plugin (of ps) to order n candidates, given as a JSON list of task
 * documents, for the worker given as a JSON document; writes the chosen order into order and
 * returns its length, or a negative error (the caller keeps the given order). */
int sx_plugin_order(struct sx *s, struct dtf_plugins *ps, const char *worker_json,
		    const char *tasks_json, size_t n, size_t *order);

/* Lists w among the workers with a suspended lease (call when it has one). */
void sx_waiting_add(struct sx *s, struct sx_worker *w);
/* The workers that may have a suspended lease, after dropping those whose lease ended (ops'
 * waiting); *n gets how many. The array stays valid until the next sx_waiting_add or sx_waiting
 * call. */
struct sx_worker **sx_waiting(struct sx *s, size_t *n);

/* Accounting: a task was leased / its attempt, leased at assigned_ms (monotonic, as
 * sx_now_ms), ended (resources released). */
void sx_assigned(struct sx *s, struct sx_task *t);
void sx_released(struct sx *s, struct sx_task *t, int64_t assigned_ms);
/* Records a passed task's duration on hardware class hw (NULL: "any") in the history (in
 * memory; sx_history_persist writes it). */
void sx_record_duration(struct sx *s, const struct sx_task *t, const char *hw, double seconds);
/* Writes the history entries changed since the last call (ops' put_duration): all of them
 * with `all`, else only once SX_HIST_PERSIST_MS have passed since the last write (or many are
 * waiting), so a stream of short tasks costs one batch a second instead of two row writes
 * per task. A crash loses at most that last second of refinements to the history, which only
 * guides ordering. Call inside an open transaction. */
#define SX_HIST_PERSIST_MS 1000
void sx_history_persist(struct sx *s, bool all);
/* Seeds the in-memory history (the simulator and the loader). */
void sx_history_set(struct sx *s, const char *name, const char *hw, double mean_s, int64_t n);
/* The expected duration of a task in seconds from the history, or a negative number if unknown. */
double sx_expected(const struct sx *s, const struct sx_task *t);
/* Recomputes t->at_risk (true when it cannot finish by its deadline given its expected
 * duration; false without a deadline) and returns it. */
bool sx_deadline_check(const struct sx *s, struct sx_task *t);
/* Writes a strategy-specific reason a pending task waits ("deferred by fair share …"), or
 * writes an empty string. */
void sx_reason(const struct sx *s, const struct sx_task *t, char *why, size_t len);
/* Counts a batch of n tasks (n >= 2). */
void sx_count_batch(struct sx *s, size_t n);
/* Leases that took a batch, so far. */
uint64_t sx_batches(const struct sx *s);
/* Writes the scheduler's metric families for /metrics; returns the writer's error state. */
int sx_metrics(const struct sx *s, struct dtf_prom *pm);

/* The clock: virtual in the simulator, monotonic / wall otherwise. */
int64_t sx_now_ms(const struct sx *s);
int64_t sx_wall_ms(const struct sx *s);
/* Switches s to virtual time (the simulator): now_ms is the current virtual time. */
void sx_set_virtual(struct sx *s, int64_t now_ms);

#endif
