/* benchmark.c: a task processor that adds the `benchmark` task type of the seed:
 *
 *     {"type": "benchmark", "model": "bert-base-uncased", "batch_sizes": [1, 2, 4, 8]}
 *
 * For each batch size it runs the configured command (placeholders {model}, {batch_size},
 * {batch_sizes} and {work_dir} are replaced in each argument; DTF_BENCH_MODEL and
 * DTF_BENCH_BATCH_SIZE are set too) and takes the last line of its stdout that is a JSON object
 * as that run's metrics. The task's metrics are
 *
 *     {"model": "…", "batch_sizes": [1, 2], "by_batch_size": {"1": {…}, "2": {…}}}
 *
 * and it fails when a run exits non-zero or prints no metrics. The runs share the task's
 * timeout and stop when the task is cancelled.
 *
 * Configuration (plugins.config.benchmark): command (a list: program and arguments; required),
 * max_batch_sizes (default 64). The worker loads it with `dtf worker --config dtf.yaml`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dtf/plugin.h"

extern char **environ;

#define MAX_OUTPUT (64 * 1024) /* of stdout and stderr kept in the task's result */

struct bench {
	dtf_plugin_ctx *ctx;
	const struct dtf_plugin_host *host;
	json_t *command; /* array of strings */
	size_t max_sizes;
};

static int bench_init(dtf_plugin_ctx *ctx, const struct dtf_plugin_host *host, void **state)
{
	struct bench *b = calloc(1, sizeof(*b));

	if (!b)
		return -1;
	b->ctx = ctx;
	b->host = host;
	b->max_sizes = 64;
	*state = b;
	return 0;
}

static int bench_configure(void *state, const char *config_json, char *err, size_t errlen)
{
	struct bench *b = state;
	json_error_t je;
	json_t *cfg = json_loads(config_json, 0, &je), *cmd, *e;
	size_t i;
	int rc = -1;

	cmd = json_object_get(cfg, "command");
	if (!json_is_array(cmd) || json_array_size(cmd) == 0) {
		snprintf(err, errlen,
			 "command must be a list: the benchmark program and its "
			 "arguments");
		goto out;
	}
	json_array_foreach(cmd, i, e)
		if (!json_is_string(e)) {
			snprintf(err, errlen, "command[%zu] must be a string", i);
			goto out;
		}
	if (json_is_integer(json_object_get(cfg, "max_batch_sizes")))
		b->max_sizes = (size_t)json_integer_value(json_object_get(cfg, "max_batch_sizes"));
	json_decref(b->command);
	b->command = json_incref(cmd);
	rc = 0;
out:
	json_decref(cfg);
	return rc;
}

static const char *bench_capabilities(void *state)
{
	(void)state;
	return "{\"task_types\":[\"benchmark\"],\"params\":[\"model\",\"batch_sizes\"],"
	       "\"metrics\":\"last JSON line of the command's stdout\"}";
}

static void bench_shutdown(void *state)
{
	struct bench *b = state;

	json_decref(b->command);
	free(b);
}

/* arg with each {name} replaced. */
static char *substitute(const char *arg, const char *model, const char *batch, const char *all,
			const char *work_dir)
{
	const char *names[] = {"{model}", "{batch_size}", "{batch_sizes}", "{work_dir}"};
	const char *values[] = {model, batch, all, work_dir};
	size_t cap = strlen(arg) + 1, len = 0;
	char *out;

	for (int i = 0; i < 4; i++)
		cap += strlen(values[i]) * 8;
	out = malloc(cap);
	if (!out)
		return NULL;
	while (*arg) {
		int hit = -1;
		for (int i = 0; i < 4 && hit < 0; i++)
			if (strncmp(arg, names[i], strlen(names[i])) == 0)
				hit = i;
		if (hit >= 0 && len + strlen(values[hit]) + 1 < cap) {
			memcpy(out + len, values[hit], strlen(values[hit]));
			len += strlen(values[hit]);
			arg += strlen(names[hit]);
		} else {
			if (len + 2 >= cap)
				break;
			out[len++] = *arg++;
		}
	}
	out[len] = '\0';
	return out;
}

/* The last line of out that is a JSON object, or NULL. */
static json_t *last_json(const char *out)
{
	const char *end = out + strlen(out);

	while (end > out) {
		const char *e = end, *line;
		while (e > out && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' '))
			e--;
		line = e;
		while (line > out && line[-1] != '\n')
			line--;
		if (e > line && *line == '{') {
			json_t *m = json_loadb(line, (size_t)(e - line), 0, NULL);
			if (json_is_object(m))
				return m;
			json_decref(m);
		}
		end = line > out ? line - 1 : out;
	}
	return NULL;
}

static void append_capped(char **buf, size_t *len, const char *fmt, const char *a, const char *s)
{
	char *piece = NULL;
	int n = asprintf(&piece, fmt, a, s);
	char *nb;

	if (n <= 0 || *len + (size_t)n > MAX_OUTPUT) {
		free(piece);
		return;
	}
	nb = realloc(*buf, *len + (size_t)n + 1);
	if (nb) {
		memcpy(nb + *len, piece, (size_t)n + 1);
		*buf = nb;
		*len += (size_t)n;
	}
	free(piece);
}

static int bench_run(void *state, dtf_task_run *run, const char *task_json, char **result_json)
{
	struct bench *b = state;
	json_t *task = json_loads(task_json, 0, NULL), *params, *sizes, *by = json_object(), *res;
	json_t *list = json_array(), *e;
	const char *model, *work_dir;
	char all[1024] = "", message[512] = "", *out = NULL, *errs = NULL;
	size_t nargs = json_array_size(b->command), i, olen = 0, elen = 0;
	double total = 0;
	int failed = 0, last_exit = 0;

	params = json_object_get(task, "params");
	model = json_string_value(json_object_get(params, "model"));
	if (!model)
		model = json_string_value(json_object_get(task, "model"));
	sizes = json_object_get(params, "batch_sizes");
	if (!sizes)
		sizes = json_object_get(task, "batch_sizes");
	work_dir = json_string_value(json_object_get(task, "work_dir"));
	if (!work_dir)
		work_dir = ".";
	if (!model || (sizes && (!json_is_array(sizes) || json_array_size(sizes) == 0 ||
				 json_array_size(sizes) > b->max_sizes))) {
		snprintf(message, sizeof(message),
			 "a benchmark task needs 'model' (a string) and 'batch_sizes' (a list of 1 "
			 "to %zu positive integers)",
			 b->max_sizes);
		failed = 1;
		goto done;
	}
	if (!sizes)
		json_array_append_new(list, json_integer(1));
	json_array_foreach(sizes, i, e) {
		if (!json_is_integer(e) || json_integer_value(e) < 1) {
			snprintf(message, sizeof(message),
				 "batch_sizes[%zu] is not a positive integer", i);
			failed = 1;
			goto done;
		}
		json_array_append(list, e);
	}
	json_array_foreach(list, i, e) {
		size_t len = strlen(all);
		snprintf(all + len, sizeof(all) - len, "%s%lld", i ? "," : "",
			 (long long)json_integer_value(e));
	}
	json_array_foreach(list, i, e) {
		char batch[32], **argv, **envp;
		struct dtf_process_result pr = {.struct_size = sizeof(pr)};
		size_t n = 0, k;
		json_t *metrics;
		int rc;

		snprintf(batch, sizeof(batch), "%lld", (long long)json_integer_value(e));
		if (b->host->task_cancelled(run)) {
			snprintf(message, sizeof(message), "stopped before batch size %s", batch);
			failed = 1;
			break;
		}
		argv = calloc(nargs + 1, sizeof(*argv));
		for (k = 0; argv && k < nargs; k++)
			argv[k] = substitute(json_string_value(json_array_get(b->command, k)),
					     model, batch, all, work_dir);
		while (environ[n])
			n++;
		envp = calloc(n + 3, sizeof(*envp));
		for (k = 0; envp && k < n; k++)
			envp[k] = strdup(environ[k]);
		if (envp) {
			if (asprintf(&envp[n], "DTF_BENCH_MODEL=%s", model) < 0)
				envp[n] = NULL;
			else if (asprintf(&envp[n + 1], "DTF_BENCH_BATCH_SIZE=%s", batch) < 0)
				envp[n + 1] = NULL;
		}
		rc = argv && envp ? b->host->run_process(b->ctx, run, (const char *const *)argv,
							 (const char *const *)envp, work_dir, NULL,
							 0, 1 << 20, &pr)
				  : -1;
		for (k = 0; argv && k < nargs; k++)
			free(argv[k]);
		free(argv);
		for (k = 0; envp && envp[k]; k++)
			free(envp[k]);
		free(envp);
		total += pr.duration_s;
		append_capped(&out, &olen, "== batch size %s ==\n%s", batch, pr.out ? pr.out : "");
		append_capped(&errs, &elen, "== batch size %s ==\n%s", batch, pr.err ? pr.err : "");
		metrics = rc == 0 && pr.out ? last_json(pr.out) : NULL;
		if (metrics)
			json_object_set_new(by, batch, metrics);
		last_exit = pr.exit_code;
		if (rc != 0)
			snprintf(message, sizeof(message), "batch size %s: cannot run %s", batch,
				 json_string_value(json_array_get(b->command, 0)));
		else if (pr.timed_out || b->host->task_cancelled(run))
			snprintf(message, sizeof(message),
				 "batch size %s: stopped (timeout or "
				 "cancelled)",
				 batch);
		else if (pr.exit_code != 0)
			snprintf(message, sizeof(message), "batch size %s: exit code %d%s", batch,
				 pr.exit_code, pr.signal ? " (signal)" : "");
		else if (!metrics)
			snprintf(
			    message, sizeof(message),
			    "batch size %s: the command printed no metrics (a JSON object on a "
			    "line of its own)",
			    batch);
		b->host->free(pr.out);
		b->host->free(pr.err);
		if (message[0]) {
			failed = 1;
			break;
		}
	}
done:
	res = json_pack("{s:s,s:i,s:f,s:s,s:s,s:{s:s,s:O,s:O}}", "outcome",
			failed ? "failed" : "passed", "exit_code", last_exit, "duration_s", total,
			"stdout", out ? out : "", "stderr", errs ? errs : "", "metrics", "model",
			model ? model : "", "batch_sizes", list, "by_batch_size", by);
	if (res && failed)
		json_object_set_new(
		    res, "error", json_pack("{s:s,s:s}", "kind", "benchmark", "message", message));
	*result_json = res ? json_dumps(res, JSON_COMPACT) : NULL;
	json_decref(res);
	json_decref(by);
	json_decref(list);
	json_decref(task);
	free(out);
	free(errs);
	return *result_json ? 0 : -1;
}

static const char *const bench_types[] = {"benchmark", NULL};

static const struct dtf_task_processor_ops bench_ops = {
    .struct_size = sizeof(struct dtf_task_processor_ops),
    .task_types = bench_types,
    .run = bench_run,
};

static const struct dtf_plugin bench_plugin = {
    .abi_version = DTF_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(struct dtf_plugin),
    .name = "benchmark",
    .version = "1.0.0",
    .type = DTF_PLUGIN_TASK_PROCESSOR,
    .hooks = 0,
    .init = bench_init,
    .configure = bench_configure,
    .capabilities = bench_capabilities,
    .shutdown = bench_shutdown,
    .task_processor = &bench_ops,
    .description = "the benchmark task type: runs a command per batch size and collects "
		   "its metrics",
};

DTF_PLUGIN_EXPORT const struct dtf_plugin *dtf_plugin_entry(void)
{
	return &bench_plugin;
}
