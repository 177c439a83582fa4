/* provider.h: the CI provider interface (the seeds' CIProviderInterface) and its factory.
 * Each provider (provider_<name>.c) fills one ops table; `dtf ci` drives it:
 *   initialize → create_test_run → update_test_run (progress, then the final result) →
 *   upload_artifact / get_artifact_url → add_pr_comment → set_build_status → close.
 * Operations a service does not offer are NULL; the caller skips them. Every operation
 * returns 0 or a negative DTF_E* code and leaves a reason (token masked) in p->error. */
#ifndef DTF_CI_PROVIDER_H
#define DTF_CI_PROVIDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "ci/http.h"

/* The hidden line that marks our pull-request comment, so a re-run edits it in place. */
#define CI_COMMENT_MARKER "<!-- dtf-ci-report -->"
/* Longest Markdown put in a comment (GitHub takes 65536 characters). */
#define CI_COMMENT_MAX 60000

/* What `dtf ci` knows about the CI job. Flags fill it first; initialize() completes it from
 * the provider's environment variables and leaves what is already set. */
struct ci_ctx {
	char api_url[512]; /* service API base URL */
	char token[1024];  /* never printed */
	char user[256];	   /* for basic auth (Jenkins user, Bitbucket user) */
	char repo[256];	   /* owner/repo, GitLab project id, Bitbucket workspace/slug, … */
	char sha[128];	   /* commit under test */
	char branch[256];
	char pr[64];	      /* pull/merge request number, "" when not a PR build */
	char build_id[128];   /* the CI's id for this build or job */
	char build_url[1024]; /* link to the build in the CI's web UI */
	char run_name[128];   /* the name shown in the CI ("dtf") */
	char output_dir[1024];
	bool verbose;
};

struct ci_provider;

struct ci_provider_ops {
	const char *name;
	/* True when the environment says this CI runs us (for --provider auto). */
	bool (*detect)(void);
	/* Reads the environment into p->ctx and prepares p->http. Fails on missing settings. */
	int (*initialize)(struct ci_provider *p);
	/* Announces the run: info = {"name", "total"}. Sets p->run_ref when the service gives
	 * the run an id. */
	int (*create_test_run)(struct ci_provider *p, const json_t *info);
	/* Progress and the end: update = {"status": "in_progress"|"completed", "summary": {…},
	 * "tasks": [… task views …] (when wants_tasks), "doc": the prepared run document and
	 * "markdown": its Markdown (when completed)}. */
	int (*update_test_run)(struct ci_provider *p, const json_t *update);
	/* Posts the report as a PR/MR comment, or edits our earlier one. */
	int (*add_pr_comment)(struct ci_provider *p, const char *markdown);
	/* Uploads one file (path) under name. */
	int (*upload_artifact)(struct ci_provider *p, const char *path, const char *name);
	/* Where an uploaded artifact can be fetched from. */
	int (*get_artifact_url)(struct ci_provider *p, const char *name, char *url, size_t len);
	/* The service's view of the run or job (a new JSON object in *out). */
	int (*get_test_run_status)(struct ci_provider *p, json_t **out);
	/* Marks the commit/build: state is "pending", "success", "failure" or "error". */
	int (*set_build_status)(struct ci_provider *p, const char *state, const char *description);
	/* Releases what initialize() set up. */
	void (*close)(struct ci_provider *p);
	/* update_test_run wants the task list while the run progresses (real-time reporting). */
	bool wants_tasks;
};

struct ci_provider {
	const struct ci_provider_ops *ops;
	struct ci_ctx ctx;
	struct ci_http http;
	bool http_ready;
	char run_ref[128]; /* the service's id for our test run / check / report */
	char error[512];
	FILE *out;     /* stdout: annotations and service messages */
	json_t *state; /* provider-private (an object); freed by ci_provider_free */
};

/* The providers, by name ("github", …, "local"; "generic" is "local"). NULL if unknown. */
const struct ci_provider_ops *ci_provider_find(const char *name);
/* The provider whose detect() holds, in a fixed order; NULL outside a known CI. */
const struct ci_provider_ops *ci_provider_detect(void);
/* Comma-separated list of the provider names, for usage messages. */
const char *ci_provider_names(void);
/* A new provider with ctx copied in (not yet initialized). Free with ci_provider_free. */
struct ci_provider *ci_provider_new(const struct ci_provider_ops *ops, const struct ci_ctx *ctx);
/* Calls close() (when initialized) and frees p; accepts NULL. */
void ci_provider_free(struct ci_provider *p);

/* ---- helpers for the providers ---- */

/* Copies $name into dst when dst is empty and the variable is set and non-empty. */
void ci_env_default(char *dst, size_t len, const char *name);
/* True when $name is set to a non-empty value (and equals want, case-insensitively, if
 * want is not NULL). */
bool ci_env_is(const char *name, const char *want);
/* Sets up p->http for p->ctx.api_url (or dflt when empty), masking the token. */
int ci_provider_http(struct ci_provider *p, const char *dflt);
/* Records a failure: formats p->error (token masked) and returns rc. */
int ci_fail(struct ci_provider *p, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sends body (taken: released here; NULL for none) as JSON with method to path on p->http,
 * storing a JSON reply in *out when out is not NULL (the caller frees it). On failure records
 * "<what>: <the HTTP error>" as ci_fail() does and returns its code; 0 otherwise. */
int ci_send(struct ci_provider *p, const char *method, const char *path, json_t *body, json_t **out,
	    const char *what);
/* Where a forge keeps a pull request's comments, for ci_upsert_comment(). Each path is complete
 * (already holding the repository and the pull request). */
struct ci_comment_api {
	const char *list_path;	   /* GET: the comments, a page of 100 */
	const char *list_key;	   /* the array in the reply; NULL when the reply is the array */
	const char *body_path;	   /* where a comment's text is: "body", "content.raw" */
	const char *update_base;   /* <update_method> <update_base>/<id> rewrites our comment */
	const char *update_method; /* "PATCH" or "PUT" */
	const char *create_path;   /* POST here adds it */
	const char *listing;	   /* for errors: "github: listing PR comments" */
	const char *writing;	   /* for errors: "github: writing the PR comment" */
};
/* Writes dtf's one comment on a pull request: rewrites the comment that carries the marker
 * (see ci_comment_body), or adds it when there is none. body (taken) is the request body.
 * 0, or a DTF_E* code recorded as ci_fail() does. */
int ci_upsert_comment(struct ci_provider *p, const struct ci_comment_api *api, json_t *body);
/* The PR comment body: marker + markdown (cut past CI_COMMENT_MAX). Caller frees. */
char *ci_comment_body(const char *markdown);
/* In a JSON array of comments, the id (as a string into out) of the first whose string at
 * body_path (e.g. "body", "content.raw") contains the marker. Returns true if found. */
bool ci_find_marked(const json_t *comments, const char *body_path, const char *id_key, char *out,
		    size_t len);
/* The outcome of a task view: "passed", "failed", "skipped", "cancelled", "running",
 * "pending". */
const char *ci_task_outcome(const json_t *task);
/* The task's failure message (error.message, else kind, else the last stderr line). */
void ci_task_message(const json_t *task, char *out, size_t len);
/* Overall state from a summary: "success" when nothing failed, else "failure". */
const char *ci_summary_state(const json_t *summary);
/* A one-line description: "12 tests: 10 passed, 1 failed, 1 skipped". */
void ci_summary_line(const json_t *summary, char *out, size_t len);

extern const struct ci_provider_ops ci_provider_github, ci_provider_gitlab, ci_provider_jenkins,
    ci_provider_azure, ci_provider_circleci, ci_provider_travis, ci_provider_teamcity,
    ci_provider_bitbucket, ci_provider_local;

#endif
