/* test_timeline.c: the HTML escaper and the run timeline (src/report/timeline.c): what each
 * unsafe character becomes, lanes packed per worker slot (overlaps open a lane, a free slot is
 * reused, recorded slots are kept), attempts read from task documents (retries included), and the
 * SVG: one bar per attempt with escaped names and ids. Also the dashboard's form parser. */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "dashboard/internal.h"
#include "report/timeline.h"
#include "unit_main.h"

static char *escaped(struct dtf_buf *b, const char *s)
{
	dtf_buf_reset(b);
	assert_int_equal(dtf_html_escape(b, s), 0);
	return b->data ? b->data : (char *)"";
}

static void test_escape(void **state)
{
	struct dtf_buf b;

	(void)state;
	dtf_buf_init(&b, 1 << 20);
	assert_string_equal(escaped(&b, "<img src=x onerror=alert(1)>"),
			    "&lt;img src=x onerror=alert(1)&gt;");
	assert_string_equal(escaped(&b, "a&b \"q\" 'p'"), "a&amp;b &quot;q&quot; &#39;p&#39;");
	/* Control characters go, tab and newline stay; bytes that are not UTF-8 become U+FFFD. */
	assert_string_equal(escaped(&b, "x\x01y\tz\n\x7f"), "xy\tz\n");
	assert_string_equal(escaped(&b, "bad\xff!"), "bad\xef\xbf\xbd!");
	assert_string_equal(escaped(&b, "caf\xc3\xa9 \xe2\x9c\x93"), "caf\xc3\xa9 \xe2\x9c\x93");
	dtf_buf_reset(&b);
	assert_int_equal(dtf_html_escape(&b, NULL), 0);
	assert_int_equal(b.len, 0);
	/* Cut on a character boundary, with an ellipsis. */
	dtf_buf_reset(&b);
	assert_int_equal(dtf_html_escape_cap(&b, "abcdef", 3), 0);
	assert_string_equal(b.data, "abc\xe2\x80\xa6");
	dtf_buf_release(&b);
}

static void add(struct dtf_timeline *tl, const char *task, const char *worker, int slot,
		int64_t start, int64_t end)
{
	assert_int_equal(dtf_timeline_add(tl, task, task, worker, 1, slot, start, end, "passed"),
			 0);
}

static int lane_of(struct dtf_timeline *tl, const char *task)
{
	size_t i;

	for (i = 0; i < tl->n; i++)
		if (strcmp(tl->a[i].task_id, task) == 0)
			return tl->a[i].lane;
	fail_msg("no attempt of %s", task);
	return -1;
}

static void test_pack(void **state)
{
	struct dtf_timeline tl;

	(void)state;
	dtf_timeline_init(&tl, 0);
	/* w2: three overlapping at once, then one that fits the first free slot. */
	add(&tl, "a", "w2", -1, 0, 100);
	add(&tl, "b", "w2", -1, 10, 50);
	add(&tl, "c", "w2", -1, 20, 200);
	add(&tl, "d", "w2", -1, 60, 90);   /* b's slot is free at 50 */
	add(&tl, "e", "w2", -1, 100, 150); /* a's ends at 100: back-to-back fits */
	add(&tl, "f", "w1", -1, 500, 600); /* another worker: its own lanes, listed first */
	add(&tl, "g", "w1", 2, 500, 600);  /* a recorded slot is kept */
	assert_int_equal(dtf_timeline_pack(&tl), 0);
	/* w1 has slots 0..2 (2 recorded), w2 three: six lanes, w1's first. */
	assert_int_equal(tl.nlanes, 6);
	assert_string_equal(tl.lanes[0].worker, "w1");
	assert_int_equal(tl.lanes[2].slot, 2);
	assert_string_equal(tl.lanes[3].worker, "w2");
	assert_int_equal(tl.lanes[3].slot, 0);
	assert_int_equal(lane_of(&tl, "f"), 0);
	assert_int_equal(lane_of(&tl, "g"), 2);
	assert_int_equal(lane_of(&tl, "a"), 3);
	assert_int_equal(lane_of(&tl, "b"), 4);
	assert_int_equal(lane_of(&tl, "c"), 5);
	assert_int_equal(lane_of(&tl, "d"), 4);
	assert_int_equal(lane_of(&tl, "e"), 3);
	dtf_timeline_release(&tl);

	/* Sequential attempts on one worker need one lane however many there are. */
	dtf_timeline_init(&tl, 0);
	for (int i = 0; i < 1000; i++) {
		char id[16];
		snprintf(id, sizeof(id), "t%d", i);
		add(&tl, id, "solo", -1, i * 10, i * 10 + 10);
	}
	assert_int_equal(dtf_timeline_pack(&tl), 0);
	assert_int_equal(tl.nlanes, 1);
	dtf_timeline_release(&tl);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (hay = strstr(hay, needle); hay; hay = strstr(hay + 1, needle))
		n++;
	return n;
}

static void test_from_tasks(void **state)
{
	struct dtf_timeline tl;
	struct dtf_buf b;
	json_error_t jerr;
	json_t *retried = json_loads(
	    "{\"id\": \"t-1\", \"name\": \"<img src=x onerror=alert(1)>\", \"status\": "
	    "\"completed\","
	    " \"history\": ["
	    "  {\"attempt\": 1, \"worker_id\": \"w\\\"1\", \"outcome\": \"requeued\","
	    "   \"error_kind\": \"exit_code\", \"started_at\": \"2026-01-01T00:00:00.000Z\","
	    "   \"finished_at\": \"2026-01-01T00:00:01.000Z\"},"
	    "  {\"attempt\": 2, \"worker_id\": \"w2\", \"outcome\": \"requeued\","
	    "   \"error_kind\": \"worker_lost\", \"assigned_at\": \"2026-01-01T00:00:01.500Z\","
	    "   \"finished_at\": \"2026-01-01T00:00:03.000Z\"},"
	    "  {\"attempt\": 3, \"worker_id\": \"w2\", \"outcome\": \"passed\","
	    "   \"finished_at\": \"2026-01-01T00:00:05.000Z\"}],"
	    " \"result\": {\"duration_s\": 1.5}}",
	    0, &jerr);
	json_t *running = json_loads(
	    "{\"id\": \"t-2\", \"name\": \"slow\", \"status\": \"running\", \"attempt\": 1,"
	    " \"worker_id\": \"w2\", \"started_at\": \"2026-01-01T00:00:02.000Z\"}",
	    0, &jerr);
	json_t *timeout = json_loads(
	    "{\"id\": \"t-3\", \"name\": \"t\", \"status\": \"failed\", \"history\": ["
	    " {\"attempt\": 1, \"worker_id\": \"w2\", \"outcome\": \"failed\", \"error_kind\": "
	    "\"timeout\", \"started_at\": \"2026-01-01T00:00:00.000Z\", \"finished_at\": "
	    "\"2026-01-01T00:00:00.500Z\"}]}",
	    0, &jerr);
	int64_t now = 0;

	(void)state;
	assert_non_null(retried);
	assert_non_null(running);
	assert_non_null(timeout);
	assert_int_equal(dtf_parse_rfc3339("2026-01-01T00:00:06.000Z", &now), 0);
	dtf_timeline_init(&tl, now);
	assert_int_equal(dtf_timeline_add_task(&tl, retried), 0);
	assert_int_equal(dtf_timeline_add_task(&tl, running), 0);
	assert_int_equal(dtf_timeline_add_task(&tl, timeout), 0);
	assert_int_equal(tl.n, 5);
	assert_string_equal(tl.a[0].outcome, "failed");
	assert_string_equal(tl.a[1].outcome, "error");
	assert_string_equal(tl.a[2].outcome, "passed");
	assert_string_equal(tl.a[3].outcome, "running");
	assert_string_equal(tl.a[4].outcome, "timeout");
	/* The start of an attempt without one is the last result's duration before its end. */
	assert_int_equal(tl.a[2].end_ms - tl.a[2].start_ms, 1500);
	assert_int_equal(tl.a[1].end_ms - tl.a[1].start_ms, 1500);
	assert_int_equal(tl.a[3].end_ms, now);

	dtf_buf_init(&b, 1 << 20);
	assert_int_equal(dtf_timeline_svg(&tl, &b, "timeline", 1), 0);
	assert_int_equal(count(b.data, "<rect class=\"attempt\""), 5);
	assert_int_equal(count(b.data, "data-task-id=\"t-1\""), 3);
	assert_non_null(strstr(b.data, "<svg id=\"timeline\""));
	assert_non_null(strstr(b.data, "&lt;img src=x onerror=alert(1)&gt;"));
	assert_null(strstr(b.data, "<img"));
	/* The worker id with a quote, escaped in the lane label. */
	assert_non_null(strstr(b.data, "w&quot;1 #1</text>"));
	assert_null(strstr(b.data, "w\"1"));
	assert_non_null(strstr(b.data, "data-outcome=\"timeout\""));
	assert_non_null(strstr(b.data, "<a href=\"/tasks/t-2\">"));
	dtf_buf_release(&b);
	dtf_timeline_release(&tl);

	/* No attempt: a picture that says so, no bar. */
	dtf_timeline_init(&tl, now);
	dtf_buf_init(&b, 1 << 20);
	assert_int_equal(dtf_timeline_svg(&tl, &b, NULL, 0), 0);
	assert_int_equal(count(b.data, "class=\"attempt\""), 0);
	dtf_buf_release(&b);
	dtf_timeline_release(&tl);
	json_decref(retried);
	json_decref(running);
	json_decref(timeout);
}

/* Past DTF_TIMELINE_MAX_RECTS attempts the earliest are drawn and the caption says how many were
 * left out. */
static void test_cap(void **state)
{
	struct dtf_timeline tl;
	struct dtf_buf b;
	char want[80];
	int i;

	(void)state;
	dtf_timeline_init(&tl, 0);
	for (i = 0; i < DTF_TIMELINE_MAX_RECTS + 1; i++) {
		char id[16];
		snprintf(id, sizeof(id), "t%d", i);
		add(&tl, id, "w", -1, (int64_t)i * 10, (int64_t)i * 10 + 10);
	}
	dtf_buf_init(&b, 1 << 30);
	assert_int_equal(dtf_timeline_svg(&tl, &b, "timeline", 0), 0);
	assert_int_equal(count(b.data, "<rect class=\"attempt\""), DTF_TIMELINE_MAX_RECTS);
	snprintf(want, sizeof(want), "only the first %d are drawn (1 left out)",
		 DTF_TIMELINE_MAX_RECTS);
	assert_non_null(strstr(b.data, want));
	/* The one left out is the last to start. */
	snprintf(want, sizeof(want), "data-task-id=\"t%d\"", DTF_TIMELINE_MAX_RECTS);
	assert_null(strstr(b.data, want));
	dtf_buf_release(&b);
	dtf_timeline_release(&tl);
}

static void test_form_value(void **state)
{
	const char *body = "a=1&key=k%2By+z%41&b=";
	char out[32];

	(void)state;
	assert_true(dash_form_value(body, strlen(body), "key", out, sizeof(out)));
	assert_string_equal(out, "k+y zA");
	assert_true(dash_form_value(body, strlen(body), "b", out, sizeof(out)));
	assert_string_equal(out, "");
	assert_false(dash_form_value(body, strlen(body), "ke", out, sizeof(out)));
	assert_false(dash_form_value("key=%4", 6, "key", out, sizeof(out)));
	assert_false(dash_form_value("key=%zz", 7, "key", out, sizeof(out)));
	assert_false(dash_form_value("key=a%00b", 9, "key", out, sizeof(out)));
	assert_false(dash_form_value("key=0123456789", 14, "key", out, 8));
	/* Only the body's bytes are read, not past them. */
	assert_true(dash_form_value("key=abcdef", 7, "key", out, sizeof(out)));
	assert_string_equal(out, "abc");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escape),     cmocka_unit_test(test_pack),
	    cmocka_unit_test(test_from_tasks), cmocka_unit_test(test_cap),
	    cmocka_unit_test(test_form_value),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
