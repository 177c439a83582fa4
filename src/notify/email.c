/* email.c: email over SMTP (libcurl): STARTTLS required unless `starttls: off` is set
 * explicitly, implicit TLS with smtps://, login with a password from password_env /
 * password_file, a private CA with ca_file. The message is multipart/alternative (a plain-text
 * and an HTML part, UTF-8, quoted-printable) with an RFC 2047 subject, To and Cc, a Date and a
 * Message-ID derived from the message key, so that a retry is recognisably the same message. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/json.h"
#include "net/curl_setup.h"
#include "notify/internal.h"

#define EMAIL_MAX_BYTES (1024 * 1024) /* a whole message */
#define EMAIL_MAX_RCPT	100
#define EMAIL_MAX_BODY	(384 * 1024) /* the text and HTML parts together, before encoding */

static const char email_subject_tpl[] = "[dtf] {{title}}";
static const char email_text_tpl[] =
    "{{title}}\n"
    "\n"
    "{{#text}}\n"
    "{{text}}\n"
    "\n"
    "{{/text}}\n"
    "{{#run}}\n"
    "Run: {{name}} ({{id}})\n"
    "{{#counts}}\n"
    "Tests: {{total}} total, {{passed}} passed, {{failed}} failed, "
    "{{skipped}} skipped\n"
    "{{/counts}}\n"
    "{{/run}}\n"
    "{{#listed_tests}}\n"
    "\n"
    "Failed tests:\n"
    "{{/listed_tests}}\n"
    "{{#tests}}\n"
    "  - {{name}}{{#error}}\n"
    "      {{error}}{{/error}}\n"
    "{{/tests}}\n"
    "{{#more}}\n"
    "  and {{more}} more\n"
    "{{/more}}\n"
    "{{#url}}\n"
    "\n"
    "{{url}}\n"
    "{{/url}}\n"
    "\n"
    "-- \n"
    "Sent by dtf ({{event}}, {{severity}})\n";
static const char email_html_tpl[] =
    "<!DOCTYPE html>\n"
    "<html><head><meta charset=\"utf-8\"><title>{{title}}</title></head>\n"
    "<body style=\"font-family: sans-serif; font-size: 14px; color: #222;\">\n"
    "<h2 style=\"margin: 0 0 8px 0;\">{{title}}</h2>\n"
    "{{#text}}\n"
    "<p>{{text}}</p>\n"
    "{{/text}}\n"
    "{{#run}}\n"
    "{{#counts}}\n"
    "<table style=\"border-collapse: collapse;\"><tr>"
    "<td style=\"padding: 2px 12px 2px 0;\">Total <b>{{total}}</b></td>"
    "<td style=\"padding: 2px 12px; color: #1a7f37;\">Passed <b>{{passed}}</b></td>"
    "<td style=\"padding: 2px 12px; color: #cf222e;\">Failed <b>{{failed}}</b></td>"
    "<td style=\"padding: 2px 12px; color: #57606a;\">Skipped <b>{{skipped}}</b></td>"
    "</tr></table>\n"
    "{{/counts}}\n"
    "{{/run}}\n"
    "{{#listed_tests}}\n"
    "<h3>Failed tests</h3>\n"
    "<ul>\n"
    "{{/listed_tests}}\n"
    "{{#tests}}\n"
    "<li><code>{{name}}</code>{{#error}}<br><span style=\"color: #57606a;\">{{error}}"
    "</span>{{/error}}</li>\n"
    "{{/tests}}\n"
    "{{#listed_tests}}\n"
    "</ul>\n"
    "{{/listed_tests}}\n"
    "{{#more}}\n"
    "<p>and {{more}} more</p>\n"
    "{{/more}}\n"
    "{{#url}}\n"
    "<p><a href=\"{{url}}\">Open the run</a></p>\n"
    "{{/url}}\n"
    "<p style=\"color: #8c959f; font-size: 12px;\">Sent by dtf ({{event}}, {{severity}})</p>\n"
    "</body></html>\n";

struct email {
	char password[NOTIFY_MAX_SECRET];
	const char *url; /* smtp://host:587 or smtps://host:465 */
	const char *from, *username, *ca_file, *subject;
	json_t *to, *cc; /* arrays of addresses */
	json_t *block;	 /* the configuration (a reference: the strings above point into it) */
	bool starttls;
};

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int base64(struct dtf_buf *out, const unsigned char *s, size_t n)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < n && !rc; i += 3) {
		unsigned v = (unsigned)s[i] << 16;
		char q[4];
		if (i + 1 < n)
			v |= (unsigned)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		q[0] = b64[(v >> 18) & 63];
		q[1] = b64[(v >> 12) & 63];
		q[2] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? b64[v & 63] : '=';
		rc = dtf_buf_add(out, q, 4);
	}
	return rc;
}

int notify_rfc2047(struct dtf_buf *out, const char *s)
{
	size_t n = strlen(s), i = 0;
	bool plain = true;
	int rc = 0;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80 || s[i] == '\r' || s[i] == '\n' ||
		    (s[i] == '=' && s[i + 1] == '?'))
			plain = false;
	if (plain && n <= 900)
		return dtf_buf_add(out, s, n);
	/* Encoded words of at most 75 characters: 12 of "=?UTF-8?B?" and "?=", 60 of base64
	 * for 45 bytes, never splitting a UTF-8 sequence between two words. */
	for (i = 0; i < n && !rc;) {
		size_t k = n - i > 45 ? 45 : n - i;
		while (k > 0 && i + k < n && ((unsigned char)s[i + k] & 0xC0) == 0x80)
			k--;
		if (k == 0)
			k = 1;
		if (i)
			rc = dtf_buf_adds(out, "\r\n ");
		if (!rc)
			rc = dtf_buf_adds(out, "=?UTF-8?B?");
		if (!rc)
			rc = base64(out, (const unsigned char *)s + i, k);
		if (!rc)
			rc = dtf_buf_adds(out, "?=");
		i += k;
	}
	return rc;
}

/* Quoted-printable (RFC 2045 6.7) with CRLF line ends and lines of at most 76 characters. */
static int quoted_printable(struct dtf_buf *out, const char *s, size_t n)
{
	size_t i, col = 0;
	int rc = 0;

	for (i = 0; i < n && !rc; i++) {
		unsigned char c = (unsigned char)s[i];
		char enc[4];
		size_t w;
		if (c == '\n') {
			rc = dtf_buf_adds(out, "\r\n");
			col = 0;
			continue;
		}
		if (c == '\r')
			continue;
		if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && i + 1 < n &&
							  s[i + 1] != '\n' && s[i + 1] != '\r')) {
			enc[0] = (char)c;
			w = 1;
		} else {
			snprintf(enc, sizeof(enc), "=%02X", c);
			w = 3;
		}
		if (col + w > 75) {
			rc = dtf_buf_adds(out, "=\r\n");
			col = 0;
		}
		if (!rc)
			rc = dtf_buf_add(out, enc, w);
		col += w;
	}
	return rc;
}

static unsigned long long fnv1a(const char *s)
{
	unsigned long long h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static int add_list(struct dtf_buf *out, const char *name, const json_t *list)
{
	size_t i;
	json_t *v;
	int rc = 0;

	if (!json_array_size(list))
		return 0;
	rc = dtf_buf_printf(out, "%s: ", name);
	json_array_foreach(list, i, v) {
		if (!rc && i)
			rc = dtf_buf_adds(out, ",\r\n ");
		if (!rc)
			rc = dtf_buf_adds(out, json_string_value(v));
	}
	return rc ? rc : dtf_buf_adds(out, "\r\n");
}

struct body_arg {
	const struct notify_message *m;
	struct dtf_buf text, html;
	char err[300];
};

/* Renders both parts for data (nt_fit_tests()'s builder); the size is both together. */
static int build_body(const json_t *data, void *arg, size_t *size)
{
	struct body_arg *a = arg;
	json_t *d = json_deep_copy(data);
	int rc;

	if (!d)
		return DTF_ENOMEM;
	/* Whether any test is listed, for the lists' headings. */
	json_object_set_new(d, "listed_tests", json_boolean(nt_data_ntests(d) > 0));
	dtf_buf_release(&a->text);
	dtf_buf_release(&a->html);
	rc = nt_render(NULL, email_text_tpl, d, DTF_TPL_TEXT, EMAIL_MAX_BODY, &a->text, a->err,
		       sizeof(a->err));
	if (!rc)
		rc = nt_render(a->m->tpl, email_html_tpl, d, DTF_TPL_HTML, EMAIL_MAX_BODY, &a->html,
			       a->err, sizeof(a->err));
	json_decref(d);
	if (rc == DTF_ETOOBIG) {
		*size = (size_t)-1;
		return 0;
	}
	*size = a->text.len + a->html.len;
	return rc;
}

int notify_email_build(struct dtf_buf *out, const struct notify_message *m, const char *from,
		       const json_t *to, const json_t *cc, const char *subject_tpl, long long now)
{
	struct dtf_buf subj, text, html;
	struct dtf_tpl *st = NULL;
	struct dtf_tpl_error te;
	char err[300], date[64], boundary[64], msgid[200], key[64], event[65];

	const char *dom = strchr(from, '@');
	time_t t = (time_t)now;
	struct tm tm;
	unsigned long long h = fnv1a(m->key ? m->key : "");
	struct body_arg ba;
	size_t i, k = 0;
	int rc;

	dtf_buf_init(&subj, 2048);
	if (subject_tpl) {
		rc = dtf_tpl_compile(subject_tpl, strlen(subject_tpl), &st, &te);
		if (rc)
			return rc;
	}
	rc = nt_render(st, email_subject_tpl, m->data, DTF_TPL_TEXT, 2048, &subj, err, sizeof(err));
	dtf_tpl_free(st);
	/* The parts, with the list cut until both fit in EMAIL_MAX_BODY. */
	ba.m = m;
	dtf_buf_init(&ba.text, 0);
	dtf_buf_init(&ba.html, 0);
	if (!rc)
		rc = nt_fit_tests(m->data, EMAIL_MAX_BODY, 4000, build_body, &ba);
	text = ba.text;
	html = ba.html;
	if (rc)
		goto out;
	nt_header_value(event, sizeof(event), m->event);
	/* A subject is one line. */
	for (i = 0; i < subj.len; i++)
		if (subj.data[i] == '\r' || subj.data[i] == '\n')
			subj.data[i] = ' ';
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	snprintf(boundary, sizeof(boundary), "=_dtf_%016llx", h);
	/* The Message-ID: the key's safe characters and its hash, at the sender's domain. */
	for (i = 0; m->key && m->key[i] && k < sizeof(key) - 1; i++) {
		char c = m->key[i];
		key[k++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				   (c >= '0' && c <= '9') || c == '-' || c == '.'
			       ? c
			       : '.';
	}
	key[k] = '\0';
	/* At the sender's domain ("dtf <ci@example.org>" -> example.org). */
	snprintf(msgid, sizeof(msgid), "<%s.%016llx@%.*s>", key[0] ? key : "dtf", h,
		 dom && dom[1] ? (int)strcspn(dom + 1, "> \t") : 11,
		 dom && dom[1] ? dom + 1 : "dtf.invalid");

	rc = dtf_buf_printf(out, "Date: %s\r\nFrom: %s\r\n", date, from);
	if (!rc)
		rc = add_list(out, "To", to);
	if (!rc)
		rc = add_list(out, "Cc", cc);
	if (!rc)
		rc = dtf_buf_adds(out, "Subject: ");
	if (!rc)
		rc = notify_rfc2047(out, dtf_buf_str(&subj));
	if (!rc)
		rc = dtf_buf_printf(out,
				    "\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n"
				    "Content-Type: multipart/alternative; boundary=\"%s\"\r\n"
				    "X-Dtf-Event: %s\r\nAuto-Submitted: auto-generated\r\n\r\n"
				    "This is a MIME message.\r\n\r\n--%s\r\n"
				    "Content-Type: text/plain; charset=UTF-8\r\n"
				    "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
				    msgid, boundary, event, boundary);
	if (!rc)
		rc = quoted_printable(out, text.data ? text.data : "", text.len);
	if (!rc)
		rc = dtf_buf_printf(out,
				    "\r\n--%s\r\nContent-Type: text/html; charset=UTF-8\r\n"
				    "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
				    boundary);
	if (!rc)
		rc = quoted_printable(out, html.data ? html.data : "", html.len);
	if (!rc)
		rc = dtf_buf_printf(out, "\r\n--%s--\r\n", boundary);
out:
	dtf_buf_release(&subj);
	dtf_buf_release(&text);
	dtf_buf_release(&html);
	return rc;
}

/* An address list: one string or a list of strings, each "a@b" or "Name <a@b>". */
static int addresses(struct notify_channel *ch, const json_t *block, const char *field,
		     bool required, json_t **out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(block, field), *x;
	size_t i;

	*out = json_array();
	if (!v || json_is_null(v)) {
		if (required)
			return nt_cfg_err(ch, field, err, errlen, "missing (at least one address)");
		return 0;
	}
	if (json_is_string(v))
		json_array_append(*out, (json_t *)v);
	else if (json_is_array(v))
		json_array_foreach(v, i, x)
			json_array_append(*out, (json_t *)x);
	json_array_foreach(*out, i, x) {
		const char *s = json_string_value(x);
		if (!s || !strchr(s, '@') || strpbrk(s, "\r\n,"))
			return nt_cfg_err(ch, field, err, errlen,
					  "must be an address or a list of addresses");
	}
	if (required && !json_array_size(*out))
		return nt_cfg_err(ch, field, err, errlen, "missing (at least one address)");
	if (json_array_size(*out) > EMAIL_MAX_RCPT)
		return nt_cfg_err(ch, field, err, errlen, "more than %d addresses", EMAIL_MAX_RCPT);
	return 0;
}

static int email_open(struct notify_channel *ch, const json_t *block, char *err, size_t errlen)
{
	static const char *const known[] = {
	    "smtp_url",	     "from",	 "to",	    "cc",      "username", "password_env",
	    "password_file", "starttls", "ca_file", "subject", NULL};
	struct email *e = calloc(1, sizeof(*e));
	int rc;

	if (!e)
		return DTF_ENOMEM;
	ch->priv = e;
	e->block = json_incref((json_t *)block);
	if ((rc = nt_cfg_known(ch, block, known, err, errlen)) ||
	    (rc = nt_cfg_str(ch, block, "smtp_url", true, NULL, &e->url, err, errlen)) ||
	    (rc = nt_cfg_str(ch, block, "from", true, NULL, &e->from, err, errlen)) ||
	    (rc = addresses(ch, block, "to", true, &e->to, err, errlen)) ||
	    (rc = addresses(ch, block, "cc", false, &e->cc, err, errlen)) ||
	    (rc = nt_cfg_str(ch, block, "username", false, NULL, &e->username, err, errlen)) ||
	    (rc = nt_cfg_secret(ch, block, "password", e->username != NULL, e->password,
				sizeof(e->password), err, errlen)) ||
	    (rc = nt_cfg_bool(ch, block, "starttls", true, &e->starttls, err, errlen)) ||
	    (rc = nt_cfg_str(ch, block, "ca_file", false, NULL, &e->ca_file, err, errlen)) ||
	    (rc = nt_cfg_str(ch, block, "subject", false, NULL, &e->subject, err, errlen)))
		return rc;
	if (strncmp(e->url, "smtp://", 7) && strncmp(e->url, "smtps://", 8))
		return nt_cfg_err(ch, "smtp_url", err, errlen,
				  "must be smtp://host[:port] (STARTTLS) or smtps://host[:port]");
	if (!strchr(e->from, '@') || strpbrk(e->from, "\r\n"))
		return nt_cfg_err(ch, "from", err, errlen, "must be an address");
	if (e->subject) {
		struct dtf_tpl *t;
		struct dtf_tpl_error te;
		if (dtf_tpl_compile(e->subject, strlen(e->subject), &t, &te))
			return nt_cfg_err(ch, "subject", err, errlen, "%u:%u: %s", te.line,
					  te.column, te.message);
		dtf_tpl_free(t);
	}
	if (e->ca_file && access(e->ca_file, R_OK))
		return nt_cfg_err(ch, "ca_file", err, errlen, "cannot read %s", e->ca_file);
	return 0;
}

static void email_close(struct notify_channel *ch)
{
	struct email *e = ch->priv;

	json_decref(e->to);
	json_decref(e->cc);
	json_decref(e->block);
	memset(e->password, 0, sizeof(e->password));
	free(e);
	ch->priv = NULL;
}

struct reader {
	const char *data;
	size_t len, off;
};

static size_t on_read(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct reader *r = arg;
	size_t n = size * nmemb;

	if (n > r->len - r->off)
		n = r->len - r->off;
	memcpy(buf, r->data + r->off, n);
	r->off += n;
	return n;
}

/* The address inside "Name <a@b>", as MAIL FROM and RCPT TO take it. */
static void bare(const char *s, char *out, size_t outlen)
{
	const char *lt = strrchr(s, '<'), *gt = lt ? strchr(lt, '>') : NULL;

	if (lt && gt)
		snprintf(out, outlen, "<%.*s>", (int)(gt - lt - 1), lt + 1);
	else
		snprintf(out, outlen, "<%s>", s);
}

static int email_send(struct notify_channel *ch, const struct notify_message *m,
		      struct notify_result *res)
{
	struct email *e = ch->priv;
	struct curl_slist *rcpt = NULL;
	struct dtf_buf msg;
	struct reader r;
	char addr[512], cerr[CURL_ERROR_SIZE] = "";
	const json_t *lists[2] = {e->to, e->cc};
	CURL *c = NULL;
	CURLcode cc;
	long code = 0;
	size_t i, j;
	json_t *v;
	int rc;

	dtf_buf_init(&msg, EMAIL_MAX_BYTES);
	rc = notify_email_build(&msg, m, e->from, e->to, e->cc, e->subject, (long long)time(NULL));
	if (rc) {
		nt_fail(ch, res, NULL, "cannot build the message: %s", dtf_strerror(rc));
		goto out;
	}
	dtf_curl_global_init();
	c = curl_easy_init();
	if (!c) {
		rc = DTF_ENOMEM;
		nt_fail(ch, res, NULL, "out of memory");
		goto out;
	}
	for (j = 0; j < 2; j++)
		json_array_foreach(lists[j], i, v) {
			bare(json_string_value(v), addr, sizeof(addr));
			rcpt = curl_slist_append(rcpt, addr);
		}
	bare(e->from, addr, sizeof(addr));
	r = (struct reader){msg.data, msg.len, 0};
	curl_easy_setopt(c, CURLOPT_URL, e->url);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, addr);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &r);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg.len);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(ch->timeout_s * 1000));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(ch->timeout_s * 1000));
	/* STARTTLS is required unless switched off by name; smtps:// is TLS from the start. */
	if (e->starttls || !strncmp(e->url, "smtps://", 8))
		curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (e->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, e->ca_file);
	if (e->username) {
		curl_easy_setopt(c, CURLOPT_USERNAME, e->username);
		curl_easy_setopt(c, CURLOPT_PASSWORD, e->password);
	}
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	res->status = code;
	if (cc == CURLE_OK) {
		snprintf(res->answer, sizeof(res->answer), "accepted (SMTP %ld) for %zu recipients",
			 code, json_array_size(e->to) + json_array_size(e->cc));
		goto out;
	}
	/* Connection trouble, timeouts and 4xx replies are transient; a refused login, a server
	 * without STARTTLS, a certificate that does not verify and 5xx replies are not. */
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
		res->retry = true;
		break;
	default:
		res->retry = code >= 400 && code < 500;
		break;
	}
	rc = cc == CURLE_OPERATION_TIMEDOUT ? DTF_ETIMEOUT
	     : cc == CURLE_LOGIN_DENIED	    ? DTF_EAUTH
					    : DTF_ENET;
	nt_fail(ch, res, e->password, "%s: %s%s%s%s", e->url, curl_easy_strerror(cc),
		cerr[0] ? " (" : "", cerr, cerr[0] ? ")" : "");
	if (cc == CURLE_USE_SSL_FAILED)
		snprintf(res->error + strlen(res->error), sizeof(res->error) - strlen(res->error),
			 "; the server offers no STARTTLS and the password and message would go "
			 "unencrypted (starttls: off allows that)");
out:
	curl_slist_free_all(rcpt);
	if (c)
		curl_easy_cleanup(c);
	dtf_buf_release(&msg);
	return rc;
}

const struct notify_ops notify_email_ops = {
    .type = "email",
    .open = email_open,
    .send = email_send,
    .close = email_close,
    .rate = 30, /* a polite rate for a shared mail relay */
    .escape = DTF_TPL_HTML,
};
