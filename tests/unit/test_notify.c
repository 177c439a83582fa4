/* test_notify.c: the notification connectors' message builders and configuration
 * (src/notify/): Slack's block limits and the shortened test list, Teams' size limit, RFC 2047
 * subjects, the email's MIME structure, JIRA fingerprints, and the errors a channel's
 * configuration gets (naming the field, never the secret). No network: sends are tested by the
 * e2e tests against fake services. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/template.h"
#include "notify/internal.h"
#include "notify/notify.h"
#include "unit_main.h"

/* A run with nfailed failures, listed of them in tests, each with an error of errlen bytes. */
static json_t *run_data(size_t listed, size_t nfailed, size_t errlen)
{
	json_t *tests = json_array();
	char *err = malloc(errlen + 1);
	size_t i;

	memset(err, 'e', errlen);
	err[errlen] = '\0';
	for (i = 0; i < listed; i++) {
		char name[100];
		snprintf(name, sizeof(name), "suite/test_mod.py::test_case_%05zu <&>", i);
		json_array_append_new(tests, json_pack("{s:s, s:s, s:s}", "name", name, "status",
						       "failed", "error", err));
	}
	free(err);
	return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:{s:i, s:i, s:i}}, s:o, s:i}",
			 "event", "run_failed", "severity", "error", "title", "Run nightly failed",
			 "url", "https://dtf.example/runs/r1", "run", "id", "r1", "name", "nightly",
			 "url", "https://dtf.example/runs/r1", "counts", "total", 500, "passed",
			 500 - (int)nfailed, "failed", (int)nfailed, "tests", tests, "more",
			 (int)(nfailed - listed));
}

static const json_t *block_of(const json_t *payload, const char *type, int nth)
{
	const json_t *b;
	size_t i;

	json_array_foreach(json_object_get(payload, "blocks"), i, b) {
		if (!strcmp(json_string_value(json_object_get(b, "type")), type) && nth-- == 0)
			return b;
	}
	return NULL;
}

/* The Slack payload keeps every documented limit however long the list, and says how many
 * tests it left out. */
static void test_slack_limits(void **state)
{
	size_t sizes[][3] = {{10, 37, 100}, {400, 400, 300}, {3, 3, 20000}, {0, 0, 0}};
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		json_t *d = run_data(sizes[k][0], sizes[k][1], sizes[k][2]);
		struct notify_message m = {.event = "run_failed", .severity = "error", .data = d};
		json_t *p = notify_slack_payload(&m), *b;
		const json_t *list, *fields;
		size_t i;

		assert_non_null(p);
		assert_true(json_array_size(json_object_get(p, "blocks")) <= SLACK_BLOCKS_MAX);
		assert_true(json_string_length(json_object_get(p, "text")) <= SLACK_TEXT_MAX);
		json_array_foreach(json_object_get(p, "blocks"), i, b) {
			const char *t = json_string_value(json_object_get(b, "type"));
			size_t n = json_string_length(nt_get(b, "text.text"));
			if (!strcmp(t, "header"))
				assert_true(n <= SLACK_HEADER_MAX);
			else
				assert_true(n <= SLACK_SECTION_MAX);
		}
		fields = json_object_get(block_of(p, "section", 1), "fields");
		if (!fields)
			fields = json_object_get(block_of(p, "section", 0), "fields");
		assert_non_null(fields);
		assert_true(json_array_size(fields) <= SLACK_FIELDS_MAX);
		{
			char want[64];
			snprintf(want, sizeof(want), "*Failed*\n%zu", sizes[k][1]);
			assert_string_equal(
			    json_string_value(nt_get(json_array_get(fields, 2), "text")), want);
		}
		list = NULL;
		json_array_foreach(json_object_get(p, "blocks"), i, b) {
			const char *s = json_string_value(nt_get(b, "text.text"));
			if (s && strstr(s, "test_case_"))
				list = b;
		}
		if (sizes[k][0] == 0) {
			assert_null(list);
		} else {
			const char *s = json_string_value(nt_get(list, "text.text"));
			char more[64];
			/* Escaped for mrkdwn, and the rest counted. */
			assert_non_null(strstr(s, "test_case_00000 &lt;&amp;&gt;"));
			if (sizes[k][0] > 20) {
				assert_non_null(strstr(s, " more_"));
				assert_null(strstr(s, "test_case_00399"));
			}
			if (sizes[k][1] == 37) {
				snprintf(more, sizeof(more), "_and %zu more_", sizes[k][1] - 10);
				assert_non_null(strstr(s, more));
			}
		}
		json_decref(p);
		json_decref(d);
	}
}

/* The Teams card stays under the limit however long the list, and counts the rest. */
static void test_teams_size(void **state)
{
	json_t *d = run_data(3000, 3000, 500);
	struct notify_message m = {.event = "run_failed", .severity = "warning", .data = d};
	char err[300], *text;
	json_t *p;
	int mc;

	(void)state;
	for (mc = 0; mc < 2; mc++) {
		p = notify_teams_payload(&m, mc, err, sizeof(err));
		assert_non_null(p);
		text = json_dumps(p, JSON_COMPACT);
		assert_true(strlen(text) <= TEAMS_MAX_BYTES);
		assert_true(strlen(text) > TEAMS_MAX_BYTES / 2);
		assert_non_null(strstr(text, " more_"));
		if (mc) {
			assert_string_equal(json_string_value(json_object_get(p, "themeColor")),
					    "FFA500");
		} else {
			const json_t *c =
			    nt_get(json_array_get(json_object_get(p, "attachments"), 0), "content");
			assert_string_equal(json_string_value(json_object_get(c, "version")),
					    "1.4");
			assert_string_equal(
			    json_string_value(json_object_get(
				json_array_get(json_object_get(c, "body"), 0), "style")),
			    "warning");
		}
		free(text);
		json_decref(p);
	}
	json_decref(d);
}

static void test_rfc2047(void **state)
{
	struct dtf_buf b;
	const char *s = "Testlauf fehlgeschlagen \xe2\x80\x93 \xc3\xbc\xc3\xb6\xc3\xa4 "
			"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e and a long tail to fold over words";
	const char *p, *w;

	(void)state;
	dtf_buf_init(&b, 4096);
	assert_int_equal(notify_rfc2047(&b, "plain ascii subject"), 0);
	assert_string_equal(dtf_buf_str(&b), "plain ascii subject");
	dtf_buf_reset(&b);
	assert_int_equal(notify_rfc2047(&b, s), 0);
	p = dtf_buf_str(&b);
	assert_memory_equal(p, "=?UTF-8?B?", 10);
	/* Every encoded word at most 75 characters, separated by folding whitespace. */
	for (w = p; w; w = strstr(w, "\r\n ")) {
		const char *end;
		if (w != p)
			w += 3;
		end = strstr(w, "?=");
		assert_non_null(end);
		assert_true(end + 2 - w <= 75);
		assert_memory_equal(w, "=?UTF-8?B?", 10);
	}
	/* The first word holds 45 bytes ("...\xe2\x80\x93 " ends at byte 27, the next
	 * characters fit): 60 base64 characters, none of a UTF-8 sequence split off. */
	assert_int_equal(strstr(p, "?=") - p - 10, 60);
	dtf_buf_reset(&b);

	/* An encoded-word look-alike is encoded rather than sent raw. */
	assert_int_equal(notify_rfc2047(&b, "=?x?"), 0);
	assert_memory_equal(dtf_buf_str(&b), "=?UTF-8?B?", 10);
	dtf_buf_release(&b);
}

static void test_email_mime(void **state)
{
	json_t *d = run_data(10, 37, 60);
	json_t *to = json_pack("[s, s]", "a@example.org", "B <b@example.org>");
	json_t *cc = json_pack("[s]", "c@example.org");
	struct notify_message m = {
	    .event = "run_failed", .severity = "error", .key = "r1/run_failed/1", .data = d};
	struct dtf_buf b, b2;
	const char *s, *p;
	char boundary[80];
	size_t i, col = 0;

	(void)state;
	dtf_buf_init(&b, 1 << 20);
	dtf_buf_init(&b2, 1 << 20);
	assert_int_equal(notify_email_build(&b, &m, "dtf <ci@example.org>", to, cc,
					    "\xc3\x9c {{run.name}}", 1765000000),
			 0);
	s = dtf_buf_str(&b);
	assert_non_null(strstr(s, "Date: Sat, 06 Dec 2025 05:46:40 +0000\r\n"));
	assert_non_null(strstr(s, "To: a@example.org,\r\n B <b@example.org>\r\n"));
	assert_non_null(strstr(s, "Cc: c@example.org\r\n"));
	assert_non_null(strstr(s, "Subject: =?UTF-8?B?w5wgbmlnaHRseQ==?=\r\n"));
	assert_non_null(strstr(s, "MIME-Version: 1.0\r\n"));
	p = strstr(s, "boundary=\"");
	assert_non_null(p);
	snprintf(boundary, sizeof(boundary), "--%.*s", (int)strcspn(p + 10, "\""), p + 10);
	/* Two parts, text then HTML, and the closing boundary. */
	p = strstr(s, boundary);
	assert_non_null(p);
	assert_non_null(strstr(p, "Content-Type: text/plain; charset=UTF-8\r\n"
				  "Content-Transfer-Encoding: quoted-printable\r\n"));
	p = strstr(p + 1, boundary);
	assert_non_null(p);
	assert_non_null(strstr(p, "Content-Type: text/html; charset=UTF-8\r\n"));
	assert_non_null(strstr(s, "&lt;&amp;&gt;"));
	snprintf(boundary + strlen(boundary), sizeof(boundary) - strlen(boundary), "--\r\n");
	assert_non_null(strstr(s, boundary));
	/* 7-bit, CRLF only, lines of at most 76 characters. */
	for (i = 0; i < b.len; i++) {
		unsigned char c = (unsigned char)s[i];
		assert_true(c < 128);
		if (c == '\n') {
			assert_int_equal(s[i - 1], '\r');
			col = 0;
		} else if (c != '\r') {
			assert_true(++col <= 998);
		}
	}
	/* The same key gives the same Message-ID (a retry is the same message). */
	assert_int_equal(notify_email_build(&b2, &m, "ci@example.org", to, NULL, NULL, 1), 0);
	p = strstr(s, "Message-ID: ");
	assert_non_null(p);
	assert_non_null(strstr(dtf_buf_str(&b2), "Message-ID: "));
	assert_memory_equal(p, strstr(dtf_buf_str(&b2), "Message-ID: "), strcspn(p, "\r"));
	assert_non_null(strstr(p, "@example.org>"));
	/* A run with 5,000 failures listed: the list is cut, the message still built. */
	json_decref(d);
	d = run_data(5000, 5000, 500);
	m.data = d;
	dtf_buf_reset(&b);
	assert_int_equal(notify_email_build(&b, &m, "ci@example.org", to, NULL, NULL, 1), 0);
	assert_true(b.len < 1024 * 1024);
	assert_non_null(strstr(dtf_buf_str(&b), "more"));
	assert_non_null(strstr(dtf_buf_str(&b), "test_case_00000"));
	assert_null(strstr(dtf_buf_str(&b), "test_case_04999"));
	dtf_buf_release(&b);

	dtf_buf_release(&b2);
	json_decref(to);
	json_decref(cc);
	json_decref(d);
}

static void test_fingerprint(void **state)
{
	char a[32], b[32], c[32];

	(void)state;
	notify_jira_fingerprint("shop", "t::a", a, sizeof(a));
	notify_jira_fingerprint("shop", "t::a", b, sizeof(b));
	notify_jira_fingerprint("sho", "pt::a", c, sizeof(c));
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_int_equal(strlen(a), 20);
	assert_memory_equal(a, "dtf-", 4);
}

/* open() on block (JSON text); returns its error message or "" (a static buffer). */
static const char *open_err(const char *name, const char *block)
{
	static char err[512];
	struct notify_channel *ch = NULL;
	json_t *b = json_loads(block, 0, NULL);
	int rc;

	assert_non_null(b);
	err[0] = '\0';
	rc = notify_channel_open(name, b, &ch, err, sizeof(err));
	if (rc == 0) {
		assert_non_null(ch);
		err[0] = '\0';
	} else {
		assert_int_equal(rc, DTF_EINVAL);
		assert_null(ch);
	}
	notify_channel_close(ch);
	json_decref(b);
	return err;
}

static void test_config_errors(void **state)
{
	struct notify_channel *ch = NULL;
	json_t *b;
	char err[256];

	(void)state;
	setenv("DTF_TEST_TOKEN", "xoxb-unit-secret-9", 1);
	setenv("DTF_TEST_SHORT", "ab", 1);
	setenv("DTF_TEST_CRLF", "xoxb-1\r\nX-Evil: 1", 1);
	assert_string_equal(open_err("a", "{}"),
			    "integrations.a.type: missing (slack, slack_webhook, teams, email, "
			    "webhook, jira, testrail or exec)");
	assert_string_equal(open_err("a", "{\"type\": \"irc\"}"),
			    "integrations.a.type: unknown type 'irc' (slack, slack_webhook, teams, "
			    "email, webhook, jira, testrail or exec)");
	assert_string_equal(open_err("s", "{\"type\": \"slack\", \"token\": \"xoxb-inline-1\", "
					  "\"channel\": \"#c\"}"),
			    "integrations.s.token: a secret is not written in the configuration: "
			    "name an environment variable in token_env or a file in token_file");
	assert_string_equal(
	    open_err("s", "{\"type\": \"slack\", \"channel\": \"#c\"}"),
	    "integrations.s.token_env: missing: the slack connector needs token_env "
	    "or token_file");
	assert_string_equal(
	    open_err("s", "{\"type\": \"slack\", \"token_env\": \"DTF_TEST_UNSET_X\", "
			  "\"channel\": \"#c\"}"),
	    "integrations.s.token_env: the environment variable DTF_TEST_UNSET_X is not set");
	assert_string_equal(open_err("s",
				     "{\"type\": \"slack\", \"token_env\": \"DTF_TEST_SHORT\", "
				     "\"channel\": \"#c\"}"),
			    "integrations.s.token_env: the secret is shorter than 4 characters");
	assert_string_equal(open_err("s", "{\"type\": \"slack\", \"token_env\": \"DTF_TEST_CRLF\", "
					  "\"channel\": \"#c\"}"),
			    "integrations.s.token_env: the secret holds a control character");

	assert_string_equal(open_err("s",
				     "{\"type\": \"slack\", \"token_env\": \"DTF_TEST_TOKEN\", "
				     "\"channel\": \"#c\", \"chanel\": 1}"),
			    "integrations.s.chanel: unknown field for type slack");
	assert_string_equal(open_err("s",
				     "{\"type\": \"slack\", \"token_env\": \"DTF_TEST_TOKEN\", "
				     "\"channel\": \"#c\", \"timeout_s\": 0}"),
			    "integrations.s.timeout_s: must be between 0.1 and 600");
	assert_string_equal(open_err("s",
				     "{\"type\": \"slack\", \"token_env\": \"DTF_TEST_TOKEN\", "
				     "\"token_file\": \"/x\", \"channel\": \"#c\"}"),
			    "integrations.s.token_env: give token_env or token_file, not both");
	assert_string_equal(open_err("e", "{\"type\": \"email\", \"smtp_url\": "
					  "\"smtp://h\", \"from\": \"a@b\", \"to\": \"x\"}"),
			    "integrations.e.to: must be an address or a list of addresses");
	assert_string_equal(open_err("e", "{\"type\": \"email\", \"smtp_url\": "
					  "\"smtp://h\", \"from\": \"a@b\", \"to\": \"x@y\", "
					  "\"starttls\": \"maybe\"}"),
			    "integrations.e.starttls: must be true or false (on/off)");
	assert_string_equal(open_err("e", "{\"type\": \"email\", \"smtp_url\": "
					  "\"smtp://h\", \"from\": \"a@b\", \"to\": \"x@y\", "
					  "\"subject\": \"{{#a}}\"}"),
			    "integrations.e.subject: 1:1: section {{#a}} is not closed");
	assert_string_equal(open_err("j", "{\"type\": \"jira\", \"flavor\": \"server\", "
					  "\"base_url\": \"https://j\", \"token_env\": "
					  "\"DTF_TEST_TOKEN\", \"project\": \"QA\"}"),
			    "integrations.j.flavor: must be cloud or datacenter");
	assert_string_equal(open_err("t", "{\"type\": \"testrail\", \"base_url\": \"https://t\", "
					  "\"username\": \"u@x\", \"token_env\": "
					  "\"DTF_TEST_TOKEN\"}"),
			    "integrations.t.project_id: missing (the project's number)");
	assert_string_equal(open_err("w", "{\"type\": \"webhook\", \"url\": \"ftp://x\"}"),
			    "integrations.w.url: must be an http(s):// URL");
	/* A valid channel: its name, type, rate and escaping. */
	assert_string_equal(open_err("ok", "{\"type\": \"slack\", \"token_env\": "
					   "\"DTF_TEST_TOKEN\", \"channel\": \"#c\"}"),
			    "");
	b = json_pack("{s:s, s:s, s:s}", "type", "jira", "base_url", "https://j", "token_env",
		      "DTF_TEST_TOKEN");
	json_object_set_new(b, "project", json_string("QA"));
	json_object_set_new(b, "flavor", json_string("datacenter"));
	assert_int_equal(notify_channel_open("jdc", b, &ch, err, sizeof(err)), 0);
	assert_string_equal(notify_channel_type(ch), "jira");
	assert_string_equal(notify_channel_name(ch), "jdc");
	assert_int_equal(notify_channel_escape(ch), DTF_TPL_TEXT);
	assert_true(notify_channel_rate(ch) > 0);
	notify_channel_close(ch);
	json_decref(b);
	notify_channel_close(NULL);
	/* No error message ever holds the secret. */
	assert_null(strstr(open_err("s", "{\"type\": \"slack\", \"token_env\": "
					 "\"DTF_TEST_TOKEN\"}"),
			   "xoxb-unit-secret-9"));
}

/* The list shortening keeps the most tests that fit, and says how many it left out. */
static void test_fit(void **state)
{
	json_t *d = run_data(100, 120, 10), *f;

	(void)state;
	f = nt_data_fit(d, 7, 5);
	assert_int_equal(json_array_size(json_object_get(f, "tests")), 7);
	assert_int_equal(json_integer_value(json_object_get(f, "more")), 20 + 93);
	/* Strings cut on a character boundary, with an ellipsis. */
	assert_string_equal(
	    json_string_value(nt_get(json_array_get(json_object_get(f, "tests"), 0), "error")),
	    "ee\xe2\x80\xa6");
	json_decref(f);
	json_decref(d);
}

static char *fmt_name(void (*fmt)(struct dtf_buf *, const char *), const char *name)
{
	struct dtf_buf b;
	char *s;

	dtf_buf_init(&b, 4096);
	fmt(&b, name);
	s = strdup(dtf_buf_str(&b));
	dtf_buf_release(&b);
	return s;
}

/* Test names show literally in Slack's and Teams' built-in lists: a name that could format goes
 * in a Slack code span (mrkdwn has no escapes but entities), or is backslash-escaped for Teams;
 * a name that cannot format stays bold as before. */
static void test_list_names(void **state)
{
	static const char *const cases[][3] = {
	    /* name, Slack, Teams */
	    {"pkg/test_mod.py::test_ok", "*pkg/test_mod.py::test_ok*", "pkg/test_mod.py::test_ok"},
	    {"_private_", "`_private_`", "\\_private\\_"},
	    {"test a*b", "`test a*b`", "test a\\*b"},
	    {"x <y> & z", "*x &lt;y&gt; &amp; z*", "x <y> & z"},
	    {"tick`tock~", "`tick\xcb\x8btock~`", "tick\\`tock\\~"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *sl = fmt_name(notify_slack_name, cases[i][0]);
		char *tm = fmt_name(notify_teams_name, cases[i][0]);
		assert_string_equal(sl, cases[i][1]);
		assert_string_equal(tm, cases[i][2]);
		free(sl);
		free(tm);
	}
	/* In the payloads. */
	{
		json_t *d = json_pack("{s:s, s:[{s:s, s:s}], s:i}", "title", "t", "tests", "name",
				      "a*b_", "error", "boom", "more", 0);
		struct notify_message m = {.event = "run_failed", .severity = "error", .data = d};
		json_t *p = notify_slack_payload(&m);
		char err[300];
		char *text;
		assert_non_null(p);
		text = json_dumps(p, 0);
		assert_non_null(strstr(text, "\xe2\x80\xa2 `a*b_`: boom"));
		free(text);
		json_decref(p);
		p = notify_teams_payload(&m, false, err, sizeof(err));
		assert_non_null(p);
		text = json_dumps(p, 0);
		assert_non_null(strstr(text, "- **a\\\\*b\\\\_**: boom"));
		free(text);
		json_decref(p);
		json_decref(d);
	}
}

/* A route's template that does not render for Slack fails the message with the reason (the
 * outbox then keeps it as a dead letter) instead of sending it without its list. */
static void test_slack_template_error(void **state)
{
	json_t *d = run_data(2, 2, 10);
	struct dtf_tpl *tpl = NULL;
	struct dtf_tpl_error terr;
	struct notify_message m = {.event = "run_failed", .severity = "error", .data = d};
	char *src = malloc(60001), err[300] = "";
	json_t *p;
	size_t i;

	(void)state;
	/* 12,000 copies of the whole context: past the list's 256 KiB with no test listed. */
	for (i = 0; i < 12000; i++)
		memcpy(src + i * 5, "{{.}}", 5);
	src[60000] = '\0';
	assert_int_equal(dtf_tpl_compile(src, 60000, &tpl, &terr), 0);
	m.tpl = tpl;
	p = notify_slack_payload_err(&m, err, sizeof(err));
	assert_null(p);
	assert_non_null(strstr(err, "the route's template did not render"));
	/* A template that renders is kept. */
	dtf_tpl_free(tpl);
	assert_int_equal(dtf_tpl_compile("{{#tests}}> {{name}}\n{{/tests}}", 31, &tpl, &terr), 0);
	m.tpl = tpl;
	p = notify_slack_payload_err(&m, err, sizeof(err));
	assert_non_null(p);
	json_decref(p);
	dtf_tpl_free(tpl);
	free(src);
	json_decref(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_slack_limits),
	    cmocka_unit_test(test_teams_size),
	    cmocka_unit_test(test_rfc2047),
	    cmocka_unit_test(test_email_mime),
	    cmocka_unit_test(test_fingerprint),
	    cmocka_unit_test(test_config_errors),
	    cmocka_unit_test(test_fit),
	    cmocka_unit_test(test_list_names),
	    cmocka_unit_test(test_slack_template_error),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
