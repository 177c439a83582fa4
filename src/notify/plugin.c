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
	char err[512] = "";
	unsigned after = 0;
	char *input;
	int rc;

	rc = nt_message_input(ch, m, pc->type, res, &input);
	if (rc)
		return rc;
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
