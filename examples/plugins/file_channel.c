/* file_channel.c: a notification channel type from a plugin (struct dtf_channel_ops). A channel
 *
 *     integrations:
 *       audit:
 *         type: file_channel        # or plugin:file_channel
 *         path: notifications.jsonl # required
 *         retry_first: 0            # answer "retry" to the first N tries of each message
 *         fail: false               # answer "failed" to every message (a dead letter)
 *
 * appends each message it is sent as one JSON line (the document send() gets) to path. The two
 * last settings let one watch dtf's retries and dead letters without a real service. Build: see
 * examples/plugins/CMakeLists.txt; it uses only include/dtf/plugin.h and jansson. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dtf/plugin.h"

/* The tests build it again under another name serving the type "slack" (a built-in replaced). */
#ifndef FCH_NAME
#define FCH_NAME "file_channel"
#endif
#ifndef FCH_TYPE
#define FCH_TYPE "file_channel"
#endif

struct fch {
	dtf_plugin_ctx *ctx;
	const struct dtf_plugin_host *host;
	/* open() runs on the coordinator's thread, send() on its notification sender, and the
	 * plugin's own callbacks on its thread: the maps below are shared. */
	pthread_mutex_t mu;
	json_t *channels; /* channel name -> its block */
	json_t *tries;	  /* message key -> tries seen */
};

static int fch_init(dtf_plugin_ctx *ctx, const struct dtf_plugin_host *host, void **state)
{
	struct fch *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->ctx = ctx;
	f->host = host;
	pthread_mutex_init(&f->mu, NULL);
	f->channels = json_object();
	f->tries = json_object();
	*state = f;
	return 0;
}

static int fch_open(void *state, const char *channel, const char *config_json, char *err,
		    size_t errlen)
{
	struct fch *f = state;
	json_t *block = json_loads(config_json, 0, NULL);
	json_t *path = json_object_get(block, "path");
	json_t *retry = json_object_get(block, "retry_first");

	if (!json_is_string(path) || !json_string_length(path)) {
		snprintf(err, errlen, "integrations.%s.path: missing (the file messages go to)",
			 channel);
		json_decref(block);
		return -1;
	}
	if (retry && (!json_is_integer(retry) || json_integer_value(retry) < 0)) {
		snprintf(err, errlen, "integrations.%s.retry_first: must be a whole number >= 0",
			 channel);
		json_decref(block);
		return -1;
	}
	pthread_mutex_lock(&f->mu);
	json_object_set_new(f->channels, channel, block);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static int fch_send(void *state, const char *channel, const char *message_json,
		    unsigned *retry_after_s, char *err, size_t errlen)
{
	struct fch *f = state;
	json_t *msg = json_loads(message_json, 0, NULL), *block;
	const char *key = json_string_value(json_object_get(msg, "key"));
	char path[1024];
	json_int_t tries, retry_first;
	int fail, rc = DTF_CHANNEL_SENT;
	FILE *out;

	if (!msg || !key) {
		snprintf(err, errlen, "the message is not a JSON object with a key");
		json_decref(msg);
		return DTF_CHANNEL_FAILED;
	}
	pthread_mutex_lock(&f->mu);
	block = json_object_get(f->channels, channel);
	snprintf(path, sizeof(path), "%s", json_string_value(json_object_get(block, "path")));
	retry_first = json_integer_value(json_object_get(block, "retry_first"));
	fail = json_is_true(json_object_get(block, "fail"));
	tries = json_integer_value(json_object_get(f->tries, key)) + 1;
	json_object_set_new(f->tries, key, json_integer(tries));
	pthread_mutex_unlock(&f->mu);
	if (fail) {
		snprintf(err, errlen, "this channel is set to fail (fail: true)");
		rc = DTF_CHANNEL_FAILED;
	} else if (tries <= retry_first) {
		snprintf(err, errlen, "try %lld of %s answered retry (retry_first: %lld)",
			 (long long)tries, key, (long long)retry_first);
		*retry_after_s = 1;
		rc = DTF_CHANNEL_RETRY;
	} else if (!(out = fopen(path, "a"))) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		rc = DTF_CHANNEL_RETRY;
	} else {
		int bad = fprintf(out, "%s\n", message_json) < 0;
		if (fclose(out) != 0 || bad) {
			snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
			rc = DTF_CHANNEL_RETRY;
		} else {
			snprintf(err, errlen, "appended to %s", path);
		}
	}
	json_decref(msg);
	return rc;
}

static void fch_shutdown(void *state)
{
	struct fch *f = state;

	json_decref(f->channels);
	json_decref(f->tries);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

static const struct dtf_channel_ops fch_ops = {
    .struct_size = sizeof(struct dtf_channel_ops),
    .type = FCH_TYPE,
    .open = fch_open,
    .send = fch_send,
};

static const struct dtf_plugin fch_plugin = {
    .abi_version = DTF_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(struct dtf_plugin),
    .name = FCH_NAME,
    .version = "1.0.0",
    .type = DTF_PLUGIN_NOTIFICATION,
    .init = fch_init,
    .shutdown = fch_shutdown,
    .channel = &fch_ops,
    .description = "a notification channel type that appends each message to a file",
};

DTF_PLUGIN_EXPORT const struct dtf_plugin *dtf_plugin_entry(void)
{
	return &fch_plugin;
}
