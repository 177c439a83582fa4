/* api.c: the REST front-end's frame: starting and stopping its server, the route table, what
 * every handler shares (body parsing, errors as replies), and the hooks through which the core
 * answers what a handler left waiting (a long-poll lease, a run summary, a reply held for the
 * group commit). The handlers themselves are in api_tasks.c, api_runs.c, api_workers.c,
 * api_admin.c, api_scheduler.c, api_recovery.c and metrics.c. */
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "core/model.h"

struct coord *api_core(struct dtf_http_req *r)
{
	return ((struct dtf_api *)r->app)->c;
}

json_t *api_body_json(struct dtf_http_req *r)
{
	char err[200];
	json_t *v;

	if (r->body_len == 0) {
		dtf_http_reply_error(r, 400, "empty_body", "the request needs a JSON body");
		return NULL;
	}
	v = dtf_json_parse(r->body, r->body_len, err, sizeof(err));
	if (!v)
		dtf_http_reply_error(r, 400, "malformed_json", "malformed JSON: %s", err);
	return v;
}

struct cworker *api_worker(struct dtf_http_req *r, const char *id, const json_t *body)
{
	struct core_err e;
	struct cworker *w = core_worker_auth(api_core(r), id, dtf_http_header(r, "X-DTF-Protocol"),
					     dtf_http_header(r, "X-DTF-Worker-Token"), body, &e);

	if (!w) {
		if (e.code == DTF_EAUTH)
			dtf_http_auth_failed(r);
		api_reply_err(r, &e);
	}
	return w;
}

unsigned api_status(int code)
{
	switch (code) {
	case DTF_EINVAL:
	case DTF_EPARSE:
	case DTF_EPROTO:
		return 400;
	case DTF_EAUTH:
		return 401;
	case DTF_EDENIED:
		return 403;
	case DTF_ENOTFOUND:
		return 404;
	case DTF_EEXISTS:
	case DTF_ESTATE:
	case DTF_ESTALE:
		return 409;
	case DTF_ETOOBIG:
		return 413;
	case DTF_ESTORE:
	case DTF_ENOMEM:
	case DTF_ESHUTDOWN:
		return 503;
	default:
		return 500;
	}
}

void api_reply_err(struct dtf_http_req *r, const struct core_err *e)
{
	dtf_http_reply_error(r, api_status(e->code), e->kind, "%s", e->msg);
}

int api_role(struct dtf_http_req *r)
{
	return r->role;
}

const char *api_project(struct dtf_http_req *r)
{
	return r->key.project[0] ? r->key.project : NULL;
}

/* Every route names the least role that may call it (net/keys.h, docs/auth.md): read for what
 * only looks, submit for tasks and runs, admin for the scheduler, recovery, quarantine and keys,
 * worker-enroll for registration, and worker (a worker's own token) for what a worker reports. */
const struct dtf_http_route api_routes[] = {
    {"GET", "/api/v1/events", api_h_events, DTF_ROUTE_READ},
    {"GET", "/api/v1/plugins", api_h_plugins, DTF_ROUTE_READ},
    {"GET", "/api/v1/scheduler", api_h_scheduler_get, DTF_ROUTE_READ},
    {"PUT", "/api/v1/scheduler", api_h_scheduler_put, DTF_ROUTE_ADMIN},
    {"GET", "/healthz", api_h_healthz, DTF_ROUTE_OPEN},
    {"GET", "/metrics", api_h_metrics, DTF_ROUTE_READ},
    {"GET", "/api/v1/openapi.json", api_h_openapi, DTF_ROUTE_READ},
    {"GET", "/api/v1/tasks/summary", api_h_tasks_summary, DTF_ROUTE_READ},
    {"GET", "/api/v1/tasks/export", api_h_tasks_export, DTF_ROUTE_READ},
    {"GET", "/api/v1/tasks", api_h_tasks_list, DTF_ROUTE_READ},
    {"POST", "/api/v1/tasks", api_h_tasks_create, DTF_ROUTE_SUBMIT},
    {"GET", "/api/v1/tasks/{id}/log", api_h_task_log, DTF_ROUTE_READ},
    {"POST", "/api/v1/tasks/{id}/log", api_h_task_log_append, DTF_ROUTE_WORKER},
    {"POST", "/api/v1/tasks/{id}/started", api_h_task_started, DTF_ROUTE_WORKER},
    {"POST", "/api/v1/tasks/{id}/result", api_h_task_result, DTF_ROUTE_WORKER},
    {"GET", "/api/v1/tasks/{id}", api_h_task_get, DTF_ROUTE_READ},
    {"PUT", "/api/v1/tasks/{id}", api_h_task_put, DTF_ROUTE_SUBMIT},
    {"DELETE", "/api/v1/tasks/{id}", api_h_task_delete, DTF_ROUTE_SUBMIT},
    {"GET", "/api/v1/runs", api_h_runs_list, DTF_ROUTE_READ},
    {"POST", "/api/v1/runs", api_h_runs_create, DTF_ROUTE_SUBMIT},
    {"GET", "/api/v1/runs/{id}/summary", api_h_run_summary, DTF_ROUTE_READ},
    {"GET", "/api/v1/runs/{id}/export", api_h_run_export, DTF_ROUTE_READ},
    {"GET", "/api/v1/runs/{id}", api_h_run_get, DTF_ROUTE_READ},
    {"POST", "/api/v1/workers/register", api_h_worker_register, DTF_ROUTE_ENROLL},
    {"GET", "/api/v1/workers", api_h_workers_list, DTF_ROUTE_READ},
    {"POST", "/api/v1/workers/{id}/heartbeat", api_h_worker_heartbeat, DTF_ROUTE_WORKER},
    {"POST", "/api/v1/workers/{id}/lease", api_h_worker_lease, DTF_ROUTE_WORKER},
    {"GET", "/api/v1/workers/{id}", api_h_worker_get, DTF_ROUTE_READ},
    {"GET", "/api/v1/recovery/history", api_h_recovery_history, DTF_ROUTE_READ},
    {"POST", "/api/v1/recovery/unblock", api_h_recovery_unblock, DTF_ROUTE_ADMIN},
    {"GET", "/api/v1/notifications", api_h_notifications, DTF_ROUTE_ADMIN},
    {"POST", "/api/v1/workers/{id}/quarantine", api_h_worker_quarantine, DTF_ROUTE_ADMIN},
    {"DELETE", "/api/v1/workers/{id}/quarantine", api_h_worker_quarantine, DTF_ROUTE_ADMIN},
    {"GET", "/api/v1/keys", api_h_keys_list, DTF_ROUTE_ADMIN},
    {"POST", "/api/v1/keys", api_h_keys_add, DTF_ROUTE_ADMIN},
    {"DELETE", "/api/v1/keys/{name}", api_h_keys_revoke, DTF_ROUTE_ADMIN},
    {"POST", "/api/v1/workers/{id}/revoke", api_h_worker_revoke, DTF_ROUTE_ADMIN},
    {"GET", "/api/v1/browsers", api_h_browsers_list, DTF_ROUTE_READ},
    {NULL, NULL, NULL, 0},
};

/* ---- the core's hooks (called with the core's lock held) ---- */

static bool in_request(void *ctx)
{
	struct dtf_api *a = ctx;

	return a->http && dtf_http_server_in_loop(a->http);
}

static void committed(void *ctx, int rc, const char *why)
{
	struct dtf_api *a = ctx;
	size_t i;

	for (i = 0; i < a->nheld; i++) {
		struct dtf_http_req *r = a->held[i];
		if (rc)
			dtf_http_reply_error(r, 503, "store_error",
					     "the change could not be committed: %s", why);
		dtf_http_release(r);
	}
	a->nheld = 0;
}

static void lease_done(void *ctx, void *waiter, json_t *reply, json_t *tasks, int err,
		       const char *kind, const char *msg)
{
	struct dtf_http_req *r = waiter;

	(void)ctx;
	if (reply) {
		/* Kept to be given back should the reply not reach the worker (on_done). */
		r->app_state = json_incref(tasks);
		dtf_http_reply_json(r, 200, reply);
	} else {
		dtf_http_reply_error(r, api_status(err), kind, "%s", msg);
	}
	dtf_http_resume(r);
}

static void summary_done(void *ctx, void *token, json_t *summary, int err, const char *kind,
			 const char *msg)
{
	struct dtf_http_req *r = token;

	(void)ctx;
	if (summary)
		dtf_http_reply_json(r, 200, summary);
	else
		dtf_http_reply_error(r, api_status(err), kind, "%s", msg);
	dtf_http_resume(r);
}

/* ---- the server's hooks ---- */

/* Asked before each reply is sent: one whose change waits for the group commit is held. */
static bool hold(struct dtf_http_req *r)
{
	struct dtf_api *a = r->app;
	struct coord *c = a->c;
	bool held = false;

	pthread_mutex_lock(&c->lock);
	if (txn_pending(c)) {
		if (a->nheld == a->cap) {
			size_t cap = a->cap ? a->cap * 2 : 64;
			struct dtf_http_req **n = realloc(a->held, cap * sizeof(*n));
			if (!n) {
				/* Cannot wait for the group: commit it now instead. */
				txn_flush(c);
				pthread_mutex_unlock(&c->lock);
				return false;
			}
			a->held = n;
			a->cap = cap;
		}
		dtf_http_hold(r);
		a->held[a->nheld++] = r;
		held = true;
	}
	pthread_mutex_unlock(&c->lock);
	return held;
}

/* After each pass over the ready connections: the group commit, then the summaries it ended. */
static void after_run(void *app)
{
	struct dtf_api *a = app;
	struct coord *c = a->c;

	pthread_mutex_lock(&c->lock);
	if (txn_pending(c) || a->nheld)
		txn_flush(c);
	if (c->run_waiters)
		core_summary_check(c, false);
	pthread_mutex_unlock(&c->lock);
}

/* A request is done. A lease reply that did not reach its worker gives its tasks back at once;
 * a suspended request whose connection is gone is forgotten. */
static void on_done(struct dtf_http_req *r, bool ok)
{
	struct coord *c = api_core(r);
	json_t *tasks = r->app_state;

	if (!tasks && !r->suspend_requested)
		return;
	pthread_mutex_lock(&c->lock);
	/* Only a suspended request can be a worker's waiter or a waiting summary. */
	if (r->suspend_requested) {
		lease_forget(c, r);
		if (c->run_waiters)
			core_summary_forget(c, r);
	}
	if (tasks && !ok)
		lease_undelivered(c, tasks);
	pthread_mutex_unlock(&c->lock);
	json_decref(tasks);
	r->app_state = NULL;
}

/* api_routes and then every table of extra in one zero-terminated table, or NULL. */
static struct dtf_http_route *join_routes(const struct dtf_http_route *const *extra)
{
	const struct dtf_http_route *const *t;
	struct dtf_http_route *all;
	size_t n = 0, i;

	for (i = 0; api_routes[i].method; i++)
		n++;
	for (t = extra; t && *t; t++)
		for (i = 0; (*t)[i].method; i++)
			n++;
	all = calloc(n + 1, sizeof(*all));
	if (!all)
		return NULL;
	n = 0;
	for (i = 0; api_routes[i].method; i++)
		all[n++] = api_routes[i];
	for (t = extra; t && *t; t++)
		for (i = 0; (*t)[i].method; i++)
			all[n++] = (*t)[i];
	return all;
}

/* Fills ks from --api-key and the keys file (origin "config"). */
static int load_keys(struct coord *c, struct dtf_keyset *ks, char *err, size_t errlen)
{
	const char *const *k;
	int rc;

	for (k = c->cfg.api_keys; k && *k; k++) {
		rc = dtf_keyset_add_spec(ks, *k, "config", err, errlen);
		if (rc)
			return rc;
	}
	if (c->cfg.keys_file && *c->cfg.keys_file)
		return dtf_keyset_load_file(ks, c->cfg.keys_file, "config", err, errlen);
	return 0;
}

/* The key set's document in the store (core_keys_store): the keys added through the API (their
 * SHA-256s, never the secrets) and the configured keys revoked through it. A later release that
 * changes it raises format, and this one then refuses to start on it rather than read part of it
 * (a revocation it did not understand would bring a key back). */
#define KEYS_FORMAT 1

int api_keys_save(struct dtf_api *a, struct core_err *e)
{
	json_t *doc = json_pack("{s:i,s:o,s:o}", "format", KEYS_FORMAT, "keys",
				dtf_keyset_export(a->keys, "api"), "revoked_config",
				dtf_keyset_export_revoked(a->keys));
	int rc;

	if (!doc)
		return core_fail(e, DTF_ENOMEM, "unavailable", "out of memory");
	rc = core_keys_store(a->c, doc, e);
	json_decref(doc);
	if (rc)
		log_error("the keys changed through the API were not stored: %s", e->msg);
	return rc;
}

/* Adds the kept keys of doc (the store's, or a side file's of an earlier release: a bare list,
 * or {"keys", "revoked_config"}) to a->keys. */
static int import_keys(struct dtf_api *a, const json_t *doc, const char *from, char *err,
		       size_t errlen)
{
	const json_t *f = json_object_get(doc, "format");

	if (!json_is_object(doc))
		return dtf_keyset_import(a->keys, doc, "api", err, errlen);
	if (f && (!json_is_integer(f) || json_integer_value(f) > KEYS_FORMAT)) {
		snprintf(err, errlen,
			 "the keys kept in %s are of a newer format than this dtf's (%d): "
			 "start a newer dtf",
			 from, KEYS_FORMAT);
		return DTF_EINVAL;
	}
	if (dtf_keyset_import(a->keys, json_object_get(doc, "keys"), "api", err, errlen))
		return DTF_EINVAL;
	return dtf_keyset_import_revoked(a->keys, json_object_get(doc, "revoked_config"), err,
					 errlen);
}

/* An SQLite store of an earlier release kept the keys in <db-path>.keys: read once, while the
 * store holds no key set, and stored (the file is not read again and may be removed). */
static int import_side_file(struct dtf_api *a, char *err, size_t errlen)
{
	struct coord *c = a->c;
	struct core_err e;
	struct stat st;
	char *text = NULL;
	size_t len;
	json_t *doc;
	int rc;

	if (!a->keys_path[0] || stat(a->keys_path, &st) != 0)
		return 0;
	if (st.st_mode & 0077) {
		snprintf(err, errlen, "%s may be read by others (mode %03o): chmod 600 it",
			 a->keys_path, (unsigned)(st.st_mode & 0777));
		return DTF_EDENIED;
	}
	if (dtf_read_file(a->keys_path, 1u << 20, &text, &len) != 0) {
		snprintf(err, errlen, "cannot read %s", a->keys_path);
		return DTF_EIO;
	}
	doc = dtf_json_parse(text, len, err, errlen);
	free(text);
	if (!doc)
		return DTF_EPARSE;
	rc = import_keys(a, doc, a->keys_path, err, errlen);
	json_decref(doc);
	if (rc)
		return rc;
	pthread_mutex_lock(&c->lock);
	rc = api_keys_save(a, &e);
	pthread_mutex_unlock(&c->lock);
	if (rc) {
		snprintf(err, errlen, "cannot store the keys of %s: %s", a->keys_path, e.msg);
		return rc;
	}
	log_info("the keys kept in %s are now in the store: the file is not read any more and "
		 "may be removed",
		 a->keys_path);
	return 0;
}

/* Reads the keys kept by api_keys_save() from the store, else those of an earlier release's side
 * file. */
static int load_kept_keys(struct dtf_api *a, char *err, size_t errlen)
{
	struct coord *c = a->c;
	struct core_err e;
	json_t *doc;
	int rc;

	pthread_mutex_lock(&c->lock);
	rc = core_keys_stored(c, &doc, &e);
	pthread_mutex_unlock(&c->lock);
	if (rc) {
		snprintf(err, errlen, "%s", e.msg);
		return rc;
	}
	if (!doc)
		return import_side_file(a, err, errlen);
	rc = import_keys(a, doc, "the store", err, errlen);
	json_decref(doc);
	return rc;
}

int dtf_api_reload_keys(struct dtf_api *a)
{
	struct dtf_keyset *fresh = dtf_keyset_new();
	char err[512];
	int rc;

	if (!fresh)
		return DTF_ENOMEM;
	/* Parsed aside first, so that a bad file leaves the keys as they were. */
	rc = load_keys(a->c, fresh, err, sizeof(err));
	if (!rc && dtf_keyset_count(fresh) == 0 && a->c->auth.on) {
		snprintf(err, sizeof(err),
			 "the configuration names no key any more, which would "
			 "open the coordinator");
		rc = DTF_EINVAL;
	}
	dtf_keyset_free(fresh);
	if (rc) {
		log_error("keys not reloaded: %s", err);
		return rc;
	}
	dtf_keyset_drop_origin(a->keys, "config");
	rc = load_keys(a->c, a->keys, err, sizeof(err));
	if (rc)
		log_error("keys reloaded in part: %s", err);
	else
		log_info("keys reloaded: %zu keys", dtf_keyset_count(a->keys));
	return rc;
}

/* Any length of secret becomes the 32 bytes that sign tokens. */
static void secret_key(const char *text, size_t len, unsigned char key[32])
{
	unsigned int n = 32;

	HMAC(EVP_sha256(), "dtf-worker-token", 16, (const unsigned char *)text, len, key, &n);
}

int dtf_api_token_fingerprint(const char *file, char hex[65], char *err, size_t errlen)
{
	static const char label[] = "dtf token-secret fingerprint";
	unsigned char key[32], md[32];
	unsigned int n = sizeof(md);
	char *text = NULL;
	size_t len = 0;
	int i;

	if (dtf_read_file(file, 4096, &text, &len) != 0 || len < 16) {
		free(text);
		snprintf(err, errlen, "cannot read the token secret %s (16 bytes at least)", file);
		return DTF_EIO;
	}
	secret_key(text, len, key);
	OPENSSL_cleanse(text, len);
	free(text);
	/* Keyed with the signing key itself: equal fingerprints mean equal keys, and the
	 * fingerprint tells nothing of the key. */
	HMAC(EVP_sha256(), key, sizeof(key), (const unsigned char *)label, sizeof(label) - 1, md,
	     &n);
	OPENSSL_cleanse(key, sizeof(key));
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* The HS256 secret of workers' tokens: the configured file's, else one kept beside the store
 * (made on first use, mode 0600) so that tokens outlive a restart, else a random one. */
static int token_secret(struct coord *c, unsigned char key[32], char *err, size_t errlen)
{
	char path[4096], *text = NULL;
	size_t len = 0;
	const char *file = c->cfg.token_secret_file;
	bool own = false;

	if (!file || !*file) {
		if (!c->cfg.db_path || !*c->cfg.db_path || strcmp(c->cfg.db_path, ":memory:") == 0)
			goto random;
		snprintf(path, sizeof(path), "%s.token-secret", c->cfg.db_path);
		file = path;
		own = true;
	}
	if (dtf_read_file(file, 4096, &text, &len) == 0 && len >= 16) {
		secret_key(text, len, key);
		OPENSSL_cleanse(text, len);
		free(text);
		return 0;
	}
	free(text);
	if (!own) {
		snprintf(err, errlen, "cannot read the token secret %s (16 bytes at least)", file);
		return DTF_EIO;
	}
	if (getrandom(key, 32, 0) == 32) {
		char hex[65];
		int fd, i;
		for (i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", key[i]);
		fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd >= 0) {
			bool ok = write(fd, hex, 64) == 64;
			close(fd);
			if (ok)
				return token_secret(c, key, err, errlen);
		}
		log_warn("cannot keep the token secret in %s: workers register again after a "
			 "restart",
			 file);
		return 0;
	}
random:
	if (getrandom(key, 32, 0) != 32) {
		snprintf(err, errlen, "no random bytes for the token secret");
		return DTF_EIO;
	}
	return 0;
}

struct dtf_api *dtf_api_start(struct coord *c, const struct dtf_http_route *const *extra, char *err,
			      size_t errlen)
{
	struct dtf_api *a = calloc(1, sizeof(*a));
	struct dtf_http_config hc;

	if (a)
		a->routes = join_routes(extra);
	if (!a || !a->routes) {
		free(a);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->c = c;
	a->keys = dtf_keyset_new();
	if (!a->keys) {
		snprintf(err, errlen, "out of memory");
		dtf_api_stop(a);
		return NULL;
	}
	if (c->cfg.db_path && *c->cfg.db_path && strcmp(c->cfg.db_path, ":memory:") != 0 &&
	    !strstr(c->cfg.db_path, "://"))
		snprintf(a->keys_path, sizeof(a->keys_path), "%s.keys", c->cfg.db_path);
	if (load_keys(c, a->keys, err, errlen) || load_kept_keys(a, err, errlen)) {
		dtf_api_stop(a);
		return NULL;
	}
	if (dtf_keyset_count(a->keys) > 0) {
		unsigned char key[32];
		if (token_secret(c, key, err, errlen)) {
			dtf_api_stop(a);
			return NULL;
		}
		pthread_mutex_lock(&c->lock);
		core_auth_setup(c, key, sizeof(key),
				c->cfg.worker_token_ttl_s > 0 ? c->cfg.worker_token_ttl_s : 900);
		pthread_mutex_unlock(&c->lock);
		OPENSSL_cleanse(key, sizeof(key));
	}
	if (c->cfg.metrics_open) {
		struct dtf_http_route *rt;
		for (rt = a->routes; rt->method; rt++)
			if (strcmp(rt->pattern, "/metrics") == 0)
				rt->open = DTF_ROUTE_OPEN;
	}
	pthread_mutex_lock(&c->lock);
	c->fe.ctx = a;
	c->fe.in_request = in_request;
	c->fe.committed = committed;
	c->fe.lease_done = lease_done;
	c->fe.summary_done = summary_done;
	pthread_mutex_unlock(&c->lock);
	memset(&hc, 0, sizeof(hc));
	hc.host = c->cfg.host;
	hc.port = c->cfg.port;
	hc.routes = a->routes;
	hc.app = a;
	hc.keys = a->keys;
	hc.auth_fail_rate = c->cfg.auth_fail_rate;
	hc.auth_fail_burst = c->cfg.auth_fail_burst;
	hc.on_done = on_done;
	hc.tls_cert = c->cfg.tls_cert;
	hc.tls_key = c->cfg.tls_key;
	hc.tls_client_ca = c->cfg.tls_client_ca;
	hc.hold = hold;
	hc.after_run = after_run;
	a->http = dtf_http_server_start(&hc, err, errlen);
	if (!a->http) {
		dtf_api_stop(a);
		return NULL;
	}
	return a;
}

unsigned dtf_api_port(const struct dtf_api *a)
{
	return dtf_http_server_port(a->http);
}

void dtf_api_stop(struct dtf_api *a)
{
	struct coord *c;

	if (!a)
		return;
	c = a->c;
	if (a->http) {
		pthread_mutex_lock(&c->lock);
		core_end_waiting(c);
		pthread_mutex_unlock(&c->lock);
		dtf_events_close(c->events);
		dtf_http_server_stop(a->http);
	}
	pthread_mutex_lock(&c->lock);
	memset(&c->fe, 0, sizeof(c->fe));
	pthread_mutex_unlock(&c->lock);
	free(a->held);
	free(a->routes);
	dtf_keyset_free(a->keys);
	free(a);
}
