/* event.c: names of hooks and plugin types (as configuration and JSON spell them), and the
 * severity and one-line message a notification plugin gets for each event. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "plugin/internal.h"

static const char *const hook_names[DTF_HOOK__COUNT] = {
    [DTF_HOOK_COORDINATOR_STARTUP] = "coordinator_startup",
    [DTF_HOOK_COORDINATOR_SHUTDOWN] = "coordinator_shutdown",
    [DTF_HOOK_TASK_CREATED] = "task_created",
    [DTF_HOOK_TASK_ASSIGNED] = "task_assigned",
    [DTF_HOOK_TASK_STARTED] = "task_started",
    [DTF_HOOK_TASK_COMPLETED] = "task_completed",
    [DTF_HOOK_TASK_FAILED] = "task_failed",
    [DTF_HOOK_TASK_CANCELLED] = "task_cancelled",
    [DTF_HOOK_WORKER_REGISTERED] = "worker_registered",
    [DTF_HOOK_WORKER_DISCONNECTED] = "worker_disconnected",
    [DTF_HOOK_WORKER_FAILED] = "worker_failed",
    [DTF_HOOK_WORKER_RECOVERED] = "worker_recovered",
    [DTF_HOOK_RECOVERY_STARTED] = "recovery_started",
    [DTF_HOOK_RECOVERY_COMPLETED] = "recovery_completed",
    [DTF_HOOK_RECOVERY_FAILED] = "recovery_failed",
    [DTF_HOOK_CUSTOM] = "custom",
};

static const char *const type_names[DTF_PLUGIN_TYPE__COUNT] = {
    [DTF_PLUGIN_CUSTOM] = "custom",
    [DTF_PLUGIN_SCHEDULER] = "scheduler",
    [DTF_PLUGIN_TASK_PROCESSOR] = "task_processor",
    [DTF_PLUGIN_RESULTS_HANDLER] = "results_handler",
    [DTF_PLUGIN_RESOURCE_MANAGER] = "resource_manager",
    [DTF_PLUGIN_NOTIFICATION] = "notification",
    [DTF_PLUGIN_REPORTER] = "reporter",
};

const char *dtf_hook_name(enum dtf_hook hook)
{
	if ((int)hook < 0 || hook >= DTF_HOOK__COUNT)
		return "unknown";
	return hook_names[hook];
}

bool dtf_hook_parse(const char *name, enum dtf_hook *out)
{
	int i;

	for (i = 0; name && i < DTF_HOOK__COUNT; i++)
		if (strcmp(hook_names[i], name) == 0) {
			*out = (enum dtf_hook)i;
			return true;
		}
	return false;
}

const char *dtf_plugin_type_name(unsigned type)
{
	return type < DTF_PLUGIN_TYPE__COUNT ? type_names[type] : "unknown";
}

bool dtf_plugin_type_parse(const char *name, unsigned *out)
{
	unsigned i;

	if (!name)
		return false;
	/* The seed spells it result_handler; "notifier" is what people type. */
	if (strcmp(name, "result_handler") == 0)
		name = "results_handler";
	else if (strcmp(name, "notifier") == 0)
		name = "notification";
	for (i = 0; i < DTF_PLUGIN_TYPE__COUNT; i++)
		if (strcmp(type_names[i], name) == 0) {
			*out = i;
			return true;
		}
	return false;
}

const char *plugin_event_severity(int hook, const json_t *payload)
{
	switch (hook) {
	case DTF_HOOK_TASK_FAILED:
	case DTF_HOOK_WORKER_FAILED:
	case DTF_HOOK_RECOVERY_FAILED:
		return "error";
	case DTF_HOOK_TASK_CANCELLED:
	case DTF_HOOK_WORKER_DISCONNECTED:
	case DTF_HOOK_RECOVERY_STARTED:
		return "warning";
	case DTF_HOOK_CUSTOM:
		return strcmp(dtf_json_str(payload, "name", ""), "plugin_failed") == 0 ? "error"
										       : "info";
	default:
		return "info";
	}
}

char *plugin_event_message(int hook, const json_t *payload)
{
	const char *id = dtf_json_str(payload, "id", "?");
	const char *name = dtf_json_str(payload, "name", NULL);
	json_t *err = json_object_get(payload, "error");
	char *msg = NULL;
	int n = -1;

	switch (hook) {
	case DTF_HOOK_COORDINATOR_STARTUP:
		n = asprintf(&msg, "coordinator started%s%s",
			     json_is_string(json_object_get(payload, "url")) ? " at " : "",
			     dtf_json_str(payload, "url", ""));
		break;
	case DTF_HOOK_COORDINATOR_SHUTDOWN:
		n = asprintf(&msg, "coordinator shutting down");
		break;
	case DTF_HOOK_TASK_CREATED:
	case DTF_HOOK_TASK_ASSIGNED:
	case DTF_HOOK_TASK_STARTED:
	case DTF_HOOK_TASK_COMPLETED:
	case DTF_HOOK_TASK_FAILED:
	case DTF_HOOK_TASK_CANCELLED: {
		static const char *const verbs[] = {"created",	 "assigned", "started",
						    "completed", "failed",   "cancelled"};
		const char *verb = verbs[hook - DTF_HOOK_TASK_CREATED];
		const char *worker = dtf_json_str(payload, "worker_id", NULL);
		/* The reason belongs to the end of a task, not to its other steps. */
		const char *why = hook == DTF_HOOK_TASK_FAILED || hook == DTF_HOOK_TASK_CANCELLED
				      ? dtf_json_str(err, "message", NULL)
				      : NULL;
		n = asprintf(&msg, "task %s%s%s%s %s%s%s%s%s", id, name ? " '" : "",
			     name ? name : "", name ? "'" : "", verb,
			     hook == DTF_HOOK_TASK_ASSIGNED && worker ? " to " : "",
			     hook == DTF_HOOK_TASK_ASSIGNED && worker ? worker : "",
			     hook != DTF_HOOK_TASK_ASSIGNED && why ? ": " : "",
			     hook != DTF_HOOK_TASK_ASSIGNED && why ? why : "");
		break;
	}
	case DTF_HOOK_WORKER_REGISTERED:
	case DTF_HOOK_WORKER_DISCONNECTED:
	case DTF_HOOK_WORKER_FAILED:
	case DTF_HOOK_WORKER_RECOVERED: {
		static const char *const verbs[] = {"registered", "disconnected", "failed",
						    "recovered"};
		n = asprintf(&msg, "worker %s %s", id, verbs[hook - DTF_HOOK_WORKER_REGISTERED]);
		break;
	}
	case DTF_HOOK_RECOVERY_STARTED:
	case DTF_HOOK_RECOVERY_COMPLETED:
	case DTF_HOOK_RECOVERY_FAILED: {
		static const char *const verbs[] = {"started", "completed", "failed"};
		n = asprintf(
		    &msg, "recovery (level %lld, %s) %s%s%s", dtf_json_int(payload, "level", 0),
		    dtf_json_str(payload, "strategy", "?"), verbs[hook - DTF_HOOK_RECOVERY_STARTED],
		    dtf_json_str(payload, "task_id", NULL) ? " for task " : "",
		    dtf_json_str(payload, "task_id", ""));
		break;
	}
	case DTF_HOOK_CUSTOM: {
		json_t *data = json_object_get(payload, "data");
		if (strcmp(dtf_json_str(payload, "name", ""), "plugin_failed") == 0)
			n = asprintf(&msg, "plugin %s disabled: %s",
				     dtf_json_str(data, "plugin", "?"),
				     dtf_json_str(data, "reason", "?"));
		else
			n = asprintf(&msg, "event %s%s%s", dtf_json_str(payload, "name", "?"),
				     json_is_string(json_object_get(payload, "plugin")) ? " from "
											: "",
				     dtf_json_str(payload, "plugin", ""));
		break;
	}
	default:
		n = asprintf(&msg, "%s", dtf_hook_name(hook));
		break;
	}
	return n < 0 ? NULL : msg;
}
