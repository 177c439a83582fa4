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
#include "common/testcount.h"
#include "common/utf8.h"

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

/* What entry_update needs: the provider, and whether the task's own test was started while it
 * ran (its entry is then not started again). */
struct tc_entries {
	struct ci_provider *p;
	bool task_started;
	bool task_finished; /* the task's own entry came */
};

/* Reports one test entry of a finished task (common/testcount.h): the tests TeamCity counts are
 * the ones the reports count. */
static int entry_update(const struct dtf_test_entry *e, void *arg)
{
	struct tc_entries *a = arg;
	struct ci_provider *p = a->p;
	const json_t *r = json_object_get(e->task, "result");
	char name[1024], dur[32];
	const char *details = "";

	if (e->classname)
		snprintf(name, sizeof(name), "%s.%s", e->classname, e->name);
	else
		snprintf(name, sizeof(name), "%s%s", e->name,
			 e->kind == DTF_ENTRY_TASK_ERROR ? " (task)" : "");
	if (e->kind == DTF_ENTRY_TASK)
		a->task_finished = true;
	if (!(e->kind == DTF_ENTRY_TASK && a->task_started))
		msg(p, "testStarted", "name", name, "captureStandardOutput", "false", NULL);
	if (dtf_test_status_fails(e->status, false) || e->status == DTF_TEST_CANCELLED) {
		if (e->tc)
			details = dtf_json_str(e->tc, "details", dtf_json_str(e->tc, "stderr", ""));
		else if (e->kind != DTF_ENTRY_NOT_RUN)
			details = *dtf_json_str(r, "stderr", "") ? dtf_json_str(r, "stderr", "")
								 : dtf_json_str(r, "stdout", "");
		msg(p, "testFailed", "name", name, "message",
		    e->message ? e->message : dtf_test_status_name(e->status), "details", details,
		    NULL);
	} else if (e->status == DTF_TEST_SKIPPED || e->status == DTF_TEST_XFAILED) {
		msg(p, "testIgnored", "name", name, "message",
		    e->message ? e->message : dtf_test_status_name(e->status), NULL);
	}
	snprintf(dur, sizeof(dur), "%lld", (long long)(e->duration_s * 1000));
	msg(p, "testFinished", "name", name, "duration", dur, NULL);
	return 0;
}

/* Reports what changed for one task since the last update. A task that writes a JUnit report
 * is a suite of its test cases, started while it runs; any other task is one test, started while
 * it runs. Once it has finished, its test entries (common/testcount.h) are reported. */
static void task_update(struct ci_provider *p, const json_t *t)
{
	const char *id = dtf_json_str(t, "id", ""), *name = dtf_json_str(t, "name", id);
	const char *o = ci_task_outcome(t);
	const char *seen = json_string_value(json_object_get(p->state, id));
	bool suite = json_is_string(json_object_get(t, "junit"));
	struct tc_entries a = {p, false, false};

	if ((seen && strcmp(seen, "done") == 0) || strcmp(o, "pending") == 0)
		return;
	if (!seen) {
		if (suite)
			msg(p, "testSuiteStarted", "name", name, NULL);
		else
			msg(p, "testStarted", "name", name, "captureStandardOutput", "false", NULL);
		json_object_set_new(p->state, id, json_string("started"));
	}
	if (strcmp(o, "running") == 0)
		return;
	a.task_started = !suite;
	dtf_test_entries(t, entry_update, &a);
	if (a.task_started && !a.task_finished) /* its entries have names of their own */
		msg(p, "testFinished", "name", name, NULL);
	if (suite)
		msg(p, "testSuiteFinished", "name", name, NULL);
	json_object_set_new(p->state, id, json_string("done"));
}

static int tc_update(struct ci_provider *p, const json_t *u)
{
	const json_t *tasks = json_object_get(u, "tasks"), *t;
	const json_t *doc = json_object_get(u, "doc");
	size_t i;

	if (doc)
		tasks = json_object_get(doc, "tasks");
	json_array_foreach(tasks, i, t)
		task_update(p, t);
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
