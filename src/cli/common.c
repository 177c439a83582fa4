/* common.c: what the client-side commands share: coordinator URL and key, the remembered run,
 * submitting a task list or file, waiting for a run with progress, exporting a report. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/json.h"
#include "common/util.h"
#include "net/http.h"

#define TASK_FILE_MAX (64u << 20)

const char *cli_coordinator_url(const char *flag)
{
	const char *env = getenv("DTF_COORDINATOR");

	if (flag && *flag)
		return flag;
	if (env && *env)
		return env;
	return "http://localhost:8080";
}

bool cli_tls_flag(struct cli_tls *t, int opt, const char *arg)
{
	switch (opt) {
	case CLI_OPT_CA_CERT:
		t->ca_cert = arg;
		return true;
	case CLI_OPT_INSECURE:
		t->insecure = true;
		return true;
	case CLI_OPT_INSECURE_FORCE:
		t->insecure = t->insecure_force = true;
		return true;
	case CLI_OPT_TLS_CERT:
		t->cert = arg;
		return true;
	case CLI_OPT_TLS_KEY:
		t->key = arg;
		return true;
	default:
		return false;
	}
}

int cli_tls_apply(const char *cmd, const struct cli_tls *t)
{
	struct dtf_tls_client tc = {
	    .ca_cert = t->ca_cert,
	    .cert = t->cert,
	    .key = t->key,
	    .insecure = t->insecure,
	    .insecure_force = t->insecure_force,
	};
	const char *env = getenv("DTF_CA_CERT");
	char err[512];

	if (!tc.ca_cert && env && *env)
		tc.ca_cert = env;
	if (dtf_http_client_tls(&tc, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", cmd, err);
		return DTF_EINVAL;
	}
	return 0;
}

int cli_client_init(const char *cmd, struct dtf_http_client *c, const char *url, const char *key)
{
	int rc = dtf_http_client_init(c, url, key);

	if (rc != 0) {
		if (c->error[0])
			fprintf(stderr, "%s: %s\n", cmd, c->error);
		else
			fprintf(stderr, "%s: bad coordinator URL '%s'\n", cmd, url);
	}
	return rc;
}

const char *cli_api_key(const char *flag)
{
	const char *env = getenv("DTF_API_KEY");

	if (flag && *flag)
		return flag;
	if (env && *env)
		return env;
	return NULL;
}

int cli_save_last_run(const char *run_id)
{
	dtf_mkdirs(".dtf", 0755);
	return dtf_write_file(".dtf/last-run", run_id, strlen(run_id));
}

int cli_load_last_run(char *out, size_t len)
{
	char *text = NULL;
	size_t n;

	if (dtf_read_file(".dtf/last-run", 256, &text, &n) != 0)
		return DTF_ENOTFOUND;
	text[strcspn(text, "\r\n")] = '\0';
	snprintf(out, len, "%s", text);
	free(text);
	return dtf_valid_id(out) ? 0 : DTF_ENOTFOUND;
}

int cli_submit_tasks(struct dtf_http_client *c, const json_t *tasks, const char *run_name,
		     const json_t *metadata, char *run_id, size_t run_id_len, int *count)
{
	json_t *body = NULL, *run = NULL, *resp = NULL;
	int rc;

	/* {"tasks": [...], "run": {"name": ..., "metadata": {...}}}: a new run for the list. */
	run = json_object();
	body = json_object();
	if (!run || !body ||
	    (run_name && json_object_set_new(run, "name", json_string(run_name))) ||
	    (metadata && json_object_set(run, "metadata", (json_t *)metadata)) ||
	    json_object_set(body, "tasks", (json_t *)tasks) || json_object_set(body, "run", run)) {
		snprintf(c->error, sizeof(c->error), "%s", dtf_strerror(DTF_ENOMEM));
		rc = DTF_ENOMEM;
		goto out;
	}
	rc = dtf_http_call(c, "POST", "/api/v1/tasks", body, 120000, &resp);
	if (rc)
		goto out;
	snprintf(run_id, run_id_len, "%s", dtf_json_str(resp, "run_id", ""));
	if (count)
		*count = (int)dtf_json_int(resp, "count", 0);
out:
	json_decref(resp);
	json_decref(run);
	json_decref(body);
	return rc;
}

int cli_submit_file(struct dtf_http_client *c, const char *path, const char *run_name, char *run_id,
		    size_t run_id_len, int *count)
{
	char *text = NULL, err[256];
	size_t len;
	json_t *doc = NULL, *tasks;
	int rc;

	rc = dtf_read_file(path, TASK_FILE_MAX, &text, &len);
	if (rc) {
		fprintf(stderr, "dtf: cannot read task file %s: %s\n", path, dtf_strerror(rc));
		return rc;
	}
	doc = dtf_json_parse(text, len, err, sizeof(err));
	free(text);
	if (!doc) {
		fprintf(stderr, "dtf: %s: %s\n", path, err);
		return DTF_EPARSE;
	}
	tasks = json_is_array(doc) ? doc : json_object_get(doc, "tasks");
	if (!json_is_array(tasks)) {
		if (json_is_object(doc) &&
		    (json_object_get(doc, "command") || json_object_get(doc, "shell"))) {
			tasks = json_pack("[O]", doc);
			json_decref(doc);
			doc = tasks;
		} else {
			fprintf(stderr, "dtf: %s: expected a list of tasks or {\"tasks\": [...]}\n",
				path);
			json_decref(doc);
			return DTF_EPARSE;
		}
	}
	rc =
	    cli_submit_tasks(c, tasks, run_name ? run_name : path, NULL, run_id, run_id_len, count);
	if (rc)
		fprintf(stderr, "dtf: submitting %s failed: %s\n", path, c->error);
	json_decref(doc);
	return rc;
}

static void progress(bool tty, const struct run_counts *k, double elapsed, bool final)
{
	int done = k->completed + k->failed + k->cancelled;

	if (tty) {
		int width = 30, fill = k->total ? done * width / k->total : width, i;
		char bar[64];
		for (i = 0; i < width; i++)
			bar[i] = i < fill ? '#' : '-';
		bar[width] = '\0';
		fprintf(
		    stderr,
		    "\r[%s] %d/%d tasks  passed %d  failed %d  cancelled %d  running %d  pending "
		    "%d  %.0fs%s",
		    bar, done, k->total, k->completed, k->failed, k->cancelled, k->running,
		    k->pending, elapsed, final ? "\n" : "  ");
	} else {
		fprintf(
		    stderr,
		    "progress: %d/%d tasks done, %d passed, %d failed, %d cancelled, %d running, "
		    "%d pending\n",
		    done, k->total, k->completed, k->failed, k->cancelled, k->running, k->pending);
	}
}

void cli_read_counts(const json_t *s, struct run_counts *out)
{
	out->total = (int)dtf_json_int(s, "total", 0);
	out->completed = (int)dtf_json_int(s, "completed", 0);
	out->failed = (int)dtf_json_int(s, "failed", 0);
	out->cancelled = (int)dtf_json_int(s, "cancelled", 0);
	out->pending = (int)dtf_json_int(s, "pending", 0);
	out->running = (int)dtf_json_int(s, "running", 0) + (int)dtf_json_int(s, "assigned", 0);
	out->unschedulable = (int)dtf_json_int(s, "unschedulable", 0);
}

int cli_wait_run(struct dtf_http_client *c, const char *run_id, double timeout_s,
		 bool cancel_unschedulable, bool quiet, struct run_counts *out,
		 struct cli_unsched *unsched)
{
	char path[256];
	int64_t start = dtf_mono_ms(), last_print = 0;
	bool tty = isatty(2);
	int last_done = -1, rc = 0;
	long long last_blocked = 0;
	int64_t last_blocked_print = 0;
	int polls = 0;

	/* The coordinator holds the request until the run is done or wait_s has passed, so the
	 * end is seen at once; wait_s also paces the progress display. Against a coordinator
	 * that answers at once, the 50 ms pause below paces the loop. */
	memset(out, 0, sizeof(*out));
	for (;;) {
		json_t *s = NULL;
		int64_t now = dtf_mono_ms();
		double elapsed = (double)(now - start) / 1000.0;
		/* Blocked tasks are looked at every half second when they are to be skipped. */
		double wait = quiet && !cancel_unschedulable ? 5
			      : tty || cancel_unschedulable  ? 0.5
							     : 2;
		int done;

		/* The first look is not held, so an unschedulable task's clock starts at once. */
		if (unsched && unsched->timeout_s > 0 && polls == 0)
			wait = 0;
		else if (unsched && cli_unsched_next_s(unsched) >= 0 &&
			 cli_unsched_next_s(unsched) + 0.05 < wait)
			wait = cli_unsched_next_s(unsched) + 0.05;
		if (timeout_s > 0 && timeout_s - elapsed < wait)
			wait = timeout_s - elapsed > 0.05 ? timeout_s - elapsed : 0.05;
		snprintf(path, sizeof(path), "/api/v1/runs/%s/summary?wait_s=%.2f", run_id, wait);

		rc = dtf_http_call(c, "GET", path, NULL, 20000, &s);
		polls++;
		if (rc == DTF_ENET || rc == DTF_ETIMEOUT) {
			/* The coordinator may be restarting: keep waiting. */
			if (timeout_s > 0 && elapsed > timeout_s)
				return DTF_ETIMEOUT;
			usleep(500 * 1000);
			continue;
		}
		if (rc) {
			fprintf(stderr, "dtf: %s\n", c->error);
			return rc;
		}
		cli_read_counts(s, out);
		done = out->completed + out->failed + out->cancelled;
		if (!quiet && (done != last_done || now - last_print > 5000)) {
			progress(tty, out, elapsed, false);
			last_done = done;
			last_print = now;
		}
		if (unsched && cli_unsched_check(unsched, c, run_id, s, quiet) > 0) {
			json_decref(s);
			continue;
		}
		{
			json_t *blocked = json_object_get(s, "blocked");
			long long nblocked = dtf_json_int(s, "blocked_count", 0);
			size_t i;
			json_t *e;
			if (cancel_unschedulable && nblocked > 0 && nblocked == out->pending &&
			    out->running == 0) {
				json_array_foreach(blocked, i, e) {
					char p2[256];
					snprintf(p2, sizeof(p2),
						 "/api/v1/tasks/%s?reason=unschedulable",
						 dtf_json_str(e, "id", ""));
					/* On a terminal, end the progress line first, once. */
					if (!quiet)
						fprintf(stderr, "%sskipping %s: %s\n",
							tty && i == 0 ? "\n" : "",
							dtf_json_str(e, "name", ""),
							dtf_json_str(e, "reason", ""));
					dtf_http_call(c, "DELETE", p2, NULL, 10000, NULL);
				}
				json_decref(s);
				continue;
			}
			if (!cancel_unschedulable && !quiet && nblocked > 0 &&
			    (nblocked != last_blocked || now - last_blocked_print > 30000)) {
				last_blocked = nblocked;
				last_blocked_print = now;
				json_array_foreach(blocked, i, e)
					fprintf(stderr, "%sblocked: %s (%s): %s\n",
						tty && i == 0 ? "\n" : "",
						dtf_json_str(e, "name", ""),
						dtf_json_str(e, "id", ""),
						dtf_json_str(e, "reason", ""));
			}
		}
		if (dtf_json_bool(s, "done", false)) {
			json_decref(s);
			if (!quiet && tty)
				progress(tty, out, elapsed, true);
			return 0;
		}
		json_decref(s);
		if (timeout_s > 0 && elapsed > timeout_s) {
			if (!quiet && tty)
				fputc('\n', stderr);
			return DTF_ETIMEOUT;
		}
		usleep(50 * 1000);
	}
}

int cli_export_run(struct dtf_http_client *c, const char *run_id, const char *format,
		   const char *path)
{
	char p[512];
	int rc;

	snprintf(p, sizeof(p), "/api/v1/runs/%s/export?format=%s", run_id, format);
	rc = dtf_http_call(c, "GET", p, NULL, 120000, NULL);
	if (rc) {
		fprintf(stderr, "dtf: export failed: %s\n", c->error);
		return rc;
	}
	rc = dtf_write_file(path, c->body.data ? c->body.data : "", c->body.len);
	if (rc)
		fprintf(stderr, "dtf: cannot write %s\n", path);
	return rc;
}

bool cli_parse_long(const char *cmd, const char *flag, const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "dtf %s: %s wants a whole number from %ld to %ld\n", cmd, flag, min,
			max);
		return false;
	}
	*out = v;
	return true;
}
