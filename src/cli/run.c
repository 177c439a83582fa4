/* run.c: `dtf run`: the whole system on one machine: an embedded coordinator (SQLite in .dtf/),
 * N local worker processes, test discovery, live progress, reports (JSON, JUnit, Markdown, HTML,
 * CSV) and badges. Exit 0 only if every test passed (tests no local worker can run are reported
 * as skipped). */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ci/discover.h"
#include "ci/isolate.h"
#include "ci/pytest_group.h"
#include "cli/cli.h"
#include "cli/local.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "coordinator/coordinator.h"
#include "net/http.h"

#define MAX_WORKERS DTF_LOCAL_MAX_WORKERS
#define MAX_DIRS    32

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: dtf run [options]\n"
	       "  --workers N            local workers (default: number of cores)\n"
	       "  --slots N              tasks per worker at once (default 1)\n"
	       "  --test-dir D           directory of tests (repeatable; default ./tests)\n"
	       "  --test-pattern G       file name pattern (default test_* and *_test.*)\n"
	       "  --task-file F          run the tasks of a task file instead of discovering\n"
	       "  --output-dir D         where reports go (default ./test-results)\n"
	       "  --report-formats L     comma-separated: json,junit,markdown,html,csv\n"
	       "                         (default json,junit)\n"
	       "  --badges-dir D         write shields.io endpoint badges into D\n"
	       "  --coverage F           an lcov or Cobertura file to report (repeatable)\n"
	       "  --compare-with F       an earlier results.json to compare this run with\n"
	       "  --timeout S            give up after S seconds (exit 3)\n"
	       "  --hardware X,…         hardware the local workers offer beyond detection\n"
	       "  --state-dir D          coordinator state and work directories (default .dtf)\n"
	       "  --quiet                no progress display\n"
	       "  --dashboard            print the embedded coordinator's web dashboard URL and\n"
	       "                         serve it during the run (docs/dashboard.md)\n"
	       "  --dashboard-port P     serve the coordinator (and dashboard) on loopback port P\n"
	       "  --dashboard-keep       --dashboard, and after the reports keep serving the\n"
	       "                         dashboard until Ctrl-C (SIGINT or SIGTERM)\n"
	       "  --pytest               run test_*.py files with pytest, several per process, "
	       "grouped\n"
	       "                         by their recorded durations (automatic when the test\n"
	       "                         directory has conftest.py or pytest.ini); a chunk's\n"
	       "                         failing tests are re-run alone (order "
	       "dependence):\n" DTF_ISOLATE_USAGE);
}

/* Prints each failed test with its reason and the end of its output. */
static void print_failures(json_t *doc)
{
	size_t i;
	json_t *t;

	json_array_foreach(json_object_get(doc, "tasks"), i, t) {
		json_t *e = json_object_get(t, "error"), *res = json_object_get(t, "result");
		const char *st = dtf_json_str(t, "status", "");
		const char *out;
		size_t n;
		if (strcmp(st, "failed") != 0)
			continue;
		fprintf(stderr, "FAILED %s: %s\n", dtf_json_str(t, "name", ""),
			dtf_json_str(e, "message", dtf_json_str(e, "kind", "failed")));
		out = dtf_json_str(res, "stderr", "");
		if (!*out)
			out = dtf_json_str(res, "stdout", "");
		n = strlen(out);
		if (n > 400)
			out += n - 400;
		if (*out)
			fprintf(stderr, "    %s%s", out, out[strlen(out) - 1] == '\n' ? "" : "\n");
	}
}

static volatile sig_atomic_t keep_stop;

static void on_keep_signal(int sig)
{
	(void)sig;
	keep_stop = 1;
}

/* --dashboard-keep: the run is over and its reports are written; the embedded coordinator goes
 * on serving its dashboard until the user sends SIGINT (Ctrl-C) or SIGTERM. Only with that flag:
 * by default `dtf run` ends with its run, so scripts and `make run` never wait. A handler rather
 * than sigwait(): the coordinator's threads, started earlier, do not block the signals, and one
 * of them may be the thread that receives it. */
static void keep_serving(const char *url)
{
	struct sigaction sa, old_int, old_term;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_keep_signal;
	sigemptyset(&sa.sa_mask);
	keep_stop = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	fprintf(stderr, "dtf run: the dashboard stays at %s/ until Ctrl-C\n", url);
	while (!keep_stop)
		usleep(100 * 1000);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"workers", required_argument, NULL, 'w'},
	    {"slots", required_argument, NULL, 's'},
	    {"test-dir", required_argument, NULL, 'd'},
	    {"test-pattern", required_argument, NULL, 'p'},
	    {"task-file", required_argument, NULL, 'f'},
	    {"output-dir", required_argument, NULL, 'o'},
	    {"report-formats", required_argument, NULL, 'r'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"hardware", required_argument, NULL, 'H'},
	    {"state-dir", required_argument, NULL, 'S'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"pytest", no_argument, NULL, 'y'},
	    {"help", no_argument, NULL, 'h'},
	    {"badges-dir", required_argument, NULL, 'B'},
	    {"coverage", required_argument, NULL, 'C'},
	    {"compare-with", required_argument, NULL, 'P'},
	    {"dashboard", no_argument, NULL, 'D'},
	    {"dashboard-port", required_argument, NULL, 'O'},
	    {"dashboard-keep", no_argument, NULL, 'K'},
	    DTF_ISOLATE_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	const char *dirs[MAX_DIRS];
	int ndirs = 0, nworkers = (int)sysconf(_SC_NPROCESSORS_ONLN), slots = 1, opt, rc = 0, i;
	const char *pattern = NULL, *task_file = NULL, *outdir = "test-results",
		   *formats = "json,junit", *hardware = NULL, *state_dir = ".dtf";
	double timeout = 0;
	bool quiet = false, pytest = false, dashboard = false, dashboard_keep = false;
	int pytest_chunks = 0;
	unsigned dashboard_port = 0;
	char err[512], run_id[80], pyhist[4200];
	struct dtf_local loc = {0};
	struct dtf_http_client hc;
	bool hc_ready = false;
	json_t *tasks = json_array(), *fmts = NULL, *fv, *report = NULL;
	json_t *coverage = json_array();
	struct cli_report_opts ro = {0};
	struct dtf_isolate_opts iso;
	json_t *reruns = NULL;
	size_t fi;
	struct run_counts k = {0};
	bool tests_ok = false;
	int64_t start = dtf_mono_ms();

	dtf_isolate_opts_init(&iso);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'w':
			nworkers = atoi(optarg);
			if (nworkers < 1 || nworkers > MAX_WORKERS) {
				fprintf(stderr, "dtf run: --workers must be 1..%d\n", MAX_WORKERS);
				return 2;
			}
			break;
		case 's':
			slots = atoi(optarg);
			if (slots < 1 || slots > 256) {
				fprintf(stderr, "dtf run: --slots must be 1..256\n");
				return 2;
			}
			break;
		case 'd':
			if (ndirs < MAX_DIRS)
				dirs[ndirs++] = optarg;
			break;
		case 'p':
			pattern = optarg;
			break;
		case 'f':
			task_file = optarg;
			break;
		case 'o':
			outdir = optarg;
			break;
		case 'r':
			formats = optarg;
			break;
		case 'T':
			if (dtf_parse_seconds(optarg, &timeout)) {
				fprintf(stderr, "dtf run: bad --timeout\n");
				return 2;
			}
			break;
		case 'H':
			hardware = optarg;
			break;
		case 'S':
			state_dir = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'B':
			ro.badges_dir = optarg;
			break;
		case 'C':
			json_array_append_new(coverage, json_string(optarg));
			break;
		case 'P':
			ro.compare_with = optarg;
			break;
		case 'y':
			pytest = true;
			break;
		case 'D':
			dashboard = true;
			break;
		case 'O': {
			char *end;
			long p = strtol(optarg, &end, 10);
			if (end == optarg || *end || p < 1 || p > 65535) {
				fprintf(stderr, "dtf run: --dashboard-port must be 1..65535\n");
				return 2;
			}
			dashboard_port = (unsigned)p;
			dashboard = true;
			break;
		}
		case 'K':
			dashboard_keep = dashboard = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			if (dtf_isolate_is_opt(opt)) {
				if (dtf_isolate_parse_opt(&iso, opt, optarg, err, sizeof(err))) {
					fprintf(stderr, "dtf run: %s\n", err);
					rc = 2;
					goto out;
				}
				break;
			}
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dtf run: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (nworkers > MAX_WORKERS)
		nworkers = MAX_WORKERS;
	if (nworkers < 1)
		nworkers = 1;
	fmts = dtf_json_split(formats, ",");
	json_array_foreach(fmts, fi, fv) {
		if (!cli_report_format_ok(json_string_value(fv))) {
			fprintf(stderr,
				"dtf run: unknown report format '%s' (json, junit, markdown, html, "
				"csv)\n",
				json_string_value(fv));
			rc = 2;
			goto out;
		}
	}

	/* 1. What to run. */
	if (task_file) {
		char *text = NULL;
		size_t len;
		json_t *doc;
		if (dtf_read_file(task_file, 64u << 20, &text, &len) != 0) {
			fprintf(stderr, "dtf run: cannot read %s\n", task_file);
			return 2;
		}
		doc = dtf_json_parse(text, len, err, sizeof(err));
		free(text);
		if (!doc) {
			fprintf(stderr, "dtf run: %s: %s\n", task_file, err);
			return 2;
		}
		json_array_extend(tasks, json_is_array(doc) ? doc : json_object_get(doc, "tasks"));
		json_decref(doc);
	} else {
		if (ndirs == 0)
			dirs[ndirs++] = "tests";
		for (i = 0; i < ndirs; i++) {
			int n = dtf_discover(dirs[i], pattern, tasks, err, sizeof(err));
			if (n < 0) {
				fprintf(stderr, "dtf run: %s\n", err);
				rc = 2;
				goto out;
			}
		}
	}
	snprintf(pyhist, sizeof(pyhist), "%s/pytest-durations.json", state_dir);
	if (!task_file && (pytest || (ndirs == 1 && dtf_pytest_detect(dirs[0]))))
		pytest_chunks = dtf_pytest_group(tasks, nworkers * slots, pyhist);
	if (json_array_size(tasks) == 0) {
		fprintf(stderr, "dtf run: no tests found\n");
		rc = 2;
		goto out;
	}

	/* 2. The embedded coordinator and the local workers. */
	if (dtf_mkdirs(state_dir, 0755) || dtf_mkdirs(outdir, 0755)) {
		fprintf(stderr, "dtf run: cannot create %s or %s\n", state_dir, outdir);
		rc = 2;
		goto out;
	}
	dtf_log_set_level(DTF_LOG_WARN);
	{
		struct dtf_local_opts lo = {.state_dir = state_dir,
					    .workers = nworkers,
					    .slots = slots,
					    .hardware = hardware,
					    .port = dashboard_port};
		if (dtf_local_start(&loc, &lo, err, sizeof(err))) {
			fprintf(stderr, "dtf run: %s\n", err);
			rc = 2;
			goto out;
		}
	}
	if (dtf_http_client_init(&hc, loc.url, NULL) != 0) {
		rc = 2;
		goto out;
	}
	hc_ready = true;
	/* Printed whatever --quiet says: it was asked for. */
	if (dashboard)
		fprintf(stderr, "dtf run: dashboard at %s/\n", loc.url);
	/* Wait for the workers to register so placement reasons are meaningful. */
	dtf_local_wait_workers(&loc, &hc);
	if (!quiet)
		fprintf(stderr, "dtf run: %zu task%s on %d local worker%s (coordinator %s)\n",
			json_array_size(tasks), json_array_size(tasks) == 1 ? "" : "s", nworkers,
			nworkers == 1 ? "" : "s", loc.url);

	/* 3. Submit, wait with progress, report. */
	rc = cli_submit_tasks(&hc, tasks, "dtf run", NULL, run_id, sizeof(run_id), NULL);
	if (rc) {
		fprintf(stderr, "dtf run: %s\n", hc.error);
		rc = 2;
		goto out;
	}
	rc = cli_wait_run(&hc, run_id, timeout, true, quiet, &k, NULL);
	if (pytest_chunks > 0 && dtf_pytest_history_update(&hc, run_id, pyhist) != 0)
		fprintf(stderr, "dtf run: cannot record the pytest durations in %s\n", pyhist);
	/* A chunk's failing tests re-run alone: failed, order-dependent or isolation failures. */
	iso.quiet = quiet;
	if (rc == 0 && pytest_chunks > 0 && k.failed > 0 &&
	    dtf_isolate_run(&hc, run_id, &iso, &reruns) == 0) {
		ro.isolation = reruns;
		ro.isolate_opts = &iso;
	}
	ro.formats = fmts;
	ro.output_dir = outdir;
	ro.coverage_files = coverage;
	ro.quiet = quiet;
	cli_write_reports(&hc, run_id, &ro, &report);
	if (k.failed && report)
		print_failures(report);
	/* The counts of the report just written (test cases, not tasks), so that this line, the
	 * files and the coordinator's /summary agree. */
	tests_ok = cli_print_summary("dtf run", report ? json_object_get(report, "summary") : NULL,
				     &k, (double)(dtf_mono_ms() - start) / 1000.0);
	if (rc == DTF_ETIMEOUT) {
		fprintf(stderr, "dtf run: timed out\n");
		rc = 3;
	} else if (rc) {
		rc = 2;
	} else {
		rc = tests_ok && k.failed == 0 && k.cancelled == k.unschedulable ? 0 : 1;
	}
	/* --allow-order-dependent: order dependence is reported, and does not fail the run. */
	if (rc == 1 && iso.allow && k.cancelled == k.unschedulable &&
	    dtf_isolate_only_order(report))
		rc = 0;
	if (dashboard_keep)
		keep_serving(loc.url);
out:
	dtf_local_stop(&loc, rc == 3);
	if (hc_ready)
		dtf_http_client_release(&hc);
	json_decref(tasks);
	json_decref(fmts);
	json_decref(coverage);
	json_decref(report);
	json_decref(reruns);
	return rc;
}
