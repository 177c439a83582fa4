/* plugin.c: a channel a plugin serves (struct dtf_channel_ops in include/dtf/plugin.h), reached
 * through the notify_ext table the coordinator gives (it holds the plugins; src/notify does
 * not). The plugin gets the same document an exec channel reads on stdin, plus the type, and
 * answers sent, retry (with an optional delay) or failed; the outbox retries and dead-letters as
 * it does for every connector. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "dtf/plugin.h"
#include "notify/internal.h"

struct plugin_channel {
	struct notify_ext ext;
	char type[64];
};

int nt_plugin_open(struct notify_channel *ch, const struct notify_ext *ext, const char *type,
		   const json_t *block, char *err, size_t errlen)
{
	struct plugin_channel *pc = calloc(1, sizeof(*pc));
	char perr[400] = "";
	char *text;
	int rc;

	if (!pc)
		return DTF_ENOMEM;
	ch->priv = pc;
	pc->ext = *ext;
	snprintf(pc->type, sizeof(pc->type), "%s", type);
	if (!ext->open)
		return 0;
	text = json_dumps(block, JSON_COMPACT);
	if (!text)
		return DTF_ENOMEM;
	rc = ext->open(ext->arg, type, ch->name, text, perr, sizeof(perr));
	free(text);
	if (rc)
		return nt_cfg_err(
		    ch, "type", err, errlen, "plugin %s refused the channel: %s",
		    ext->provider(ext->arg, type) ? ext->provider(ext->arg, type) : "?", perr);
	return 0;
}

static int plugin_send(struct notify_channel *ch, const struct notify_message *m,
		       struct notify_result *res)
{
	struct plugin_channel *pc = ch->priv;
	struct dtf_buf text;
	char err[512] = "", terr[256];
	unsigned after = 0;
	char *input;
	json_t *doc;
	int rc;

	doc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:O}", "channel", ch->name, "type", pc->type,
			"event", m->event ? m->event : "", "severity",
			m->severity ? m->severity : "", "key", m->key ? m->key : "", "ref",
			m->ref ? m->ref : "", "data", m->data ? m->data : json_null());
	if (!doc)
		return DTF_ENOMEM;
	if (!m->ref)
		json_object_del(doc, "ref");
	if (m->tpl) {
		dtf_buf_init(&text, 1 << 20);
		rc = nt_render(m->tpl, NULL, m->data, DTF_TPL_TEXT, 1 << 20, &text, terr,
			       sizeof(terr));
		if (rc) {
			dtf_buf_release(&text);
			json_decref(doc);
			nt_fail(ch, res, NULL, "the template: %s", terr);
			return rc;
		}
		json_object_set_new(doc, "text", json_string(dtf_buf_str(&text)));
		dtf_buf_release(&text);
	}
	input = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (!input)
		return DTF_ENOMEM;
	rc = pc->ext.send(pc->ext.arg, pc->type, ch->name, input, &after, err, sizeof(err));
	free(input);
	switch (rc) {
	case DTF_CHANNEL_SENT:
		snprintf(res->answer, sizeof(res->answer), "%s", err);
		return 0;
	case DTF_CHANNEL_RETRY:
		res->retry = true;
		res->retry_after_ms = (long)(after > 3600 ? 3600 : after) * 1000;
		nt_fail(ch, res, NULL, "try again later%s%s", err[0] ? ": " : "", err);
		return DTF_EPROTO;
	default:
		nt_fail(ch, res, NULL, "failed%s%s", err[0] ? ": " : "", err);
		return DTF_EPROTO;
	}
}

static void plugin_close(struct notify_channel *ch)
{
	free(ch->priv);
	ch->priv = NULL;
}

const struct notify_ops notify_plugin_ops = {
    .type = "plugin",
    .send = plugin_send,
    .close = plugin_close,
    .rate = 600, /* in the process: ten a second unless a route says otherwise */
    .escape = DTF_TPL_TEXT,
};
