/* reports.c: writes a finished run's reports on the client side: the run document is fetched
 * once, prepared into the report model (with coverage files and an earlier run to compare with)
 * and rendered in every requested format into the output directory, plus badges. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ci/isolate.h"
#include "ci/pushgateway.h"
#include "cli/cli.h"
#include "common/err.h"
#include "common/json.h"
#include "common/testcount.h"
#include "common/util.h"
#include "net/http.h"
#include "report/report.h"

#define PREVIOUS_CAP (256u << 20) /* largest earlier results.json read for the comparison */
#define REPORT_CAP   (512u << 20) /* largest report written */

bool cli_report_format_ok(const char *name)
{
	return dtf_report_file_name(name) != NULL;
}

bool cli_print_summary(const char *prefix, const json_t *counts, const struct run_counts *k,
		       double secs)
{
	struct dtf_testcount c;
	char line[512], tasks[48] = "", took[48] = "";

	if (secs >= 0)
		snprintf(took, sizeof(took), " in %.1f s", secs);
	if (!json_is_object(counts)) {
		/* No test counts (the report could not be fetched, or an older coordinator): say
		 * what is known, in tasks. */
		printf("%s: %d task%s: %d passed, %d failed, %d skipped, %d cancelled%s\n", prefix,
		       k->total, k->total == 1 ? "" : "s", k->completed, k->failed,
		       k->unschedulable, k->cancelled - k->unschedulable, took);
		return k->failed == 0 && k->cancelled == k->unschedulable &&
		       k->pending + k->running == 0;
	}
	dtf_testcount_from_json(&c, counts);
	dtf_testcount_line(&c, line, sizeof(line));
	if (k->total != c.total)
		snprintf(tasks, sizeof(tasks), " (%d task%s)", k->total, k->total == 1 ? "" : "s");
	printf("%s: %s%s%s\n", prefix, line, tasks, took);
	return strcmp(dtf_testcount_state(&c, false), "success") == 0 ||
	       strcmp(dtf_testcount_state(&c, false), "empty") == 0;
}

/* Reads an earlier JSON report; NULL (and a warning) when it cannot be used. */
static json_t *load_previous(const char *path)
{
	char *text = NULL, err[256];
	size_t len;
	json_t *doc;
	int rc = dtf_read_file(path, PREVIOUS_CAP, &text, &len);

	if (rc) {
		fprintf(stderr, "dtf: no comparison: cannot read %s: %s\n", path, dtf_strerror(rc));
		return NULL;
	}
	doc = dtf_json_parse(text, len, err, sizeof(err));
	free(text);
	if (!doc || !json_is_array(json_object_get(doc, "tasks"))) {
		fprintf(stderr, "dtf: no comparison: %s is not a dtf JSON report%s%s\n", path,
			doc ? "" : ": ", doc ? "" : err);
		json_decref(doc);
		return NULL;
	}
	return doc;
}

int cli_write_reports(struct dtf_http_client *c, const char *run_id,
		      const struct cli_report_opts *o, json_t **doc_out)
{
	json_t *doc = NULL, *prev = NULL, *fv;
	char path[4096], err[512];
	struct dtf_buf out;
	size_t i;
	int rc, failed = 0;

	*doc_out = NULL;
	dtf_buf_init(&out, REPORT_CAP);
	snprintf(path, sizeof(path), "/api/v1/runs/%s/export?format=json", run_id);
	rc = dtf_http_call(c, "GET", path, NULL, 120000, &doc);
	if (rc || !json_is_object(doc)) {
		fprintf(stderr, "dtf: cannot fetch the run's results: %s\n",
			rc ? c->error : "not a JSON object");
		rc = rc ? rc : DTF_EPROTO;
		goto out;
	}
	if (json_array_size(o->coverage_files))
		json_object_set(doc, "coverage_files", o->coverage_files);
	if (o->compare_with)
		prev = load_previous(o->compare_with);
	if (o->isolation && o->isolate_opts)
		dtf_isolate_apply(doc, o->isolation, o->isolate_opts);
	rc = dtf_report_prepare(doc, prev, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "dtf: cannot prepare the reports: %s\n", err);
		goto out;
	}
	json_array_foreach(json_object_get(json_object_get(doc, "coverage"), "errors"), i, fv)
		fprintf(stderr, "dtf: coverage file %s not counted: %s\n",
			dtf_json_str(fv, "file", ""), dtf_json_str(fv, "error", ""));
	json_array_foreach(o->formats, i, fv) {
		const char *f = json_string_value(fv);

		dtf_buf_reset(&out);
		snprintf(path, sizeof(path), "%s/%s", o->output_dir, dtf_report_file_name(f));
		rc = dtf_report_render(f, doc, &out);
		if (!rc)
			rc = dtf_write_file(path, out.data ? out.data : "", out.len);
		if (rc) {
			fprintf(stderr, "dtf: cannot write %s: %s\n", path, dtf_strerror(rc));
			failed = rc;
			continue;
		}
		if (!o->quiet)
			fprintf(stderr, "wrote %s\n", path);
	}
	rc = failed;
	if (o->badges_dir) {
		int brc = dtf_report_write_badges(doc, o->badges_dir, err, sizeof(err));

		if (brc) {
			fprintf(stderr, "dtf: badges: %s\n", err);
			rc = brc;
		} else if (!o->quiet) {
			fprintf(stderr, "wrote badges to %s\n", o->badges_dir);
		}
	}
	*doc_out = doc;
	doc = NULL;
out:
	dtf_buf_release(&out);
	json_decref(prev);
	json_decref(doc);
	return rc;
}

void cli_push_run(const char *prefix, const char *url, const char *run_id, const json_t *summary,
		  long long tasks, double secs, int exit_status)
{
	struct ci_push_run run = {.summary = summary,
				  .tasks = tasks,
				  .duration_s = secs,
				  .exit_status = exit_status,
				  .end_time_s = (double)dtf_wall_ms() / 1000.0};
	const char *grouping[] = {"run", run_id, NULL};
	struct dtf_buf text;
	char err[1024];
	int rc;

	if (!url || !*url)
		url = getenv("DTF_PUSHGATEWAY_URL");
	if (!url || !*url)
		return;
	dtf_buf_init(&text, (size_t)1 << 20);
	rc = ci_push_metrics(&text, &run);
	if (rc)
		snprintf(err, sizeof(err), "cannot write the metrics: %s", dtf_strerror(rc));
	else
		rc = ci_push(url, "dtf", grouping, dtf_buf_str(&text), text.len, err, sizeof(err));
	if (rc)
		fprintf(stderr, "%s: the run's metrics were not pushed: %s\n", prefix, err);
	else
		fprintf(stderr, "%s: pushed the run's metrics to %s (job dtf, run %s)\n", prefix,
			url, run_id);
	dtf_buf_release(&text);
}
