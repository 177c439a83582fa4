/* http.h: the HTTP client the CI providers talk to their services with: any body and content
 * type, extra headers, a bounded retry on 5xx, 429 and transport errors that honours
 * Retry-After (capped), and errors with the provider's secret masked. */
#ifndef DTF_CI_HTTP_H
#define DTF_CI_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

#define CI_HTTP_MAX_RESPONSE ((size_t)8 << 20) /* a provider's answer past 8 MiB is an error */
#define CI_HTTP_MAX_RETRIES  3

struct ci_http {
	void *curl;	     /* CURL * */
	char base[512];	     /* "https://api.github.com", no trailing slash */
	void *headers;	     /* struct curl_slist *: sent with every request */
	char secret[1024];   /* masked as *** wherever an error or log could show it */
	char basic[1024];    /* "user:password" for HTTP basic auth, or "" */
	long status;	     /* last HTTP status, 0 on transport failure */
	char error[512];     /* the last error, secret masked */
	struct dtf_buf body; /* the last response body */
	int retries;	     /* retries made by the last request */
	double max_wait_s;   /* longest wait between tries (Retry-After is capped to it) */
	int max_retries;
	/* For callers that decide retries themselves (src/notify: max_retries 0): */
	long timeout_ms;	  /* a whole try; 0: 30 s */
	long connect_timeout_ms;  /* 0: 10 s */
	double retry_after_s;	  /* the last answer's Retry-After in seconds, -1 when none */
	double ratelimit_reset_s; /* its X-RateLimit-Reset (epoch seconds, seconds from now or an
				   * ISO 8601 time) as seconds from now, -1 when none; never waited
				   * on */
	int curl_code;		  /* the last try's CURLcode (0: the transfer worked) */
};

/* Initializes a client for base (http:// or https://). secret, when not NULL, is masked in
 * every message. Returns 0 or DTF_EINVAL / DTF_ENOMEM. */
int ci_http_init(struct ci_http *h, const char *base, const char *secret);
/* Frees everything; accepts a zeroed client. */
void ci_http_release(struct ci_http *h);
/* Adds a header ("Name: value") sent with every request. */
int ci_http_header(struct ci_http *h, const char *header);
/* Sends method path (appended to base; a full http(s):// URL is used as is) with an optional
 * body of content_type. Retries transport errors, 429 and 5xx up to max_retries times,
 * waiting Retry-After seconds when the server sends it (at most max_wait_s), else a short
 * backoff. On 2xx with a JSON answer and resp not NULL, *resp gets the parsed document (new
 * reference; NULL for an empty or non-JSON body). Returns 0 for 2xx, else DTF_ENET, DTF_EAUTH
 * (401/403), DTF_ENOTFOUND (404) or DTF_EPROTO with h->error set. */
int ci_http_request(struct ci_http *h, const char *method, const char *path,
		    const char *content_type, const char *body, size_t body_len, json_t **resp);
/* The same with a JSON body (NULL for none). */
int ci_http_json(struct ci_http *h, const char *method, const char *path, const json_t *body,
		 json_t **resp);
/* Replaces every occurrence of secret in s (in place) with "***". */
void ci_mask(const char *secret, char *s, size_t size);
/* URL-encodes s into out (RFC 3986 unreserved characters kept). */
int ci_urlencode(const char *s, struct dtf_buf *out);

#endif
