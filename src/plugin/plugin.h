/* plugin.h: dtf's side of the plugin system (the ABI is include/dtf/plugin.h): loading plugins
 * from the configuration (plugins.directories, plugins.enabled, plugins.config.<name>,
 * DTF_PLUGIN_PATH, the built-in table), firing hooks without blocking the caller, running task
 * processors on the worker, and listing what is loaded. See docs/internals/plugins.md. */
#ifndef DTF_PLUGIN_PLUGIN_H
#define DTF_PLUGIN_PLUGIN_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "dtf/plugin.h"

#define DTF_PLUGIN_DEFAULT_HOOK_TIMEOUT_S 2.0
#define DTF_PLUGIN_DEFAULT_INIT_TIMEOUT_S 10.0
#define DTF_PLUGIN_DEFAULT_QUEUE	  1024
#define DTF_PLUGIN_MAX_QUEUE		  1000000
#define DTF_PLUGIN_MAX_PLUGINS		  64

struct dtf_plugins;

/* What the process loading plugins offers them, behind the host API. Every function may be NULL
 * and is called from the plugins' threads (never from the thread that called
 * dtf_plugins_fire, and never with a lock of the plugin system held), so it may take the
 * caller's own locks. */
struct dtf_plugin_host_impl {
	void *arg;	  /* passed to every function below */
	const char *role; /* "coordinator", "worker", "cli" (host->role); NULL: "cli" */
	/* The task or worker as a malloc()ed JSON string (the plugin system frees it), or NULL. */
	char *(*get_task_json)(void *arg, const char *task_id);
	char *(*get_worker_json)(void *arg, const char *worker_id);
	/* Publishes a custom event (the event stream); data is borrowed. */
	void (*emit_event)(void *arg, const char *name, const json_t *data);
};

/* Reads the plugins section of a configuration document (config_doc may be NULL or lack it: then
 * only the built-ins and DTF_PLUGIN_PATH are discovered and nothing is enabled), discovers
 * plugins, and loads, initializes and configures the enabled ones in order, then starts the hook
 * dispatcher. config_path (may be NULL) names the file in errors and anchors relative paths;
 * host may be NULL. A plugin that cannot be loaded (no entry symbol, a newer ABI, init or
 * configure failing) is disabled and reported, not an error, unless plugins.strict is true.
 * Returns a new plugin set the caller frees with dtf_plugins_free(), or NULL with
 * "file:line: plugins.key: reason" in err for a configuration error. */
struct dtf_plugins *dtf_plugins_load(const json_t *config_doc, const char *config_path,
				     const struct dtf_plugin_host_impl *host, char *err,
				     size_t errlen);

/* Checks only the plugins section of a configuration (no file is opened, nothing is loaded):
 * 0, or DTF_EINVAL with "name:line: plugins.key: reason" in err. text/len is the YAML the
 * document was parsed from (for line numbers; may be NULL). */
int dtf_plugins_config_check(const json_t *config_doc, const char *text, size_t len,
			     const char *name, char *err, size_t errlen);

/* Queues an event for every enabled plugin that subscribes to the hook and returns at once:
 * it never blocks on a plugin (a full queue drops its oldest event and counts it). payload is
 * borrowed (serialized before returning); NULL means {}. Safe from any thread, with any lock of
 * the caller held. Accepts p == NULL. The dispatcher thread then calls each plugin in the
 * enabled order, one event at a time, exactly once per event. */
void dtf_plugins_fire(struct dtf_plugins *p, enum dtf_hook hook, const json_t *payload);
/* True if an enabled plugin listens to hook: callers skip building a payload nobody reads. */
bool dtf_plugins_subscribed(struct dtf_plugins *p, enum dtf_hook hook);

/* Fires DTF_HOOK_CUSTOM with {"name": name, "data": data} (data borrowed; NULL means null). */
void dtf_plugins_fire_custom(struct dtf_plugins *p, const char *name, const json_t *data);

/* A new document describing every plugin known (enabled, disabled with the reason, or only
 * available) for GET /api/v1/plugins and `dtf plugins list`:
 * {"plugins": [{"name", "version", "type", "source", "path"?, "description"?, "capabilities",
 *   "hooks": [...], "task_types"?: [...], "state": "enabled"|"disabled"|"available"|"invalid",
 *   "enabled": bool, "reason"?, "counters": {...}}], "queue": {"length", "capacity",
 *   "dropped"}, "hook_timeout_s"}. Accepts NULL (an empty list). */
json_t *dtf_plugins_list(struct dtf_plugins *p);

/* The task types the enabled task processors add (NULL-terminated, owned by p, valid until
 * dtf_plugins_free). Accepts NULL (returns an empty list). */
const char *const *dtf_plugins_task_types(struct dtf_plugins *p);

/* True if an enabled task processor handles this task type. */
bool dtf_plugins_handles(struct dtf_plugins *p, const char *task_type);

/* Runs a task of a plugin's type on this thread and builds the result the worker reports:
 * {"outcome": "passed"|"failed", "result": {"exit_code", "duration_s", "stdout", "stderr",
 * "metrics"?}, "error"?: {"kind", "message"}}. cancel (may be NULL) becomes non-zero to stop
 * the task. Returns 0 with *result set (a new reference; a failed task is still 0), or
 * DTF_ENOTFOUND when no enabled processor handles the task's type (*result NULL). Safe from
 * several threads at once. */
int dtf_plugins_run_task_cancellable(struct dtf_plugins *p, const json_t *task, atomic_int *cancel,
				     json_t **result);
/* The same without cancellation. */
int dtf_plugins_run_task(struct dtf_plugins *p, const json_t *task, json_t **result);

/* Merges what enabled resource managers detect into caps (an object). */
void dtf_plugins_detect_resources(struct dtf_plugins *p, json_t *caps);

/* Delivers the events already queued (each still within its time budget), calls every plugin's
 * shutdown and unloads them. Fires nothing itself. Must not be called with a lock the
 * host_impl functions take. Accepts NULL. */
void dtf_plugins_free(struct dtf_plugins *p);

/* True if an enabled scheduler plugin offers the strategy name. Accepts NULL. */
bool dtf_plugins_has_strategy(struct dtf_plugins *p, const char *name);
/* A new list of the strategies enabled scheduler plugins offer:
 * [{"name", "description", "source": "plugin", "plugin"}]. Accepts NULL. */
json_t *dtf_plugins_strategies(struct dtf_plugins *p);
/* Calls order() of the enabled scheduler plugin offering strategy, on this thread (see
 * struct dtf_scheduler_ops). Returns how many indexes it wrote into order (each checked to be
 * below n and used once), or a negative error: DTF_ENOTFOUND when no plugin offers it,
 * DTF_EPROTO when it failed or answered nonsense. */
int dtf_plugins_order(struct dtf_plugins *p, const char *strategy, const char *worker_json,
		      const char *tasks_json, size_t n, size_t *order);

/* Notification channels from plugins (struct dtf_channel_ops). type is a channel's
 * integrations.<name>.type: a type a plugin registers, or "plugin:<plugin name>".
 * dtf_plugins_channel_provider: the name of the enabled plugin serving type (the first in
 * plugins.enabled order), owned by p, or NULL when none does. Accepts NULL. */
const char *dtf_plugins_channel_provider(struct dtf_plugins *p, const char *type);
/* Calls the plugin's open() for channel with its block (JSON text). 0, DTF_ENOTFOUND when no
 * enabled plugin serves type, or a negative error with the plugin's reason in err. */
int dtf_plugins_channel_open(struct dtf_plugins *p, const char *type, const char *channel,
			     const char *config_json, char *err, size_t errlen);
/* Calls the plugin's send() on this thread. Returns a DTF_CHANNEL_* result: RETRY also when the
 * plugin is gone or was disabled since (err says so), FAILED for a negative return. err gets the
 * plugin's reason, or its answer on success. Safe from any one thread besides the plugin's. */
int dtf_plugins_channel_send(struct dtf_plugins *p, const char *type, const char *channel,
			     const char *message_json, unsigned *retry_after_s, char *err,
			     size_t errlen);

/* "task_completed" etc., or "unknown". */
const char *dtf_hook_name(enum dtf_hook hook);
/* Parses a hook name; false if there is none by that name. */
bool dtf_hook_parse(const char *name, enum dtf_hook *out);
/* "notification" etc., or "unknown". */
const char *dtf_plugin_type_name(unsigned type);
bool dtf_plugin_type_parse(const char *name, unsigned *out);

#endif
