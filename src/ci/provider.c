/* provider.c: the provider factory, CI detection order and helpers the providers share. */
#include "ci/provider.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/json.h"
#include "common/testcount.h"

/* Detection order: the specific CIs first; local never detects. */
static const struct ci_provider_ops *const providers[] = {
    &ci_provider_github,    &ci_provider_gitlab,
    &ci_provider_azure,	    &ci_provider_circleci,
    &ci_provider_travis,    &ci_provider_teamcity,
    &ci_provider_bitbucket, &ci_provider_jenkins,
    &ci_provider_local,	    NULL,
};

const struct ci_provider_ops *ci_provider_find(const char *name)
{
	int i;

	if (strcmp(name, "generic") == 0)
		name = "local";
	for (i = 0; providers[i]; i++)
		if (strcmp(providers[i]->name, name) == 0)
			return providers[i];
	return NULL;
}

const struct ci_provider_ops *ci_provider_detect(void)
{
	int i;

	for (i = 0; providers[i]; i++)
		if (providers[i]->detect && providers[i]->detect())
			return providers[i];
	return NULL;
}

const char *ci_provider_names(void)
{
	return "github, gitlab, jenkins, azure, circleci, travis, teamcity, bitbucket, local, "
	       "generic, auto";
}

struct ci_provider *ci_provider_new(const struct ci_provider_ops *ops, const struct ci_ctx *ctx)
{
	struct ci_provider *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->ops = ops;
	p->ctx = *ctx;
	p->out = stdout;
	p->state = json_object();
	if (!p->ctx.run_name[0])
		snprintf(p->ctx.run_name, sizeof(p->ctx.run_name), "dtf");
	return p;
}

void ci_provider_free(struct ci_provider *p)
{
	if (!p)
		return;
	if (p->ops->close)
		p->ops->close(p);
	if (p->http_ready)
		ci_http_release(&p->http);
	json_decref(p->state);
	memset(p->ctx.token, 0, sizeof(p->ctx.token));
	free(p);
}

void ci_env_default(char *dst, size_t len, const char *name)
{
	const char *v = getenv(name);

	if (!dst[0] && v && *v)
		snprintf(dst, len, "%s", v);
}

bool ci_env_is(const char *name, const char *want)
{
	const char *v = getenv(name);

	if (!v || !*v)
		return false;
	return !want || strcasecmp(v, want) == 0;
}

int ci_fail(struct ci_provider *p, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
	ci_mask(p->ctx.token, p->error, sizeof(p->error));
	return rc;
}

int ci_send(struct ci_provider *p, const char *method, const char *path, json_t *body, json_t **out,
	    const char *what)
{
	int rc = ci_http_json(&p->http, method, path, body, out);

	json_decref(body);
	if (rc)
		return ci_fail(p, rc, "%s: %s", what, p->http.error);
	return 0;
}

int ci_upsert_comment(struct ci_provider *p, const struct ci_comment_api *api, json_t *body)
{
	json_t *list = NULL, *comments;
	char path[1024], id[64];
	int rc;

	rc = ci_http_json(&p->http, "GET", api->list_path, NULL, &list);
	if (rc) {
		json_decref(list);
		json_decref(body);
		return ci_fail(p, rc, "%s: %s", api->listing, p->http.error);
	}
	comments = api->list_key ? json_object_get(list, api->list_key) : list;
	if (ci_find_marked(comments, api->body_path, "id", id, sizeof(id))) {
		snprintf(path, sizeof(path), "%s/%s", api->update_base, id);
		rc = ci_send(p, api->update_method, path, body, NULL, api->writing);
	} else {
		rc = ci_send(p, "POST", api->create_path, body, NULL, api->writing);
	}
	json_decref(list);
	return rc;
}

int ci_provider_http(struct ci_provider *p, const char *dflt)
{
	int rc;

	if (!p->ctx.api_url[0])
		snprintf(p->ctx.api_url, sizeof(p->ctx.api_url), "%s", dflt);
	if (p->ctx.token[0] && strlen(p->ctx.token) < 4)
		return ci_fail(p, DTF_EINVAL, "the %s token is too short", p->ops->name);
	rc = ci_http_init(&p->http, p->ctx.api_url, p->ctx.token);
	if (rc) {
		ci_http_release(&p->http);
		return ci_fail(p, rc, "bad API URL '%s'", p->ctx.api_url);
	}
	p->http_ready = true;
	/* The longest wait between tries, for pipelines that cannot wait long. */
	if (getenv("DTF_CI_MAX_RETRY_WAIT")) {
		double w = atof(getenv("DTF_CI_MAX_RETRY_WAIT"));
		if (w >= 0 && w <= 600)
			p->http.max_wait_s = w;
	}
	return 0;
}

char *ci_comment_body(const char *markdown)
{
	struct dtf_buf b;
	size_t n = strlen(markdown);

	dtf_buf_init(&b, (size_t)1 << 20);
	dtf_buf_printf(&b, "%s\n", CI_COMMENT_MARKER);
	if (n > CI_COMMENT_MAX) {
		/* Cut at a character boundary and say where the rest is. */
		n = CI_COMMENT_MAX;
		while (n > 0 && ((unsigned char)markdown[n] & 0xC0) == 0x80)
			n--;
		dtf_buf_add(&b, markdown, n);
		dtf_buf_adds(&b, "\n\n*The report is longer than a comment can be: see the full "
				 "report in the build's artifacts.*\n");
	} else {
		dtf_buf_add(&b, markdown, n);
	}
	return dtf_buf_detach(&b, NULL);
}

/* Follows a dotted path ("content.raw") to a string. */
static const char *str_at(const json_t *o, const char *path)
{
	char key[64];
	const char *dot;

	while ((dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		o = json_object_get(o, key);
		path = dot + 1;
	}
	return json_string_value(json_object_get(o, path));
}

bool ci_find_marked(const json_t *comments, const char *body_path, const char *id_key, char *out,
		    size_t len)
{
	size_t i;
	json_t *c;

	json_array_foreach(comments, i, c) {
		const char *b = str_at(c, body_path);
		json_t *id = json_object_get(c, id_key);
		if (!b || !strstr(b, CI_COMMENT_MARKER))
			continue;
		if (json_is_integer(id))
			snprintf(out, len, "%lld", (long long)json_integer_value(id));
		else if (json_is_string(id))
			snprintf(out, len, "%s", json_string_value(id));
		else
			continue;
		return true;
	}
	return false;
}

const char *ci_task_outcome(const json_t *task)
{
	const char *st = dtf_json_str(task, "status", "");
	const char *kind = dtf_json_str(json_object_get(task, "error"), "kind", "");

	if (strcmp(st, "completed") == 0)
		return "passed";
	if (strcmp(st, "failed") == 0)
		return "failed";
	if (strcmp(st, "cancelled") == 0)
		return strcmp(kind, "unschedulable") == 0 ? "skipped" : "cancelled";
	if (strcmp(st, "running") == 0 || strcmp(st, "assigned") == 0)
		return "running";
	return "pending";
}

void ci_task_message(const json_t *task, char *out, size_t len)
{
	const json_t *e = json_object_get(task, "error");
	const char *m = dtf_json_str(e, "message", NULL);

	if (!m || !*m)
		m = dtf_json_str(e, "kind", NULL);
	if (!m || !*m) {
		const json_t *r = json_object_get(task, "result");
		long long code = dtf_json_int(r, "exit_code", 0);
		snprintf(out, len, "exit code %lld", code);
		return;
	}
	snprintf(out, len, "%s", m);
}

const char *ci_summary_state(const json_t *summary)
{
	struct dtf_testcount c;

	/* The report's counts (common/testcount.h): anything failing, cancelled or unfinished
	 * fails the build; a run of no tests does not. */
	dtf_testcount_from_json(&c, summary);
	return strcmp(dtf_testcount_state(&c, false), "success") == 0 || c.total == 0 ? "success"
										      : "failure";
}

void ci_summary_line(const json_t *summary, char *out, size_t len)
{
	struct dtf_testcount c;

	dtf_testcount_from_json(&c, summary);
	dtf_testcount_line(&c, out, len);
}
