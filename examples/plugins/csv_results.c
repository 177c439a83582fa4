/* csv_results.c: the seed's CSV results handler as a dtf plugin. It writes one CSV row per task
 * that ends (completed, failed or cancelled) to output_file:
 *
 *     task_id,name,status,duration_s,exit_code
 *
 * Configuration (plugins.config.csv_results): output_file (default results.csv, relative to
 * the coordinator's directory), header (default true: written when the file is new or empty).
 * Build: see examples/plugins/CMakeLists.txt; it uses only include/dtf/plugin.h and jansson. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "dtf/plugin.h"

struct csv {
	dtf_plugin_ctx *ctx;
	const struct dtf_plugin_host *host;
	char *path;
	int header;
	FILE *f; /* opened at the first row, so that listing plugins creates no file */
	unsigned long rows;
};

static int csv_init(dtf_plugin_ctx *ctx, const struct dtf_plugin_host *host, void **state)
{
	struct csv *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	c->ctx = ctx;
	c->host = host;
	c->header = 1;
	*state = c;
	return 0;
}

static int csv_configure(void *state, const char *config_json, char *err, size_t errlen)
{
	struct csv *c = state;
	json_error_t je;
	json_t *cfg = json_loads(config_json, 0, &je), *v;
	int rc = 0;

	if (!json_is_object(cfg)) {
		snprintf(err, errlen, "the configuration is not a JSON object");
		rc = -1;
		goto out;
	}
	v = json_object_get(cfg, "output_file");
	if (v && (!json_is_string(v) || !*json_string_value(v))) {
		snprintf(err, errlen, "output_file must be a file name");
		rc = -1;
		goto out;
	}
	free(c->path);
	c->path = strdup(v ? json_string_value(v) : "results.csv");
	v = json_object_get(cfg, "header");
	if (v && !json_is_boolean(v)) {
		snprintf(err, errlen, "header must be true or false");
		rc = -1;
		goto out;
	}
	if (v)
		c->header = json_is_true(v);
out:
	json_decref(cfg);
	return rc;
}

static const char *csv_capabilities(void *state)
{
	(void)state;
	return "{\"formats\":[\"csv\"],\"supports_streaming\":true}";
}

/* Writes s as one CSV field (RFC 4180: quoted when it holds a comma, quote or line break). */
static void field(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static int csv_open(struct csv *c)
{
	struct stat st;
	int fresh = stat(c->path, &st) != 0 || st.st_size == 0;

	c->f = fopen(c->path, "a");
	if (!c->f) {
		c->host->log(c->ctx, DTF_PLUGIN_LOG_ERROR, "cannot open %s: %s", c->path,
			     strerror(errno));
		return -1;
	}
	if (fresh && c->header)
		fputs("task_id,name,status,duration_s,exit_code\n", c->f);
	return 0;
}

static int csv_handle_result(void *state, const char *task_id, const char *task_json)
{
	struct csv *c = state;
	json_error_t je;
	json_t *task = json_loads(task_json, 0, &je), *result, *v;
	char num[64];
	int rc = 0;

	if (!json_is_object(task)) {
		c->host->log(c->ctx, DTF_PLUGIN_LOG_ERROR, "task %s: bad JSON: %s", task_id,
			     je.text);
		json_decref(task);
		return -1;
	}
	if (!c->f && csv_open(c) != 0) {
		json_decref(task);
		return -1;
	}
	result = json_object_get(task, "result");
	field(c->f, task_id);
	fputc(',', c->f);
	v = json_object_get(task, "name");
	field(c->f, json_is_string(v) ? json_string_value(v) : "");
	fputc(',', c->f);
	v = json_object_get(task, "status");
	field(c->f, json_is_string(v) ? json_string_value(v) : "");
	fputc(',', c->f);
	v = json_object_get(result, "duration_s");
	if (json_is_number(v)) {
		snprintf(num, sizeof(num), "%.3f", json_number_value(v));
		fputs(num, c->f);
	}
	fputc(',', c->f);
	v = json_object_get(result, "exit_code");
	if (json_is_integer(v))
		fprintf(c->f, "%lld", (long long)json_integer_value(v));
	fputc('\n', c->f);
	/* One row per task, visible at once: flush each. */
	if (fflush(c->f) != 0) {
		c->host->log(c->ctx, DTF_PLUGIN_LOG_ERROR, "cannot write %s: %s", c->path,
			     strerror(errno));
		rc = -1;
	}
	c->rows++;
	json_decref(task);
	return rc;
}

static void csv_shutdown(void *state)
{
	struct csv *c = state;

	if (c->f) {
		c->host->log(c->ctx, DTF_PLUGIN_LOG_INFO, "wrote %lu rows to %s", c->rows, c->path);
		fclose(c->f);
	}
	free(c->path);
	free(c);
}

static const char *const csv_formats[] = {"csv", NULL};

static const struct dtf_results_handler_ops csv_ops = {
    .struct_size = sizeof(struct dtf_results_handler_ops),
    .formats = csv_formats,
    .handle_result = csv_handle_result,
};

static const struct dtf_plugin csv_plugin = {
    .abi_version = DTF_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(struct dtf_plugin),
    .name = "csv_results",
    .version = "1.0.0",
    .type = DTF_PLUGIN_RESULTS_HANDLER,
    .hooks = DTF_HOOK_MASK_TASK_FINAL,
    .init = csv_init,
    .configure = csv_configure,
    .capabilities = csv_capabilities,
    .shutdown = csv_shutdown,
    .results_handler = &csv_ops,
    .description = "writes one CSV row per finished task (task_id,name,status,duration_s,"
		   "exit_code)",
};

DTF_PLUGIN_EXPORT const struct dtf_plugin *dtf_plugin_entry(void)
{
	return &csv_plugin;
}
