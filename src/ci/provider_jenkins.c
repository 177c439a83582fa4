/* provider_jenkins.c: Jenkins. The reports are files for the pipeline's `junit` and
 * `archiveArtifacts` steps; with JENKINS_USER and JENKINS_TOKEN (an API token, which needs no
 * CSRF crumb) the build's description is set to the outcome (POST {build}/submitDescription,
 * form field `description`) and the build is read back with GET {build}/api/json.
 * Environment: JENKINS_URL, BUILD_URL, JOB_NAME, BUILD_NUMBER, GIT_COMMIT, BRANCH_NAME or
 * GIT_BRANCH, CHANGE_ID. */
#include "ci/provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"

static bool jk_detect(void)
{
	return ci_env_is("JENKINS_URL", NULL) && ci_env_is("BUILD_NUMBER", NULL);
}

static int jk_init(struct ci_provider *p)
{
	struct ci_ctx *x = &p->ctx;
	char user[256] = "";
	int rc;

	ci_env_default(x->token, sizeof(x->token), "JENKINS_TOKEN");
	ci_env_default(user, sizeof(user), "JENKINS_USER");
	ci_env_default(x->api_url, sizeof(x->api_url), "JENKINS_URL");
	ci_env_default(x->sha, sizeof(x->sha), "GIT_COMMIT");
	ci_env_default(x->branch, sizeof(x->branch), "BRANCH_NAME");
	ci_env_default(x->branch, sizeof(x->branch), "GIT_BRANCH");
	ci_env_default(x->pr, sizeof(x->pr), "CHANGE_ID");
	ci_env_default(x->build_id, sizeof(x->build_id), "BUILD_NUMBER");
	ci_env_default(x->build_url, sizeof(x->build_url), "BUILD_URL");
	if (!x->api_url[0])
		return ci_fail(p, DTF_EINVAL, "jenkins: JENKINS_URL is not set");
	rc = ci_provider_http(p, x->api_url);
	if (rc)
		return rc;
	if (x->token[0] && user[0])
		snprintf(p->http.basic, sizeof(p->http.basic), "%s:%s", user, x->token);
	return 0;
}

/* The build's path below the Jenkins URL ("job/a/job/b/12/"). */
static void build_path(struct ci_provider *p, char *out, size_t len)
{
	const char *bu = p->ctx.build_url, *ju = getenv("JENKINS_URL");
	const char *job = getenv("JOB_NAME");
	size_t n = ju ? strlen(ju) : 0;

	if (bu[0] && n && strncmp(bu, ju, n) == 0) {
		const char *rest = bu + n;
		while (*rest == '/')
			rest++;
		snprintf(out, len, "/%s%s", rest,
			 rest[0] && rest[strlen(rest) - 1] == '/' ? "" : "/");
		return;
	}
	{
		struct dtf_buf b;
		const char *s = job ? job : "";
		dtf_buf_init(&b, 2048);
		while (*s) {
			size_t k = strcspn(s, "/");
			dtf_buf_printf(&b, "/job/%.*s", (int)k, s);
			s += k;
			while (*s == '/')
				s++;
		}
		snprintf(out, len, "%s/%s/", dtf_buf_str(&b), p->ctx.build_id);
		dtf_buf_release(&b);
	}
}

static int jk_status(struct ci_provider *p, const char *state, const char *desc)
{
	char path[2048];
	struct dtf_buf form;
	int rc;

	if (!p->http.basic[0])
		return 0; /* no credentials: the files are the report */
	build_path(p, path, sizeof(path));
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "submitDescription");
	dtf_buf_init(&form, 8192);
	dtf_buf_adds(&form, "description=");
	{
		char d[600];
		snprintf(d, sizeof(d), "dtf: %s (%s)", desc, state);
		ci_urlencode(d, &form);
	}
	rc = ci_http_request(&p->http, "POST", path, "application/x-www-form-urlencoded", form.data,
			     form.len, NULL);
	dtf_buf_release(&form);
	if (rc)
		return ci_fail(p, rc, "jenkins: setting the build description: %s", p->http.error);
	return 0;
}

static int jk_get_status(struct ci_provider *p, json_t **out)
{
	char path[2048];

	*out = NULL;
	if (!p->http.basic[0])
		return 0;
	build_path(p, path, sizeof(path));
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "api/json");
	return ci_send(p, "GET", path, NULL, out, "jenkins: reading the build");
}

/* archiveArtifacts serves a file at {build}/artifact/{path}. */
static int jk_artifact_url(struct ci_provider *p, const char *name, char *url, size_t len)
{
	const char *bu = p->ctx.build_url;

	if (!bu[0])
		return DTF_ENOTFOUND;
	snprintf(url, len, "%s%sartifact/%s", bu, bu[strlen(bu) - 1] == '/' ? "" : "/", name);
	return 0;
}

const struct ci_provider_ops ci_provider_jenkins = {
    .name = "jenkins",
    .detect = jk_detect,
    .initialize = jk_init,
    .get_artifact_url = jk_artifact_url,
    .get_test_run_status = jk_get_status,
    .set_build_status = jk_status,
};
