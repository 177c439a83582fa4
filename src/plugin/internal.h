/* internal.h: what the files of src/plugin/ share: the plugin set, one loaded plugin (the
 * dtf_plugin_ctx handle the ABI passes around), queued events, and the parts that run programs
 * (proc.c, exec.c). Nothing outside src/plugin/ includes this. */
#ifndef DTF_PLUGIN_INTERNAL_H
#define DTF_PLUGIN_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "dtf/plugin.h"
#include "plugin/plugin.h"
#include "plugin/proc.h"

#define PLUGIN_NAME_MAX	       128
#define PLUGIN_REASON_MAX      512
#define PLUGIN_MAX_DEPTH       8    /* custom events emitted from custom events, at most */
#define PLUGIN_DRAIN_S	       10.0 /* how long dtf_plugins_free delivers what is queued */
#define PLUGIN_STUCK_GRACE_S   5.0  /* how long it waits for a plugin stuck in a call */
#define PLUGIN_MAX_EVENT_BYTES (4u << 20)
#define PLUGIN_QUEUE_MAX_BYTES ((size_t)64 << 20) /* payloads waiting, at most */
#define PLUGIN_HTTP_MAX_BYTES  (4u << 20)

enum plugin_state { PS_ENABLED, PS_DISABLED, PS_AVAILABLE, PS_INVALID };
enum plugin_source { SRC_BUILTIN, SRC_SO, SRC_EXEC };

/* One queued event. Shared by the calls that deliver it (refs), freed by the last. */
struct plugin_event {
	struct plugin_event *next;
	atomic_int refs;
	int hook; /* enum dtf_hook, or -1 for a timer */
	uint64_t seq;
	int64_t wall_ms;
	char *payload;	      /* JSON text */
	size_t size;	      /* its length */
	char *envelope;	      /* {"hook","seq","time","payload"}, made by the dispatcher */
	char *message;	      /* the notifiers' one-line message, or NULL */
	const char *severity; /* "info", "warning", "error" */
	char task_id[80];     /* for results handlers */
	int target;	      /* a plugin index (timers), or -1 for every plugin */
	int origin;	      /* the plugin that emitted it (custom events), or -1 */
	int depth;	      /* emitted while delivering an event of this depth - 1 */
	long long timer_id;   /* for timer events */
};

enum call_kind { CALL_INIT, CALL_CONFIGURE, CALL_EVENT, CALL_TIMER, CALL_DETECT, CALL_SHUTDOWN };

/* A call handed to a plugin's thread. Owned by the caller, or by the thread once the caller
 * gave up waiting (abandoned). */
struct plugin_call {
	enum call_kind kind;
	struct plugin_event *ev; /* CALL_EVENT: a reference */
	char *config_json;	 /* CALL_CONFIGURE */
	int (*timer_fn)(void *arg);
	void *timer_arg;
	char *out; /* CALL_DETECT: what the plugin returned (malloc'd) */
	int rc;
	char err[PLUGIN_REASON_MAX];
};

struct exec_plugin;

/* One plugin: the handle plugins get as dtf_plugin_ctx. */
struct dtf_plugin_ctx {
	struct dtf_plugins *owner;
	int index; /* position in plugins.enabled */
	char name[PLUGIN_NAME_MAX];
	char version[64];
	enum plugin_source source;
	char *path; /* the .so, or the exec program; NULL for built-ins */
	char *description;
	struct dtf_plugin d; /* the descriptor, zero past what the plugin knew */
	struct dtf_scheduler_ops scheduler;
	struct dtf_task_processor_ops task_processor;
	struct dtf_results_handler_ops results_handler;
	struct dtf_resource_manager_ops resource_manager;
	struct dtf_notifier_ops notifier;
	struct dtf_reporter_ops reporter;
	struct dtf_channel_ops channel;
	bool has_channel;
	char channel_type[64]; /* channel.type, copied */
	bool has_scheduler, has_task_processor, has_results_handler, has_resource_manager;
	bool has_notifier, has_reporter;
	char **task_types; /* NULL-terminated, owned */
	void *dl;	   /* dlopen handle, or NULL */
	void *state;	   /* what init() gave */
	bool initialized;
	bool refused;		  /* unusable (reason says why); disabled at start */
	struct exec_plugin *exec; /* for exec plugins */

	/* Guarded by owner->lock. */
	enum plugin_state st;
	char reason[PLUGIN_REASON_MAX];
	char last_error[PLUGIN_REASON_MAX]; /* the last error-level log line */
	uint64_t mask;			    /* hooks delivered */
	double hook_timeout_s;
	int max_errors, consecutive_errors;
	json_t *config; /* the block given to configure */
	json_t *caps;	/* parsed capabilities, or NULL */
	uint64_t n_events, n_errors, n_timeouts;
	double total_ms, max_ms;
	atomic_uint_fast64_t n_tasks, n_task_failures; /* task processor runs */

	/* The plugin's thread: one call at a time. Guarded by mu. */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct plugin_call *call; /* pending or running, NULL when idle */
	bool taken;		  /* the thread is running call */
	bool call_done;
	bool abandoned; /* the caller stopped waiting for call */
	bool quit;
	bool leak; /* stuck at exit: never unloaded */
};

struct plugin_timer {
	struct plugin_timer *next;
	long long id;
	int plugin;	/* index */
	int64_t due_ms; /* monotonic */
	unsigned interval_ms;
	int (*fn)(void *arg);
	void *arg;
	bool queued; /* an event for it waits in the queue */
	bool done;   /* one-shot that fired: removed once delivered */
};

struct dtf_plugins {
	pthread_mutex_t lock;	   /* the queue, timers, plugin states and counters */
	pthread_cond_t cond;	   /* the queue changed; the dispatcher is idle */
	struct dtf_plugin_ctx **v; /* enabled plugins in order (some disabled since) */
	size_t n;
	json_t *others;		     /* list entries for plugins found but not enabled */
	struct dtf_plugin_host host; /* the table plugins get */
	struct dtf_plugin_host_impl impl;
	char *config_dir; /* relative paths are anchored here */

	double hook_timeout_s, init_timeout_s;
	size_t qcap;
	bool strict;

	/* The queue. */
	struct plugin_event *head, *tail;
	size_t qlen, qbytes;
	uint64_t seq, dropped, delivered;
	atomic_uint_fast64_t subscribed; /* union of the enabled plugins' masks */
	atomic_bool any_notifier;
	bool busy; /* the dispatcher is delivering an event */
	bool stopping;
	int64_t drain_deadline_ms;
	pthread_t dispatcher;
	bool dispatcher_started;

	/* Timers. */
	struct plugin_timer *timers;
	long long next_timer_id;
	pthread_t timer_thread;
	bool timer_started, timer_quit;
	pthread_cond_t timer_cond;

	char **task_types; /* union of the processors' types, NULL-terminated */
};

/* The task run handle of the ABI. */
struct dtf_task_run {
	atomic_int *cancel;  /* may be NULL */
	int64_t deadline_ms; /* monotonic; 0: none */
};

/* ---- dispatch.c ---- */

/* Starts the plugin's thread. */
int plugin_thread_start(struct dtf_plugin_ctx *pl);
/* Hands a call to the plugin's thread and waits up to budget_s. Returns the call's rc, or
 * DTF_ETIMEOUT when the plugin did not return in time (the call then belongs to the thread;
 * the caller must not touch it again). */
int plugin_call(struct dtf_plugin_ctx *pl, struct plugin_call *c, double budget_s);
/* Waits up to secs for the plugin's thread to finish what it is doing; true if it is idle. */
bool plugin_wait_idle(struct dtf_plugin_ctx *pl, double secs);
/* Ends an idle plugin's thread. */
void plugin_thread_stop(struct dtf_plugin_ctx *pl);
/* Disables a plugin with a reason (printf-style), logs it and fires plugin_failed. */
void plugin_disable(struct dtf_plugin_ctx *pl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Recomputes the set of subscribed hooks after a plugin's state changed. */
void plugin_update_subscriptions(struct dtf_plugins *p);
/* Queues an event: payload is the JSON text (stolen), json the same document when the caller
 * has it (borrowed; NULL: parsed again when a notifier needs it). */
void plugin_enqueue(struct dtf_plugins *p, int hook, char *payload, const json_t *json, int origin,
		    int depth);
int plugin_dispatcher_start(struct dtf_plugins *p);
/* Delivers what is queued (bounded), stops the dispatcher and the timers. */
void plugin_dispatcher_stop(struct dtf_plugins *p);
long long plugin_timer_add(struct dtf_plugin_ctx *pl, unsigned delay_ms, unsigned interval_ms,
			   int (*fn)(void *arg), void *arg);
int plugin_timer_cancel(struct dtf_plugin_ctx *pl, long long id);
/* The depth of the event being delivered on this thread (0 elsewhere). */
int plugin_current_depth(void);
void plugin_event_unref(struct plugin_event *ev);

/* ---- host.c ---- */

/* Fills the host table. */
void plugin_host_init(struct dtf_plugins *p);

/* ---- proc.c: running programs: plugin/proc.h ---- */

/* ---- exec.c: the exec plugin kind ---- */

/* Creates the exec state for a plugin from its configuration block (exec, env, cwd, timeout,
 * output_cap, max_restarts); NULL with the reason in err. */
struct exec_plugin *exec_plugin_new(const char *name, const json_t *block, const char *base_dir,
				    char *err, size_t errlen);
void exec_plugin_free(struct exec_plugin *ex);
/* The resolved program path (owned by ex). */
const char *exec_plugin_program(const struct exec_plugin *ex);
/* Writes one event line to the program, starting or restarting it as needed. 0, or a negative
 * error with the reason in err (the plugin is then disabled). */
int exec_plugin_deliver(struct exec_plugin *ex, const char *line, size_t len, double budget_s,
			char *err, size_t errlen);
/* How often the program was started. */
unsigned exec_plugin_starts(struct exec_plugin *ex);
/* Kills the program (to free a thread stuck writing to it). */
void exec_plugin_kill(struct exec_plugin *ex);
/* Closes the program's stdin and waits for it to exit (bounded), then stops it. */
void exec_plugin_stop(struct exec_plugin *ex);
/* Runs the program once for a task: the task on stdin, the result from stdout. Builds the
 * worker's result document. */
json_t *exec_plugin_run_task(struct exec_plugin *ex, const json_t *task, atomic_int *cancel);

/* ---- task.c ---- */

/* Builds the worker's result document from what a processor reported (obj, may be NULL) and
 * what its process did (proc, may be NULL). */
json_t *plugin_task_result(const json_t *obj, const struct dtf_process_result *proc,
			   const char *spawn_error);

/* ---- builtin.c ---- */

struct plugin_builtin {
	const char *name;
	const struct dtf_plugin *(*entry)(void); /* NULL for the exec kind */
	const char *help;
};
extern const struct plugin_builtin plugin_builtins[];
const struct plugin_builtin *plugin_builtin_find(const char *name);

/* ---- event.c ---- */

/* The severity and one-line message (new string) notifiers get for an event. */
const char *plugin_event_severity(int hook, const json_t *payload);
char *plugin_event_message(int hook, const json_t *payload);

#endif
