/* testrail.c: TestRail (API v2, basic auth with the user's email and an API key). A dtf run is
 * a TestRail run: run_started adds it (include_all false, the mapped case ids), the results of
 * later messages go in with add_results_for_cases in batches, run_completed closes it. Tests
 * map to cases by a `testrail: C123` marker (in a test's params, or a "testrail:C123" label),
 * a case_map file, or, with match_titles, by the case titles read with get_cases (following
 * the bulk answers' _links.next). The dtf run -> TestRail run mapping is kept in the channel
 * (and returned as notify_result.ref for the outbox to keep across restarts). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/yaml.h"
#include "notify/internal.h"

#define TESTRAIL_MAX_RUNS  1000
#define TESTRAIL_MAX_PAGES 200 /* get_cases pages read for match_titles (250 cases each) */

struct testrail {
	char key[NOTIFY_MAX_SECRET];
	char basic[NOTIFY_MAX_SECRET + 256];
	char base[512];
	const char *username;
	double project_id, suite_id, batch;
	bool close_on_complete, match_titles;
	json_t *case_map; /* test name -> case id (integer) */
	json_t *titles;	  /* case title -> id, read once with get_cases (match_titles) */
	json_t *runs;	  /* dtf run id -> TestRail run id */
	json_t *order;
	json_t *block;
};

/* "C123", "c123", "123" or 123 -> 123; 0 when it is none of those. */
static long long case_id(const json_t *v)
{
	const char *s = json_string_value(v);
	char *end;
	long long n;

	if (json_is_integer(v))
		return json_integer_value(v) > 0 ? json_integer_value(v) : 0;
	if (!s)
		return 0;
	while (*s == ' ')
		s++;
	if (*s == 'C' || *s == 'c')
		s++;
	n = strtoll(s, &end, 10);
	return end != s && *end == '\0' && n > 0 ? n : 0;
}

static long long test_case(const struct testrail *t, const json_t *test)
{
	const json_t *labels = json_object_get(test, "labels"), *l;
	const char *name = json_string_value(json_object_get(test, "name"));
	long long id = case_id(nt_get(test, "params.testrail"));
	size_t i;

	if (id)
		return id;
	json_array_foreach(labels, i, l) {
		const char *s = json_string_value(l);
		if (s && !strncmp(s, "testrail:", 9)) {
			json_t *v = json_string(s + 9);
			id = case_id(v);
			json_decref(v);
			if (id)
				return id;
		}
	}
	if (name && (id = case_id(json_object_get(t->case_map, name))))
		return id;
	if (name && t->titles) {
		const char *short_name = strrchr(name, ':');
		if ((id = case_id(json_object_get(t->titles, name))))
			return id;
		if (short_name && (id = case_id(json_object_get(t->titles, short_name + 1))))
			return id;
	}
	return 0;
}

/* TestRail's status ids: passed 1, blocked 2, retest 4, failed 5; 0: not reported. */
static int status_id(const char *s)
{
	if (!s)
		return 0;
	if (!strcmp(s, "passed") || !strcmp(s, "xfailed"))
		return 1;
	if (!strcmp(s, "skipped") || !strcmp(s, "cancelled"))
		return 2;
	if (!strcmp(s, "flaky") || !strcmp(s, "order_dependent") || !strcmp(s, "isolation_failure"))
		return 4;
	if (!strcmp(s, "failed") || !strcmp(s, "error") || !strcmp(s, "timeout") ||
	    !strcmp(s, "xpassed"))
		return 5;
	return 0;
}

static void path_of(char *out, size_t len, const char *call, long long id)
{
	snprintf(out, len, "/index.php?/api/v2/%s/%lld", call, id);
}

/* Reads every case of the project (and suite) once, following _links.next. */
static int load_titles(struct notify_channel *ch, struct ci_http *h, struct notify_result *res)
{
	struct testrail *t = ch->priv;
	char path[1024];
	int page, rc = 0;

	if (t->titles)
		return 0;
	t->titles = json_object();
	path_of(path, sizeof(path), "get_cases", (long long)t->project_id);
	if (t->suite_id > 0)
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "&suite_id=%lld",
			 (long long)t->suite_id);
	for (page = 0; page < TESTRAIL_MAX_PAGES; page++) {
		json_t *ans = NULL, *c, *cases;
		const char *next;
		size_t i;
		rc = nt_http_json(ch, h, "get_cases", "GET", path, NULL, &ans, res);
		if (rc)
			break;
		/* Old servers answer a bare list; bulk answers hold "cases" and "_links". */
		cases = json_is_array(ans) ? ans : json_object_get(ans, "cases");
		json_array_foreach(cases, i, c) {
			const char *title = json_string_value(json_object_get(c, "title"));
			if (title && json_is_integer(json_object_get(c, "id")))
				json_object_set(t->titles, title, json_object_get(c, "id"));
		}
		next = nt_gets(ans, "_links.next", NULL);
		if (!next || strncmp(next, "/api/v2/", 8)) {
			json_decref(ans);
			break;
		}
		snprintf(path, sizeof(path), "/index.php?%s", next);
		json_decref(ans);
	}
	if (rc) {
		json_decref(t->titles);
		t->titles = NULL;
	}
	return rc;
}

static void remember(struct testrail *t, const char *run, long long id)
{
	if (!json_object_get(t->runs, run)) {
		if (json_array_size(t->order) >= TESTRAIL_MAX_RUNS) {
			json_object_del(t->runs, json_string_value(json_array_get(t->order, 0)));
			json_array_remove(t->order, 0);
		}
		json_array_append_new(t->order, json_string(run));
	}
	json_object_set_new(t->runs, run, json_integer(id));
}

static int add_run(struct notify_channel *ch, struct ci_http *h, const struct notify_message *m,
		   long long *id, struct notify_result *res)
{
	struct testrail *t = ch->priv;
	json_t *ids = json_array(), *v, *body, *ans = NULL, *seen = json_object();
	const char *k;
	char path[128], num[32];
	size_t i;
	int rc;

	/* The run's cases: the message's tests, and every mapped case. */
	json_array_foreach(json_object_get(m->data, "tests"), i, v) {
		long long c = test_case(t, v);
		snprintf(num, sizeof(num), "%lld", c);
		if (c && !json_object_get(seen, num)) {
			json_object_set_new(seen, num, json_true());
			json_array_append_new(ids, json_integer(c));
		}
	}
	json_object_foreach(t->case_map, k, v) {
		long long c = case_id(v);
		snprintf(num, sizeof(num), "%lld", c);
		if (c && !json_object_get(seen, num)) {
			json_object_set_new(seen, num, json_true());
			json_array_append_new(ids, json_integer(c));
		}
	}
	json_decref(seen);
	body = json_pack("{s:s, s:b, s:o}", "name",
			 nt_gets(m->data, "run.name", nt_gets(m->data, "run.id", "dtf run")),
			 "include_all", 0, "case_ids", ids);
	if (t->suite_id > 0)
		json_object_set_new(body, "suite_id", json_integer((json_int_t)t->suite_id));
	if (nt_gets(m->data, "run.url", NULL))
		json_object_set_new(body, "description",
				    json_string(nt_gets(m->data, "run.url", "")));
	path_of(path, sizeof(path), "add_run", (long long)t->project_id);
	rc = nt_http_json(ch, h, "add_run", "POST", path, body, &ans, res);
	json_decref(body);
	if (!rc) {
		*id = json_integer_value(json_object_get(ans, "id"));
		if (*id <= 0) {
			nt_fail(ch, res, NULL, "add_run: the answer has no run id");
			rc = DTF_EPROTO;
		}
	}
	json_decref(ans);
	return rc;
}

static int add_results(struct notify_channel *ch, struct ci_http *h, const struct notify_message *m,
		       long long run, size_t *sent, size_t *skipped, struct notify_result *res)
{
	struct testrail *t = ch->priv;
	json_t *batch = json_array(), *v;
	char path[128];
	/* A run's message carries every result in "results" ("tests" lists the failures). */
	const json_t *list = json_object_get(m->data, "results")
				 ? json_object_get(m->data, "results")
				 : json_object_get(m->data, "tests");
	size_t i, n = json_array_size(list);
	int rc = 0;

	path_of(path, sizeof(path), "add_results_for_cases", run);
	json_array_foreach(list, i, v) {
		long long c = test_case(t, v);
		int st = status_id(json_string_value(json_object_get(v, "status")));
		const json_t *d = json_object_get(v, "duration_s");
		json_t *r;
		if (!c || !st) {
			(*skipped)++;
		} else {
			r = json_pack("{s:I, s:i}", "case_id", (json_int_t)c, "status_id", st);
			if (nt_gets(v, "error", NULL)) {
				struct dtf_buf b;
				dtf_buf_init(&b, 8192);
				nt_clip(&b, nt_gets(v, "error", ""), 4000);
				json_object_set_new(r, "comment", json_string(dtf_buf_str(&b)));
				dtf_buf_release(&b);
			}
			if (json_is_number(d)) {
				/* elapsed is a timespan; TestRail takes whole seconds, 1 at least.
				 */
				char e[32];
				double s = ceil(json_number_value(d));
				snprintf(e, sizeof(e), "%.0fs", s < 1 ? 1 : s);
				json_object_set_new(r, "elapsed", json_string(e));
			}
			json_array_append_new(batch, r);
		}
		if (json_array_size(batch) &&
		    (json_array_size(batch) >= (size_t)t->batch || i + 1 == n)) {
			json_t *body = json_pack("{s:O}", "results", batch);
			rc = nt_http_json(ch, h, "add_results_for_cases", "POST", path, body, NULL,
					  res);
			json_decref(body);
			if (rc)
				break;
			*sent += json_array_size(batch);
			json_array_clear(batch);
		}
	}
	json_decref(batch);
	return rc;
}

static int testrail_send(struct notify_channel *ch, const struct notify_message *m,
			 struct notify_result *res)
{
	struct testrail *t = ch->priv;
	const char *run = nt_gets(m->data, "run.id", NULL);
	bool started = !strcmp(m->event, "run_started"), done = !strcmp(m->event, "run_completed");
	long long id = 0;
	size_t sent = 0, skipped = 0;
	struct ci_http h;
	char path[128];
	int rc;

	if (!run) {
		snprintf(res->answer, sizeof(res->answer), "nothing to do: the message has no run");
		return 0;
	}
	rc = nt_http_init(ch, &h, t->base, t->key);
	if (!rc)
		rc = ci_http_header(&h, "Accept: application/json");
	if (rc) {
		nt_fail(ch, res, NULL, "cannot set up the HTTP client for %s", t->base);
		goto out;
	}
	snprintf(h.basic, sizeof(h.basic), "%s", t->basic);
	if (t->match_titles && (rc = load_titles(ch, &h, res)))
		goto out;
	id = json_integer_value(json_object_get(t->runs, run));
	if (!id && m->ref)
		id = strtoll(m->ref, NULL, 10);
	if (!id) {
		if ((rc = add_run(ch, &h, m, &id, res)))
			goto out;
		remember(t, run, id);
	} else if (started) {
		snprintf(res->answer, sizeof(res->answer), "run %lld exists", id);
	}
	snprintf(res->ref, sizeof(res->ref), "%lld", id);
	if ((rc = add_results(ch, &h, m, id, &sent, &skipped, res)))
		goto out;
	if (done && t->close_on_complete) {
		path_of(path, sizeof(path), "close_run", id);
		if ((rc = nt_http_json(ch, &h, "close_run", "POST", path, NULL, NULL, res)))
			goto out;
		json_object_del(t->runs, run);
	}
	snprintf(res->answer, sizeof(res->answer),
		 "run %lld: %zu results added, %zu tests unmapped%s", id, sent, skipped,
		 done && t->close_on_complete ? ", closed" : "");
out:
	ci_http_release(&h);
	return rc;
}

static int load_case_map(struct notify_channel *ch, struct testrail *t, const char *path, char *err,
			 size_t errlen)
{
	char e[512];
	json_t *doc = dtf_yaml_load(path, e, sizeof(e)), *v;
	const char *k;

	if (!doc)
		return nt_cfg_err(ch, "case_map", err, errlen, "%s", e);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return nt_cfg_err(ch, "case_map", err, errlen,
				  "%s must map test names to case ids (C123)", path);
	}
	json_object_foreach(doc, k, v) {
		if (!case_id(v)) {
			nt_cfg_err(ch, "case_map", err, errlen, "%s: %.100s: not a case id (C123)",
				   path, k);
			json_decref(doc);
			return DTF_EINVAL;
		}
	}
	t->case_map = doc;
	return 0;
}

static int testrail_open(struct notify_channel *ch, const json_t *block, char *err, size_t errlen)
{
	static const char *const known[] = {
	    "base_url", "username",	"token_env",	     "token_file", "project_id", "suite_id",
	    "case_map", "match_titles", "close_on_complete", "batch_size", NULL};
	struct testrail *t = calloc(1, sizeof(*t));
	const char *base, *map = NULL;
	int rc;

	if (!t)
		return DTF_ENOMEM;
	ch->priv = t;
	t->block = json_incref((json_t *)block);
	t->runs = json_object();
	t->order = json_array();
	if ((rc = nt_cfg_known(ch, block, known, err, errlen)) ||
	    (rc = nt_cfg_str(ch, block, "base_url", true, NULL, &base, err, errlen)) ||
	    (rc = nt_cfg_str(ch, block, "username", true, NULL, &t->username, err, errlen)) ||
	    (rc = nt_cfg_secret(ch, block, "token", true, t->key, sizeof(t->key), err, errlen)) ||
	    (rc = nt_cfg_num(ch, block, "project_id", 0, 1, 1e12, &t->project_id, err, errlen)) ||
	    (rc = nt_cfg_num(ch, block, "suite_id", 0, 0, 1e12, &t->suite_id, err, errlen)) ||
	    (rc = nt_cfg_str(ch, block, "case_map", false, NULL, &map, err, errlen)) ||
	    (rc = nt_cfg_bool(ch, block, "match_titles", false, &t->match_titles, err, errlen)) ||
	    (rc = nt_cfg_bool(ch, block, "close_on_complete", true, &t->close_on_complete, err,
			      errlen)) ||
	    (rc = nt_cfg_num(ch, block, "batch_size", 100, 1, 1000, &t->batch, err, errlen)))
		return rc;
	if (t->project_id < 1)
		return nt_cfg_err(ch, "project_id", err, errlen, "missing (the project's number)");
	if (strncmp(base, "https://", 8) && strncmp(base, "http://", 7))
		return nt_cfg_err(ch, "base_url", err, errlen, "must be an http(s):// URL");
	snprintf(t->base, sizeof(t->base), "%s", base);
	snprintf(t->basic, sizeof(t->basic), "%s:%s", t->username, t->key);
	if (map && (rc = load_case_map(ch, t, map, err, errlen)))
		return rc;
	if (!t->case_map)
		t->case_map = json_object();
	return 0;
}

static void testrail_close(struct notify_channel *ch)
{
	struct testrail *t = ch->priv;

	json_decref(t->case_map);
	json_decref(t->titles);
	json_decref(t->runs);
	json_decref(t->order);
	json_decref(t->block);
	memset(t->key, 0, sizeof(t->key));
	memset(t->basic, 0, sizeof(t->basic));
	free(t);
	ch->priv = NULL;
}

const struct notify_ops notify_testrail_ops = {
    .type = "testrail",
    .open = testrail_open,
    .send = testrail_send,
    .close = testrail_close,
    .rate = 180, /* TestRail Cloud: 180 requests per minute per instance */
    .escape = DTF_TPL_TEXT,
};
