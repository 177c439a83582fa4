/* internal.h: what the files of src/dashboard/ share: the page shell (headers, the
 * Content-Security-Policy and its style nonce, the head and the navigation), the escaping and URL
 * helpers, and the handlers of each file. */
#ifndef DTF_DASHBOARD_INTERNAL_H
#define DTF_DASHBOARD_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "common/buf.h"
#include "net/http.h"

/* Rows of a run's task table at most; past it the page says how many were left out. */
#define DASH_MAX_TASK_ROWS 20000
/* Runs on the overview (the latest) and pending tasks listed there (the first). */
#define DASH_MAX_RUNS	 50
#define DASH_MAX_PENDING 50
/* Bytes of a task's output shown (its end). */
#define DASH_MAX_OUTPUT (256u << 10)

/* Starts an HTML page in r->resp: status 200, the security headers (dash_headers) and
 * <html><head>…<body data-page=page>, with the run and task ids (NULL: none) as data-run-id and
 * data-task-id for the script. 0 or a DTF_E* code. */
int dash_page_begin(struct dtf_http_req *r, const char *title, const char *page, const char *run_id,
		    const char *task_id);
/* Ends the page: the script and </html>. */
int dash_page_end(struct dtf_http_req *r);
/* Sets the headers every dashboard reply carries: the Content-Security-Policy (with the style
 * nonce it writes into nonce when not NULL, 17 bytes), nosniff, no referrer, no caching, no
 * framing. */
void dash_headers(struct dtf_http_req *r, char *nonce);
/* Replies with an HTML error page (status, message escaped). */
void dash_error(struct dtf_http_req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends s percent-encoded for a URL path segment or query value (unreserved characters kept),
 * then escaped for an attribute. */
int dash_url_part(struct dtf_buf *b, const char *s);
/* The status a task row shows and filters on: "passed" for completed, "skipped" for a task
 * cancelled because no worker could run it, else the task's status. */
const char *dash_task_status(json_t *task);
/* The run's state for people: "running" while tasks are unfinished, then "passed", "failed",
 * "incomplete" or "empty" from the test counts of its summary (core_run_summary). */
const char *dash_run_state(json_t *summary);
/* A task's duration in seconds: its result's duration_s, else from started_at to finished_at;
 * negative when unknown. */
double dash_task_duration(json_t *task);
/* "1.23s", "2m 05s". */
void dash_fmt_secs(double s, char out[32]);

/* pages.c */
void dash_h_overview(struct dtf_http_req *r);
void dash_h_run(struct dtf_http_req *r);
void dash_h_run_timeline(struct dtf_http_req *r);
void dash_h_task(struct dtf_http_req *r);
void dash_h_live(struct dtf_http_req *r);

/* auth.c */
void dash_h_login_form(struct dtf_http_req *r);
void dash_h_login(struct dtf_http_req *r);
void dash_h_logout(struct dtf_http_req *r);
/* The value of field name in an application/x-www-form-urlencoded body, decoded into out (len
 * bytes with its NUL); false when absent, longer than out or not valid (a bad %XX, a NUL). */
bool dash_form_value(const char *body, size_t body_len, const char *name, char *out, size_t len);

#endif
