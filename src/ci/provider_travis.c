/* provider_travis.c: Travis CI. Travis has no API to upload test reports, artifacts or a
 * status (its artifacts addon and deploy providers upload files after the script), so the
 * reports are files; with TRAVIS_TOKEN the job is read back with API v3
 * (GET /job/{id}, headers `Travis-API-Version: 3` and `Authorization: token …`).
 * Environment: TRAVIS, TRAVIS_TOKEN, TRAVIS_REPO_SLUG, TRAVIS_COMMIT, TRAVIS_BRANCH,
 * TRAVIS_PULL_REQUEST, TRAVIS_JOB_ID, TRAVIS_JOB_WEB_URL. */
#include "ci/provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static bool tr_detect(void)
{
	return ci_env_is("TRAVIS", "true");
}

static int tr_init(struct ci_provider *p)
{
	struct ci_ctx *x = &p->ctx;
	const char *pr = getenv("TRAVIS_PULL_REQUEST");
	char hdr[1200];
	int rc;

	ci_env_default(x->token, sizeof(x->token), "TRAVIS_TOKEN");
	ci_env_default(x->repo, sizeof(x->repo), "TRAVIS_REPO_SLUG");
	ci_env_default(x->sha, sizeof(x->sha), "TRAVIS_COMMIT");
	ci_env_default(x->branch, sizeof(x->branch), "TRAVIS_BRANCH");
	ci_env_default(x->build_id, sizeof(x->build_id), "TRAVIS_JOB_ID");
	ci_env_default(x->build_url, sizeof(x->build_url), "TRAVIS_JOB_WEB_URL");
	if (!x->pr[0] && pr && *pr && strcmp(pr, "false") != 0)
		snprintf(x->pr, sizeof(x->pr), "%s", pr);
	rc = ci_provider_http(p, "https://api.travis-ci.com");
	if (rc)
		return rc;
	rc = ci_http_header(&p->http, "Travis-API-Version: 3");
	if (rc || !x->token[0])
		return rc;
	snprintf(hdr, sizeof(hdr), "Authorization: token %s", x->token);
	return ci_http_header(&p->http, hdr);
}

static int tr_get_status(struct ci_provider *p, json_t **out)
{
	char path[256];

	*out = NULL;
	if (!p->ctx.token[0] || !p->ctx.build_id[0])
		return 0;
	snprintf(path, sizeof(path), "/job/%s", p->ctx.build_id);
	return ci_send(p, "GET", path, NULL, out, "travis: reading the job");
}

const struct ci_provider_ops ci_provider_travis = {
    .name = "travis",
    .detect = tr_detect,
    .initialize = tr_init,
    .get_test_run_status = tr_get_status,
};
