/* builtin.c: the plugins compiled into dtf, registered by name in one table. plugins.enabled
 * names them like any other plugin. "exec" is not a plugin but the kind behind every plugin
 * whose config block has an `exec` program (exec.c); it is listed so that `dtf plugins list`
 * shows it. New built-ins add a row here. */
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "plugin/internal.h"

/* ---- log: a notification plugin that writes every event to dtf's log ---- */

struct log_plugin {
	dtf_plugin_ctx *ctx;
	const struct dtf_plugin_host *host;
	int level; /* the level of "info" events; warnings and errors keep theirs */
};

static int log_init(dtf_plugin_ctx *ctx, const struct dtf_plugin_host *host, void **state)
{
	struct log_plugin *lp = calloc(1, sizeof(*lp));

	if (!lp)
		return -1;
	lp->ctx = ctx;
	lp->host = host;
	lp->level = DTF_PLUGIN_LOG_INFO;
	*state = lp;
	return 0;
}

static int log_configure(void *state, const char *config_json, char *err, size_t errlen)
{
	struct log_plugin *lp = state;
	char perr[128];
	json_t *cfg = dtf_json_parse(config_json, strlen(config_json), perr, sizeof(perr));
	const char *level = dtf_json_str(cfg, "level", "info");
	int rc = 0;

	if (strcmp(level, "debug") == 0)
		lp->level = DTF_PLUGIN_LOG_DEBUG;
	else if (strcmp(level, "info") == 0)
		lp->level = DTF_PLUGIN_LOG_INFO;
	else if (strcmp(level, "warn") == 0 || strcmp(level, "warning") == 0)
		lp->level = DTF_PLUGIN_LOG_WARN;
	else {
		snprintf(err, errlen, "level must be debug, info or warn, not '%s'", level);
		rc = -1;
	}
	json_decref(cfg);
	return rc;
}

static const char *log_capabilities(void *state)
{
	(void)state;
	return "{\"channels\":[\"log\"],\"severities\":[\"info\",\"warning\",\"error\"]}";
}

static void log_shutdown(void *state)
{
	free(state);
}

static int log_notify(void *state, const char *severity, const char *message,
		      const char *event_json)
{
	struct log_plugin *lp = state;
	int level = lp->level;

	(void)event_json;
	if (strcmp(severity, "error") == 0)
		level = DTF_PLUGIN_LOG_ERROR;
	else if (strcmp(severity, "warning") == 0 && level < DTF_PLUGIN_LOG_WARN)
		level = DTF_PLUGIN_LOG_WARN;
	lp->host->log(lp->ctx, level, "%s", message);
	return 0;
}

static const struct dtf_notifier_ops log_notifier = {
    .struct_size = sizeof(struct dtf_notifier_ops),
    .notify = log_notify,
};

static const struct dtf_plugin log_plugin = {
    .abi_version = DTF_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(struct dtf_plugin),
    .name = "log",
    .version = "1.0.0",
    .type = DTF_PLUGIN_NOTIFICATION,
    .hooks = 0,
    .init = log_init,
    .configure = log_configure,
    .capabilities = log_capabilities,
    .shutdown = log_shutdown,
    .notifier = &log_notifier,
    .description = "writes every event to dtf's log (level: debug, info, warn)",
};

static const struct dtf_plugin *log_entry(void)
{
	return &log_plugin;
}

/* ---- the table ---- */

const struct plugin_builtin plugin_builtins[] = {
    {"log", log_entry, "notification: writes every event to dtf's log"},
    {"exec", NULL,
     "the exec kind: a program fed one JSON event per line, or run per task "
     "(plugins.config.<name>.exec)"},
    {NULL, NULL, NULL},
};

const struct plugin_builtin *plugin_builtin_find(const char *name)
{
	const struct plugin_builtin *b;

	for (b = plugin_builtins; b->name; b++)
		if (strcmp(b->name, name) == 0)
			return b;
	return NULL;
}
