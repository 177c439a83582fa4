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
 * Every function runs with the coordinator's lock held. */
#ifndef DTF_SCHED_SCHED_H
#define DTF_SCHED_SCHED_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct coord;
struct ctask;
struct cworker;
struct sx;

/* The lowest and highest share a user or project may be given. */
#define SX_MAX_SHARE 1e6
/* How many candidates a scheduler plugin's order() sees per lease, at most. */
#define SX_PLUGIN_CANDIDATES 64
/* The most tasks one batch lease takes. */
#define SX_MAX_BATCH 256

/* Creates the scheduler state of c (if it has none) from the configuration's scheduler section
 * (may be NULL) and strategy name (NULL: the section's, else "priority"). Returns 0, or
 * DTF_EINVAL with "scheduler.key: reason" in err. */
int sx_init(struct coord *c, const json_t *section, const char *strategy, char *err, size_t errlen);
/* Checks a scheduler section (and strategy name, NULL: the section's) without a coordinator:
 * 0, or DTF_EINVAL with "scheduler.key: reason" in err. */
int sx_config_check(const json_t *section, const char *strategy, char *err, size_t errlen);
/* Frees c->sx. Accepts a coordinator without one. */
void sx_free(struct coord *c);
/* Switches the active strategy (re-keys the index). 0, or DTF_ENOTFOUND with a reason. */
int sx_set_strategy(struct coord *c, const char *name, char *err, size_t errlen);
const char *sx_strategy(struct coord *c);
/* True if name is a built-in strategy. */
bool sx_builtin(const char *name);
/* {"strategy", "strategies": [{"name", "description", "source"}], "batch_processing",
 * "batch_size_limit", "pending", "signatures", "lanes", "shares"?} for GET /api/v1/scheduler. */
json_t *sx_describe(struct coord *c);

/* Indexes a pending task / takes it out (both idempotent). */
void sx_add(struct coord *c, struct ctask *t);
void sx_remove(struct coord *c, struct ctask *t);
/* How many pending tasks have a priority more urgent than priority (1 most urgent). */
size_t sx_ahead(struct coord *c, int priority);
/* Moves a task whose retry backoff started into the delayed set. */
void sx_delay(struct coord *c, struct ctask *t);
/* Puts delayed tasks whose backoff ended back in the index; returns the next end still to come
 * (monotonic ms), or 0 if none. */
int64_t sx_expire(struct coord *c, int64_t now_ms);

/* The best pending task that fits w now under the active strategy, or NULL. */
struct ctask *sx_pick(struct coord *c, struct cworker *w, int64_t now_ms);
/* Up to max pending tasks that may join t's batch (same signature and batch_key, ready now),
 * in submission order; returns how many it wrote. */
size_t sx_batch_mates(struct coord *c, struct ctask *t, int64_t now_ms, struct ctask **out,
		      size_t max);
/* For a scheduler plugin: the up to max best candidates that fit w, in priority order. */
size_t sx_candidates(struct coord *c, struct cworker *w, int64_t now_ms, struct ctask **out,
		     size_t max);
bool sx_is_plugin(struct coord *c);
/* Asks the active scheduler plugin to order cands (n of them); writes the chosen order into
 * order and returns its length, or a negative error (the caller keeps the given order). */
int sx_plugin_order(struct coord *c, struct cworker *w, struct ctask **cands, size_t n,
		    size_t *order);

/* Lists w among the workers with a suspended lease (call when w->waiter is set). */
void sx_waiting_add(struct coord *c, struct cworker *w);
/* The workers that may have a suspended lease, after dropping those whose lease ended; *n gets
 * how many. The array stays valid until the next sx_waiting_add or sx_waiting call. */
struct cworker **sx_waiting(struct coord *c, size_t *n);

/* Accounting: a task was leased to w / its attempt ended (resources released). */
void sx_assigned(struct coord *c, struct ctask *t, struct cworker *w);
void sx_released(struct coord *c, struct ctask *t);
/* Records a passed task's duration in the history (in memory; sx_history_persist writes it). */
void sx_record_duration(struct coord *c, struct ctask *t, struct cworker *w, double seconds);
/* Writes the history entries changed since the last call into the open transaction: all of them
 * with `all`, else only once SX_HIST_PERSIST_MS have passed since the last write (or many are
 * waiting), so a stream of short tasks costs one batch a second instead of two row writes
 * per task. A crash loses at most that last second of refinements to the history, which only
 * guides ordering. */
#define SX_HIST_PERSIST_MS 1000
void sx_history_persist(struct coord *c, bool all);
/* Seeds the in-memory history (the simulator and the loader). */
void sx_history_set(struct coord *c, const char *name, const char *hw, double mean_s, int64_t n);
/* The expected duration of a task in seconds from the history, or a negative number if unknown. */
double sx_expected(struct coord *c, const struct ctask *t);
/* Recomputes deadline_at_risk in the task's document (true when it cannot finish by its deadline
 * given its expected duration). Returns the flag. */
bool sx_deadline_check(struct coord *c, struct ctask *t);
/* Appends a strategy-specific reason a pending task waits ("deferred by fair share …"), or
 * writes nothing. */
void sx_reason(struct coord *c, const struct ctask *t, char *why, size_t len);
/* Counts a batch of n tasks (n >= 2). */
void sx_count_batch(struct coord *c, size_t n);
/* Writes the scheduler's metric families for /metrics; returns the writer's error state. */
struct dtf_prom;
int sx_metrics(struct coord *c, struct dtf_prom *pm);

/* The clock: virtual in the simulator, monotonic / wall otherwise. */
int64_t sx_now_ms(struct coord *c);
int64_t sx_wall_ms(struct coord *c);
/* Switches c to virtual time (the simulator): now_ms is the current virtual time. */
void sx_set_virtual(struct coord *c, int64_t now_ms);

#endif
