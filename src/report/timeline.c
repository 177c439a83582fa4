/* timeline.c: the run timeline (timeline.h): attempts read from task documents, packed into
 * lanes per worker slot, drawn as SVG; and the HTML escaper that the dashboard, the timeline and
 * the HTML report share. */
#include "report/timeline.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "report/view.h"

/* ---- escaping ---- */

const char *report_html_rep(uint32_t cp, char tmp[8])
{
	(void)tmp;
	if (report_markup_ref(cp))
		return report_markup_ref(cp);
	if (cp == '\'')
		return "&#39;";
	return (cp < 0x20 && cp != '\t' && cp != '\n') || cp == 0x7f ? "" : NULL;
}

int dtf_html_escape_cap(struct dtf_buf *b, const char *s, size_t cap)
{
	if (!s)
		return 0;
	return report_escape(b, s, strlen(s), cap, report_html_rep);
}

int dtf_html_escape(struct dtf_buf *b, const char *s)
{
	return dtf_html_escape_cap(b, s, SIZE_MAX);
}

/* ---- attempts ---- */

void dtf_timeline_init(struct dtf_timeline *tl, int64_t now_ms)
{
	memset(tl, 0, sizeof(*tl));
	tl->now_ms = now_ms;
}

void dtf_timeline_release(struct dtf_timeline *tl)
{
	size_t i;

	for (i = 0; i < tl->n; i++)
		free(tl->a[i].task_id);
	free(tl->a);
	free(tl->lanes);
	memset(tl, 0, sizeof(*tl));
}

int dtf_timeline_add(struct dtf_timeline *tl, const char *task_id, const char *name,
		     const char *worker, int attempt, int slot, int64_t start_ms, int64_t end_ms,
		     const char *outcome)
{
	struct dtf_timeline_attempt *a;
	size_t l1, l2, l3, l4;
	char *p;

	task_id = task_id ? task_id : "";
	name = name ? name : "";
	worker = worker ? worker : "";
	outcome = outcome ? outcome : "unknown";
	if (tl->n == tl->cap) {
		size_t cap = tl->cap ? tl->cap * 2 : 64;
		struct dtf_timeline_attempt *na = realloc(tl->a, cap * sizeof(*na));
		if (!na)
			return DTF_ENOMEM;
		tl->a = na;
		tl->cap = cap;
	}
	l1 = strlen(task_id) + 1;
	l2 = strlen(name) + 1;
	l3 = strlen(worker) + 1;
	l4 = strlen(outcome) + 1;
	p = malloc(l1 + l2 + l3 + l4);
	if (!p)
		return DTF_ENOMEM;
	a = &tl->a[tl->n++];
	a->task_id = memcpy(p, task_id, l1);
	a->name = memcpy(p + l1, name, l2);
	a->worker = memcpy(p + l1 + l2, worker, l3);
	a->outcome = memcpy(p + l1 + l2 + l3, outcome, l4);
	a->attempt = attempt;
	a->slot = slot;
	a->start_ms = start_ms;
	a->end_ms = end_ms < start_ms ? start_ms : end_ms;
	a->lane = -1;
	free(tl->lanes);
	tl->lanes = NULL;
	tl->nlanes = 0;
	return 0;
}

static bool time_of(json_t *obj, const char *key, int64_t *ms)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s && dtf_parse_rfc3339(s, ms) == 0;
}

/* What an attempt's bar shows: whose fault its end was (see timeline.h). */
static const char *attempt_outcome(const char *outcome, const char *kind)
{
	if (strcmp(outcome, "passed") == 0)
		return "passed";
	if (kind && strcmp(kind, "timeout") == 0)
		return "timeout";
	if (!kind || strcmp(kind, "exit_code") == 0 || strcmp(kind, "signal") == 0 ||
	    strcmp(kind, "test_failures") == 0)
		return "failed";
	return "error";
}

int dtf_timeline_add_task(struct dtf_timeline *tl, json_t *task)
{
	const char *id = json_string_value(json_object_get(task, "id"));
	const char *name = json_string_value(json_object_get(task, "name"));
	const char *status = json_string_value(json_object_get(task, "status"));
	json_t *hist = json_object_get(task, "history"), *h;
	size_t i, nh = json_array_size(hist);
	int64_t start, end;
	int rc;

	json_array_foreach(hist, i, h) {
		const char *outcome = json_string_value(json_object_get(h, "outcome"));
		if (!outcome || !time_of(h, "finished_at", &end))
			continue;
		if (!time_of(h, "started_at", &start) && !time_of(h, "assigned_at", &start)) {
			/* Recorded before attempts kept their start: the last one's duration
			 * is the result's. */
			double d = json_number_value(
			    json_object_get(json_object_get(task, "result"), "duration_s"));
			start = i + 1 == nh && d > 0 ? end - (int64_t)(d * 1000.0) : end;
		}
		rc = dtf_timeline_add(
		    tl, id, name, json_string_value(json_object_get(h, "worker_id")),
		    (int)json_integer_value(json_object_get(h, "attempt")),
		    json_is_integer(json_object_get(h, "slot"))
			? (int)json_integer_value(json_object_get(h, "slot"))
			: -1,
		    start, end,
		    attempt_outcome(outcome, json_string_value(json_object_get(h, "error_kind"))));
		if (rc)
			return rc;
	}
	if (status && (strcmp(status, "running") == 0 || strcmp(status, "assigned") == 0) &&
	    (time_of(task, "started_at", &start) || time_of(task, "assigned_at", &start)))
		return dtf_timeline_add(
		    tl, id, name, json_string_value(json_object_get(task, "worker_id")),
		    (int)json_integer_value(json_object_get(task, "attempt")), -1, start,
		    tl->now_ms > start ? tl->now_ms : start, "running");
	return 0;
}

/* ---- lanes ---- */

static int by_worker_start(const void *x, const void *y)
{
	const struct dtf_timeline_attempt *a = *(const struct dtf_timeline_attempt *const *)x;
	const struct dtf_timeline_attempt *b = *(const struct dtf_timeline_attempt *const *)y;
	int c = strcmp(a->worker, b->worker);

	if (c)
		return c;
	if (a->start_ms != b->start_ms)
		return a->start_ms < b->start_ms ? -1 : 1;
	if (a->end_ms != b->end_ms)
		return a->end_ms < b->end_ms ? -1 : 1;
	return (a > b) - (a < b);
}

int dtf_timeline_pack(struct dtf_timeline *tl)
{
	struct dtf_timeline_attempt **order = NULL;
	int64_t *ends = NULL; /* per slot of the current worker: when its last attempt ends */
	size_t nends = 0, capends = 0, i, j, first = 0, lcap = 0;
	int rc = DTF_ENOMEM;

	free(tl->lanes);
	tl->lanes = NULL;
	tl->nlanes = 0;
	if (tl->n == 0)
		return 0;
	order = malloc(tl->n * sizeof(*order));
	if (!order)
		goto out;
	for (i = 0; i < tl->n; i++)
		order[i] = &tl->a[i];
	qsort(order, tl->n, sizeof(*order), by_worker_start);
	for (i = 0; i <= tl->n; i++) {
		struct dtf_timeline_attempt *a = i < tl->n ? order[i] : NULL;
		size_t slot;

		if (i > first && (!a || strcmp(a->worker, order[first]->worker) != 0)) {
			/* The worker's attempts are placed: its lanes in slot order. */
			if (tl->nlanes + nends > lcap) {
				size_t nc = (tl->nlanes + nends) * 2;
				struct dtf_timeline_lane *nl = realloc(tl->lanes, nc * sizeof(*nl));
				if (!nl)
					goto out;
				tl->lanes = nl;
				lcap = nc;
			}
			for (j = first; j < i; j++)
				order[j]->lane += (int)tl->nlanes;
			for (j = 0; j < nends; j++) {
				tl->lanes[tl->nlanes].worker = order[first]->worker;
				tl->lanes[tl->nlanes++].slot = (int)j;
			}
			nends = 0;
			first = i;
		}
		if (!a)
			break;
		if (a->slot >= 0 && a->slot < 4096) {
			slot = (size_t)a->slot;
		} else {
			/* The lowest slot free when the attempt starts. */
			for (slot = 0; slot < nends && ends[slot] > a->start_ms; slot++)
				;
		}
		if (slot >= capends) {
			size_t nc = slot * 2 + 8;
			int64_t *ne = realloc(ends, nc * sizeof(*ne));
			if (!ne)
				goto out;
			ends = ne;
			capends = nc;
		}
		while (nends <= slot)
			ends[nends++] = INT64_MIN;
		if (a->end_ms > ends[slot])
			ends[slot] = a->end_ms;
		a->lane = (int)slot;
	}
	rc = 0;
out:
	if (rc) {
		free(tl->lanes);
		tl->lanes = NULL;
		tl->nlanes = 0;
	}
	free(order);
	free(ends);
	return rc;
}

/* ---- drawing ---- */

#define SVG_W	   1100
#define SVG_LABEL  180 /* the lane labels' column */
#define SVG_RIGHT  16
#define SVG_TOP	   30 /* the caption and the axis labels */
#define SVG_LANE_H 16
#define SVG_BAR_H  12

static const char *outcome_color(const char *o)
{
	if (strcmp(o, "passed") == 0)
		return "#2e7d32";
	if (strcmp(o, "failed") == 0)
		return "#c62828";
	if (strcmp(o, "timeout") == 0)
		return "#ef6c00";
	if (strcmp(o, "error") == 0)
		return "#6a1b9a";
	if (strcmp(o, "running") == 0)
		return "#1565c0";
	return "#9e9e9e";
}

/* A time in seconds for the axis and the titles: "850ms", "12.3s", "2m 05s", "1h 02m". */
static void fmt_secs(double s, char out[32])
{
	if (s < 1.0)
		snprintf(out, 32, "%.0fms", s * 1000.0);
	else if (s < 60.0)
		snprintf(out, 32, "%.*fs", s < 10.0 ? 2 : 1, s);
	else if (s < 3600.0)
		snprintf(out, 32, "%dm %02ds", (int)(s / 60), (int)s % 60);
	else
		snprintf(out, 32, "%dh %02dm", (int)(s / 3600), (int)s / 60 % 60);
}

static int by_start(const void *x, const void *y)
{
	const struct dtf_timeline_attempt *a = *(const struct dtf_timeline_attempt *const *)x;
	const struct dtf_timeline_attempt *b = *(const struct dtf_timeline_attempt *const *)y;

	if (a->start_ms != b->start_ms)
		return a->start_ms < b->start_ms ? -1 : 1;
	return (a > b) - (a < b);
}

int dtf_timeline_svg(struct dtf_timeline *tl, struct dtf_buf *out, const char *id, int link_tasks)
{
	struct dtf_timeline_attempt **order = NULL;
	int64_t t0 = INT64_MAX, t1 = INT64_MIN;
	double span, plot = SVG_W - SVG_LABEL - SVG_RIGHT, step, busy = 0;
	size_t i, ndraw;
	int rc, h;
	char a[32], b[32];
	static const double steps[] = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05,  0.1,   0.2,  0.5,
				       1,     2,     5,	    10,	  15,	30,    60,    120,  300,
				       600,   900,   1800,  3600, 7200, 14400, 43200, 86400};

	if (!tl->lanes && tl->n && (rc = dtf_timeline_pack(tl)) != 0)
		return rc;
	h = SVG_TOP + (int)tl->nlanes * SVG_LANE_H + 8;
	rc = dtf_buf_adds(out, "<svg");
	if (!rc && id)
		rc = dtf_buf_adds(out, " id=\"") || dtf_html_escape(out, id) ||
		     dtf_buf_adds(out, "\"");
	if (!rc)
		rc = dtf_buf_printf(out,
				    " class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" "
				    "viewBox=\"0 0 %d %d\" width=\"100%%\" role=\"img\" "
				    "font-family=\"sans-serif\" font-size=\"11\" "
				    "aria-label=\"Run timeline\" data-attempts=\"%zu\" "
				    "data-lanes=\"%zu\">\n",
				    SVG_W, h, tl->n, tl->nlanes);
	if (rc)
		return rc;
	if (tl->n == 0)
		return dtf_buf_printf(out, "<text class=\"caption\" x=\"0\" y=\"16\">No attempt "
					   "has started yet.</text>\n</svg>\n");
	for (i = 0; i < tl->n; i++) {
		if (tl->a[i].start_ms < t0)
			t0 = tl->a[i].start_ms;
		if (tl->a[i].end_ms > t1)
			t1 = tl->a[i].end_ms;
		busy += (double)(tl->a[i].end_ms - tl->a[i].start_ms);
	}
	span = (double)(t1 - t0) / 1000.0;
	if (span <= 0)
		span = 0.001;
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]) - 1 && span / steps[i] > 10; i++)
		;
	step = steps[i];
	fmt_secs(span, a);
	rc = dtf_buf_printf(out,
			    "<text class=\"caption\" x=\"0\" y=\"11\">Makespan %s from the first "
			    "start to the last end; %zu attempt%s on %zu lane%s, busy %.0f%% of "
			    "the lanes' time",
			    a, tl->n, tl->n == 1 ? "" : "s", tl->nlanes, tl->nlanes == 1 ? "" : "s",
			    tl->nlanes ? 100.0 * busy / ((double)tl->nlanes * span * 1000.0) : 0.0);
	if (!rc && tl->n > DTF_TIMELINE_MAX_RECTS)
		rc = dtf_buf_printf(out, "; only the first %d are drawn (%zu left out)",
				    DTF_TIMELINE_MAX_RECTS, tl->n - DTF_TIMELINE_MAX_RECTS);
	if (!rc)
		rc = dtf_buf_adds(out, ".</text>\n");
	/* Lanes: a stripe and a label each. */
	for (i = 0; !rc && i < tl->nlanes; i++) {
		int y = SVG_TOP + (int)i * SVG_LANE_H;
		rc =
		    dtf_buf_printf(out,
				   "<rect class=\"lane\" x=\"%d\" y=\"%d\" width=\"%.0f\" "
				   "height=\"%d\" fill=\"%s\"/><text class=\"lane-label\" x=\"%d\" "
				   "y=\"%d\" text-anchor=\"end\">",
				   SVG_LABEL, y, plot, SVG_LANE_H, i % 2 ? "#ffffff" : "#f3f5f7",
				   SVG_LABEL - 6, y + SVG_LANE_H - 4) ||
		    dtf_html_escape_cap(out, tl->lanes[i].worker[0] ? tl->lanes[i].worker : "?",
					40) ||
		    dtf_buf_printf(out, " #%d</text>\n", tl->lanes[i].slot + 1);
	}
	/* The axis: a tick and a label every step seconds. */
	for (i = 0; !rc && (double)i * step <= span + 1e-9 && i < 1000; i++) {
		double x = SVG_LABEL + plot * ((double)i * step) / span;
		fmt_secs((double)i * step, b);
		rc = dtf_buf_printf(
		    out,
		    "<line class=\"tick\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" "
		    "stroke=\"#cfd8dc\"/><text class=\"tick-label\" x=\"%.1f\" "
		    "y=\"%d\" text-anchor=\"middle\" fill=\"#546e7a\">%s</text>\n",
		    x, x, SVG_TOP - 4, h - 8, x, SVG_TOP - 8, i ? b : "0");
	}
	if (rc)
		return rc;
	/* The bars, earliest first, so that a capped picture keeps the start of the run. */
	order = malloc(tl->n * sizeof(*order));
	if (!order)
		return DTF_ENOMEM;
	for (i = 0; i < tl->n; i++)
		order[i] = &tl->a[i];
	qsort(order, tl->n, sizeof(*order), by_start);
	ndraw = tl->n > DTF_TIMELINE_MAX_RECTS ? DTF_TIMELINE_MAX_RECTS : tl->n;
	for (i = 0; !rc && i < ndraw; i++) {
		const struct dtf_timeline_attempt *at = order[i];
		double x = SVG_LABEL + plot * (double)(at->start_ms - t0) / (span * 1000.0);
		double w = plot * (double)(at->end_ms - at->start_ms) / (span * 1000.0);
		int y = SVG_TOP + at->lane * SVG_LANE_H + (SVG_LANE_H - SVG_BAR_H) / 2;

		fmt_secs((double)(at->end_ms - at->start_ms) / 1000.0, a);
		fmt_secs((double)(at->start_ms - t0) / 1000.0, b);
		if (link_tasks)
			rc = dtf_buf_adds(out, "<a href=\"/tasks/") ||
			     dtf_html_escape(out, at->task_id) || dtf_buf_adds(out, "\">");
		rc = rc || dtf_buf_adds(out, "<rect class=\"attempt\" data-task-id=\"") ||
		     dtf_html_escape(out, at->task_id) || dtf_buf_adds(out, "\" data-outcome=\"") ||
		     dtf_html_escape(out, at->outcome) ||
		     dtf_buf_printf(out,
				    "\" data-attempt=\"%d\" data-lane=\"%d\" x=\"%.2f\" y=\"%d\" "
				    "width=\"%.2f\" "
				    "height=\"%d\" fill=\"%s\"><title>",
				    at->attempt, at->lane, x, y, w < 0.5 ? 0.5 : w, SVG_BAR_H,
				    outcome_color(at->outcome)) ||
		     dtf_html_escape_cap(out, at->name[0] ? at->name : at->task_id, 300) ||
		     dtf_buf_printf(out, ": %s in ", a) || dtf_html_escape(out, at->outcome) ||
		     dtf_buf_printf(out, " (attempt %d, from +%s on ", at->attempt, b) ||
		     dtf_html_escape_cap(out, at->worker, 80) ||
		     dtf_buf_printf(out, " #%d)</title></rect>%s\n",
				    tl->lanes ? tl->lanes[at->lane].slot + 1 : 0,
				    link_tasks ? "</a>" : "");
	}
	free(order);
	if (!rc)
		rc = dtf_buf_adds(out, "</svg>\n");
	/* The chains above give 1 for any failure of the buffer, which only memory makes. */
	return rc > 0 ? DTF_ENOMEM : rc;
}
