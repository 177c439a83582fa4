/* pushgateway.c: a run's metrics in the exposition format and their push (pushgateway.h). */
#include "ci/pushgateway.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ci/http.h"
#include "common/err.h"
#include "common/json.h"
#include "common/prom.h"
#include "common/testcount.h"

int ci_push_metrics(struct dtf_buf *out, const struct ci_push_run *run)
{
	struct dtf_prom pm;
	int i;

	dtf_prom_init(&pm, out);
	dtf_prom_family(
	    &pm, "dtf_run_tests", DTF_PROM_GAUGE,
	    "Test cases of the run by status (a task without test cases counts as one).");
	for (i = 0; i < DTF_TEST__COUNT; i++) {
		const char *name = dtf_test_status_name((enum dtf_test_status)i);
		dtf_prom_sample(&pm, NULL, DTF_PROM_LABELS("status", name),
				(double)dtf_json_int(run->summary, name, 0));
	}
	dtf_prom_single(&pm, "dtf_run_tasks", DTF_PROM_GAUGE, "Tasks of the run.",
			(double)run->tasks);
	dtf_prom_single(&pm, "dtf_run_duration_seconds", DTF_PROM_GAUGE,
			"Wall time of the run, from the command's start to its end.",
			run->duration_s);
	dtf_prom_single(
	    &pm, "dtf_run_exit_status", DTF_PROM_GAUGE,
	    "Exit status of the command (0 success, 1 failed tests, 2 error, 3 timeout).",
	    run->exit_status);
	dtf_prom_single(&pm, "dtf_run_success", DTF_PROM_GAUGE, "1 when the run succeeded, else 0.",
			run->exit_status == 0 ? 1 : 0);
	dtf_prom_single(&pm, "dtf_run_completion_timestamp_seconds", DTF_PROM_GAUGE,
			"Unix time the run ended.", run->end_time_s);
	return dtf_prom_end(&pm);
}

/* base64url (RFC 4648 §5) with padding, as the Pushgateway decodes it. */
static int add_base64url(struct dtf_buf *out, const char *s)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i;
	int rc = 0;

	if (len == 0) /* the Pushgateway's spelling of an empty value */
		return dtf_buf_adds(out, "=");
	for (i = 0; i + 2 < len && !rc; i += 3) {
		char q[4] = {tab[p[i] >> 2], tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)],
			     tab[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)], tab[p[i + 2] & 63]};
		rc = dtf_buf_add(out, q, 4);
	}
	if (!rc && len - i == 1) {
		char q[4] = {tab[p[i] >> 2], tab[(p[i] & 3) << 4], '=', '='};
		rc = dtf_buf_add(out, q, 4);
	} else if (!rc && len - i == 2) {
		char q[4] = {tab[p[i] >> 2], tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)],
			     tab[(p[i + 1] & 15) << 2], '='};
		rc = dtf_buf_add(out, q, 4);
	}
	return rc;
}

static int add_label(struct dtf_buf *out, const char *name, const char *value)
{
	int rc;

	if (!*value || strchr(value, '/')) {
		rc = dtf_buf_printf(out, "/%s@base64/", name);
		return rc ? rc : add_base64url(out, value);
	}
	rc = dtf_buf_printf(out, "/%s/", name);
	return rc ? rc : ci_urlencode(value, out);
}

int ci_push_path(struct dtf_buf *out, const char *job, const char *const *grouping)
{
	int rc = dtf_buf_adds(out, "/metrics");

	if (!rc)
		rc = add_label(out, "job", job);
	for (; !rc && grouping && grouping[0] && grouping[1]; grouping += 2)
		rc = add_label(out, grouping[0], grouping[1]);
	return rc;
}

int ci_push(const char *base_url, const char *job, const char *const *grouping, const char *text,
	    size_t len, char *err, size_t errlen)
{
	struct ci_http h;
	struct dtf_buf path;
	int rc;

	dtf_buf_init(&path, 4096);
	rc = ci_http_init(&h, base_url, NULL);
	if (rc) {
		snprintf(err, errlen, "pushgateway %s: not an http:// or https:// URL", base_url);
		goto out;
	}
	rc = ci_push_path(&path, job, grouping);
	if (rc) {
		snprintf(err, errlen, "pushgateway %s: the grouping key is too long", base_url);
		goto out;
	}
	rc = ci_http_request(&h, "PUT", dtf_buf_str(&path), "text/plain; version=0.0.4", text, len,
			     NULL);
	if (rc)
		snprintf(err, errlen, "pushgateway %s%s: %s", h.base, dtf_buf_str(&path), h.error);
out:
	ci_http_release(&h);
	dtf_buf_release(&path);
	return rc;
}
