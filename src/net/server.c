/* server.c: the HTTP router over libmicrohttpd: body accumulation with a cap, route matching
 * with {param} segments, API keys, JSON errors, and suspend/resume for long-polls. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "net/http.h"
#include "net/tls.h"

/* Each connection's MHD memory pool (headers and the read buffer; bodies are copied out as they
 * arrive). MHD clears the pool for every request, so a smaller one is cheaper per request and per
 * idle long-poll connection than the default 32 KiB. */
#define CONN_POOL (12u << 10)
/* Connections at once: every worker holds one for its long-poll, and a coordinator serves 10,000
 * workers (bench/RESULTS.md, "One million tasks"); the descriptors are raised to match at
 * start-up (core.c) where the hard limit allows. */
#define CONN_LIMIT 20000u

struct suspended {
	struct dtf_http_req *r;
	struct suspended *next;
};

/* Failed authentication, per client address (hashed into a fixed table: two addresses that share
 * a slot share its tries, which errs on the side of refusing). */
#define RL_SLOTS 1024

struct rl_slot {
	double tokens;
	int64_t at_ms; /* 0: never used (full) */
};

struct dtf_http_server {
	struct MHD_Daemon *d;
	struct rl_slot rl[RL_SLOTS]; /* used on the server's thread only */
	double rl_rate, rl_burst;
	atomic_ullong auth_failures, auth_limited;
	struct dtf_http_config cfg;
	unsigned port;
	pthread_mutex_t lock; /* guards the suspended list and each request's resumed flag */
	struct suspended *suspended;
	char *client_ca; /* PEM of --tls-client-ca: every client must show a cert it signed */
	bool tls;
	pthread_t loop; /* the event loop: every handler runs on it */
	bool loop_running;
	volatile bool stop;
};

const char *dtf_http_query(struct dtf_http_req *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

static void add_pct(struct dtf_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			dtf_buf_add(b, s, 1);
		} else {
			char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};

			dtf_buf_add(b, e, 3);
		}
	}
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	struct dtf_buf *b = cls;

	(void)kind;
	dtf_buf_adds(b, b->len ? "&" : "?");
	add_pct(b, key);
	if (value) {
		dtf_buf_adds(b, "=");
		add_pct(b, value);
	}
	return MHD_YES;
}

/* The query string as a client may send it again ("?a=1&b=x%20y", or "" when there is none):
 * libmicrohttpd keeps the decoded arguments only, so they are encoded anew. */
void dtf_http_query_string(struct dtf_http_req *r, struct dtf_buf *out)
{
	dtf_buf_reset(out);
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_arg, out);
}

const char *dtf_http_header(struct dtf_http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

void dtf_http_reply_json(struct dtf_http_req *r, unsigned status, json_t *body)
{
	r->status = status;
	r->content_type = "application/json";
	dtf_buf_reset(&r->resp);
	if (body && dtf_json_dump(body, &r->resp) != 0) {
		dtf_buf_reset(&r->resp);
		r->status = 500;
		dtf_buf_adds(
		    &r->resp,
		    "{\"error\":{\"code\":\"internal\",\"message\":\"response too large\"}}");
	}
	json_decref(body);
}

void dtf_http_reply_error(struct dtf_http_req *r, unsigned status, const char *code,
			  const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dtf_http_reply_json(r, status,
			    json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

void dtf_http_suspend(struct dtf_http_req *r)
{
	struct dtf_http_server *s = r->server;
	struct suspended *e = malloc(sizeof(*e));

	if (!e) {
		dtf_http_reply_error(r, 503, "unavailable", "out of memory");
		return;
	}
	r->suspend_requested = true;
	r->resumed = false;
	MHD_suspend_connection(r->conn);
	pthread_mutex_lock(&s->lock);
	e->r = r;
	e->next = s->suspended;
	s->suspended = e;
	pthread_mutex_unlock(&s->lock);
}

void dtf_http_resume(struct dtf_http_req *r)
{
	struct dtf_http_server *s = r->server;
	struct suspended **pp, *e = NULL;

	pthread_mutex_lock(&s->lock);
	if (!r->resumed && r->suspend_requested) {
		for (pp = &s->suspended; *pp; pp = &(*pp)->next) {
			if ((*pp)->r == r) {
				e = *pp;
				*pp = e->next;
				break;
			}
		}
		r->resumed = true;
		MHD_resume_connection(r->conn);
	}
	pthread_mutex_unlock(&s->lock);
	free(e);
}

/* Matches path against pattern, capturing {x} segments into r->param (pointing into a copy). */
static bool route_match(const char *pattern, const char *path, char *scratch, size_t scratch_len,
			const char **params)
{
	size_t used = 0;
	int np = 0;

	/* "*": every path (a standby coordinator's one answer to everything). */
	if (pattern[0] == '*' && pattern[1] == '\0')
		return true;
	while (*pattern && *path) {
		if (*pattern == '{') {
			const char *pend = strchr(pattern, '}');
			size_t n = strcspn(path, "/");
			if (!pend || n == 0 || np >= DTF_HTTP_MAX_PARAMS ||
			    used + n + 1 > scratch_len)
				return false;
			memcpy(scratch + used, path, n);
			scratch[used + n] = '\0';
			params[np++] = scratch + used;
			used += n + 1;
			pattern = pend + 1;
			path += n;
			continue;
		}
		if (*pattern != *path)
			return false;
		pattern++;
		path++;
	}
	/* A trailing slash on the request is tolerated. */
	if (*path == '/' && path[1] == '\0')
		path++;
	return *pattern == '\0' && *path == '\0';
}

/* Compares a presented key with a configured one in time that depends on their lengths only,
 * so that a client cannot learn a key a byte at a time from response times. */
static bool key_eq(const char *got, const char *want)
{
	size_t n = strlen(got), m = strlen(want), i;
	unsigned char d = n != m;

	for (i = 0; i < n && i < m; i++)
		d |= (unsigned char)(got[i] ^ want[i]);
	return d == 0;
}

int dtf_http_route_role(const struct dtf_http_route *rt)
{
	int need = DTF_ROUTE_NEEDS(rt->open);

	if (DTF_ROUTE_ACCESS(rt->open) == DTF_ROUTE_OPEN)
		return DTF_ROLE_NONE;
	if (need)
		return need;
	return strcmp(rt->method, "GET") == 0 ? DTF_ROLE_READ : DTF_ROLE_ADMIN;
}

static bool keys_required(const struct dtf_http_server *s)
{
	if (s->cfg.keys)
		return dtf_keyset_count(s->cfg.keys) > 0;
	return s->cfg.api_keys && s->cfg.api_keys[0];
}

bool dtf_http_keys_required(const struct dtf_http_req *r)
{
	return keys_required(r->server);
}

bool dtf_http_tls(const struct dtf_http_req *r)
{
	return r->server->tls;
}

bool dtf_http_key_lookup(const struct dtf_http_req *r, const char *key, struct dtf_key_info *out)
{
	const struct dtf_http_server *s = r->server;
	const char *const *k;
	bool ok = false;

	if (!key || !*key || !keys_required(s))
		return false;
	if (s->cfg.keys)
		return dtf_keyset_lookup(s->cfg.keys, key, out);
	for (k = s->cfg.api_keys; *k; k++)
		ok |= key_eq(key, *k);
	if (ok && out) {
		memset(out, 0, sizeof(*out));
		snprintf(out->name, sizeof(out->name), "default");
		out->role = DTF_ROLE_ADMIN;
	}
	return ok;
}

bool dtf_http_key_valid(const struct dtf_http_req *r, const char *key)
{
	if (!dtf_http_keys_required(r))
		return true;
	return dtf_http_key_lookup(r, key, NULL);
}

/* The request's key: Authorization: Bearer, X-API-Key, or, for a GET, the dashboard's dtf_key
 * cookie (set by its login form). The cookie is a key only for reading: a browser sends it
 * with any request to this origin, even one another site's page makes it send, so a change
 * (POST, PUT, DELETE) must carry the key in a header, which no other site can make a browser
 * add. Fills r->role and r->key; returns false when a key was presented and none was valid
 * (a failed authentication), true otherwise (r->role stays DTF_ROLE_NONE without a key). */
static bool key_role(struct dtf_http_server *s, struct dtf_http_req *r)
{
	const char *auth, *xkey, *cookie;
	bool presented = false;

	r->role = DTF_ROLE_NONE;
	memset(&r->key, 0, sizeof(r->key));
	if (!keys_required(s)) {
		r->role = DTF_ROLE_ADMIN;
		return true;
	}
	auth = dtf_http_header(r, "Authorization");
	xkey = dtf_http_header(r, "X-API-Key");
	if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
		presented = true;
		if (dtf_http_key_lookup(r, auth + 7, &r->key))
			goto found;
	}
	if (xkey) {
		presented = true;
		if (dtf_http_key_lookup(r, xkey, &r->key))
			goto found;
	}
	if (strcmp(r->method, "GET") == 0) {
		cookie = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, "dtf_key");
		if (cookie) {
			presented = true;
			if (dtf_http_key_lookup(r, cookie, &r->key))
				goto found;
		}
	}
	return !presented;
found:
	r->role = r->key.role;
	return true;
}

/* ---- failed authentication, per client address ---- */

static struct rl_slot *rl_slot(struct dtf_http_server *s, struct dtf_http_req *r)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	const unsigned char *p = NULL;
	size_t n = 0, i;
	uint32_t h = 2166136261u;
	struct rl_slot *sl;
	int64_t now = dtf_mono_ms();

	if (sa && sa->sa_family == AF_INET) {
		p = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
		n = 4;
	} else if (sa && sa->sa_family == AF_INET6) {
		p = (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
		n = 16;
	}
	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	sl = &s->rl[h % RL_SLOTS];
	if (sl->at_ms == 0) {
		sl->tokens = s->rl_burst;
	} else {
		sl->tokens += (double)(now - sl->at_ms) / 1000.0 * s->rl_rate;
		if (sl->tokens > s->rl_burst)
			sl->tokens = s->rl_burst;
	}
	sl->at_ms = now;
	return sl;
}

void dtf_http_auth_failed(struct dtf_http_req *r)
{
	struct rl_slot *sl = rl_slot(r->server, r);

	atomic_fetch_add(&r->server->auth_failures, 1);
	sl->tokens = sl->tokens >= 1 ? sl->tokens - 1 : 0;
}

bool dtf_http_auth_limited(struct dtf_http_req *r)
{
	if (rl_slot(r->server, r)->tokens >= 1)
		return false;
	atomic_fetch_add(&r->server->auth_limited, 1);
	return true;
}

void dtf_http_auth_stats(const struct dtf_http_server *s, uint64_t *failures, uint64_t *limited)
{
	*failures = atomic_load(&s->auth_failures);
	*limited = atomic_load(&s->auth_limited);
}

static void reply_limited(struct dtf_http_req *r)
{
	dtf_http_reply_error(r, 429, "too_many_auth_failures",
			     "too many failed authentications from this address; try again later");
	r->extra_header[0] = "Retry-After";
	r->extra_header[1] = "1";
}

int dtf_http_add_header(struct dtf_http_req *r, const char *name, const char *value)
{
	size_t len = r->headers.len;

	if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
		return DTF_EINVAL;
	if (dtf_buf_add(&r->headers, name, strlen(name) + 1) ||
	    dtf_buf_add(&r->headers, value, strlen(value) + 1)) {
		dtf_buf_truncate(&r->headers, len);
		return DTF_ENOMEM;
	}
	return 0;
}

/* Adds the headers of dtf_http_add_header to resp. */
static void add_headers(struct MHD_Response *resp, const struct dtf_http_req *r)
{
	const char *p = r->headers.data, *end = p + r->headers.len;

	while (p && p < end) {
		const char *v = p + strlen(p) + 1;
		MHD_add_response_header(resp, p, v);
		p = v + strlen(v) + 1;
	}
}

struct req_scratch {
	struct dtf_http_req r;
	char params[512];
};

static void dispatch(struct dtf_http_server *s, struct dtf_http_req *r)
{
	struct req_scratch *rs = (struct req_scratch *)r;
	const struct dtf_http_route *rt;
	bool path_known = false, key_ok;
	int need;

	r->status = 200;
	r->content_type = "application/json";
	if (r->too_big) {
		dtf_http_reply_error(r, 413, "body_too_large",
				     "request body exceeds the limit of %u bytes",
				     DTF_HTTP_MAX_BODY);
		return;
	}
	if (s->client_ca) {
		/* Checked once per connection (the chain's verification is the expensive part);
		 * the flag lives in the connection's socket context (on_connection). */
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		bool *verified = ci ? ci->socket_context : NULL;
		char why[300];
		if (!(verified && *verified) && !dtf_tls_peer_ok(r->conn, why, sizeof(why))) {
			dtf_http_reply_error(r, 403, "client_certificate", "%s", why);
			return;
		}
		if (verified)
			*verified = true;
	}
	for (rt = s->cfg.routes; rt && rt->method; rt++) {
		const char *params[DTF_HTTP_MAX_PARAMS] = {0};
		if (!route_match(rt->pattern, r->path, rs->params, sizeof(rs->params), params))
			continue;
		path_known = true;
		if (strcmp(rt->method, r->method) != 0 && strcmp(rt->method, "*") != 0)
			continue;
		need = dtf_http_route_role(rt);
		if (need != DTF_ROLE_NONE && keys_required(s) && dtf_http_auth_limited(r)) {
			reply_limited(r);
			return;
		}
		key_ok = key_role(s, r);
		if (need == DTF_ROLE_WORKER && r->role != DTF_ROLE_ADMIN &&
		    dtf_http_header(r, "X-DTF-Worker-Token")) {
			/* The worker's token is its credential here: the key it also sends (its
			 * enrollment key, perhaps revoked since) is neither needed nor a failure.
			 */
			key_ok = true;
			memset(&r->key, 0, sizeof(r->key));
			/* The handler verifies the worker's token. */
			r->role = DTF_ROLE_WORKER;
		}
		/* A stale key sent to an open route (a health check) is no guess. */
		if (!key_ok && need != DTF_ROLE_NONE)
			dtf_http_auth_failed(r);
		if (DTF_ROUTE_ACCESS(rt->open) == DTF_ROUTE_PAGE && strcmp(r->method, "GET") == 0 &&
		    !dtf_role_allows(r->role, need)) {
			/* A person at a browser: the login form, not a JSON error. */
			r->status = 303;
			r->content_type = "text/html; charset=utf-8";
			dtf_buf_reset(&r->resp);
			dtf_buf_adds(&r->resp, "<!DOCTYPE html><title>Sign in</title>"
					       "<a href=\"/login\">Sign in</a>\n");
			r->extra_header[0] = "Location";
			r->extra_header[1] = "/login";
			return;
		}
		if (need != DTF_ROLE_NONE && r->role == DTF_ROLE_NONE) {
			dtf_http_reply_error(r, 401, "unauthorized",
					     key_ok
						 ? "a valid API key is required (Authorization: "
						   "Bearer KEY or X-API-Key: KEY)"
						 : "the API key is not valid (unknown or revoked)");
			r->extra_header[0] = "WWW-Authenticate";
			r->extra_header[1] = "Bearer";
			return;
		}
		if (!dtf_role_allows(r->role, need) &&
		    !(need == DTF_ROLE_WORKER && r->role == DTF_ROLE_ADMIN)) {
			dtf_http_reply_error(r, 403, "forbidden",
					     "key '%s' has role %s; %s %s needs %s", r->key.name,
					     dtf_role_name(r->role), r->method, rt->pattern,
					     dtf_role_name(need));
			return;
		}
		memcpy(r->param, params, sizeof(params));
		rt->fn(r);
		return;
	}
	if (path_known)
		dtf_http_reply_error(r, 405, "method_not_allowed", "method %s is not allowed on %s",
				     r->method, r->path);
	else
		dtf_http_reply_error(r, 404, "not_found", "no such endpoint: %s %s", r->method,
				     r->path);
}

void dtf_http_hold(struct dtf_http_req *r)
{
	r->held = true;
	MHD_suspend_connection(r->conn);
}

void dtf_http_release(struct dtf_http_req *r)
{
	if (!r->held || r->released)
		return;
	r->released = true;
	MHD_resume_connection(r->conn);
}

bool dtf_http_server_in_loop(const struct dtf_http_server *s)
{
	return s && s->loop_running && pthread_equal(pthread_self(), s->loop);
}

/* The event loop: one MHD pass over every ready connection, then the app's after_run (which
 * commits what those requests changed, as one transaction, and releases their responses). */
static void *loop_main(void *arg)
{
	struct dtf_http_server *s = arg;

	while (!s->stop) {
		MHD_run_wait(s->d, 50);
		if (s->cfg.after_run)
			s->cfg.after_run(s->cfg.app);
	}
	/* Commit what the last pass changed, then send what that released. */
	if (s->cfg.after_run)
		s->cfg.after_run(s->cfg.app);
	MHD_run(s->d);
	return NULL;
}

void dtf_http_conn_pause(struct MHD_Connection *conn)
{
	MHD_suspend_connection(conn);
}

void dtf_http_conn_resume(struct MHD_Connection *conn)
{
	MHD_resume_connection(conn);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct dtf_http_req *r = cls;
	long n;

	(void)pos;
	n = r->stream(r->stream_cls, buf, max);
	if (n < 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return (ssize_t)n;
}

static enum MHD_Result send_stream(struct dtf_http_req *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, r, NULL);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", r->content_type);
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	add_headers(resp, r);
	ret = MHD_queue_response(r->conn, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result send_response(struct dtf_http_req *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len;
	char *data;

	if (r->stream)
		return send_stream(r);
	data = dtf_buf_detach(&r->resp, &len);

	resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", r->content_type);
	if (r->extra_header[0])
		MHD_add_response_header(resp, r->extra_header[0], r->extra_header[1]);
	add_headers(resp, r);
	ret = MHD_queue_response(r->conn, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct dtf_http_server *s = cls;
	struct dtf_http_req *r = *con_cls;

	(void)version;
	if (!r) {
		struct req_scratch *rs = calloc(1, sizeof(*rs));
		if (!rs)
			return MHD_NO;
		r = &rs->r;
		r->method = method;
		r->path = url;
		r->conn = conn;
		r->app = s->cfg.app;
		r->server = s;
		r->received_ms = dtf_mono_ms();
		dtf_buf_init(&r->body_buf, DTF_HTTP_MAX_BODY);
		dtf_buf_init(&r->resp, (size_t)1 << 30);
		dtf_buf_init(&r->headers, 64u << 10);
		*con_cls = r;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!r->too_big && dtf_buf_add(&r->body_buf, upload, *upload_size) != 0) {
			r->too_big = true;
			dtf_buf_release(&r->body_buf);
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (!r->handled) {
		r->handled = true;
		r->body = dtf_buf_str(&r->body_buf);
		r->body_len = r->body_buf.len;
		dispatch(s, r);
		if (r->suspend_requested && !r->resumed)
			return MHD_YES;
		if (r->suspend_requested)
			return MHD_YES; /* resumed already: MHD calls again */
	}
	/* The app may hold the response until what the request changed is committed. */
	if (!r->released && !r->stream && s->cfg.hold && s->cfg.hold(r))
		return MHD_YES;
	return send_response(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct dtf_http_server *s = cls;
	struct dtf_http_req *r = *con_cls;

	(void)conn;
	if (!r)
		return;
	if (r->handled && s->cfg.on_done)
		s->cfg.on_done(r, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
	if (r->stream_free)
		r->stream_free(r->stream_cls);
	dtf_buf_release(&r->body_buf);
	dtf_buf_release(&r->resp);
	dtf_buf_release(&r->headers);
	free(r);
	*con_cls = NULL;
}

/* MHD_OPTION_NOTIFY_CONNECTION with --tls-client-ca: a flag per connection that says its client
 * certificate was verified. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	(void)conn;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_context = calloc(1, sizeof(bool));
	} else {
		free(*socket_context);
		*socket_context = NULL;
	}
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("http: %s", msg);
}

struct dtf_http_server *dtf_http_server_start(const struct dtf_http_config *cfg, char *err,
					      size_t errlen)
{
	struct dtf_http_server *s = calloc(1, sizeof(*s));
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;
	struct sockaddr *addr;
	const char *host = cfg->host && *cfg->host ? cfg->host : "127.0.0.1";
	unsigned flags = MHD_USE_EPOLL_LINUX_ONLY | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;
	size_t len;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->cfg = *cfg;
	s->rl_rate = cfg->auth_fail_rate > 0 ? cfg->auth_fail_rate : 10;
	s->rl_burst = cfg->auth_fail_burst >= 1 ? cfg->auth_fail_burst : 20;
	pthread_mutex_init(&s->lock, NULL);
	memset(&a4, 0, sizeof(a4));
	memset(&a6, 0, sizeof(a6));
	if (inet_pton(AF_INET, host, &a4.sin_addr) == 1) {
		a4.sin_family = AF_INET;
		a4.sin_port = htons((uint16_t)cfg->port);
		addr = (struct sockaddr *)&a4;
	} else if (strcmp(host, "localhost") == 0) {
		a4.sin_family = AF_INET;
		a4.sin_port = htons((uint16_t)cfg->port);
		a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		addr = (struct sockaddr *)&a4;
	} else if (inet_pton(AF_INET6, host, &a6.sin6_addr) == 1) {
		a6.sin6_family = AF_INET6;
		a6.sin6_port = htons((uint16_t)cfg->port);
		addr = (struct sockaddr *)&a6;
		flags |= MHD_USE_IPv6;
	} else {
		snprintf(err, errlen, "cannot use host '%s': give an IPv4 or IPv6 address", host);
		goto fail;
	}
	if (cfg->tls_cert || cfg->tls_key) {
		if (!cfg->tls_cert || !cfg->tls_key) {
			snprintf(err, errlen, "TLS needs both --tls-cert and --tls-key");
			goto fail;
		}
		if (dtf_tls_server_load(cfg->tls_cert, cfg->tls_key, err, errlen) != 0)
			goto fail;
		s->tls = true;
		flags |= MHD_USE_TLS;
	}
	if (cfg->tls_client_ca && *cfg->tls_client_ca) {
		if (!s->tls) {
			snprintf(err, errlen, "--tls-client-ca needs --tls-cert and --tls-key");
			goto fail;
		}
		if (dtf_read_file(cfg->tls_client_ca, 1 << 20, &s->client_ca, &len) != 0) {
			snprintf(err, errlen, "cannot read the client CA %s", cfg->tls_client_ca);
			goto fail;
		}
	}
	if (s->tls) {
		/* The certificate comes from a callback, so that SIGHUP can replace it (tls.c). A
		 * trust list makes MHD ask each client for a certificate; dispatch() refuses the
		 * requests of a connection without a valid one. MHD takes no NULL trust list, hence
		 * two calls. */
		if (s->client_ca)
			s->d = MHD_start_daemon(
			    flags, (uint16_t)cfg->port, NULL, NULL, on_request, s,
			    MHD_OPTION_SOCK_ADDR, addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
			    s, MHD_OPTION_CONNECTION_LIMIT, CONN_LIMIT,
			    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_POOL,
			    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
			    MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
			    MHD_OPTION_HTTPS_CERT_CALLBACK, dtf_tls_cert_callback(),
			    MHD_OPTION_HTTPS_MEM_TRUST, s->client_ca, MHD_OPTION_NOTIFY_CONNECTION,
			    on_connection, NULL, MHD_OPTION_END);
		else
			s->d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request,
						s, MHD_OPTION_SOCK_ADDR, addr,
						MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
						MHD_OPTION_CONNECTION_LIMIT, CONN_LIMIT,
						MHD_OPTION_CONNECTION_MEMORY_LIMIT,
						(size_t)CONN_POOL, MHD_OPTION_CONNECTION_TIMEOUT,
						(unsigned)120, MHD_OPTION_EXTERNAL_LOGGER, log_mhd,
						NULL, MHD_OPTION_HTTPS_CERT_CALLBACK,
						dtf_tls_cert_callback(), MHD_OPTION_END);
	} else {
		s->d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request, s,
					MHD_OPTION_SOCK_ADDR, addr, MHD_OPTION_NOTIFY_COMPLETED,
					on_completed, s, MHD_OPTION_CONNECTION_LIMIT, CONN_LIMIT,
					MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_POOL,
					MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
					MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL, MHD_OPTION_END);
	}
	if (!s->d) {
		snprintf(err, errlen, "cannot listen on %s port %u (in use, or TLS unsupported)",
			 host, cfg->port);
		goto fail;
	}
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : cfg->port;
	if (pthread_create(&s->loop, NULL, loop_main, s) != 0) {
		MHD_stop_daemon(s->d);
		snprintf(err, errlen, "cannot start the HTTP thread");
		goto fail;
	}
	s->loop_running = true;
	return s;
fail:
	if (s->tls)
		dtf_tls_server_unload();
	free(s->client_ca);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return NULL;
}

unsigned dtf_http_server_port(const struct dtf_http_server *s)
{
	return s->port;
}

void dtf_http_server_stop(struct dtf_http_server *s)
{
	if (!s)
		return;
	for (;;) {
		struct dtf_http_req *r = NULL;
		pthread_mutex_lock(&s->lock);
		if (s->suspended)
			r = s->suspended->r;
		pthread_mutex_unlock(&s->lock);
		if (!r)
			break;
		dtf_http_reply_error(r, 503, "shutting_down", "the coordinator is shutting down");
		dtf_http_resume(r);
	}
	s->stop = true;
	if (s->loop_running)
		pthread_join(s->loop, NULL);
	s->loop_running = false;
	MHD_stop_daemon(s->d);
	pthread_mutex_destroy(&s->lock);
	if (s->tls)
		dtf_tls_server_unload();
	free(s->client_ca);
	free(s);
}

int dtf_http_server_reload_tls(struct dtf_http_server *s, char *err, size_t errlen)
{
	if (!s || !s->tls) {
		snprintf(err, errlen, "the server does not use TLS");
		return DTF_EINVAL;
	}
	return dtf_tls_server_reload(err, errlen);
}
