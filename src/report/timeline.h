/* timeline.h: the run timeline, an SVG picture of where a run's time went: one lane per worker
 * slot, one bar per attempt (retried attempts included) colored by its outcome, with a time axis.
 * The coordinator's dashboard (src/dashboard/) and the HTML report (html.c) both draw it from the
 * attempts they read from task documents. Also the one HTML escaper both use for every text that
 * comes from a run (names, ids, error messages), in text, attributes and SVG alike. */
#ifndef DTF_REPORT_TIMELINE_H
#define DTF_REPORT_TIMELINE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Attempts drawn at most; past it the rest are left out and the picture says how many. */
#define DTF_TIMELINE_MAX_RECTS 20000

/* Appends s escaped for HTML text and double-quoted or single-quoted attributes (in SVG too):
 * & < > " ' become character references, control characters other than tab and newline are
 * dropped and bytes that are not UTF-8 become U+FFFD. NULL appends nothing. 0 or DTF_ENOMEM,
 * DTF_ETOOBIG past the buffer's cap. */
int dtf_html_escape(struct dtf_buf *b, const char *s);
/* The same for at most cap bytes of s (cut on a character boundary with "…"). */
int dtf_html_escape_cap(struct dtf_buf *b, const char *s, size_t cap);

struct dtf_timeline_attempt {
	char *task_id, *name, *worker, *outcome; /* owned (one allocation, task_id first) */
	int attempt;				 /* the task's attempt number, 1…; 0 unknown */
	int slot;	  /* the worker's slot when recorded, 0-based; -1 when not */
	int64_t start_ms; /* wall clock */
	int64_t end_ms;	  /* wall clock; >= start_ms */
	int lane;	  /* filled in by dtf_timeline_pack */
};

struct dtf_timeline_lane {
	const char *worker; /* borrowed from an attempt */
	int slot;	    /* 0-based */
};

struct dtf_timeline {
	struct dtf_timeline_attempt *a;
	size_t n, cap;
	struct dtf_timeline_lane *lanes; /* after dtf_timeline_pack: by worker id, then slot */
	size_t nlanes;
	int64_t now_ms; /* the end of an attempt still running (the caller's clock) */
};

void dtf_timeline_init(struct dtf_timeline *tl, int64_t now_ms);
void dtf_timeline_release(struct dtf_timeline *tl);
/* Adds an attempt (the strings are copied; NULL name or worker as ""; NULL outcome as "unknown").
 * An end before the start is taken as the start. 0 or DTF_ENOMEM. */
int dtf_timeline_add(struct dtf_timeline *tl, const char *task_id, const char *name,
		     const char *worker, int attempt, int slot, int64_t start_ms, int64_t end_ms,
		     const char *outcome);
/* Adds the attempts of a task document (as GET /api/v1/tasks/{id} shows it): one per entry of its
 * "history" (its assigned_at or started_at to its finished_at; an entry without a start is drawn
 * from its end, or from the task's result.duration_s before it for the last) and, while it is
 * assigned or running, the current attempt up to now_ms. The outcome is the attempt's: "passed",
 * "timeout", "failed" (the task's own failure: exit code, signal, failing tests), "error" (the
 * infrastructure's: a lost worker, an interruption, a lease gone astray) or "running". 0 or
 * DTF_ENOMEM. */
int dtf_timeline_add_task(struct dtf_timeline *tl, json_t *task);
/* Assigns every attempt a lane: per worker, an attempt with a recorded slot goes to that slot's
 * lane, the others are packed in start order into the lowest slot free at their start (as many
 * lanes as the worker ever ran attempts at once). Lanes are ordered by worker id, then slot.
 * 0 or DTF_ENOMEM. */
int dtf_timeline_pack(struct dtf_timeline *tl);
/* Packs (if not done) and appends <svg id="..."> (id NULL: no id) with a lane per worker slot
 * labelled "worker #slot" (1-based), a <rect class="attempt" data-task-id data-outcome
 * data-attempt> per attempt with a <title> (task name, outcome, duration) and an axis in seconds
 * from the first start; a caption line gives the makespan and how busy the lanes were. With
 * link_tasks, each bar links to /tasks/ID (the dashboard). At most DTF_TIMELINE_MAX_RECTS bars,
 * the earliest; the caption says how many were left out. 0 or a DTF_E* code. */
int dtf_timeline_svg(struct dtf_timeline *tl, struct dtf_buf *out, const char *id, int link_tasks);

#endif
