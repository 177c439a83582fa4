/* internal.h: what the files of src/sched/ share: the index's structures and the strategy
 * table. Nothing outside src/sched/ includes this. */
#ifndef DTF_SCHED_INTERNAL_H
#define DTF_SCHED_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/hmap.h"
#include "core/model.h"
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
 * key (ctask.sx_k1, sx_k2, seq). */
struct sx_lane {
	struct sx_class *cls;
	char *name;
	struct ctask **heap;
	size_t n, cap;
	size_t idx; /* position in cls->lanes */
};

/* Pending tasks of one signature and one batch_key, in the order they were queued. */
struct sx_group {
	char *key;
	struct ctask *head, *tail;
	size_t n;
};

/* A signature: tasks that fit a worker, or not, together. */
struct sx_class {
	char *sig;
	struct sx_lane **lanes;
	size_t nlanes, caplanes;
	size_t count; /* tasks indexed */
	size_t idx;   /* position in sx.cls */
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

struct sx {
	enum sx_kind kind;
	char plugin[128]; /* the strategy name of the active plugin (kind SX_PLUGIN) */
	struct dtf_hmap classes;
	struct sx_class **cls;
	size_t ncls, capcls;
	struct ctask **delayed; /* tasks in retry backoff, not indexed */
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
	size_t by_priority[DTF_PRIORITY_LEVELS + 1]; /* pending tasks (indexed or delayed) */
	/* Workers that may have a suspended lease (lease_wake walks these, not every worker). */
	struct cworker **waiting;
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

/* strategy.c */
const char *sx_kind_name(enum sx_kind k);
/* The lane a task goes in under the active strategy. */
void sx_lane_name(struct coord *c, const struct ctask *t, char *out, size_t len);
/* Sets t->sx_k1 and sx_k2 for the active strategy. */
void sx_task_key(struct coord *c, struct ctask *t);
/* The dynamic part of the order of a lane head for worker w: lower first. */
double sx_score(struct coord *c, const struct sx_lane *ln, const struct ctask *t,
		const struct cworker *w);

/* index.c */
void sx_rebuild(struct coord *c);
void sx_index_stats(struct coord *c, size_t *sigs, size_t *lanes, size_t *delayed);
void sx_index_release(struct sx *s);

#endif
