/* constraints.h: a task's constraint expressions (sched/expr.h) as the coordinator uses them:
 * checked at submission, compiled once per task, evaluated with the worker's live figures when a
 * lease is decided, and named when they are why a task cannot run. Coordinator-wide default
 * constraints (scheduler.default_constraints in the config, --constraint flags) apply to every
 * task. Everything but the validation functions runs with c->lock held. */
#ifndef DTF_COORDINATOR_CONSTRAINTS_H
#define DTF_COORDINATOR_CONSTRAINTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct coord;
struct ctask;
struct cworker;
struct dtf_constraints;
struct dtf_constraint_registry;

/* Most constraints one task (or the coordinator's defaults) may have. */
#define DTF_MAX_CONSTRAINTS 64

/* Error messages about a task's constraints start with this (e.g. "constraints[0]: position
 * 17: expected an operand"), so the API can answer them as invalid_constraint. */
#define DTF_CONSTRAINTS_ERR_PREFIX "constraints["

/* Checks a submitted "constraints" value (a string or a list of strings): every expression must
 * compile. Returns a new normalized list (always a list), or NULL with the reason in err. */
json_t *constraints_normalize(const json_t *v, char *err, size_t errlen);

/* Checks a worker's "labels" (an object of at most 64 labels; keys up to 128 bytes; values
 * strings up to 1024 bytes, numbers or booleans). Returns true, or false with the reason. */
bool constraints_labels_ok(const json_t *labels, char *err, size_t errlen);

/* Compiles the coordinator's default constraints: the list under scheduler.default_constraints
 * in config_doc (top level or under "coordinator"), then the NULL-terminated flags. Returns 0
 * and a new set in *out (NULL when there are none; free with constraints_free), or a negative
 * DTF_E* code with a message naming the constraint and the position. */
int constraints_defaults(const json_t *config_doc, const char *const *flags,
			 struct dtf_constraints **out, char *err, size_t errlen);

/* The coordinator's constraint registry: its default constraints (as constraints_defaults reads
 * them) and the compiled expressions its tasks share (tasks with the same constraint text share
 * one compiled copy, counted by reference). Returns 0 and a new registry in *out, or a negative
 * DTF_E* code with the message of constraints_defaults. Free it with constraints_registry_free
 * after every task set that uses it. */
int constraints_registry_new(const json_t *config_doc, const char *const *flags,
			     struct dtf_constraint_registry **out, char *err, size_t errlen);
/* Frees the registry. Accepts NULL. */
void constraints_registry_free(struct dtf_constraint_registry *reg);
/* Whether the registry holds the coordinator's default constraints (every task gets them). */
bool constraints_registry_has_defaults(const struct dtf_constraint_registry *reg);
/* How many distinct compiled task constraints the registry holds now. */
size_t constraints_registry_size(const struct dtf_constraint_registry *reg);

/* Compiles task t's "constraints" into t->constraints, with the coordinator's defaults (from
 * c->constraints; NULL means none, and then nothing is shared), which stays NULL when neither
 * exists. An expression that no longer compiles (a document stored by another version) makes
 * the task unschedulable with the reason; it is not an error. */
void constraints_attach(struct coord *c, struct ctask *t);

/* Frees a set (a task's set gives its shared expressions back). Accepts NULL. */
void constraints_free(struct dtf_constraints *s);

/* True if every constraint of t holds on w: with w's free resources as worker.available_*
 * when now is set, with its totals (as if it were idle) otherwise. */
bool constraints_hold(const struct ctask *t, const struct cworker *w, bool now);

/* True unless a constraint of t that reads worker.available_* fails with w's free resources
 * now. The others do not change as tasks come and go: lease_could_run checks them. */
bool constraints_hold_now(const struct ctask *t, const struct cworker *w);

/* When t's constraints are why no registered worker could run it (some worker has its hardware,
 * task type and capacity), writes why, naming the constraint, and returns true. */
bool constraints_explain(struct coord *c, const struct ctask *t, char *why, size_t len);

#endif
