/* internal.h: what the connectors (src/notify/<service>.c) share: the channel object, the table
 * of connector operations, configuration readers that word errors as
 * "integrations.<name>.<field>: reason", the HTTP call that turns an answer into a notify_result,
 * and the message helpers (rendering a template, shortening the test list until a service's
 * size limit is met). The message builders are exposed here for the unit tests. */
#ifndef DTF_NOTIFY_INTERNAL_H
#define DTF_NOTIFY_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ci/http.h"
#include "common/buf.h"
#include "common/template.h"
#include "notify/notify.h"

#define NOTIFY_DEFAULT_TIMEOUT_S  10.0
#define NOTIFY_DEFAULT_MAX_ANSWER (256 * 1024) /* bytes of a service's answer we read */
#define NOTIFY_MAX_SECRET	  1024

struct notify_ops {
	const char *type;
	/* Reads the block into ch->priv; err as notify_channel_open() says. */
	int (*open)(struct notify_channel *ch, const json_t *block, char *err, size_t errlen);
	int (*send)(struct notify_channel *ch, const struct notify_message *m,
		    struct notify_result *res);
	void (*close)(struct notify_channel *ch); /* frees ch->priv */
	double rate;				  /* messages per minute */
	enum dtf_tpl_escape escape;
	/* When the escaping depends on the configuration (JIRA Cloud's ADF or DC's text); NULL:
	 * escape. */
	int (*escape_of)(const struct notify_channel *ch);
	bool no_dedupe; /* the service takes no idempotency key (notify_channel_no_dedupe) */
};

struct notify_channel {
	char name[NOTIFY_NAME_MAX];
	char type[64]; /* as configured (a plugin's type may name no connector here) */
	const struct notify_ops *ops;
	double timeout_s;  /* timeout_s: a whole request */
	size_t max_answer; /* max_answer_bytes */
	void *priv;	   /* the connector's state */
};

extern const struct notify_ops notify_slack_ops, notify_slack_webhook_ops, notify_teams_ops,
    notify_email_ops, notify_webhook_ops, notify_jira_ops, notify_testrail_ops, notify_exec_ops,
    notify_plugin_ops;

/* Opens ch (name, timeouts set) as a channel a plugin serves (plugin.c). */
int nt_plugin_open(struct notify_channel *ch, const struct notify_ext *ext, const char *type,
		   const json_t *block, char *err, size_t errlen);

/* --- configuration (notify.c) --- */

/* Sets err to "integrations.<name>.<field>: <fmt…>" and returns DTF_EINVAL. */
int nt_cfg_err(const struct notify_channel *ch, const char *field, char *err, size_t errlen,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The string field, or def when absent. A present field that is not a string is an error
 * (DTF_EINVAL). required: absent is an error too. */
int nt_cfg_str(const struct notify_channel *ch, const json_t *block, const char *field,
	       bool required, const char *def, const char **out, char *err, size_t errlen);
/* A number field (an integer or a real; a numeric string is refused), def when absent, within
 * [min, max]. */
int nt_cfg_num(const struct notify_channel *ch, const json_t *block, const char *field, double def,
	       double min, double max, double *out, char *err, size_t errlen);
/* A boolean field (true/false, on/off, yes/no), def when absent. */
int nt_cfg_bool(const struct notify_channel *ch, const json_t *block, const char *field, bool def,
		bool *out, char *err, size_t errlen);
/* Reads a secret from <prefix>_env (an environment variable's name) or <prefix>_file (a file's
 * path; its first line, at most NOTIFY_MAX_SECRET bytes), into out. An inline <prefix> field is
 * refused: a secret does not belong in a configuration file. required: neither given is an error;
 * else out is "" then. Secrets shorter than 4 bytes are refused (they could not be masked). */
int nt_cfg_secret(const struct notify_channel *ch, const json_t *block, const char *prefix,
		  bool required, char *out, size_t outlen, char *err, size_t errlen);
/* Checks that every key of block is one of the NULL-terminated list known (plus the fields
 * every channel has: type, timeout_s, max_answer_bytes). */
int nt_cfg_known(const struct notify_channel *ch, const json_t *block, const char *const *known,
		 char *err, size_t errlen);

/* --- HTTP (notify.c) --- */

/* A ci_http client for base with the channel's timeout and answer cap, and no retries (the
 * outbox decides those). secret is masked in every error. */
int nt_http_init(const struct notify_channel *ch, struct ci_http *h, const char *base,
		 const char *secret);
/* Sends the request and fills res: status, retry (transport errors, timeouts, 408, 429, 5xx),
 * retry_after_ms (Retry-After, else X-RateLimit-Reset, on a 429 or 503), error ("<service>: …",
 * the secret masked; an answer past the cap is named as such). Returns 0 for a 2xx, else the
 * ci_http_request() code. resp as ci_http_request(). what names the call in errors
 * ("chat.postMessage"). */
int nt_http_call(const struct notify_channel *ch, struct ci_http *h, const char *what,
		 const char *method, const char *path, const char *ctype, const char *body,
		 size_t len, json_t **resp, struct notify_result *res);
/* The same with a JSON body. */
int nt_http_json(const struct notify_channel *ch, struct ci_http *h, const char *what,
		 const char *method, const char *path, const json_t *body, json_t **resp,
		 struct notify_result *res);
/* Copies s into out (outlen bytes) with every control character replaced by '_', for a value
 * that goes into a header line (an event name, a message key). */
void nt_header_value(char *out, size_t outlen, const char *s);
/* Fills res->error as "<type> channel <name>: fmt…" (secret masked when given). */

void nt_fail(const struct notify_channel *ch, struct notify_result *res, const char *secret,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* --- messages (message.c) --- */

/* Renders tpl (or, when NULL, the built-in source def) with data and esc into out (capped at
 * cap bytes). 0, or DTF_EPARSE / DTF_ETOOBIG with err filled. */
int nt_render(const struct dtf_tpl *tpl, const char *def, const json_t *data,
	      enum dtf_tpl_escape esc, size_t cap, struct dtf_buf *out, char *err, size_t errlen);
/* A deep copy of data whose "tests" list keeps its first keep items and whose "more" counts the
 * ones left out (added to the "more" data already had). Strings longer than clip bytes anywhere
 * in it are cut (on a UTF-8 boundary, with "…"); clip 0 leaves them. New reference or NULL. */
json_t *nt_data_fit(const json_t *data, size_t keep, size_t clip);
/* The message as the JSON a program or a plugin channel is given: event, severity, key, channel,
 * type (when given), data, ref (when set) and text (the route's template rendered as text, when it
 * has one). 0 with *out to free(), DTF_ENOMEM, or the template's error with res filled. */
int nt_message_input(struct notify_channel *ch, const struct notify_message *m, const char *type,
		     struct notify_result *res, char **out);
/* The number of items of data's "tests" list. */
size_t nt_data_ntests(const json_t *data);
/* Cuts s (in out) to at most max bytes on a UTF-8 boundary, ending with "…" when it was cut. */
void nt_clip(struct dtf_buf *out, const char *s, size_t max);
/* Looks a dotted name up in data ("run.id"); NULL when absent. */
const json_t *nt_get(const json_t *data, const char *dotted);
/* Its string value (or the number formatted), or def. */
const char *nt_gets(const json_t *data, const char *dotted, const char *def);

/* True if c is a letter or digit (ASCII; a UTF-8 byte past 0x7f counts as one). */
bool nt_alnum(unsigned char c);
/* A copy of data whose tests each get "name_md": the test's name formatted by fmt (called with
 * the name and an empty buffer), for a built-in list that shows names literally in a markdown
 * flavour. New reference or NULL. */
json_t *nt_data_names(const json_t *data, void (*fmt)(struct dtf_buf *out, const char *name));

/* A builder callback for nt_fit_tests(): builds the message for data into *out (a JSON value or
 * text in buf, as the builder likes) and says its size in *size. */
typedef int (*nt_build_fn)(const json_t *data, void *arg, size_t *size);
/* Calls build with data, and while the result is over limit, with the test list shortened
 * (binary search on how many tests fit); the last call made is one that fits, or one with no
 * tests listed at all (the caller then cuts what is still too long). Returns build's error. */
int nt_fit_tests(const json_t *data, size_t limit, size_t clip, nt_build_fn build, void *arg);

/* --- message builders (one per connector; for the unit tests) --- */

#define SLACK_HEADER_MAX  150	/* header block: plain_text, 150 characters */
#define SLACK_SECTION_MAX 3000	/* section block text */
#define SLACK_FIELD_MAX	  2000	/* each of a section's fields */
#define SLACK_FIELDS_MAX  10	/* fields of a section */
#define SLACK_BLOCKS_MAX  50	/* blocks of a message */
#define SLACK_TEXT_MAX	  4000	/* the top-level text Slack advises (it truncates at 40,000) */
#define TEAMS_MAX_BYTES	  27000 /* under Teams' 28 KB per message, with room for headers */
/* Slack's payload (text, blocks; no channel) for m. tpl/esc as in notify_message. */
json_t *notify_slack_payload(const struct notify_message *m);
/* The same; NULL with the reason in err when the route's template does not render (a message
 * that would lose its list is an error, not a message without it). */
json_t *notify_slack_payload_err(const struct notify_message *m, char *err, size_t errlen);
/* A test's name for Slack's mrkdwn list: bold (*name*) when no character in it can format,
 * else in a code span (where * _ ~ do not format; a backtick becomes U+02CB), & < > escaped. */
void notify_slack_name(struct dtf_buf *out, const char *name);
/* A test's name for Teams' markdown: * ` ~ and a _ that starts or ends a word escaped with a
 * backslash (a _ inside a word does not format). */
void notify_teams_name(struct dtf_buf *out, const char *name);
/* Teams' body: the Adaptive Card envelope, or the legacy MessageCard when message_card. */
json_t *notify_teams_payload(const struct notify_message *m, bool message_card, char *err,
			     size_t errlen);
/* Appends s as an RFC 2047 encoded-word header value (UTF-8, base64, folded into encoded words
 * of at most 75 bytes) when it is not plain ASCII; else as is. */
int notify_rfc2047(struct dtf_buf *out, const char *s);
/* The whole email (headers and the multipart/alternative body) for m. to and cc are arrays of
 * addresses. now is the Date. */
int notify_email_build(struct dtf_buf *out, const struct notify_message *m, const char *from,
		       const json_t *to, const json_t *cc, const char *subject_tpl, long long now);
/* The JIRA fingerprint label of a test: "dtf-" and 16 hex digits of a hash of project and name. */
void notify_jira_fingerprint(const char *project, const char *test, char *out, size_t outlen);

#endif
