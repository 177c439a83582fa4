/* expr.h: the constraint expression language (DESIGN.md §4, docs/tasks.md "Constraints").
 *
 * A constraint is a small typed expression over the task and the worker, such as
 *   task.hardware in worker.hardware && worker.labels.os == "linux"
 *   task.gpu_memory <= worker.available_gpu_memory
 * Values are numbers, strings, booleans, lists (and the JSON objects a path may lead to), or
 * null for a field that does not exist. Operators, loosest first: `||`, `&&`, `!`, then the
 * comparisons `== != < <= > >= in` (which do not chain): `!a in b` is `!(a in b)`. Parentheses
 * group.
 *
 * An expression is compiled once (dtf_expr_compile) into one compact, immutable block and then
 * evaluated any number of times (dtf_expr_eval) against a context the caller fills; evaluation
 * allocates nothing and recurses at most DTF_EXPR_MAX_DEPTH deep. A compiled expression may be
 * evaluated from several threads at once. */
#ifndef DTF_SCHED_EXPR_H
#define DTF_SCHED_EXPR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Limits on what dtf_expr_compile accepts (bytes of source, nesting, nodes of the tree). */
#define DTF_EXPR_MAX_LEN   4096
#define DTF_EXPR_MAX_DEPTH 32
#define DTF_EXPR_MAX_NODES 512

/* The numeric fields the caller supplies from its own structures (live values, not JSON). A
 * field the caller leaves NaN reads as null. */
enum dtf_expr_num {
	DTF_EXPR_TASK_CPU,	       /* task.cpu = requirements.cpu */
	DTF_EXPR_TASK_MEMORY,	       /* task.memory (MiB) */
	DTF_EXPR_TASK_GPU_MEMORY,      /* task.gpu_memory (MiB) */
	DTF_EXPR_TASK_PRIORITY,	       /* task.priority */
	DTF_EXPR_WORKER_CPU,	       /* worker.cpu: total cores */
	DTF_EXPR_WORKER_MEMORY,	       /* worker.memory */
	DTF_EXPR_WORKER_GPU_MEMORY,    /* worker.gpu_memory */
	DTF_EXPR_WORKER_SLOTS,	       /* worker.slots */
	DTF_EXPR_WORKER_AVAILABLE_CPU, /* worker.available_cpu */
	DTF_EXPR_WORKER_AVAILABLE_MEMORY,
	DTF_EXPR_WORKER_AVAILABLE_GPU_MEMORY,
	DTF_EXPR_WORKER_AVAILABLE_SLOTS,
	DTF_EXPR_NUM__COUNT
};

/* What an expression is evaluated against. All pointers are borrowed and may be NULL (then the
 * paths into them read as null). */
struct dtf_expr_ctx {
	const json_t *task;	       /* the task document: task.<path> */
	const json_t *worker;	       /* the worker document: worker.<path> */
	const json_t *task_hardware;   /* task.hardware: the any-of list */
	const json_t *worker_hardware; /* worker.hardware: capabilities.hardware */
	double num[DTF_EXPR_NUM__COUNT];
};

struct dtf_expr;

/* Sets every field of ctx to "unknown" (NULL pointers, NaN numbers). */
void dtf_expr_ctx_init(struct dtf_expr_ctx *ctx);

/* Compiles the NUL-terminated src. Returns 0 and a new expression in *out (free it with
 * dtf_expr_free), or a negative DTF_E* code with *out NULL and a message in err that starts
 * with the 1-based character position at fault, e.g. "position 17: expected an operand". */
int dtf_expr_compile(const char *src, struct dtf_expr **out, char *err, size_t errlen);

/* Frees a compiled expression. Accepts NULL. */
void dtf_expr_free(struct dtf_expr *e);

/* The source text the expression was compiled from (owned by e). */
const char *dtf_expr_source(const struct dtf_expr *e);

/* Evaluates e against ctx: true only if the expression's value is the boolean true. Allocates
 * nothing. */
bool dtf_expr_eval(const struct dtf_expr *e, const struct dtf_expr_ctx *ctx);

/* True if the expression reads any worker.available_* field (its value then changes as tasks
 * come and go, not only when workers register). */
bool dtf_expr_uses_available(const struct dtf_expr *e);

#endif
