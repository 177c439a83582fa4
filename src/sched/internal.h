/* internal.h: what the files of src/sched/ share: the index's structures and the strategy
 * table. Nothing outside src/sched/ includes this. */
#ifndef DTF_SCHED_INTERNAL_H
#define DTF_SCHED_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/hmap.h"
#include "sched/sched.h"

#define SX_LANE_MAX 160 /* a lane's name: a user, project or run id */

/* A signature's text (see index.c); longer ones make a class of their own. */
struct sx_sigbuf {
	char text[1024];
	size_t len;
	bool overflow;
};

struct sx_class;

/* A lane: the pending tasks of one signature and one user (or run), as a heap by the strategy's
 * key (sx_task.k1, k2, seq). */
struct sx_lane {
	struct sx_class *cls;
	char *name;
	struct sx_task **heap;
	size_t n, cap;
	size_t idx; /* position in cls->lanes */
};

/* Pending tasks of one signature and one batch_key, in the order they were queued. */
struct sx_group {
	char *key;
	struct sx_task *head, *tail;
	size_t n;
};

/* A signature: tasks that fit a worker, or not, together. Interned: the task records point to
 * theirs from submission on, so a class lives until sx_free; it is listed in sx.cls (and has
 * lanes) only while it holds indexed tasks. */
struct sx_class {
	char *sig;
	struct sx_lane **lanes;
	size_t nlanes, caplanes;
	size_t count; /* tasks indexed */
	size_t idx;   /* position in sx.cls, or SX_UNLISTED */
	struct dtf_hmap lane_by_name;
	struct dtf_hmap groups; /* batch_key -> struct sx_group */
};

/* A user's or project's use of the workers for fair-share: resource-seconds, decayed. */
struct sx_account {
	double usage;
	int64_t at_ms; /* when usage was last decayed */
	double share;
	uint64_t served; /* round-robin: the lease clock when it was last served */
};

/* The duration history of one test on one hardware class. */
struct sx_hist {
	double mean_s;
	int64_t n;
	bool dirty; /* changed since it was last written to the store */
};

enum sx_kind {
	SX_PRIORITY,
	SX_FAIR_SHARE,
	SX_ROUND_ROBIN,
	SX_RESOURCE_AWARE,
	SX_DEADLINE,
	SX_DURATION,
	SX_PLUGIN,
	SX__COUNT
};

#define SX_UNLISTED ((size_t)-1)

struct sx {
	const struct sx_ops *ops;
	void *ctx;
	enum sx_kind kind;
	char plugin[128];	 /* the strategy name of the active plugin (kind SX_PLUGIN) */
	struct dtf_hmap classes; /* signature -> struct sx_class, every one seen */
	struct sx_class **cls;	 /* those with indexed tasks */
	size_t ncls, capcls;
	struct dtf_hmap names;	  /* users and projects: name -> its interned copy */
	struct sx_task **delayed; /* tasks in retry backoff, not indexed */
	size_t ndelayed, capdelayed;
	/* Fair-share and round-robin. */
	struct dtf_hmap users, projects, rr; /* name -> struct sx_account */
	json_t *shares;			     /* {"users": {…}, "projects": {…}} as configured */
	double default_share;
	double half_life_s;
	uint64_t clock; /* counts leases, for round-robin */
	/* Duration history: "name\x1fhw" -> struct sx_hist. */
	struct dtf_hmap hist;
	char **hist_dirty; /* keys of the entries not written to the store yet */
	size_t nhist_dirty, caphist_dirty;
	int64_t hist_persisted_ms; /* monotonic: when they were last written */
	/* Batching metrics. */
	uint64_t batches, batched_tasks;
	uint64_t batch_hist[5]; /* sizes 2, 3-4, 5-8, 9-16, more */
	unsigned defaults_read; /* SX_READS_* of the coordinator's default constraints */
	size_t by_priority[SX_PRIORITY_LEVELS + 1]; /* pending tasks (indexed or delayed) */
	/* Workers that may have a suspended lease (the core's wake-up walks these, not every
	 * worker). */
	struct sx_worker **waiting;
	size_t nwaiting, capwaiting;
	/* Virtual time (the simulator). */
	bool virt;
	int64_t virt_ms, virt_wall0;
};

/* What constraint expressions read of the task beyond its signature: its priority, or other
 * parts of its document (then a task is a signature of its own). */
#define SX_READS_PRIORITY 1u
#define SX_READS_DOC	  2u

/* Adds to *reads what the expressions in v (a string or a list of strings) read of the task. */
void sx_constraint_reads(const json_t *v, unsigned *reads);

/* index.c: the task's hardware classes (nhw of them, one after the other). */
const char *sx_task_hw(const struct sx_task *t);

/* strategy.c */
const char *sx_kind_name(enum sx_kind k);
/* The lane a task goes in under the active strategy. */
void sx_lane_name(const struct sx *s, const struct sx_task *t, char *out, size_t len);
/* Sets t->k1 and k2 for the active strategy. */
void sx_task_key(const struct sx *s, struct sx_task *t);
/* The dynamic part of the order of a lane head for worker w: lower first. */
double sx_score(const struct sx *s, const struct sx_lane *ln, const struct sx_task *t,
		const struct sx_worker *w);

/* index.c */
void sx_rebuild(struct sx *s);
void sx_index_stats(const struct sx *s, size_t *sigs, size_t *lanes, size_t *delayed);
void sx_index_release(struct sx *s);

#endif
