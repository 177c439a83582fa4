/* pushgateway.h: pushing a finished run's metrics to a Prometheus Pushgateway, so that a
 * short-lived `dtf run` or `dtf ci` (on a CI runner nobody scrapes) shows up in Prometheus. The
 * coordinator's own /metrics stays the scrape target for long-lived coordinators.
 *
 * The push is `PUT <base>/metrics/job/dtf/run/<run id>` (Pushgateway's API: a PUT replaces every
 * metric of its grouping key), the body the text exposition format. A grouping-key value that
 * is empty or holds a '/' is sent base64url-encoded with the `@base64` suffix, as the
 * Pushgateway documents. */
#ifndef DTF_CI_PUSHGATEWAY_H
#define DTF_CI_PUSHGATEWAY_H

#include <jansson.h>
#include <stddef.h>

#include "common/buf.h"

/* What a run pushes. */
struct ci_push_run {
	const json_t *summary; /* the report's "summary": test counts by status, "total" */
	long long tasks;       /* tasks in the run */
	double duration_s;     /* wall time of the command */
	int exit_status;       /* what the command exits with (0 success) */
	double end_time_s;     /* Unix time the run ended */
};

/* Appends the run's metrics (dtf_run_tests{status}, dtf_run_tasks, dtf_run_duration_seconds,
 * dtf_run_exit_status, dtf_run_success, dtf_run_completion_timestamp_seconds) to out. */
int ci_push_metrics(struct dtf_buf *out, const struct ci_push_run *run);

/* Appends "/metrics/job/<job>/<name>/<value>..." for the grouping key (pairs name, value, ...,
 * NULL) to out, encoding each value as the Pushgateway asks. */
int ci_push_path(struct dtf_buf *out, const char *job, const char *const *grouping);

/* PUTs the exposition text to base_url under job and grouping (as ci_push_path), retrying
 * transport errors, 429 and 5xx a few times. 0, or a DTF_E* code with the cause in err
 * ("pushgateway http://…: HTTP 400: …"). */
int ci_push(const char *base_url, const char *job, const char *const *grouping, const char *text,
	    size_t len, char *err, size_t errlen);

#endif
