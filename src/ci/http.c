/* http.c: the CI providers' HTTP client (libcurl): bounded retries, Retry-After, masking. */
#include "ci/http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "net/curl_setup.h"

void ci_mask(const char *secret, char *s, size_t size)
{
	size_t n = secret ? strlen(secret) : 0;
	char *p;

	/* Short secrets would mask ordinary words; they are refused at configuration time. */
	if (n < 4 || !s)
		return;
	while ((p = strstr(s, secret))) {
		size_t rest = strlen(p + n);
		memcpy(p, "***", 3);
		memmove(p + 3, p + n, rest + 1);
	}
	(void)size;
}

int ci_urlencode(const char *s, struct dtf_buf *out)
{
	int rc = 0;

	for (; *s && !rc; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
			rc = dtf_buf_add(out, s, 1);
		else
			rc = dtf_buf_printf(out, "%%%02X", c);
	}
	return rc;
}

int ci_http_init(struct ci_http *h, const char *base, const char *secret)
{
	memset(h, 0, sizeof(*h));
	dtf_curl_global_init();
	dtf_buf_init(&h->body, CI_HTTP_MAX_RESPONSE);
	h->max_retries = CI_HTTP_MAX_RETRIES;
	h->max_wait_s = 10;
	h->retry_after_s = -1;
	h->ratelimit_reset_s = -1;
	if (dtf_curl_base_url(base, h->base, sizeof(h->base)))
		return DTF_EINVAL;
	if (secret)
		snprintf(h->secret, sizeof(h->secret), "%s", secret);
	h->curl = curl_easy_init();
	if (!h->curl)
		return DTF_ENOMEM;
	return ci_http_header(h, "User-Agent: dtf-ci/0.1");
}

void ci_http_release(struct ci_http *h)
{
	if (h->curl)
		curl_easy_cleanup(h->curl);
	curl_slist_free_all(h->headers);
	dtf_buf_release(&h->body);
	h->curl = NULL;
	h->headers = NULL;
	memset(h->secret, 0, sizeof(h->secret));
	memset(h->basic, 0, sizeof(h->basic));
}

int ci_http_header(struct ci_http *h, const char *header)
{
	struct curl_slist *l = curl_slist_append(h->headers, header);

	if (!l)
		return DTF_ENOMEM;
	h->headers = l;
	return 0;
}

/* Remembers Retry-After (seconds, or an HTTP date) of the current response. */
struct hdr_state {
	double retry_after; /* < 0: none */
	double reset;	    /* X-RateLimit-Reset as seconds from now; < 0: none */
};

/* X-RateLimit-Reset comes as epoch seconds (GitHub), seconds from now, or an ISO 8601 time
 * (Jira Cloud); it is only reported, never waited on. */
static void parse_reset(const char *v, struct hdr_state *st)
{
	double now = (double)time(NULL), d;
	struct tm tm;
	char *end;

	d = strtod(v, &end);
	if (end != v && *end == '\0' && d >= 0) {
		st->reset = d > 1e9 ? (d > now ? d - now : 0) : d;
		return;
	}
	memset(&tm, 0, sizeof(tm));
	if (strptime(v, "%Y-%m-%dT%H:%M:%S", &tm)) {
		double when = (double)timegm(&tm);
		st->reset = when > now ? when - now : 0;
	}
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct hdr_state *st = arg;
	size_t n = size * nmemb;
	char line[256];

	if (n >= 18 && n < sizeof(line) && strncasecmp(data, "X-RateLimit-Reset:", 18) == 0) {
		char *v;
		memcpy(line, data, n);
		line[n] = '\0';
		v = line + 18;
		while (*v == ' ' || *v == '\t')
			v++;
		v[strcspn(v, "\r\n")] = '\0';
		parse_reset(v, st);
	}
	if (n >= 12 && n < sizeof(line) && strncasecmp(data, "Retry-After:", 12) == 0) {
		char *v, *end;
		double d;
		memcpy(line, data, n);
		line[n] = '\0';
		v = line + 12;
		while (*v == ' ' || *v == '\t')
			v++;
		v[strcspn(v, "\r\n")] = '\0';
		d = strtod(v, &end);
		if (end != v && *end == '\0' && d >= 0) {
			st->retry_after = d;
		} else {
			struct tm tm;
			memset(&tm, 0, sizeof(tm));
			if (strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm)) {
				double when = (double)timegm(&tm), now = (double)time(NULL);
				st->retry_after = when > now ? when - now : 0;
			}
		}
	}
	return n;
}

static bool retryable(long status)
{
	return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

static void sleep_s(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

int ci_http_request(struct ci_http *h, const char *method, const char *path,
		    const char *content_type, const char *body, size_t body_len, json_t **resp)
{
	char url[4096], ct[160];
	struct curl_slist *hdrs = NULL, *l;
	int attempt, rc = 0;

	if (resp)
		*resp = NULL;
	if (strncmp(path, "http://", 7) == 0 || strncmp(path, "https://", 8) == 0)
		snprintf(url, sizeof(url), "%s", path);
	else if ((size_t)snprintf(url, sizeof(url), "%s%s", h->base, path) >= sizeof(url))
		return DTF_EINVAL;
	/* The request's headers: the client's plus the content type. */
	for (l = h->headers; l; l = l->next)
		hdrs = curl_slist_append(hdrs, l->data);
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (body && content_type) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
		hdrs = curl_slist_append(hdrs, ct);
	}
	h->retries = 0;
	for (attempt = 0;; attempt++) {
		struct hdr_state st = {-1, -1};
		CURLcode cc;
		double wait;

		h->status = 0;
		h->error[0] = '\0';
		dtf_buf_reset(&h->body);
		curl_easy_reset(h->curl);
		curl_easy_setopt(h->curl, CURLOPT_URL, url);
		curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, dtf_curl_write_buf);
		curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &h->body);
		curl_easy_setopt(h->curl, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, &st);
		curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS,
				 h->timeout_ms > 0 ? h->timeout_ms : 30000L);
		curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS,
				 h->connect_timeout_ms > 0 ? h->connect_timeout_ms : 10000L);
		curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h->curl, CURLOPT_CUSTOMREQUEST, method);
		if (h->basic[0]) {
			curl_easy_setopt(h->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
			curl_easy_setopt(h->curl, CURLOPT_USERPWD, h->basic);
		}
		if (body) {
			curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
			curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE, (long)body_len);
		} else if (strcmp(method, "GET") == 0) {
			curl_easy_setopt(h->curl, CURLOPT_HTTPGET, 1L);
		} else {
			curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, "");
			curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE, 0L);
		}
		cc = curl_easy_perform(h->curl);
		h->curl_code = (int)cc;
		h->retry_after_s = st.retry_after;
		h->ratelimit_reset_s = st.reset;
		if (cc == CURLE_OK)
			curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &h->status);
		if (cc == CURLE_OK && h->status >= 200 && h->status < 300) {
			rc = 0;
			break;
		}
		if (cc != CURLE_OK) {
			snprintf(h->error, sizeof(h->error), "%s %s: %s", method, url,
				 curl_easy_strerror(cc));
			rc = DTF_ENET;
		} else {
			snprintf(h->error, sizeof(h->error), "%s %s: HTTP %ld: %.300s", method, url,
				 h->status, h->body.len ? dtf_buf_str(&h->body) : "no details");
			rc = h->status == 401 || h->status == 403 ? DTF_EAUTH
			     : h->status == 404			  ? DTF_ENOTFOUND
								  : DTF_EPROTO;
		}
		ci_mask(h->secret, h->error, sizeof(h->error));
		if (attempt >= h->max_retries || (cc == CURLE_OK && !retryable(h->status)))
			break;
		wait = st.retry_after >= 0 ? st.retry_after : 0.25 * (double)(1 << attempt);
		if (wait > h->max_wait_s)
			wait = h->max_wait_s;
		log_warn("%s; retrying in %.1f s", h->error, wait);
		h->retries++;
		sleep_s(wait);
	}
	curl_slist_free_all(hdrs);
	if (rc == 0 && resp && h->body.len) {
		char err[160];
		const char *b = h->body.data;
		while (*b == ' ' || *b == '\n' || *b == '\r' || *b == '\t')
			b++;
		if (*b == '{' || *b == '[')
			*resp = dtf_json_parse(h->body.data, h->body.len, err, sizeof(err));
	}
	return rc;
}

int ci_http_json(struct ci_http *h, const char *method, const char *path, const json_t *body,
		 json_t **resp)
{
	char *text = NULL;
	int rc;

	if (body) {
		text = dtf_json_dumps(body);
		if (!text)
			return DTF_ENOMEM;
	}
	rc = ci_http_request(h, method, path, "application/json", text, text ? strlen(text) : 0,
			     resp);
	free(text);
	return rc;
}
