/* sqlite.c: the SQLite store, held by one coordinator (an flock on the database file: a second
 * coordinator on the same file is refused). WAL journal, synchronous=NORMAL: a committed
 * transaction survives the coordinator being killed at any instant (the WAL is in the OS page
 * cache), and commits cost no fsync. Checkpoints (which fsync, and copy the WAL into the
 * database) run on a thread of their own over a second connection, never inside a commit, so
 * they do not stall requests. Statements are prepared once. The tasks table has no secondary
 * indexes: the coordinator reads it whole at start-up and serves queries from memory, so every
 * index would only add pages to each commit. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "store/rows.h"
#include "store/store.h"

struct sq {
	sqlite3 *db;
	sqlite3 *ckpt_db; /* the checkpointer's connection */
	pthread_t ckpt;
	bool ckpt_running;
	volatile bool stop;
	int lockfd; /* holds the flock that keeps other coordinators out */
	sqlite3_stmt *put_run, *put_task, *put_attempt, *put_worker;
	sqlite3_stmt *put_task_seq; /* a task's row rewritten whole: its seq changed */
	sqlite3_stmt *begin, *commit, *rollback;
	sqlite3_stmt *put_duration;
};

/* The schema, as the ordered steps that build it (store/migrate.h): step i takes a database from
 * version i to i + 1. Version 1 is the schema of the first release, whose files recorded it as
 * meta's schema_version key (read as version 1 when schema_version has no row). Steps are
 * appended, never edited. */
static const char schema_v1[] =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, doc TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS tasks (id TEXT PRIMARY KEY, seq INTEGER NOT NULL,"
    " run_id TEXT, status TEXT NOT NULL, doc TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS attempts (task_id TEXT NOT NULL, attempt INTEGER NOT NULL,"
    " doc TEXT NOT NULL, PRIMARY KEY (task_id, attempt));"
    "CREATE TABLE IF NOT EXISTS workers (id TEXT PRIMARY KEY, doc TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS recovery (key TEXT PRIMARY KEY, doc TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS durations (name TEXT NOT NULL, hardware TEXT NOT NULL,"
    " mean_s REAL NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (name, hardware));"
    "CREATE TABLE IF NOT EXISTS outbox (id TEXT PRIMARY KEY, seq INTEGER NOT NULL,"
    " doc TEXT NOT NULL);";

/* Version 2: the browser benchmarks' performance history and the coordinator's own documents
 * (meta_docs: meta's name was taken by version 1's key/value table). */
static const char schema_v2[] =
    "CREATE TABLE IF NOT EXISTS browser_perf (key TEXT PRIMARY KEY, doc TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS meta_docs (key TEXT PRIMARY KEY, doc TEXT NOT NULL);";

/* What version 2 gained after files were made at version 2 by builds before its release (run at
 * each open of such a file; idempotent). */
static const char schema_v2_late[] =
    "CREATE TABLE IF NOT EXISTS meta_docs (key TEXT PRIMARY KEY, doc TEXT NOT NULL);";

static int sq_err(struct dtf_store *st, struct sq *q, const char *what)
{
	snprintf(st->error, sizeof(st->error), "%s: %s", what, sqlite3_errmsg(q->db));
	log_error("store: %s", st->error);
	return DTF_ESTORE;
}

static int sq_exec(struct dtf_store *st, struct sq *q, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(q->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(st->error, sizeof(st->error), "%s", msg ? msg : "error");
		sqlite3_free(msg);
		return DTF_ESTORE;
	}
	return 0;
}

static const char *const migrations[] = {schema_v1, schema_v2};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))
_Static_assert(SCHEMA_VERSION == DTF_STORE_SCHEMA_VERSION, "store.h's schema version");

/* The version the file's schema is at: schema_version's row, else meta's key (a file of the first
 * release: read as 0), else 0 (a new file). -1 on an error. */
static int schema_version(struct sq *q, bool *recorded, bool *legacy)
{
	static const char *const sql[] = {
	    "SELECT version FROM schema_version",
	    "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'",
	};
	size_t i;

	for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		sqlite3_stmt *s = NULL;
		int v = 0, r;

		if (sqlite3_prepare_v2(q->db, sql[i], -1, &s, NULL) != SQLITE_OK) {
			sqlite3_finalize(s);
			continue; /* no such table */
		}
		r = sqlite3_step(s);
		if (r == SQLITE_ROW)
			v = sqlite3_column_int(s, 0);
		sqlite3_finalize(s);
		if (r == SQLITE_ROW) {
			/* The first release's files: step 1 (CREATE TABLE IF NOT EXISTS, which it
			 * ran at each open) is run again, as the tables it gained over time may be
			 * missing from an old file. */
			*recorded = i == 0;
			*legacy = i == 1;
			return i == 0 ? v : 0;
		}
		if (r != SQLITE_DONE)
			return -1;
	}
	return 0;
}

/* Brings the schema to SCHEMA_VERSION in one transaction (all steps or none), or refuses a file
 * written by a newer dtf. The flock is held: no other coordinator migrates the file meanwhile. */
static int migrate(struct dtf_store *st, struct sq *q)
{
	char sql[160];
	bool recorded = false, legacy = false;
	int v = schema_version(q, &recorded, &legacy), i, rc;

	if (v < 0)
		return sq_err(st, q, "read the schema version");
	if (v > SCHEMA_VERSION) {
		snprintf(st->error, sizeof(st->error),
			 "the database's schema is version %d, newer than this dtf's (%d)", v,
			 SCHEMA_VERSION);
		return DTF_ESTORE;
	}
	if (v == SCHEMA_VERSION && recorded)
		return sq_exec(st, q, schema_v2_late);
	rc = sq_exec(st, q, "BEGIN IMMEDIATE");
	if (rc)
		return rc;
	for (i = v; i < SCHEMA_VERSION && !rc; i++)
		rc = sq_exec(st, q, migrations[i]);
	snprintf(sql, sizeof(sql),
		 "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"
		 "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%d);",
		 SCHEMA_VERSION);
	if (!rc)
		rc = sq_exec(st, q, sql);
	if (!rc)
		rc = sq_exec(st, q, "COMMIT");
	if (rc) {
		char why[sizeof(st->error)];
		snprintf(why, sizeof(why), "%s", st->error);
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
		snprintf(st->error, sizeof(st->error), "migrate the schema from version %d: %s", v,
			 why);
		return rc;
	}
	if (v || legacy)
		log_info("store: schema migrated from version %d to %d", v, SCHEMA_VERSION);
	return 0;
}

/* The index on tasks' seq that start-up reads them in order by: without it, sorting a million
 * stored tasks spilled half a gigabyte to temporary files and took most of a restart (bench/
 * RESULTS.md, "One million tasks"). Not a schema step: it changes no table and any version
 * reads and writes the file with it, so a file that lacks it simply gets it (once, when it is
 * opened: 3 s for a million tasks). */
static int seq_index(struct dtf_store *st, struct sq *q)
{
	return sq_exec(st, q, "CREATE INDEX IF NOT EXISTS tasks_seq ON tasks (seq)");
}

/* The WAL, in pages, past which the checkpointer waits for a pause in the writes to start it
 * over (64 MiB with 4 KiB pages). */
#define WAL_RESTART_FRAMES 16384

/* The checkpointer: every 100 ms, a passive checkpoint (copies what the WAL holds into the
 * database without waiting for the writer; the writer starts the WAL over once all of it is
 * copied). Under continuous writes the writer always has appended more by then, so the WAL
 * would only grow (and a restart after a crash would scan all of it): past WAL_RESTART_FRAMES
 * a restarting checkpoint waits for the writer's current transaction, copies the rest and
 * makes the writer's next transaction start the WAL over (journal_size_limit then cuts the
 * file back to 64 MiB). Not a truncating one: emptying a 64 MiB file while the writer is held
 * out stalled every request for 40–60 ms, once a second at 10,000 leases/s (lease p99 75 ms
 * instead of 13 ms in `dtf bench --phases longpoll`). */
static void *ckpt_main(void *arg)
{
	struct sq *q = arg;
	int n = 0, log = 0, done = 0;

	while (!q->stop) {
		usleep(20000);
		if (++n % 5 != 0)
			continue;
		if (sqlite3_wal_checkpoint_v2(q->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log,
					      &done) == SQLITE_OK &&
		    log > WAL_RESTART_FRAMES)
			sqlite3_wal_checkpoint_v2(q->ckpt_db, NULL, SQLITE_CHECKPOINT_RESTART, NULL,
						  NULL);
	}
	return NULL;
}

/* The checkpointer's busy handler: naps of 100 µs, 10,000 of them at most (one to two seconds
 * with the time each call takes). SQLite's own (with
 * sqlite3_busy_timeout) sleeps 1, 2, 5, 10, … 100 ms between tries, and a checkpoint that
 * restarts the WAL holds the writer out all the while it waits. */
static int ckpt_busy(void *arg, int tries)
{
	(void)arg;
	if (tries >= 10000)
		return 0;
	usleep(100);
	return 1;
}

static int start_checkpointer(struct dtf_store *st, struct sq *q, const char *path)
{
	if (sqlite3_open_v2(path, &q->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK)
		return sq_err(st, q, "open the checkpointer");
	sqlite3_busy_handler(q->ckpt_db, ckpt_busy, NULL);
	if (sqlite3_exec(q->ckpt_db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK)
		return sq_err(st, q, "configure the checkpointer");
	if (pthread_create(&q->ckpt, NULL, ckpt_main, q) != 0) {
		snprintf(st->error, sizeof(st->error), "cannot start the checkpoint thread");
		return DTF_ESTORE;
	}
	q->ckpt_running = true;
	return 0;
}

static int sq_open(struct dtf_store *st, const char *path)
{
	struct sq *q = calloc(1, sizeof(*q));
	int rc = 0;

	if (!q)
		return DTF_ENOMEM;
	q->lockfd = -1;
	st->impl = q;
	if (strcmp(path, ":memory:") != 0) {
		/* 0600: the store holds the workers' tokens. SQLite gives its -wal and -shm
		 * files the database's mode. */
		q->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (q->lockfd < 0) {
			snprintf(st->error, sizeof(st->error), "open %s: %s", path,
				 strerror(errno));
			rc = DTF_ESTORE;
			goto out;
		}
		if (flock(q->lockfd, LOCK_EX | LOCK_NB) != 0) {
			snprintf(st->error, sizeof(st->error), "database is locked");
			rc = DTF_ESTORE;
			goto out;
		}
	}
	if (sqlite3_open_v2(path, &q->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		rc = sq_err(st, q, "open");
		goto out;
	}
	sqlite3_busy_timeout(q->db, 5000);
	rc = sq_exec(st, q,
		     "PRAGMA journal_mode=WAL; "
		     "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF;"
		     "PRAGMA wal_autocheckpoint=0; PRAGMA cache_size=-16384; "
		     "PRAGMA journal_size_limit=67108864;");
	if (rc)
		goto out;
	rc = migrate(st, q);
	if (!rc)
		rc = seq_index(st, q);
	if (rc)
		goto out;
#define PREP(stmt, sql)                                                                            \
	if (sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &q->stmt, NULL) !=       \
	    SQLITE_OK) {                                                                           \
		rc = sq_err(st, q, "prepare");                                                     \
		goto out;                                                                          \
	}
	PREP(put_run, "INSERT OR REPLACE INTO runs (id, doc) VALUES (?1, ?2)");
	/* An upsert, not INSERT OR REPLACE: the row is updated where it is, so a change touches
	 * one table page and leaves the id index alone (REPLACE deletes and re-inserts both). */
	PREP(put_task,
	     "INSERT INTO tasks (id, seq, run_id, status, doc) VALUES (?1, ?2, ?3, ?4, ?5) "
	     "ON CONFLICT(id) DO UPDATE SET run_id = excluded.run_id, "
	     "status = excluded.status, doc = excluded.doc WHERE seq = excluded.seq");
	/* Setting seq in the upsert rewrote its entry in tasks_seq at every update (3-5 µs a
	 * task); a task's seq does not change, and when it does, put_task_row sees the upsert
	 * change nothing and rewrites the row with this. */
	PREP(put_task_seq, "UPDATE tasks SET seq = ?2, run_id = ?3, status = ?4, doc = ?5 "
			   "WHERE id = ?1");
	PREP(put_attempt,
	     "INSERT OR REPLACE INTO attempts (task_id, attempt, doc) VALUES (?1, ?2, ?3)");
	PREP(put_worker, "INSERT OR REPLACE INTO workers (id, doc) VALUES (?1, ?2)");
	PREP(put_duration, "INSERT OR REPLACE INTO durations (name, hardware, mean_s, n) "
			   "VALUES (?1, ?2, ?3, ?4)");
	PREP(begin, "BEGIN IMMEDIATE");
	PREP(commit, "COMMIT");
	PREP(rollback, "ROLLBACK");
#undef PREP
	if (q->lockfd >= 0)
		rc = start_checkpointer(st, q, path);
out:
	return rc;
}

static void sq_close(struct dtf_store *st)
{
	struct sq *q = st->impl;

	if (!q)
		return;
	q->stop = true;
	if (q->ckpt_running)
		pthread_join(q->ckpt, NULL);
	sqlite3_close(q->ckpt_db);
	sqlite3_finalize(q->put_run);
	sqlite3_finalize(q->put_task);
	sqlite3_finalize(q->put_task_seq);
	sqlite3_finalize(q->put_attempt);
	sqlite3_finalize(q->put_worker);
	sqlite3_finalize(q->begin);
	sqlite3_finalize(q->commit);
	sqlite3_finalize(q->rollback);
	sqlite3_finalize(q->put_duration);
	sqlite3_close(q->db);
	if (q->lockfd >= 0)
		close(q->lockfd);
	free(q);
	st->impl = NULL;
}

static int step_reset(struct dtf_store *st, struct sq *q, sqlite3_stmt *s, const char *what)
{
	int r = sqlite3_step(s);
	int rc = (r == SQLITE_DONE || r == SQLITE_ROW) ? 0 : sq_err(st, q, what);

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc;
}

static int sq_begin(struct dtf_store *st)
{
	struct sq *q = st->impl;

	return step_reset(st, q, q->begin, "begin");
}

static int sq_commit(struct dtf_store *st)
{
	struct sq *q = st->impl;

	return step_reset(st, q, q->commit, "commit");
}

static int sq_rollback(struct dtf_store *st)
{
	struct sq *q = st->impl;

	if (sqlite3_get_autocommit(q->db))
		return 0;
	return step_reset(st, q, q->rollback, "rollback");
}

static int bind_doc(sqlite3_stmt *s, int idx, const json_t *doc)
{
	char *text = dtf_json_dumps(doc);

	if (!text)
		return DTF_ENOMEM;
	sqlite3_bind_text(s, idx, text, -1, free);
	return 0;
}

static int sq_put_run(struct dtf_store *st, const char *id, const json_t *doc)
{
	struct sq *q = st->impl;

	sqlite3_bind_text(q->put_run, 1, id, -1, SQLITE_STATIC);
	if (bind_doc(q->put_run, 2, doc))
		return DTF_ENOMEM;
	return step_reset(st, q, q->put_run, "put run");
}

/* Binds a task's row to s (put_task's and put_task_seq's parameters): doc serialized, or text. */
static int bind_task(sqlite3_stmt *s, const char *id, int64_t seq, const char *run_id,
		     const char *status, const json_t *doc, const char *text)
{
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, seq);
	if (run_id && *run_id)
		sqlite3_bind_text(s, 3, run_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, status, -1, SQLITE_STATIC);
	if (text) {
		sqlite3_bind_text(s, 5, text, -1, SQLITE_STATIC);
		return 0;
	}
	return bind_doc(s, 5, doc) ? DTF_ENOMEM : 0;
}

static int put_task_row(struct dtf_store *st, const char *id, int64_t seq, const char *run_id,
			const char *status, const json_t *doc, const char *text)
{
	struct sq *q = st->impl;
	int rc = bind_task(q->put_task, id, seq, run_id, status, doc, text);

	if (rc)
		return rc;
	rc = step_reset(st, q, q->put_task, "put task");
	if (rc || sqlite3_changes(q->db) != 0)
		return rc;
	/* The row is there with another seq: the upsert's WHERE left it as it was. */
	rc = bind_task(q->put_task_seq, id, seq, run_id, status, doc, text);
	if (rc)
		return rc;
	return step_reset(st, q, q->put_task_seq, "put task");
}

static int sq_put_task(struct dtf_store *st, const char *id, int64_t seq, const char *run_id,
		       const char *status, const json_t *doc)
{
	return put_task_row(st, id, seq, run_id, status, doc, NULL);
}

static int sq_put_task_text(struct dtf_store *st, const char *id, int64_t seq, const char *run_id,
			    const char *status, const char *text)
{
	return put_task_row(st, id, seq, run_id, status, NULL, text);
}

static int sq_put_attempt(struct dtf_store *st, const char *task_id, int attempt, const json_t *doc)
{
	struct sq *q = st->impl;

	sqlite3_bind_text(q->put_attempt, 1, task_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(q->put_attempt, 2, attempt);
	if (bind_doc(q->put_attempt, 3, doc))
		return DTF_ENOMEM;
	return step_reset(st, q, q->put_attempt, "put attempt");
}

static int sq_put_worker(struct dtf_store *st, const char *id, const json_t *doc)
{
	struct sq *q = st->impl;

	sqlite3_bind_text(q->put_worker, 1, id, -1, SQLITE_STATIC);
	if (bind_doc(q->put_worker, 2, doc))
		return DTF_ENOMEM;
	return step_reset(st, q, q->put_worker, "put worker");
}

static int load_table(struct dtf_store *st, struct sq *q, const char *sql, enum dtf_store_kind kind,
		      dtf_store_load_cb cb, void *arg)
{
	sqlite3_stmt *s = NULL;
	struct dtf_store_row *rows = calloc(DTF_STORE_LOAD_BATCH, sizeof(*rows));
	size_t n = 0;
	int rc = 0, r;

	if (!rows)
		return DTF_ENOMEM;
	if (sqlite3_prepare_v2(q->db, sql, -1, &s, NULL) != SQLITE_OK) {
		free(rows);
		return sq_err(st, q, "prepare load");
	}
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(s, 0);
		const char *text = (const char *)sqlite3_column_text(s, 1);
		int len = sqlite3_column_bytes(s, 1);
		rc = dtf_store_row_set(&rows[n], id, text, (size_t)len);
		if (rc)
			break;
		if (++n == DTF_STORE_LOAD_BATCH) {
			rc = dtf_store_rows_flush(rows, n, kind, cb, st->load_task_text, arg);
			n = 0;
			if (rc)
				break;
		}
	}
	if (!rc && r != SQLITE_DONE && r != SQLITE_ROW)
		rc = sq_err(st, q, "load");
	if (n) {
		int rc2 = dtf_store_rows_flush(rows, n, kind, cb, st->load_task_text, arg);
		if (!rc)
			rc = rc2;
	}
	sqlite3_finalize(s);
	free(rows);
	return rc;
}

/* The count is a hint: a failure to get it is no failure of the load. */
static void load_count(struct sq *q, const char *sql, void (*fn)(void *, size_t), void *arg)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(q->db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 0) > 0)
		fn(arg, (size_t)sqlite3_column_int64(s, 0));
	sqlite3_finalize(s);
}

static int sq_load(struct dtf_store *st, dtf_store_load_cb cb, void *arg)
{
	struct sq *q = st->impl;
	int rc;

	rc = load_table(st, q, "SELECT id, doc FROM runs", DTF_STORE_RUN, cb, arg);
	if (!rc && st->load_task_count)
		load_count(q, "SELECT count(*) FROM tasks", st->load_task_count, arg);
	if (!rc)
		rc = load_table(st, q, "SELECT id, doc FROM tasks ORDER BY seq", DTF_STORE_TASK, cb,
				arg);
	if (!rc)
		rc =
		    load_table(st, q, "SELECT task_id, doc FROM attempts ORDER BY task_id, attempt",
			       DTF_STORE_ATTEMPT, cb, arg);
	if (!rc)
		rc = load_table(st, q, "SELECT id, doc FROM workers", DTF_STORE_WORKER, cb, arg);
	return rc;
}

/* ---- key/document tables (recovery history, browser benchmarks, meta documents): few rows,
 * written rarely; statements prepared per call ---- */

static int put_keyed(struct dtf_store *st, const char *table, const char *key, const json_t *doc)
{
	struct sq *q = st->impl;
	sqlite3_stmt *s = NULL;
	char sql[128], what[64];
	int rc;

	snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO %s (key, doc) VALUES (?1, ?2)", table);
	snprintf(what, sizeof(what), "put %s", table);
	if (sqlite3_prepare_v2(q->db, sql, -1, &s, NULL) != SQLITE_OK)
		return sq_err(st, q, what);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if (bind_doc(s, 2, doc)) {
		sqlite3_finalize(s);
		return DTF_ENOMEM;
	}
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : sq_err(st, q, what);
	sqlite3_finalize(s);
	return rc;
}

/* Calls cb per row. A document that does not parse is skipped with a log line, or, with strict,
 * stops the load (DTF_ESTORE). */
static int load_keyed(struct dtf_store *st, const char *table, bool strict,
		      int (*cb)(void *arg, const char *key, json_t *doc), void *arg)
{
	struct sq *q = st->impl;
	sqlite3_stmt *s = NULL;
	char sql[96], what[64];
	int rc = 0;

	snprintf(sql, sizeof(sql), "SELECT key, doc FROM %s", table);
	snprintf(what, sizeof(what), "load %s", table);
	if (sqlite3_prepare_v2(q->db, sql, -1, &s, NULL) != SQLITE_OK)
		return sq_err(st, q, what);
	while (!rc && sqlite3_step(s) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(s, 0);
		const char *text = (const char *)sqlite3_column_text(s, 1);
		json_t *doc =
		    json_loadb(text ? text : "", (size_t)sqlite3_column_bytes(s, 1), 0, NULL);
		if (!doc && strict) {
			snprintf(st->error, sizeof(st->error), "%s record %s is not valid JSON",
				 table, key ? key : "");
			rc = DTF_ESTORE;
			break;
		}
		if (!doc) {
			log_error("store: %s record %s is not valid JSON; skipped", table, key);
			continue;
		}
		rc = cb(arg, key ? key : "", doc);
		json_decref(doc);
	}
	sqlite3_finalize(s);
	return rc;
}

static int sq_put_recovery(struct dtf_store *st, const char *key, const json_t *doc)
{
	return put_keyed(st, "recovery", key, doc);
}

static int sq_load_recovery(struct dtf_store *st,
			    int (*cb)(void *arg, const char *key, json_t *doc), void *arg)
{
	return load_keyed(st, "recovery", false, cb, arg);
}

static int sq_put_browser_perf(struct dtf_store *st, const char *key, const json_t *doc)
{
	return put_keyed(st, "browser_perf", key, doc);
}

static int sq_load_browser_perf(struct dtf_store *st,
				int (*cb)(void *arg, const char *key, json_t *doc), void *arg)
{
	return load_keyed(st, "browser_perf", false, cb, arg);
}

static int sq_put_meta(struct dtf_store *st, const char *key, const json_t *doc)
{
	return put_keyed(st, "meta_docs", key, doc);
}

/* Unlike the histories, a document that does not parse stops the load: these documents hold
 * revocations, and skipping one would bring a revoked key back. */
static int sq_load_meta(struct dtf_store *st, int (*cb)(void *arg, const char *key, json_t *doc),
			void *arg)
{
	return load_keyed(st, "meta_docs", true, cb, arg);
}

static int sq_put_duration(struct dtf_store *st, const char *name, const char *hw, double mean_s,
			   int64_t n)
{
	struct sq *q = st->impl;

	sqlite3_bind_text(q->put_duration, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q->put_duration, 2, hw, -1, SQLITE_STATIC);
	sqlite3_bind_double(q->put_duration, 3, mean_s);
	sqlite3_bind_int64(q->put_duration, 4, n);
	return step_reset(st, q, q->put_duration, "put duration");
}

static int sq_load_durations(struct dtf_store *st, dtf_store_duration_cb cb, void *arg)
{
	struct sq *q = st->impl;
	sqlite3_stmt *s = NULL;
	int rc = 0, step;

	if (sqlite3_prepare_v2(q->db, "SELECT name, hardware, mean_s, n FROM durations", -1, &s,
			       NULL) != SQLITE_OK)
		return sq_err(st, q, "prepare load durations");
	while ((step = sqlite3_step(s)) == SQLITE_ROW && !rc)
		rc = cb(arg, (const char *)sqlite3_column_text(s, 0),
			(const char *)sqlite3_column_text(s, 1), sqlite3_column_double(s, 2),
			sqlite3_column_int64(s, 3));
	if (!rc && step != SQLITE_DONE && step != SQLITE_ROW)
		rc = sq_err(st, q, "load durations");
	sqlite3_finalize(s);
	return rc;
}

/* ---- the notifications outbox: a message per row, rewritten a few times; per-call statements
 * (a notification is rare next to a task's writes) ---- */

static int sq_put_outbox(struct dtf_store *st, const char *id, int64_t seq, const json_t *doc)
{
	struct sq *q = st->impl;
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(q->db,
			       "INSERT OR REPLACE INTO outbox (id, seq, doc) VALUES (?1, ?2, ?3)",
			       -1, &s, NULL) != SQLITE_OK)
		return sq_err(st, q, "prepare put outbox");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, seq);
	if (bind_doc(s, 3, doc)) {
		sqlite3_finalize(s);
		return DTF_ENOMEM;
	}
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : sq_err(st, q, "put outbox");
	sqlite3_finalize(s);
	return rc;
}

static int sq_del_outbox(struct dtf_store *st, const char *id)
{
	struct sq *q = st->impl;
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(q->db, "DELETE FROM outbox WHERE id = ?1", -1, &s, NULL) !=
	    SQLITE_OK)
		return sq_err(st, q, "prepare delete outbox");
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : sq_err(st, q, "delete outbox");
	sqlite3_finalize(s);
	return rc;
}

static int sq_load_outbox(struct dtf_store *st,
			  int (*cb)(void *arg, const char *id, int64_t seq, json_t *doc), void *arg)
{
	struct sq *q = st->impl;
	sqlite3_stmt *s = NULL;
	int rc = 0, r;

	if (sqlite3_prepare_v2(q->db, "SELECT id, seq, doc FROM outbox ORDER BY seq", -1, &s,
			       NULL) != SQLITE_OK)
		return sq_err(st, q, "prepare load outbox");
	while (!rc && (r = sqlite3_step(s)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(s, 0);
		const char *text = (const char *)sqlite3_column_text(s, 2);
		json_error_t je;
		json_t *doc =
		    json_loadb(text ? text : "", (size_t)sqlite3_column_bytes(s, 2), 0, &je);
		if (!doc) {
			log_error("store: outbox record %s is not valid JSON; skipped", id);
			continue;
		}
		rc = cb(arg, id ? id : "", sqlite3_column_int64(s, 1), doc);
		json_decref(doc);
	}
	sqlite3_finalize(s);
	return rc;
}

const struct dtf_store_ops dtf_store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .put_run = sq_put_run,
    .put_task = sq_put_task,
    .put_attempt = sq_put_attempt,
    .put_worker = sq_put_worker,
    .load = sq_load,
    .put_recovery = sq_put_recovery,
    .load_recovery = sq_load_recovery,
    .put_duration = sq_put_duration,
    .load_durations = sq_load_durations,
    .put_task_text = sq_put_task_text,
    .put_outbox = sq_put_outbox,
    .del_outbox = sq_del_outbox,
    .load_outbox = sq_load_outbox,
    .put_browser_perf = sq_put_browser_perf,
    .load_browser_perf = sq_load_browser_perf,
    .put_meta = sq_put_meta,
    .load_meta = sq_load_meta,
};
