/* notify.c: `dtf notify test`: opens one channel of a configuration's integrations and sends it
 * a sample message of a realistic shape (a run with 37 failed tests, the first 10 listed), so a
 * team can check a token, a URL or a template before the coordinator relies on them. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/json.h"
#include "common/template.h"
#include "common/util.h"
#include "common/yaml.h"
#include "core/outbox.h"
#include "notify/notify.h"
#include "plugin/plugin.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dtf notify test --config FILE --channel NAME [options]\n"
		"  --config FILE     the YAML configuration (the coordinator's --config file)\n"
		"  --channel NAME    the channel: its block is integrations.NAME\n"
		"  --event E         the sample's event (default run_failed): run_started,\n"
		"                    run_failed, run_completed, task_failed, test_passed,\n"
		"                    worker_lost\n"
		"  --template FILE   render the message with this template (docs/templates.md)\n"
		"                    instead of the channel's built-in one\n"
		"  --run-id ID       the sample run's id (default r-sample-0001)\n"
		"  --ref REF         an earlier send's ref (as the outbox passes after a restart)\n"
		"  --repeat N        send the message N times (a run's message is updated)\n"
		"  --listed N        list N failed tests (default 10) with long errors, to see\n"
		"                    how the channel shortens a long list\n"
		"Prints the service's status and answer, or the error; exit 0 when every send\n"
		"was taken, 1 when one was not or the channel does not open, 2 on usage errors.\n");
}

static const char *const sample_tests[] = {
    "checkout/test_payment.py::test_card_declined",
    "checkout/test_payment.py::test_refund_partial",
    "checkout/test_cart.py::test_coupon_expired",
    "search/test_query.py::test_unicode_terms",
    "search/test_query.py::test_pagination_stable",
    "accounts/test_login.py::test_lockout_after_5",
    "accounts/test_login.py::test_password_reset_mail",
    "api/test_orders.py::test_create_idempotent",
    "api/test_orders.py::test_list_filters",
    "inventory/test_sync.py::test_warehouse_timeout",
};

/* The sample: a nightly run of 412 tests with 37 failures, the first 10 listed. */
static json_t *sample_data(const char *event, const char *run_id, size_t listed)
{
	bool failed = !strcmp(event, "run_failed") || !strcmp(event, "task_failed") ||
		      !strcmp(event, "grouped");
	bool passed = !strcmp(event, "test_passed");
	bool started = !strcmp(event, "run_started");
	bool lost = !strcmp(event, "worker_lost");
	char url[200], title[300], now[40];
	json_t *d, *tests = json_array();
	time_t t = time(NULL);
	struct tm tm;
	size_t i, n = passed ? 1 : started || lost ? 0 : listed;
	long nfailed = listed > 37 ? (long)listed : 37;

	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(url, sizeof(url), "https://dtf.example.com/runs/%s", run_id);
	for (i = 0; i < n; i++) {
		char turl[300], tr[16], err[1200], name[200];
		snprintf(turl, sizeof(turl), "%s/tests/%zu", url, i + 1);
		snprintf(tr, sizeof(tr), "C%zu", 1001 + i);
		if (i < 10) {
			snprintf(name, sizeof(name), "%s", sample_tests[i]);
			snprintf(err, sizeof(err),
				 "AssertionError: expected status 200, got 502 (\"upstream "
				 "<gateway> timed out\" after %zu.5 s)",
				 i + 2);
		} else {
			snprintf(name, sizeof(name), "generated/test_many.py::test_case_%04zu", i);
			snprintf(err, sizeof(err), "%0900d: a long failure message", 0);
		}
		json_array_append_new(
		    tests, json_pack("{s:s, s:s, s:s, s:f, s:s, s:s, s:{s:s}, s:[s]}", "name", name,
				     "status", passed ? "passed" : "failed", "error",
				     passed ? "" : err, "duration_s", 1.25 + (double)i, "worker",
				     i % 2 ? "w-linux-02" : "w-linux-01", "url", turl, "params",
				     "testrail", tr, "labels", "smoke"));
	}
	if (passed)
		snprintf(title, sizeof(title), "Test %s passes again in run nightly-2026-12-06",
			 sample_tests[0]);
	else if (started)
		snprintf(title, sizeof(title), "Run nightly-2026-12-06 started: 412 tests");
	else if (failed)
		snprintf(title, sizeof(title),
			 "Run nightly-2026-12-06 failed: %ld of 412 tests failed", nfailed);
	else
		snprintf(title, sizeof(title),
			 "Run nightly-2026-12-06 completed: 370 passed, 37 failed");
	d = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:f, "
		      "s:{s:i, s:i, s:i, s:i}}, s:o, s:i, s:i}",
		      "event", event, "severity", failed ? "error" : "info", "title", title, "text",
		      started ? "The run was submitted by the nightly pipeline."
			      : "Most failures are in checkout and search; the payment gateway "
				"stub timed out on two workers.",
		      "time", now, "url", url, "project", "shop", "run", "id", run_id, "name",
		      "nightly-2026-12-06", "url", url, "status",
		      started  ? "running"
		      : failed ? "failed"
			       : "completed",
		      "duration_s", 812.4, "counts", "total", 412, "passed", started ? 0 : 370,
		      "failed", started ? 0 : (int)nfailed, "skipped", started ? 0 : 5, "tests",
		      tests, "failed", started || passed ? 0 : (int)nfailed, "more",
		      (int)(nfailed - (long)n));
	if (d && (passed || started || lost))
		json_object_set_new(d, "more", json_integer(0));
	if (d && lost) {
		json_object_set_new(d, "severity", json_string("warning"));
		json_object_set_new(d, "title",
				    json_string("Worker w-linux-02 lost: 3 tasks of run "
						"nightly-2026-12-06 requeued"));
		json_object_set_new(d, "text",
				    json_string("No heartbeat for 90 s; its leases were "
						"ended and the tasks requeued."));
		json_object_set_new(d, "worker",
				    json_pack("{s:s, s:s, s:s, s:i}", "id", "w-linux-02", "host",
					      "ci-runner-07.example.com", "last_seen", now,
					      "tasks_requeued", 3));
	}
	return d;
}

static int notify_test(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"channel", required_argument, NULL, 'n'},
	    {"event", required_argument, NULL, 'e'},  {"template", required_argument, NULL, 't'},
	    {"run-id", required_argument, NULL, 'r'}, {"ref", required_argument, NULL, 'R'},
	    {"repeat", required_argument, NULL, 'N'}, {"listed", required_argument, NULL, 'L'},
	    {"help", no_argument, NULL, 'h'},	      {NULL, 0, NULL, 0},
	};
	const char *config = NULL, *name = NULL, *event = "run_failed", *tpl_path = NULL;
	const char *run_id = "r-sample-0001", *ref = NULL;
	struct notify_channel *ch = NULL;
	struct dtf_plugins *ps = NULL;
	struct notify_ext ext;
	struct dtf_tpl *tpl = NULL;
	json_t *doc = NULL, *data = NULL;
	char err[1024], key[128], lastref[128] = "";
	int c, i, repeat = 1, listed = 10, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'e':
			event = optarg;
			break;
		case 't':
			tpl_path = optarg;
			break;
		case 'r':
			run_id = optarg;
			break;
		case 'R':
			ref = optarg;
			break;
		case 'N':
			repeat = atoi(optarg);
			break;
		case 'L':
			listed = atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!config || !name || optind != argc || repeat < 1 || repeat > 100 || listed < 1 ||
	    listed > 10000) {
		usage(stderr);
		return 2;
	}
	doc = dtf_yaml_load(config, err, sizeof(err));
	if (!doc) {
		fprintf(stderr, "dtf notify: %s\n", err);
		goto out;
	}
	if (!json_is_object(json_object_get(json_object_get(doc, "integrations"), name))) {
		fprintf(stderr, "dtf notify: %s: no integrations.%s block\n", config, name);
		goto out;
	}
	/* The file's plugins too, when it has a plugins section: a channel's type may be one a
	 * plugin serves (docs/plugins.md, "Notification channels"). */
	if (json_object_get(doc, "plugins")) {
		struct dtf_plugin_host_impl hi = {.role = "cli"};
		ps = dtf_plugins_load(doc, config, &hi, err, sizeof(err));
		if (!ps) {
			fprintf(stderr, "dtf notify: %s\n", err);
			goto out;
		}
		outbox_notify_ext(ps, &ext);
	}
	if (notify_channel_open_ext(name,
				    json_object_get(json_object_get(doc, "integrations"), name),
				    ps ? &ext : NULL, &ch, err, sizeof(err))) {
		fprintf(stderr, "dtf notify: %s: %s\n", config, err);
		goto out;
	}
	if (tpl_path) {
		struct dtf_tpl_error te;
		char *src;
		size_t len;
		if (dtf_read_file(tpl_path, DTF_TPL_MAX_SOURCE, &src, &len)) {
			fprintf(stderr, "dtf notify: cannot read %s\n", tpl_path);
			goto out;
		}
		c = dtf_tpl_compile(src, len, &tpl, &te);
		free(src);
		if (c) {
			fprintf(stderr, "dtf notify: %s:%u:%u: %s\n", tpl_path, te.line, te.column,
				te.message);
			goto out;
		}
	}
	data = sample_data(event, run_id, (size_t)listed);
	snprintf(key, sizeof(key), "%s/%s/sample", run_id, event);
	printf("channel: %s (%s)\n", notify_channel_name(ch), notify_channel_type(ch));
	rc = 0;
	for (i = 0; i < repeat; i++) {
		struct notify_message m = {.event = event,
					   .severity =
					       json_string_value(json_object_get(data, "severity")),
					   .key = key,
					   .data = data,
					   .tpl = tpl,
					   .ref = ref};
		struct notify_result res;
		int s = notify_send(ch, &m, &res);
		printf("send %d: %s\n", i + 1, s ? "failed" : "ok");
		printf("status: %ld\nretry: %s\nretry_after_ms: %ld\n", res.status,
		       res.retry ? "true" : "false", res.retry_after_ms);
		if (res.answer[0])
			printf("answer: %s\n", res.answer);
		if (res.ref[0]) {
			printf("ref: %s\n", res.ref);
			snprintf(lastref, sizeof(lastref), "%s", res.ref);
		}
		if (s) {
			printf("error: %s\n", res.error);
			fprintf(stderr, "dtf notify: %s\n", res.error);
			rc = 1;
		}
		fflush(stdout);
	}
out:
	notify_channel_close(ch);
	dtf_plugins_free(ps);
	dtf_tpl_free(tpl);
	json_decref(data);
	json_decref(doc);
	return rc;
}

int cmd_notify(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "test"))
		return notify_test(argc - 1, argv + 1);
	fprintf(stderr, "dtf notify: unknown subcommand '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
