/* notify.h: channels to the services a team reads (Slack, Microsoft Teams, email, JIRA, TestRail,
 * a plain webhook): each configured channel is opened from its `integrations.<name>` block and
 * sends one message at a time. The coordinator's outbox (which events make messages, grouping,
 * throttling, retries, dead letters) is built on this and never talks HTTP or SMTP itself; a
 * connector never decides whether to retry, it only says what happened.
 *
 * Layer: src/notify includes common/, net/ and ci/http.h (the retrying service client); the
 * core and the coordinator call it, never the other way round. */
#ifndef DTF_NOTIFY_H
#define DTF_NOTIFY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define NOTIFY_MAX_CHANNELS 64
#define NOTIFY_NAME_MAX	    64

struct notify_channel;
struct dtf_tpl;

/* One message to send. data is the template context; the fields every event has are listed in
 * docs/integrations.md ("Events and their fields"): event, severity, title, text, time, url,
 * and, by event, run {id, name, url, counts...}, tests [{name, status, error, duration_s,
 * worker, url}], more (tests left out of the list), worker {...}, hardware, recovery {...}. */
struct notify_message {
	const char *event;    /* "task_failed", "run_failed", "run_completed", "worker_lost", …,
			       * "grouped" for a message that merges several events */
	const char *severity; /* "info", "warning", "error", "critical" */
	const char *key;      /* a stable id of this message: the idempotency or dedupe key a
			       * service takes, so that a retry after a crash is not a duplicate */
	const json_t *data;   /* the template context (borrowed) */
	/* A template the route chose for this channel's target, compiled by the caller's
	 * configuration (common/template.h), or NULL for the connector's built-in default. */
	const struct dtf_tpl *tpl;
	/* Added: the reference an earlier send of the same run returned in notify_result.ref
	 * (Slack: "<channel>:<ts>" of the run's message; TestRail: the run's id), for a
	 * connector that keeps one object per run current after a coordinator restart has
	 * emptied its memory. NULL when unknown: the channel's own memory is used. */
	const char *ref;
};

/* What a send did. The outbox decides from this whether to retry (retry true: a connection
 * error, 429, 5xx, a timeout) or to give up (a 4xx that will not change: 400, 401, 403, 404,
 * 410). */
struct notify_result {
	long status;	     /* the service's HTTP status (SMTP: its reply code); 0 when none */
	bool retry;	     /* worth trying again later */
	long retry_after_ms; /* the service asked to wait this long (Retry-After, X-RateLimit-
			      * Reset), or 0 */
	char error[512];     /* why it failed, naming the service and the cause, never the
			      * credential; "" on success */
	char answer[512];    /* a short summary of the service's answer (for `dtf notify test`
			      * and the outbox's record): a message id, an issue key, … */
	/* Added: what to pass as notify_message.ref with the next message of the same run
	 * (the outbox may store it to survive a restart); "" when the connector keeps none. */
	char ref[128];
};

/* Channel types served from outside src/notify: the coordinator's plugins (a plugin's
 * struct dtf_channel_ops, docs/notifications.md "Channels from plugins"). A type that provider()
 * names is opened and sent through open() and send() instead of a built-in connector, even when
 * the type is a built-in's name. The functions are those of plugin/plugin.h
 * (dtf_plugins_channel_*) with arg the plugin set; the table must outlive the channels. */
struct notify_ext {
	void *arg;
	/* Who serves type (a plugin's name), or NULL. */
	const char *(*provider)(void *arg, const char *type);
	int (*open)(void *arg, const char *type, const char *name, const char *config_json,
		    char *err, size_t errlen);
	/* Returns DTF_CHANNEL_SENT, _RETRY or _FAILED (include/dtf/plugin.h). */
	int (*send)(void *arg, const char *type, const char *name, const char *message_json,
		    unsigned *retry_after_s, char *err, size_t errlen);
};

/* Opens the channel `name` from its block (a JSON object: the YAML block of
 * integrations.<name>, as common/yaml.c loads it): checks the fields its type needs, reads the
 * credential from token_env / token_file (never required inline), and sets *out. 0, or DTF_EINVAL
 * with "integrations.<name>.<field>: reason" in err. The credential is never put in err. */
int notify_channel_open(const char *name, const json_t *block, struct notify_channel **out,
			char *err, size_t errlen);
/* The same, with types from ext too (ext may be NULL). */
int notify_channel_open_ext(const char *name, const json_t *block, const struct notify_ext *ext,
			    struct notify_channel **out, char *err, size_t errlen);
/* Sends m; fills res. 0 when the service took it, else a negative DTF_E* code with res->error.
 * Bounded in time (the channel's timeout_s, 10 s by default) and in the answer it reads. Safe
 * to call from one thread per channel at a time. */
int notify_send(struct notify_channel *ch, const struct notify_message *m,
		struct notify_result *res);
/* The channel's name and type ("slack", "slack_webhook", "teams", "email", "jira", "testrail",
 * "webhook", "exec", or the type a plugin serves as configured). */
const char *notify_channel_name(const struct notify_channel *ch);
const char *notify_channel_type(const struct notify_channel *ch);
/* The service's documented rate limit for this channel, in messages per minute (Slack about 60
 * per channel, Teams about 240), used when a route sets no throttle. */
double notify_channel_rate(const struct notify_channel *ch);
/* True when the service takes no idempotency key (Slack's chat.postMessage and webhooks, Teams'
 * webhooks): a message sent again after a crash shows twice, so the outbox records each send of
 * such a channel before and after the call, one at a time. */
bool notify_channel_no_dedupe(const struct notify_channel *ch);
/* Which escaping a template for this channel needs (the value is an enum dtf_tpl_escape). */
int notify_channel_escape(const struct notify_channel *ch);
void notify_channel_close(struct notify_channel *ch);

#endif
