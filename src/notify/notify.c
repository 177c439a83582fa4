/* notify.c: opening a channel from its integrations.<name> block (the table of connectors), the
 * configuration readers and the HTTP call the connectors share. */
#include "notify/notify.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/json.h"
#include "notify/internal.h"

static const struct notify_ops *const connectors[] = {
    &notify_slack_ops,	  &notify_slack_webhook_ops, &notify_teams_ops,
    &notify_email_ops,	  &notify_webhook_ops,	     &notify_jira_ops,
    &notify_testrail_ops, &notify_exec_ops,	     NULL,

};

int nt_cfg_err(const struct notify_channel *ch, const char *field, char *err, size_t errlen,
	       const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (field)
		snprintf(err, errlen, "integrations.%s.%s: %s", ch->name, field, msg);
	else
		snprintf(err, errlen, "integrations.%s: %s", ch->name, msg);
	return DTF_EINVAL;
}

int nt_cfg_str(const struct notify_channel *ch, const json_t *block, const char *field,
	       bool required, const char *def, const char **out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(block, field);

	*out = def;
	if (!v || json_is_null(v)) {
		if (required)
			return nt_cfg_err(ch, field, err, errlen,
					  "missing (the %s connector needs it)", ch->ops->type);
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) == 0)
		return nt_cfg_err(ch, field, err, errlen, "must be a non-empty string");
	*out = json_string_value(v);
	return 0;
}

int nt_cfg_num(const struct notify_channel *ch, const json_t *block, const char *field, double def,
	       double min, double max, double *out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(block, field);

	*out = def;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_number(v))
		return nt_cfg_err(ch, field, err, errlen, "must be a number");
	*out = json_number_value(v);
	if (*out < min || *out > max)
		return nt_cfg_err(ch, field, err, errlen, "must be between %g and %g", min, max);
	return 0;
}

int nt_cfg_bool(const struct notify_channel *ch, const json_t *block, const char *field, bool def,
		bool *out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(block, field);
	const char *s;

	*out = def;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return 0;
	}
	s = json_string_value(v);
	if (s && (!strcasecmp(s, "on") || !strcasecmp(s, "yes") || !strcasecmp(s, "true")))
		*out = true;
	else if (s && (!strcasecmp(s, "off") || !strcasecmp(s, "no") || !strcasecmp(s, "false")))
		*out = false;
	else
		return nt_cfg_err(ch, field, err, errlen, "must be true or false (on/off)");
	return 0;
}

int nt_cfg_secret(const struct notify_channel *ch, const json_t *block, const char *prefix,
		  bool required, char *out, size_t outlen, char *err, size_t errlen)
{
	char envk[64], filek[64];
	const char *env = NULL, *file = NULL;
	int rc;

	out[0] = '\0';
	snprintf(envk, sizeof(envk), "%s_env", prefix);
	snprintf(filek, sizeof(filek), "%s_file", prefix);
	if (json_object_get(block, prefix))
		return nt_cfg_err(ch, prefix, err, errlen,
				  "a secret is not written in the configuration: name an "
				  "environment variable in %s or a file in %s",
				  envk, filek);
	if ((rc = nt_cfg_str(ch, block, envk, false, NULL, &env, err, errlen)) ||
	    (rc = nt_cfg_str(ch, block, filek, false, NULL, &file, err, errlen)))
		return rc;
	if (env && file)
		return nt_cfg_err(ch, envk, err, errlen, "give %s or %s, not both", envk, filek);
	if (env) {
		const char *v = getenv(env);
		if (!v || !*v)
			return nt_cfg_err(ch, envk, err, errlen,
					  "the environment variable %s is not set", env);
		if (strlen(v) >= outlen)
			return nt_cfg_err(ch, envk, err, errlen, "the value of %s is too long",
					  env);
		snprintf(out, outlen, "%s", v);
	} else if (file) {
		FILE *f = fopen(file, "r");
		size_t n;
		if (!f)
			return nt_cfg_err(ch, filek, err, errlen, "cannot read %s: %s", file,
					  strerror(errno));
		n = fread(out, 1, outlen - 1, f);
		fclose(f);
		out[n] = '\0';
		out[strcspn(out, "\r\n")] = '\0';
		if (!out[0])
			return nt_cfg_err(ch, filek, err, errlen, "%s is empty", file);
	} else {
		if (required)
			return nt_cfg_err(ch, envk, err, errlen,
					  "missing: the %s connector needs %s or %s", ch->ops->type,
					  envk, filek);
		return 0;
	}
	for (size_t i = 0; out[i]; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f) {
			out[0] = '\0';
			/* It goes into headers and URLs: a control character would split them. */
			return nt_cfg_err(ch, env ? envk : filek, err, errlen,
					  "the secret holds a control character");
		}
	if (strlen(out) < 4) {

		out[0] = '\0';
		return nt_cfg_err(ch, env ? envk : filek, err, errlen,
				  "the secret is shorter than 4 characters");
	}
	return 0;
}

int nt_cfg_known(const struct notify_channel *ch, const json_t *block, const char *const *known,
		 char *err, size_t errlen)
{
	static const char *const common[] = {"type", "timeout_s", "max_answer_bytes", NULL};
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)block, k, v) {
		const char *const *p;
		bool ok = false;
		for (p = common; *p && !ok; p++)
			ok = strcmp(*p, k) == 0;
		for (p = known; *p && !ok; p++) {
			size_t n = strlen(k);
			/* An inline secret ("token" beside a known "token_env") is left to
			 * nt_cfg_secret(), which says where it belongs. */
			ok = strcmp(*p, k) == 0 ||
			     (strncmp(*p, k, n) == 0 && !strcmp(*p + n, "_env"));
		}
		if (!ok)
			return nt_cfg_err(ch, k, err, errlen, "unknown field for type %s",
					  ch->ops->type);
	}
	return 0;
}

void nt_header_value(char *out, size_t outlen, const char *s)
{
	size_t i;

	snprintf(out, outlen, "%s", s ? s : "");
	for (i = 0; out[i]; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = '_';
}

/* A webhook URL is a secret as a whole
, and so is each of its parts that a service might echo
 * alone: query values and long path segments (Slack's and Teams' signatures). */
static void mask_url_parts(const char *url, char *s, size_t size)
{
	const char *p = strstr(url, "://");
	char part[NOTIFY_MAX_SECRET];

	p = p ? p + 3 : url;
	while (*p) {
		size_t n;
		if (*p == '/' || *p == '?' || *p == '&' || *p == '=') {
			p++;
			continue;
		}
		n = strcspn(p, "/?&=");
		if (n >= 12 && n < sizeof(part)) {
			memcpy(part, p, n);
			part[n] = '\0';
			ci_mask(part, s, size);
		}
		p += n;
	}
}

void nt_fail(const struct notify_channel *ch, struct notify_result *res, const char *secret,

	     const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(res->error, sizeof(res->error), "%s channel %s: %s", notify_channel_type(ch),
		 ch->name, msg);
	ci_mask(secret, res->error, sizeof(res->error));
	if (secret && (!strncmp(secret, "https://", 8) || !strncmp(secret, "http://", 7)))
		mask_url_parts(secret, res->error, sizeof(res->error));
}

int nt_http_init(const struct notify_channel *ch, struct ci_http *h, const char *base,
		 const char *secret)
{
	int rc = ci_http_init(h, base, secret);

	if (rc)
		return rc;
	h->max_retries = 0;
	h->timeout_ms = (long)(ch->timeout_s * 1000);
	h->connect_timeout_ms = h->timeout_ms < 10000 ? h->timeout_ms : 10000;
	h->body.cap = ch->max_answer;
	return ci_http_header(h, "User-Agent: dtf-notify/0.1");
}

int nt_http_call(const struct notify_channel *ch, struct ci_http *h, const char *what,
		 const char *method, const char *path, const char *ctype, const char *body,
		 size_t len, json_t **resp, struct notify_result *res)
{
	int rc = ci_http_request(h, method, path, ctype, body, len, resp);

	res->status = h->status;
	res->retry = false;
	res->retry_after_ms = 0;
	if (rc == 0)
		return 0;
	if (h->curl_code == CURLE_WRITE_ERROR) {
		/* dtf_curl_write_buf refused more: the answer is over max_answer_bytes. Asking
		 * again would get the same. */
		nt_fail(ch, res, h->secret, "%s: the answer is larger than %zu bytes", what,
			ch->max_answer);
		return DTF_ETOOBIG;
	}
	if (h->curl_code == CURLE_OPERATION_TIMEDOUT) {
		res->retry = true;
		nt_fail(ch, res, h->secret, "%s: no answer within %g s", what, ch->timeout_s);
		return DTF_ETIMEOUT;
	}
	if (h->curl_code != CURLE_OK) {
		res->retry = true;
		nt_fail(ch, res, h->secret, "%s: %s", what, h->error);
		return rc;
	}
	res->retry = h->status == 408 || h->status == 429 || h->status >= 500;
	if (h->status == 429 || h->status == 503) {
		double s = h->retry_after_s >= 0 ? h->retry_after_s : h->ratelimit_reset_s;
		if (s >= 0)
			res->retry_after_ms = (long)(s * 1000 + 0.5);
	}
	nt_fail(ch, res, h->secret, "%s: %s%s", what,
		h->status == 401   ? "unauthorized (check the credential): "
		: h->status == 403 ? "forbidden (the credential lacks a permission): "
		: h->status == 404 ? "not found: "
		: h->status == 410 ? "gone (the endpoint was retired or removed): "
		: h->status == 429 ? "rate limited: "
				   : "",
		h->error);
	return rc;
}

int nt_http_json(const struct notify_channel *ch, struct ci_http *h, const char *what,
		 const char *method, const char *path, const json_t *body, json_t **resp,
		 struct notify_result *res)
{
	char *text = NULL;
	int rc;

	if (body && !(text = dtf_json_dumps(body))) {
		nt_fail(ch, res, NULL, "%s: out of memory", what);
		return DTF_ENOMEM;
	}
	rc =
	    nt_http_call(ch, h, what, method, path, text ? "application/json; charset=utf-8" : NULL,
			 text, text ? strlen(text) : 0, resp, res);
	free(text);
	return rc;
}

int notify_channel_open(const char *name, const json_t *block, struct notify_channel **out,
			char *err, size_t errlen)
{
	return notify_channel_open_ext(name, block, NULL, out, err, errlen);
}

int notify_channel_open_ext(const char *name, const json_t *block, const struct notify_ext *ext,
			    struct notify_channel **out, char *err, size_t errlen)
{
	const struct notify_ops *const *p;
	bool plugin;
	struct notify_channel *ch;
	const char *type;
	double v;
	int rc;

	*out = NULL;
	if (!name || !*name || strlen(name) >= NOTIFY_NAME_MAX) {
		snprintf(err, errlen, "integrations: a channel name must have 1 to %d characters",
			 NOTIFY_NAME_MAX - 1);
		return DTF_EINVAL;
	}
	if (!json_is_object(block)) {
		snprintf(err, errlen, "integrations.%s: must be a mapping", name);
		return DTF_EINVAL;
	}
	type = json_string_value(json_object_get(block, "type"));
	if (!type) {
		snprintf(
		    err, errlen,
		    "integrations.%s.type: missing (slack, slack_webhook, teams, email, webhook, "
		    "jira, testrail or exec)",
		    name);
		return DTF_EINVAL;
	}
	/* A plugin's type comes first: a plugin may replace a built-in connector. */
	plugin = ext && ext->provider && ext->provider(ext->arg, type);
	for (p = connectors; !plugin && *p; p++)
		if (strcmp((*p)->type, type) == 0)
			break;
	if (!plugin && !*p) {
		snprintf(err, errlen,
			 "integrations.%s.type: unknown type '%.40s' (slack, slack_webhook, teams, "
			 "email, webhook, jira, testrail or exec%s)",
			 name, type, ext ? ", or a type an enabled plugin offers" : "");
		return DTF_EINVAL;
	}
	if (strlen(type) >= sizeof(ch->type)) {
		snprintf(err, errlen, "integrations.%s.type: longer than %zu characters", name,
			 sizeof(ch->type) - 1);
		return DTF_EINVAL;
	}
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return DTF_ENOMEM;
	snprintf(ch->name, sizeof(ch->name), "%s", name);
	snprintf(ch->type, sizeof(ch->type), "%s", type);
	ch->ops = plugin ? &notify_plugin_ops : *p;
	rc = nt_cfg_num(ch, block, "timeout_s", NOTIFY_DEFAULT_TIMEOUT_S, 0.1, 600, &ch->timeout_s,
			err, errlen);
	if (!rc)
		rc = nt_cfg_num(ch, block, "max_answer_bytes", NOTIFY_DEFAULT_MAX_ANSWER, 1024,
				64 << 20, &v, err, errlen);
	if (!rc) {
		ch->max_answer = (size_t)v;
		rc = plugin ? nt_plugin_open(ch, ext, type, block, err, errlen)
			    : ch->ops->open(ch, block, err, errlen);
	}
	if (rc) {
		notify_channel_close(ch);
		return rc;
	}
	*out = ch;
	return 0;
}

int notify_send(struct notify_channel *ch, const struct notify_message *m,
		struct notify_result *res)
{
	memset(res, 0, sizeof(*res));
	if (!m || !m->event || !json_is_object(m->data)) {
		nt_fail(ch, res, NULL, "a message needs an event and an object of data");
		return DTF_EINVAL;
	}
	return ch->ops->send(ch, m, res);
}

const char *notify_channel_name(const struct notify_channel *ch)
{
	return ch->name;
}

const char *notify_channel_type(const struct notify_channel *ch)
{
	return ch->type[0] ? ch->type : ch->ops->type;
}

bool notify_channel_no_dedupe(const struct notify_channel *ch)
{
	return ch->ops->no_dedupe;
}

double notify_channel_rate(const struct notify_channel *ch)
{
	return ch->ops->rate;
}

int notify_channel_escape(const struct notify_channel *ch)
{
	return ch->ops->escape_of ? ch->ops->escape_of(ch) : (int)ch->ops->escape;
}

void notify_channel_close(struct notify_channel *ch)
{
	if (!ch)
		return;
	if (ch->priv && ch->ops->close)
		ch->ops->close(ch);
	free(ch);
}
