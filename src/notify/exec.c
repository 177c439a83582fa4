/* exec.c: a channel that is a program (type exec): any connector can be replaced, or a service
 * dtf has no connector for reached, by a program in any language, as an exec plugin would be. The
 * program gets one JSON document on stdin:
 *
 *   {"event", "severity", "key", "ref", "channel", "data": the template context,
 *    "text": the route's template rendered as plain text (only when the route has one)}
 *
 * and says what happened with its exit status: 0 sent; 75 (EX_TEMPFAIL) try again later; any
 * other status, or a signal, failed for good. What it prints on stdout is the answer: a JSON
 * object {"answer", "ref", "retry_after_s"} (each optional), or plain text whose first line is
 * the answer. Its stderr's last line is the error. A program that outlives timeout_s is stopped
 * and tried again later. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "notify/internal.h"
#include "plugin/proc.h"

#define EXEC_TEMPFAIL	75 /* sysexits.h's EX_TEMPFAIL: try again later */
#define EXEC_MAX_ARGS	64
#define EXEC_MAX_OUTPUT (64 * 1024)

struct exec_channel {
	char *argv[EXEC_MAX_ARGS + 1];
	char **envp; /* NULL: dtf's environment; else the environment plus env's pairs */
};

static void exec_close(struct notify_channel *ch)
{
	struct exec_channel *x = ch->priv;
	size_t i;

	if (!x)
		return;
	for (i = 0; x->argv[i]; i++)
		free(x->argv[i]);
	for (i = 0; x->envp && x->envp[i]; i++)
		free(x->envp[i]);
	free(x->envp);
	free(x);
	ch->priv = NULL;
}

extern char **environ;

/* dtf's environment with env's NAME: value pairs added (replacing the same names). */
static char **make_env(const json_t *env)
{
	size_t n = 0, i, k = 0;
	const char *name;
	json_t *v;
	char **out;

	while (environ[n])
		n++;
	out = calloc(n + json_object_size(env) + 1, sizeof(*out));
	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		if (eq && json_object_getn(env, environ[i], (size_t)(eq - environ[i])))
			continue;
		if (!(out[k++] = strdup(environ[i])))
			goto fail;
	}
	json_object_foreach((json_t *)env, name, v) {
		size_t len = strlen(name) + json_string_length(v) + 2;
		if (!(out[k] = malloc(len)))
			goto fail;
		snprintf(out[k++], len, "%s=%s", name, json_string_value(v));
	}
	return out;
fail:
	for (i = 0; i < k; i++)
		free(out[i]);
	free(out);
	return NULL;
}

static int exec_open(struct notify_channel *ch, const json_t *block, char *err, size_t errlen)
{
	static const char *const known[] = {"command", "env", NULL};
	const json_t *cmd = json_object_get(block, "command"), *env = json_object_get(block, "env");
	struct exec_channel *x;
	const char *name;
	json_t *v;
	size_t i;
	int rc;

	if ((rc = nt_cfg_known(ch, block, known, err, errlen)))
		return rc;
	if (!json_is_array(cmd) || json_array_size(cmd) == 0 ||
	    json_array_size(cmd) > EXEC_MAX_ARGS)
		return nt_cfg_err(
		    ch, "command", err, errlen,
		    "must be a list of 1 to %d strings: the program and its arguments",
		    EXEC_MAX_ARGS);
	json_array_foreach(cmd, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0)
			return nt_cfg_err(ch, "command", err, errlen, "item %zu is not a string",
					  i);
	}
	if (env && !json_is_object(env))
		return nt_cfg_err(ch, "env", err, errlen, "must be a mapping of NAME: value");
	json_object_foreach((json_t *)env, name, v) {
		if (!json_is_string(v) || !*name || strchr(name, '='))
			return nt_cfg_err(ch, "env", err, errlen,
					  "'%.40s' must be a NAME (no '=') with a string value",
					  name);
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return DTF_ENOMEM;
	ch->priv = x;
	json_array_foreach(cmd, i, v) {
		if (!(x->argv[i] = strdup(json_string_value(v))))
			return DTF_ENOMEM;
	}
	if (env && !(x->envp = make_env(env)))
		return DTF_ENOMEM;
	return 0;
}

/* The last non-empty line of s (len bytes) into out. */
static void last_line(const char *s, size_t len, char *out, size_t outlen)
{
	size_t end = len, start;

	while (end > 0 && (s[end - 1] == '\n' || s[end - 1] == '\r'))
		end--;
	start = end;
	while (start > 0 && s[start - 1] != '\n')
		start--;
	snprintf(out, outlen, "%.*s", (int)(end - start), s + start);
}

/* Reads the program's answer: a JSON object, or the first line of text. */
static void read_answer(const struct dtf_process_result *pr, struct notify_result *res)
{
	json_t *doc = pr->out_len ? json_loadb(pr->out, pr->out_len, 0, NULL) : NULL;
	size_t n;

	if (json_is_object(doc)) {
		snprintf(res->answer, sizeof(res->answer), "%s", dtf_json_str(doc, "answer", ""));
		snprintf(res->ref, sizeof(res->ref), "%s", dtf_json_str(doc, "ref", ""));
		if (json_is_number(json_object_get(doc, "retry_after_s")) &&
		    json_number_value(json_object_get(doc, "retry_after_s")) > 0)
			res->retry_after_ms =
			    (long)(json_number_value(json_object_get(doc, "retry_after_s")) * 1000);
	} else if (pr->out_len) {
		for (n = 0; n < pr->out_len && pr->out[n] != '\n'; n++)
			;
		snprintf(res->answer, sizeof(res->answer), "%.*s", (int)n, pr->out);
	}
	json_decref(doc);
}

static int exec_send(struct notify_channel *ch, const struct notify_message *m,
		     struct notify_result *res)
{
	struct exec_channel *x = ch->priv;
	struct plugin_proc_spec spec;
	struct dtf_process_result pr;
	char err[256], line[300], *input;
	int rc;

	rc = nt_message_input(ch, m, NULL, res, &input);
	if (rc)
		return rc;
	memset(&spec, 0, sizeof(spec));
	spec.argv = (const char *const *)x->argv;
	spec.envp = (const char *const *)x->envp;
	spec.input = input;
	spec.input_len = strlen(input);
	spec.timeout_s = ch->timeout_s;
	spec.output_cap = EXEC_MAX_OUTPUT;
	memset(&pr, 0, sizeof(pr));
	rc = plugin_proc_run(&spec, &pr, err, sizeof(err));
	free(input);
	if (rc) {
		/* Not started (no such program, no memory): the configuration or the machine, which
		 * may be mended; tried again. */
		res->retry = true;
		nt_fail(ch, res, NULL, "cannot start %s: %s", x->argv[0], err);
		plugin_proc_result_release(&pr);
		return DTF_ESPAWN;
	}
	read_answer(&pr, res);
	res->status = pr.exit_code;
	if (pr.timed_out) {
		res->retry = true;
		nt_fail(ch, res, NULL, "%s ran past its %.0f s timeout and was stopped", x->argv[0],
			ch->timeout_s);
		rc = DTF_ETIMEOUT;
	} else if (pr.exit_code != 0) {
		res->retry = pr.exit_code == EXEC_TEMPFAIL;
		last_line(pr.err ? pr.err : "", pr.err_len, line, sizeof(line));
		if (pr.signal)
			nt_fail(ch, res, NULL, "%s was killed by signal %d%s%s", x->argv[0],
				pr.signal, line[0] ? ": " : "", line);
		else
			nt_fail(ch, res, NULL, "%s exited with status %d%s%s%s", x->argv[0],
				pr.exit_code, res->retry ? " (try again later)" : "",
				line[0] ? ": " : "", line);
		rc = DTF_EPROTO;
	}
	plugin_proc_result_release(&pr);
	return rc;
}

const struct notify_ops notify_exec_ops = {
    .type = "exec",
    .open = exec_open,
    .send = exec_send,
    .close = exec_close,
    .rate = 600, /* a local program: ten a second unless a route says otherwise */
    .escape = DTF_TPL_TEXT,
};
