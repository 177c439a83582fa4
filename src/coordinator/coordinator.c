/* coordinator.c: the coordinator put together: the core (src/core/), the REST front-end on it
 * (src/api/), the tick thread that drives the core's deadlines and the sender thread that
 * delivers the notifications outbox (core/outbox.h). Nothing here decides anything about tasks
 * or workers; it starts the parts in order and stops them in reverse. On PostgreSQL it first
 * takes the leadership (store/leader.h); a standby serves only its redirects meanwhile. All the
 * coordinators of one PostgreSQL database sign workers' tokens with one secret: the fingerprint
 * of the first one's is kept in the database, and one with another is refused (shared_secret). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "coordinator/coordinator.h"
#include "core/model.h"
#include "core/outbox.h"
#include "dashboard/dashboard.h"
#include "gqlapi/gqlapi.h"
#include "net/http.h"
#include "store/leader.h"
#include "store/store.h"

struct coordinator {
	struct coord *core;
	struct dtf_api *api;
	pthread_t tick, sender;
	bool tick_running, sender_running;
	struct dtf_leader *leader; /* on PostgreSQL: this coordinator's leadership */
};

/* The outbox's sender: takes what is due under the core's lock, sends it without (a slow
 * service never holds up a request or a lease), records the outcomes under the lock. */
static void *sender_main(void *arg)
{
	struct coordinator *co = arg;
	struct coord *c = co->core;
	struct outbox_batch *b = malloc(sizeof(*b));
	int64_t next;
	size_t i;

	if (!b)
		return NULL;
	pthread_mutex_lock(&c->lock);
	while (!c->stopping) {
		outbox_take(c, dtf_wall_ms(), b, &next);
		if (b->n) {
			pthread_mutex_unlock(&c->lock);
			for (i = 0; i < b->n && !c->stopping; i++)
				outbox_send(&b->items[i]);
			for (; i < b->n; i++) { /* stopping: the rest stays pending, as stored */
				b->items[i].rc = DTF_ESHUTDOWN;
				b->items[i].res.retry = true;
				snprintf(b->items[i].res.error, sizeof(b->items[i].res.error),
					 "the coordinator stopped before sending it");
			}
			pthread_mutex_lock(&c->lock);
			outbox_done(c, dtf_wall_ms(), b);
			continue;
		}
		/* Sleep until the next message is due, an event queues one, or 1 s (to notice
		 * stopping). */
		if (!next || next > dtf_wall_ms() + 1000)
			next = dtf_wall_ms() + 1000;
		outbox_wait(c, next);
	}
	pthread_mutex_unlock(&c->lock);
	free(b);
	return NULL;
}

static void *tick_main(void *arg)
{
	struct coordinator *co = arg;
	struct coord *c = co->core;
	int n = 0;

	while (!c->stopping) {
		usleep(100 * 1000);
		core_tick(c);
		if (++n % 150 == 0) /* every 15 s, so proxies keep idle event streams open */
			dtf_events_keepalive(c->events);
	}
	return NULL;
}

/* The front-ends that share the REST API's port, after its own routes. */
static const struct dtf_http_route *const frontends[] = {
    dashboard_routes,
    gqlapi_routes,
    NULL,
};

/* ---- a standby: every request is answered with where the leader is ---- */

static void standby_body(struct dtf_http_req *r, unsigned status, const char *leader)
{
	dtf_http_reply_json(r, status,
			    json_pack("{s:{s:s,s:s},s:s?}", "error", "code", "not_leader",
				      "message",
				      "this coordinator is a standby: send requests to the leader",
				      "leader", *leader ? leader : NULL));
}

static void standby_healthz(struct dtf_http_req *r)
{
	struct coordinator *co = r->app;
	char url[512];
	int64_t e = dtf_leader_hint(co->leader, url, sizeof(url));

	dtf_http_reply_json(r, 503,
			    json_pack("{s:s,s:s,s:s?,s:I}", "status", "standby", "role", "standby",
				      "leader", *url ? url : NULL, "leader_epoch", (json_int_t)e));
}

/* 307 to the leader's advertised URL, the same path (a client that follows it repeats the method
 * and body), with the URL in the JSON too; 503 when no leader advertises one (or the row still
 * names this coordinator's own URL: a leader that was here before). */
static void standby_any(struct dtf_http_req *r)
{
	struct coordinator *co = r->app;
	char url[512];
	struct dtf_buf q, loc;
	int rc;

	dtf_leader_hint(co->leader, url, sizeof(url));
	if (!*url) {
		standby_body(r, 503, "");
		return;
	}
	dtf_buf_init(&q, 8192);
	dtf_buf_init(&loc, 8192);
	dtf_http_query_string(r, &q);
	rc = dtf_buf_printf(&loc, "%s%s%s", url, r->path, dtf_buf_str(&q));
	if (rc != 0 || dtf_http_add_header(r, "Location", dtf_buf_str(&loc)) != 0)
		standby_body(r, 503, url);
	else
		standby_body(r, 307, url);
	dtf_buf_release(&q);
	dtf_buf_release(&loc);
}

static const struct dtf_http_route standby_routes[] = {
    {"GET", "/healthz", standby_healthz, DTF_ROUTE_OPEN},
    {"*", "*", standby_any, DTF_ROUTE_OPEN},
    {NULL, NULL, NULL, 0},
};

/* The URL standbys send clients to: --advertise-url, else the address and port it serves on when
 * both are known and the address is not a wildcard (which names no host a client could use). */
static void advertise(const struct coord_config *cfg, unsigned port, char *out, size_t len)
{
	const char *h = cfg->host && *cfg->host ? cfg->host : "127.0.0.1";

	out[0] = '\0';
	if (cfg->advertise_url && *cfg->advertise_url)
		snprintf(out, len, "%s", cfg->advertise_url);
	else if (port && strcmp(h, "0.0.0.0") != 0 && strcmp(h, "::") != 0)
		snprintf(out, len, "http%s://%s%s%s:%u", cfg->tls_cert ? "s" : "",
			 strchr(h, ':') ? "[" : "", h, strchr(h, ':') ? "]" : "", port);
}

/* Takes the leadership of cfg's PostgreSQL database: at once, or (cfg->standby) after serving as
 * a standby on the configured port until the leader goes. *port gets the port the coordinator is
 * to serve on (a standby's, when it picked a free one). */
static int lead(struct coordinator *co, const struct coord_config *cfg, unsigned *port, char *err,
		size_t errlen)
{
	char holder[320], host[256] = "", url[512];
	struct dtf_http_server *http = NULL;
	int rc;

	gethostname(host, sizeof(host) - 1);
	snprintf(holder, sizeof(holder), "%s:%d", host, (int)getpid());
	/* Before the standby's server, whose handlers read its hint. */
	co->leader = dtf_leader_new(cfg->db_path, holder);
	if (!co->leader) {
		snprintf(err, errlen, "out of memory");
		return DTF_ENOMEM;
	}
	*port = cfg->port;
	if (cfg->standby) {
		struct dtf_http_config hc = {
		    .host = cfg->host,
		    .port = cfg->port,
		    .routes = standby_routes,
		    .app = co,
		    .tls_cert = cfg->tls_cert,
		    .tls_key = cfg->tls_key,
		    .tls_client_ca = cfg->tls_client_ca,
		};
		http = dtf_http_server_start(&hc, err, errlen);
		if (!http)
			return DTF_EIO;
		*port = dtf_http_server_port(http);
		log_info("standby: serving redirects on port %u until this coordinator leads",
			 *port);
		if (cfg->standby_serving)
			cfg->standby_serving(cfg->standby_arg, *port);
	}
	advertise(cfg, *port, url, sizeof(url));
	rc = dtf_leader_advertise(co->leader, url);
	if (rc) {
		dtf_http_server_stop(http);
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	rc = dtf_leader_acquire(co->leader, cfg->standby ? -1 : 3000, cfg->stop, err, errlen);
	/* The port is the leader's from here (the API binds it again at once). */
	dtf_http_server_stop(http);
	if (!rc)
		rc = dtf_leader_start(co->leader);
	if (!rc)
		log_info("leader: this coordinator leads the database (epoch %lld)",
			 (long long)dtf_leader_epoch(co->leader));
	return rc;
}

/* meta_docs' key of the token secret's fingerprint (dtf_api_token_fingerprint). */
#define SECRET_DOC "token_secret"

/* Whether fp (our fingerprint, "" without --token-secret-file) agrees with the stored document
 * doc (NULL: none stored). A worker's token must be valid on whichever coordinator leads next,
 * so a coordinator with another secret than the one the database's coordinators use is refused
 * before it can lead. */
static int secret_agrees(const struct coord_config *cfg, const char *fp, const json_t *doc,
			 char *err, size_t errlen)
{
	const char *stored = doc ? dtf_json_str(doc, "hmac_sha256", "") : "";

	if (!*stored)
		return 0;
	if (!*fp) {
		snprintf(err, errlen,
			 "the coordinators of this database sign workers' tokens with a shared "
			 "secret (its fingerprint is kept in meta_docs, key " SECRET_DOC
			 "): start this one with --token-secret-file and the same file as theirs");
		return DTF_EINVAL;
	}
	if (strcmp(stored, fp) != 0) {
		snprintf(
		    err, errlen,
		    "--token-secret-file %s is not the secret the coordinators of this database "
		    "sign workers' tokens with (its fingerprint differs from the one kept in "
		    "meta_docs, key " SECRET_DOC
		    "): give every coordinator of the database the same file",
		    cfg->token_secret_file);
		return DTF_EINVAL;
	}
	return 0;
}

/* Before waiting for the leadership: refused at once (nothing written, no lock taken) when the
 * database already keeps another secret's fingerprint. A database that cannot be read now is
 * checked again once this coordinator leads (shared_secret_lead). */
static int shared_secret_check(const struct coord_config *cfg, char fp[65], char *err,
			       size_t errlen)
{
	char perr[512];
	json_t *doc = NULL;
	int rc;

	fp[0] = '\0';
	if (cfg->token_secret_file && *cfg->token_secret_file &&
	    (rc = dtf_api_token_fingerprint(cfg->token_secret_file, fp, err, errlen)) != 0)
		return rc;
	if (dtf_store_pg_meta_peek(cfg->db_path, SECRET_DOC, &doc, perr, sizeof(perr)) != 0) {
		log_warn("cannot read the token secret's fingerprint now (%s): checked once this "
			 "coordinator leads",
			 perr);
		return 0;
	}
	rc = secret_agrees(cfg, fp, doc, err, errlen);
	json_decref(doc);
	return rc;
}

/* Once leading, with the state loaded: the same check on what the database keeps now (another
 * coordinator may have stored a fingerprint since), and the first coordinator with a secret
 * stores its fingerprint. */
static int shared_secret_lead(struct coord *c, const struct coord_config *cfg, const char *fp,
			      char *err, size_t errlen)
{
	struct core_err e;
	json_t *doc = NULL, *mine;
	int rc;

	pthread_mutex_lock(&c->lock);
	rc = core_meta_get(c, SECRET_DOC, &doc, &e);
	if (rc)
		snprintf(err, errlen, "%s", e.msg);
	if (!rc)
		rc = secret_agrees(cfg, fp, doc, err, errlen);
	if (!rc && !doc && *fp) {
		mine = json_pack("{s:i,s:s}", "format", 1, "hmac_sha256", fp);
		rc = mine ? core_meta_put(c, SECRET_DOC, mine, &e) : DTF_ENOMEM;
		if (rc)
			snprintf(err, errlen, "%s", mine ? e.msg : "out of memory");
		else
			log_info(
			    "the token secret's fingerprint is kept in the database: its other "
			    "coordinators must use the same --token-secret-file");
		json_decref(mine);
	}
	pthread_mutex_unlock(&c->lock);
	json_decref(doc);
	return rc;
}

bool coord_lost(const struct coordinator *co)
{
	const struct coord *c = co ? co->core : NULL;

	return co && (dtf_leader_lost(co->leader) || (c && c->store && c->store->fenced));
}

struct coordinator *coord_start(const struct coord_config *cfg, char *err, size_t errlen)
{
	struct coordinator *co = calloc(1, sizeof(*co));
	struct coord_config lc;
	char fp[65] = "";

	if (!co) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (dtf_store_is_url(cfg->db_path)) {
		lc = *cfg;
		if (shared_secret_check(cfg, fp, err, errlen) != 0 ||
		    lead(co, cfg, &lc.port, err, errlen) != 0)
			goto fail;
		lc.leader_epoch = dtf_leader_epoch(co->leader);
		cfg = &lc;
	}
	co->core = core_new(cfg, err, errlen);
	if (!co->core)
		goto fail;
	if (dtf_store_is_url(cfg->db_path) && shared_secret_lead(co->core, cfg, fp, err, errlen))
		goto fail;
	co->api = dtf_api_start(co->core, frontends, err, errlen);
	if (!co->api)
		goto fail;
	if (pthread_create(&co->tick, NULL, tick_main, co) != 0) {
		snprintf(err, errlen, "cannot start the tick thread");
		goto fail;
	}
	co->tick_running = true;
	if (co->core->outbox) {
		if (pthread_create(&co->sender, NULL, sender_main, co) != 0) {
			snprintf(err, errlen, "cannot start the notifications sender");
			goto fail;
		}
		co->sender_running = true;
	}
	{
		char ts[32], url[300];
		json_t *ev;
		dtf_rfc3339(dtf_wall_ms(), ts);
		snprintf(url, sizeof(url), "http%s://%s:%u", cfg->tls_cert ? "s" : "",
			 cfg->host && *cfg->host ? cfg->host : "127.0.0.1", coord_port(co));
		ev = json_pack("{s:s,s:s,s:s}", "time", ts, "version", "0.1.0", "url", url);
		dtf_plugins_fire(co->core->plugins, DTF_HOOK_COORDINATOR_STARTUP, ev);
		json_decref(ev);
	}
	return co;
fail:
	coord_stop(co);
	return NULL;
}

size_t coord_flush_notifications(struct coordinator *co, double timeout_s)
{
	struct coord *c = co ? co->core : NULL;
	int64_t deadline = dtf_mono_ms() + (int64_t)(timeout_s * 1000);
	size_t left;

	if (!c || !c->outbox)
		return 0;
	pthread_mutex_lock(&c->lock);
	if (timeout_s < 0)
		deadline = dtf_mono_ms() + (int64_t)(outbox_flush_timeout(c) * 1000);
	outbox_set_flushing(c, true);
	while ((left = outbox_pending(c)) > 0 && dtf_mono_ms() < deadline) {
		pthread_mutex_unlock(&c->lock);
		usleep(20 * 1000);
		pthread_mutex_lock(&c->lock);
	}
	if (left) {
		/* Out of time: no new send starts, and the count is taken once the sends under way
		 * have ended (each within its channel's timeout), so the messages said to be left
		 * are the ones the next start sends, none turned into a dead letter after it. */
		int64_t end = dtf_mono_ms() + 60000;

		outbox_hold(c);
		while (outbox_inflight(c) > 0 && dtf_mono_ms() < end) {
			pthread_mutex_unlock(&c->lock);
			usleep(20 * 1000);
			pthread_mutex_lock(&c->lock);
		}
		left = outbox_pending(c);
	}
	pthread_mutex_unlock(&c->lock);
	return left;
}

void coord_reload_keys(struct coordinator *co)
{
	dtf_api_reload_keys(co->api);
}

static void print_table(FILE *f, const struct dtf_http_route *t)
{
	for (; t->method; t++) {
		int role = dtf_http_route_role(t);
		fprintf(f, "%s %s %s\n", t->method, t->pattern,
			role == DTF_ROLE_NONE ? "open" : dtf_role_name(role));
	}
}

void coord_print_routes(FILE *f)
{
	const struct dtf_http_route *const *t;

	print_table(f, api_routes);
	for (t = frontends; *t; t++)
		print_table(f, *t);
}

unsigned coord_port(const struct coordinator *co)
{
	return dtf_api_port(co->api);
}

int coord_reload_tls(struct coordinator *co, char *err, size_t errlen)
{
	return dtf_http_server_reload_tls(co->api->http, err, errlen);
}

void coord_stop(struct coordinator *co)
{
	struct coord *c;

	if (!co)
		return;
	c = co->core;
	if (c) {
		c->stopping = true;
		if (co->tick_running)
			pthread_join(co->tick, NULL);
		if (co->sender_running) {
			pthread_mutex_lock(&c->lock);
			outbox_wake(c);
			pthread_mutex_unlock(&c->lock);
			pthread_join(co->sender, NULL);
		}
		if (c->plugins) {
			char ts[32];
			json_t *ev;
			dtf_rfc3339(dtf_wall_ms(), ts);
			ev = json_pack("{s:s}", "time", ts);
			dtf_plugins_fire(c->plugins, DTF_HOOK_COORDINATOR_SHUTDOWN, ev);
			json_decref(ev);
		}
	}
	/* The front-end answers what waits and stops serving before the core goes. */
	dtf_api_stop(co->api);
	core_free(c);
	/* Last: the lock goes with the session, and a standby takes over at once. */
	dtf_leader_free(co->leader);
	free(co);
}
