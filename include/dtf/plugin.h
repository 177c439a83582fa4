/* dtf/plugin.h: the dtf plugin ABI, the one header a plugin compiles against.
 *
 * A plugin is a shared object that exports one function, dtf_plugin_entry(), returning a
 * descriptor (struct dtf_plugin). dtf loads it with dlopen(RTLD_NOW | RTLD_LOCAL), checks the ABI
 * version, calls init(), then configure() with the plugin's YAML block as JSON, then
 * capabilities(); afterwards it calls the hook and type-specific callbacks, and shutdown() last.
 * The plugin calls back into dtf through the host table (struct dtf_plugin_host) it receives in
 * init().
 *
 * ABI rules (see docs/plugins.md):
 *   - Every struct here that crosses the boundary starts with its size and only ever grows at the
 *     end. dtf reads at most struct_size bytes of a plugin's structs (missing members are NULL or
 *     0), and a plugin must check host->struct_size (DTF_PLUGIN_HOST_HAS) before calling a host
 *     function newer than the oldest dtf it supports.
 *   - DTF_PLUGIN_ABI_VERSION goes up whenever something is added. dtf loads plugins built for its
 *     own version or an older one down to DTF_PLUGIN_ABI_MIN, and refuses one built for a newer
 *     version, with a message that names both.
 *   - Only plain C types cross: JSON travels as NUL-terminated UTF-8 strings, never as a JSON
 *     library's objects, so a plugin may use any JSON library (or none).
 *   - Strings dtf passes in are borrowed for the duration of the call. Strings dtf returns from
 *     host functions are freed with host->free(). Strings a plugin returns to dtf through a
 *     `char **` are allocated with malloc() and freed by dtf with free().
 *   - Nothing here is called from a signal handler; callbacks may block for a bounded time.
 *
 * Threads: init, configure, capabilities, on_hook, the type-specific callbacks except
 * task_processor.run, timers and shutdown are called from one thread per plugin, one at a time,
 * so they need no locking among themselves. A hook that runs longer than its budget (default 2 s)
 * or returns an error gets the plugin disabled. task_processor.run is called on the worker's
 * executor threads, several at once when the worker has several slots. */
#ifndef DTF_PLUGIN_H
#define DTF_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header. Older plugins keep loading; newer ones are refused. */
#define DTF_PLUGIN_ABI_VERSION 2
/* The oldest plugin ABI this dtf still loads. */
#define DTF_PLUGIN_ABI_MIN 1

/* The one symbol dtf looks up in a plugin's shared object. */
#define DTF_PLUGIN_ENTRY_SYMBOL "dtf_plugin_entry"

/* Marks the entry point visible when the plugin is built with -fvisibility=hidden. */
#define DTF_PLUGIN_EXPORT __attribute__((visibility("default")))

/* Plugin types, from the seed's PluginType (plus the task processor of its plugin table). */
enum dtf_plugin_type {
	DTF_PLUGIN_CUSTOM = 0,
	DTF_PLUGIN_SCHEDULER = 1,
	DTF_PLUGIN_TASK_PROCESSOR = 2,
	DTF_PLUGIN_RESULTS_HANDLER = 3,
	DTF_PLUGIN_RESOURCE_MANAGER = 4,
	DTF_PLUGIN_NOTIFICATION = 5,
	DTF_PLUGIN_REPORTER = 6,
	DTF_PLUGIN_TYPE__COUNT
};

/* Hooks, from the seed's HookType. The numbers are part of the ABI and never change; new hooks
 * are added before DTF_HOOK__COUNT. Each is fired exactly once per event, with a JSON payload:
 *   coordinator_startup/shutdown  {"time", "version", "url"?}
 *   task_*                        the task document, as GET /api/v1/tasks/{id} shows it
 *   worker_*                      the worker document, as GET /api/v1/workers/{id} shows it
 *   recovery_*                    {"level", "strategy", "task_id"?, "worker_id"?, "error"?}
 *   custom                        {"name", "plugin"?, "data"} (plugin_failed is one) */
enum dtf_hook {
	DTF_HOOK_COORDINATOR_STARTUP = 0,
	DTF_HOOK_COORDINATOR_SHUTDOWN = 1,
	DTF_HOOK_TASK_CREATED = 2,
	DTF_HOOK_TASK_ASSIGNED = 3,
	DTF_HOOK_TASK_STARTED = 4,
	DTF_HOOK_TASK_COMPLETED = 5,
	DTF_HOOK_TASK_FAILED = 6,
	DTF_HOOK_TASK_CANCELLED = 7,
	DTF_HOOK_WORKER_REGISTERED = 8,
	DTF_HOOK_WORKER_DISCONNECTED = 9,
	DTF_HOOK_WORKER_FAILED = 10,
	DTF_HOOK_WORKER_RECOVERED = 11,
	DTF_HOOK_RECOVERY_STARTED = 12,
	DTF_HOOK_RECOVERY_COMPLETED = 13,
	DTF_HOOK_RECOVERY_FAILED = 14,
	DTF_HOOK_CUSTOM = 15,
	DTF_HOOK__COUNT
};

/* A bit of struct dtf_plugin.hooks. */
#define DTF_HOOK_BIT(h) ((uint64_t)1 << (h))
/* The three hooks that end a task. */
#define DTF_HOOK_MASK_TASK_FINAL                                                                   \
	(DTF_HOOK_BIT(DTF_HOOK_TASK_COMPLETED) | DTF_HOOK_BIT(DTF_HOOK_TASK_FAILED) |              \
	 DTF_HOOK_BIT(DTF_HOOK_TASK_CANCELLED))

/* Levels for host->log. */
enum dtf_plugin_log_level {
	DTF_PLUGIN_LOG_DEBUG = 0,
	DTF_PLUGIN_LOG_INFO = 1,
	DTF_PLUGIN_LOG_WARN = 2,
	DTF_PLUGIN_LOG_ERROR = 3
};

/* Opaque handles. A context is one loaded plugin (passed to every host call so dtf knows who
 * calls); a task run is one call of task_processor.run. */
typedef struct dtf_plugin_ctx dtf_plugin_ctx;
typedef struct dtf_task_run dtf_task_run;

/* What host->run_process reports. The caller sets struct_size = sizeof(*res); dtf fills the
 * members that fit. out and err are NUL-terminated (possibly cut at the cap) and are freed with
 * host->free(). */
struct dtf_process_result {
	uint32_t struct_size;
	int exit_code;	   /* the exit status; -1 when killed by a signal or never started */
	int signal;	   /* the signal that ended it, 0 if none */
	int timed_out;	   /* 1 when stopped because the timeout passed */
	int cancelled;	   /* 1 when stopped because the task was cancelled */
	double duration_s; /* wall time */
	char *out, *err;   /* captured stdout and stderr */
	size_t out_len, err_len;
	size_t out_dropped, err_dropped; /* bytes left out past the cap */
};

/* The host API: what dtf offers a plugin. Valid from init() until shutdown() returns. Every
 * function may be called from any of the plugin's threads. Functions return 0 or a negative
 * error; strings they return belong to the caller, who frees them with free() below. */
struct dtf_plugin_host {
	uint32_t abi_version; /* the dtf's DTF_PLUGIN_ABI_VERSION */
	uint32_t struct_size; /* sizeof(struct dtf_plugin_host) in the dtf that is running */

	/* Logs a line prefixed with the plugin's name. An error-level line also becomes the
	 * reason shown when the plugin is disabled right after. */
	void (*log)(dtf_plugin_ctx *ctx, int level, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

	/* The task or worker with that id as a JSON document, or NULL when there is none (or the
	 * process is not a coordinator). Free with host->free. */
	char *(*get_task)(dtf_plugin_ctx *ctx, const char *task_id);
	char *(*get_worker)(dtf_plugin_ctx *ctx, const char *worker_id);

	/* Publishes a custom event (name, data: a JSON value as text) on the coordinator's event
	 * stream and fires the custom hook of every other plugin with
	 * {"name", "plugin", "data"}. Returns 0, or a negative error for bad JSON. */
	int (*emit_event)(dtf_plugin_ctx *ctx, const char *name, const char *data_json);

	/* Calls fn(arg) after delay_ms, then every interval_ms if that is not 0, on the plugin's
	 * thread (with the same time budget as a hook; a non-zero return disables the plugin).
	 * Returns a timer id (> 0) or a negative error. Timers end with the plugin. */
	long long (*schedule_timer)(dtf_plugin_ctx *ctx, unsigned delay_ms, unsigned interval_ms,
				    int (*fn)(void *arg), void *arg);
	/* Cancels a timer; 0, or a negative error when there is no such timer. */
	int (*cancel_timer)(dtf_plugin_ctx *ctx, long long timer_id);

	/* An HTTP(S) request through dtf's client (libcurl, TLS verified). headers is a
	 * NULL-terminated list of "Name: value" or NULL; body may be NULL. On a transport success
	 * (whatever the status) returns 0 with *status and a NUL-terminated *resp_body (capped at
	 * 4 MiB; free with host->free; may be NULL when resp_body is NULL). timeout_ms 0 means
	 * 10 s. Returns a negative error when the server could not be reached. */
	int (*http_request)(dtf_plugin_ctx *ctx, const char *method, const char *url,
			    const char *const *headers, const char *body, size_t body_len,
			    long timeout_ms, long *status, char **resp_body, size_t *resp_len);

	/* Runs a program from an argv (never through a shell unless argv is one) in a process
	 * group of its own, with stdin_data (may be NULL) on its stdin, and waits for it, stopping
	 * the group after timeout_s (0: none) or when run (may be NULL) is cancelled. envp NULL
	 * keeps dtf's environment; cwd NULL keeps dtf's directory. output_cap 0 means 1 MiB per
	 * stream. Returns 0 when the program ran (whatever its exit status), or a negative error
	 * when it could not be started. res is filled in either case. */
	int (*run_process)(dtf_plugin_ctx *ctx, dtf_task_run *run, const char *const *argv,
			   const char *const *envp, const char *cwd, const char *stdin_data,
			   double timeout_s, size_t output_cap, struct dtf_process_result *res);

	/* Non-zero once the task of this run was cancelled (or timed out): stop soon. */
	int (*task_cancelled)(dtf_task_run *run);

	/* Frees what a host function returned. */
	void (*free)(void *p);

	/* "coordinator", "worker" or "cli": the process the plugin is loaded in. */
	const char *role;
};

/* True if the running dtf's host table has the member (a plugin built against a newer header
 * may be loaded by an older dtf). */
#define DTF_PLUGIN_HOST_HAS(host, member)                                                          \
	((host)->struct_size >= offsetof(struct dtf_plugin_host, member) + sizeof((host)->member))

/* ---- type-specific operations (each table starts with its size and grows at the end) ---- */

/* Scheduler: a scheduling strategy (docs/scheduling.md). Selecting `strategy` (config
 * scheduler.strategy, `dtf coordinator --strategy`, PUT /api/v1/scheduler) makes the coordinator
 * call order() on its lease path whenever a worker asks for work: worker_json is the worker's
 * document (as GET /api/v1/workers/{id} shows it), tasks_json an array of the n best candidates
 * that fit it now (at most 64, in priority-then-age order, each a task document as
 * GET /api/v1/tasks/{id} shows it). The plugin writes into order[] the indexes of the tasks in the
 * order it wants them leased (fewer than n holds the others back for this lease) and returns how
 * many it wrote, or a negative error (the coordinator then keeps the given order). Unlike the
 * other callbacks, order() runs on the coordinator's request thread with its state locked, never
 * twice at once but possibly while the plugin's own thread runs another callback: it must be
 * quick (microseconds, no I/O) and touch only state it guards itself. */
struct dtf_scheduler_ops {
	uint32_t struct_size;
	const char *strategy; /* the name scheduler.strategy selects it by */
	int (*order)(void *state, const char *worker_json, const char *tasks_json, size_t n,
		     size_t *order);
};

/* Task processor: runs task types of its own on the worker. run() gets the task document
 * (with "work_dir", the task's directory, when the worker made one) and sets *result_json to a
 * malloc()ed JSON object:
 *   {"outcome": "passed"|"failed", "exit_code": N, "duration_s": S, "stdout": "…",
 *    "stderr": "…", "metrics": {…}, "error": {"kind": "…", "message": "…"}}
 * every member optional (no outcome: passed unless exit_code is non-zero or error is given).
 * A negative return fails the task with error kind "plugin". */
struct dtf_task_processor_ops {
	uint32_t struct_size;
	const char *const *task_types; /* NULL-terminated, e.g. {"benchmark", NULL} */
	int (*run)(void *state, dtf_task_run *run, const char *task_json, char **result_json);
};

/* Results handler: called once per task that ended (completed, failed or cancelled) with its
 * final document. */
struct dtf_results_handler_ops {
	uint32_t struct_size;
	const char *const *formats; /* what it writes, e.g. {"csv", NULL}; informational */
	int (*handle_result)(void *state, const char *task_id, const char *task_json);
};

/* Resource manager: adds to what a worker detects. detect() sets *capabilities_json to a
 * malloc()ed JSON object merged over the worker's detected capabilities at registration. */
struct dtf_resource_manager_ops {
	uint32_t struct_size;
	int (*detect)(void *state, char **capabilities_json);
};

/* Notification: called for every hook the plugin subscribes to, with a one-line message
 * ("task t-1 'build' failed: exit code 2"), a severity ("info", "warning", "error") and the
 * whole event ({"hook", "time", "payload"}). */
struct dtf_notifier_ops {
	uint32_t struct_size;
	int (*notify)(void *state, const char *severity, const char *message,
		      const char *event_json);
};

/* Reporter: renders a run's report in its format. Reserved for the report exporters:
 * run_json is the run document, tasks_json the array of its tasks; *out is malloc()ed. */
struct dtf_reporter_ops {
	uint32_t struct_size;
	const char *format;	  /* "pdf", "slack-summary", … */
	const char *content_type; /* "application/pdf" */
	int (*render)(void *state, const char *run_json, const char *tasks_json, char **out,
		      size_t *out_len);
};

/* Channel (ABI 2): a notification channel type, sent through like a built-in connector
 * (docs/notifications.md, "Channels from plugins"). A channel integrations.<name> whose type is
 * `type`, or "plugin:<this plugin's name>", is this plugin's; a `type` that names a built-in
 * connector ("slack") replaces that connector for every channel of the type (the first plugin in
 * plugins.enabled order wins when two register one type).
 *
 * open() gets the channel's name and its integrations.<name> block as a JSON object, once per
 * channel when the coordinator starts and on `dtf coordinator --check`; a negative return with a
 * one-line reason in err refuses the configuration. It runs with the coordinator's state locked:
 * it may call host->log only. May be NULL (every block accepted).
 *
 * send() delivers one message and says what happened: DTF_CHANNEL_SENT, DTF_CHANNEL_RETRY (try
 * again later: after *retry_after_s seconds when the plugin sets it, else dtf's backoff) or
 * DTF_CHANNEL_FAILED (a dead letter; so is a negative return). err gets the reason of a retry or
 * a failure, or a short answer (a message id) on success. message_json is
 *   {"channel", "type", "event", "severity", "key", "ref"?, "data": the template context,
 *    "text"?: the route's template rendered as plain text}
 * with "key" the same for every try of one message (an idempotency key for the service). send()
 * runs on the coordinator's notification sender (one thread, one message at a time), not on the
 * plugin's thread: it may block for the channel's timeout_s and call any host function, but it
 * may run while the plugin's thread is in another callback, so state both touch needs a lock. */
enum dtf_channel_result {
	DTF_CHANNEL_SENT = 0,
	DTF_CHANNEL_RETRY = 1,
	DTF_CHANNEL_FAILED = 2,
};

struct dtf_channel_ops {
	uint32_t struct_size;
	const char *type; /* what integrations.<name>.type selects it by: [a-z0-9_]+ */
	int (*open)(void *state, const char *channel, const char *config_json, char *err,
		    size_t errlen);
	int (*send)(void *state, const char *channel, const char *message_json,
		    unsigned *retry_after_s, char *err, size_t errlen);
};

/* ---- the descriptor ---- */

struct dtf_plugin {
	/* The stable prefix: these four members never move, so dtf can name a plugin built for
	 * any ABI version when it refuses it. */
	uint32_t abi_version; /* DTF_PLUGIN_ABI_VERSION when the plugin was built */
	uint32_t struct_size; /* sizeof(struct dtf_plugin) when the plugin was built */
	const char *name;     /* [A-Za-z0-9._-]+, what plugins.enabled names */
	const char *version;  /* the plugin's own version, "1.2.0" */

	uint32_t type;	/* enum dtf_plugin_type */
	uint64_t hooks; /* DTF_HOOK_BIT()s of the hooks it wants; 0 means all of them */

	/* Creates the plugin's state (*state, passed to every later call). Keep ctx and host for
	 * calls back into dtf. Returns 0, or a negative error: the plugin is then disabled (log
	 * the reason first with host->log at error level). May be NULL. */
	int (*init)(dtf_plugin_ctx *ctx, const struct dtf_plugin_host *host, void **state);
	/* Applies the plugin's configuration block (plugins.config.<name>) as a JSON object ("{}"
	 * when there is none). On error, writes a one-line reason into err and returns a negative
	 * error: the plugin is disabled. May be NULL. */
	int (*configure)(void *state, const char *config_json, char *err, size_t errlen);
	/* What the plugin can do, as a JSON object ("{\"formats\":[\"csv\"]}"); the string stays
	 * valid until shutdown. May be NULL. */
	const char *(*capabilities)(void *state);
	/* Releases everything; the last call. May be NULL. */
	void (*shutdown)(void *state);
	/* Called for each event of a subscribed hook (see enum dtf_hook for payloads). Returns 0,
	 * or a negative error: the plugin is then disabled. May be NULL. */
	int (*on_hook)(void *state, int hook, const char *payload_json);

	/* The operations of its type (NULL for the others). */
	const struct dtf_scheduler_ops *scheduler;
	const struct dtf_task_processor_ops *task_processor;
	const struct dtf_results_handler_ops *results_handler;
	const struct dtf_resource_manager_ops *resource_manager;
	const struct dtf_notifier_ops *notifier;
	const struct dtf_reporter_ops *reporter;

	const char *description; /* one line for `dtf plugins list`; may be NULL */

	/* ABI 2: a notification channel type it offers, any plugin type (NULL for none). */
	const struct dtf_channel_ops *channel;
	/* New members go here, at the end. */
};

/* The entry point every plugin exports. Returns a descriptor that stays valid while the shared
 * object is loaded (usually a static const struct). It must not call anything in dtf. */
DTF_PLUGIN_EXPORT const struct dtf_plugin *dtf_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif
