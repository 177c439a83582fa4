/* provider_azure.c: Azure Pipelines. A test run with its results
 * (POST {collection}{project}/_apis/test/runs, POST …/test/Runs/{id}/results, PATCH
 * …/test/runs/{id} to Completed; api-version 7.1), artifacts as test-run attachments
 * (POST …/test/Runs/{id}/attachments, api-version 7.1-preview.1), the pull-request thread
 * (GET/POST …/_apis/git/repositories/{repo}/pullRequests/{pr}/threads, our comment PATCHed
 * at …/threads/{thread}/comments/{comment}) and the step result as a `##vso[task.complete]`
 * logging command. Environment: TF_BUILD, SYSTEM_COLLECTIONURI, SYSTEM_TEAMPROJECT,
 * SYSTEM_ACCESSTOKEN (Bearer) or AZURE_DEVOPS_TOKEN (a PAT, basic auth), BUILD_BUILDID,
 * BUILD_SOURCEVERSION, BUILD_SOURCEBRANCHNAME, BUILD_REPOSITORY_ID,
 * SYSTEM_PULLREQUEST_PULLREQUESTID. */
#include "ci/provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/testcount.h"
#include "common/util.h"

#define API	       "api-version=7.1"
#define MAX_ATTACHMENT (16u << 20)
#define MAX_RESULTS    1000 /* results per request */

static bool az_detect(void)
{
	return ci_env_is("TF_BUILD", "true");
}

static char proj_path[512]; /* "/{project}" URL-encoded; one provider per process */

static int az_init(struct ci_provider *p)
{
	struct ci_ctx *x = &p->ctx;
	char pat[1024] = "", hdr[1200];
	struct dtf_buf b;
	int rc;

	ci_env_default(x->token, sizeof(x->token), "SYSTEM_ACCESSTOKEN");
	if (!x->token[0]) {
		ci_env_default(pat, sizeof(pat), "AZURE_DEVOPS_TOKEN");
		snprintf(x->token, sizeof(x->token), "%s", pat);
	}
	ci_env_default(x->api_url, sizeof(x->api_url), "SYSTEM_COLLECTIONURI");
	ci_env_default(x->repo, sizeof(x->repo), "SYSTEM_TEAMPROJECT");
	ci_env_default(x->sha, sizeof(x->sha), "BUILD_SOURCEVERSION");
	ci_env_default(x->branch, sizeof(x->branch), "BUILD_SOURCEBRANCHNAME");
	ci_env_default(x->pr, sizeof(x->pr), "SYSTEM_PULLREQUEST_PULLREQUESTID");
	ci_env_default(x->build_id, sizeof(x->build_id), "BUILD_BUILDID");
	if (!x->build_url[0] && x->api_url[0] && x->repo[0] && x->build_id[0])
		snprintf(x->build_url, sizeof(x->build_url), "%s%s%s/_build/results?buildId=%s",
			 x->api_url, x->api_url[strlen(x->api_url) - 1] == '/' ? "" : "/", x->repo,
			 x->build_id);
	if (!x->token[0])
		return ci_fail(p, DTF_EINVAL,
			       "azure: set SYSTEM_ACCESSTOKEN (or AZURE_DEVOPS_TOKEN)");
	if (!x->api_url[0] || !x->repo[0])
		return ci_fail(p, DTF_EINVAL,
			       "azure: SYSTEM_COLLECTIONURI and SYSTEM_TEAMPROJECT must be set");
	rc = ci_provider_http(p, x->api_url);
	if (rc)
		return rc;
	dtf_buf_init(&b, 1024);
	dtf_buf_adds(&b, "/");
	ci_urlencode(x->repo, &b);
	snprintf(proj_path, sizeof(proj_path), "%s", dtf_buf_str(&b));
	dtf_buf_release(&b);
	if (pat[0]) {
		snprintf(p->http.basic, sizeof(p->http.basic), ":%s", pat);
		return 0;
	}
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", x->token);
	return ci_http_header(&p->http, hdr);
}

static int az_create(struct ci_provider *p, const json_t *info)
{
	char path[768];
	json_t *body, *resp = NULL;
	int rc;

	(void)info;
	snprintf(path, sizeof(path), "%s/_apis/test/runs?" API, proj_path);
	body = json_pack("{s:s,s:b,s:s}", "name", p->ctx.run_name, "automated", 1, "state",
			 "InProgress");
	if (p->ctx.build_id[0])
		json_object_set_new(body, "build", json_pack("{s:s}", "id", p->ctx.build_id));
	rc = ci_http_json(&p->http, "POST", path, body, &resp);
	json_decref(body);
	if (rc) {
		json_decref(resp);
		return ci_fail(p, rc, "azure: creating the test run: %s", p->http.error);
	}
	snprintf(p->run_ref, sizeof(p->run_ref), "%lld", dtf_json_int(resp, "id", 0));
	json_decref(resp);
	return 0;
}

/* Sends the results gathered so far (one request holds at most MAX_RESULTS). */
static int flush_results(struct ci_provider *p, json_t *results)
{
	char path[768];
	int rc = 0;

	if (json_array_size(results) == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/_apis/test/Runs/%s/results?" API, proj_path, p->run_ref);
	rc = ci_http_json(&p->http, "POST", path, results, NULL);
	json_array_clear(results);
	return rc;
}

/* Azure's outcome of a test entry (common/testcount.h). */
static const char *entry_outcome(enum dtf_test_status st)
{
	switch (st) {
	case DTF_TEST_PASSED:
	case DTF_TEST_XPASSED:
	case DTF_TEST_FLAKY:
		return "Passed";
	case DTF_TEST_SKIPPED:
	case DTF_TEST_XFAILED:
	case DTF_TEST_CANCELLED:
		return "NotExecuted";
	case DTF_TEST_PENDING:
	case DTF_TEST_RUNNING:
		return "Aborted";
	default:
		return "Failed";
	}
}

/* Gathers the results while the tasks' test entries are walked. */
struct az_results {
	struct ci_provider *p;
	json_t *results;
};

/* One result per test entry: the same tests the reports count. */
static int add_result(const struct dtf_test_entry *e, void *arg)
{
	struct az_results *a = arg;
	const char *o = entry_outcome(e->status);
	char title[600];
	json_t *r;

	if (e->classname)
		snprintf(title, sizeof(title), "%s.%s", e->classname, e->name);
	else
		snprintf(title, sizeof(title), "%s%s", e->name,
			 e->kind == DTF_ENTRY_TASK_ERROR ? " (task)" : "");
	r = json_pack("{s:s,s:s,s:s,s:s,s:I}", "testCaseTitle",
		      e->kind == DTF_ENTRY_CASE ? e->name : title, "automatedTestName", title,
		      "outcome", o, "state", "Completed", "durationInMs",
		      (json_int_t)(e->duration_s * 1000));
	if (!r)
		return DTF_ENOMEM;
	if (strcmp(o, "Passed") != 0 && e->message)
		json_object_set_new(r, "errorMessage", json_string(e->message));
	json_array_append_new(a->results, r);
	if (json_array_size(a->results) == MAX_RESULTS)
		return flush_results(a->p, a->results);
	return 0;
}

static int az_update(struct ci_provider *p, const json_t *u)
{
	char path[768];
	json_t *results, *t, *body;
	size_t i;
	int rc = 0;

	if (strcmp(dtf_json_str(u, "status", ""), "completed") != 0 || !p->run_ref[0])
		return 0;
	results = json_array();
	{
		struct az_results a = {p, results};

		json_array_foreach(json_object_get(json_object_get(u, "doc"), "tasks"), i, t) {
			if (json_is_object(t) && (rc = dtf_test_entries(t, add_result, &a)))
				goto out;
		}
	}
	rc = flush_results(p, results);
out:
	json_decref(results);
	if (rc)
		return ci_fail(p, rc, "azure: adding test results: %s", p->http.error);
	snprintf(path, sizeof(path), "%s/_apis/test/runs/%s?" API, proj_path, p->run_ref);
	body = json_pack("{s:s}", "state", "Completed");
	return ci_send(p, "PATCH", path, body, NULL, "azure: completing the test run");
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *base64(const unsigned char *d, size_t n)
{
	char *o = malloc((n + 2) / 3 * 4 + 1), *q = o;
	size_t i;

	if (!o)
		return NULL;
	for (i = 0; i + 2 < n; i += 3) {
		*q++ = b64[d[i] >> 2];
		*q++ = b64[((d[i] & 3) << 4) | (d[i + 1] >> 4)];
		*q++ = b64[((d[i + 1] & 15) << 2) | (d[i + 2] >> 6)];
		*q++ = b64[d[i + 2] & 63];
	}
	if (i < n) {
		*q++ = b64[d[i] >> 2];
		if (i + 1 < n) {
			*q++ = b64[((d[i] & 3) << 4) | (d[i + 1] >> 4)];
			*q++ = b64[(d[i + 1] & 15) << 2];
		} else {
			*q++ = b64[(d[i] & 3) << 4];
			*q++ = '=';
		}
		*q++ = '=';
	}
	*q = '\0';
	return o;
}

static int az_upload(struct ci_provider *p, const char *file, const char *name)
{
	char path[768], *data = NULL, *enc;
	const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	size_t len;
	json_t *body, *resp = NULL;
	int rc;

	if (!p->run_ref[0])
		return ci_fail(p, DTF_ENOTFOUND, "azure: no test run to attach to");
	rc = dtf_read_file(file, MAX_ATTACHMENT, &data, &len);
	if (rc)
		return ci_fail(p, rc, "azure: cannot read %s", file);
	enc = base64((const unsigned char *)data, len);
	free(data);
	if (!enc)
		return DTF_ENOMEM;
	snprintf(path, sizeof(path), "%s/_apis/test/Runs/%s/attachments?api-version=7.1-preview.1",
		 proj_path, p->run_ref);
	body = json_pack("{s:s,s:s,s:s,s:s}", "stream", enc, "fileName", base, "comment", name,
			 "attachmentType", "GeneralAttachment");
	free(enc);
	rc = ci_http_json(&p->http, "POST", path, body, &resp);
	json_decref(body);
	if (rc == 0 && json_is_string(json_object_get(resp, "url")))
		json_object_set(p->state, name, json_object_get(resp, "url"));
	json_decref(resp);
	if (rc)
		return ci_fail(p, rc, "azure: attaching %s: %s", name, p->http.error);
	return 0;
}

static int az_artifact_url(struct ci_provider *p, const char *name, char *url, size_t len)
{
	const char *u = json_string_value(json_object_get(p->state, name));

	if (!u)
		return DTF_ENOTFOUND;
	snprintf(url, len, "%s", u);
	return 0;
}

static int az_comment(struct ci_provider *p, const char *markdown)
{
	char path[1024], base[768];
	const char *repo_id = getenv("BUILD_REPOSITORY_ID");
	json_t *list = NULL, *th, *body;
	char *text;
	size_t i;
	int rc;

	if (!p->ctx.pr[0])
		return 0;
	if (!repo_id || !*repo_id)
		return ci_fail(p, DTF_EINVAL, "azure: BUILD_REPOSITORY_ID is not set");
	snprintf(base, sizeof(base), "%s/_apis/git/repositories/%s/pullRequests/%s/threads",
		 proj_path, repo_id, p->ctx.pr);
	snprintf(path, sizeof(path), "%s?" API, base);
	rc = ci_http_json(&p->http, "GET", path, NULL, &list);
	if (rc) {
		json_decref(list);
		return ci_fail(p, rc, "azure: listing PR threads: %s", p->http.error);
	}
	text = ci_comment_body(markdown);
	json_array_foreach(json_object_get(list, "value"), i, th) {
		char cid[64];
		if (ci_find_marked(json_object_get(th, "comments"), "content", "id", cid,
				   sizeof(cid))) {
			snprintf(path, sizeof(path), "%s/%lld/comments/%s?" API, base,
				 dtf_json_int(th, "id", 0), cid);
			body = json_pack("{s:s}", "content", text);
			rc = ci_http_json(&p->http, "PATCH", path, body, NULL);
			json_decref(body);
			goto done;
		}
	}
	body = json_pack("{s:[{s:i,s:s,s:i}],s:s}", "comments", "parentCommentId", 0, "content",
			 text, "commentType", 1, "status", "active");
	rc = ci_http_json(&p->http, "POST", path, body, NULL);
	json_decref(body);
done:
	free(text);
	json_decref(list);
	if (rc)
		return ci_fail(p, rc, "azure: writing the PR thread: %s", p->http.error);
	return 0;
}

static int az_status(struct ci_provider *p, const char *state, const char *desc)
{
	const char *r = strcmp(state, "success") == 0 ? "Succeeded" : "Failed";

	if (strcmp(state, "pending") == 0)
		return 0;
	fprintf(p->out, "##vso[task.complete result=%s;]%s\n", r, desc);
	fflush(p->out);
	return 0;
}

static int az_get_status(struct ci_provider *p, json_t **out)
{
	char path[768];

	*out = NULL;
	if (!p->run_ref[0])
		return ci_fail(p, DTF_ENOTFOUND, "azure: no test run");
	snprintf(path, sizeof(path), "%s/_apis/test/runs/%s?" API, proj_path, p->run_ref);
	return ci_send(p, "GET", path, NULL, out, "azure: reading the test run");
}

const struct ci_provider_ops ci_provider_azure = {
    .name = "azure",
    .detect = az_detect,
    .initialize = az_init,
    .create_test_run = az_create,
    .update_test_run = az_update,
    .add_pr_comment = az_comment,
    .upload_artifact = az_upload,
    .get_artifact_url = az_artifact_url,
    .get_test_run_status = az_get_status,
    .set_build_status = az_status,
};
