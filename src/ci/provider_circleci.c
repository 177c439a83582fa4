/* provider_circleci.c: CircleCI. Reports and artifacts are files the job stores with its
 * `store_test_results` and `store_artifacts` steps (CircleCI has no API to upload them or to
 * set a status); with CIRCLE_TOKEN the job is read back (GET /project/{slug}/job/{number})
 * and stored artifacts are found by path (GET /project/{slug}/{number}/artifacts), API v2 with
 * the Circle-Token header. Environment: CIRCLECI, CIRCLE_TOKEN, CIRCLE_PROJECT_USERNAME,
 * CIRCLE_PROJECT_REPONAME, CIRCLE_REPOSITORY_URL, CIRCLE_SHA1, CIRCLE_BRANCH,
 * CIRCLE_BUILD_NUM, CIRCLE_BUILD_URL, CIRCLE_PULL_REQUEST. */
#include "ci/provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"

static bool cc_detect(void)
{
	return ci_env_is("CIRCLECI", "true");
}

static int cc_init(struct ci_provider *p)
{
	struct ci_ctx *x = &p->ctx;
	const char *u = getenv("CIRCLE_PROJECT_USERNAME"), *r = getenv("CIRCLE_PROJECT_REPONAME");
	const char *url = getenv("CIRCLE_REPOSITORY_URL"), *pr = getenv("CIRCLE_PULL_REQUEST");
	char hdr[1200];
	int rc;

	ci_env_default(x->token, sizeof(x->token), "CIRCLE_TOKEN");
	ci_env_default(x->sha, sizeof(x->sha), "CIRCLE_SHA1");
	ci_env_default(x->branch, sizeof(x->branch), "CIRCLE_BRANCH");
	ci_env_default(x->build_id, sizeof(x->build_id), "CIRCLE_BUILD_NUM");
	ci_env_default(x->build_url, sizeof(x->build_url), "CIRCLE_BUILD_URL");
	if (!x->repo[0] && u && *u && r && *r)
		snprintf(x->repo, sizeof(x->repo), "%s/%s/%s",
			 url && strstr(url, "bitbucket") ? "bb" : "gh", u, r);
	if (!x->pr[0] && pr && strrchr(pr, '/'))
		snprintf(x->pr, sizeof(x->pr), "%s", strrchr(pr, '/') + 1);
	rc = ci_provider_http(p, "https://circleci.com/api/v2");
	if (rc)
		return rc;
	if (!x->token[0])
		return 0; /* files only */
	snprintf(hdr, sizeof(hdr), "Circle-Token: %s", x->token);
	return ci_http_header(&p->http, hdr);
}

static int cc_get_status(struct ci_provider *p, json_t **out)
{
	char path[768];

	*out = NULL;
	if (!p->ctx.token[0] || !p->ctx.repo[0] || !p->ctx.build_id[0])
		return 0;
	snprintf(path, sizeof(path), "/project/%s/job/%s", p->ctx.repo, p->ctx.build_id);
	return ci_send(p, "GET", path, NULL, out, "circleci: reading the job");
}

static int cc_artifact_url(struct ci_provider *p, const char *name, char *url, size_t len)
{
	json_t *items = json_object_get(p->state, "items"), *it;
	size_t i;

	if (!p->ctx.token[0] || !p->ctx.repo[0] || !p->ctx.build_id[0])
		return DTF_ENOTFOUND;
	if (!items) {
		char path[768];
		json_t *resp = NULL;
		int rc;
		snprintf(path, sizeof(path), "/project/%s/%s/artifacts", p->ctx.repo,
			 p->ctx.build_id);
		rc = ci_http_json(&p->http, "GET", path, NULL, &resp);
		if (rc) {
			json_decref(resp);
			json_object_set_new(p->state, "items", json_array());
			return ci_fail(p, rc, "circleci: listing artifacts: %s", p->http.error);
		}
		items = json_object_get(resp, "items");
		json_object_set(p->state, "items", json_is_array(items) ? items : json_array());
		json_decref(resp);
		items = json_object_get(p->state, "items");
	}
	/* Stored paths start at the store_artifacts path: match from "artifacts/" on. */
	if (strstr(name, "artifacts/"))
		name = strstr(name, "artifacts/");
	json_array_foreach(items, i, it) {
		const char *ap = dtf_json_str(it, "path", "");
		size_t n = strlen(ap), m = strlen(name);
		if (n >= m && strcmp(ap + n - m, name) == 0) {
			snprintf(url, len, "%s", dtf_json_str(it, "url", ""));
			return 0;
		}
	}
	return DTF_ENOTFOUND;
}

const struct ci_provider_ops ci_provider_circleci = {
    .name = "circleci",
    .detect = cc_detect,
    .initialize = cc_init,
    .get_artifact_url = cc_artifact_url,
    .get_test_run_status = cc_get_status,
};
