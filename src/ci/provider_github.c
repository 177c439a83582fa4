/* provider_github.c: GitHub Actions. A check run (POST /repos/{o}/{r}/check-runs, PATCHed to
 * completed with the Markdown summary and failure annotations), a commit status
 * (POST /repos/{o}/{r}/statuses/{sha}), the PR comment (/repos/{o}/{r}/issues/{n}/comments,
 * our earlier one PATCHed at /repos/{o}/{r}/issues/comments/{id}), the job summary
 * ($GITHUB_STEP_SUMMARY) and `::error file=…::` workflow commands for failed tests.
 * Environment: GITHUB_ACTIONS, GITHUB_TOKEN (or GH_TOKEN), GITHUB_API_URL, GITHUB_REPOSITORY,
 * GITHUB_SHA, GITHUB_REF, GITHUB_HEAD_REF, GITHUB_REF_NAME, GITHUB_EVENT_PATH, GITHUB_RUN_ID,
 * GITHUB_SERVER_URL, GITHUB_STEP_SUMMARY. */
#include "ci/provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/util.h"

#define MAX_ANNOTATIONS 50    /* the checks API takes at most 50 per request */
#define MAX_SUMMARY	65000 /* output.summary is limited to 65535 characters */

static bool gh_detect(void)
{
	return ci_env_is("GITHUB_ACTIONS", "true");
}

static int gh_init(struct ci_provider *p)
{
	struct ci_ctx *x = &p->ctx;
	const char *ref = getenv("GITHUB_REF"), *ev = getenv("GITHUB_EVENT_PATH");
	char hdr[1200];
	int rc;

	ci_env_default(x->token, sizeof(x->token), "GITHUB_TOKEN");
	ci_env_default(x->token, sizeof(x->token), "GH_TOKEN");
	ci_env_default(x->api_url, sizeof(x->api_url), "GITHUB_API_URL");
	ci_env_default(x->repo, sizeof(x->repo), "GITHUB_REPOSITORY");
	ci_env_default(x->sha, sizeof(x->sha), "GITHUB_SHA");
	ci_env_default(x->branch, sizeof(x->branch), "GITHUB_HEAD_REF");
	ci_env_default(x->branch, sizeof(x->branch), "GITHUB_REF_NAME");
	ci_env_default(x->build_id, sizeof(x->build_id), "GITHUB_RUN_ID");
	if (!x->pr[0] && ref && strncmp(ref, "refs/pull/", 10) == 0)
		snprintf(x->pr, sizeof(x->pr), "%.*s", (int)strcspn(ref + 10, "/"), ref + 10);
	if (!x->pr[0] && ev && *ev) {
		char *text = NULL, err[128];
		size_t len;
		if (dtf_read_file(ev, 16u << 20, &text, &len) == 0) {
			json_t *doc = dtf_json_parse(text, len, err, sizeof(err));
			long long n =
			    dtf_json_int(json_object_get(doc, "pull_request"), "number", 0);
			if (n > 0)
				snprintf(x->pr, sizeof(x->pr), "%lld", n);
			json_decref(doc);
		}
		free(text);
	}
	if (!x->build_url[0] && x->build_id[0] && x->repo[0]) {
		const char *server = getenv("GITHUB_SERVER_URL");
		snprintf(x->build_url, sizeof(x->build_url), "%s/%s/actions/runs/%s",
			 server && *server ? server : "https://github.com", x->repo, x->build_id);
	}
	if (!x->token[0])
		return ci_fail(p, DTF_EINVAL, "github: set GITHUB_TOKEN");
	if (!x->repo[0] || !strchr(x->repo, '/'))
		return ci_fail(p, DTF_EINVAL, "github: GITHUB_REPOSITORY must be owner/repo");
	if (!x->sha[0])
		return ci_fail(p, DTF_EINVAL, "github: GITHUB_SHA is not set");
	rc = ci_provider_http(p, "https://api.github.com");
	if (rc)
		return rc;
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", x->token);
	rc = ci_http_header(&p->http, hdr);
	rc = rc ? rc : ci_http_header(&p->http, "Accept: application/vnd.github+json");
	rc = rc ? rc : ci_http_header(&p->http, "X-GitHub-Api-Version: 2022-11-28");
	return rc;
}

static void now_rfc3339(char out[32])
{
	dtf_rfc3339(dtf_wall_ms(), out);
}

static int gh_create(struct ci_provider *p, const json_t *info)
{
	char path[512], ts[32];
	json_t *body, *resp = NULL;
	int rc;

	now_rfc3339(ts);
	snprintf(path, sizeof(path), "/repos/%s/check-runs", p->ctx.repo);
	body = json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s}}", "name", p->ctx.run_name, "head_sha",
			 p->ctx.sha, "status", "in_progress", "started_at", ts, "output", "title",
			 "dtf: running", "summary", "The tests are running.");
	if (p->ctx.build_url[0])
		json_object_set_new(body, "details_url", json_string(p->ctx.build_url));
	(void)info;
	rc = ci_http_json(&p->http, "POST", path, body, &resp);
	json_decref(body);
	if (rc == DTF_EAUTH) {
		/* Only GitHub Apps (such as the workflow's GITHUB_TOKEN) may create check runs; a
		 * personal token still reports through the commit status and the PR comment. */
		json_decref(resp);
		fprintf(stderr, "dtf ci: github: this token cannot create check runs; reporting "
				"through the commit status\n");
		p->run_ref[0] = '\0';
		return 0;
	}
	if (rc) {
		json_decref(resp);
		return ci_fail(p, rc, "github: creating the check run: %s", p->http.error);
	}
	snprintf(p->run_ref, sizeof(p->run_ref), "%lld", dtf_json_int(resp, "id", 0));
	json_decref(resp);
	return 0;
}

/* Escapes a workflow command's data (%, CR, LF) or, with prop, a property (also : and ,). */
static void wf_escape(const char *s, bool prop, char *out, size_t len)
{
	size_t o = 0;

	for (; *s && o + 4 < len; s++) {
		const char *rep = NULL;
		switch (*s) {
		case '%':
			rep = "%25";
			break;
		case '\r':
			rep = "%0D";
			break;
		case '\n':
			rep = "%0A";
			break;
		case ':':
			rep = prop ? "%3A" : NULL;
			break;
		case ',':
			rep = prop ? "%2C" : NULL;
			break;
		default:
			break;
		}
		if (rep) {
			memcpy(out + o, rep, 3);
			o += 3;
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
}

/* The source file of a task, as recorded by discovery (params.file), or its name. */
static const char *task_file(const json_t *t)
{
	return dtf_json_str(json_object_get(t, "params"), "file", dtf_json_str(t, "name", "?"));
}

/* Adds a failure annotation for the check run (the first MAX_ANNOTATIONS) and prints the
 * `::error` workflow command. */
static void annotate(struct ci_provider *p, json_t *ann, const char *file, const char *title,
		     const char *msg)
{
	char f[600], name[600], emsg[2048];

	if (json_array_size(ann) < MAX_ANNOTATIONS)
		json_array_append_new(ann,
				      json_pack("{s:s,s:i,s:i,s:s,s:s,s:s}", "path", file,
						"start_line", 1, "end_line", 1, "annotation_level",
						"failure", "title", title, "message", msg));
	wf_escape(file, true, f, sizeof(f));
	wf_escape(title, true, name, sizeof(name));
	wf_escape(msg, false, emsg, sizeof(emsg));
	fprintf(p->out, "::error file=%s,line=1,title=%s::%s\n", f, name, emsg);
}

static int gh_update(struct ci_provider *p, const json_t *u)
{
	const json_t *summary = json_object_get(u, "summary");
	const char *status = dtf_json_str(u, "status", "in_progress");
	char path[512], line[256], ts[32];
	json_t *body, *output, *ann = json_array();
	const char *md = dtf_json_str(u, "markdown", "");
	size_t i;
	json_t *t;

	ci_summary_line(summary, line, sizeof(line));
	output = json_pack("{s:s,s:s}", "title", line, "summary", line);
	if (strcmp(status, "completed") == 0) {
		const char *sf = getenv("GITHUB_STEP_SUMMARY");
		json_array_foreach(json_object_get(json_object_get(u, "doc"), "tasks"), i, t) {
			const json_t *cases =
					 json_object_get(json_object_get(t, "result"), "testcases"),
				     *c;
			char msg[1024], title[600];
			size_t j, nfail = 0;
			if (strcmp(ci_task_outcome(t), "failed") != 0 &&
			    strcmp(ci_task_outcome(t), "cancelled") != 0)
				continue;
			/* One annotation per failed test case when the runner reported them. */
			json_array_foreach(cases, j, c) {
				const char *st = dtf_json_str(c, "status", "");
				if (strcmp(st, "failed") != 0 && strcmp(st, "error") != 0)
					continue;
				snprintf(title, sizeof(title), "%s: %s",
					 dtf_json_str(t, "name", "?"),
					 dtf_json_str(c, "name", "?"));
				snprintf(
				    msg, sizeof(msg), "%s",
				    dtf_json_str(c, "message", dtf_json_str(c, "details", st)));
				annotate(p, ann, task_file(t), title, msg);
				nfail++;
			}
			if (nfail == 0) {
				ci_task_message(t, msg, sizeof(msg));
				annotate(p, ann, task_file(t), dtf_json_str(t, "name", "?"), msg);
			}
		}
		fflush(p->out);
		{
			/* Cut at a character boundary: jansson refuses broken UTF-8. */
			size_t n = strlen(md);
			if (n > MAX_SUMMARY) {
				n = MAX_SUMMARY;
				while (n > 0 && ((unsigned char)md[n] & 0xC0) == 0x80)
					n--;
			}
			json_object_set_new(output, "summary", json_stringn(md, n));
		}
		json_object_set_new(output, "annotations", ann);
		ann = NULL;
		if (sf && *sf) {
			FILE *f = fopen(sf, "a");
			if (f) {
				fprintf(f, "%s\n", md);
				fclose(f);
			}
		}
	}
	json_decref(ann);
	if (!p->run_ref[0] || strcmp(p->run_ref, "0") == 0) {
		json_decref(output);
		return 0;
	}
	snprintf(path, sizeof(path), "/repos/%s/check-runs/%s", p->ctx.repo, p->run_ref);
	body = json_pack("{s:s,s:o}", "status", status, "output", output);
	if (strcmp(status, "completed") == 0) {
		now_rfc3339(ts);
		json_object_set_new(body, "conclusion", json_string(ci_summary_state(summary)));
		json_object_set_new(body, "completed_at", json_string(ts));
	}
	return ci_send(p, "PATCH", path, body, NULL, "github: updating the check run");
}

static int gh_comment(struct ci_provider *p, const char *markdown)
{
	char list[512], update[512], create[512];
	struct ci_comment_api api = {
	    .list_path = list,
	    .list_key = NULL,
	    .body_path = "body",
	    .update_base = update,
	    .update_method = "PATCH",
	    .create_path = create,
	    .listing = "github: listing PR comments",
	    .writing = "github: writing the PR comment",
	};
	char *text;
	json_t *body;

	if (!p->ctx.pr[0])
		return 0;
	snprintf(list, sizeof(list), "/repos/%s/issues/%s/comments?per_page=100", p->ctx.repo,
		 p->ctx.pr);
	snprintf(update, sizeof(update), "/repos/%s/issues/comments", p->ctx.repo);
	snprintf(create, sizeof(create), "/repos/%s/issues/%s/comments", p->ctx.repo, p->ctx.pr);
	text = ci_comment_body(markdown);
	body = json_pack("{s:s}", "body", text);
	free(text);
	return ci_upsert_comment(p, &api, body);
}

static int gh_status(struct ci_provider *p, const char *state, const char *desc)
{
	char path[512], d[141];
	json_t *body;

	snprintf(d, sizeof(d), "%s", desc); /* the API takes at most 140 characters */
	snprintf(path, sizeof(path), "/repos/%s/statuses/%s", p->ctx.repo, p->ctx.sha);
	body = json_pack("{s:s,s:s,s:s}", "state", state, "description", d, "context",
			 p->ctx.run_name);
	if (p->ctx.build_url[0])
		json_object_set_new(body, "target_url", json_string(p->ctx.build_url));
	return ci_send(p, "POST", path, body, NULL, "github: setting the commit status");
}

static int gh_get_status(struct ci_provider *p, json_t **out)
{
	char path[512];

	*out = NULL;
	if (!p->run_ref[0])
		return 0;
	snprintf(path, sizeof(path), "/repos/%s/check-runs/%s", p->ctx.repo, p->run_ref);
	return ci_send(p, "GET", path, NULL, out, "github: reading the check run");
}

/* Artifacts are uploaded by the workflow's actions/upload-artifact step (the REST API has no
 * upload); they are listed on the run's page. */
static int gh_artifact_url(struct ci_provider *p, const char *name, char *url, size_t len)
{
	(void)name;
	if (!p->ctx.build_url[0])
		return DTF_ENOTFOUND;
	snprintf(url, len, "%s#artifacts", p->ctx.build_url);
	return 0;
}

const struct ci_provider_ops ci_provider_github = {
    .name = "github",
    .detect = gh_detect,
    .initialize = gh_init,
    .create_test_run = gh_create,
    .update_test_run = gh_update,
    .add_pr_comment = gh_comment,
    .get_artifact_url = gh_artifact_url,
    .get_test_run_status = gh_get_status,
    .set_build_status = gh_status,
};
