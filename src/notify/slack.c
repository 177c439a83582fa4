/* slack.c: Slack, through the Web API with a bot token (type slack: chat.postMessage, and
 * chat.update to keep one message per run current) or an incoming webhook (type
 * slack_webhook). Messages are Block Kit: a header, the counts as section fields, the failed
 * tests as a mrkdwn section, a context line with the run's link; each within Slack's block
 * limits, the test list shortened ("and N more") rather than the send failing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "notify/internal.h"

#define SLACK_MAX_RUNS 1000 /* run -> message references remembered per channel */

/* The built-in templates (mrkdwn). A test's name comes as name_md, formatted by
 * notify_slack_name so that it shows literally. */
static const char slack_text_tpl[] = "{{#text}}{{text}}{{/text}}";
static const char slack_list_tpl[] = "{{#tests}}\n"
				     "\xe2\x80\xa2 {{{name_md}}}{{#error}}: {{error}}{{/error}}\n"
				     "{{/tests}}\n"
				     "{{#more}}\n"
				     "_and {{more}} more_\n"
				     "{{/more}}\n";

struct slack {
	char token[NOTIFY_MAX_SECRET]; /* bot token (slack) or the webhook URL (slack_webhook) */
	const char *channel;	       /* where chat.postMessage posts */
	char base[512];		       /* https://slack.com/api */
	json_t *runs;		       /* run id -> "<channel>:<ts>" */
	json_t *order;		       /* run ids, oldest first, to forget the oldest */
	json_t *block;		       /* the configuration (a reference) */
	bool update;		       /* update_run_message */
};

static const char *severity_emoji(const char *sev)
{
	if (!sev)
		return ":information_source:";
	if (!strcmp(sev, "critical"))
		return ":rotating_light:";
	if (!strcmp(sev, "error"))
		return ":x:";
	if (!strcmp(sev, "warning"))
		return ":warning:";
	return ":information_source:";
}

static json_t *text_obj(const char *type, const char *s)
{
	json_t *o = json_pack("{s:s, s:s}", "type", type, "text", s);

	if (o && !strcmp(type, "plain_text"))
		json_object_set_new(o, "emoji", json_true());
	return o;
}

static json_t *clipped(const char *s, size_t max)
{
	struct dtf_buf b;
	json_t *v;

	dtf_buf_init(&b, max + 8);
	nt_clip(&b, s, max);
	v = json_string(dtf_buf_str(&b));
	dtf_buf_release(&b);
	return v ? v : json_string("");
}

/* The counts as section fields: every number in run.counts (total, passed, failed, … in the
 * order they come), then the duration; at most SLACK_FIELDS_MAX. */
static json_t *count_fields(const json_t *data)
{
	const json_t *counts = nt_get(data, "run.counts"), *dur = nt_get(data, "run.duration_s");
	json_t *fields = json_array(), *v;
	const char *k;

	json_object_foreach((json_t *)counts, k, v) {
		char t[200];
		if (!json_is_integer(v) || !k[0] || json_array_size(fields) >= SLACK_FIELDS_MAX - 1)
			continue;

		snprintf(t, sizeof(t), "*%c%.60s*\n%lld",
			 k[0] >= 'a' && k[0] <= 'z' ? k[0] - 32 : k[0], k + 1,
			 (long long)json_integer_value(v));
		json_array_append_new(fields, text_obj("mrkdwn", t));
	}
	if (json_is_number(dur)) {
		char t[80];
		snprintf(t, sizeof(t), "*Duration*\n%.1f s", json_number_value(dur));
		json_array_append_new(fields, text_obj("mrkdwn", t));
	}
	return fields;
}

/* Slack's mrkdwn has no escape for its formatting characters (only & < > are entities), and a
 * zero-width space to break them up would be copied with the name. A code span shows them
 * literally, so a name that could format goes in one; the others stay bold, as before. A _
 * inside a word does not format. */
void notify_slack_name(struct dtf_buf *out, const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t i, n = strlen(name);
	bool code = false;

	for (i = 0; i < n && !code; i++)
		code = p[i] == '*' || p[i] == '~' || p[i] == '`' ||
		       (p[i] == '_' &&
			(i == 0 || i + 1 == n || !nt_alnum(p[i - 1]) || !nt_alnum(p[i + 1])));
	dtf_buf_adds(out, code ? "`" : "*");
	for (i = 0; i < n; i++) {
		size_t run = i;
		while (i < n && p[i] != '`')
			i++;
		dtf_tpl_escape(out, name + run, i - run, DTF_TPL_MRKDWN);
		if (i < n)
			dtf_buf_adds(out, "\xcb\x8b"); /* U+02CB: a backtick would end the span */
	}
	dtf_buf_adds(out, code ? "`" : "*");
}

struct list_arg {
	const struct notify_message *m;
	struct dtf_buf out;
	bool too_big; /* even with no test listed, the list is past its cap */
	char err[300];
};

static int build_list(const json_t *data, void *arg, size_t *size)
{
	struct list_arg *a = arg;
	json_t *named = NULL;
	int rc;

	dtf_buf_release(&a->out);
	if (!a->m->tpl && !(named = nt_data_names(data, notify_slack_name)))
		return DTF_ENOMEM;
	rc = nt_render(a->m->tpl, slack_list_tpl, named ? named : data, DTF_TPL_MRKDWN, 256 * 1024,
		       &a->out, a->err, sizeof(a->err));
	json_decref(named);
	/* Past the buffer's cap counts as too long, not as an error: fewer tests may fit. */
	a->too_big = rc == DTF_ETOOBIG;
	if (rc == DTF_ETOOBIG) {
		*size = (size_t)-1;
		return 0;
	}
	*size = a->out.len;
	return rc;
}

json_t *notify_slack_payload(const struct notify_message *m)
{
	char err[300];
	json_t *p = notify_slack_payload_err(m, err, sizeof(err));

	/* The unit tests' entry: a template that fails gives the message without its list. */
	if (!p && m->tpl) {
		struct notify_message plain = *m;
		plain.tpl = NULL;
		p = notify_slack_payload_err(&plain, err, sizeof(err));
	}
	return p;
}

json_t *notify_slack_payload_err(const struct notify_message *m, char *err, size_t errlen)
{
	const json_t *data = m->data;
	const char *title = nt_gets(data, "title", m->event), *url = nt_gets(data, "url", NULL);
	json_t *blocks = json_array(), *fields, *p;
	struct list_arg la = {.m = m};
	struct dtf_buf text, line;
	char head[400];
	int rc;

	err[0] = '\0';
	dtf_buf_init(&la.out, 256 * 1024);
	dtf_buf_init(&line, 8192);
	if (!url)
		url = nt_gets(data, "run.url", NULL);
	/* Header: plain text, at most 150 characters. */
	snprintf(head, sizeof(head), "%s %s", severity_emoji(m->severity), title);
	json_array_append_new(blocks,
			      json_pack("{s:s, s:o}", "type", "header", "text",
					json_pack("{s:s, s:o, s:b}", "type", "plain_text", "text",
						  clipped(head, SLACK_HEADER_MAX), "emoji", 1)));
	/* The message's text, when there is one and no template replaces it. */
	if (!m->tpl &&
	    nt_render(NULL, slack_text_tpl, data, DTF_TPL_MRKDWN, 64 * 1024, &text, la.err,
		      sizeof(la.err)) == 0 &&
	    text.len) {
		json_array_append_new(blocks,
				      json_pack("{s:s, s:{s:s, s:o}}", "type", "section", "text",
						"type", "mrkdwn", "text",
						clipped(dtf_buf_str(&text), SLACK_SECTION_MAX)));
	}
	if (!m->tpl)
		dtf_buf_release(&text);
	fields = count_fields(data);
	if (json_array_size(fields))
		json_array_append_new(blocks,
				      json_pack("{s:s, s:o}", "type", "section", "fields", fields));
	else
		json_decref(fields);
	/* The tests (or the route's template), shortened to fit a section. A template that does
	 * not render, even with no test listed, fails the message rather than dropping it. */
	rc = nt_fit_tests(data, SLACK_SECTION_MAX, 500, build_list, &la);
	if (rc || (m->tpl && la.too_big)) {
		snprintf(err, errlen, "the route's template did not render: %s",
			 la.err[0] ? la.err : dtf_strerror(rc));
		json_decref(blocks);
		dtf_buf_release(&la.out);
		dtf_buf_release(&line);
		return NULL;
	}
	if (la.out.len) {
		const char *s = dtf_buf_str(&la.out);
		while (*s == '\n')
			s++;
		if (*s)
			json_array_append_new(blocks,
					      json_pack("{s:s, s:{s:s, s:o}}", "type", "section",
							"text", "type", "mrkdwn", "text",
							clipped(s, SLACK_SECTION_MAX)));
	}
	/* Context: the run and a link to it. */
	if (url || nt_gets(data, "run.id", NULL)) {
		dtf_buf_reset(&line);
		if (url) {
			dtf_buf_adds(&line, "<");
			dtf_tpl_escape(&line, url, strlen(url), DTF_TPL_MRKDWN);
			dtf_buf_adds(&line, "|Open ");
		}
		dtf_buf_printf(&line, "run %s",
			       nt_gets(data, "run.name", nt_gets(data, "run.id", "")));
		if (url)
			dtf_buf_adds(&line, ">");
		dtf_buf_printf(&line, " \xc2\xb7 %s", m->event);
		json_array_append_new(blocks,
				      json_pack("{s:s, s:[{s:s, s:o}]}", "type", "context",
						"elements", "type", "mrkdwn", "text",
						clipped(dtf_buf_str(&line), SLACK_FIELD_MAX)));
	}
	/* The notification's text: the title, and the template's text when there is one. */
	dtf_buf_reset(&line);
	dtf_tpl_escape(&line, title, strlen(title), DTF_TPL_MRKDWN);
	if (m->tpl && la.out.len) {
		dtf_buf_adds(&line, "\n");
		dtf_buf_add(&line, la.out.data, la.out.len < 4000 ? la.out.len : 4000);
	}
	p = json_pack("{s:o, s:o}", "text", clipped(dtf_buf_str(&line), SLACK_TEXT_MAX), "blocks",
		      blocks);
	dtf_buf_release(&la.out);
	dtf_buf_release(&line);
	return p;
}

static int slack_open_common(struct notify_channel *ch, const json_t *block, bool webhook,
			     char *err, size_t errlen)
{
	static const char *const api_fields[] = {"token_env", "token_file",	    "channel",
						 "base_url",  "update_run_message", NULL};
	static const char *const hook_fields[] = {"url_env", "url_file", NULL};
	struct slack *s = calloc(1, sizeof(*s));
	const char *base;
	int rc;

	if (!s)
		return DTF_ENOMEM;
	ch->priv = s;
	s->runs = json_object();
	s->order = json_array();
	if ((rc = nt_cfg_known(ch, block, webhook ? hook_fields : api_fields, err, errlen)))
		return rc;
	if (webhook) {
		if ((rc = nt_cfg_secret(ch, block, "url", true, s->token, sizeof(s->token), err,
					errlen)))
			return rc;
		if (strncmp(s->token, "https://", 8) && strncmp(s->token, "http://", 7))
			return nt_cfg_err(ch, "url_env", err, errlen,
					  "the webhook URL must start with https://");
		return 0;
	}
	if ((rc = nt_cfg_secret(ch, block, "token", true, s->token, sizeof(s->token), err,
				errlen)) ||
	    (rc = nt_cfg_str(ch, block, "channel", true, NULL, &s->channel, err, errlen)) ||
	    (rc = nt_cfg_str(ch, block, "base_url", false, "https://slack.com/api", &base, err,
			     errlen)) ||
	    (rc = nt_cfg_bool(ch, block, "update_run_message", true, &s->update, err, errlen)))
		return rc;
	if (strncmp(base, "https://", 8) && strncmp(base, "http://", 7))
		return nt_cfg_err(ch, "base_url", err, errlen, "must be an http(s):// URL");
	snprintf(s->base, sizeof(s->base), "%s", base);
	s->block = json_incref((json_t *)block);
	return 0;
}

static int slack_open(struct notify_channel *ch, const json_t *block, char *err, size_t errlen)
{
	return slack_open_common(ch, block, false, err, errlen);
}

static int slack_webhook_open(struct notify_channel *ch, const json_t *block, char *err,
			      size_t errlen)
{
	return slack_open_common(ch, block, true, err, errlen);
}

static void slack_close(struct notify_channel *ch)
{
	struct slack *s = ch->priv;

	json_decref(s->runs);
	json_decref(s->order);
	json_decref(s->block);
	memset(s->token, 0, sizeof(s->token));
	free(s);
	ch->priv = NULL;
}

static void remember(struct slack *s, const char *run, const char *ref)
{
	if (!json_object_get(s->runs, run)) {
		if (json_array_size(s->order) >= SLACK_MAX_RUNS) {
			json_object_del(s->runs, json_string_value(json_array_get(s->order, 0)));
			json_array_remove(s->order, 0);
		}
		json_array_append_new(s->order, json_string(run));
	}
	json_object_set_new(s->runs, run, json_string(ref));
}

/* Whether a Slack error code is worth retrying: rate limits and Slack's own trouble. */
static bool slack_retryable(const char *e)
{
	return !strcmp(e, "ratelimited") || !strcmp(e, "rate_limited") ||
	       !strcmp(e, "internal_error") || !strcmp(e, "fatal_error") ||
	       !strcmp(e, "service_unavailable") || !strcmp(e, "request_timeout") ||
	       !strcmp(e, "team_added_to_org");
}

static const char *slack_hint(const char *e)
{
	if (!strcmp(e, "invalid_auth") || !strcmp(e, "not_authed") || !strcmp(e, "token_revoked") ||
	    !strcmp(e, "account_inactive"))
		return " (the bot token is wrong or revoked)";
	if (!strcmp(e, "channel_not_found"))
		return " (no such channel, or the app cannot see it)";
	if (!strcmp(e, "not_in_channel"))
		return " (invite the app to the channel)";
	if (!strcmp(e, "missing_scope"))
		return " (the app needs the chat:write scope)";
	if (!strcmp(e, "ratelimited"))
		return " (rate limited)";
	return "";
}

/* One Web API call; 0 with *ans the answer when Slack said ok, else fills res. */
static int slack_call(struct notify_channel *ch, struct ci_http *h, const char *method,
		      const json_t *body, json_t **ans, struct notify_result *res)
{
	char path[64];
	const char *e;
	int rc;

	*ans = NULL;
	snprintf(path, sizeof(path), "/%s", method);
	rc = nt_http_json(ch, h, method, "POST", path, body, ans, res);
	if (rc)
		return rc;
	if (!json_is_object(*ans)) {
		nt_fail(ch, res, NULL, "%s: HTTP %ld with an answer that is not JSON", method,
			res->status);
		res->retry = true;
		return DTF_EPROTO;
	}
	if (json_is_true(json_object_get(*ans, "ok")))
		return 0;
	e = json_string_value(json_object_get(*ans, "error"));
	if (!e)
		e = "unknown_error";
	res->retry = slack_retryable(e);
	if (res->retry && h->retry_after_s >= 0)
		res->retry_after_ms = (long)(h->retry_after_s * 1000 + 0.5);
	nt_fail(ch, res, NULL, "%s: Slack answered error \"%.80s\"%s", method, e, slack_hint(e));
	return DTF_EPROTO;
}

static int slack_send(struct notify_channel *ch, const struct notify_message *m,
		      struct notify_result *res)
{
	struct slack *s = ch->priv;
	const char *run = nt_gets(m->data, "run.id", NULL), *ref = NULL;
	char perr[300];
	json_t *payload = notify_slack_payload_err(m, perr, sizeof(perr)), *ans = NULL;
	struct ci_http h;
	char auth[NOTIFY_MAX_SECRET + 32];
	int rc;

	if (!payload) {
		/* Not retried: the same template fails the same way (a dead letter says why). */
		nt_fail(ch, res, NULL, "%s", perr[0] ? perr : "out of memory");
		return perr[0] ? DTF_EPARSE : DTF_ENOMEM;
	}
	rc = nt_http_init(ch, &h, s->base, s->token);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", s->token);
	if (!rc)
		rc = ci_http_header(&h, auth);
	memset(auth, 0, sizeof(auth));
	if (rc) {
		nt_fail(ch, res, NULL, "cannot set up the HTTP client for %s", s->base);
		goto out;
	}
	if (run && s->update) {
		ref = json_string_value(json_object_get(s->runs, run));
		if (!ref && m->ref && strchr(m->ref, ':'))
			ref = m->ref;
	}
	if (ref) {
		/* chat.update takes the channel's id (from chat.postMessage's answer) and ts. */
		char chan[64];
		const char *ts = strchr(ref, ':');
		json_t *body = json_deep_copy(payload);
		snprintf(chan, sizeof(chan), "%.*s", (int)(ts - ref), ref);
		json_object_set_new(body, "channel", json_string(chan));
		json_object_set_new(body, "ts", json_string(ts + 1));
		rc = slack_call(ch, &h, "chat.update", body, &ans, res);
		json_decref(body);
		if (rc == 0) {
			snprintf(res->answer, sizeof(res->answer), "updated ts=%s channel=%s",
				 ts + 1, chan);
			snprintf(res->ref, sizeof(res->ref), "%s", ref);
			goto out;
		}
		/* A message that is gone or can no longer be edited: post a new one. */
		if (!strstr(res->error, "\"message_not_found\"") &&
		    !strstr(res->error, "\"cant_update_message\"") &&
		    !strstr(res->error, "\"edit_window_closed\""))
			goto out;
		json_decref(ans);
		ans = NULL;
		memset(res, 0, sizeof(*res));
	}
	json_object_set_new(payload, "channel", json_string(s->channel));
	json_object_set_new(payload, "unfurl_links", json_false());
	rc = slack_call(ch, &h, "chat.postMessage", payload, &ans, res);
	if (rc == 0) {
		const char *ts = json_string_value(json_object_get(ans, "ts"));
		const char *chan = json_string_value(json_object_get(ans, "channel"));
		snprintf(res->answer, sizeof(res->answer), "posted ts=%s channel=%s", ts ? ts : "?",
			 chan ? chan : "?");
		if (ts && chan) {
			snprintf(res->ref, sizeof(res->ref), "%s:%s", chan, ts);
			if (run && s->update)
				remember(s, run, res->ref);
		}
	}
out:
	json_decref(ans);
	json_decref(payload);
	ci_http_release(&h);
	return rc;
}

static int slack_webhook_send(struct notify_channel *ch, const struct notify_message *m,
			      struct notify_result *res)
{
	struct slack *s = ch->priv;
	char perr[300];
	json_t *payload = notify_slack_payload_err(m, perr, sizeof(perr));
	struct ci_http h;
	int rc;

	if (!payload) {
		nt_fail(ch, res, NULL, "%s", perr[0] ? perr : "out of memory");
		return perr[0] ? DTF_EPARSE : DTF_ENOMEM;
	}
	/* The URL is the secret: masked wherever an error could show it. */
	rc = nt_http_init(ch, &h, s->token, s->token);
	if (rc) {
		nt_fail(ch, res, s->token, "the webhook URL is not usable");
		goto out;
	}
	rc = nt_http_json(ch, &h, "incoming webhook", "POST", s->token, payload, NULL, res);
	if (rc == 0)
		snprintf(res->answer, sizeof(res->answer), "%.100s",
			 h.body.len ? dtf_buf_str(&h.body) : "(empty)");
out:
	json_decref(payload);
	ci_http_release(&h);
	return rc;
}

const struct notify_ops notify_slack_ops = {
    .type = "slack",
    .open = slack_open,
    .send = slack_send,
    .close = slack_close,
    .rate = 60, /* chat.postMessage: about one message per second per channel */
    .escape = DTF_TPL_MRKDWN,
    .no_dedupe = true, /* chat.postMessage takes no idempotency key */
};

const struct notify_ops notify_slack_webhook_ops = {
    .type = "slack_webhook",
    .open = slack_webhook_open,
    .send = slack_webhook_send,
    .close = slack_close,
    .rate = 60, /* incoming webhooks: one message per second */
    .escape = DTF_TPL_MRKDWN,
    .no_dedupe = true,
};
