/* test_report_formats.c: the run model and the report formats (src/report/): golden files of every
 * format written from one fixed run (tests/golden/run.json, compared with previous.json, with the
 * coverage of coverage.info and coverage.xml), the coverage merge of lcov and Cobertura, badge
 * colour steps and files, CSV quoting and HTML/Markdown escaping of hostile names.
 *
 * Golden files: tests/golden/expected/report.{md,html,csv,json,xml}. A mismatch prints a unified
 * diff. After an intended change, regenerate them with
 *   DTF_UPDATE_GOLDEN=1 ctest -R test_report_formats      (or run the test binary with it)
 * and review the diff in git. */
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/util.h"
#include "report/coverage.h"
#include "report/report.h"
#include "report/view.h"
#include "unit_main.h"

#define OUT_CAP (64u << 20)

extern char **environ;

/* The source tree's tests/ directory. */
static void tests_dir(char *out, size_t len)
{
	const char *root = getenv("DTF_SOURCE_DIR");
	const char *slash = strrchr(__FILE__, '/');

	if (root)
		snprintf(out, len, "%s/tests", root);
	else
		snprintf(out, len, "%.*s/..", slash ? (int)(slash - __FILE__) : 1,
			 slash ? __FILE__ : ".");
}

static json_t *load_json(const char *path)
{
	char *text = NULL, err[256];
	size_t len;
	json_t *doc;

	assert_int_equal(dtf_read_file(path, 1u << 20, &text, &len), 0);
	doc = dtf_json_parse(text, len, err, sizeof(err));
	if (!doc)
		print_error("%s: %s\n", path, err);
	assert_non_null(doc);
	free(text);
	return doc;
}

/* The golden run, prepared against the previous one, its coverage files read relative to
 * tests/golden (so no machine's path appears in the output). */
static json_t *golden_doc(void)
{
	char dir[4096], path[4200], cwd[4096], err[256];
	json_t *doc, *prev;

	tests_dir(dir, sizeof(dir));
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(path, sizeof(path), "%s/golden", dir);
	assert_int_equal(chdir(path), 0);
	doc = load_json("run.json");
	prev = load_json("previous.json");
	if (dtf_report_prepare(doc, prev, err, sizeof(err)) != 0)
		print_error("prepare: %s\n", err);
	assert_int_equal(chdir(cwd), 0);
	json_decref(prev);
	return doc;
}

/* Runs diff -u on two files (no shell). */
static void show_diff(const char *want, const char *got)
{
	char *argv[] = {(char *)"diff", (char *)"-u", (char *)want, (char *)got, NULL};
	pid_t pid;
	int st;

	if (posix_spawnp(&pid, "diff", NULL, NULL, argv, environ) == 0)
		waitpid(pid, &st, 0);
}

/* Compares a rendering with tests/golden/expected/<file>, byte for byte. */
static void check_golden(json_t *doc, const char *format, const char *file)
{
	char dir[4096], path[4300], got_path[4300];
	char *want = NULL;
	size_t want_len = 0;
	struct dtf_buf out;

	tests_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/golden/expected/%s", dir, file);
	dtf_buf_init(&out, OUT_CAP);
	assert_int_equal(dtf_report_render(format, doc, &out), 0);
	if (getenv("DTF_UPDATE_GOLDEN") && *getenv("DTF_UPDATE_GOLDEN") == '1') {
		snprintf(got_path, sizeof(got_path), "%s/golden/expected", dir);
		assert_int_equal(dtf_mkdirs(got_path, 0755), 0);
		assert_int_equal(dtf_write_file(path, out.data, out.len), 0);
		print_message("updated %s\n", path);
		dtf_buf_release(&out);
		return;
	}
	if (dtf_read_file(path, OUT_CAP, &want, &want_len) != 0)
		fail_msg("missing golden file %s (DTF_UPDATE_GOLDEN=1 writes it)", path);
	if (want_len != out.len || memcmp(want, out.data, out.len) != 0) {
		snprintf(got_path, sizeof(got_path), "%s/dtf-golden-%d-%s",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(), file);
		assert_int_equal(dtf_write_file(got_path, out.data, out.len), 0);
		print_error("%s differs from the golden file (got %zu bytes, want %zu):\n", format,
			    out.len, want_len);
		show_diff(path, got_path);
		unlink(got_path);
		fail_msg("golden mismatch for %s (DTF_UPDATE_GOLDEN=1 regenerates after review)",
			 file);
	}
	free(want);
	dtf_buf_release(&out);
}

static void test_golden_files(void **state)
{
	json_t *doc = golden_doc();

	(void)state;
	check_golden(doc, "markdown", "report.md");
	check_golden(doc, "html", "report.html");
	check_golden(doc, "csv", "results.csv");
	check_golden(doc, "json", "results.json");
	check_golden(doc, "junit", "results.xml");
	json_decref(doc);
}

static json_int_t iget(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* Asserts that arr is exactly the strings given (NULL-terminated). */
static void assert_names(json_t *arr, ...)
{
	va_list ap;
	const char *want;
	size_t i = 0;

	va_start(ap, arr);
	while ((want = va_arg(ap, const char *))) {
		const char *got = json_string_value(json_array_get(arr, i));

		assert_non_null(got);
		assert_string_equal(got, want);
		i++;
	}
	va_end(ap);
	assert_int_equal(json_array_size(arr), i);
}

/* The model itself, independent of any format. */
static void test_model(void **state)
{
	json_t *doc = golden_doc();
	json_t *s = json_object_get(doc, "summary"), *cmp = json_object_get(doc, "comparison");
	json_t *cov = json_object_get(doc, "coverage"), *m, *slow, *t;

	(void)state;
	/* Test entries: 7 tasks of their own and the 3 cases of test_report.sh. */
	assert_int_equal(iget(s, "total"), 10);
	assert_int_equal(iget(s, "passed"), 4);
	assert_int_equal(iget(s, "failed"), 3);
	assert_int_equal(iget(s, "skipped"), 2);
	assert_int_equal(iget(s, "flaky"), 1);
	assert_int_equal(iget(s, "error"), 0);
	assert_int_equal(json_array_size(json_object_get(doc, "tests")), 10);
	assert_float_equal(json_number_value(json_object_get(s, "passed_pct")), 40.0, 1e-9);
	assert_float_equal(json_number_value(json_object_get(s, "failed_pct")), 30.0, 1e-9);
	assert_float_equal(json_number_value(json_object_get(s, "skipped_pct")), 20.0, 1e-9);
	assert_string_equal(json_string_value(json_object_get(s, "status")), "failure");
	assert_float_equal(json_number_value(json_object_get(s, "wall_s")), 120.25, 1e-9);
	/* Each case's own time: test_report.sh's cases took 0.75 s of its 1 s. */
	assert_float_equal(json_number_value(json_object_get(s, "duration_s")), 12.325, 1e-9);
	t = json_object_get(s, "tasks");
	assert_int_equal(iget(t, "total"), 8);
	assert_int_equal(iget(t, "completed"), 4);
	assert_int_equal(iget(t, "failed"), 3);
	assert_int_equal(iget(t, "unschedulable"), 1);
	assert_float_equal(json_number_value(json_object_get(t, "duration_s")), 12.575, 1e-9);

	m = json_object_get(json_object_get(doc, "metrics"), "bench_matmul");
	assert_float_equal(json_number_value(json_object_get(m, "average_throughput")), 124.5, 0);
	assert_float_equal(json_number_value(json_object_get(m, "average_latency_ms")), 8.7, 0);

	/* src/a.c: lines 1,2,3 (lcov) + 2,4 (Cobertura) = 4 lines, 1,2,3 hit; src/b.c 0 of 2;
	 * src/c.py 2 of 2: 5 of 8. */
	assert_int_equal(iget(cov, "lines_total"), 8);
	assert_int_equal(iget(cov, "lines_covered"), 5);
	assert_float_equal(json_number_value(json_object_get(cov, "percent")), 62.5, 1e-9);
	assert_int_equal(json_array_size(json_object_get(cov, "files")), 3);

	assert_string_equal(json_string_value(json_object_get(cmp, "previous_run_id")),
			    "r-previous");
	assert_names(json_object_get(cmp, "new_failures"), "test_known_bug.sh", "pkg.mod::test_b",
		     NULL);
	assert_names(json_object_get(cmp, "fixed"), "test_arith.sh", NULL);
	assert_names(json_object_get(cmp, "flaky"), "test_flaky.sh", NULL);
	slow = json_object_get(cmp, "slower");
	assert_int_equal(json_array_size(slow), 1); /* bench_matmul: 3.0 -> 3.2 s is not enough */
	assert_string_equal(json_string_value(json_object_get(json_array_get(slow, 0), "name")),
			    "test_flaky.sh");
	json_decref(doc);
}

static void test_render_names(void **state)
{
	json_t *doc = json_pack("{s{} s[]}", "run", "tasks");
	struct dtf_buf out;
	static const char *const names[] = {"json", "junit", "xml", "markdown",
					    "md",   "html",  "csv"};
	size_t i;

	(void)state;
	dtf_buf_init(&out, OUT_CAP);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		dtf_buf_reset(&out);
		assert_int_equal(dtf_report_render(names[i], doc, &out), 0);
		assert_true(out.len > 0);
		assert_non_null(dtf_report_file_name(names[i]));
	}
	assert_string_equal(dtf_report_file_name("md"), "report.md");
	assert_string_equal(dtf_report_file_name("junit"), "results.xml");
	assert_string_equal(dtf_report_file_name("html"), "report.html");
	assert_string_equal(dtf_report_file_name("csv"), "results.csv");
	assert_int_equal(dtf_report_render("pdf", doc, &out), DTF_EINVAL);
	assert_null(dtf_report_file_name("pdf"));
	dtf_buf_release(&out);
	json_decref(doc);
}

/* Without run.finished_at, a run ends when its last task did. */
static void test_wall_time(void **state)
{
	json_t *doc =
	    json_pack("{s{ss ss} s[{ss ss ss} {ss ss ss} {ss ss}]}", "run", "id", "r", "created_at",
		      "2026-01-01T00:00:00Z", "tasks", "id", "a", "status", "completed",
		      "finished_at", "2026-01-01T00:00:09.5Z", "id", "b", "status", "completed",
		      "finished_at", "2026-01-01T00:00:05Z", "id", "c", "status", "pending");
	json_t *s;
	char err[256];

	(void)state;
	assert_int_equal(dtf_report_prepare(doc, NULL, err, sizeof(err)), 0);
	s = json_object_get(doc, "summary");
	assert_float_equal(json_number_value(json_object_get(s, "wall_s")), 9.5, 1e-9);
	assert_string_equal(json_string_value(json_object_get(s, "finished_at")),
			    "2026-01-01T00:00:09.5Z");
	assert_string_equal(json_string_value(json_object_get(s, "status")), "incomplete");
	json_decref(doc);
}

/* The writers take a document that was never prepared: rows, summary and metrics are derived. */
static void test_unprepared_doc(void **state)
{
	char dir[4096], path[4200];
	json_t *doc;
	struct dtf_buf out;

	(void)state;
	tests_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/golden/run.json", dir);
	doc = load_json(path);
	dtf_buf_init(&out, OUT_CAP);
	assert_int_equal(dtf_report_markdown(doc, &out), 0);
	assert_non_null(strstr(dtf_buf_str(&out), "**Status:** FAILURE"));
	assert_non_null(strstr(dtf_buf_str(&out), "- Passed: 4 (40.0%)"));
	assert_non_null(
	    strstr(dtf_buf_str(&out), "| bench\\_matmul | Average Throughput | 124.50 |"));
	assert_null(strstr(dtf_buf_str(&out), "## Coverage"));
	assert_null(strstr(dtf_buf_str(&out), "## Comparison"));
	dtf_buf_reset(&out);
	assert_int_equal(dtf_report_html(doc, &out), 0);
	assert_non_null(strstr(dtf_buf_str(&out), "<td>Average Throughput</td>"));
	dtf_buf_reset(&out);
	assert_int_equal(dtf_report_csv(doc, &out), 0);
	assert_non_null(strstr(dtf_buf_str(&out), "pkg.mod::test_b,t-7,failed,0.500,local-2,"
						  "AssertionError,assert 1 == 2,\r\n"));
	/* Nothing was added to the caller's document. */
	assert_null(json_object_get(doc, "tests"));
	assert_null(json_object_get(doc, "summary"));
	dtf_buf_release(&out);
	json_decref(doc);
}

/* ---- coverage ---- */

static json_t *cov_json(struct dtf_coverage *c)
{
	json_t *j = dtf_coverage_json(c);

	assert_non_null(j);
	return j;
}

static void test_coverage_merge(void **state)
{
	static const char lcov[] = "TN:\nSF:x.c\nDA:1,0\nDA:2,3\nDA:2,0\nend_of_record\n"
				   "SF:y.c\nLF:10\nLH:4\nend_of_record\n";
	static const char cob[] = "<?xml version=\"1.0\"?><coverage><packages><package><classes>"
				  "<class filename=\"x.c\"><lines><line number=\"1\" hits=\"2\"/>"
				  "<line number=\"3\" hits=\"0\"/></lines></class>"
				  "</classes></package></packages></coverage>";
	struct dtf_coverage *c = dtf_coverage_new();
	char err[256];
	json_t *j, *f;

	(void)state;
	assert_int_equal(dtf_coverage_add_lcov(c, lcov, sizeof(lcov) - 1, err, sizeof(err)), 0);
	j = cov_json(c);
	/* x.c: lines 1 (0 hits) and 2 (hit): 1 of 2; y.c: lcov's own totals 4 of 10. */
	assert_int_equal(iget(j, "lines_total"), 12);
	assert_int_equal(iget(j, "lines_covered"), 5);
	json_decref(j);
	assert_int_equal(dtf_coverage_add_cobertura(c, cob, sizeof(cob) - 1, err, sizeof(err)), 0);
	j = cov_json(c);
	/* Cobertura covers x.c's line 1 and adds line 3: x.c 2 of 3. */
	f = json_array_get(json_object_get(j, "files"), 0);
	assert_string_equal(json_string_value(json_object_get(f, "path")), "x.c");
	assert_int_equal(iget(f, "lines_total"), 3);
	assert_int_equal(iget(f, "lines_covered"), 2);
	assert_float_equal(json_number_value(json_object_get(f, "percent")), 66.67, 1e-9);
	assert_int_equal(iget(j, "lines_total"), 13);
	assert_int_equal(iget(j, "lines_covered"), 6);
	json_decref(j);
	dtf_coverage_free(c);
}

/* Bad input is refused with a message and leaves the merge as it was. */
static void test_coverage_bad_input(void **state)
{
	static const char *const bad_lcov[] = {
	    "",				  /* no SF */
	    "hello world\n",		  /* not a record */
	    "DA:1,1\n",			  /* DA before SF */
	    "SF:a.c\nDA:0,1\n",		  /* line 0 */
	    "SF:a.c\nDA:1\n",		  /* no count */
	    "SF:a.c\nDA:1,-1\n",	  /* negative count */
	    "SF:a.c\nDA:99999999999,1\n", /* line past 32 bits */
	    "SF:\n",			  /* empty path */
	    "SF:a.c\nLF:x\n",		  /* bad total */
	};
	static const char *const bad_xml[] = {
	    "<coverage><class filename=\"a.c\"><lines><line number=\"x\" hits=\"1\"/></lines>"
	    "</class></coverage>",
	    "<notcoverage/>",
	    "<coverage><class>",
	    "<?xml version=\"1.0\"?><!DOCTYPE coverage [<!ENTITY a \"aaaa\">]><coverage>"
	    "<class filename=\"&a;\"/></coverage>",
	    "<coverage><class><lines/></class></coverage>", /* no filename */
	};
	struct dtf_coverage *c = dtf_coverage_new();
	char err[256];
	json_t *j;
	size_t i;

	(void)state;
	assert_int_equal(
	    dtf_coverage_add_lcov(c, "SF:ok.c\nDA:1,1\nSF:a.c\nDA:5,0\n", 29, err, sizeof(err)), 0);
	for (i = 0; i < sizeof(bad_lcov) / sizeof(bad_lcov[0]); i++) {
		err[0] = '\0';
		assert_int_equal(
		    dtf_coverage_add_lcov(c, bad_lcov[i], strlen(bad_lcov[i]), err, sizeof(err)),
		    DTF_EPARSE);
		assert_true(strlen(err) > 0);
	}
	/* A file good up to its last line adds nothing either. */
	assert_int_equal(dtf_coverage_add_lcov(c, "SF:new.c\nDA:1,1\nDA:x\n", 21, err, sizeof(err)),
			 DTF_EPARSE);
	assert_non_null(strstr(err, "line 3"));
	for (i = 0; i < sizeof(bad_xml) / sizeof(bad_xml[0]); i++) {
		err[0] = '\0';
		assert_int_equal(
		    dtf_coverage_add_cobertura(c, bad_xml[i], strlen(bad_xml[i]), err, sizeof(err)),
		    DTF_EPARSE);
		assert_true(strlen(err) > 0);
	}
	j = cov_json(c);
	assert_int_equal(json_array_size(json_object_get(j, "files")), 2);
	assert_int_equal(iget(j, "lines_total"), 2);
	assert_int_equal(iget(j, "lines_covered"), 1);
	json_decref(j);
	assert_int_equal(
	    dtf_coverage_add_lcov(c, "x", DTF_COVERAGE_MAX_BYTES + 1u, err, sizeof(err)),
	    DTF_ETOOBIG);
	assert_int_equal(dtf_coverage_add_file(c, "/nonexistent/cov.info", err, sizeof(err)),
			 DTF_ENOTFOUND);
	dtf_coverage_free(c);
}

/* A coverage file that cannot be read is listed in the model; the run is still reported. */
static void test_coverage_file_errors_kept(void **state)
{
	json_t *doc = json_pack("{s{ss} s[] s[s]}", "run", "id", "r", "tasks", "coverage_files",
				"/nonexistent/lcov.info");
	json_t *cov;
	char err[256];

	(void)state;
	assert_int_equal(dtf_report_prepare(doc, NULL, err, sizeof(err)), 0);
	cov = json_object_get(doc, "coverage");
	assert_int_equal(iget(cov, "lines_total"), 0);
	assert_int_equal(json_array_size(json_object_get(cov, "errors")), 1);
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(cov, "errors"), 0), "file")),
			    "/nonexistent/lcov.info");
	json_decref(doc);
}

/* ---- badges ---- */

static void test_badge_colors(void **state)
{
	(void)state;
	assert_string_equal(dtf_report_coverage_color(100), "brightgreen");
	assert_string_equal(dtf_report_coverage_color(90), "brightgreen");
	assert_string_equal(dtf_report_coverage_color(89.99), "green");
	assert_string_equal(dtf_report_coverage_color(80), "green");
	assert_string_equal(dtf_report_coverage_color(79.9), "yellowgreen");
	assert_string_equal(dtf_report_coverage_color(70), "yellowgreen");
	assert_string_equal(dtf_report_coverage_color(69.9), "yellow");
	assert_string_equal(dtf_report_coverage_color(60), "yellow");
	assert_string_equal(dtf_report_coverage_color(59.9), "orange");
	assert_string_equal(dtf_report_coverage_color(50), "orange");
	assert_string_equal(dtf_report_coverage_color(49.9), "red");
	assert_string_equal(dtf_report_coverage_color(0), "red");
}

static json_t *read_badge(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return load_json(path);
}

static void assert_badge(json_t *b, const char *label, const char *message, const char *color)
{
	assert_int_equal(iget(b, "schemaVersion"), 1);
	assert_string_equal(json_string_value(json_object_get(b, "label")), label);
	assert_string_equal(json_string_value(json_object_get(b, "message")), message);
	assert_string_equal(json_string_value(json_object_get(b, "color")), color);
	json_decref(b);
}

static void test_badges(void **state)
{
	json_t *doc = golden_doc();
	char dir[4096], err[256];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/dtf-badges-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
		 (int)getpid());
	assert_int_equal(dtf_report_write_badges(doc, dir, err, sizeof(err)), 0);
	/* The same counts, in the same words, as the summary: flaky and skipped tests are named. */
	assert_badge(read_badge(dir, "combined-status.json"), "tests",
		     "3 failed, 4 passed, 1 flaky, 2 skipped", "red");
	assert_badge(read_badge(dir, "integration-status.json"), "integration tests",
		     "1 failed, 1 passed", "red");
	assert_badge(read_badge(dir, "fault-status.json"), "fault tests",
		     "1 failed, 0 passed, 1 flaky", "red");
	assert_badge(read_badge(dir, "benchmark-status.json"), "benchmark tests", "1 passed",
		     "brightgreen");
	assert_badge(read_badge(dir, "test-status.json"), "test tests",
		     "1 failed, 2 passed, 2 skipped", "red");
	assert_badge(read_badge(dir, "coverage.json"), "coverage", "62.5%", "yellow");
	assert_int_equal(dtf_rmtree(dir), 0);
	json_decref(doc);
}

/* ---- escaping ---- */

static const char hostile[] = "<script>alert(\"x\")</script> & 'q', \"c\"\r\n| `md` [l](u) \xff";

static json_t *hostile_doc(void)
{
	json_t *doc = json_pack("{s{ss ss} s[{ss ss ss ss s{ss} s{sf}}]}", "run", "id", "r-h",
				"name", "<img src=x onerror=alert(1)>", "tasks", "id", "t-h",
				"type", "test", "status", "failed", "worker_id", "w,1", "error",
				"kind", "exit_code", "result", "duration_s", 1.5);
	json_t *t = json_array_get(json_object_get(doc, "tasks"), 0);

	assert_non_null(doc);
	/* Invalid UTF-8 on purpose: a writer must cope with what a worker could send. */
	json_object_set_new(t, "name", json_stringn_nocheck(hostile, sizeof(hostile) - 1));
	json_object_set_new(json_object_get(t, "error"), "message",
			    json_stringn_nocheck(hostile, sizeof(hostile) - 1));
	return doc;
}

static void test_html_escaping(void **state)
{
	json_t *doc = hostile_doc();
	struct dtf_buf out;
	const char *s;

	(void)state;
	dtf_buf_init(&out, OUT_CAP);
	assert_int_equal(dtf_report_html(doc, &out), 0);
	s = dtf_buf_str(&out);
	assert_null(strstr(s, "<script>alert"));
	assert_null(strstr(s, "<img"));
	assert_non_null(
	    strstr(s, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;"));
	assert_non_null(strstr(s, "&lt;img src=x onerror=alert(1)&gt;"));
	assert_non_null(strstr(s, "\xef\xbf\xbd")); /* the invalid byte */
	assert_null(strstr(s, "\xff"));
	/* Exactly one script element (ours), and nothing fetched from elsewhere. */
	assert_non_null(strstr(s, "<script>"));
	assert_null(strstr(strstr(s, "<script>") + 1, "<script"));
	assert_null(strstr(s, "src=\""));
	assert_null(strstr(s, "href="));
	assert_null(strstr(s, "http://"));
	assert_null(strstr(s, "https://"));
	dtf_buf_release(&out);
	json_decref(doc);
}

static void test_markdown_escaping(void **state)
{
	json_t *doc = hostile_doc();
	struct dtf_buf out;
	const char *s, *row;

	(void)state;
	dtf_buf_init(&out, OUT_CAP);
	assert_int_equal(dtf_report_markdown(doc, &out), 0);
	s = dtf_buf_str(&out);
	assert_null(strstr(s, "<script"));
	assert_null(strstr(s, "<img"));
	/* The failure row stays one table row of four cells. */
	row = strstr(s, "| &lt;script&gt;");
	assert_non_null(row);
	assert_non_null(strstr(row, "\\| \\`md\\` \\[l\\](u)"));
	{
		const char *end = strchr(row, '\n');
		size_t cells = 0;
		const char *p;

		for (p = row; p < end; p++)
			cells += *p == '|' && p[-1] != '\\';
		assert_int_equal(cells, 5);
	}
	dtf_buf_release(&out);
	json_decref(doc);
}

/* Letters outside ASCII are text, even where the low byte of their code point is Markdown
 * markup (U+015C ends in 0x5C, a backslash; U+0160 in 0x60, a backtick). */
static void test_markdown_non_ascii(void **state)
{
	json_t *doc = json_pack("{s{ss ss} s[]}", "run", "id", "r-u", "name",
				"\xc5\x9c \xc5\xa0 \xc4\xaa \xc5\x9f", "tasks");
	struct dtf_buf out;

	(void)state;
	assert_non_null(doc);
	dtf_buf_init(&out, OUT_CAP);
	assert_int_equal(dtf_report_markdown(doc, &out), 0);
	assert_non_null(
	    strstr(dtf_buf_str(&out), "# Test Run Report: \xc5\x9c \xc5\xa0 \xc4\xaa \xc5\x9f\n"));
	dtf_buf_release(&out);
	json_decref(doc);
}

/* The CI context shows strings and integers (a pull request number) and leaves other values out. */
static void test_ci_context(void **state)
{
	json_t *doc = json_pack("{s{ss} s[] s{ss si sb}}", "run", "id", "r-ci", "tasks", "ci",
				"provider", "github", "pr", 42, "branch", 1);
	struct dtf_buf out;

	(void)state;
	assert_non_null(doc);
	dtf_buf_init(&out, OUT_CAP);
	assert_int_equal(dtf_report_markdown(doc, &out), 0);
	assert_non_null(strstr(dtf_buf_str(&out), "- Provider: github\n- Pull Request: 42\n"));
	assert_null(strstr(dtf_buf_str(&out), "- Branch:"));
	dtf_buf_reset(&out);
	assert_int_equal(dtf_report_html(doc, &out), 0);
	assert_non_null(strstr(dtf_buf_str(&out), "<tr><td>pr</td><td>42</td></tr>"));
	assert_null(strstr(dtf_buf_str(&out), "<td>branch</td>"));
	dtf_buf_release(&out);
	json_decref(doc);
}

static const char *amp_only(uint32_t cp, char tmp[8])
{
	(void)tmp;
	return cp == '&' ? "&amp;" : NULL;
}

/* The writers' template call: each %s escaped and cut at the cap, %% a percent sign, invalid
 * UTF-8 replaced, anything else after a percent sign refused. */
static void test_escapef(void **state)
{
	struct dtf_buf out;

	(void)state;
	dtf_buf_init(&out, OUT_CAP);
	assert_int_equal(report_escapef(&out, amp_only, 4, "a%sb%%c%s", "x&yyyy", "\xff"), 0);
	assert_string_equal(dtf_buf_str(&out), "ax&amp;yy\xe2\x80\xa6"
					       "b%c\xef\xbf\xbd");
	dtf_buf_reset(&out);
	assert_int_equal(report_escapef(&out, amp_only, 4, "n=%d", 1), DTF_EINVAL);
	dtf_buf_release(&out);
}

/* Parses one RFC 4180 record from *p into fields; returns how many. */
static size_t csv_record(const char **p, char fields[][512], size_t max)
{
	const char *s = *p;
	size_t n = 0, k;

	while (*s && n < max) {
		k = 0;
		if (*s == '"') {
			s++;
			while (*s && !(s[0] == '"' && s[1] != '"')) {
				if (s[0] == '"')
					s++;
				if (k < 511)
					fields[n][k++] = *s;
				s++;
			}
			assert_int_equal(*s, '"');
			s++;
		} else {
			while (*s && *s != ',' && *s != '\r' && *s != '\n') {
				if (k < 511)
					fields[n][k++] = *s;
				s++;
			}
		}
		fields[n++][k] = '\0';
		if (*s == ',') {
			s++;
			continue;
		}
		assert_true(s[0] == '\r' && s[1] == '\n');
		s += 2;
		break;
	}
	*p = s;
	return n;
}

static void test_csv_quoting(void **state)
{
	json_t *doc = hostile_doc();
	struct dtf_buf out;
	static char fields[16][512];
	const char *p;

	(void)state;
	json_object_set_new(json_array_get(json_object_get(doc, "tasks"), 0), "name",
			    json_string("a,\"b\"\r\nc "));
	json_object_set_new(
	    json_object_get(json_array_get(json_object_get(doc, "tasks"), 0), "error"), "message",
	    json_string("line 1\nline 2, \"quoted\""));
	dtf_buf_init(&out, OUT_CAP);
	assert_int_equal(dtf_report_csv(doc, &out), 0);
	p = dtf_buf_str(&out);
	assert_int_equal(csv_record(&p, fields, 16), 8);
	assert_string_equal(fields[0], "name");
	assert_string_equal(fields[7], "metrics");
	assert_int_equal(csv_record(&p, fields, 16), 8);
	assert_string_equal(fields[0], "a,\"b\"\r\nc ");
	assert_string_equal(fields[1], "t-h");
	assert_string_equal(fields[2], "failed");
	assert_string_equal(fields[3], "1.500");
	assert_string_equal(fields[4], "w,1");
	assert_string_equal(fields[5], "exit_code");
	assert_string_equal(fields[6], "line 1\nline 2, \"quoted\"");
	assert_string_equal(fields[7], "");
	assert_int_equal(*p, '\0');
	dtf_buf_release(&out);
	json_decref(doc);
}

/* Cells a spreadsheet would run as formulas get a leading ', control bytes go (OWASP CSV
 * injection), and text that is not a formula is left alone. */
static void test_csv_formulas(void **state)
{
	static const char *const names[][2] = {
	    {"=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"},
	    {"+1", "'+1"},
	    {"-1", "'-1"},
	    {"@SUM(A1:A2)", "'@SUM(A1:A2)"},
	    {"\tx", "'\tx"},
	    {"\rx", "'\rx"},
	    {"\x01\x1b=bell\x7f", "'=bell"},
	    {"a=b", "a=b"},
	    {"plain", "plain"},
	};
	static char fields[16][512];
	json_t *doc = hostile_doc(), *t;
	struct dtf_buf out;
	const char *p;
	size_t i;

	(void)state;
	t = json_array_get(json_object_get(doc, "tasks"), 0);
	json_object_set_new(json_object_get(t, "error"), "message", json_string("-bad"));
	json_object_set_new(t, "worker_id", json_string("@w"));
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		json_object_set_new(t, "name", json_string(names[i][0]));
		dtf_buf_init(&out, OUT_CAP);
		assert_int_equal(dtf_report_csv(doc, &out), 0);
		p = dtf_buf_str(&out);
		assert_int_equal(csv_record(&p, fields, 16), 8);
		assert_int_equal(csv_record(&p, fields, 16), 8);
		assert_string_equal(fields[0], names[i][1]);
		assert_string_equal(fields[3], "1.500");
		assert_string_equal(fields[4], "'@w");
		assert_string_equal(fields[6], "'-bad");
		dtf_buf_release(&out);
	}
	json_decref(doc);
}

/* The JUnit report carries the metrics and coverage as suite properties and stays valid. */
static void test_junit_metrics_valid(void **state)
{
	json_t *doc = golden_doc();
	char dir[4096], path[4200];
	struct dtf_buf out;
	xmlSchemaParserCtxtPtr pctx;
	xmlSchemaValidCtxtPtr vctx;
	xmlSchemaPtr schema;
	xmlDocPtr x;

	(void)state;
	tests_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/fixtures/junit.xsd", dir);
	dtf_buf_init(&out, OUT_CAP);
	assert_int_equal(dtf_report_junit(doc, &out), 0);
	assert_non_null(strstr(dtf_buf_str(&out), "<property name=\"dtf.metric.bench_matmul."
						  "average_throughput\" value=\"124.5\"/>"));
	assert_non_null(
	    strstr(dtf_buf_str(&out), "<property name=\"dtf.coverage.percent\" value=\"62.5\"/>"));
	x = xmlReadMemory(dtf_buf_str(&out), (int)out.len, NULL, NULL, XML_PARSE_NONET);
	assert_non_null(x);
	pctx = xmlSchemaNewParserCtxt(path);
	schema = xmlSchemaParse(pctx);
	assert_non_null(schema);
	vctx = xmlSchemaNewValidCtxt(schema);
	assert_int_equal(xmlSchemaValidateDoc(vctx, x), 0);
	xmlSchemaFreeValidCtxt(vctx);
	xmlSchemaFree(schema);
	xmlSchemaFreeParserCtxt(pctx);
	xmlFreeDoc(x);
	dtf_buf_release(&out);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_golden_files),
	    cmocka_unit_test(test_model),
	    cmocka_unit_test(test_render_names),
	    cmocka_unit_test(test_unprepared_doc),
	    cmocka_unit_test(test_wall_time),
	    cmocka_unit_test(test_coverage_merge),
	    cmocka_unit_test(test_coverage_bad_input),
	    cmocka_unit_test(test_coverage_file_errors_kept),
	    cmocka_unit_test(test_badge_colors),
	    cmocka_unit_test(test_badges),
	    cmocka_unit_test(test_html_escaping),
	    cmocka_unit_test(test_markdown_escaping),
	    cmocka_unit_test(test_markdown_non_ascii),
	    cmocka_unit_test(test_ci_context),
	    cmocka_unit_test(test_escapef),
	    cmocka_unit_test(test_csv_quoting),
	    cmocka_unit_test(test_csv_formulas),
	    cmocka_unit_test(test_junit_metrics_valid),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
