/* jira.c: JIRA issues for failing tests. A failing test (event task_failed) gets one open issue,
 * found again by a fingerprint label (dtf-<hash of project and test name>): commented when it is
 * open, else created as a Bug with the error and the run's link. A test that passes again (event
 * test_passed) gets a comment on its open issue, which then moves to the configured done status.
 * flavor cloud: REST v3 (POST /rest/api/3/search/jql, descriptions in ADF, basic auth with the
 * account's email and an API token); flavor datacenter: REST v2 (/rest/api/2/search, plain-text
 * descriptions, a personal access token as bearer). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/json.h"
#include "notify/internal.h"

struct jira {
	char token[NOTIFY_MAX_SECRET];
	char basic[NOTIFY_MAX_SECRET + 256]; /* email:token (cloud) */
	char base[512];
	bool cloud;
	const char *project, *issue_type, *done_status, *email;
	json_t *labels; /* extra labels (strings) */
	double max_issues;
	json_t *block;
};

static const char *const failing[] = {"failed", "error", "timeout", "crashed", NULL};

static bool is_failing(const char *status)
{
	const char *const *p;

	for (p = failing; status && *p; p++)
		if (!strcmp(*p, status))
			return true;
	return false;
}

void notify_jira_fingerprint(const char *project, const char *test, char *out, size_t outlen)
{
	unsigned long long h = 1469598103934665603ULL;
	const char *parts[2] = {project ? project : "", test ? test : ""};
	int i;

	for (i = 0; i < 2; i++) {
		const char *s;
		for (s = parts[i]; *s; s++) {
			h ^= (unsigned char)*s;
			h *= 1099511628211ULL;
		}
		/* A separator, so that ("ab", "c") and ("a", "bc") differ. */
		h ^= 0xff;
		h *= 1099511628211ULL;
	}
	snprintf(out, outlen, "dtf-%016llx", h);
}

static json_t *adf_text(const char *s, const char *mark, const char *href)
{
	json_t *t = json_pack("{s:s, s:s}", "type", "text", "text", s && *s ? s : " ");

	if (mark && href)
		json_object_set_new(
		    t, "marks", json_pack("[{s:s, s:{s:s}}]", "type", mark, "attrs", "href", href));
	else if (mark)
		json_object_set_new(t, "marks", json_pack("[{s:s}]", "type", mark));
	return t;
}

/* The description of a test's issue (or of a comment on it): ADF for Cloud, text for DC. */
static json_t *describe(const struct jira *j, const json_t *data, const json_t *test,
			const char *what)
{
	const char *name = json_string_value(json_object_get(test, "name"));
	const char *err = json_string_value(json_object_get(test, "error"));
	const char *url = nt_gets(data, "run.url", nt_gets(data, "url", NULL));
	const char *run = nt_gets(data, "run.name", nt_gets(data, "run.id", "?"));
	const char *worker = json_string_value(json_object_get(test, "worker"));
	struct dtf_buf b;
	json_t *doc, *content, *para;

	if (!j->cloud) {
		json_t *s;
		dtf_buf_init(&b, 64 * 1024);
		dtf_buf_printf(&b, "Test %s %s in run %s", name ? name : "?", what, run);
		if (url)
			dtf_buf_printf(&b, " (%s)", url);
		dtf_buf_adds(&b, ".\n");
		if (worker)
			dtf_buf_printf(&b, "Worker: %s\n", worker);
		if (err && *err) {
			dtf_buf_adds(&b, "\n{noformat}\n");
			nt_clip(&b, err, 16000);
			dtf_buf_adds(&b, "\n{noformat}\n");
		}
		s = json_string(dtf_buf_str(&b));
		dtf_buf_release(&b);
		return s;
	}
	para = json_pack("[o, o, o, o, o]", adf_text("Test ", NULL, NULL),
			 adf_text(name, "code", NULL), adf_text(" ", NULL, NULL),
			 adf_text(what, NULL, NULL), adf_text(" in run ", NULL, NULL));
	json_array_append_new(para, adf_text(run, url ? "link" : NULL, url));
	json_array_append_new(para, adf_text(".", NULL, NULL));
	content = json_pack("[{s:s, s:o}]", "type", "paragraph", "content", para);
	if (worker) {
		dtf_buf_init(&b, 512);
		dtf_buf_printf(&b, "Worker: %s", worker);
		json_array_append_new(content,
				      json_pack("{s:s, s:[o]}", "type", "paragraph", "content",
						adf_text(dtf_buf_str(&b), NULL, NULL)));
		dtf_buf_release(&b);
	}
	if (err && *err) {
		dtf_buf_init(&b, 20000);
		nt_clip(&b, err, 16000);
		json_array_append_new(content,
				      json_pack("{s:s, s:{}, s:[o]}", "type", "codeBlock", "attrs",
						"content", adf_text(dtf_buf_str(&b), NULL, NULL)));
		dtf_buf_release(&b);
	}
	doc = json_pack("{s:s, s:i, s:o}", "type", "doc", "version", 1, "content", content);
	return doc;
}

/* The route's template, when there is one, replaces the description: rendered with the test
 * as "test" in the context; for Cloud it must render an ADF document (JSON). */
static int describe_tpl(const struct jira *j, const struct notify_message *m, const json_t *test,
			json_t **out, char *err, size_t errlen)
{
	json_t *ctx = json_deep_copy(m->data);
	struct dtf_buf b;
	int rc;

	*out = NULL;
	if (!ctx)
		return DTF_ENOMEM;
	json_object_set(ctx, "test", (json_t *)test);
	rc = nt_render(m->tpl, NULL, ctx, j->cloud ? DTF_TPL_JSON : DTF_TPL_TEXT, 256 * 1024, &b,
		       err, errlen);
	json_decref(ctx);
	if (!rc) {
		*out = j->cloud ? json_loadb(b.data ? b.data : "", b.len, 0, NULL)
				: json_string(dtf_buf_str(&b));
		if (j->cloud && !json_is_object(*out)) {
			json_decref(*out);
			*out = NULL;
			snprintf(err, errlen, "the template did not render an ADF document (JSON)");
			rc = DTF_EPARSE;
		}
	}
	dtf_buf_release(&b);
	return rc;
}

static const char *api(const struct jira *j)
{
	return j->cloud ? "/rest/api/3" : "/rest/api/2";
}

/* The key of the open issue labelled fp, or "" (0), else an error in res. */
static int find_issue(struct notify_channel *ch, struct ci_http *h, const char *fp, char *key,
		      size_t keylen, struct notify_result *res)
{
	struct jira *j = ch->priv;
	char path[128], jql[512];
	json_t *body, *ans = NULL;
	const char *k;
	int rc;

	key[0] = '\0';
	snprintf(jql, sizeof(jql),
		 "project = \"%s\" AND labels = \"%s\" AND statusCategory != Done ORDER BY created "
		 "DESC",
		 j->project, fp);
	/* Cloud retired POST /rest/api/3/search (410 Gone): the enhanced search replaces it. */
	snprintf(path, sizeof(path), "%s/%s", api(j), j->cloud ? "search/jql" : "search");
	body = json_pack("{s:s, s:[s, s], s:i}", "jql", jql, "fields", "key", "status",
			 "maxResults", 1);
	rc = nt_http_json(ch, h, j->cloud ? "search/jql" : "search", "POST", path, body, &ans, res);
	json_decref(body);
	if (rc)
		return rc;
	k = json_string_value(
	    json_object_get(json_array_get(json_object_get(ans, "issues"), 0), "key"));
	if (k)
		snprintf(key, keylen, "%s", k);
	json_decref(ans);
	return 0;
}

static int comment(struct notify_channel *ch, struct ci_http *h, const char *key, json_t *body,
		   struct notify_result *res)
{
	struct jira *j = ch->priv;
	char path[256];
	json_t *req = json_pack("{s:o}", "body", body);
	int rc;

	snprintf(path, sizeof(path), "%s/issue/%s/comment", api(j), key);
	rc = nt_http_json(ch, h, "comment", "POST", path, req, NULL, res);
	json_decref(req);
	return rc;
}

static int create(struct notify_channel *ch, struct ci_http *h, const json_t *test, const char *fp,
		  json_t *desc, char *key, size_t keylen, struct notify_result *res)
{
	struct jira *j = ch->priv;
	char path[128];
	struct dtf_buf summary;
	json_t *labels = json_deep_copy(j->labels), *req, *ans = NULL;
	const char *name = json_string_value(json_object_get(test, "name"));
	int rc;

	dtf_buf_init(&summary, 512);
	dtf_buf_adds(&summary, "[dtf] ");
	nt_clip(&summary, name ? name : "a test", 200);
	dtf_buf_adds(&summary, " fails");
	json_array_append_new(labels, json_string(fp));
	req = json_pack("{s:{s:{s:s}, s:{s:s}, s:s, s:o, s:o}}", "fields", "project", "key",
			j->project, "issuetype", "name", j->issue_type, "summary",
			dtf_buf_str(&summary), "description", desc, "labels", labels);
	dtf_buf_release(&summary);
	snprintf(path, sizeof(path), "%s/issue", api(j));
	rc = nt_http_json(ch, h, "create issue", "POST", path, req, &ans, res);
	json_decref(req);
	if (!rc)
		snprintf(key, keylen, "%s", nt_gets(ans, "key", "?"));
	json_decref(ans);
	return rc;
}

static int transition(struct notify_channel *ch, struct ci_http *h, const char *key,
		      struct notify_result *res)
{
	struct jira *j = ch->priv;
	char path[256];
	json_t *ans = NULL, *t, *req;
	const char *id = NULL;
	size_t i;
	int rc;

	snprintf(path, sizeof(path), "%s/issue/%s/transitions", api(j), key);
	rc = nt_http_json(ch, h, "transitions", "GET", path, NULL, &ans, res);
	if (rc)
		return rc;
	json_array_foreach(json_object_get(ans, "transitions"), i, t) {
		if (!strcasecmp(nt_gets(t, "name", ""), j->done_status) ||
		    !strcasecmp(nt_gets(t, "to.name", ""), j->done_status)) {
			id = json_string_value(json_object_get(t, "id"));
			break;
		}
	}
	if (!id) {
		nt_fail(ch, res, NULL, "%s has no transition named \"%s\" (done_status)", key,
			j->done_status);
		json_decref(ans);
		return DTF_ENOTFOUND;
	}
	req = json_pack("{s:{s:s}}", "transition", "id", id);
	rc = nt_http_json(ch, h, "transition", "POST", path, req, NULL, res);
	json_decref(req);
	json_decref(ans);
	return rc;
}

static int jira_send(struct notify_channel *ch, const struct notify_message *m,
		     struct notify_result *res)
{
	struct jira *j = ch->priv;
	bool passed = !strcmp(m->event, "test_passed");
	const char *project = nt_gets(m->data, "project", j->project);
	struct dtf_buf done;
	struct ci_http h;
	char line[NOTIFY_MAX_SECRET + 64];
	json_t *test;
	size_t i, n = 0;
	int rc;

	if (strcmp(m->event, "task_failed") && !passed) {
		snprintf(res->answer, sizeof(res->answer),
			 "nothing to do for %s (JIRA takes task_failed and test_passed)", m->event);
		return 0;
	}
	dtf_buf_init(&done, sizeof(res->answer) - 1);
	rc = nt_http_init(ch, &h, j->base, j->token);
	if (!rc && j->cloud) {
		snprintf(h.basic, sizeof(h.basic), "%s", j->basic);
	} else if (!rc) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", j->token);
		rc = ci_http_header(&h, line);
		memset(line, 0, sizeof(line));
	}
	if (!rc)
		rc = ci_http_header(&h, "Accept: application/json");
	if (rc) {
		nt_fail(ch, res, NULL, "cannot set up the HTTP client for %s", j->base);
		goto out;
	}
	json_array_foreach(json_object_get(m->data, "tests"), i, test) {
		const char *name = json_string_value(json_object_get(test, "name"));
		const char *status = json_string_value(json_object_get(test, "status"));
		char fp[32], key[64];
		json_t *desc = NULL;
		if (!name || (passed ? !status || strcmp(status, "passed") : !is_failing(status)))
			continue;
		if (n++ >= (size_t)j->max_issues)
			break;
		notify_jira_fingerprint(project, name, fp, sizeof(fp));
		if ((rc = find_issue(ch, &h, fp, key, sizeof(key), res)))
			goto out;
		if (passed && !key[0]) {
			dtf_buf_printf(&done, "%sno open issue for %s", done.len ? "; " : "", fp);
			continue;
		}
		if (m->tpl) {
			char err[300];
			if ((rc = describe_tpl(j, m, test, &desc, err, sizeof(err)))) {
				nt_fail(ch, res, NULL, "%s", err);
				goto out;
			}
		} else {
			desc = describe(j, m->data, test,
					passed	 ? "passes again"
					: key[0] ? "failed again"
						 : "fails");
		}
		if (key[0]) {
			rc = comment(ch, &h, key, desc, res);
			if (!rc && passed)
				rc = transition(ch, &h, key, res);
			if (rc)
				goto out;
			dtf_buf_printf(&done, "%s%s %s", done.len ? "; " : "",
				       passed ? "commented and closed" : "commented", key);
		} else {
			if ((rc = create(ch, &h, test, fp, desc, key, sizeof(key), res)))
				goto out;
			dtf_buf_printf(&done, "%screated %s", done.len ? "; " : "", key);
		}
	}
	if (!done.len)
		dtf_buf_adds(&done, "no test to report");
	snprintf(res->answer, sizeof(res->answer), "%s", dtf_buf_str(&done));
out:
	dtf_buf_release(&done);
	ci_http_release(&h);
	return rc;
}

static int jira_open(struct notify_channel *ch, const json_t *block, char *err, size_t errlen)
{
	static const char *const known[] = {"flavor",	  "base_url",	"email",      "token_env",
					    "token_file", "project",	"issue_type", "done_status",
					    "labels",	  "max_issues", NULL};
	struct jira *j = calloc(1, sizeof(*j));
	const char *flavor, *base;
	const json_t *labels;
	json_t *v;
	size_t i;
	int rc;

	if (!j)
		return DTF_ENOMEM;
	ch->priv = j;
	j->block = json_incref((json_t *)block);
	j->labels = json_array();
	if ((rc = nt_cfg_known(ch, block, known, err, errlen)) ||
	    (rc = nt_cfg_str(ch, block, "flavor", false, "cloud", &flavor, err, errlen)) ||
	    (rc = nt_cfg_str(ch, block, "base_url", true, NULL, &base, err, errlen)) ||
	    (rc = nt_cfg_secret(ch, block, "token", true, j->token, sizeof(j->token), err,
				errlen)) ||
	    (rc = nt_cfg_str(ch, block, "project", true, NULL, &j->project, err, errlen)) ||
	    (rc = nt_cfg_str(ch, block, "issue_type", false, "Bug", &j->issue_type, err, errlen)) ||
	    (rc = nt_cfg_str(ch, block, "done_status", false, "Done", &j->done_status, err,
			     errlen)) ||
	    (rc = nt_cfg_num(ch, block, "max_issues", 10, 1, 100, &j->max_issues, err, errlen)))
		return rc;
	if (!strcmp(flavor, "cloud"))
		j->cloud = true;
	else if (strcmp(flavor, "datacenter"))
		return nt_cfg_err(ch, "flavor", err, errlen, "must be cloud or datacenter");
	if (j->cloud && (rc = nt_cfg_str(ch, block, "email", true, NULL, &j->email, err, errlen)))
		return nt_cfg_err(
		    ch, "email", err, errlen,
		    "missing: JIRA Cloud takes the account's email with its API token");
	if (strncmp(base, "https://", 8) && strncmp(base, "http://", 7))
		return nt_cfg_err(ch, "base_url", err, errlen, "must be an http(s):// URL");
	if (strpbrk(j->project, "\"\\") || strpbrk(j->issue_type, "\"\\"))
		return nt_cfg_err(ch, "project", err, errlen, "must not contain quotes");
	snprintf(j->base, sizeof(j->base), "%s", base);
	if (j->cloud)
		snprintf(j->basic, sizeof(j->basic), "%s:%s", j->email, j->token);
	labels = json_object_get(block, "labels");
	if (json_is_string(labels))
		json_array_append(j->labels, (json_t *)labels);
	else if (json_is_array(labels))
		json_array_foreach(labels, i, v) {
			if (!json_is_string(v) || strchr(json_string_value(v), ' '))
				return nt_cfg_err(ch, "labels", err, errlen,
						  "must be labels without spaces");
			json_array_append(j->labels, v);
		}
	else if (labels)
		return nt_cfg_err(ch, "labels", err, errlen, "must be a list of labels");
	return 0;
}

static void jira_close(struct notify_channel *ch)
{
	struct jira *j = ch->priv;

	json_decref(j->block);
	json_decref(j->labels);
	memset(j->token, 0, sizeof(j->token));
	memset(j->basic, 0, sizeof(j->basic));
	free(j);
	ch->priv = NULL;
}

static int jira_escape(const struct notify_channel *ch)
{
	const struct jira *j = ch->priv;

	return j && !j->cloud ? DTF_TPL_TEXT : DTF_TPL_JSON;
}

const struct notify_ops notify_jira_ops = {
    .type = "jira",
    .open = jira_open,
    .send = jira_send,
    .close = jira_close,
    .rate = 60,
    .escape = DTF_TPL_JSON,
    .escape_of = jira_escape,
};
