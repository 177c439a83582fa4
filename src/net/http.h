/* http.h: the HTTP/1.1 server (a router over libmicrohttpd) and the JSON HTTP client (libcurl)
 * that every dtf process uses. The server runs one epoll thread; handlers run on it one at a
 * time and must not block; after each pass over the ready connections it calls the app's
 * after_run (group commit). A handler may suspend its request (long-poll) and another thread may
 * later fill the response and resume it. */
#ifndef DTF_NET_HTTP_H
#define DTF_NET_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "net/keys.h"

#define DTF_HTTP_MAX_BODY   (8u << 20) /* request bodies past 8 MiB get 413 */
#define DTF_HTTP_MAX_PARAMS 4

struct MHD_Connection;
struct dtf_http_server;

struct dtf_http_req {
	/* The request, valid until the response is sent. */
	const char *method;
	const char *path; /* the URL path without the query */
	struct MHD_Connection *conn;
	const char *body; /* NUL-terminated; "" when there is none */
	size_t body_len;
	const char *param[DTF_HTTP_MAX_PARAMS]; /* the {…} segments of the matched route */
	void *app;				/* the server's user pointer */
	int64_t received_ms;			/* monotonic time the request arrived */

	/* The response, set by the handler (or, for a suspended request, before resuming). */
	unsigned status; /* 200 unless set */
	struct dtf_buf resp;
	const char *content_type;    /* "application/json" unless set; static string */
	const char *extra_header[2]; /* optional name, value (static strings) */
	struct dtf_buf headers;	     /* more headers (dtf_http_add_header): "name\0value\0"… */

	/* Long-poll: a handler calls dtf_http_suspend(); the app keeps the pointer and calls
	 * dtf_http_resume() once the response is filled. */
	bool suspend_requested;
	bool resumed;
	void *app_state; /* free for the app: e.g. what this response leased */

	/* Streaming (server-sent events): a handler that sets stream answers with the bytes the
	 * reader produces. The reader returns the bytes it wrote, 0 when it has nothing now (after
	 * calling dtf_http_conn_pause() on its connection, to be resumed when it has), or -1 to end
	 * the response. stream_free is called with stream_cls when the response is done. */
	long (*stream)(void *cls, char *buf, size_t max);
	void (*stream_free)(void *cls);
	void *stream_cls;

	/* Server internals. */
	struct dtf_buf body_buf;
	bool too_big;
	bool handled;
	struct dtf_http_server *server;
	bool held, released; /* held by the app's hold() until dtf_http_release() */

	/* Who sent it (set before the handler runs): the role its key grants (DTF_ROLE_ADMIN when
	 * the server needs no key; DTF_ROLE_WORKER when a worker route's request carries a worker
	 * token, which the handler still has to verify) and, for a key, its name and project. */
	int role;
	struct dtf_key_info key;
};

typedef void (*dtf_http_handler)(struct dtf_http_req *r);

struct dtf_http_route {
	const char *method;  /* "GET", "POST", … */
	const char *pattern; /* "/api/v1/tasks/{id}"; each {x} matches one non-empty segment; "*"
			      * alone matches every path, as method "*" every method */
	dtf_http_handler fn;
	/* DTF_ROUTE_KEY (false): an API key is needed; DTF_ROUTE_OPEN (true): served without one
	 * (health checks, the login form); DTF_ROUTE_PAGE: an HTML page of the dashboard, which
	 * needs a key too but sends a browser without one to /login instead of answering 401.
	 * (One field rather than a new one, so that every route table keeps its four members.) */
	unsigned char open;
};

#define DTF_ROUTE_KEY  0
#define DTF_ROUTE_OPEN 1
#define DTF_ROUTE_PAGE 2

/* The role a route needs (net/keys.h) rides in the high bits of the same field, so that a table
 * says both at once: {"GET", "/x", h, DTF_ROUTE_READ}. A route that names no role needs read for
 * GET and admin for anything else; /healthz-like routes are DTF_ROUTE_OPEN. A worker route
 * (DTF_ROUTE_WORKER) lets a request with an X-DTF-Worker-Token through to its handler, which
 * verifies the token (the server knows keys, not workers). */
#define DTF_ROUTE_ROLE(role)   ((unsigned char)((role) << 4))
#define DTF_ROUTE_ACCESS(open) ((open)&0x0f)
#define DTF_ROUTE_NEEDS(open)  ((open) >> 4)
#define DTF_ROUTE_READ	       (DTF_ROUTE_KEY | DTF_ROUTE_ROLE(DTF_ROLE_READ))
#define DTF_ROUTE_SUBMIT       (DTF_ROUTE_KEY | DTF_ROUTE_ROLE(DTF_ROLE_SUBMIT))
#define DTF_ROUTE_ADMIN	       (DTF_ROUTE_KEY | DTF_ROUTE_ROLE(DTF_ROLE_ADMIN))
#define DTF_ROUTE_ENROLL       (DTF_ROUTE_KEY | DTF_ROUTE_ROLE(DTF_ROLE_ENROLL))
#define DTF_ROUTE_WORKER       (DTF_ROUTE_KEY | DTF_ROUTE_ROLE(DTF_ROLE_WORKER))
#define DTF_ROUTE_PAGE_READ    (DTF_ROUTE_PAGE | DTF_ROUTE_ROLE(DTF_ROLE_READ))

/* The role route rt needs (its declared one, else read for GET and admin for the rest), or
 * DTF_ROLE_NONE for an open route. */
int dtf_http_route_role(const struct dtf_http_route *rt);

struct dtf_http_config {
	const char *host;		     /* address to bind; NULL or "" means 127.0.0.1 */
	unsigned port;			     /* 0 picks a free port (see dtf_http_server_port) */
	const struct dtf_http_route *routes; /* terminated by a zeroed entry */
	void *app;
	const char *const *api_keys; /* NULL-terminated; NULL or empty: no key needed */
	/* The keys with their roles; when set it is used instead of api_keys (borrowed; the app
	 * may change it while the server runs). NULL or empty: no key needed. */
	struct dtf_keyset *keys;
	/* Failed authentication per client address: a bucket of auth_fail_burst tries refilled at
	 * auth_fail_rate a second; an address whose bucket is empty gets 429. 0: 10/s, burst 20. */
	double auth_fail_rate, auth_fail_burst;
	/* Called when a request's connection is done: ok is false when the response could not be
	 * delivered. The app must forget r (e.g. a suspended long-poll) here. May be NULL. */
	void (*on_done)(struct dtf_http_req *r, bool ok);
	const char *tls_cert, *tls_key; /* PEM file paths; both or neither */
	/* PEM CA bundle: with it, every client must show a certificate it signed (mutual TLS);
	 * NULL: none asked for. Needs tls_cert. */
	const char *tls_client_ca;
	/* Group commit. hold is asked before each response is sent: it returns true after calling
	 * dtf_http_hold(r) when the response must wait (what the request changed is not committed
	 * yet), and later calls dtf_http_release(r). after_run runs on the server's thread after
	 * each pass over the ready connections. Either may be NULL. */
	bool (*hold)(struct dtf_http_req *r);
	void (*after_run)(void *app);
};

/* Starts serving. Returns NULL with a reason in err. */
struct dtf_http_server *dtf_http_server_start(const struct dtf_http_config *cfg, char *err,
					      size_t errlen);
/* Reads the server's certificate and key files again and serves them from the next TLS
 * handshake on; open connections keep theirs. On failure (a missing file, a key that is not the
 * certificate's) the old pair stays and err says why. 0 or DTF_EINVAL. */
int dtf_http_server_reload_tls(struct dtf_http_server *s, char *err, size_t errlen);
/* The bound port. */
unsigned dtf_http_server_port(const struct dtf_http_server *s);
/* Stops accepting and closes every connection; suspended requests are resumed first (their
 * on_done is called with ok = false). Accepts NULL. */
void dtf_http_server_stop(struct dtf_http_server *s);

/* For handlers: the query argument or request header, or NULL. */
const char *dtf_http_query(struct dtf_http_req *r, const char *key);
/* The request's query string re-encoded ("?a=1&b=x%20y"; "" when it has none), into out. */
void dtf_http_query_string(struct dtf_http_req *r, struct dtf_buf *out);
const char *dtf_http_header(struct dtf_http_req *r, const char *name);

/* Adds a response header (copied; name and value without CR or LF, else DTF_EINVAL). 0,
 * DTF_EINVAL or DTF_ENOMEM. */
int dtf_http_add_header(struct dtf_http_req *r, const char *name, const char *value);
/* True if key is one of the server's API keys, or the server needs none. */
bool dtf_http_key_valid(const struct dtf_http_req *r, const char *key);
/* The key's details when key is a live one of the server's keys (false otherwise, and when the
 * server needs none). */
bool dtf_http_key_lookup(const struct dtf_http_req *r, const char *key, struct dtf_key_info *out);
/* Failed authentication, for handlers that authenticate themselves (a worker's token, the
 * dashboard's login form): counts a failure against the client's address. */
void dtf_http_auth_failed(struct dtf_http_req *r);
/* True when the client's address has used up its failed tries (answer 429). */
bool dtf_http_auth_limited(struct dtf_http_req *r);
/* Counters for /metrics: failed authentications, requests refused by the limit. */
void dtf_http_auth_stats(const struct dtf_http_server *s, uint64_t *failures, uint64_t *limited);
/* True if the server requires an API key. */
bool dtf_http_keys_required(const struct dtf_http_req *r);
/* True if the server speaks TLS. */
bool dtf_http_tls(const struct dtf_http_req *r);

/* Sets a JSON response (steals a reference to body). */
void dtf_http_reply_json(struct dtf_http_req *r, unsigned status, json_t *body);
/* Sets an error response {"error": {"code": code, "message": message}}. */
void dtf_http_reply_error(struct dtf_http_req *r, unsigned status, const char *code,
			  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Suspends the request after the handler returns (long-poll). */
void dtf_http_suspend(struct dtf_http_req *r);
/* Sends the response that was filled in; callable from any thread, once per suspension. */
void dtf_http_resume(struct dtf_http_req *r);

/* Group commit: holds a response (only from the config's hold()), and sends it (any thread). */
void dtf_http_hold(struct dtf_http_req *r);
void dtf_http_release(struct dtf_http_req *r);
/* True on the server's own thread (where every handler runs). */
bool dtf_http_server_in_loop(const struct dtf_http_server *s);

/* Pauses a streaming connection (only from its stream reader) and resumes it (any thread). */
void dtf_http_conn_pause(struct MHD_Connection *conn);
void dtf_http_conn_resume(struct MHD_Connection *conn);

/* ---- client ---- */

struct dtf_http_client {
	void *curl;	     /* CURL *, reused for keep-alive */
	char base[512];	     /* "http://127.0.0.1:8080", no trailing slash */
	char auth[320];	     /* "Authorization: Bearer …" or "" */
	long status;	     /* the last HTTP status, 0 on transport failure */
	char error[512];     /* the last error: transport, or the server's error message */
	char error_code[64]; /* the server's error code, when it sent one */
	char curl_err[256];  /* libcurl's CURLOPT_ERRORBUFFER: the detail of a transport error */
	struct dtf_buf body; /* the last response body (capped at 64 MiB) */
	void *headers;	     /* struct curl_slist * */
	/* Optional: asked while a request is under way (at least about once a second, more often
	 * while bytes move); when it returns true the request ends at once with DTF_ENET and an
	 * error that says it was abandoned. NULL (after init) never abandons. */
	bool (*abandon)(void *arg);
	void *abandon_arg;
	/* Several coordinators (a base URL list "URL1,URL2,…", at most DTF_HTTP_MAX_URLS): the list
	 * as given, how many it names, and which one base is now. NULL and 0 for one URL. */
	char *urls;
	int nurls, cur;
	unsigned long pref_gen; /* the process's choice among them when the call began */
};

#define DTF_HTTP_MAX_URLS 8

/* How clients check the coordinator over https:// (one setting per process, made by each
 * command from its flags before it builds a client; every client made afterwards uses it). By
 * default the server's certificate is verified against the system's store. */
struct dtf_tls_client {
	const char *ca_cert;	/* PEM bundle trusted instead of the system store, or NULL */
	const char *cert, *key; /* the client's certificate for mutual TLS, or NULL */
	bool insecure;		/* no verification at all: only for a loopback URL ... */
	bool insecure_force;	/* ... unless this is set too */
};
/* Sets the process's client TLS settings (copies the strings). DTF_EINVAL with the reason in
 * err when the key file is readable by others or only one of cert and key is given. */
int dtf_http_client_tls(const struct dtf_tls_client *t, char *err, size_t errlen);
/* True if the URL's host is a loopback name or address (localhost, 127.0.0.0/8, ::1), by its
 * text alone: nothing is resolved. */
bool dtf_http_url_loopback(const char *url);

/* Initializes a client for base_url ("http://host:port"); api_key may be NULL. base_url may list
 * several coordinators of one database, comma-separated ("http://a:8080,http://b:8080"): a call
 * that cannot reach the current one, times out, or is answered 503 or 3xx (a standby's
 * not_leader, with the leader's URL as a hint) is sent again to the hinted one when it is in the
 * list, else to the next, each at most once per call; the one that answered is used from then on
 * by every client of the process with the same list. When every one failed so, the call returns
 * DTF_ENET (c->status keeps the last answer's status). DTF_EINVAL for a bad URL, or (with c->error
 * saying so) for --insecure towards a host that is not loopback without insecure_force: refused
 * before any connection is made. */
int dtf_http_client_init(struct dtf_http_client *c, const char *base_url, const char *api_key);
void dtf_http_client_release(struct dtf_http_client *c);
/* Adds a header sent with every request ("Name: value"). */
int dtf_http_client_header(struct dtf_http_client *c, const char *header);
/* Sends a request with an optional JSON body and, on a 2xx reply, stores its parsed JSON in
 * *resp (a new reference; NULL when resp is NULL or the body is empty). Returns 0, DTF_ENET when
 * the server could not be reached, DTF_EAUTH for 401/403, DTF_ENOTFOUND for 404, DTF_ESTALE for
 * 409, DTF_EPROTO for another 4xx/5xx; c->error says why. timeout_ms 0 means 30 s. */
int dtf_http_call(struct dtf_http_client *c, const char *method, const char *path,
		  const json_t *body, long timeout_ms, json_t **resp);
/* The same with a body that is already JSON text (len bytes; NULL for none). */
int dtf_http_call_raw(struct dtf_http_client *c, const char *method, const char *path,
		      const char *payload, size_t len, long timeout_ms, json_t **resp);

#endif
