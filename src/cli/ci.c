/* ci.c: `dtf ci`, the seeds' cicd_integration: discovers the tests of a directory and what
 * they need, runs them on a coordinator (or, with --embedded, on local workers), follows the
 * run while reporting progress to the CI provider, then writes every report format and the
 * badges, collects and uploads artifacts, comments on the pull request and sets the build
 * status. Exit 0 when every test passed, 1 on test failures, 2 on usage or infrastructure
 * errors, 3 on timeout. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ci/analyze.h"
#include "ci/isolate.h"
#include "ci/provider.h"
#include "cli/cli.h"
#include "cli/local.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/testcount.h"
#include "common/util.h"
#include "common/yaml.h"
#include "coordinator/coordinator.h"
#include "net/http.h"
#include "report/report.h"

#define MAX_WORKERS	   DTF_LOCAL_MAX_WORKERS
#define MAX_GLOBS	   64
#define MAX_ARTIFACTS	   1000
#define MAX_ARTIFACT_BYTES ((size_t)100 << 20)
#define ALL_FORMATS	   "json,junit,markdown,html,csv"

struct ci_opts {
	const char *provider, *coordinator, *api_key, *test_dir, *pattern, *output_dir;
	const char *badges_dir, *history_dir, *state_dir, *api_url;
	const char *pushgateway; /* --pushgateway: where the run's metrics go at the end */
	const char *config;	 /* --config: the embedded coordinator's YAML file */
	const char *write_tasks; /* --write-tasks: the discovered tasks as a task file */
	json_t *test_files, *formats;
	const char *artifacts[MAX_GLOBS];
	int nartifacts;
	double timeout, poll, unsched_timeout;
	int workers;
	bool verbose, dry_run, embedded, quiet;
	struct dtf_isolate_opts iso; /* re-running a pytest chunk's failing tests alone */
	struct cli_tls tls;	     /* --ca-cert, --insecure, ... towards --coordinator */
};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: dtf ci [options]\n"
	    "  --provider P           github, gitlab, jenkins, azure, circleci, travis, teamcity,\n"
	    "                         bitbucket, local (generic) or auto (default: auto)\n"
	    "  --coordinator URL      the coordinator (default $DTF_COORDINATOR or "
	    "localhost:8080)\n"
	    "  --api-key K            the coordinator's API key (default "
	    "$DTF_API_KEY)\n" CLI_TLS_HELP
	    "  --embedded             no coordinator: run on local workers, like dtf run\n"
	    "  --workers N            local workers with --embedded (default: cores)\n"
	    "  --test-dir D           directory of tests (default ./tests)\n"
	    "  --test-pattern G       file name pattern (default test_*.py)\n"
	    "  --test-files A,B       explicit test files instead of discovery\n"
	    "  --output-dir D         reports, badges and artifacts (default test-results)\n"
	    "  --report-formats L     json,junit,markdown,html,csv (default all; md = markdown)\n"
	    "  --badges-dir D         write shields.io badge JSON files there\n"
	    "  --history-dir D        keep each branch's last run there and compare with it\n"
	    "  --artifacts GLOB       also collect these files (repeatable)\n"
	    "  --api-url URL          the CI provider's API base URL (default: the real one)\n"
	    "  --config F             with --embedded: a coordinator YAML file (integrations,\n"
	    "                         notifications, plugins, scheduler; docs/notifications.md)\n"
	    "  --pushgateway URL      push the run's metrics to a Prometheus Pushgateway at the\n"
	    "                         end (default $DTF_PUSHGATEWAY_URL; docs/integrations.md)\n"
	    "  --timeout S            give up after S seconds (exit 3; default 3600)\n"
	    "  --poll-interval S      ask for progress and tell the provider every S s (default "
	    "5)\n"
	    "  --unschedulable-timeout S  on a coordinator, skip a test no registered worker can\n"
	    "                         run once it has been so for S s (default 300; 0 = wait)\n"
	    "  --state-dir D          embedded coordinator state (default .dtf)\n"
	    "  --dry-run              print the tasks, their runners and inferred requirements;\n"
	    "                         submit nothing\n"
	    "  --write-tasks F        write the discovered tasks to F as a task file (for `dtf\n"
	    "                         client submit-task --file F`)\n"
	    "  --verbose              show inferred requirements and what the CI reports\n"
	    "  --quiet                no progress display\n" DTF_ISOLATE_USAGE
	    "exit: 0 all passed, 1 test failures, 2 usage or infrastructure error, 3 timeout\n");
}

static bool known_format(const char *f)
{
	return dtf_report_file_name(f) != NULL;
}

static int add_formats(json_t *formats, const char *list)
{
	json_t *parts = dtf_json_split(list, ", "), *v;
	size_t i;

	json_array_foreach(parts, i, v) {
		const char *f = json_string_value(v);
		if (!known_format(f)) {
			fprintf(stderr, "dtf ci: unknown report format '%s' (%s)\n", f,
				ALL_FORMATS);
			json_decref(parts);
			return DTF_EINVAL;
		}
		json_array_append_new(formats, json_string(strcmp(f, "md") == 0	   ? "markdown"
							   : strcmp(f, "xml") == 0 ? "junit"
										   : f));
	}
	json_decref(parts);
	return 0;
}

/* ---- helpers ---- */

static void warn_provider(struct ci_provider *p, const char *what, int rc)
{
	fprintf(stderr, "dtf ci: warning: %s: %s\n", what,
		p->error[0] ? p->error : dtf_strerror(rc));
}

/* What a task's params.runner means, for --dry-run. */
static const char *runner_text(const char *runner)
{
	if (strcmp(runner, "pytest") == 0)
		return "pytest (an infrastructure error on a worker whose python3 cannot import "
		       "it)";
	if (strcmp(runner, "unittest") == 0)
		return "unittest-only file: pytest, or unittest where pytest is missing";
	if (strcmp(runner, "python") == 0)
		return "python3 FILE (a plain script: no test functions, classes or test "
		       "framework)";
	return runner;
}

static void print_task(const json_t *t, bool dry)
{
	const json_t *inf = json_object_get(json_object_get(t, "params"), "inferred");
	const json_t *hw = json_object_get(t, "hardware");
	char *hws = hw ? dtf_json_dumps(hw) : NULL, *ev = NULL;

	ev = dtf_json_dumps(json_object_get(inf, "evidence"));
	printf("%s%s\n", dry ? "" : "test ", dtf_json_str(t, "name", "?"));
	if (json_object_get(t, "shell"))
		printf("    shell:     %s\n", dtf_json_str(t, "shell", ""));
	if (json_object_get(t, "command")) {
		char *c = dtf_json_dumps(json_object_get(t, "command"));
		printf("    command:   %s\n", c ? c : "");
		free(c);
	}
	if (json_is_string(json_object_get(json_object_get(t, "params"), "runner")))
		printf("    runner:    %s\n",
		       runner_text(dtf_json_str(json_object_get(t, "params"), "runner", "")));
	printf("    hardware:  %s (%s)\n", hws ? hws : "any",
	       dtf_json_str(json_object_get(t, "params"), "hardware_source", "dtf: header"));
	if (json_object_get(json_object_get(t, "requirements"), "memory"))
		printf("    memory:    %.0f MiB\n",
		       dtf_json_num(json_object_get(t, "requirements"), "memory", 0));
	if (json_object_get(json_object_get(t, "params"), "browser"))
		printf("    browser:   %s\n",
		       dtf_json_str(json_object_get(t, "params"), "browser", ""));
	printf("    priority:  %lld\n", dtf_json_int(t, "priority", 5));
	if (json_object_get(t, "timeout_s"))
		printf("    timeout:   %.0f s\n", dtf_json_num(t, "timeout_s", 0));
	if (ev && inf)
		printf("    evidence:  %s\n", ev);
	free(hws);
	free(ev);
}

/* Copies src to dst (at most MAX_ARTIFACT_BYTES). */
static int copy_file(const char *src, const char *dst)
{
	char *data = NULL;
	size_t len;
	int rc = dtf_read_file(src, MAX_ARTIFACT_BYTES, &data, &len);

	if (rc == 0)
		rc = dtf_write_file(dst, data, len);
	free(data);
	return rc;
}

/* A path component made of safe characters. */
static void safe_name(const char *s, char *out, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len; i++)
		out[i] = (isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '-' || s[i] == '_')
			     ? s[i]
			     : '_';
	out[i] = '\0';
	if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0 || !out[0])
		snprintf(out, len, "_");
}

/* Globs pattern (relative to base when not absolute) and copies regular files into
 * dest_dir, listing each in list as {"path", "source", "task"}. */
static void collect_glob(const char *base, const char *pattern, const char *dest_dir,
			 const char *task, json_t *list)
{
	char pat[PATH_MAX * 2];
	glob_t g;
	size_t i;

	if (pattern[0] == '/' || !base)
		snprintf(pat, sizeof(pat), "%s", pattern);
	else
		snprintf(pat, sizeof(pat), "%s/%s", base, pattern);
	if (glob(pat, 0, NULL, &g) != 0)
		return;
	for (i = 0; i < g.gl_pathc && json_array_size(list) < MAX_ARTIFACTS; i++) {
		struct stat st;
		const char *src = g.gl_pathv[i];
		const char *b = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
		char dst[PATH_MAX * 2], name[256];
		if (stat(src, &st) != 0 || !S_ISREG(st.st_mode) ||
		    (size_t)st.st_size > MAX_ARTIFACT_BYTES)
			continue;
		safe_name(b, name, sizeof(name));
		dtf_mkdirs(dest_dir, 0755);
		snprintf(dst, sizeof(dst), "%s/%s", dest_dir, name);
		if (copy_file(src, dst) != 0)
			continue;
		json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:I}", "path", dst, "source",
						      src, "task", task ? task : "", "bytes",
						      (json_int_t)st.st_size));
	}
	globfree(&g);
}

/* Artifacts: each task's `artifacts` globs in its kept work directory (embedded mode) and the
 * run's --artifacts globs, copied under <output>/artifacts/. */
static json_t *collect_artifacts(const struct ci_opts *o, const json_t *doc)
{
	json_t *list = json_array(), *t, *g;
	char dir[PATH_MAX];
	size_t i, j;

	if (o->embedded) {
		json_array_foreach(json_object_get(doc, "tasks"), i, t) {
			char pat[PATH_MAX], tname[128];
			glob_t wd;
			size_t k;
			const json_t *globs = json_object_get(t, "artifacts");
			if (!json_array_size(globs))
				continue;
			safe_name(dtf_json_str(t, "name", "task"), tname, sizeof(tname));
			snprintf(dir, sizeof(dir), "%s/artifacts/%s", o->output_dir, tname);
			/* The last attempt's work directory, on whichever local worker ran it. */
			snprintf(pat, sizeof(pat), "%s/work/*/%s-*", o->state_dir,
				 dtf_json_str(t, "id", "none"));
			if (glob(pat, 0, NULL, &wd) != 0)
				continue;
			for (k = wd.gl_pathc; k-- > 0;) {
				size_t before = json_array_size(list);
				json_array_foreach(globs, j, g) {
					const char *pat_s = json_string_value(g);
					/* A task's artifacts are inside its own work directory. */
					if (!pat_s || pat_s[0] == '/' || strstr(pat_s, ".."))
						continue;
					collect_glob(wd.gl_pathv[k], pat_s, dir,
						     dtf_json_str(t, "name", ""), list);
				}
				if (json_array_size(list) > before)
					break;
			}
			globfree(&wd);
		}
	}
	snprintf(dir, sizeof(dir), "%s/artifacts", o->output_dir);
	for (i = 0; i < (size_t)o->nartifacts; i++)
		collect_glob(NULL, o->artifacts[i], dir, NULL, list);
	return list;
}

/* Coverage files among the artifacts (lcov tracefiles, Cobertura XML) for the reports. */
static json_t *coverage_files(const json_t *artifacts)
{
	json_t *files = json_array(), *a;
	size_t i;

	json_array_foreach(artifacts, i, a) {
		const char *p = dtf_json_str(a, "path", "");
		const char *b = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
		size_t n = strlen(b);
		if ((n > 5 && strcmp(b + n - 5, ".info") == 0) || strstr(b, "lcov") ||
		    strstr(b, "cobertura") || strcmp(b, "coverage.xml") == 0)
			json_array_append_new(files, json_string(p));
	}
	return files;
}

/* A Markdown summary for when the report module cannot render one. */
/* --allow-order-dependent: true when the run's only failures are order-dependent tests and
 * isolation failures (dtf_isolate_only_order) and, with those allowed, its counts pass: nothing
 * else failed, was cancelled or is unfinished (as dtf run's exit status asks). */
static bool order_only_failures(const json_t *doc)
{
	struct dtf_testcount c;

	dtf_testcount_from_json(&c, json_object_get(doc, "summary"));
	return dtf_isolate_only_order(doc) && strcmp(dtf_testcount_state(&c, true), "success") == 0;
}

static char *fallback_markdown(const json_t *doc)
{
	const json_t *s = json_object_get(doc, "summary"), *t;
	struct dtf_buf b;
	char line[256];
	size_t i;

	dtf_buf_init(&b, (size_t)1 << 20);
	ci_summary_line(s, line, sizeof(line));
	dtf_buf_printf(&b, "# Test Run Report: %s\n\n**Status:** %s\n\n%s\n",
		       dtf_json_str(json_object_get(doc, "run"), "id", "?"),
		       strcmp(ci_summary_state(s), "success") == 0 ? "SUCCESS" : "FAILURE", line);
	json_array_foreach(json_object_get(doc, "tasks"), i, t) {
		char m[256];
		const char *o = ci_task_outcome(t);
		if (strcmp(o, "failed") != 0 && strcmp(o, "cancelled") != 0)
			continue;
		ci_task_message(t, m, sizeof(m));
		dtf_buf_printf(&b, "- `%s`: %s\n", dtf_json_str(t, "name", "?"), m);
	}
	return dtf_buf_detach(&b, NULL);
}

/* The file under history_dir that holds a branch's last prepared run. */
static void history_path(const char *dir, const char *branch, char *out, size_t len)
{
	char name[256];

	safe_name(branch && *branch ? branch : "default", name, sizeof(name));
	snprintf(out, len, "%s/%s.json", dir, name);
}

static json_t *load_json(const char *path)
{
	char *text = NULL, err[160];
	size_t len;
	json_t *doc = NULL;

	if (dtf_read_file(path, (size_t)256 << 20, &text, &len) == 0)
		doc = dtf_json_parse(text, len, err, sizeof(err));
	free(text);
	return doc;
}

static int write_json(const char *path, const json_t *doc)
{
	struct dtf_buf b;
	int rc;

	dtf_buf_init(&b, (size_t)256 << 20);
	rc = dtf_json_dump(doc, &b);
	if (rc == 0)
		rc = dtf_write_file(path, b.data ? b.data : "", b.len);
	dtf_buf_release(&b);
	return rc;
}

/* GETs /api/v1/runs/<run_id><what> from the coordinator: the JSON reply, or NULL. */
static json_t *fetch_run(struct dtf_http_client *hc, const char *run_id, const char *what,
			 long timeout_ms)
{
	char path[256];
	json_t *doc = NULL;

	snprintf(path, sizeof(path), "/api/v1/runs/%s%s", run_id, what);
	if (dtf_http_call(hc, "GET", path, NULL, timeout_ms, &doc) != 0) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

/* The run's task views (for real-time providers). */
static json_t *fetch_doc(struct dtf_http_client *hc, const char *run_id)
{
	return fetch_run(hc, run_id, "/export?format=json", 120000);
}

static json_t *fetch_summary(struct dtf_http_client *hc, const char *run_id)
{
	json_t *s = fetch_run(hc, run_id, "/summary", 10000), *t;

	if (!s)
		return NULL;
	/* The run's test counts so far, in the shape of the report's summary: the providers count
	 * test cases, as the reports do, not tasks. */
	t = json_object_get(s, "tests");
	t = json_is_object(t) ? json_incref(t) : NULL;
	if (t) {
		json_object_del(s, "tests"); /* s goes under t: no cycle */
		json_object_set(t, "tasks", s);
	}
	json_decref(s);
	return t;
}

/* Cancels what is left of a run that timed out (coordinator mode). */
static void cancel_rest(struct dtf_http_client *hc, const json_t *doc)
{
	const json_t *t;
	size_t i;

	json_array_foreach(json_object_get(doc, "tasks"), i, t) {
		const char *st = dtf_json_str(t, "status", "");
		char path[256];
		if (strcmp(st, "pending") && strcmp(st, "assigned") && strcmp(st, "running"))
			continue;
		snprintf(path, sizeof(path), "/api/v1/tasks/%s", dtf_json_str(t, "id", ""));
		dtf_http_call(hc, "DELETE", path, NULL, 10000, NULL);
	}
}

static void sleep_s(double s)
{
	struct timespec ts;

	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

/* What remote_wait last printed. */
struct remote_seen {
	int done;
	long long blocked;
};

/* Follows a run on a remote coordinator: one summary request that the coordinator holds until
 * the run is done or slice seconds have passed, so the coordinator is asked about once per
 * --poll-interval and the end is seen at once. Returns 0 when the run is done, DTF_ETIMEOUT when
 * it is not yet, or another DTF_E* code. */
static int remote_wait(struct dtf_http_client *hc, const char *run_id, double slice, bool quiet,
		       struct run_counts *k, struct remote_seen *seen, struct cli_unsched *un)
{
	bool held = seen->done >= 0;
	int64_t asked = dtf_mono_ms();
	char path[256];
	json_t *s = NULL, *e;
	int rc, done;
	size_t i;

	/* The coordinator holds a summary request at most 60 s; the first look is not held, so a
	 * test no worker can run is seen (and timed) at once. */
	snprintf(path, sizeof(path), "/api/v1/runs/%s/summary?wait_s=%.2f", run_id,
		 held ? (slice < 60 ? slice : 60) : 0);
	rc = dtf_http_call(hc, "GET", path, NULL, (long)(slice * 1000) + 10000, &s);
	if (rc == DTF_ENET || rc == DTF_ETIMEOUT) {
		/* The coordinator may be restarting: keep waiting. */
		sleep_s(slice);
		return DTF_ETIMEOUT;
	}
	if (rc) {
		json_decref(s);
		return rc;
	}
	cli_read_counts(s, k);
	if (cli_unsched_check(un, hc, run_id, s, quiet) > 0) {
		/* Skipped tasks may have ended the run: ask again at once. */
		json_decref(s);
		return DTF_ETIMEOUT;
	}
	done = k->completed + k->failed + k->cancelled;
	if (!quiet && done != seen->done)
		fprintf(stderr,
			"progress: %d/%d tasks done, %d passed, %d failed, %d cancelled, %d "
			"running, %d pending\n",
			done, k->total, k->completed, k->failed, k->cancelled, k->running,
			k->pending);
	seen->done = done;
	if (!quiet && dtf_json_int(s, "blocked_count", 0) != seen->blocked) {
		seen->blocked = dtf_json_int(s, "blocked_count", 0);
		json_array_foreach(json_object_get(s, "blocked"), i, e)
			fprintf(stderr, "waiting: %s: %s\n", dtf_json_str(e, "name", ""),
				dtf_json_str(e, "reason", ""));
	}
	rc = dtf_json_bool(s, "done", false) ? 0 : DTF_ETIMEOUT;
	json_decref(s);
	/* A coordinator that answered before slice without being done did not hold the request. */
	if (rc && held && (double)(dtf_mono_ms() - asked) < slice * 500)
		sleep_s(slice - (double)(dtf_mono_ms() - asked) / 1000.0);
	return rc;
}

static int parse_opts(int argc, char **argv, struct ci_opts *o)
{
	static const struct option opts[] = {
	    {"provider", required_argument, NULL, 'P'},
	    {"coordinator", required_argument, NULL, 'c'},
	    {"api-key", required_argument, NULL, 'k'},
	    {"test-dir", required_argument, NULL, 'd'},
	    {"test-pattern", required_argument, NULL, 'p'},
	    {"test-files", required_argument, NULL, 'f'},
	    {"output-dir", required_argument, NULL, 'o'},
	    {"report-formats", required_argument, NULL, 'r'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"poll-interval", required_argument, NULL, 'i'},
	    {"unschedulable-timeout", required_argument, NULL, 'U'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"write-tasks", required_argument, NULL, 'W'},
	    {"embedded", no_argument, NULL, 'e'},
	    {"workers", required_argument, NULL, 'w'},
	    {"badges-dir", required_argument, NULL, 'b'},
	    {"history-dir", required_argument, NULL, 'H'},
	    {"artifacts", required_argument, NULL, 'a'},
	    {"api-url", required_argument, NULL, 'u'},
	    {"pushgateway", required_argument, NULL, 'G'},
	    {"config", required_argument, NULL, 'X'},
	    {"state-dir", required_argument, NULL, 'S'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    DTF_ISOLATE_LONG_OPTIONS,
	    CLI_TLS_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	bool formats_given = false;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		switch (opt) {
		case 'P':
			o->provider = optarg;
			break;
		case 'c':
			o->coordinator = optarg;
			break;
		case 'k':
			o->api_key = optarg;
			break;
		case 'd':
			o->test_dir = optarg;
			break;
		case 'p':
			o->pattern = optarg;
			break;
		case 'f': {
			json_t *parts = dtf_json_split(optarg, ",");
			json_array_extend(o->test_files, parts);
			json_decref(parts);
			break;
		}
		case 'o':
			o->output_dir = optarg;
			break;
		case 'r':
			formats_given = true;
			if (add_formats(o->formats, optarg))
				return 2;
			break;
		case 'T':
			if (dtf_parse_seconds(optarg, &o->timeout) || o->timeout <= 0) {
				fprintf(stderr, "dtf ci: bad --timeout '%s'\n", optarg);
				return 2;
			}
			break;
		case 'i':
			if (dtf_parse_seconds(optarg, &o->poll) || o->poll <= 0 || o->poll > 3600) {
				fprintf(stderr, "dtf ci: bad --poll-interval '%s'\n", optarg);
				return 2;
			}
			break;
		case 'U':
			if (dtf_parse_seconds(optarg, &o->unsched_timeout) ||
			    o->unsched_timeout < 0) {
				fprintf(stderr, "dtf ci: bad --unschedulable-timeout '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'n':
			o->dry_run = true;
			break;
		case 'W':
			o->write_tasks = optarg;
			break;
		case 'e':
			o->embedded = true;
			break;
		case 'w':
			o->workers = atoi(optarg);
			if (o->workers < 1 || o->workers > MAX_WORKERS) {
				fprintf(stderr, "dtf ci: --workers must be 1..%d\n", MAX_WORKERS);
				return 2;
			}
			break;
		case 'b':
			o->badges_dir = optarg;
			break;
		case 'H':
			o->history_dir = optarg;
			break;
		case 'G':
			o->pushgateway = optarg;
			break;
		case 'X':
			o->config = optarg;
			break;
		case 'a':
			if (o->nartifacts >= MAX_GLOBS) {
				fprintf(stderr, "dtf ci: at most %d --artifacts\n", MAX_GLOBS);
				return 2;
			}
			o->artifacts[o->nartifacts++] = optarg;
			break;
		case 'u':
			o->api_url = optarg;
			break;
		case 'S':
			o->state_dir = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			if (dtf_isolate_is_opt(opt)) {
				char err[128];
				if (dtf_isolate_parse_opt(&o->iso, opt, optarg, err, sizeof(err))) {
					fprintf(stderr, "dtf ci: %s\n", err);
					return 2;
				}
				break;
			}
			if (cli_tls_flag(&o->tls, opt, optarg))
				break;
			usage(stderr);
			return 2;
		}
	}
	/* The seeds write `--report-formats json md html`: the extra words are formats too. */
	for (; optind < argc; optind++) {
		if (!formats_given || !known_format(argv[optind])) {
			fprintf(stderr, "dtf ci: unexpected argument '%s'\n", argv[optind]);
			return 2;
		}
		if (add_formats(o->formats, argv[optind]))
			return 2;
	}
	if (json_array_size(o->formats) == 0 && add_formats(o->formats, ALL_FORMATS))
		return 2;
	return -1;
}

int cmd_ci(int argc, char **argv)
{
	struct ci_opts o = {0};
	struct ci_ctx ctx = {0};
	const struct ci_provider_ops *ops = NULL;
	struct ci_provider *prov = NULL;
	struct dtf_local loc = {0};
	struct dtf_http_client hc;
	bool hc_ready = false, timed_out = false, infra = false;
	json_t *tasks = json_array(), *doc = NULL, *previous = NULL, *artifacts = NULL, *fv;
	json_t *reruns = NULL, *config_doc = NULL;
	char err[512], run_id[80] = "", line[256];
	char *markdown = NULL, *junit = NULL;
	size_t junit_len = 0;
	struct run_counts k = {0};
	struct cli_unsched un = {0};
	int64_t start = dtf_mono_ms();
	size_t i;
	int rc;

	o.provider = "auto";
	o.output_dir = "test-results";
	o.state_dir = ".dtf";
	o.test_dir = "tests";
	o.timeout = 3600;
	o.poll = 5;
	o.unsched_timeout = 300;
	o.workers = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (o.workers < 1)
		o.workers = 1;
	if (o.workers > MAX_WORKERS)
		o.workers = MAX_WORKERS;
	o.test_files = json_array();
	dtf_isolate_opts_init(&o.iso);
	o.formats = json_array();
	rc = parse_opts(argc, argv, &o);
	if (rc >= 0)
		goto out;
	rc = 0;
	cli_unsched_init(&un, o.unsched_timeout);

	/* 1. The provider. */
	if (strcmp(o.provider, "auto") == 0) {
		ops = ci_provider_detect();
		if (!ops)
			ops = ci_provider_find("local");
	} else {
		ops = ci_provider_find(o.provider);
	}
	if (!ops) {
		fprintf(stderr, "dtf ci: unknown provider '%s' (%s)\n", o.provider,
			ci_provider_names());
		rc = 2;
		goto out;
	}
	if (o.api_url)
		snprintf(ctx.api_url, sizeof(ctx.api_url), "%s", o.api_url);
	snprintf(ctx.output_dir, sizeof(ctx.output_dir), "%s", o.output_dir);
	ctx.verbose = o.verbose;

	/* 2. Discovery and requirement analysis. */
	rc = dtf_ci_discover(o.test_dir, o.pattern,
			     json_array_size(o.test_files) ? o.test_files : NULL, tasks, err,
			     sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "dtf ci: %s\n", err);
		rc = 2;
		goto out;
	}
	rc = 0;
	if (json_array_size(tasks) == 0) {
		fprintf(stderr, "dtf ci: no tests found in %s (pattern %s)\n", o.test_dir,
			o.pattern ? o.pattern : "test_*.py");
		rc = 2;
		goto out;
	}
	if (o.dry_run || o.verbose) {
		json_t *t;
		printf("dtf ci: provider %s; %zu test file%s\n", ops->name, json_array_size(tasks),
		       json_array_size(tasks) == 1 ? "" : "s");
		json_array_foreach(tasks, i, t)
			print_task(t, o.dry_run);
		fflush(stdout);
	}
	if (o.write_tasks) {
		json_t *file = json_pack("{s:O}", "tasks", tasks);
		if (!file || json_dump_file(file, o.write_tasks, JSON_INDENT(1)) != 0) {
			fprintf(stderr, "dtf ci: cannot write %s\n", o.write_tasks);
			json_decref(file);
			rc = 2;
			goto out;
		}
		json_decref(file);
	}
	if (o.dry_run)
		goto out;

	prov = ci_provider_new(ops, &ctx);
	if (!prov) {
		rc = 2;
		goto out;
	}
	rc = ops->initialize(prov);
	if (rc) {
		fprintf(stderr, "dtf ci: %s\n", prov->error[0] ? prov->error : dtf_strerror(rc));
		rc = 2;
		goto out;
	}
	if (o.verbose)
		fprintf(stderr, "dtf ci: %s: repo '%s' commit '%s' branch '%s' pr '%s' build %s\n",
			ops->name, prov->ctx.repo, prov->ctx.sha, prov->ctx.branch, prov->ctx.pr,
			prov->ctx.build_url[0] ? prov->ctx.build_url : prov->ctx.build_id);
	if (dtf_mkdirs(o.output_dir, 0755)) {
		fprintf(stderr, "dtf ci: cannot create %s\n", o.output_dir);
		rc = 2;
		goto out;
	}

	/* 3. Where the tests run. */
	if (o.embedded) {
		if (!o.verbose)
			dtf_log_set_level(DTF_LOG_WARN);
		struct dtf_local_opts lo = {.state_dir = o.state_dir,
					    .workers = o.workers,
					    /* passed tasks' directories stay for artifacts */
					    .keep_work_dirs = true,
					    .config_path = o.config};
		if (o.config) {
			config_doc = dtf_yaml_load(o.config, err, sizeof(err));
			if (!config_doc) {
				fprintf(stderr, "dtf ci: %s\n", err);
				rc = 2;
				goto out;
			}
			lo.config_doc = config_doc;
		}
		if (dtf_local_start(&loc, &lo, err, sizeof(err))) {
			fprintf(stderr, "dtf ci: %s\n", err);
			rc = 2;
			goto out;
		}
	}
	if ((!o.embedded && cli_tls_apply("dtf ci", &o.tls) != 0) ||
	    cli_client_init("dtf ci", &hc,
			    o.embedded ? loc.url : cli_coordinator_url(o.coordinator),
			    o.embedded ? NULL : cli_api_key(o.api_key)) != 0) {
		rc = 2;
		goto out;
	}
	hc_ready = true;
	if (o.embedded)
		dtf_local_wait_workers(&loc, &hc);

	/* 4. Submit the run with the CI's metadata. */
	{
		json_t *meta = json_pack("{s:s,s:s,s:s,s:s,s:s}", "provider", ops->name, "commit",
					 prov->ctx.sha, "branch", prov->ctx.branch, "pr",
					 prov->ctx.pr, "build_url", prov->ctx.build_url);
		rc = cli_submit_tasks(&hc, tasks, "dtf ci", meta, run_id, sizeof(run_id), NULL);
		json_decref(meta);
		if (rc) {
			fprintf(stderr, "dtf ci: submitting the tests: %s\n", hc.error);
			rc = 2;
			goto out;
		}
		if (!o.quiet)
			fprintf(stderr, "dtf ci: run %s: %zu task%s on %s\n", run_id,
				json_array_size(tasks), json_array_size(tasks) == 1 ? "" : "s",
				o.embedded ? "local workers" : hc.base);
	}
	if (ops->create_test_run) {
		json_t *info = json_pack("{s:s,s:I}", "name", prov->ctx.run_name, "total",
					 (json_int_t)json_array_size(tasks));
		rc = ops->create_test_run(prov, info);
		json_decref(info);
		if (rc) {
			warn_provider(prov, "create_test_run", rc);
			infra = true;
		}
	}

	/* 5. Follow the run; progress goes to the provider every poll interval. */
	{
		int last_done = -1;
		struct remote_seen seen = {-1, -1};
		for (;;) {
			double left = o.timeout - (double)(dtf_mono_ms() - start) / 1000.0;
			double slice = o.poll < left ? o.poll : left;
			if (left <= 0) {
				timed_out = true;
				break;
			}
			/* Providers that report each test as it happens hear at least every second.
			 */
			if (ops->wants_tasks && slice > 1)
				slice = 1;
			/* Wake up when a test no worker can run is due to be skipped. */
			if (!o.embedded && cli_unsched_next_s(&un) >= 0 &&
			    cli_unsched_next_s(&un) + 0.05 < slice)
				slice = cli_unsched_next_s(&un) + 0.05;
			if (slice < 0.05)
				slice = 0.05;
			rc = o.embedded ? cli_wait_run(&hc, run_id, slice, true, o.quiet, &k, NULL)
					: remote_wait(&hc, run_id, slice, o.quiet, &k, &seen, &un);
			if (rc == 0)
				break;
			if (rc != DTF_ETIMEOUT) {
				fprintf(stderr, "dtf ci: following the run: %s\n", hc.error);
				infra = true;
				break;
			}
			if (ops->update_test_run &&
			    (ops->wants_tasks ||
			     k.completed + k.failed + k.cancelled != last_done)) {
				json_t *s = fetch_summary(&hc, run_id);
				json_t *u = json_pack("{s:s,s:o}", "status", "in_progress",
						      "summary", s ? s : json_object());
				json_t *d = ops->wants_tasks ? fetch_doc(&hc, run_id) : NULL;
				if (d)
					json_object_set(u, "tasks", json_object_get(d, "tasks"));
				if (ops->update_test_run(prov, u))
					warn_provider(prov, "update_test_run", -1);
				last_done = k.completed + k.failed + k.cancelled;
				json_decref(d);
				json_decref(u);
			}
		}
		rc = 0;
	}

	/* A pytest chunk's failing tests re-run alone: failed, order-dependent or isolation
	 * failures (ci/isolate.h). */
	o.iso.quiet = o.quiet;
	if (!timed_out && !infra && k.failed > 0 &&
	    dtf_isolate_run(&hc, run_id, &o.iso, &reruns) != 0) {
		json_decref(reruns);
		reruns = NULL;
	}

	/* 6. The results, as one prepared document. */
	doc = fetch_doc(&hc, run_id);
	if (!doc) {
		fprintf(stderr, "dtf ci: fetching the results: %s\n", hc.error);
		rc = 2;
		goto out;
	}
	if (reruns)
		dtf_isolate_apply(doc, reruns, &o.iso);
	if (timed_out && !o.embedded)
		cancel_rest(&hc, doc);
	artifacts = collect_artifacts(&o, doc);
	json_object_set_new(doc, "coverage_files", coverage_files(artifacts));
	json_object_set_new(doc, "ci",
			    json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "provider", ops->name, "branch",
				      prov->ctx.branch, "commit", prov->ctx.sha, "pr", prov->ctx.pr,
				      "build_url", prov->ctx.build_url, "repository",
				      prov->ctx.repo));
	if (o.history_dir) {
		char hp[PATH_MAX];
		history_path(o.history_dir, prov->ctx.branch, hp, sizeof(hp));
		previous = load_json(hp);
		if (o.verbose)
			fprintf(stderr, "dtf ci: previous run for comparison: %s\n",
				previous ? hp : "none");
	}
	if (dtf_report_prepare(doc, previous, err, sizeof(err)) != 0) {
		fprintf(stderr, "dtf ci: preparing the report: %s\n", err);
		infra = true;
	}

	/* 7. The report files and badges. */
	json_array_foreach(o.formats, i, fv) {
		const char *f = json_string_value(fv);
		char path[PATH_MAX];
		struct dtf_buf b;
		int r;
		dtf_buf_init(&b, (size_t)512 << 20);
		r = dtf_report_render(f, doc, &b);
		snprintf(path, sizeof(path), "%s/%s", o.output_dir, dtf_report_file_name(f));
		if (r == 0)
			r = dtf_write_file(path, b.data ? b.data : "", b.len);
		if (r) {
			fprintf(stderr, "dtf ci: cannot write the %s report: %s\n", f,
				dtf_strerror(r));
			infra = true;
		} else if (!o.quiet) {
			fprintf(stderr, "wrote %s\n", path);
		}
		if (r == 0 && strcmp(f, "markdown") == 0)
			markdown = dtf_buf_detach(&b, NULL);
		else if (r == 0 && strcmp(f, "junit") == 0 && !junit)
			junit = dtf_buf_detach(&b, &junit_len);
		dtf_buf_release(&b);
	}
	/* The JUnit report is written whatever --report-formats says, for the CI's test view: as
	 * results.xml (like dtf run) and as test_report_junit.xml, the name the seeds' pipelines
	 * glob (`junit 'test_reports/test_report_*.xml'`). */
	{
		static const char *const names[] = {"results.xml", "test_report_junit.xml"};
		size_t n;
		int r = 0;
		/* Rendered once: the loop above kept it when junit was asked for (results.xml is
		 * then there already). */
		bool asked = junit != NULL;
		if (!junit) {
			struct dtf_buf b;
			dtf_buf_init(&b, (size_t)512 << 20);
			r = dtf_report_render("junit", doc, &b);
			if (r == 0)
				junit = dtf_buf_detach(&b, &junit_len);
			dtf_buf_release(&b);
		}
		for (n = asked ? 1 : 0; n < 2 && r == 0; n++) {
			char path[PATH_MAX];
			snprintf(path, sizeof(path), "%s/%s", o.output_dir, names[n]);
			r = dtf_write_file(path, junit, junit_len);
			if (r == 0 && !o.quiet)
				fprintf(stderr, "wrote %s\n", path);
		}
		if (r) {
			fprintf(stderr, "dtf ci: cannot write the JUnit report: %s\n",
				dtf_strerror(r));
			infra = true;
		}
		free(junit);
		junit = NULL;
	}
	if (!markdown) {
		struct dtf_buf b;
		dtf_buf_init(&b, (size_t)512 << 20);
		if (dtf_report_markdown(doc, &b) == 0)
			markdown = dtf_buf_detach(&b, NULL);
		else
			markdown = fallback_markdown(doc);
		dtf_buf_release(&b);
	}
	if (o.badges_dir) {
		if (dtf_mkdirs(o.badges_dir, 0755) ||
		    dtf_report_write_badges(doc, o.badges_dir, err, sizeof(err)) != 0) {
			fprintf(stderr, "dtf ci: cannot write badges: %s\n", err);
			infra = true;
		}
	}

	/* 8. The provider: the final result, artifacts, the PR comment, the build status. */
	{
		const json_t *s = json_object_get(doc, "summary");
		const char *state = timed_out ? "error" : ci_summary_state(s);
		json_t *a;
		ci_summary_line(s, line, sizeof(line));
		if (timed_out)
			snprintf(line + strlen(line), sizeof(line) - strlen(line), " (timed out)");
		if (ops->update_test_run) {
			json_t *u = json_pack("{s:s,s:O,s:O,s:s}", "status", "completed", "summary",
					      s, "doc", doc, "markdown", markdown);
			if ((rc = ops->update_test_run(prov, u))) {
				warn_provider(prov, "update_test_run", rc);
				infra = true;
			}
			json_decref(u);
		}
		char cwd[PATH_MAX] = "";
		if (!getcwd(cwd, sizeof(cwd)))
			cwd[0] = '\0';
		json_array_foreach(artifacts, i, a) {
			const char *path = dtf_json_str(a, "path", "");
			/* Its name: the path relative to the workspace, as the CI stores it. */
			const char *name = path;
			size_t n = strlen(cwd);
			char url[2048];
			if (n > 1 && strncmp(path, cwd, n) == 0 && path[n] == '/')
				name = path + n + 1;
			if (ops->upload_artifact && (rc = ops->upload_artifact(prov, path, name))) {
				warn_provider(prov, "upload_artifact", rc);
				infra = true;
			}
			if (ops->get_artifact_url &&
			    ops->get_artifact_url(prov, name, url, sizeof(url)) == 0)
				json_object_set_new(a, "url", json_string(url));
		}
		if (json_array_size(artifacts)) {
			char mp[PATH_MAX];
			snprintf(mp, sizeof(mp), "%s/artifacts.json", o.output_dir);
			write_json(mp, artifacts);
			if (!o.quiet)
				fprintf(stderr, "dtf ci: %zu artifacts in %s/artifacts\n",
					json_array_size(artifacts), o.output_dir);
		}
		if (ops->add_pr_comment && (rc = ops->add_pr_comment(prov, markdown))) {
			warn_provider(prov, "add_pr_comment", rc);
			infra = true;
		}
		if (ops->set_build_status && (rc = ops->set_build_status(prov, state, line))) {
			warn_provider(prov, "set_build_status", rc);
			infra = true;
		}
		if (ops->get_test_run_status) {
			json_t *st = NULL;
			rc = ops->get_test_run_status(prov, &st);
			if (rc)
				warn_provider(prov, "get_test_run_status", rc);
			else if (o.verbose && st) {
				char *text = dtf_json_dumps(st);
				fprintf(stderr, "dtf ci: %s reports: %.500s\n", ops->name,
					text ? text : "");
				free(text);
			}
			json_decref(st);
		}
	}
	if (o.history_dir) {
		char hp[PATH_MAX];
		dtf_mkdirs(o.history_dir, 0755);
		history_path(o.history_dir, prov->ctx.branch, hp, sizeof(hp));
		if (write_json(hp, doc) != 0)
			fprintf(stderr, "dtf ci: cannot write %s\n", hp);
	}

	cli_unsched_print(&un, stdout);
	{
		/* The tests' counts, and the tasks they came from, as dtf run prints them. */
		json_int_t ntasks = dtf_json_int(
		    json_object_get(json_object_get(doc, "summary"), "tasks"), "total", 0);
		printf("dtf ci: %s (%lld task%s) in %.1f s\n", line, (long long)ntasks,
		       ntasks == 1 ? "" : "s", (double)(dtf_mono_ms() - start) / 1000.0);
	}
	if (timed_out) {
		fprintf(stderr, "dtf ci: timed out after %.0f s\n", o.timeout);
		rc = 3;
	} else if (strcmp(ci_summary_state(json_object_get(doc, "summary")), "success") != 0 &&
		   !(o.iso.allow && order_only_failures(doc))) {
		rc = 1;
	} else {
		rc = infra ? 2 : 0;
	}
	cli_push_run(
	    "dtf ci", o.pushgateway, run_id, json_object_get(doc, "summary"),
	    dtf_json_int(json_object_get(json_object_get(doc, "summary"), "tasks"), "total", 0),
	    (double)(dtf_mono_ms() - start) / 1000.0, rc);
	if (o.embedded)
		dtf_local_flush_notifications(&loc, "dtf ci", -1);
out:
	if (loc.coord || loc.n)
		dtf_local_stop(&loc, rc == 3);
	if (hc_ready)
		dtf_http_client_release(&hc);
	ci_provider_free(prov);
	cli_unsched_release(&un);
	free(markdown);
	json_decref(artifacts);
	json_decref(previous);
	json_decref(doc);
	json_decref(reruns);
	json_decref(tasks);
	json_decref(o.test_files);
	json_decref(o.formats);
	json_decref(config_doc);
	return rc;
}
