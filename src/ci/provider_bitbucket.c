/* provider_bitbucket.c: Bitbucket Pipelines. The commit build status
 * (POST /repositories/{workspace}/{slug}/commit/{sha}/statuses/build, key "dtf"), a Code
 * Insights test report (PUT …/commit/{sha}/reports/{id}, then POST …/reports/{id}/annotations
 * for failures) and the pull-request comment (GET …/pullrequests/{id}/comments; our earlier one
 * is PUT at …/comments/{comment_id}, else a new one POSTed). Auth: BITBUCKET_TOKEN (Bearer) or
 * BITBUCKET_USERNAME + BITBUCKET_APP_PASSWORD (basic). Environment: BITBUCKET_BUILD_NUMBER,
 * BITBUCKET_REPO_FULL_NAME, BITBUCKET_COMMIT, BITBUCKET_BRANCH, BITBUCKET_PR_ID,
 * BITBUCKET_GIT_HTTP_ORIGIN. */
#include "ci/provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"

#define REPORT_ID	"dtf-tests"
#define MAX_ANNOTATIONS 100 /* the reports API takes at most 100 per request */

static bool bb_detect(void)
{
	return ci_env_is("BITBUCKET_BUILD_NUMBER", NULL);
}

static int bb_init(struct ci_provider *p)
{
	struct ci_ctx *x = &p->ctx;
	char user[256] = "", hdr[1200];
	const char *origin = getenv("BITBUCKET_GIT_HTTP_ORIGIN");
	int rc;

	ci_env_default(x->token, sizeof(x->token), "BITBUCKET_TOKEN");
	if (!x->token[0]) {
		ci_env_default(x->token, sizeof(x->token), "BITBUCKET_APP_PASSWORD");
		ci_env_default(user, sizeof(user), "BITBUCKET_USERNAME");
	}
	ci_env_default(x->repo, sizeof(x->repo), "BITBUCKET_REPO_FULL_NAME");
	ci_env_default(x->sha, sizeof(x->sha), "BITBUCKET_COMMIT");
	ci_env_default(x->branch, sizeof(x->branch), "BITBUCKET_BRANCH");
	ci_env_default(x->pr, sizeof(x->pr), "BITBUCKET_PR_ID");
	ci_env_default(x->build_id, sizeof(x->build_id), "BITBUCKET_BUILD_NUMBER");
	if (!x->build_url[0] && x->repo[0] && x->build_id[0])
		snprintf(x->build_url, sizeof(x->build_url), "%s/pipelines/results/%s",
			 origin && *origin ? origin : "https://bitbucket.org", x->build_id);
	if (!x->repo[0] || !strchr(x->repo, '/') || !x->sha[0])
		return ci_fail(
		    p, DTF_EINVAL,
		    "bitbucket: BITBUCKET_REPO_FULL_NAME and BITBUCKET_COMMIT must be set");
	if (!x->token[0])
		return ci_fail(p, DTF_EINVAL,
			       "bitbucket: set BITBUCKET_TOKEN (or BITBUCKET_USERNAME and "
			       "BITBUCKET_APP_PASSWORD)");
	rc = ci_provider_http(p, "https://api.bitbucket.org/2.0");
	if (rc)
		return rc;
	if (user[0]) {
		snprintf(p->http.basic, sizeof(p->http.basic), "%s:%s", user, x->token);
		return 0;
	}
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", x->token);
	return ci_http_header(&p->http, hdr);
}

static int build_status(struct ci_provider *p, const char *state, const char *desc)
{
	char path[768];
	json_t *body;

	snprintf(path, sizeof(path), "/repositories/%s/commit/%s/statuses/build", p->ctx.repo,
		 p->ctx.sha);
	body = json_pack("{s:s,s:s,s:s,s:s,s:s}", "key", "dtf", "state", state, "name",
			 p->ctx.run_name, "description", desc, "url",
			 p->ctx.build_url[0] ? p->ctx.build_url : "https://bitbucket.org");
	return ci_send(p, "POST", path, body, NULL, "bitbucket: setting the build status");
}

static int bb_create(struct ci_provider *p, const json_t *info)
{
	char desc[128];

	snprintf(desc, sizeof(desc), "running %lld tests", dtf_json_int(info, "total", 0));
	snprintf(p->run_ref, sizeof(p->run_ref), REPORT_ID);
	return build_status(p, "INPROGRESS", desc);
}

static int bb_status(struct ci_provider *p, const char *state, const char *desc)
{
	return build_status(p,
			    strcmp(state, "success") == 0   ? "SUCCESSFUL"
			    : strcmp(state, "pending") == 0 ? "INPROGRESS"
							    : "FAILED",
			    desc);
}

/* Adds one annotation (the first MAX_ANNOTATIONS) for a failed test or test case n. */
static void add_annotation(json_t *ann, const json_t *t, size_t n, const char *summary,
			   const char *details)
{
	char ext[160], sum[451];

	if (json_array_size(ann) >= MAX_ANNOTATIONS)
		return;
	snprintf(ext, sizeof(ext), "dtf-%s-%zu", dtf_json_str(t, "id", "task"), n);
	snprintf(sum, sizeof(sum), "%s", summary); /* the API takes 450 characters */
	json_array_append_new(ann, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:i}", "external_id", ext,
					     "annotation_type", "BUG", "summary", sum, "details",
					     details, "severity", "HIGH", "path",
					     dtf_json_str(json_object_get(t, "params"), "file",
							  dtf_json_str(t, "name", "?")),
					     "line", 1));
}

static int bb_update(struct ci_provider *p, const json_t *u)
{
	const json_t *s = json_object_get(u, "summary"), *t;
	char path[768], line[256];
	json_t *body, *ann;
	size_t i;
	int rc;

	if (strcmp(dtf_json_str(u, "status", ""), "completed") != 0)
		return 0;
	ci_summary_line(s, line, sizeof(line));
	snprintf(path, sizeof(path), "/repositories/%s/commit/%s/reports/" REPORT_ID, p->ctx.repo,
		 p->ctx.sha);
	body = json_pack(
	    "{s:s,s:s,s:s,s:s,s:s,s:[{s:s,s:s,s:I},{s:s,s:s,s:I},{s:s,s:s,s:I},{s:s,s:s,s:I}]}",
	    "title", "dtf tests", "details", line, "report_type", "TEST", "reporter", "dtf",
	    "result", strcmp(ci_summary_state(s), "success") == 0 ? "PASSED" : "FAILED", "data",
	    "title", "Total", "type", "NUMBER", "value", (json_int_t)dtf_json_int(s, "total", 0),
	    "title", "Passed", "type", "NUMBER", "value", (json_int_t)dtf_json_int(s, "passed", 0),
	    "title", "Failed", "type", "NUMBER", "value", (json_int_t)dtf_json_int(s, "failed", 0),
	    "title", "Duration", "type", "DURATION", "value",
	    (json_int_t)(dtf_json_num(s, "duration_s", 0) * 1000));
	if (p->ctx.build_url[0])
		json_object_set_new(body, "link", json_string(p->ctx.build_url));
	/* A re-run on the same commit starts from an empty report: deleting it also deletes its
	 * annotations (a report that does not exist yet answers 404). */
	rc = ci_http_json(&p->http, "DELETE", path, NULL, NULL);
	if (rc && rc != DTF_ENOTFOUND) {
		json_decref(body);
		return ci_fail(p, rc, "bitbucket: replacing the report: %s", p->http.error);
	}
	rc = ci_http_json(&p->http, "PUT", path, body, NULL);
	json_decref(body);
	if (rc)
		return ci_fail(p, rc, "bitbucket: writing the report: %s", p->http.error);
	ann = json_array();
	json_array_foreach(json_object_get(json_object_get(u, "doc"), "tasks"), i, t) {
		const json_t *c;
		char m[1024], title[600];
		size_t j, nfail = 0;
		const char *o = ci_task_outcome(t);
		if (strcmp(o, "failed") != 0 && strcmp(o, "cancelled") != 0)
			continue;
		/* One annotation per failed test case when the runner reported them. */
		json_array_foreach(json_object_get(json_object_get(t, "result"), "testcases"), j,
				   c) {
			const char *st = dtf_json_str(c, "status", "");
			if (strcmp(st, "failed") != 0 && strcmp(st, "error") != 0)
				continue;
			snprintf(title, sizeof(title), "%s: %s", dtf_json_str(t, "name", "?"),
				 dtf_json_str(c, "name", "?"));
			snprintf(m, sizeof(m), "%s",
				 dtf_json_str(c, "message", dtf_json_str(c, "details", st)));
			add_annotation(ann, t, ++nfail, title, m);
		}
		if (nfail == 0) {
			ci_task_message(t, m, sizeof(m));
			add_annotation(ann, t, 0, dtf_json_str(t, "name", "?"), m);
		}
	}
	if (json_array_size(ann)) {
		snprintf(path, sizeof(path),
			 "/repositories/%s/commit/%s/reports/" REPORT_ID "/annotations",
			 p->ctx.repo, p->ctx.sha);
		rc = ci_http_json(&p->http, "POST", path, ann, NULL);
	}
	json_decref(ann);
	if (rc)
		return ci_fail(p, rc, "bitbucket: adding annotations: %s", p->http.error);
	return 0;
}

static int bb_comment(struct ci_provider *p, const char *markdown)
{
	char list[768], comments[768];
	struct ci_comment_api api = {
	    .list_path = list,
	    .list_key = "values",
	    .body_path = "content.raw",
	    .update_base = comments,
	    .update_method = "PUT",
	    .create_path = comments,
	    .listing = "bitbucket: listing PR comments",
	    .writing = "bitbucket: writing the PR comment",
	};
	char *text;
	json_t *body;

	if (!p->ctx.pr[0])
		return 0;
	snprintf(list, sizeof(list), "/repositories/%s/pullrequests/%s/comments?pagelen=100",
		 p->ctx.repo, p->ctx.pr);
	snprintf(comments, sizeof(comments), "/repositories/%s/pullrequests/%s/comments",
		 p->ctx.repo, p->ctx.pr);
	text = ci_comment_body(markdown);
	body = json_pack("{s:{s:s}}", "content", "raw", text);
	free(text);
	return ci_upsert_comment(p, &api, body);
}

static int bb_get_status(struct ci_provider *p, json_t **out)
{
	char path[768];

	snprintf(path, sizeof(path), "/repositories/%s/commit/%s/reports/" REPORT_ID, p->ctx.repo,
		 p->ctx.sha);
	return ci_send(p, "GET", path, NULL, out, "bitbucket: reading the report");
}

const struct ci_provider_ops ci_provider_bitbucket = {
    .name = "bitbucket",
    .detect = bb_detect,
    .initialize = bb_init,
    .create_test_run = bb_create,
    .update_test_run = bb_update,
    .add_pr_comment = bb_comment,
    .get_test_run_status = bb_get_status,
    .set_build_status = bb_status,
};
