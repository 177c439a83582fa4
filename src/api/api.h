/* api.h: the REST front-end (DESIGN.md §5) on the coordinator core: the files of src/api/ share
 * this. A handler parses its request, takes the core's lock, makes one core call (core/ops.h)
 * and turns the outcome into a reply; it decides nothing about tasks or workers itself. The
 * handlers are split by resource: api_tasks.c, api_runs.c, api_workers.c, api_admin.c (health,
 * plugins, the scheduler, recovery, the event stream), metrics.c (/metrics) and api_openapi.c
 * (/api/v1/openapi.json, docs/openapi.json embedded). */
#ifndef DTF_API_API_H
#define DTF_API_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "net/http.h"

struct coord;
struct core_err;

/* The front-end: the server and the replies it holds for the group commit. */
struct dtf_api {
	struct coord *c;
	struct dtf_http_server *http;
	struct dtf_http_req **held; /* replies waiting for the group commit */
	size_t nheld, cap;
	struct dtf_http_route *routes; /* api_routes and the other front-ends' tables, joined */
	struct dtf_keyset *keys;       /* the API keys with their roles (docs/auth.md) */
	char keys_path[4096];	       /* an earlier release's side file of kept keys, or "" */
};

/* Keeps the keys added through the API (their SHA-256s, never the secrets) and the configured
 * keys revoked through it in the store, inside the request's transaction (core_keys_store): its
 * reply waits for the commit. Called with the core's lock held. 0 or a DTF_E* code in e
 * (logged). */
int api_keys_save(struct dtf_api *a, struct core_err *e);

/* The fingerprint of the workers' token secret in file: HMAC-SHA256 of a fixed label keyed with
 * the key that signs tokens, as 64 hex digits and a NUL in hex. What coordinators sharing one
 * database compare (coordinator.c), never the secret nor the key. 0, or DTF_EIO when the file
 * cannot be read or holds less than 16 bytes (the reason in err). */
int dtf_api_token_fingerprint(const char *file, char hex[65], char *err, size_t errlen);

/* Starts serving c's configuration (host, port, keys, TLS) and registers the front-end's hooks
 * with the core (c->fe). The server answers api_routes and, after them, the routes of the
 * tables in extra (NULL-terminated; NULL for none): the other front-ends (GraphQL, the
 * dashboard) share the port, the keys and the group commit, and their handlers use the helpers
 * below, never REST's handlers. NULL with a reason in err. */
struct dtf_api *dtf_api_start(struct coord *c, const struct dtf_http_route *const *extra, char *err,
			      size_t errlen);
unsigned dtf_api_port(const struct dtf_api *a);
/* Reads the configured keys (--api-key and the keys file) again, keeping those added through
 * the API: a SIGHUP. 0, or a DTF_E* code with the reason logged (the old keys then stay). */
int dtf_api_reload_keys(struct dtf_api *a);
/* Answers every suspended request (503, shutting down), stops the server and frees. Accepts
 * NULL. Not under the core's lock. */
void dtf_api_stop(struct dtf_api *a);

/* ---- for the handlers (api.c) ---- */

/* The core a request is for. */
struct coord *api_core(struct dtf_http_req *r);
/* Parses the request body as JSON; on failure replies 400 and returns NULL. */
json_t *api_body_json(struct dtf_http_req *r);
/* Replies with a core error: its kind and message, the HTTP status its code means. */
void api_reply_err(struct dtf_http_req *r, const struct core_err *e);
/* The worker id that sends the request, authenticated by its headers (protocol, token) and
 * marked seen, or NULL after the error reply. Called with the core's lock held. */
struct cworker;
struct cworker *api_worker(struct dtf_http_req *r, const char *id, const json_t *body);
/* The role of the request's key (net/keys.h): DTF_ROLE_ADMIN when the coordinator needs no
 * key. For front-ends whose routes reach several operations (GraphQL): check it per operation. */
int api_role(struct dtf_http_req *r);
/* The project the request's key is limited to, or NULL when it may see every project (and on a
 * coordinator without keys): what front-ends pass to the core's calls that take a project
 * (core/ops.h), so that such a key sees and changes only its project's tasks and runs, on every
 * front-end (docs/auth.md, "Project keys"). */
const char *api_project(struct dtf_http_req *r);
/* The HTTP status a DTF_E* code means to a client. */
unsigned api_status(int code);

/* The handlers, by resource. */
void api_h_tasks_create(struct dtf_http_req *r);
void api_h_tasks_list(struct dtf_http_req *r);
void api_h_tasks_summary(struct dtf_http_req *r);
void api_h_tasks_export(struct dtf_http_req *r);
void api_h_task_get(struct dtf_http_req *r);
void api_h_task_log(struct dtf_http_req *r);
void api_h_task_put(struct dtf_http_req *r);
void api_h_task_delete(struct dtf_http_req *r);
void api_h_task_started(struct dtf_http_req *r);
void api_h_task_result(struct dtf_http_req *r);
void api_h_task_log_append(struct dtf_http_req *r);
void api_h_runs_create(struct dtf_http_req *r);
void api_h_runs_list(struct dtf_http_req *r);
void api_h_run_get(struct dtf_http_req *r);
void api_h_run_summary(struct dtf_http_req *r);
void api_h_run_export(struct dtf_http_req *r);
void api_h_worker_register(struct dtf_http_req *r);
void api_h_worker_heartbeat(struct dtf_http_req *r);
void api_h_worker_lease(struct dtf_http_req *r);
void api_h_workers_list(struct dtf_http_req *r);
void api_h_browsers_list(struct dtf_http_req *r);
void api_h_worker_get(struct dtf_http_req *r);
void api_h_worker_quarantine(struct dtf_http_req *r);
void api_h_healthz(struct dtf_http_req *r);
void api_h_plugins(struct dtf_http_req *r);
void api_h_events(struct dtf_http_req *r);
void api_h_scheduler_get(struct dtf_http_req *r);
void api_h_scheduler_put(struct dtf_http_req *r);
void api_h_recovery_history(struct dtf_http_req *r);
void api_h_recovery_unblock(struct dtf_http_req *r);
void api_h_notifications(struct dtf_http_req *r);
void api_h_metrics(struct dtf_http_req *r);
void api_h_openapi(struct dtf_http_req *r);
void api_h_keys_list(struct dtf_http_req *r);
void api_h_keys_add(struct dtf_http_req *r);
void api_h_keys_revoke(struct dtf_http_req *r);
void api_h_worker_revoke(struct dtf_http_req *r);

/* The route table the server is started with, ended by a NULL method. Every route is described
 * in docs/openapi.json; tests/unit/test_openapi.c checks the two agree both ways. */
extern const struct dtf_http_route api_routes[];
/* docs/openapi.json, embedded at build time (scripts/embed_text.py): what GET /api/v1/openapi.json
 * serves. */
extern const char dtf_openapi_json[];

/* Replies with report document doc (taken) in the ?format= the request asks for. */
void api_reply_report(struct dtf_http_req *r, json_t *doc);

#endif
