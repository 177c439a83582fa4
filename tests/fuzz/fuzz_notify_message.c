/* fuzz_notify_message.c: libFuzzer target for the notification message builders (src/notify/):
 * the input is a message's JSON context (test names and errors come from the tests themselves, so
 * any bytes, any length), built as a Slack payload, a Teams Adaptive Card and MessageCard, and an
 * email. Whatever the context: no crash, no leak, Slack's block limits hold, so does Teams' size
 * limit where only the list can grow, and the email is 7-bit with CRLF line ends. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "notify/internal.h"

static void check_slack(const struct notify_message *m)
{
	json_t *p = notify_slack_payload(m), *b;
	size_t i;

	if (!p)
		return;
	if (json_array_size(json_object_get(p, "blocks")) > SLACK_BLOCKS_MAX ||
	    json_string_length(json_object_get(p, "text")) > SLACK_TEXT_MAX)
		abort();
	json_array_foreach(json_object_get(p, "blocks"), i, b) {
		if (json_string_length(nt_get(b, "text.text")) > SLACK_SECTION_MAX)
			abort();
		if (json_array_size(json_object_get(b, "fields")) > SLACK_FIELDS_MAX)
			abort();
	}
	json_decref(p);
}

static void check_teams(const struct notify_message *m, bool mc)
{
	char err[300], *text;
	json_t *p = notify_teams_payload(m, mc, err, sizeof(err));

	if (!p)
		return;
	/* A context with only a title, a text and a list always fits: the list is cut, each
	 * string to 1,000 bytes. (Fixed parts such as thousands of counts are not cut.) */
	text = json_dumps(p, JSON_COMPACT);
	if (text && strlen(text) > TEAMS_MAX_BYTES && !json_object_get(m->data, "run") &&
	    json_object_size(m->data) <= 4)
		abort();
	free(text);

	json_decref(p);
}

static void check_email(const struct notify_message *m)
{
	json_t *to = json_pack("[s]", "a@example.org");
	struct dtf_buf b;
	size_t i;

	dtf_buf_init(&b, 4 << 20);
	if (notify_email_build(&b, m, "ci@example.org", to, NULL, NULL, 0) == 0) {
		for (i = 0; i < b.len; i++) {
			unsigned char c = (unsigned char)b.data[i];
			if (c >= 128 || (c == '\n' && (i == 0 || b.data[i - 1] != '\r')))
				abort();
		}
	}
	dtf_buf_release(&b);
	json_decref(to);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct notify_message m = {.event = "run_failed", .severity = "error", .key = "k"};
	json_t *d;

	if (size > 256 * 1024)
		return 0;
	d = json_loadb((const char *)data, size, JSON_ALLOW_NUL, NULL);
	if (!json_is_object(d)) {
		json_decref(d);
		return 0;
	}
	m.data = d;
	check_slack(&m);
	check_teams(&m, false);
	check_teams(&m, true);
	check_email(&m);
	json_decref(d);
	return 0;
}
