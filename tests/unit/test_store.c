/* test_store.c: unit tests of the store backends (src/store/sqlite.c, postgres.c, store.c), one
 * suite run against each: records written in a transaction come back after the store is closed
 * and reopened (runs, then tasks in seq order, attempts, workers), a rollback discards, a write
 * updates in place, a record that is not JSON is skipped, a schema newer than the code is refused,
 * and bad targets fail with a message. The SQLite group always runs; the PostgreSQL group runs
 * when DTF_TEST_PG_URL names an empty database it may reset (tests/e2e/test_store_pg.sh starts a
 * private server for it), and adds the advisory lock and reconnecting after a lost connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "common/err.h"
#include "common/json.h"
#include "common/util.h"
#include "store/leader.h"
#include "store/store.h"
#include "unit_main.h"

struct fixture {
	char dir[64];
	char db[128];
	const char *target; /* what the store opens: db, or the PostgreSQL URL */
};

/* The backend the running group tests (set by its setup). */
static bool use_pg;
static const char *pg_url;

static void pg_exec_ok(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType s = PQresultStatus(res);

	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
		print_error("%s: %s\n", sql, PQresultErrorMessage(res));
	assert_true(s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK);
	PQclear(res);
}

/* Runs sql on the test's database behind the store's back. */
static void raw_exec(const struct fixture *f, const char *sql)
{
	if (use_pg) {
		PGconn *conn = PQconnectdb(pg_url);
		assert_int_equal(PQstatus(conn), CONNECTION_OK);
		pg_exec_ok(conn, "SET client_min_messages = warning");
		pg_exec_ok(conn, sql);
		PQfinish(conn);
	} else {
		sqlite3 *db;
		assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
	}
}

/* The integer in the first column of sql's first row, read behind the store's back (-1: no row). */
static long raw_int(const struct fixture *f, const char *sql)
{
	long v = -1;

	if (use_pg) {
		PGconn *conn = PQconnectdb(pg_url);
		PGresult *res;
		assert_int_equal(PQstatus(conn), CONNECTION_OK);
		res = PQexec(conn, sql);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			print_error("%s: %s\n", sql, PQresultErrorMessage(res));
		assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
		if (PQntuples(res) > 0)
			v = atol(PQgetvalue(res, 0, 0));
		PQclear(res);
		PQfinish(conn);
	} else {
		sqlite3 *db;
		sqlite3_stmt *s = NULL;
		assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
		if (sqlite3_step(s) == SQLITE_ROW)
			v = (long)sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
		sqlite3_close(db);
	}
	return v;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/dtf-test-store-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->db, sizeof(f->db), "%s/dtf.db", f->dir);
	f->target = f->db;
	use_pg = false;
	*state = f;
	return 0;
}

/* The PostgreSQL group's: an empty database (its public schema dropped and made again). */
static int setup_pg(void **state)
{
	struct fixture *f;

	if (setup(state))
		return -1;
	f = *state;
	use_pg = true;
	f->target = pg_url;
	raw_exec(f, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	dtf_rmtree(f->dir);
	free(f);
	return 0;
}

static struct dtf_store *open_store(const char *path)
{
	char err[256] = "";
	struct dtf_store *st = dtf_store_open(path, err, sizeof(err));

	if (!st)
		print_error("dtf_store_open(%s): %s\n", path, err);
	assert_non_null(st);
	assert_string_equal(st->ops->name, use_pg ? "postgresql" : "sqlite");
	return st;
}

/* What load() handed back: one {"kind", "id", "doc"} per record, in order. */
static int collect(void *arg, enum dtf_store_kind kind, const char *id, json_t *doc)
{
	static const char *const kinds[] = {"run", "task", "attempt", "worker"};

	json_array_append_new(arg,
			      json_pack("{ss ss sO}", "kind", kinds[kind], "id", id, "doc", doc));
	return 0;
}

static json_t *load_all(struct dtf_store *st)
{
	json_t *out = json_array();

	assert_int_equal(st->ops->load(st, collect, out), 0);
	return out;
}

/* The records as "kind:id" joined with spaces, into buf. */
static const char *record_list(const json_t *recs, char *buf, size_t len)
{
	size_t i, n = 0;
	json_t *r;

	buf[0] = '\0';
	json_array_foreach(recs, i, r) {
		n += (size_t)snprintf(buf + n, len - n, "%s%s:%s", i ? " " : "",
				      json_string_value(json_object_get(r, "kind")),
				      json_string_value(json_object_get(r, "id")));
		assert_true(n < len);
	}
	return buf;
}

static json_t *doc_of(const json_t *recs, size_t i)
{
	json_t *d = json_object_get(json_array_get(recs, i), "doc");

	assert_non_null(d);
	return d;
}

static void put_task(struct dtf_store *st, const char *id, int64_t seq, const char *run_id,
		     const char *status, int v)
{
	json_t *doc =
	    json_pack("{ss sI ss si}", "id", id, "seq", (json_int_t)seq, "status", status, "v", v);

	assert_int_equal(st->ops->put_task(st, id, seq, run_id, status, doc), 0);
	json_decref(doc);
}

/* The doc of the record of kind and id (there must be exactly one). */
static json_t *find_doc(const json_t *recs, const char *kind, const char *id)
{
	json_t *r, *found = NULL;
	size_t i;
	int n = 0;

	json_array_foreach(recs, i, r) {
		if (strcmp(dtf_json_str(r, "kind", ""), kind) == 0 &&
		    strcmp(dtf_json_str(r, "id", ""), id) == 0) {
			found = json_object_get(r, "doc");
			n++;
		}
	}
	if (n != 1)
		print_error("%d records %s:%s\n", n, kind, id);
	assert_int_equal(n, 1);
	return found;
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	struct dtf_store *st = open_store(f->target);
	json_t *run = json_pack("{ss ss}", "id", "r1", "name", "nightly");
	json_t *run2 = json_pack("{ss}", "id", "r0");
	json_t *attempt =
	    json_pack("{si ss ss}", "attempt", 1, "worker_id", "w1", "outcome", "requeued");
	json_t *attempt2 = json_pack("{si}", "attempt", 2);
	json_t *worker = json_pack("{ss si s{s[ss]}}", "id", "w1", "slots", 4, "capabilities",
				   "hardware", "cpu", "cuda");
	json_t *recs;
	char list[512];

	assert_int_equal(st->ops->begin(st), 0);
	assert_int_equal(st->ops->put_run(st, "r1", run), 0);
	assert_int_equal(st->ops->put_run(st, "r0", run2), 0);
	/* Written out of order: they must come back by seq. */
	put_task(st, "t3", 30, "r1", "pending", 3);
	put_task(st, "t1", 10, "r1", "completed", 1);
	put_task(st, "t2", 20, NULL, "running", 2);
	put_task(st, "t0", 5, "", "failed", 0);
	assert_int_equal(st->ops->put_attempt(st, "t1", 2, attempt2), 0);
	assert_int_equal(st->ops->put_attempt(st, "t1", 1, attempt), 0);
	assert_int_equal(st->ops->put_worker(st, "w1", worker), 0);
	assert_int_equal(st->ops->commit(st), 0);
	dtf_store_close(st);

	st = open_store(f->target);
	recs = load_all(st);
	assert_int_equal(json_array_size(recs), 9);
	/* Runs first (in no promised order), then tasks by seq, attempts, workers. */
	record_list(recs, list, sizeof(list));
	assert_string_equal(list + strlen("run:r? run:r? "),
			    "task:t0 task:t1 task:t2 task:t3 attempt:t1 attempt:t1 worker:w1");
	assert_true(json_equal(find_doc(recs, "run", "r1"), run));
	assert_true(json_equal(find_doc(recs, "run", "r0"), run2));
	assert_int_equal(dtf_json_int(find_doc(recs, "task", "t0"), "v", -1), 0);
	assert_int_equal(dtf_json_int(find_doc(recs, "task", "t1"), "v", -1), 1);
	assert_string_equal(dtf_json_str(find_doc(recs, "task", "t1"), "status", "?"), "completed");
	assert_int_equal(dtf_json_int(find_doc(recs, "task", "t3"), "seq", -1), 30);
	/* Attempts in attempt order within a task. */
	assert_true(json_equal(doc_of(recs, 6), attempt));
	assert_true(json_equal(doc_of(recs, 7), attempt2));
	assert_true(json_equal(find_doc(recs, "worker", "w1"), worker));
	json_decref(recs);
	dtf_store_close(st);
	json_decref(run);
	json_decref(run2);
	json_decref(attempt);
	json_decref(attempt2);
	json_decref(worker);
}

static void test_rollback_discards(void **state)
{
	struct fixture *f = *state;
	struct dtf_store *st = open_store(f->target);
	json_t *doc = json_pack("{ss}", "id", "w9"), *recs;
	char list[256];

	assert_int_equal(st->ops->begin(st), 0);
	put_task(st, "kept", 1, NULL, "pending", 1);
	assert_int_equal(st->ops->commit(st), 0);
	assert_int_equal(st->ops->begin(st), 0);
	put_task(st, "gone", 2, NULL, "pending", 2);
	put_task(st, "kept", 1, NULL, "failed", 9);
	assert_int_equal(st->ops->put_worker(st, "w9", doc), 0);
	assert_int_equal(st->ops->rollback(st), 0);
	/* Rolling back outside a transaction is harmless. */
	assert_int_equal(st->ops->rollback(st), 0);
	recs = load_all(st);
	assert_string_equal(record_list(recs, list, sizeof(list)), "task:kept");
	assert_string_equal(dtf_json_str(doc_of(recs, 0), "status", "?"), "pending");
	json_decref(recs);
	dtf_store_close(st);

	/* Nothing of it reached the file either. */
	st = open_store(f->target);
	recs = load_all(st);
	assert_string_equal(record_list(recs, list, sizeof(list)), "task:kept");
	json_decref(recs);
	dtf_store_close(st);
	json_decref(doc);
}

static void test_uncommitted_lost_on_close(void **state)
{
	struct fixture *f = *state;
	struct dtf_store *st = open_store(f->target);
	json_t *recs;

	assert_int_equal(st->ops->begin(st), 0);
	put_task(st, "t", 1, NULL, "pending", 1);
	dtf_store_close(st);
	st = open_store(f->target);
	recs = load_all(st);
	assert_int_equal(json_array_size(recs), 0);
	json_decref(recs);
	dtf_store_close(st);
}

static void test_replace_updates(void **state)
{
	struct fixture *f = *state;
	struct dtf_store *st = open_store(f->target);
	json_t *w1 = json_pack("{ss}", "status", "idle"), *w2 = json_pack("{ss}", "status", "lost");
	json_t *r1 = json_pack("{si}", "n", 1), *r2 = json_pack("{si}", "n", 2);
	json_t *a1 = json_pack("{ss}", "outcome", "requeued");
	json_t *a2 = json_pack("{ss}", "outcome", "completed");
	json_t *recs;
	char list[256];

	assert_int_equal(st->ops->begin(st), 0);
	put_task(st, "a", 1, "r", "pending", 1);
	put_task(st, "b", 2, "r", "pending", 1);
	assert_int_equal(st->ops->put_worker(st, "w", w1), 0);
	assert_int_equal(st->ops->put_run(st, "r", r1), 0);
	assert_int_equal(st->ops->put_attempt(st, "a", 1, a1), 0);
	assert_int_equal(st->ops->commit(st), 0);
	assert_int_equal(st->ops->begin(st), 0);
	/* A new seq for a moves it after b. */
	put_task(st, "a", 3, "r", "completed", 2);
	assert_int_equal(st->ops->put_worker(st, "w", w2), 0);
	assert_int_equal(st->ops->put_run(st, "r", r2), 0);
	assert_int_equal(st->ops->put_attempt(st, "a", 1, a2), 0);
	assert_int_equal(st->ops->commit(st), 0);
	dtf_store_close(st);

	st = open_store(f->target);
	recs = load_all(st);
	assert_string_equal(record_list(recs, list, sizeof(list)),
			    "run:r task:b task:a attempt:a worker:w");
	assert_true(json_equal(doc_of(recs, 0), r2));
	assert_int_equal(dtf_json_int(doc_of(recs, 2), "v", 0), 2);
	assert_string_equal(dtf_json_str(doc_of(recs, 2), "status", "?"), "completed");
	assert_true(json_equal(doc_of(recs, 3), a2));
	assert_true(json_equal(doc_of(recs, 4), w2));
	json_decref(recs);
	dtf_store_close(st);
	json_decref(w1);
	json_decref(w2);
	json_decref(r1);
	json_decref(r2);
	json_decref(a1);
	json_decref(a2);
}

/* A callback that stops the load at the second record. */
static int stop_at_second(void *arg, enum dtf_store_kind kind, const char *id, json_t *doc)
{
	int *seen = arg;

	(void)kind;
	(void)id;
	(void)doc;
	return ++*seen == 2 ? -42 : 0;
}

static void test_load_stops_on_callback_error(void **state)
{
	struct fixture *f = *state;
	struct dtf_store *st = open_store(f->target);
	int seen = 0;

	assert_int_equal(st->ops->begin(st), 0);
	put_task(st, "a", 1, NULL, "pending", 1);
	put_task(st, "b", 2, NULL, "pending", 1);
	put_task(st, "c", 3, NULL, "pending", 1);
	assert_int_equal(st->ops->commit(st), 0);
	assert_int_equal(st->ops->load(st, stop_at_second, &seen), -42);
	assert_int_equal(seen, 2);
	dtf_store_close(st);
}

static void test_bad_json_skipped(void **state)
{
	struct fixture *f = *state;
	struct dtf_store *st = open_store(f->target);
	json_t *recs;
	char list[256];

	assert_int_equal(st->ops->begin(st), 0);
	put_task(st, "good", 2, NULL, "pending", 1);
	assert_int_equal(st->ops->commit(st), 0);
	dtf_store_close(st);
	/* Damage one record behind the store's back. */
	raw_exec(f, "INSERT INTO tasks (id, seq, status, doc) VALUES "
		    "('bad', 1, 'pending', '{not json')");

	st = open_store(f->target);
	recs = load_all(st);
	assert_string_equal(record_list(recs, list, sizeof(list)), "task:good");
	json_decref(recs);
	dtf_store_close(st);
}

static void test_transaction_errors(void **state)
{
	struct fixture *f = *state;
	struct dtf_store *st = open_store(f->target);

	/* Commit without begin and a nested begin are store errors with a reason. */
	assert_int_equal(st->ops->commit(st), DTF_ESTORE);
	assert_true(st->error[0] != '\0');
	assert_int_equal(st->ops->begin(st), 0);
	st->error[0] = '\0';
	assert_int_equal(st->ops->begin(st), DTF_ESTORE);
	assert_non_null(strstr(st->error, "begin"));
	assert_int_equal(st->ops->commit(st), 0);
	dtf_store_close(st);
}

/* Many tasks (more than one load batch, parsed on two threads) come back whole and in order,
 * strings with NUL bytes (a task's output may have them) included. */
static void test_many_tasks_in_order(void **state)
{
	struct fixture *f = *state;
	struct dtf_store *st = open_store(f->target);
	json_t *recs;
	size_t i, n = 10000;
	char id[32];

	assert_int_equal(st->ops->begin(st), 0);
	for (i = 0; i < n; i++) {
		/* Written in reverse, so the load must order by seq. */
		size_t seq = n - i;
		json_t *doc = json_pack("{s:s,s:I,s:s#}", "id", "x", "seq", (json_int_t)seq, "out",
					"a\0b", (int)3);
		snprintf(id, sizeof(id), "t-%zu", seq);
		json_object_set_new(doc, "id", json_string(id));
		assert_int_equal(st->ops->put_task(st, id, (int64_t)seq, NULL, "pending", doc), 0);
		json_decref(doc);
	}
	assert_int_equal(st->ops->commit(st), 0);
	dtf_store_close(st);
	st = open_store(f->target);
	recs = load_all(st);
	assert_int_equal(json_array_size(recs), n);
	for (i = 0; i < n; i++) {
		json_t *d = doc_of(recs, i);
		snprintf(id, sizeof(id), "t-%zu", i + 1);
		assert_string_equal(json_string_value(json_object_get(d, "id")), id);
		assert_int_equal(json_string_length(json_object_get(d, "out")), 3);
		assert_memory_equal(json_string_value(json_object_get(d, "out")), "a\0b", 3);
	}
	json_decref(recs);
	dtf_store_close(st);
}

/* A record written several times in one transaction keeps its last write, also when the
 * transaction holds more rows than one multi-row statement of the PostgreSQL store. */
static void test_last_write_wins(void **state)
{
	struct fixture *f = *state;
	struct dtf_store *st = open_store(f->target);
	json_t *recs, *a1 = json_pack("{si}", "v", 1), *a2 = json_pack("{si}", "v", 2);
	size_t i, n = 4500;
	char id[32];

	assert_int_equal(st->ops->begin(st), 0);
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "t-%05zu", i);
		put_task(st, id, (int64_t)i + 1, "r", "pending", 1);
	}
	for (i = 0; i < n; i += 2) {
		snprintf(id, sizeof(id), "t-%05zu", i);
		put_task(st, id, (int64_t)i + 1, "r", "completed", 2);
	}
	assert_int_equal(st->ops->put_attempt(st, "t-00001", 1, a1), 0);
	assert_int_equal(st->ops->put_attempt(st, "t-00001", 1, a2), 0);
	assert_int_equal(st->ops->commit(st), 0);
	dtf_store_close(st);
	st = open_store(f->target);
	recs = load_all(st);
	assert_int_equal(json_array_size(recs), n + 1);
	for (i = 0; i < n; i++) {
		json_t *d = doc_of(recs, i);
		assert_int_equal(dtf_json_int(d, "v", 0), i % 2 ? 1 : 2);
		assert_string_equal(dtf_json_str(d, "status", ""), i % 2 ? "pending" : "completed");
	}
	assert_true(json_equal(doc_of(recs, n), a2));
	json_decref(recs);
	dtf_store_close(st);
	json_decref(a1);
	json_decref(a2);
}

static int collect_kv(void *arg, const char *key, json_t *doc)
{
	json_object_set(arg, key, doc);
	return 0;
}

static int collect_duration(void *arg, const char *name, const char *hw, double mean_s, int64_t n)
{
	json_array_append_new(arg, json_pack("{ss ss sf sI}", "name", name, "hw", hw, "mean_s",
					     mean_s, "n", (json_int_t)n));
	return 0;
}

static int collect_outbox(void *arg, const char *id, int64_t seq, json_t *doc)
{
	json_array_append_new(
	    arg, json_pack("{ss sI sO}", "id", id, "seq", (json_int_t)seq, "doc", doc));
	return 0;
}

/* The recovery history, the duration history and the notifications outbox: written in a
 * transaction (replaced, deleted) and read back after a reopen; a rollback leaves them alone. */
static void test_side_tables(void **state)
{
	struct fixture *f = *state;
	struct dtf_store *st = open_store(f->target);
	json_t *r1 = json_pack("{si}", "n", 1), *r2 = json_pack("{si}", "n", 2);
	json_t *m = json_pack("{ss}", "text", "a \"quoted\" \\ message");
	json_t *got;

	assert_int_equal(st->ops->begin(st), 0);
	assert_int_equal(st->ops->put_recovery(st, "oom/retry", r1), 0);
	assert_int_equal(st->ops->put_recovery(st, "oom/retry", r2), 0);
	assert_int_equal(st->ops->put_recovery(st, "blocked/gpu", r1), 0);
	assert_int_equal(st->ops->put_duration(st, "test_a", "cpu", 0.25, 3), 0);
	assert_int_equal(st->ops->put_duration(st, "test_a", "cpu", 1.5, 4), 0);
	assert_int_equal(st->ops->put_outbox(st, "m2", 2, m), 0);
	assert_int_equal(st->ops->put_outbox(st, "m1", 1, r1), 0);
	assert_int_equal(st->ops->put_outbox(st, "m3", 3, r1), 0);
	assert_int_equal(st->ops->del_outbox(st, "m3"), 0);
	assert_int_equal(st->ops->commit(st), 0);
	assert_int_equal(st->ops->begin(st), 0);
	assert_int_equal(st->ops->del_outbox(st, "m1"), 0);
	assert_int_equal(st->ops->put_duration(st, "test_b", "gpu", 9, 1), 0);
	assert_int_equal(st->ops->rollback(st), 0);
	dtf_store_close(st);

	st = open_store(f->target);
	got = json_object();
	assert_int_equal(st->ops->load_recovery(st, collect_kv, got), 0);
	assert_int_equal(json_object_size(got), 2);
	assert_true(json_equal(json_object_get(got, "oom/retry"), r2));
	assert_true(json_equal(json_object_get(got, "blocked/gpu"), r1));
	json_decref(got);
	got = json_array();
	assert_int_equal(st->ops->load_durations(st, collect_duration, got), 0);
	assert_int_equal(json_array_size(got), 1);
	assert_string_equal(dtf_json_str(json_array_get(got, 0), "hw", ""), "cpu");
	assert_true(json_real_value(json_object_get(json_array_get(got, 0), "mean_s")) == 1.5);
	assert_int_equal(dtf_json_int(json_array_get(got, 0), "n", 0), 4);
	json_decref(got);
	got = json_array();
	assert_int_equal(st->ops->load_outbox(st, collect_outbox, got), 0);
	assert_int_equal(json_array_size(got), 2);
	assert_string_equal(dtf_json_str(json_array_get(got, 0), "id", ""), "m1");
	assert_string_equal(dtf_json_str(json_array_get(got, 1), "id", ""), "m2");
	assert_true(json_equal(json_object_get(json_array_get(got, 1), "doc"), m));
	json_decref(got);
	dtf_store_close(st);
	json_decref(r1);
	json_decref(r2);
	json_decref(m);
}

/* The browser performance history (schema version 2): one document per key, replaced, read
 * back after a reopen; a rollback leaves it alone. */
static void test_browser_perf(void **state)
{
	struct fixture *f = *state;
	struct dtf_store *st = open_store(f->target);
	json_t *a =
	    json_pack("{s:s,s:[{s:{s:f}}]}", "benchmark", "mm", "runs", "metrics", "gflops", 10.0);
	json_t *b = json_pack("{s:s,s:[]}", "benchmark", "mm", "runs");
	json_t *got;

	assert_non_null(st->ops->put_browser_perf);
	assert_int_equal(st->ops->begin(st), 0);
	assert_int_equal(st->ops->put_browser_perf(st, "w1|chromium|x|mm", b), 0);
	assert_int_equal(st->ops->put_browser_perf(st, "w1|chromium|x|mm", a), 0);
	assert_int_equal(st->ops->commit(st), 0);
	assert_int_equal(st->ops->begin(st), 0);
	assert_int_equal(st->ops->put_browser_perf(st, "w2|chromium|x|mm", a), 0);
	assert_int_equal(st->ops->rollback(st), 0);
	dtf_store_close(st);

	st = open_store(f->target);
	got = json_object();
	assert_int_equal(st->ops->load_browser_perf(st, collect_kv, got), 0);
	assert_int_equal(json_object_size(got), 1);
	assert_true(json_equal(json_object_get(got, "w1|chromium|x|mm"), a));
	json_decref(got);
	dtf_store_close(st);
	json_decref(a);
	json_decref(b);
}

/* The coordinator's own documents (meta_docs, schema version 2): replaced, read back after a
 * reopen, a rollback leaves them alone; a database made at version 2 before the table was part
 * of it gets the table at open. A document that does not parse stops the load. */
static void test_meta_docs(void **state)
{
	struct fixture *f = *state;
	struct dtf_store *st = open_store(f->target);
	json_t *a = json_pack("{s:i,s:[],s:[s]}", "format", 1, "keys", "revoked_config", "ro");
	json_t *b = json_pack("{s:i}", "format", 1);
	json_t *got;

	assert_non_null(st->ops->put_meta);
	assert_int_equal(st->ops->begin(st), 0);
	assert_int_equal(st->ops->put_meta(st, "api_keys", b), 0);
	assert_int_equal(st->ops->put_meta(st, "api_keys", a), 0);
	assert_int_equal(st->ops->commit(st), 0);
	assert_int_equal(st->ops->begin(st), 0);
	assert_int_equal(st->ops->put_meta(st, "other", a), 0);
	assert_int_equal(st->ops->rollback(st), 0);
	dtf_store_close(st);

	st = open_store(f->target);
	got = json_object();
	assert_int_equal(st->ops->load_meta(st, collect_kv, got), 0);
	assert_int_equal(json_object_size(got), 1);
	assert_true(json_equal(json_object_get(got, "api_keys"), a));
	json_decref(got);
	dtf_store_close(st);

	/* At version 2 without the table (an earlier build's): made at open, empty. */
	raw_exec(f, "DROP TABLE meta_docs");
	st = open_store(f->target);
	got = json_object();
	assert_int_equal(st->ops->load_meta(st, collect_kv, got), 0);
	assert_int_equal(json_object_size(got), 0);
	json_decref(got);
	dtf_store_close(st);

	raw_exec(f, "INSERT INTO meta_docs (key, doc) VALUES ('api_keys', '{not json')");
	st = open_store(f->target);
	got = json_object();
	assert_int_equal(st->ops->load_meta(st, collect_kv, got), DTF_ESTORE);
	assert_non_null(strstr(st->error, "api_keys"));
	json_decref(got);
	dtf_store_close(st);
	json_decref(a);
	json_decref(b);
}

static void test_open_failures(void **state)
{
	struct fixture *f = *state;
	char path[256], err[512];

	snprintf(path, sizeof(path), "%s/missing/dir/dtf.db", f->dir);
	err[0] = '\0';
	assert_null(dtf_store_open(path, err, sizeof(err)));
	if (!strstr(err, path))
		print_error("error \"%s\" does not name %s\n", err, path);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "cannot open"));

	err[0] = '\0';
	assert_null(dtf_store_open("", err, sizeof(err)));
	assert_string_equal(err, "no database path given");
	err[0] = '\0';
	assert_null(dtf_store_open(NULL, err, sizeof(err)));
	assert_string_equal(err, "no database path given");
	err[0] = '\0';
	assert_null(dtf_store_open("postgresql://db/dtf", err, sizeof(err)));
	assert_non_null(strstr(err, "PostgreSQL"));

	/* A file that is not a database. */
	snprintf(path, sizeof(path), "%s/junk.db", f->dir);
	assert_int_equal(dtf_write_file(path, "this is not sqlite, not at all, no.........", 44),
			 0);
	err[0] = '\0';
	assert_null(dtf_store_open(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	dtf_store_close(NULL);
}

/* A database whose schema a newer dtf wrote is refused, with both versions named, and left as
 * it is. */
static void test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct dtf_store *st = open_store(f->target);
	char err[512] = "";

	dtf_store_close(st);
	raw_exec(f, "UPDATE schema_version SET version = 99");
	assert_null(dtf_store_open(f->target, err, sizeof(err)));
	if (!strstr(err, "version 99"))
		print_error("error: %s\n", err);
	{
		char want[64];
		snprintf(want, sizeof(want), "version 99, newer than this dtf's (%d)",
			 DTF_STORE_SCHEMA_VERSION);
		assert_non_null(strstr(err, want));
	}
}

/* A database at version 2 (no index on tasks' seq; made before meta_docs was part of version 2
 * as well) is migrated to version 3 at open: the index is there, meta_docs too, the records are
 * kept and load in seq order, and the version recorded is the current one. */
static void test_upgrade_from_v2(void **state)
{
	struct fixture *f = *state;
	const char *has_index =
	    use_pg ? "SELECT count(*) FROM pg_indexes WHERE indexname = 'tasks_seq'"
		   : "SELECT count(*) FROM sqlite_master WHERE type = 'index' "
		     "AND name = 'tasks_seq'";
	struct dtf_store *st = open_store(f->target);
	json_t *recs, *m;
	char list[256];

	assert_int_equal(DTF_STORE_SCHEMA_VERSION, 3);
	assert_int_equal(st->ops->begin(st), 0);
	put_task(st, "c", 3, NULL, "pending", 1);
	put_task(st, "a", 1, NULL, "completed", 1);
	put_task(st, "b", 2, NULL, "pending", 1);
	assert_int_equal(st->ops->commit(st), 0);
	dtf_store_close(st);
	assert_int_equal(raw_int(f, has_index), 1);
	assert_int_equal(raw_int(f, "SELECT version FROM schema_version"), 3);

	raw_exec(f, "DROP INDEX tasks_seq; DROP TABLE meta_docs; "
		    "UPDATE schema_version SET version = 2");
	assert_int_equal(raw_int(f, has_index), 0);
	st = open_store(f->target);
	assert_int_equal(raw_int(f, "SELECT version FROM schema_version"), 3);
	assert_int_equal(raw_int(f, has_index), 1);
	recs = load_all(st);
	assert_string_equal(record_list(recs, list, sizeof(list)), "task:a task:b task:c");
	json_decref(recs);
	m = json_pack("{s:i}", "format", 1);
	assert_int_equal(st->ops->begin(st), 0);
	assert_int_equal(st->ops->put_meta(st, "k", m), 0);
	assert_int_equal(st->ops->commit(st), 0);
	json_decref(m);
	dtf_store_close(st);
	assert_int_equal(raw_int(f, "SELECT count(*) FROM meta_docs"), 1);
}

/* A file of the first release (its version in meta's schema_version key, no schema_version
 * table) opens with its records and is recorded at the current version. */
static void test_sqlite_old_schema_upgrades(void **state)
{
	struct fixture *f = *state;
	struct dtf_store *st;
	sqlite3 *db;
	sqlite3_stmt *s;
	json_t *recs;
	char list[256];

	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(
		db,
		"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
		"CREATE TABLE runs (id TEXT PRIMARY KEY, doc TEXT NOT NULL);"
		"CREATE TABLE tasks (id TEXT PRIMARY KEY, seq INTEGER NOT NULL,"
		" run_id TEXT, status TEXT NOT NULL, doc TEXT NOT NULL);"
		"CREATE TABLE attempts (task_id TEXT NOT NULL, attempt INTEGER NOT NULL,"
		" doc TEXT NOT NULL, PRIMARY KEY (task_id, attempt));"
		"CREATE TABLE workers (id TEXT PRIMARY KEY, doc TEXT NOT NULL);"
		"INSERT INTO meta VALUES ('schema_version', '1');"
		"INSERT INTO tasks VALUES ('old', 1, NULL, 'pending', '{\"id\":\"old\"}');",
		NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	st = open_store(f->target);
	recs = load_all(st);
	assert_string_equal(record_list(recs, list, sizeof(list)), "task:old");
	json_decref(recs);
	/* The tables later releases added are there too. */
	assert_int_equal(st->ops->begin(st), 0);
	assert_int_equal(st->ops->put_duration(st, "t", "cpu", 1.5, 2), 0);
	{
		/* Version 2's table too. */
		json_t *pd = json_pack("{s:[]}", "runs");
		assert_int_equal(st->ops->put_browser_perf(st, "k", pd), 0);
		json_decref(pd);
	}
	assert_int_equal(st->ops->commit(st), 0);
	dtf_store_close(st);
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1, &s, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), DTF_STORE_SCHEMA_VERSION);
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	sqlite3_close(db);
}

/* A second coordinator on the same PostgreSQL database is refused while the first holds it. */
static void test_pg_second_refused(void **state)
{
	struct fixture *f = *state;
	struct dtf_store *st = open_store(f->target), *st2;
	char err[512] = "";

	st2 = dtf_store_open(f->target, err, sizeof(err));
	assert_null(st2);
	if (!strstr(err, "another coordinator"))
		print_error("error: %s\n", err);
	assert_non_null(strstr(err, "another coordinator"));
	dtf_store_close(st);
	st2 = open_store(f->target);
	dtf_store_close(st2);
}

/* A connection the server drops fails the commit of the transaction it carried (nothing of it is
 * stored) and the next begin connects again. */
static void test_pg_reconnects(void **state)
{
	struct fixture *f = *state;
	struct dtf_store *st = open_store(f->target);
	json_t *recs;
	char list[256];

	assert_int_equal(st->ops->begin(st), 0);
	put_task(st, "before", 1, NULL, "pending", 1);
	assert_int_equal(st->ops->commit(st), 0);
	assert_int_equal(st->ops->begin(st), 0);
	put_task(st, "lost", 2, NULL, "pending", 1);
	raw_exec(f, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
		    "WHERE application_name = 'dtf-coordinator'");
	put_task(st, "lost2", 3, NULL, "pending", 1);
	assert_int_equal(st->ops->commit(st), DTF_ESTORE);
	assert_true(st->error[0] != '\0');
	st->ops->rollback(st);
	assert_int_equal(st->ops->begin(st), 0);
	put_task(st, "after", 4, NULL, "pending", 1);
	assert_int_equal(st->ops->commit(st), 0);
	recs = load_all(st);
	assert_string_equal(record_list(recs, list, sizeof(list)), "task:before task:after");
	json_decref(recs);
	dtf_store_close(st);
}

/* A statement that fails inside a pipelined transaction fails its commit, and none of the
 * transaction's rows stay. */
static void test_pg_failed_statement_fails_commit(void **state)
{
	struct fixture *f = *state;
	struct dtf_store *st = open_store(f->target);
	json_t *recs;

	raw_exec(f, "ALTER TABLE tasks ADD CONSTRAINT no_bad CHECK (id <> 'bad')");
	assert_int_equal(st->ops->begin(st), 0);
	put_task(st, "fine", 1, NULL, "pending", 1);
	put_task(st, "bad", 2, NULL, "pending", 1);
	put_task(st, "fine2", 3, NULL, "pending", 1);
	assert_int_equal(st->ops->commit(st), DTF_ESTORE);
	assert_non_null(strstr(st->error, "no_bad"));
	st->ops->rollback(st);
	recs = load_all(st);
	assert_int_equal(json_array_size(recs), 0);
	json_decref(recs);
	assert_int_equal(st->ops->begin(st), 0);
	put_task(st, "fine", 1, NULL, "pending", 1);
	assert_int_equal(st->ops->commit(st), 0);
	dtf_store_close(st);
}

/* The first value of a query on the test's database, as a number. */
static long long raw_num(const char *sql)
{
	PGconn *conn = PQconnectdb(pg_url);
	PGresult *res;
	long long v;

	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		print_error("%s: %s\n", sql, PQresultErrorMessage(res));
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	PQfinish(conn);
	return v;
}

static struct dtf_leader *lead_now(const char *holder, const char *url, int wait_ms)
{
	struct dtf_leader *l = dtf_leader_new(pg_url, holder);
	char err[512] = "";

	assert_non_null(l);
	assert_int_equal(dtf_leader_advertise(l, url), 0);
	if (dtf_leader_acquire(l, wait_ms, NULL, err, sizeof(err)) != 0)
		print_error("acquire: %s\n", err);
	assert_true(dtf_leader_epoch(l) > 0);
	return l;
}

/* A leader's store commits while its epoch leads; once another leader has taken the next epoch,
 * its commit fails as a whole (the epoch's check runs in the same transaction as the writes),
 * the store refuses every later write at once, and its count of commits stays as it was. */
static void test_pg_fenced_commit(void **state)
{
	struct fixture *f = *state;
	struct dtf_leader *l = lead_now("one", "http://one:1", 0);
	int64_t e = dtf_leader_epoch(l);
	char err[512] = "", sql[128];
	struct dtf_store *st = dtf_store_open_fenced(f->target, e, err, sizeof(err));
	json_t *recs;
	char list[256];

	if (!st)
		print_error("open fenced: %s\n", err);
	assert_non_null(st);
	assert_int_equal(st->ops->begin(st), 0);
	put_task(st, "mine", 1, NULL, "pending", 1);
	assert_int_equal(st->ops->commit(st), 0);
	snprintf(sql, sizeof(sql), "SELECT commits FROM leader_commits WHERE epoch = %lld",
		 (long long)e);
	assert_int_equal(raw_num(sql), 1);
	/* What a new leader's takeover does to the row. */
	raw_exec(f, "UPDATE leader SET epoch = epoch + 1");
	assert_int_equal(st->ops->begin(st), 0);
	put_task(st, "late", 2, NULL, "pending", 1);
	put_task(st, "mine", 1, NULL, "completed", 2);
	assert_int_equal(st->ops->commit(st), DTF_ESTORE);
	if (!strstr(st->error, "fenced"))
		print_error("error: %s\n", st->error);
	assert_non_null(strstr(st->error, "fenced"));
	assert_true(st->fenced);
	st->ops->rollback(st);
	assert_int_equal(st->ops->begin(st), DTF_ESTORE);
	assert_int_equal(raw_num(sql), 1);
	recs = load_all(st);
	assert_string_equal(record_list(recs, list, sizeof(list)), "task:mine");
	assert_int_equal(dtf_json_int(doc_of(recs, 0), "v", 0), 1);
	json_decref(recs);
	dtf_store_close(st);
	dtf_leader_free(l);
	/* SQLite has one coordinator per file: no fenced store. */
	assert_null(dtf_store_open_fenced(f->db, 1, err, sizeof(err)));
}

/* A second candidate waits while the first leads (with the leader's URL as its hint), and takes
 * the next epoch once the first lets go. */
static void test_pg_standby_takes_over(void **state)
{
	struct fixture *f = *state;
	struct dtf_leader *a = lead_now("a", "http://a:1", 0), *b;
	char err[512] = "", url[64];

	(void)f;
	b = dtf_leader_new(pg_url, "b");
	assert_non_null(b);
	assert_int_equal(dtf_leader_advertise(b, "http://b:2"), 0);
	assert_int_equal(dtf_leader_acquire(b, 300, NULL, err, sizeof(err)), DTF_ETIMEOUT);
	assert_non_null(strstr(err, "another coordinator holds this database"));
	assert_int_equal(dtf_leader_hint(b, url, sizeof(url)), dtf_leader_epoch(a));
	assert_string_equal(url, "http://a:1");
	/* The plain store's lock is the leader's: refused too. */
	assert_null(dtf_store_open(pg_url, err, sizeof(err)));
	dtf_leader_free(a);
	assert_int_equal(dtf_leader_acquire(b, 3000, NULL, err, sizeof(err)), 0);
	assert_int_equal(dtf_leader_epoch(b), 2);
	assert_int_equal(raw_num("SELECT count(*) FROM leader WHERE url = 'http://b:2'"), 1);
	dtf_leader_free(b);
}

/* A leader that stops renewing its heartbeat (paused) loses the lock to a standby after the lease;
 * resumed, its heartbeat finds the epoch moved on and reports the leadership lost. */
static void test_pg_stale_leader_superseded(void **state)
{
	struct fixture *f = *state;
	struct dtf_leader *a = lead_now("a", "http://a:1", 0), *b;
	int64_t t0 = dtf_mono_ms();
	int i;

	(void)f;
	/* No heartbeat thread for a: as if paused from the start. */
	b = lead_now("b", "http://b:2", 3 * DTF_LEADER_LEASE_MS);
	assert_true(dtf_mono_ms() - t0 >= DTF_LEADER_LEASE_MS - 300);
	assert_int_equal(dtf_leader_epoch(b), dtf_leader_epoch(a) + 1);
	assert_false(dtf_leader_lost(a));
	assert_int_equal(dtf_leader_start(a), 0);
	for (i = 0; i < 100 && !dtf_leader_lost(a); i++)
		usleep(50 * 1000);
	assert_true(dtf_leader_lost(a));
	dtf_leader_free(a);
	dtf_leader_free(b);
}

static void test_pg_open_failures(void **state)
{
	char err[512] = "";

	(void)state;
	/* A closed port; the password in the URL is not repeated in the message. */
	assert_null(dtf_store_open("postgresql://dtf:s3cret@127.0.0.1:1/dtf", err, sizeof(err)));
	assert_non_null(strstr(err, "cannot open the PostgreSQL database"));
	assert_null(strstr(err, "s3cret"));
}

/* The cases every backend passes, with the group's setup. */
#define STORE_TESTS(setup_fn)                                                                      \
	cmocka_unit_test_setup_teardown(test_round_trip, setup_fn, teardown),                      \
	    cmocka_unit_test_setup_teardown(test_rollback_discards, setup_fn, teardown),           \
	    cmocka_unit_test_setup_teardown(test_uncommitted_lost_on_close, setup_fn, teardown),   \
	    cmocka_unit_test_setup_teardown(test_replace_updates, setup_fn, teardown),             \
	    cmocka_unit_test_setup_teardown(test_load_stops_on_callback_error, setup_fn,           \
					    teardown),                                             \
	    cmocka_unit_test_setup_teardown(test_bad_json_skipped, setup_fn, teardown),            \
	    cmocka_unit_test_setup_teardown(test_transaction_errors, setup_fn, teardown),          \
	    cmocka_unit_test_setup_teardown(test_many_tasks_in_order, setup_fn, teardown),         \
	    cmocka_unit_test_setup_teardown(test_last_write_wins, setup_fn, teardown),             \
	    cmocka_unit_test_setup_teardown(test_side_tables, setup_fn, teardown),                 \
	    cmocka_unit_test_setup_teardown(test_browser_perf, setup_fn, teardown),                \
	    cmocka_unit_test_setup_teardown(test_meta_docs, setup_fn, teardown),                   \
	    cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup_fn, teardown),        \
	    cmocka_unit_test_setup_teardown(test_upgrade_from_v2, setup_fn, teardown)

int main(void)
{
	const struct CMUnitTest sqlite_store[] = {
	    STORE_TESTS(setup),
	    cmocka_unit_test_setup_teardown(test_open_failures, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sqlite_old_schema_upgrades, setup, teardown),
	};
	const struct CMUnitTest postgres_store[] = {
	    STORE_TESTS(setup_pg),
	    cmocka_unit_test_setup_teardown(test_pg_second_refused, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_pg_reconnects, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_pg_failed_statement_fails_commit, setup_pg,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_pg_open_failures, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_pg_fenced_commit, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_pg_standby_takes_over, setup_pg, teardown),
	    cmocka_unit_test_setup_teardown(test_pg_stale_leader_superseded, setup_pg, teardown),
	};
	int rc;

	rc = dtf_unit_run(sqlite_store, NULL, NULL);
	pg_url = getenv("DTF_TEST_PG_URL");
	if (pg_url && *pg_url)
		rc |= dtf_unit_run(postgres_store, NULL, NULL);
	else
		fprintf(stderr, "test_store: DTF_TEST_PG_URL is not set; the PostgreSQL group is "
				"not run (tests/e2e/test_store_pg.sh runs it)\n");
	return rc;
}
