/* client.c: `dtf client <action>`: submit-task, wait-completion, export-results, status, cancel,
 * workers. The last submitted run is remembered in .dtf/last-run. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/json.h"
#include "common/util.h"
#include "net/http.h"
#include "report/codequality.h"
#include "report/report.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dtf client <action> [options]\n"
		"actions:\n"
		"  submit-task --file F [--name N]     submit a task file as a new run\n"
		"  wait-completion [--run ID] [--timeout S] [--quiet]\n"
		"      [--unschedulable-timeout S]     wait; a task no registered worker can\n"
		"                                      run is skipped after S s (default 300;\n"
		"                                      0 = wait); exit 0 when every task passed\n"
		"                                      or was skipped, 1 failures, 2 error,\n"
		"                                      3 --timeout\n"
		"  export-results --format F --output FILE [--run ID]\n"
		"                                      F: json, junit, markdown, html, csv or\n"
		"                                      gitlab (Code Quality JSON at FILE and\n"
		"                                      JUnit next to it, FILE with .xml)\n"
		"  status [--run ID | --task ID]       show a run's tasks, or one task\n"
		"  cancel --task ID | --run ID         cancel a task or every unfinished task of a "
		"run\n"
		"  workers                             list workers\n"
		"common options: --coordinator URL (default $DTF_COORDINATOR or\n"
		"  http://localhost:8080), --api-key K (default $DTF_API_KEY)\n"
		"TLS (an https:// coordinator):\n" CLI_TLS_HELP);
}

static int run_or_last(const char *flag, char *out, size_t len)
{
	if (flag) {
		snprintf(out, len, "%s", flag);
		return 0;
	}
	if (cli_load_last_run(out, len) != 0) {
		fprintf(stderr, "dtf client: no --run given and no run submitted from here yet\n");
		return DTF_ENOTFOUND;
	}
	return 0;
}

/* --format gitlab: GitLab's two report formats. The Code Quality report (JSON: the tests that did
 * not pass, at their files) goes to output, unless output names an .xml file; the JUnit report
 * (GitLab's unit test report: every test) always goes next to it, output with .xml for its
 * extension, which is what a job's `reports: junit:` reads. */
static int export_gitlab(struct dtf_http_client *c, const char *run_id, const char *output)
{
	char base[PATH_MAX], cq[PATH_MAX + 8], xml[PATH_MAX + 8], path[256];
	const char *dot = strrchr(output, '.'), *slash = strrchr(output, '/');
	json_t *doc = NULL;
	struct dtf_buf b;
	int rc;

	if (dot && (!slash || dot > slash + 1))
		snprintf(base, sizeof(base), "%.*s", (int)(dot - output), output);
	else
		snprintf(base, sizeof(base), "%s", output);
	snprintf(xml, sizeof(xml), "%s.xml", base);
	if (dot && strcmp(output + strlen(base), ".xml") == 0)
		snprintf(cq, sizeof(cq), "%s.json", base);
	else
		snprintf(cq, sizeof(cq), "%s", output);
	rc = cli_export_run(c, run_id, "junit", xml);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "/api/v1/runs/%s/export?format=json", run_id);
	rc = dtf_http_call(c, "GET", path, NULL, 120000, &doc);
	if (rc || !json_is_object(doc)) {
		fprintf(stderr, "dtf: export failed: %s\n", rc ? c->error : "not a JSON object");
		json_decref(doc);
		return rc ? rc : DTF_EPROTO;
	}
	dtf_buf_init(&b, (size_t)512 << 20);
	rc = dtf_report_codequality(doc, &b);
	if (rc == 0)
		rc = dtf_write_file(cq, b.data ? b.data : "[]\n", b.len);
	if (rc)
		fprintf(stderr, "dtf: cannot write %s: %s\n", cq, dtf_strerror(rc));
	else
		printf("wrote the GitLab reports of run %s: Code Quality to %s, JUnit to %s\n",
		       run_id, cq, xml);
	dtf_buf_release(&b);
	json_decref(doc);
	return rc;
}

int cmd_client(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"coordinator", required_argument, NULL, 'c'},
	    {"coordinator-url", required_argument, NULL, 'c'},
	    {"api-key", required_argument, NULL, 'k'},
	    {"file", required_argument, NULL, 'f'},
	    {"task-file", required_argument, NULL, 'f'},
	    {"name", required_argument, NULL, 'n'},
	    {"run", required_argument, NULL, 'r'},
	    {"task", required_argument, NULL, 't'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"unschedulable-timeout", required_argument, NULL, 'U'},
	    {"format", required_argument, NULL, 'F'},
	    {"output", required_argument, NULL, 'o'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    CLI_TLS_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	const char *coord = NULL, *key = NULL, *file = NULL, *name = NULL, *run = NULL,
		   *task = NULL, *format = "json", *output = NULL, *action;
	double timeout = 0, unsched_timeout = 300;
	bool quiet = false;
	struct cli_tls tls = {0};
	struct dtf_http_client c;
	char run_id[80];
	int opt, rc = 0;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			coord = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'r':
			run = optarg;
			break;
		case 't':
			task = optarg;
			break;
		case 'T':
			if (dtf_parse_seconds(optarg, &timeout)) {
				fprintf(stderr, "dtf client: bad --timeout '%s'\n", optarg);
				return 2;
			}
			break;
		case 'U':
			if (dtf_parse_seconds(optarg, &unsched_timeout) || unsched_timeout < 0) {
				fprintf(stderr, "dtf client: bad --unschedulable-timeout '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'F':
			format = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			if (cli_tls_flag(&tls, opt, optarg))
				break;
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "dtf client: give exactly one action\n");
		usage(stderr);
		return 2;
	}
	action = argv[optind];
	if (cli_tls_apply("dtf client", &tls) != 0 ||
	    cli_client_init("dtf client", &c, cli_coordinator_url(coord), cli_api_key(key)) != 0)
		return 2;
	if (strcmp(action, "submit-task") == 0 || strcmp(action, "submit") == 0) {
		int count = 0;
		if (!file) {
			fprintf(stderr, "dtf client submit-task: --file is required\n");
			rc = 2;
			goto out;
		}
		if (cli_submit_file(&c, file, name, run_id, sizeof(run_id), &count) != 0) {
			rc = 1;
			goto out;
		}
		cli_save_last_run(run_id);
		printf("submitted %d task%s as run %s\n", count, count == 1 ? "" : "s", run_id);
	} else if (strcmp(action, "wait-completion") == 0 || strcmp(action, "wait") == 0) {
		struct run_counts k;
		struct cli_unsched un;
		if (run_or_last(run, run_id, sizeof(run_id))) {
			rc = 2;
			goto out;
		}
		cli_unsched_init(&un, unsched_timeout);
		rc = cli_wait_run(&c, run_id, timeout, false, quiet, &k, &un);
		/* The tasks skipped here, with why (the coordinator keeps the same). */
		cli_unsched_print(&un, stdout);
		cli_unsched_release(&un);
		if (rc == DTF_ETIMEOUT) {
			printf("run %s: timed out after %.0f s: %d/%d tasks done, %d passed, %d "
			       "failed, %d pending, %d running\n",
			       run_id, timeout, k.completed + k.failed + k.cancelled, k.total,
			       k.completed, k.failed, k.pending, k.running);
			rc = 3;
			goto out;
		}
		if (rc) {
			rc = 2;
			goto out;
		}
		{
			/* The run's counts in test cases, as every report gives them. */
			char path[256], prefix[128];
			json_t *s = NULL;
			bool ok;

			snprintf(path, sizeof(path), "/api/v1/runs/%s/summary", run_id);
			if (dtf_http_call(&c, "GET", path, NULL, 20000, &s) != 0) {
				json_decref(s);
				s = NULL;
			}
			snprintf(prefix, sizeof(prefix), "run %s", run_id);
			ok = cli_print_summary(prefix, json_object_get(s, "tests"), &k, -1);
			json_decref(s);
			/* A task no worker could run is skipped, as in dtf run and dtf ci. */
			rc = ok && k.completed + k.unschedulable == k.total ? 0 : 1;
		}
	} else if (strcmp(action, "export-results") == 0 || strcmp(action, "export") == 0) {
		char outbuf[256];
		if (run_or_last(run, run_id, sizeof(run_id))) {
			rc = 2;
			goto out;
		}
		if (strcmp(format, "gitlab") == 0) {
			rc = export_gitlab(&c, run_id, output ? output : "test-results.json") ? 1
											      : 0;
			goto out;
		}
		if (!cli_report_format_ok(format)) {
			fprintf(stderr, "dtf client: --format must be json, junit, markdown (md), "
					"html, csv or gitlab\n");
			rc = 2;
			goto out;
		}
		if (!output) {
			snprintf(outbuf, sizeof(outbuf), "test-results%s",
				 strrchr(dtf_report_file_name(format), '.'));
			output = outbuf;
		}
		rc = cli_export_run(&c, run_id, format, output) ? 1 : 0;
		if (!rc)
			printf("wrote %s report of run %s to %s\n", format, run_id, output);
	} else if (strcmp(action, "status") == 0) {
		json_t *resp = NULL;
		char path[256];
		if (task) {
			snprintf(path, sizeof(path), "/api/v1/tasks/%s", task);
			rc = dtf_http_call(&c, "GET", path, NULL, 10000, &resp);
			if (!rc) {
				json_t *err = json_object_get(resp, "error");
				printf("task %s (%s): %s", task, dtf_json_str(resp, "name", ""),
				       dtf_json_str(resp, "status", "?"));
				if (json_object_get(resp, "pending_reason"))
					printf(" — %s", dtf_json_str(resp, "pending_reason", ""));
				if (err)
					printf(" — %s: %s", dtf_json_str(err, "kind", ""),
					       dtf_json_str(err, "message", ""));
				if (json_object_get(resp, "worker_id"))
					printf(" on %s", dtf_json_str(resp, "worker_id", ""));
				if (json_is_true(json_object_get(resp, "deadline_at_risk")))
					printf(" (deadline at risk)");
				printf("\n");
			}
		} else {
			size_t i;
			json_t *t;
			if (run_or_last(run, run_id, sizeof(run_id))) {
				rc = 2;
				goto out;
			}
			snprintf(path, sizeof(path), "/api/v1/tasks?run_id=%s", run_id);
			rc = dtf_http_call(&c, "GET", path, NULL, 30000, &resp);
			if (!rc) {
				printf("%-20s %-30s %-10s %s\n", "ID", "NAME", "STATUS", "DETAIL");
				json_array_foreach(json_object_get(resp, "tasks"), i, t) {
					json_t *err = json_object_get(t, "error");
					printf("%-20s %-30.30s %-10s %s%s%s\n",
					       dtf_json_str(t, "id", ""),
					       dtf_json_str(t, "name", ""),
					       dtf_json_str(t, "status", ""),
					       dtf_json_str(t, "pending_reason",
							    dtf_json_str(err, "message", "")),
					       json_object_get(t, "worker_id") ? " on " : "",
					       dtf_json_str(t, "worker_id", ""));
				}
			}
		}
		if (rc) {
			fprintf(stderr, "dtf client: %s\n", c.error);
			rc = 1;
		}
		json_decref(resp);
	} else if (strcmp(action, "cancel") == 0) {
		char path[256];
		if (task) {
			snprintf(path, sizeof(path), "/api/v1/tasks/%s", task);
			rc = dtf_http_call(&c, "DELETE", path, NULL, 10000, NULL);
			if (rc) {
				fprintf(stderr, "dtf client: %s\n", c.error);
				rc = 1;
			} else {
				printf("cancelled task %s\n", task);
			}
		} else {
			json_t *resp = NULL, *t;
			size_t i;
			int n = 0;
			if (run_or_last(run, run_id, sizeof(run_id))) {
				rc = 2;
				goto out;
			}
			snprintf(path, sizeof(path), "/api/v1/tasks?run_id=%s", run_id);
			rc = dtf_http_call(&c, "GET", path, NULL, 30000, &resp);
			json_array_foreach(json_object_get(resp, "tasks"), i, t) {
				const char *st = dtf_json_str(t, "status", "");
				if (!strcmp(st, "completed") || !strcmp(st, "failed") ||
				    !strcmp(st, "cancelled"))
					continue;
				snprintf(path, sizeof(path), "/api/v1/tasks/%s",
					 dtf_json_str(t, "id", ""));
				if (dtf_http_call(&c, "DELETE", path, NULL, 10000, NULL) == 0)
					n++;
			}
			json_decref(resp);
			printf("cancelled %d tasks of run %s\n", n, run_id);
			rc = rc ? 1 : 0;
		}
	} else if (strcmp(action, "workers") == 0) {
		json_t *resp = NULL, *w;
		size_t i;
		rc = dtf_http_call(&c, "GET", "/api/v1/workers", NULL, 10000, &resp);
		if (rc) {
			fprintf(stderr, "dtf client: %s\n", c.error);
			rc = 1;
		} else {
			printf("%-20s %-9s %-6s %-24s %-20s %s\n", "ID", "STATUS", "SLOTS",
			       "HARDWARE", "HOST", "LABELS");
			json_array_foreach(json_object_get(resp, "workers"), i, w) {
				char *hw = json_dumps(
				    json_object_get(json_object_get(w, "capabilities"), "hardware"),
				    JSON_COMPACT);
				char labels[512] = "";
				size_t n = 0;
				const char *lk;
				json_t *lv;
				json_object_foreach(json_object_get(w, "labels"), lk, lv) {
					char *val = json_is_string(lv)
							? NULL
							: json_dumps(lv, JSON_ENCODE_ANY);
					if (n < sizeof(labels))
						n += (size_t)snprintf(
						    labels + n, sizeof(labels) - n, "%s%s=%s",
						    n ? "," : "", lk,
						    val ? val : json_string_value(lv));
					free(val);
				}
				printf("%-20s %-9s %-6lld %-24s %-20s %s\n",
				       dtf_json_str(w, "id", ""), dtf_json_str(w, "status", ""),
				       dtf_json_int(w, "slots", 0), hw ? hw : "[]",
				       dtf_json_str(w, "hostname", ""), labels[0] ? labels : "-");
				free(hw);
			}
		}
		json_decref(resp);
	} else {
		fprintf(stderr, "dtf client: unknown action '%s'\n", action);
		usage(stderr);
		rc = 2;
	}
out:
	dtf_http_client_release(&c);
	return rc;
}

int cmd_submit_task(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"coordinator", required_argument, NULL, 'c'},
	    {"coordinator-url", required_argument, NULL, 'c'},
	    {"api-key", required_argument, NULL, 'k'},
	    {"task-file", required_argument, NULL, 'f'},
	    {"file", required_argument, NULL, 'f'},
	    {"name", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    CLI_TLS_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	const char *coord = NULL, *key = NULL, *file = NULL, *name = NULL;
	struct cli_tls tls = {0};
	struct dtf_http_client c;
	char run_id[80];
	int opt, count = 0, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			coord = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'h':
			printf("usage: dtf submit-task --coordinator-url URL --task-file F [--name "
			       "N]\n"
			       "  [--api-key K]\n" CLI_TLS_HELP);
			return 0;
		default:
			if (cli_tls_flag(&tls, opt, optarg))
				break;
			return 2;
		}
	}
	if (!file) {
		fprintf(stderr, "dtf submit-task: --task-file is required\n");
		return 2;
	}
	if (cli_tls_apply("dtf submit-task", &tls) != 0 ||
	    cli_client_init("dtf submit-task", &c, cli_coordinator_url(coord), cli_api_key(key)) !=
		0)
		return 2;
	rc = cli_submit_file(&c, file, name, run_id, sizeof(run_id), &count);
	if (!rc) {
		cli_save_last_run(run_id);
		printf("submitted %d task%s as run %s\n", count, count == 1 ? "" : "s", run_id);
	}
	dtf_http_client_release(&c);
	return rc ? 1 : 0;
}
