/* webhook.c: a plain webhook (type webhook): the message's JSON context, or the route's
 * template rendered, POSTed to a URL, with an Idempotency-Key header (the message key, so the
 * receiver can drop a retried duplicate), the event in X-Dtf-Event, an optional bearer token,
 * and an optional HMAC-SHA256 signature of the body from a shared secret. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/json.h"
#include "notify/internal.h"

struct webhook {
	char url[NOTIFY_MAX_SECRET];
	char secret[NOTIFY_MAX_SECRET]; /* the HMAC key, or "" */
	char token[NOTIFY_MAX_SECRET];	/* a bearer token, or "" */
	bool url_secret;		/* the URL came from url_env / url_file */
	const char *method, *content_type, *sig_header;
	json_t *block; /* the configuration (a reference: the strings point into it) */
};

static int webhook_open(struct notify_channel *ch, const json_t *block, char *err, size_t errlen)
{
	static const char *const known[] = {
	    "url",	  "url_env", "url_file",     "secret_env",	 "secret_file", "token_env",
	    "token_file", "method",  "content_type", "signature_header", "headers",	NULL};
	struct webhook *w = calloc(1, sizeof(*w));
	const json_t *hdrs;
	const char *url = NULL, *k;
	json_t *v;
	int rc;

	if (!w)
		return DTF_ENOMEM;
	ch->priv = w;
	w->block = json_incref((json_t *)block);
	if ((rc = nt_cfg_known(ch, block, known, err, errlen)))
		return rc;
	/* The URL may be written out (the secret then signs), or be a secret itself. */
	if (json_object_get(block, "url")) {
		if ((rc = nt_cfg_str(ch, block, "url", true, NULL, &url, err, errlen)))
			return rc;
		if (json_object_get(block, "url_env") || json_object_get(block, "url_file"))
			return nt_cfg_err(ch, "url", err, errlen, "give url or url_env, not both");
		snprintf(w->url, sizeof(w->url), "%s", url);
	} else {
		if ((rc = nt_cfg_secret(ch, block, "url", true, w->url, sizeof(w->url), err,
					errlen)))
			return rc;
		w->url_secret = true;
	}
	if ((rc = nt_cfg_secret(ch, block, "secret", false, w->secret, sizeof(w->secret), err,
				errlen)) ||
	    (rc = nt_cfg_secret(ch, block, "token", false, w->token, sizeof(w->token), err,
				errlen)) ||
	    (rc = nt_cfg_str(ch, block, "method", false, "POST", &w->method, err, errlen)) ||
	    (rc = nt_cfg_str(ch, block, "content_type", false, "application/json", &w->content_type,
			     err, errlen)) ||
	    (rc = nt_cfg_str(ch, block, "signature_header", false, "X-Dtf-Signature-256",
			     &w->sig_header, err, errlen)))
		return rc;
	if (strncmp(w->url, "https://", 8) && strncmp(w->url, "http://", 7))
		return nt_cfg_err(ch, w->url_secret ? "url_env" : "url", err, errlen,
				  "must be an http(s):// URL");
	if (strcmp(w->method, "POST") && strcmp(w->method, "PUT"))
		return nt_cfg_err(ch, "method", err, errlen, "must be POST or PUT");
	if (strpbrk(w->content_type, "\r\n") || strpbrk(w->sig_header, "\r\n: "))
		return nt_cfg_err(ch, "content_type", err, errlen, "must be one line");
	hdrs = json_object_get(block, "headers");
	if (hdrs && !json_is_object(hdrs))
		return nt_cfg_err(ch, "headers", err, errlen,
				  "must be a mapping of names to values");
	json_object_foreach((json_t *)hdrs, k, v) {
		if (!json_is_string(v) || strpbrk(k, "\r\n: ") ||
		    strpbrk(json_string_value(v), "\r\n"))
			return nt_cfg_err(ch, "headers", err, errlen, "%.60s: must be one line", k);
		if (!strcasecmp(k, "authorization"))
			return nt_cfg_err(ch, "headers", err, errlen,
					  "Authorization is a secret: use token_env");
	}
	return 0;
}

static void webhook_close(struct notify_channel *ch)
{
	struct webhook *w = ch->priv;

	json_decref(w->block);
	memset(w, 0, sizeof(*w));
	free(w);
	ch->priv = NULL;
}

#define WEBHOOK_MAX_BODY (1024 * 1024)

struct body_arg {
	const struct notify_message *m;
	char *body; /* the last body built (malloc'd) */
	size_t len;
	char err[300];
};

/* The context as JSON, or the route's template rendered (nt_fit_tests()'s builder). */
static int build_body(const json_t *data, void *arg, size_t *size)
{
	struct body_arg *a = arg;
	struct dtf_buf b;
	int rc = 0;

	free(a->body);
	a->body = NULL;
	if (a->m->tpl) {
		rc = nt_render(a->m->tpl, NULL, data, DTF_TPL_JSON, WEBHOOK_MAX_BODY, &b, a->err,
			       sizeof(a->err));
		if (rc == DTF_ETOOBIG) {
			dtf_buf_release(&b);
			*size = (size_t)-1;
			return 0;
		}
		if (!rc)
			a->body = dtf_buf_detach(&b, &a->len);
		dtf_buf_release(&b);
	} else {
		a->body = dtf_json_dumps(data);
		a->len = a->body ? strlen(a->body) : 0;
	}
	if (!rc && !a->body)
		rc = DTF_ENOMEM;
	*size = a->len;
	return rc;
}

static int webhook_send(struct notify_channel *ch, const struct notify_message *m,

			struct notify_result *res)
{
	struct webhook *w = ch->priv;
	const char *k, *secret = w->url_secret ? w->url : w->token;
	char line[2048], hv[201], *body = NULL;
	struct body_arg ba = {0};
	struct ci_http h;
	size_t len;
	json_t *v;
	int rc;

	/* The body, with the test list cut until it fits in WEBHOOK_MAX_BODY. */
	ba.m = m;
	ba.body = NULL;
	rc = nt_fit_tests(m->data, WEBHOOK_MAX_BODY, 0, build_body, &ba);
	if (rc || !ba.body) {
		nt_fail(ch, res, NULL, "%s", ba.err[0] ? ba.err : "out of memory");
		free(ba.body);
		rc = rc ? rc : DTF_ENOMEM;
		goto out0;
	}
	body = ba.body;
	len = ba.len;
	rc = nt_http_init(ch, &h, w->url, secret[0] ? secret : NULL);
	if (rc) {
		nt_fail(ch, res, secret, "the URL is not usable");
		goto out;
	}
	if (m->key) {
		nt_header_value(hv, sizeof(hv), m->key);
		snprintf(line, sizeof(line), "Idempotency-Key: %s", hv);
		ci_http_header(&h, line);
	}
	nt_header_value(hv, sizeof(hv), m->event);
	snprintf(line, sizeof(line), "X-Dtf-Event: %s", hv);
	ci_http_header(&h, line);
	if (w->token[0]) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", w->token);
		ci_http_header(&h, line);
	}
	if (w->secret[0]) {
		unsigned char mac[EVP_MAX_MD_SIZE];
		unsigned int n = 0, i;
		int off;
		HMAC(EVP_sha256(), w->secret, (int)strlen(w->secret), (const unsigned char *)body,
		     len, mac, &n);
		off = snprintf(line, sizeof(line), "%s: sha256=", w->sig_header);
		for (i = 0; i < n && off + 3 < (int)sizeof(line); i++)
			off += snprintf(line + off, sizeof(line) - (size_t)off, "%02x", mac[i]);
		ci_http_header(&h, line);
	}
	json_object_foreach(json_object_get(w->block, "headers"), k, v) {
		snprintf(line, sizeof(line), "%s: %s", k, json_string_value(v));
		ci_http_header(&h, line);
	}
	memset(line, 0, sizeof(line));
	rc = nt_http_call(ch, &h, "webhook", w->method, w->url, w->content_type, body, len, NULL,
			  res);
	if (!rc)
		snprintf(res->answer, sizeof(res->answer), "HTTP %ld %.200s", res->status,
			 h.body.len ? dtf_buf_str(&h.body) : "");
	/* The token or URL, when a secret, never shows; a signing secret is never sent. */
	ci_mask(w->secret, res->error, sizeof(res->error));
	ci_mask(w->token, res->error, sizeof(res->error));

	ci_http_release(&h);
out:
	free(body);
out0:
	return rc;
}

const struct notify_ops notify_webhook_ops = {
    .type = "webhook",
    .open = webhook_open,
    .send = webhook_send,
    .close = webhook_close,
    .rate = 600,
    .escape = DTF_TPL_JSON,
};
