/* teams.c: Microsoft Teams through a Workflows webhook ("When a Teams webhook request is
 * received"): an Adaptive Card 1.4 in the message envelope, coloured by severity; or, with
 * format: message_card, the legacy MessageCard that the retired Office 365 connectors took, for
 * old endpoints. A message stays under Teams' size limit (about 28 KB): the test list is cut. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "notify/internal.h"

/* The built-in templates (text: the JSON writer escapes; Teams reads a markdown subset). */
static const char teams_list_tpl[] = "{{#tests}}\n"
				     "- **{{{name_md}}}**{{#error}}: {{error}}{{/error}}\n"
				     "{{/tests}}\n"
				     "{{#more}}\n"
				     "\n_and {{more}} more_\n"
				     "{{/more}}\n";

struct teams {
	char url[NOTIFY_MAX_SECRET]; /* the webhook URL: a secret */
	bool message_card;
};

static bool good_news(const struct notify_message *m)
{
	const json_t *f = nt_get(m->data, "run.counts.failed");

	return !strcmp(m->event, "test_passed") || !strcmp(m->event, "run_started") ||
	       (!strcmp(m->event, "run_completed") && json_integer_value(f) == 0);
}

/* Container style and text colour of the title by severity. */
static void severity_style(const struct notify_message *m, const char **style, const char **color,
			   const char **theme)
{
	const char *s = m->severity ? m->severity : "info";

	if (!strcmp(s, "critical") || !strcmp(s, "error")) {
		*style = "attention", *color = "Attention", *theme = "D70000";
	} else if (!strcmp(s, "warning")) {
		*style = "warning", *color = "Warning", *theme = "FFA500";
	} else if (good_news(m)) {
		*style = "good", *color = "Good", *theme = "2DC72D";
	} else {
		*style = "accent", *color = "Accent", *theme = "0076D7";
	}
}

/* The counts as facts: [{"title"|"name": "Failed", "value": "37"}]. */
static json_t *facts(const json_t *data, const char *key)
{
	const json_t *counts = nt_get(data, "run.counts"), *dur = nt_get(data, "run.duration_s");
	json_t *list = json_array(), *v;
	const char *k;
	char name[64], val[64];

	json_object_foreach((json_t *)counts, k, v) {
		/* Facts are for a handful of counts: the first 20. */
		if (!json_is_integer(v) || !k[0] || json_array_size(list) >= 20)
			continue;

		snprintf(name, sizeof(name), "%c%.60s",
			 k[0] >= 'a' && k[0] <= 'z' ? k[0] - 32 : k[0], k + 1);
		snprintf(val, sizeof(val), "%lld", (long long)json_integer_value(v));
		json_array_append_new(list, json_pack("{s:s, s:s}", key, name, "value", val));
	}
	if (json_is_number(dur)) {
		snprintf(val, sizeof(val), "%.1f s", json_number_value(dur));
		json_array_append_new(list, json_pack("{s:s, s:s}", key, "Duration", "value", val));
	}
	if (nt_gets(data, "run.name", NULL))
		json_array_append_new(list, json_pack("{s:s, s:s}", key, "Run", "value",
						      nt_gets(data, "run.name", "")));
	return list;
}

/* Teams' markdown (Adaptive Card TextBlock, MessageCard text) takes CommonMark's backslash
 * escapes; a _ inside a word does not format, so it stays as it is. */
void notify_teams_name(struct dtf_buf *out, const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t i, n = strlen(name);

	for (i = 0; i < n; i++) {
		bool esc = p[i] == '*' || p[i] == '`' || p[i] == '~' || p[i] == '\\' ||
			   (p[i] == '_' &&
			    (i == 0 || i + 1 == n || !nt_alnum(p[i - 1]) || !nt_alnum(p[i + 1])));
		if (esc)
			dtf_buf_adds(out, "\\");
		dtf_buf_add(out, p + i, 1);
	}
}

struct teams_arg {
	const struct notify_message *m;
	bool message_card;
	json_t *out;
	char err[300];
};

static json_t *adaptive_card(const struct notify_message *m, const json_t *data, const char *list)
{
	const char *style, *color, *theme,
	    *url = nt_gets(data, "url", nt_gets(data, "run.url", NULL));
	const char *text = nt_gets(data, "text", NULL);
	json_t *body = json_array(), *card;

	severity_style(m, &style, &color, &theme);
	json_array_append_new(body, json_pack("{s:s, s:s, s:b, s:[{s:s, s:s, s:s, s:s, s:s, s:b}]}",
					      "type", "Container", "style", style, "bleed", 1,
					      "items", "type", "TextBlock", "text",
					      nt_gets(data, "title", m->event), "weight", "Bolder",
					      "size", "Large", "color", color, "wrap", 1));
	if (text)
		json_array_append_new(body, json_pack("{s:s, s:s, s:b}", "type", "TextBlock",
						      "text", text, "wrap", 1));
	json_array_append_new(
	    body, json_pack("{s:s, s:o}", "type", "FactSet", "facts", facts(data, "title")));
	if (list && *list)
		json_array_append_new(body,
				      json_pack("{s:s, s:s, s:b, s:s}", "type", "TextBlock", "text",
						list, "wrap", 1, "fontType", "Default"));
	card = json_pack("{s:s, s:s, s:s, s:o, s:{s:s}}", "type", "AdaptiveCard", "$schema",
			 "http://adaptivecards.io/schemas/adaptive-card.json", "version", "1.4",
			 "body", body, "msteams", "width", "Full");
	if (card && url)
		json_object_set_new(card, "actions",
				    json_pack("[{s:s, s:s, s:s}]", "type", "Action.OpenUrl",
					      "title", "Open run", "url", url));
	return card;
}

static json_t *message_card(const struct notify_message *m, const json_t *data, const char *list)
{
	const char *style, *color, *theme,
	    *url = nt_gets(data, "url", nt_gets(data, "run.url", NULL));
	const char *title = nt_gets(data, "title", m->event);
	json_t *card, *section;

	severity_style(m, &style, &color, &theme);
	section = json_pack("{s:s, s:o}", "activityTitle", nt_gets(data, "run.name", m->event),
			    "facts", facts(data, "name"));
	if (list && *list)
		json_object_set_new(section, "text", json_string(list));
	card =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[o]}", "@type", "MessageCard", "@context",
		      "https://schema.org/extensions", "themeColor", theme, "summary", title,
		      "title", title, "text", nt_gets(data, "text", title), "sections", section);
	if (card && url)
		json_object_set_new(card, "potentialAction",
				    json_pack("[{s:s, s:s, s:[{s:s, s:s}]}]", "@type", "OpenUri",
					      "name", "Open run", "targets", "os", "default", "uri",
					      url));
	return card;
}

static int build(const json_t *data, void *arg, size_t *size)
{
	struct teams_arg *a = arg;
	struct dtf_buf out;
	json_t *card = NULL;
	char *text;
	int rc;

	json_decref(a->out);
	a->out = NULL;
	if (a->m->tpl) {
		/* The route's template is the card's content: a JSON document. */
		rc = nt_render(a->m->tpl, NULL, data, DTF_TPL_JSON, 256 * 1024, &out, a->err,
			       sizeof(a->err));
		if (rc == DTF_ETOOBIG) {
			dtf_buf_release(&out);
			*size = (size_t)-1;
			return 0;
		}
		if (!rc) {
			card = json_loadb(out.data ? out.data : "", out.len, 0, NULL);
			if (!json_is_object(card)) {
				snprintf(a->err, sizeof(a->err),
					 "the template did not render a JSON object (a card)");
				json_decref(card);
				card = NULL;
				rc = DTF_EPARSE;
			}
		}
		dtf_buf_release(&out);
		if (rc)
			return rc;
	} else {
		json_t *named = nt_data_names(data, notify_teams_name);
		if (!named)
			return DTF_ENOMEM;
		rc = nt_render(NULL, teams_list_tpl, named, DTF_TPL_TEXT, 256 * 1024, &out, a->err,
			       sizeof(a->err));
		json_decref(named);
		if (rc == DTF_ETOOBIG) {
			dtf_buf_release(&out);
			*size = (size_t)-1;
			return 0;
		}
		if (rc) {
			dtf_buf_release(&out);
			return rc;
		}
		card = a->message_card ? message_card(a->m, data, dtf_buf_str(&out))
				       : adaptive_card(a->m, data, dtf_buf_str(&out));
		dtf_buf_release(&out);
	}
	if (!card)
		return DTF_ENOMEM;
	if (a->message_card || (a->m->tpl && json_object_get(card, "@type")))
		a->out = card;
	else
		a->out = json_pack("{s:s, s:[{s:s, s:n, s:o}]}", "type", "message", "attachments",
				   "contentType", "application/vnd.microsoft.card.adaptive",
				   "contentUrl", "content", card);
	if (!a->out)
		return DTF_ENOMEM;
	text = json_dumps(a->out, JSON_COMPACT);
	*size = text ? strlen(text) : (size_t)-1;
	free(text);
	return 0;
}

json_t *notify_teams_payload(const struct notify_message *m, bool as_message_card, char *err,
			     size_t errlen)
{
	struct teams_arg a = {.m = m, .message_card = as_message_card};
	int rc = nt_fit_tests(m->data, TEAMS_MAX_BYTES, 1000, build, &a);

	if (rc) {
		snprintf(err, errlen, "%s", a.err[0] ? a.err : dtf_strerror(rc));
		json_decref(a.out);
		return NULL;
	}
	if (!a.out)
		/* Even with no test listed the template's card is past the limit. */
		snprintf(err, errlen, "%s",
			 a.err[0] ? a.err
				  : "the card is larger than Teams' limit with no test listed");
	return a.out;
}

static int teams_open(struct notify_channel *ch, const json_t *block, char *err, size_t errlen)
{
	static const char *const known[] = {"url_env", "url_file", "format", NULL};
	struct teams *t = calloc(1, sizeof(*t));
	const char *format;
	int rc;

	if (!t)
		return DTF_ENOMEM;
	ch->priv = t;
	if ((rc = nt_cfg_known(ch, block, known, err, errlen)) ||
	    (rc = nt_cfg_secret(ch, block, "url", true, t->url, sizeof(t->url), err, errlen)) ||
	    (rc = nt_cfg_str(ch, block, "format", false, "adaptive_card", &format, err, errlen)))
		return rc;
	if (strncmp(t->url, "https://", 8) && strncmp(t->url, "http://", 7))
		return nt_cfg_err(ch, "url_env", err, errlen,
				  "the webhook URL must start with https://");
	if (!strcmp(format, "message_card"))
		t->message_card = true;
	else if (strcmp(format, "adaptive_card"))
		return nt_cfg_err(ch, "format", err, errlen,
				  "must be adaptive_card or message_card");
	return 0;
}

static void teams_close(struct notify_channel *ch)
{
	struct teams *t = ch->priv;

	memset(t->url, 0, sizeof(t->url));
	free(t);
	ch->priv = NULL;
}

static int teams_send(struct notify_channel *ch, const struct notify_message *m,
		      struct notify_result *res)
{
	struct teams *t = ch->priv;
	char err[300];
	struct ci_http h;
	json_t *payload = notify_teams_payload(m, t->message_card, err, sizeof(err));
	int rc;

	if (!payload) {
		nt_fail(ch, res, NULL, "cannot build the card: %s", err);
		return DTF_EINVAL;
	}
	rc = nt_http_init(ch, &h, t->url, t->url);
	if (rc) {
		nt_fail(ch, res, t->url, "the webhook URL is not usable");
		goto out;
	}
	rc = nt_http_json(ch, &h, "webhook", "POST", t->url, payload, NULL, res);
	if (rc == 0)
		snprintf(res->answer, sizeof(res->answer), "HTTP %ld %.100s", res->status,
			 h.body.len ? dtf_buf_str(&h.body) : "(accepted)");
out:
	json_decref(payload);
	ci_http_release(&h);
	return rc;
}

const struct notify_ops notify_teams_ops = {
    .type = "teams",
    .open = teams_open,
    .send = teams_send,
    .close = teams_close,
    .rate = 240, /* Teams webhooks: about 4 requests per second */
    .escape = DTF_TPL_JSON,
    .no_dedupe = true, /* a Workflows webhook takes no idempotency key */
};
