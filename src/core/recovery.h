/* recovery.h: performance-based error recovery (DESIGN.md §7). A failed attempt is classified
 * (timeout, signal, exit, oom, worker_lost, infrastructure); a task with retries left is then
 * recovered by one of five strategies, one per escalation level:
 *   1 retry_in_place      the next attempt is held for the same worker for a while
 *   2 retry_elsewhere     the failing worker is excluded, parameters adjusted for the class
 *                         (timeout doubled after a timeout, memory raised after oom)
 *   3 restart_executor    the worker is told to restart its executors, then the task is retried
 *                         there
 *   4 quarantine_worker   the worker is quarantined (no new leases) and its work requeued
 *   5 system_intervention the task's hardware classes are blocked system-wide (no task needing
 *                         them is leased until an admin lifts it) and a notification hook fires
 * A task's level starts at the lowest one its class allows and rises by one each time the chosen
 * strategy fails; a success ends the recovery (the next failure starts again at level 1). Each
 * (class, strategy) pair keeps attempts, successes and the time to recover, in the store; the
 * choice among the allowed levels takes the best smoothed success rate (see recovery_choose).
 *
 * The pure helpers (classify, choose, adjust, strikes) take no lock; the recovery_* functions
 * that take a struct coord run with c->lock held. */
#ifndef DTF_COORDINATOR_RECOVERY_H
#define DTF_COORDINATOR_RECOVERY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rec_class {
	RC_TIMEOUT,
	RC_SIGNAL,
	RC_EXIT,
	RC_OOM,
	RC_WORKER_LOST,
	RC_INFRASTRUCTURE,
	RC__COUNT
};

#define REC_LEVELS 5

/* Counters of one (class, strategy) pair. */
struct rec_stat {
	uint64_t attempts;
	uint64_t successes;
	double recover_ms_total; /* summed over the successes */
};

struct rec_history {
	struct rec_stat s[RC__COUNT][REC_LEVELS + 1]; /* index 1..5 is the level */
};

/* Maps a worker's error.kind (and the signal, when the kind is "signal") to a class. Returns
 * false for outcomes that are not errors of the task or its worker (cancelled, interrupted, a
 * lease that went astray, an unschedulable task): those get no recovery. */
bool recovery_classify(const char *kind, enum rec_class *out);
const char *recovery_class_name(enum rec_class c);
bool recovery_class_parse(const char *name, enum rec_class *out);
/* "retry_in_place" … "system_intervention" for levels 1..5; NULL otherwise. */
const char *recovery_strategy_name(int level);
int recovery_strategy_parse(const char *name);
/* The lowest level a class may use: a lost worker cannot run the retry and a worker whose disk
 * is full or that cannot start processes would fail it again, so those start at 2. */
int recovery_min_level(enum rec_class c);
/* Chooses the level for a task whose escalation floor is floor (1..5). Allowed are the floor
 * itself and, while the floor is below 3, the next level (levels 4 and 5 change other work, so
 * they are only reached by escalation). Each is scored by its smoothed success rate
 * (successes + 1) / (attempts + 2); the higher score wins and a tie goes to the lower level. A
 * strategy never tried scores 1/2, so it is explored as soon as the tried one succeeds less than
 * half the time. */
int recovery_choose(const struct rec_history *h, enum rec_class c, int floor);
/* Adjusts a task document for a retry elsewhere after an error of class c: a timeout doubles
 * timeout_s (at most max_timeout_s), oom raises requirements.memory by half (at most max_memory,
 * when that is positive; no change without a memory requirement). Returns true if it changed
 * anything. */
bool recovery_adjust(json_t *doc, enum rec_class c, double max_timeout_s, double max_memory);
/* Quarantine threshold: a worker is quarantined once strikes (tasks that failed there and then
 * passed elsewhere, since its last pass) reaches threshold (threshold <= 0 disables it). */
bool recovery_should_quarantine(int strikes, int threshold);

struct coord;
struct ctask;
struct cworker;

/* Loads the history and the blocked hardware classes from the store. */
int recovery_load(struct coord *c);
/* Called when an attempt of t failed with kind and the task will be retried (final false) or has
 * no retries left (final true), before the task is released from its worker; also for a lost
 * worker's task, which is requeued without spending a retry until max_requeues is reached
 * (final then). Settles the
 * strategy in progress, chooses and applies the next one, fires the recovery hooks and writes
 * what changed (the caller commits). */
void recovery_on_failure(struct coord *c, struct ctask *t, const char *kind, const char *why,
			 bool final);
/* Called when t passed: settles a recovery in progress (success), fires recovery_completed, and
 * counts strikes against workers where it failed before. */
void recovery_on_success(struct coord *c, struct ctask *t);
/* Quarantines w (duration_s <= 0: the configured time; reason shown) and requeues its work. */
void recovery_quarantine(struct coord *c, struct cworker *w, const char *reason, double duration_s);
/* Lifts a quarantine. */
void recovery_unquarantine(struct coord *c, struct cworker *w, const char *why);
/* Lifts expired quarantines (tick thread). */
void recovery_tick(struct coord *c);
/* True if the task may be leased to w as far as recovery is concerned (quarantine, pinning,
 * exclusion, blocked hardware). */
bool recovery_allows(struct coord *c, const struct ctask *t, const struct cworker *w);
/* Writes why recovery holds a pending task back (a blocked hardware class, a retry held for its
 * worker) into why and returns true; false when it does not. */
bool recovery_pending_reason(struct coord *c, const struct ctask *t, char *why, size_t len);
/* Writes the worker's quarantine fields into its document. */
void recovery_worker_sync(struct cworker *w);
/* Reads them back from a stored or re-registered document (the first time a worker is seen). */
void recovery_worker_load(struct cworker *w);
/* GET /api/v1/recovery/history's body (a new reference). */
json_t *recovery_history_json(struct coord *c);
/* Unblocks a hardware class; returns false if it was not blocked. */
bool recovery_unblock(struct coord *c, const char *hw);
/* Writes the recovery metric families for /metrics (returns the writer's error state). */
struct dtf_prom;
int recovery_metrics(struct coord *c, struct dtf_prom *pm);

#endif
