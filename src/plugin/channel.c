/* channel.c: notification channels offered by plugins (struct dtf_channel_ops): which plugin
 * serves a channel type, and calling its open() and send() on the caller's thread (the outbox's
 * sender), as the built-in connectors are called. */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "plugin/internal.h"

#define PLUGIN_TYPE_PREFIX "plugin:"

/* The plugin serving type ("mytype" or "plugin:<name>"), or NULL. Only a plugin enabled now
 * counts, unless any_state (a channel already opened keeps its plugin, to say it is disabled).
 * Called with p->lock held. */
static struct dtf_plugin_ctx *channel_for(struct dtf_plugins *p, const char *type, bool any_state)
{
	bool by_name = strncmp(type, PLUGIN_TYPE_PREFIX, strlen(PLUGIN_TYPE_PREFIX)) == 0;
	const char *want = by_name ? type + strlen(PLUGIN_TYPE_PREFIX) : type;
	size_t i;

	for (i = 0; i < p->n; i++) {
		struct dtf_plugin_ctx *pl = p->v[i];
		if (!pl->has_channel || (!any_state && pl->st != PS_ENABLED))
			continue;
		if (strcmp(by_name ? pl->name : pl->channel_type, want) == 0)
			return pl;
	}
	return NULL;
}

const char *dtf_plugins_channel_provider(struct dtf_plugins *p, const char *type)
{
	struct dtf_plugin_ctx *pl;

	if (!p || !type)
		return NULL;
	pthread_mutex_lock(&p->lock);
	pl = channel_for(p, type, false);
	pthread_mutex_unlock(&p->lock);
	return pl ? pl->name : NULL;
}

int dtf_plugins_channel_open(struct dtf_plugins *p, const char *type, const char *channel,
			     const char *config_json, char *err, size_t errlen)
{
	struct dtf_plugin_ctx *pl;
	int rc;

	if (!p || !type)
		return DTF_ENOTFOUND;
	pthread_mutex_lock(&p->lock);
	pl = channel_for(p, type, false);
	pthread_mutex_unlock(&p->lock);
	if (!pl) {
		snprintf(err, errlen, "no enabled plugin offers channel type '%.60s'", type);
		return DTF_ENOTFOUND;
	}
	if (!pl->channel.open)
		return 0;
	err[0] = '\0';
	rc = pl->channel.open(pl->state, channel, config_json ? config_json : "{}", err, errlen);
	if (rc) {
		if (!err[0])
			snprintf(err, errlen, "refused by plugin %s (%d)", pl->name, rc);
		return rc < 0 ? rc : DTF_EINVAL;
	}
	return 0;
}

int dtf_plugins_channel_send(struct dtf_plugins *p, const char *type, const char *channel,
			     const char *message_json, unsigned *retry_after_s, char *err,
			     size_t errlen)
{
	struct dtf_plugin_ctx *pl;
	char reason[PLUGIN_REASON_MAX];
	bool enabled;
	int rc;

	*retry_after_s = 0;
	err[0] = '\0';
	if (!p || !type) {
		snprintf(err, errlen, "no plugin is loaded for channel type '%.60s'", type);
		return DTF_CHANNEL_RETRY;
	}
	pthread_mutex_lock(&p->lock);
	pl = channel_for(p, type, true);
	enabled = pl && pl->st == PS_ENABLED;
	snprintf(reason, sizeof(reason), "%s", pl ? pl->reason : "");
	pthread_mutex_unlock(&p->lock);
	if (!pl) {
		snprintf(err, errlen, "no plugin offers channel type '%.60s'", type);
		return DTF_CHANNEL_RETRY;
	}
	if (!enabled) {
		/* Its channel waits (and dead-letters after max_tries) rather than calling a
		 * plugin dtf stopped trusting. */
		snprintf(err, errlen, "plugin %s is disabled: %s", pl->name, reason);
		return DTF_CHANNEL_RETRY;
	}
	rc = pl->channel.send(pl->state, channel, message_json, retry_after_s, err, errlen);
	err[errlen - 1] = '\0';
	if (rc < 0 || rc > DTF_CHANNEL_FAILED) {
		if (!err[0])
			snprintf(err, errlen, "send() returned %d", rc);
		return DTF_CHANNEL_FAILED;
	}
	return rc;
}
