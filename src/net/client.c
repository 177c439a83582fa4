/* client.c: the JSON HTTP client over libcurl (one easy handle per client, reused for
 * keep-alive; one client per thread). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "net/curl_setup.h"
#include "net/http.h"

#define RESP_CAP ((size_t)64 << 20)

/* The process's TLS settings (dtf_http_client_tls); set before the clients are made and read
 * only afterwards, so they need no lock. */
static struct {
	char *ca_cert, *cert, *key;
	bool insecure, insecure_force, warned, warned_plain;
} tls;

static int set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = NULL;
	if (src && *src && !(*dst = strdup(src)))
		return DTF_ENOMEM;
	return 0;
}

int dtf_http_client_tls(const struct dtf_tls_client *t, char *err, size_t errlen)
{
	if (!t->cert != !t->key || (t->cert && (!*t->cert || !*t->key))) {
		snprintf(err, errlen, "a client certificate needs both --tls-cert and --tls-key");
		return DTF_EINVAL;
	}
	if (t->key && !dtf_file_private_ok(t->key, err, errlen))
		return DTF_EINVAL;
	if (set_str(&tls.ca_cert, t->ca_cert) || set_str(&tls.cert, t->cert) ||
	    set_str(&tls.key, t->key)) {
		snprintf(err, errlen, "out of memory");
		return DTF_ENOMEM;
	}
	tls.insecure = t->insecure;
	tls.insecure_force = t->insecure_force;
	return 0;
}

bool dtf_http_url_loopback(const char *url)
{
	const char *h = strstr(url, "://");
	char host[256];
	size_t n;

	h = h ? h + 3 : url;
	/* user@host: not worth parsing ("127.0.0.1:1@elsewhere" goes elsewhere), so never
	 * "loopback". */
	if (memchr(h, '@', strcspn(h, "/?#")))
		return false;
	if (*h == '[') {
		n = strcspn(h + 1, "]");
		if (n >= sizeof(host))
			return false;
		memcpy(host, h + 1, n);
	} else {
		n = strcspn(h, ":/?#");
		if (n >= sizeof(host))
			return false;
		memcpy(host, h, n);
	}
	host[n] = '\0';
	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
		return true;
	if (strncmp(host, "127.", 4) == 0) {
		unsigned a, b, c2, d;
		char extra;
		return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c2, &d, &extra) == 4 && a == 127 &&
		       b < 256 && c2 < 256 && d < 256;
	}
	return false;
}

static void apply_tls(struct dtf_http_client *c)
{
	if (tls.insecure) {
		curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L);
		if (tls.ca_cert)
			curl_easy_setopt(c->curl, CURLOPT_CAINFO, tls.ca_cert);
	}
	if (tls.cert) {
		curl_easy_setopt(c->curl, CURLOPT_SSLCERT, tls.cert);
		curl_easy_setopt(c->curl, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(c->curl, CURLOPT_SSLKEY, tls.key);
		curl_easy_setopt(c->curl, CURLOPT_SSLKEYTYPE, "PEM");
	}
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->curl_err);
}

/* The process's last coordinator that answered, for one URL list (the clients of a process all
 * name the same list): a client made later, or one still on a coordinator that stopped leading,
 * starts there. */
static struct {
	pthread_mutex_t mu;
	char list[DTF_HTTP_MAX_URLS * 512];
	int cur;
	unsigned long gen; /* counts the changes of cur */
} pref = {PTHREAD_MUTEX_INITIALIZER, "", 0, 0};

/* The i-th base URL of a comma-separated list, normalized as dtf_curl_base_url does. */
static int nth_url(const char *list, int i, char *out, size_t len)
{
	char one[512];
	size_t n;

	for (; i > 0 && list; i--) {
		list = strchr(list, ',');
		list = list ? list + 1 : NULL;
	}
	if (!list)
		return DTF_EINVAL;
	while (*list == ' ')
		list++;
	n = strcspn(list, ",");
	while (n && list[n - 1] == ' ')
		n--;
	if (n >= sizeof(one))
		return DTF_EINVAL;
	memcpy(one, list, n);
	one[n] = '\0';
	return dtf_curl_base_url(one, out, len);
}

/* Parses a list of several URLs into c (urls, nurls); the first or the process's preferred one
 * becomes the base. */
static int init_list(struct dtf_http_client *c, const char *list)
{
	char one[512];
	const char *p;
	int n = 1, i;

	if (strlen(list) >= sizeof(pref.list))
		return DTF_EINVAL;
	for (p = list; *p; p++)
		n += *p == ',';
	if (n > DTF_HTTP_MAX_URLS)
		return DTF_EINVAL;
	/* Every element must be a URL: "a,,b" or a trailing comma is a mistake. */
	for (i = 0; i < n; i++)
		if (nth_url(list, i, one, sizeof(one)) != 0)
			return DTF_EINVAL;
	c->urls = strdup(list);
	if (!c->urls)
		return DTF_ENOMEM;
	c->nurls = n;
	c->cur = 0;
	pthread_mutex_lock(&pref.mu);
	if (strcmp(pref.list, list) == 0)
		c->cur = pref.cur;
	pthread_mutex_unlock(&pref.mu);
	return nth_url(list, c->cur, c->base, sizeof(c->base));
}

int dtf_http_client_init(struct dtf_http_client *c, const char *base_url, const char *api_key)
{
	memset(c, 0, sizeof(*c));
	dtf_curl_global_init();
	dtf_buf_init(&c->body, RESP_CAP);
	if (strchr(base_url, ',')) {
		int rc = init_list(c, base_url);
		if (rc)
			return rc;
	} else if (dtf_curl_base_url(base_url, c->base, sizeof(c->base))) {
		return DTF_EINVAL;
	}
	if (tls.insecure && strncmp(c->base, "https://", 8) == 0) {
		if (!dtf_http_url_loopback(c->base) && !tls.insecure_force) {
			snprintf(
			    c->error, sizeof(c->error),
			    "refusing --insecure for %s: it is not a loopback address, and "
			    "without certificate checks anyone on the path can read the API key "
			    "and the tasks; pass --ca-cert FILE, or add --insecure-force",
			    c->base);
			return DTF_EINVAL;
		}
		if (!tls.warned) {
			tls.warned = true;
			log_warn("--insecure: the certificate of %s is not checked", c->base);
		}
	}
	if (api_key && *api_key && strncmp(c->base, "http://", 7) == 0 &&
	    !dtf_http_url_loopback(c->base) && !tls.warned_plain) {
		tls.warned_plain = true;
		log_warn("%s is plain HTTP: the API key crosses the network readable by anyone on "
			 "the path (serve the coordinator with --tls-cert and use https://)",
			 c->base);
	}
	if (api_key && *api_key)
		snprintf(c->auth, sizeof(c->auth), "Authorization: Bearer %s", api_key);
	c->curl = curl_easy_init();
	if (!c->curl)
		return DTF_ENOMEM;
	apply_tls(c);
	c->headers = curl_slist_append(NULL, "Content-Type: application/json");
	c->headers = curl_slist_append(c->headers, "Expect:");
	if (c->auth[0])
		c->headers = curl_slist_append(c->headers, c->auth);
	return c->headers ? 0 : DTF_ENOMEM;
}

void dtf_http_client_release(struct dtf_http_client *c)
{
	if (c->curl)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->headers);
	dtf_buf_release(&c->body);
	free(c->urls);
	c->curl = NULL;
	c->headers = NULL;
	c->urls = NULL;
	c->nurls = 0;
}

int dtf_http_client_header(struct dtf_http_client *c, const char *header)
{
	struct curl_slist *l = curl_slist_append(c->headers, header);

	if (!l)
		return DTF_ENOMEM;
	c->headers = l;
	return 0;
}

int dtf_http_call(struct dtf_http_client *c, const char *method, const char *path,
		  const json_t *body, long timeout_ms, json_t **resp)
{
	char *payload = NULL;
	int rc;

	if (body) {
		payload = dtf_json_dumps(body);
		if (!payload)
			return DTF_ENOMEM;
	}
	rc = dtf_http_call_raw(c, method, path, payload, payload ? strlen(payload) : 0, timeout_ms,
			       resp);
	free(payload);
	return rc;
}

/* The list index another client of the process found the leader at since c's call began, when
 * it is not c's current one; else -1. */
static int moved_to(const struct dtf_http_client *c)
{
	int i = -1;

	pthread_mutex_lock(&pref.mu);
	if (strcmp(pref.list, c->urls) == 0 && pref.cur != c->cur && pref.gen != c->pref_gen)
		i = pref.cur;
	pthread_mutex_unlock(&pref.mu);
	return i;
}

/* CURLOPT_XFERINFOFUNCTION: a non-zero return makes libcurl end the transfer. A call waiting on a
 * coordinator that another thread of the process has meanwhile left for the leader (a paused
 * leader answers nobody) ends too, and is sent to the leader. */
static int xferinfo(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		    curl_off_t ulnow)
{
	struct dtf_http_client *c = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (c->abandon && c->abandon(c->abandon_arg))
		return 1;
	return c->nurls > 1 && moved_to(c) >= 0 ? 1 : 0;
}

static int call_once(struct dtf_http_client *c, const char *method, const char *path,
		     const char *payload, size_t len, long timeout_ms, json_t **resp);

/* Whether a call's failure is one another coordinator of the list may not have: this one could
 * not be reached or did not answer in time, is a standby (3xx, not_leader), or could not commit
 * (503: it may have just stopped leading). Not when the caller abandoned it. */
static bool failover_wanted(struct dtf_http_client *c, int rc)
{
	if (c->abandon && c->abandon(c->abandon_arg))
		return false;
	if (rc == DTF_ENET || rc == DTF_ETIMEOUT)
		return true;
	return c->status == 503 || (c->status >= 300 && c->status < 400);
}

/* The list index of the leader a standby named in its answer, or -1. */
static int hinted(struct dtf_http_client *c)
{
	char err[64], want[512], one[512];
	json_t *b;
	const char *leader;
	int i, found = -1;

	if (!c->body.len)
		return -1;
	b = dtf_json_parse(c->body.data, c->body.len, err, sizeof(err));
	leader = dtf_json_str(b, "leader", NULL);
	if (leader && dtf_curl_base_url(leader, want, sizeof(want)) == 0)
		for (i = 0; i < c->nurls && found < 0; i++)
			if (nth_url(c->urls, i, one, sizeof(one)) == 0 && strcmp(one, want) == 0)
				found = i;
	json_decref(b);
	return found;
}

static void use_url(struct dtf_http_client *c, int i)
{
	if (i == c->cur || nth_url(c->urls, i, c->base, sizeof(c->base)) != 0)
		return;
	c->cur = i;
	/* A new host: the kept-alive connection to the old one is of no use. */
	curl_easy_setopt(c->curl, CURLOPT_FRESH_CONNECT, 1L);
}

int dtf_http_call_raw(struct dtf_http_client *c, const char *method, const char *path,
		      const char *payload, size_t len, long timeout_ms, json_t **resp)
{
	int rc, tries, next;

	if (c->nurls < 2)
		return call_once(c, method, path, payload, len, timeout_ms, resp);
	pthread_mutex_lock(&pref.mu);
	next = strcmp(pref.list, c->urls) == 0 ? pref.cur : c->cur;
	c->pref_gen = pref.gen;
	pthread_mutex_unlock(&pref.mu);
	use_url(c, next);
	for (tries = 1;; tries++) {
		rc = call_once(c, method, path, payload, len, timeout_ms, resp);
		curl_easy_setopt(c->curl, CURLOPT_FRESH_CONNECT, 0L);
		if (rc == 0 || !failover_wanted(c, rc) || tries >= c->nurls)
			break;
		next = hinted(c);
		if (next < 0 || next == c->cur)
			next = moved_to(c);
		if (next < 0 || next == c->cur)
			next = (c->cur + 1) % c->nurls;
		log_debug("coordinator %s: %s; trying the next one", c->base, c->error);
		use_url(c, next);
	}
	if (rc == 0 || !failover_wanted(c, rc)) {
		/* It answered: the process's clients go there first from now on. */
		bool moved;
		pthread_mutex_lock(&pref.mu);
		moved = strcmp(pref.list, c->urls) == 0 && pref.cur != c->cur;
		if (moved || strcmp(pref.list, c->urls) != 0)
			pref.gen++;
		snprintf(pref.list, sizeof(pref.list), "%s", c->urls);
		pref.cur = c->cur;
		pthread_mutex_unlock(&pref.mu);
		if (moved)
			log_info("coordinator %s answers now", c->base);
	} else if (rc == DTF_EPROTO) {
		/* Standbys, or a coordinator that could not commit: none of the list leads just now
		 * (a takeover under way), which callers retry as they retry an unreachable one. */
		char why[sizeof(c->error)];
		snprintf(why, sizeof(why), "%s", c->error);
		snprintf(c->error, sizeof(c->error), "no coordinator of the list leads now: %s: %s",
			 c->base, why);
		rc = DTF_ENET;
	}
	return rc;
}

static int call_once(struct dtf_http_client *c, const char *method, const char *path,
		     const char *payload, size_t len, long timeout_ms, json_t **resp)
{
	char url[2048];
	CURLcode cc;
	int rc = 0;

	if (resp)
		*resp = NULL;
	c->status = 0;
	c->error[0] = '\0';
	c->error_code[0] = '\0';
	c->curl_err[0] = '\0';
	dtf_buf_reset(&c->body);
	if ((size_t)snprintf(url, sizeof(url), "%s%s", c->base, path) >= sizeof(url))
		return DTF_EINVAL;
	if (c->abandon && c->abandon(c->abandon_arg)) {
		snprintf(c->error, sizeof(c->error), "%s: request abandoned (stopping)", c->base);
		return DTF_ENET;
	}
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, dtf_curl_write_buf);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &c->body);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 30000L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	if (c->abandon || c->nurls > 1) {
		curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, xferinfo);
		curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, c);
		curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
	} else {
		curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 1L);
	}
	if (payload) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, payload);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, 0L);
	} else {
		curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	}
	cc = curl_easy_perform(c->curl);
	/* Reset the body options so the next call starts clean. */
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
	if (cc != CURLE_OK) {
		if (cc == CURLE_ABORTED_BY_CALLBACK && c->nurls > 1 &&
		    !(c->abandon && c->abandon(c->abandon_arg)))
			snprintf(c->error, sizeof(c->error),
				 "%s: no answer, and the leader is elsewhere now", c->base);
		else if (cc == CURLE_ABORTED_BY_CALLBACK)
			snprintf(c->error, sizeof(c->error), "%s: request abandoned (stopping)",
				 c->base);
		else if (cc == CURLE_PEER_FAILED_VERIFICATION)
			snprintf(c->error, sizeof(c->error),
				 "%s: the coordinator's certificate is not trusted: %s \u2014 pass "
				 "--ca-cert FILE (or DTF_CA_CERT) with the CA that signed it",
				 c->base, c->curl_err[0] ? c->curl_err : curl_easy_strerror(cc));
		else if (cc == CURLE_SSL_CACERT_BADFILE)
			snprintf(c->error, sizeof(c->error), "%s: cannot use the CA file %s: %s",
				 c->base, tls.ca_cert ? tls.ca_cert : "(system store)",
				 c->curl_err[0] ? c->curl_err : curl_easy_strerror(cc));
		else if (cc == CURLE_SSL_CERTPROBLEM)
			snprintf(c->error, sizeof(c->error),
				 "%s: cannot use the client certificate %s: %s", c->base,
				 tls.cert ? tls.cert : "", c->curl_err[0] ? c->curl_err : "");
		else
			snprintf(c->error, sizeof(c->error), "%s: %s%s%s", c->base,
				 curl_easy_strerror(cc), c->curl_err[0] ? ": " : "", c->curl_err);
		return cc == CURLE_OPERATION_TIMEDOUT ? DTF_ETIMEOUT : DTF_ENET;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
	if (c->status >= 200 && c->status < 300) {
		if (resp && c->body.len) {
			char err[160];
			*resp = dtf_json_parse(c->body.data, c->body.len, err, sizeof(err));
			if (!*resp) {
				snprintf(c->error, sizeof(c->error), "bad JSON from server: %s",
					 err);
				rc = DTF_EPROTO;
			}
		}
		return rc;
	}
	{
		char err[160];
		json_t *e = c->body.len
				? dtf_json_parse(c->body.data, c->body.len, err, sizeof(err))
				: NULL;
		json_t *eo = json_object_get(e, "error");
		const char *msg = dtf_json_str(eo, "message", NULL);
		const char *code = dtf_json_str(eo, "code", NULL);
		if (!msg && json_is_string(eo))
			msg = json_string_value(eo);
		snprintf(c->error, sizeof(c->error), "HTTP %ld: %s", c->status,
			 msg ? msg : (c->body.len ? dtf_buf_str(&c->body) : "no details"));
		if (code)
			snprintf(c->error_code, sizeof(c->error_code), "%s", code);
		json_decref(e);
	}
	if (c->status == 401 || c->status == 403)
		return DTF_EAUTH;
	if (c->status == 404)
		return DTF_ENOTFOUND;
	if (c->status == 409)
		return DTF_ESTALE;
	return DTF_EPROTO;
}
