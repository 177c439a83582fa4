/* provider_gitlab.c: GitLab CI. A commit status (POST /projects/:id/statuses/:sha, "running"
 * while the tests run, then success/failed) and the merge-request note (GET
 * /projects/:id/merge_requests/:iid/notes; our earlier note is PUT at …/notes/:note_id, else a
 * new one is POSTed). Job artifacts are uploaded by the runner from the job's `artifacts:`.
 * Environment: GITLAB_CI, CI_API_V4_URL, CI_PROJECT_ID, CI_COMMIT_SHA, CI_COMMIT_REF_NAME,
 * CI_MERGE_REQUEST_IID, CI_PIPELINE_ID, CI_JOB_URL; token GITLAB_TOKEN (PRIVATE-TOKEN header)
 * or CI_JOB_TOKEN (JOB-TOKEN header). */
#include "ci/provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"

static bool gl_detect(void)
{
	return ci_env_is("GITLAB_CI", NULL);
}

/* The project id as a path segment (a "group/project" path is URL-encoded). */
static void project(struct ci_provider *p, char *out, size_t len)
{
	struct dtf_buf b;

	dtf_buf_init(&b, 1024);
	ci_urlencode(p->ctx.repo, &b);
	snprintf(out, len, "%s", dtf_buf_str(&b));
	dtf_buf_release(&b);
}

static int gl_init(struct ci_provider *p)
{
	struct ci_ctx *x = &p->ctx;
	const char *job = getenv("CI_JOB_TOKEN");
	char hdr[1200];
	bool job_token = false;
	int rc;

	ci_env_default(x->token, sizeof(x->token), "GITLAB_TOKEN");
	if (!x->token[0] && job && *job) {
		snprintf(x->token, sizeof(x->token), "%s", job);
		job_token = true;
	}
	ci_env_default(x->api_url, sizeof(x->api_url), "CI_API_V4_URL");
	ci_env_default(x->repo, sizeof(x->repo), "CI_PROJECT_ID");
	ci_env_default(x->sha, sizeof(x->sha), "CI_COMMIT_SHA");
	ci_env_default(x->branch, sizeof(x->branch), "CI_COMMIT_REF_NAME");
	ci_env_default(x->pr, sizeof(x->pr), "CI_MERGE_REQUEST_IID");
	ci_env_default(x->build_id, sizeof(x->build_id), "CI_PIPELINE_ID");
	ci_env_default(x->build_url, sizeof(x->build_url), "CI_JOB_URL");
	ci_env_default(x->build_url, sizeof(x->build_url), "CI_PIPELINE_URL");
	if (!x->token[0])
		return ci_fail(p, DTF_EINVAL,
			       "gitlab: set GITLAB_TOKEN (or run with CI_JOB_TOKEN)");
	if (!x->repo[0] || !x->sha[0])
		return ci_fail(p, DTF_EINVAL,
			       "gitlab: CI_PROJECT_ID and CI_COMMIT_SHA must be set");
	rc = ci_provider_http(p, "https://gitlab.com/api/v4");
	if (rc)
		return rc;
	snprintf(hdr, sizeof(hdr), "%s: %s", job_token ? "JOB-TOKEN" : "PRIVATE-TOKEN", x->token);
	return ci_http_header(&p->http, hdr);
}

static int post_status(struct ci_provider *p, const char *state, const char *desc)
{
	char path[512], proj[512];
	json_t *body;

	project(p, proj, sizeof(proj));
	snprintf(path, sizeof(path), "/projects/%s/statuses/%s", proj, p->ctx.sha);
	body = json_pack("{s:s,s:s,s:s}", "state", state, "name", p->ctx.run_name, "description",
			 desc);
	if (p->ctx.build_url[0])
		json_object_set_new(body, "target_url", json_string(p->ctx.build_url));
	if (p->ctx.branch[0])
		json_object_set_new(body, "ref", json_string(p->ctx.branch));
	if (p->ctx.build_id[0])
		json_object_set_new(body, "pipeline_id", json_integer(atoll(p->ctx.build_id)));
	return ci_send(p, "POST", path, body, NULL, "gitlab: setting the commit status");
}

static int gl_create(struct ci_provider *p, const json_t *info)
{
	char desc[128];

	snprintf(desc, sizeof(desc), "running %lld tests", dtf_json_int(info, "total", 0));
	snprintf(p->run_ref, sizeof(p->run_ref), "%s", p->ctx.sha);
	return post_status(p, "running", desc);
}

static int gl_status(struct ci_provider *p, const char *state, const char *desc)
{
	const char *s = strcmp(state, "success") == 0	? "success"
			: strcmp(state, "pending") == 0 ? "pending"
							: "failed";
	return post_status(p, s, desc);
}

static int gl_comment(struct ci_provider *p, const char *markdown)
{
	char proj[512], list[768], notes[768];
	struct ci_comment_api api = {
	    .list_path = list,
	    .list_key = NULL,
	    .body_path = "body",
	    .update_base = notes,
	    .update_method = "PUT",
	    .create_path = notes,
	    .listing = "gitlab: listing MR notes",
	    .writing = "gitlab: writing the MR note",
	};
	char *text;
	json_t *body;

	if (!p->ctx.pr[0])
		return 0;
	project(p, proj, sizeof(proj));
	snprintf(list, sizeof(list), "/projects/%s/merge_requests/%s/notes?per_page=100", proj,
		 p->ctx.pr);
	snprintf(notes, sizeof(notes), "/projects/%s/merge_requests/%s/notes", proj, p->ctx.pr);
	text = ci_comment_body(markdown);
	body = json_pack("{s:s}", "body", text);
	free(text);
	return ci_upsert_comment(p, &api, body);
}

static int gl_get_status(struct ci_provider *p, json_t **out)
{
	char path[768], proj[512];

	project(p, proj, sizeof(proj));
	snprintf(path, sizeof(path), "/projects/%s/repository/commits/%s/statuses?name=%s", proj,
		 p->ctx.sha, p->ctx.run_name);
	return ci_send(p, "GET", path, NULL, out, "gitlab: reading commit statuses");
}

/* The runner uploads the job's artifacts; a file is then at {job}/artifacts/file/{path}. */
static int gl_artifact_url(struct ci_provider *p, const char *name, char *url, size_t len)
{
	const char *job = p->ctx.build_url;

	if (!job[0] || !strstr(job, "/-/jobs/"))
		return DTF_ENOTFOUND;
	snprintf(url, len, "%s/artifacts/file/%s", job, name);
	return 0;
}

const struct ci_provider_ops ci_provider_gitlab = {
    .name = "gitlab",
    .detect = gl_detect,
    .initialize = gl_init,
    .create_test_run = gl_create,
    .add_pr_comment = gl_comment,
    .get_artifact_url = gl_artifact_url,
    .get_test_run_status = gl_get_status,
    .set_build_status = gl_status,
};
