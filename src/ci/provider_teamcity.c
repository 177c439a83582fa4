/* provider_teamcity.c: TeamCity, through service messages on stdout as the tests run:
 * testSuiteStarted/Finished around the run, testStarted when a task starts, then testFailed or
 * testIgnored and testFinished (with its duration) when it ends; buildStatisticValue for the
 * counts, publishArtifacts for artifacts and buildStatus for the outcome. Values are escaped
 * as TeamCity documents (| ' [ ] newline, carriage return and non-ASCII as |0xNNNN).
 * Environment: TEAMCITY_VERSION, BUILD_NUMBER. */
#include "ci/provider.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/utf8.h"

#include "common/banned.h"

static bool tc_detect(void)
{
	return ci_env_is("TEAMCITY_VERSION", NULL);
}

static int tc_init(struct ci_provider *p)
{
	ci_env_default(p->ctx.build_id, sizeof(p->ctx.build_id), "BUILD_NUMBER");
	return 0;
}

/* Appends s escaped for a service message value, at most max input bytes. */
static void tc_escape(struct dtf_buf *b, const char *s, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strlen(s), i = 0;

	while (i < len && i < max) {
		uint32_t cp;
		size_t n = dtf_utf8_decode(u + i, len - i, &cp);

		if (n == 0) { /* not UTF-8: one byte, shown as U+FFFD */
			n = 1;
			cp = 0xFFFD;
		}
		switch (cp) {
		case '|':
			dtf_buf_adds(b, "||");
			break;
		case '\'':
			dtf_buf_adds(b, "|'");
			break;
		case '\n':
			dtf_buf_adds(b, "|n");
			break;
		case '\r':
			dtf_buf_adds(b, "|r");
			break;
		case '[':
			dtf_buf_adds(b, "|[");
			break;
		case ']':
			dtf_buf_adds(b, "|]");
			break;
		default:
			if (cp < 0x20)
				dtf_buf_printf(b, "|0x%04X", cp);
			else if (cp < 0x80)
				dtf_buf_add(b, u + i, 1);
			else
				dtf_buf_printf(b, "|0x%04X", cp > 0xFFFF ? 0xFFFDu : cp);
		}
		i += n;
	}
}

/* Prints ##teamcity[name k='v' …]; args are key, value pairs ending with NULL. */
static void msg(struct ci_provider *p, const char *name, ...)
{
	struct dtf_buf b;
	va_list ap;
	const char *k, *v;

	dtf_buf_init(&b, 1 << 20);
	dtf_buf_printf(&b, "##teamcity[%s", name);
	va_start(ap, name);
	while ((k = va_arg(ap, const char *))) {
		v = va_arg(ap, const char *);
		dtf_buf_printf(&b, " %s='", k);
		tc_escape(&b, v ? v : "", 64 * 1024);
		dtf_buf_adds(&b, "'");
	}
	va_end(ap);
	dtf_buf_adds(&b, "]\n");
	fputs(dtf_buf_str(&b), p->out);
	fflush(p->out);
	dtf_buf_release(&b);
}

static int tc_create(struct ci_provider *p, const json_t *info)
{
	(void)info;
	msg(p, "testSuiteStarted", "name", p->ctx.run_name, NULL);
	return 0;
}

/* Reports what changed for one task since the last update. */
static void task_update(struct ci_provider *p, const json_t *t)
{
	const char *id = dtf_json_str(t, "id", ""), *name = dtf_json_str(t, "name", id);
	const char *o = ci_task_outcome(t);
	const char *seen = json_string_value(json_object_get(p->state, id));
	char dur[32], m[1024];

	if (seen && strcmp(seen, "done") == 0)
		return;
	if (strcmp(o, "pending") == 0)
		return;
	if (!seen) {
		msg(p, "testStarted", "name", name, "captureStandardOutput", "false", NULL);
		json_object_set_new(p->state, id, json_string("started"));
	}
	if (strcmp(o, "running") == 0)
		return;
	if (strcmp(o, "failed") == 0 || strcmp(o, "cancelled") == 0) {
		const json_t *r = json_object_get(t, "result");
		const char *err = dtf_json_str(r, "stderr", "");
		ci_task_message(t, m, sizeof(m));
		msg(p, "testFailed", "name", name, "message", m, "details",
		    *err ? err : dtf_json_str(r, "stdout", ""), NULL);
	} else if (strcmp(o, "skipped") == 0) {
		ci_task_message(t, m, sizeof(m));
		msg(p, "testIgnored", "name", name, "message", m, NULL);
	}
	snprintf(dur, sizeof(dur), "%lld",
		 (long long)(dtf_json_num(json_object_get(t, "result"), "duration_s", 0) * 1000));
	msg(p, "testFinished", "name", name, "duration", dur, NULL);
	json_object_set_new(p->state, id, json_string("done"));
}

static int tc_update(struct ci_provider *p, const json_t *u)
{
	const json_t *tasks = json_object_get(u, "tasks"), *t;
	const json_t *doc = json_object_get(u, "doc");
	size_t i;

	if (doc)
		tasks = json_object_get(doc, "tasks");
	json_array_foreach(tasks, i, t) task_update(p, t);
	if (strcmp(dtf_json_str(u, "status", ""), "completed") == 0) {
		const json_t *s = json_object_get(u, "summary");
		char v[32];
		msg(p, "testSuiteFinished", "name", p->ctx.run_name, NULL);
		snprintf(v, sizeof(v), "%lld", dtf_json_int(s, "total", 0));
		msg(p, "buildStatisticValue", "key", "dtf.tests.total", "value", v, NULL);
		snprintf(v, sizeof(v), "%lld", dtf_json_int(s, "passed", 0));
		msg(p, "buildStatisticValue", "key", "dtf.tests.passed", "value", v, NULL);
		snprintf(v, sizeof(v), "%lld", dtf_json_int(s, "failed", 0));
		msg(p, "buildStatisticValue", "key", "dtf.tests.failed", "value", v, NULL);
	}
	return 0;
}

static int tc_upload(struct ci_provider *p, const char *path, const char *name)
{
	struct dtf_buf b;

	(void)name;
	dtf_buf_init(&b, 1 << 16);
	dtf_buf_adds(&b, "##teamcity[publishArtifacts '");
	tc_escape(&b, path, 4096);
	dtf_buf_adds(&b, " => dtf-artifacts']\n");
	fputs(dtf_buf_str(&b), p->out);
	fflush(p->out);
	dtf_buf_release(&b);
	return 0;
}

static int tc_status(struct ci_provider *p, const char *state, const char *desc)
{
	char text[600];

	if (strcmp(state, "pending") == 0) {
		struct dtf_buf b;
		dtf_buf_init(&b, 1 << 16);
		dtf_buf_adds(&b, "##teamcity[progressMessage '");
		tc_escape(&b, desc, 4096);
		dtf_buf_adds(&b, "']\n");
		fputs(dtf_buf_str(&b), p->out);
		fflush(p->out);
		dtf_buf_release(&b);
		return 0;
	}
	snprintf(text, sizeof(text), "{build.status.text}; %s", desc);
	msg(p, "buildStatus", "status", strcmp(state, "success") == 0 ? "SUCCESS" : "FAILURE",
	    "text", text, NULL);
	return 0;
}

const struct ci_provider_ops ci_provider_teamcity = {
    .name = "teamcity",
    .detect = tc_detect,
    .initialize = tc_init,
    .create_test_run = tc_create,
    .update_test_run = tc_update,
    .upload_artifact = tc_upload,
    .set_build_status = tc_status,
    .wants_tasks = true,
};
