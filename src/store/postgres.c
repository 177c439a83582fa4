/* postgres.c: the PostgreSQL store (libpq). One connection, held by one coordinator. Opened
 * plainly (dtf_store_open), it takes a session advisory lock that keeps a second coordinator off
 * the same database; opened fenced (dtf_store_open_fenced, by a leader of several coordinators:
 * store/leader.h), the lock is the leader's own session's and every transaction checks the
 * leader's epoch first, in the same pipeline (dtf_fence(), see leader.c): a superseded leader's
 * transaction fails as a whole, and the store stays refused from then on (st->fenced). Documents
 * are stored as text, not jsonb: nothing queries inside them (the coordinator reads everything
 * whole at start-up), jsonb would parse and re-encode each one on every write, and it refuses the
 * \u0000 a task's output may hold.
 *
 * Throughput: a transaction is one pipeline (libpq's pipeline mode). BEGIN, each row's upsert (a
 * prepared statement) and COMMIT are queued without waiting, sent together, and their results
 * read once at commit: a group commit of hundreds of rows costs one round trip and one fsync on
 * the server, not one round trip per row.
 *
 * Connection loss: a write that fails makes its commit fail (the coordinator answers the held
 * requests 503; nothing is acknowledged that the server did not commit). The next begin()
 * reconnects, retrying no sooner than a backoff that doubles from 100 ms to 5 s, and takes the
 * advisory lock and prepares the statements again; until then begin() fails at once, so requests
 * that write are answered 503 without waiting on the network. */
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "store/rows.h"
#include "store/store.h"

/* The advisory lock's key ("dtf" in ASCII), per database. */
#define PG_LOCK_KEY    "6583398"
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

/* A buffered row: its fields (NULL for SQL NULL) in one allocation. */
struct brow {
	char *f[5];
	size_t ord; /* the order it was written in */
};

/* The rows of one table written in the open transaction, sent at commit as one multi-row
 * statement per BATCH_ROWS rows (unnest() over one array per column), the last write of each key
 * only (a task leased and completed in one group commit is written once). */
struct batch {
	const char *stmt; /* the prepared statement */
	int nf, nkey;	  /* fields, and how many of the first make the key */
	struct brow *v;
	size_t n, cap;
};

enum { B_RUNS, B_TASKS, B_ATTEMPTS, B_WORKERS, B_COUNT };
#define BATCH_ROWS 2000

struct pg {
	PGconn *conn;
	struct batch b[B_COUNT];
	size_t nrows; /* rows buffered in the open transaction */
	char *url;
	bool in_txn; /* begin() succeeded and neither commit() nor rollback() ran since */
	int queued;  /* statements sent in the open pipeline whose results are not read yet */
	bool failed; /* a statement of the open transaction could not be sent */
	int64_t next_try_ms; /* no reconnect before this (CLOCK_MONOTONIC) */
	int backoff_ms;
	char epoch[24]; /* fenced: the leader's epoch, the fence's parameter; "" when plain */
};

/* The schema, as ordered steps (the same versions as the SQLite store's): step i takes a database
 * from version i to i + 1. Steps are appended, never edited. */
static const char schema_v1[] =
    "CREATE TABLE IF NOT EXISTS runs (id text PRIMARY KEY, doc text NOT NULL);"
    "CREATE TABLE IF NOT EXISTS tasks (id text PRIMARY KEY, seq bigint NOT NULL,"
    " run_id text, status text NOT NULL, doc text NOT NULL) WITH (fillfactor = 70);"
    "CREATE TABLE IF NOT EXISTS attempts (task_id text NOT NULL, attempt integer NOT NULL,"
    " doc text NOT NULL, PRIMARY KEY (task_id, attempt));"
    "CREATE TABLE IF NOT EXISTS workers (id text PRIMARY KEY, doc text NOT NULL);"
    "CREATE TABLE IF NOT EXISTS recovery (key text PRIMARY KEY, doc text NOT NULL);"
    "CREATE TABLE IF NOT EXISTS durations (name text NOT NULL, hardware text NOT NULL,"
    " mean_s double precision NOT NULL, n bigint NOT NULL, PRIMARY KEY (name, hardware));"
    "CREATE TABLE IF NOT EXISTS outbox (id text PRIMARY KEY, seq bigint NOT NULL,"
    " doc text NOT NULL);";

/* Version 2: the browser benchmarks' performance history and the coordinator's own documents
 * (meta_docs, the name the SQLite store has for it). */
static const char schema_v2[] =
    "CREATE TABLE IF NOT EXISTS browser_perf (key text PRIMARY KEY, doc text NOT NULL);"
    "CREATE TABLE IF NOT EXISTS meta_docs (key text PRIMARY KEY, doc text NOT NULL);";

/* What version 2 gained after databases were made at version 2 by builds before its release
 * (run at each open of such a database, under the lock; idempotent). */
static const char schema_v2_late[] =
    "CREATE TABLE IF NOT EXISTS meta_docs (key text PRIMARY KEY, doc text NOT NULL);";

/* Version 3: the index on tasks' seq that start-up reads them in order by. Without it the load's
 * ORDER BY seq sorted the whole table on the server, through temporary files, before the first
 * row came back (bench/RESULTS.md, "One million tasks"). It costs a new task one B-tree insert
 * at the right edge; an update leaves it alone (a HOT update: seq keeps its value, see
 * put_task). Built inside the migration's transaction (CONCURRENTLY cannot be), under the
 * coordinator lock, while nothing else writes: about a second for a million tasks, once. */
static const char schema_v3[] = "CREATE INDEX IF NOT EXISTS tasks_seq ON tasks (seq);";

static const char *const migrations[] = {schema_v1, schema_v2, schema_v3};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))
_Static_assert(SCHEMA_VERSION == DTF_STORE_SCHEMA_VERSION, "store.h's schema version");

/* The prepared statements, by name. */
static const struct {
	const char *name, *sql;
	int nparams;
} stmts[] = {
    {"put_run",
     "INSERT INTO runs (id, doc) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET doc = "
     "excluded.doc",
     2},
    /* seq = excluded.seq (here and in bulk_tasks) writes the value the row has already:
     * PostgreSQL compares the indexed columns' old and new values, so the update stays HOT and
     * writes no entry in tasks_seq (nor the primary key) when the page has room. */
    {"put_task",
     "INSERT INTO tasks (id, seq, run_id, status, doc) VALUES ($1, $2, $3, $4, $5) "
     "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, run_id = excluded.run_id, "
     "status = excluded.status, doc = excluded.doc",
     5},
    {"put_attempt",
     "INSERT INTO attempts (task_id, attempt, doc) VALUES ($1, $2, $3) "
     "ON CONFLICT (task_id, attempt) DO UPDATE SET doc = excluded.doc",
     3},
    {"put_worker",
     "INSERT INTO workers (id, doc) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET doc = "
     "excluded.doc",
     2},
    {"put_recovery",
     "INSERT INTO recovery (key, doc) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET doc = "
     "excluded.doc",
     2},
    {"put_duration",
     "INSERT INTO durations (name, hardware, mean_s, n) VALUES ($1, $2, $3, $4) "
     "ON CONFLICT (name, hardware) DO UPDATE SET mean_s = excluded.mean_s, n = excluded.n",
     4},
    {"put_outbox",
     "INSERT INTO outbox (id, seq, doc) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET "
     "seq = excluded.seq, doc = excluded.doc",
     3},
    {"del_outbox", "DELETE FROM outbox WHERE id = $1", 1},
    {"fence", "SELECT dtf_fence($1::bigint)", 1},
    {"put_browser_perf",
     "INSERT INTO browser_perf (key, doc) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET "
     "doc = excluded.doc",
     2},
    {"put_meta",
     "INSERT INTO meta_docs (key, doc) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET "
     "doc = excluded.doc",
     2},
    {"bulk_runs",
     "INSERT INTO runs (id, doc) SELECT * FROM unnest($1::text[], $2::text[]) "
     "ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
     2},
    {"bulk_tasks",
     "INSERT INTO tasks (id, seq, run_id, status, doc) SELECT * FROM unnest($1::text[], "
     "$2::bigint[], $3::text[], $4::text[], $5::text[]) ON CONFLICT (id) DO UPDATE SET "
     "seq = excluded.seq, run_id = excluded.run_id, status = excluded.status, doc = excluded.doc",
     5},
    {"bulk_attempts",
     "INSERT INTO attempts (task_id, attempt, doc) SELECT * FROM unnest($1::text[], "
     "$2::integer[], $3::text[]) ON CONFLICT (task_id, attempt) DO UPDATE SET doc = excluded.doc",
     3},
    {"bulk_workers",
     "INSERT INTO workers (id, doc) SELECT * FROM unnest($1::text[], $2::text[]) "
     "ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
     2},
};

static const struct batch batch_init[B_COUNT] = {
    [B_RUNS] = {"bulk_runs", 2, 1, NULL, 0, 0},
    [B_TASKS] = {"bulk_tasks", 5, 1, NULL, 0, 0},
    [B_ATTEMPTS] = {"bulk_attempts", 3, 2, NULL, 0, 0},
    [B_WORKERS] = {"bulk_workers", 2, 1, NULL, 0, 0},
};

static void batches_clear(struct pg *p);

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Records libpq's message (its last line, without the newline) as the store's error. */
static int pg_err(struct dtf_store *st, struct pg *p, const char *what, const PGresult *res)
{
	const char *msg = res ? PQresultErrorMessage(res) : NULL;
	size_t n;

	if (!msg || !*msg)
		msg = p->conn ? PQerrorMessage(p->conn) : "no connection";
	snprintf(st->error, sizeof(st->error), "%s: %s", what, *msg ? msg : "error");
	n = strlen(st->error);
	while (n && (st->error[n - 1] == '\n' || st->error[n - 1] == ' '))
		st->error[--n] = '\0';
	return DTF_ESTORE;
}

/* Runs sql outside a pipeline; 0 when it succeeded. */
static int pg_exec(struct dtf_store *st, struct pg *p, const char *what, const char *sql)
{
	PGresult *res = PQexec(p->conn, sql);
	ExecStatusType s = PQresultStatus(res);
	int rc = (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) ? 0 : pg_err(st, p, what, res);

	PQclear(res);
	return rc;
}

/* The version the database's schema is at (0: a new database), or -1. */
static int schema_version(struct dtf_store *st, struct pg *p)
{
	PGresult *res;
	int v = -1;

	if (pg_exec(st, p, "create the version table",
		    "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)"))
		return -1;
	res = PQexec(p->conn, "SELECT coalesce(max(version), 0) FROM schema_version");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		v = atoi(PQgetvalue(res, 0, 0));
	else
		pg_err(st, p, "read the schema version", res);
	PQclear(res);
	return v;
}

/* Brings the schema to SCHEMA_VERSION in one transaction, or refuses a database written by a
 * newer dtf. The advisory lock is held: no other coordinator migrates it meanwhile. */
static int migrate(struct dtf_store *st, struct pg *p)
{
	char sql[128], why[sizeof(st->error)];
	int v = schema_version(st, p), i, rc;

	if (v < 0)
		return DTF_ESTORE;
	if (v > SCHEMA_VERSION) {
		snprintf(st->error, sizeof(st->error),
			 "the database's schema is version %d, newer than this dtf's (%d)", v,
			 SCHEMA_VERSION);
		return DTF_ESTORE;
	}
	if (v == SCHEMA_VERSION)
		return pg_exec(st, p, "migrate", schema_v2_late);
	rc = pg_exec(st, p, "begin", "BEGIN");
	/* A version 2 database may lack what version 2 gained late: the steps after it would not
	 * add it. */
	if (!rc && v >= 2)
		rc = pg_exec(st, p, "migrate", schema_v2_late);
	for (i = v; i < SCHEMA_VERSION && !rc; i++)
		rc = pg_exec(st, p, "migrate", migrations[i]);
	snprintf(sql, sizeof(sql),
		 "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%d)",
		 SCHEMA_VERSION);
	if (!rc)
		rc = pg_exec(st, p, "migrate", sql);
	if (!rc)
		rc = pg_exec(st, p, "commit", "COMMIT");
	if (rc) {
		snprintf(why, sizeof(why), "%s", st->error);
		PQclear(PQexec(p->conn, "ROLLBACK"));
		snprintf(st->error, sizeof(st->error), "migrate the schema from version %d: %s", v,
			 why);
		return rc;
	}
	if (v)
		log_info("store: schema migrated from version %d to %d", v, SCHEMA_VERSION);
	return 0;
}

/* Connects (or connects again), takes the advisory lock, migrates and prepares. */
static int pg_connect(struct dtf_store *st, struct pg *p, bool first)
{
	/* The URL's own settings win over these defaults (expand_dbname). */
	const char *const keys[] = {"connect_timeout", "application_name", "options", "dbname",
				    NULL};
	/* synchronous_commit=on whatever the server's default: a commit dtf acknowledges is on
	 * the server's disk. */
	const char *const vals[] = {"5", "dtf-coordinator",
				    "-c client_min_messages=warning -c synchronous_commit=on",
				    p->url, NULL};
	PGresult *res;
	bool locked;
	size_t i;
	int rc, tries;

	if (p->conn)
		PQfinish(p->conn);
	p->conn = PQconnectdbParams(keys, vals, 1);
	if (!p->conn || PQstatus(p->conn) != CONNECTION_OK)
		return pg_err(st, p, "connect", NULL);
	if (p->epoch[0])
		goto locked; /* the leader's session holds the lock */
	/* A coordinator that just stopped or was killed leaves a server process that ends (and
	 * releases the lock) a moment later: tries for 3 s before refusing. */
	for (tries = 0;; tries++) {
		res = PQexec(p->conn, "SELECT pg_try_advisory_lock(" PG_LOCK_KEY ")");
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
			rc = pg_err(st, p, "take the coordinator lock", res);
			PQclear(res);
			return rc;
		}
		locked = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
		if (locked)
			break;
		if (tries == 60) {
			snprintf(st->error, sizeof(st->error),
				 "another coordinator holds this database (a PostgreSQL advisory "
				 "lock; one coordinator per database)");
			return DTF_ESTORE;
		}
		usleep(50000);
	}
locked:
	if (first && (rc = migrate(st, p)) != 0)
		return rc;
	for (i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		if (!p->epoch[0] && strcmp(stmts[i].name, "fence") == 0)
			continue; /* dtf_fence() exists only where a leader made it */
		res = PQprepare(p->conn, stmts[i].name, stmts[i].sql, stmts[i].nparams, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			rc = pg_err(st, p, "prepare", res);
			PQclear(res);
			return rc;
		}
		PQclear(res);
	}
	return 0;
}

static int pg_open(struct dtf_store *st, const char *url)
{
	struct pg *p = calloc(1, sizeof(*p));

	if (!p)
		return DTF_ENOMEM;
	st->impl = p;
	p->url = strdup(url);
	if (!p->url)
		return DTF_ENOMEM;
	p->backoff_ms = BACKOFF_MIN_MS;
	memcpy(p->b, batch_init, sizeof(p->b));
	if (st->epoch > 0)
		snprintf(p->epoch, sizeof(p->epoch), "%lld", (long long)st->epoch);
	return pg_connect(st, p, true);
}

static void pg_close(struct dtf_store *st)
{
	struct pg *p = st->impl;
	int i;

	if (!p)
		return;
	if (p->conn)
		PQfinish(p->conn);
	batches_clear(p);
	for (i = 0; i < B_COUNT; i++)
		free(p->b[i].v);
	free(p->url);
	free(p);
	st->impl = NULL;
}

/* Reads the open pipeline's results up to and including its sync and leaves pipeline mode.
 * Returns 0 when every statement succeeded, else the first failure (recorded in st->error). */
static int drain(struct dtf_store *st, struct pg *p, const char *what)
{
	int rc = p->failed ? DTF_ESTORE : 0;
	PGresult *res;

	if (PQpipelineStatus(p->conn) == PQ_PIPELINE_OFF)
		return rc;
	if (!PQpipelineSync(p->conn)) {
		rc = pg_err(st, p, what, NULL);
		goto out;
	}
	/* Each queued statement's result is followed by a NULL; the sync's result ends it. A
	 * broken connection ends it too (PQgetResult then returns NULL twice running). */
	for (;;) {
		ExecStatusType s;

		res = PQgetResult(p->conn);
		if (!res && PQstatus(p->conn) == CONNECTION_BAD) {
			if (!rc)
				rc = pg_err(st, p, what, NULL);
			break;
		}
		if (!res) {
			res = PQgetResult(p->conn);
			if (!res) {
				if (!rc)
					rc = pg_err(st, p, what, NULL);
				break;
			}
		}
		s = PQresultStatus(res);
		if (s == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			break;
		}
		if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && !rc) {
			const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
			rc = pg_err(st, p, what, res);
			/* dtf_fence(): another coordinator leads now. */
			if (state && strcmp(state, "DTF01") == 0)
				st->fenced = true;
		}
		/* A COMMIT of a transaction that failed succeeds as a ROLLBACK. */
		if (!rc && strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
			snprintf(st->error, sizeof(st->error),
				 "%s: the transaction was rolled back", what);
			rc = DTF_ESTORE;
		}
		PQclear(res);
	}
out:
	p->queued = 0;
	p->failed = false;
	if (PQpipelineStatus(p->conn) != PQ_PIPELINE_OFF && !PQexitPipelineMode(p->conn)) {
		/* Only a broken connection leaves results behind: start over at the next begin. */
		if (!rc)
			rc = pg_err(st, p, what, NULL);
		PQfinish(p->conn);
		p->conn = NULL;
	}
	return rc;
}

/* Queues one statement of the open transaction. A send that fails (the connection is gone) makes
 * the commit fail; the caller's change is then answered 503 like the rest of its group. */
static int pg_send(struct dtf_store *st, struct pg *p, const char *name, int n,
		   const char *const *vals)
{
	if (!p->in_txn) {
		snprintf(st->error, sizeof(st->error), "%s: no transaction is open", name);
		return DTF_ESTORE;
	}
	if (p->failed)
		return DTF_ESTORE;
	if (!PQsendQueryPrepared(p->conn, name, n, vals, NULL, NULL, 0)) {
		p->failed = true;
		return pg_err(st, p, name, NULL);
	}
	p->queued++;
	return 0;
}

static void batch_clear(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		free(b->v[i].f[0]);
	b->n = 0;
}

/* Buffers one row of the open transaction (copies of vals, NULL for SQL NULL). */
static int batch_add(struct dtf_store *st, struct pg *p, struct batch *b, const char *const *vals)
{
	size_t len[5], total = 0, i;
	struct brow *r;
	char *mem;

	if (!p->in_txn) {
		snprintf(st->error, sizeof(st->error), "%s: no transaction is open", b->stmt);
		return DTF_ESTORE;
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		struct brow *v = realloc(b->v, cap * sizeof(*v));
		if (!v)
			return DTF_ENOMEM;
		b->v = v;
		b->cap = cap;
	}
	for (i = 0; i < (size_t)b->nf; i++) {
		len[i] = vals[i] ? strlen(vals[i]) + 1 : 0;
		total += len[i];
	}
	/* f[0] owns the allocation: the key is never NULL. */
	mem = malloc(total ? total : 1);
	if (!mem)
		return DTF_ENOMEM;
	r = &b->v[b->n];
	for (i = 0; i < (size_t)b->nf; i++) {
		r->f[i] = vals[i] ? mem : NULL;
		if (vals[i]) {
			memcpy(mem, vals[i], len[i]);
			mem += len[i];
		}
	}
	r->ord = p->nrows++;
	b->n++;
	return 0;
}

/* By key (the first *nkey fields), then the latest write first. */
static int brow_cmp(const void *a, const void *b, void *nkey)
{
	const struct brow *x = a, *y = b;
	int i, c;

	for (i = 0; i < *(const int *)nkey; i++) {
		c = strcmp(x->f[i] ? x->f[i] : "", y->f[i] ? y->f[i] : "");
		if (c)
			return c;
	}
	return x->ord < y->ord ? 1 : x->ord > y->ord ? -1 : 0;
}

static bool key_eq(const struct batch *b, const struct brow *x, const struct brow *y)
{
	int i;

	for (i = 0; i < b->nkey; i++)
		if (strcmp(x->f[i] ? x->f[i] : "", y->f[i] ? y->f[i] : "") != 0)
			return false;
	return true;
}

/* Appends s to an array literal as one element: NULL, or quoted with " and \ escaped. */
static int array_elem(struct dtf_buf *a, const char *s)
{
	const char *run;
	int rc;

	if (a->len > 1 && (rc = dtf_buf_add(a, ",", 1)) != 0)
		return rc;
	if (!s)
		return dtf_buf_add(a, "NULL", 4);
	if ((rc = dtf_buf_reserve(a, strlen(s) + 2)) != 0 || (rc = dtf_buf_add(a, "\"", 1)) != 0)
		return rc;
	for (run = s; *s; s++) {
		if (*s != '"' && *s != '\\')
			continue;
		if ((rc = dtf_buf_add(a, run, (size_t)(s - run))) != 0 ||
		    (rc = dtf_buf_add(a, "\\", 1)) != 0)
			return rc;
		run = s;
	}
	if ((rc = dtf_buf_add(a, run, (size_t)(s - run))) != 0)
		return rc;
	return dtf_buf_add(a, "\"", 1);
}

/* Queues a batch's rows (the last write of each key) as multi-row statements in the pipeline. */
static int batch_send(struct dtf_store *st, struct pg *p, struct batch *b)
{
	struct dtf_buf arr[5];
	const char *vals[5];
	size_t i, from, sent = 0;
	int f, rc = 0;

	if (!b->n)
		return 0;
	qsort_r(b->v, b->n, sizeof(*b->v), brow_cmp, &b->nkey);
	for (f = 0; f < b->nf; f++)
		dtf_buf_init(&arr[f], (size_t)1 << 31);
	for (from = 0; from < b->n && !rc;) {
		for (f = 0; f < b->nf; f++) {
			dtf_buf_reset(&arr[f]);
			rc = rc ? rc : dtf_buf_add(&arr[f], "{", 1);
		}
		for (i = from, sent = 0; i < b->n && sent < BATCH_ROWS && !rc; i++) {
			/* Rows of one key are together, the latest first: the others are skipped.
			 */
			if (i > 0 && key_eq(b, &b->v[i - 1], &b->v[i]))
				continue;
			for (f = 0; f < b->nf && !rc; f++)
				rc = array_elem(&arr[f], b->v[i].f[f]);
			sent++;
		}
		from = i;
		for (f = 0; f < b->nf && !rc; f++) {
			rc = dtf_buf_add(&arr[f], "}", 1);
			vals[f] = dtf_buf_str(&arr[f]);
		}
		if (!rc)
			rc = pg_send(st, p, b->stmt, b->nf, vals);
	}
	for (f = 0; f < b->nf; f++)
		dtf_buf_release(&arr[f]);
	batch_clear(b);
	return rc;
}

static void batches_clear(struct pg *p)
{
	int i;

	for (i = 0; i < B_COUNT; i++)
		batch_clear(&p->b[i]);
	p->nrows = 0;
}

static int pg_begin(struct dtf_store *st)
{
	struct pg *p = st->impl;
	int64_t now;
	int rc;

	if (p->in_txn) {
		snprintf(st->error, sizeof(st->error), "begin: a transaction is already open");
		return DTF_ESTORE;
	}
	if (st->fenced) {
		snprintf(st->error, sizeof(st->error),
			 "begin: another coordinator leads this database (epoch %s superseded)",
			 p->epoch);
		return DTF_ESTORE;
	}
	if (!p->conn || PQstatus(p->conn) != CONNECTION_OK) {
		now = now_ms();
		if (now < p->next_try_ms) {
			snprintf(st->error, sizeof(st->error),
				 "begin: the database is unreachable (next try in %d ms)",
				 (int)(p->next_try_ms - now));
			return DTF_ESTORE;
		}
		rc = pg_connect(st, p, false);
		if (rc) {
			p->next_try_ms = now + p->backoff_ms;
			p->backoff_ms =
			    p->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : p->backoff_ms * 2;
			log_error("store: cannot reconnect to the database (next try in %d ms): %s",
				  (int)(p->next_try_ms - now), st->error);
			if (p->conn) {
				PQfinish(p->conn);
				p->conn = NULL;
			}
			return rc;
		}
		log_info("store: reconnected to the database");
		p->backoff_ms = BACKOFF_MIN_MS;
	}
	if (!PQenterPipelineMode(p->conn))
		return pg_err(st, p, "begin", NULL);
	if (!PQsendQueryParams(p->conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0)) {
		rc = pg_err(st, p, "begin", NULL);
		drain(st, p, "begin");
		return rc;
	}
	p->queued = 1;
	p->in_txn = true;
	/* The epoch's check goes first, in the same pipeline: no round trip of its own. */
	if (p->epoch[0]) {
		const char *v[1] = {p->epoch};
		if (pg_send(st, p, "fence", 1, v))
			p->failed = true;
	}
	return 0;
}

static int pg_commit(struct dtf_store *st)
{
	struct pg *p = st->impl;
	int rc, i;

	if (!p->in_txn) {
		snprintf(st->error, sizeof(st->error), "commit: no transaction is open");
		return DTF_ESTORE;
	}
	for (i = 0; i < B_COUNT && !p->failed; i++)
		if (batch_send(st, p, &p->b[i]))
			p->failed = true;
	batches_clear(p);
	p->in_txn = false;
	if (!p->failed && !PQsendQueryParams(p->conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0))
		p->failed = pg_err(st, p, "commit", NULL) != 0;
	/* A statement that failed aborts the transaction on the server: the COMMIT queued after it
	 * then reports ROLLBACK, which drain() counts as the failure it is. */
	rc = drain(st, p, "commit");
	if (!rc && p->conn && PQtransactionStatus(p->conn) != PQTRANS_IDLE)
		rc = pg_err(st, p, "commit: the transaction was not committed", NULL);
	return rc;
}

static int pg_rollback(struct dtf_store *st)
{
	struct pg *p = st->impl;

	p->in_txn = false;
	batches_clear(p);
	if (!p->conn)
		return 0;
	drain(st, p, "rollback");
	if (p->conn && PQstatus(p->conn) == CONNECTION_OK &&
	    PQtransactionStatus(p->conn) != PQTRANS_IDLE)
		return pg_exec(st, p, "rollback", "ROLLBACK");
	return 0;
}

static int send_doc(struct dtf_store *st, struct pg *p, const char *name, int n, const char **vals,
		    const json_t *doc)
{
	char *text = dtf_json_dumps(doc);
	int rc;

	if (!text)
		return DTF_ENOMEM;
	vals[n - 1] = text;
	rc = pg_send(st, p, name, n, vals);
	free(text);
	return rc;
}

/* Buffers a row whose last field is doc, serialized. */
static int batch_doc(struct dtf_store *st, int which, const char **vals, const json_t *doc)
{
	struct pg *p = st->impl;
	char *text = dtf_json_dumps(doc);
	int rc;

	if (!text)
		return DTF_ENOMEM;
	vals[p->b[which].nf - 1] = text;
	rc = batch_add(st, p, &p->b[which], vals);
	free(text);
	return rc;
}

static int pg_put_run(struct dtf_store *st, const char *id, const json_t *doc)
{
	const char *v[2] = {id, NULL};

	return batch_doc(st, B_RUNS, v, doc);
}

static int pg_put_task_text(struct dtf_store *st, const char *id, int64_t seq, const char *run_id,
			    const char *status, const char *text)
{
	char s[24];
	const char *v[5] = {id, s, run_id && *run_id ? run_id : NULL, status, text};

	snprintf(s, sizeof(s), "%lld", (long long)seq);
	return batch_add(st, st->impl, &((struct pg *)st->impl)->b[B_TASKS], v);
}

static int pg_put_task(struct dtf_store *st, const char *id, int64_t seq, const char *run_id,
		       const char *status, const json_t *doc)
{
	char *text = dtf_json_dumps(doc);
	int rc;

	if (!text)
		return DTF_ENOMEM;
	rc = pg_put_task_text(st, id, seq, run_id, status, text);
	free(text);
	return rc;
}

static int pg_put_attempt(struct dtf_store *st, const char *task_id, int attempt, const json_t *doc)
{
	char a[16];
	const char *v[3] = {task_id, a, NULL};

	snprintf(a, sizeof(a), "%d", attempt);
	return batch_doc(st, B_ATTEMPTS, v, doc);
}

static int pg_put_worker(struct dtf_store *st, const char *id, const json_t *doc)
{
	const char *v[2] = {id, NULL};

	return batch_doc(st, B_WORKERS, v, doc);
}

static int pg_put_recovery(struct dtf_store *st, const char *key, const json_t *doc)
{
	const char *v[2] = {key, NULL};

	return send_doc(st, st->impl, "put_recovery", 2, v, doc);
}

static int pg_put_duration(struct dtf_store *st, const char *name, const char *hw, double mean_s,
			   int64_t n)
{
	char m[40], c[24];
	const char *v[4] = {name, hw, m, c};

	snprintf(m, sizeof(m), "%.17g", mean_s);
	snprintf(c, sizeof(c), "%lld", (long long)n);
	return pg_send(st, st->impl, "put_duration", 4, v);
}

static int pg_put_outbox(struct dtf_store *st, const char *id, int64_t seq, const json_t *doc)
{
	char s[24];
	const char *v[3] = {id, s, NULL};

	snprintf(s, sizeof(s), "%lld", (long long)seq);
	return send_doc(st, st->impl, "put_outbox", 3, v, doc);
}

static int pg_del_outbox(struct dtf_store *st, const char *id)
{
	const char *v[1] = {id};

	return pg_send(st, st->impl, "del_outbox", 1, v);
}

static int pg_put_browser_perf(struct dtf_store *st, const char *key, const json_t *doc)
{
	const char *v[2] = {key, NULL};

	return send_doc(st, st->impl, "put_browser_perf", 2, v, doc);
}

static int pg_put_meta(struct dtf_store *st, const char *key, const json_t *doc)
{
	const char *v[2] = {key, NULL};

	return send_doc(st, st->impl, "put_meta", 2, v, doc);
}

/* Runs a query that reads (outside any pipeline) and returns its result, or NULL with the error
 * recorded. The caller PQclear()s it. */
static PGresult *query(struct dtf_store *st, struct pg *p, const char *what, const char *sql)
{
	PGresult *res;

	if (!p->conn || p->in_txn) {
		snprintf(st->error, sizeof(st->error), "%s: the connection is busy or gone", what);
		return NULL;
	}
	res = PQexec(p->conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_err(st, p, what, res);
		PQclear(res);
		return NULL;
	}
	return res;
}

/* The result of the FETCH in flight (NULL with the error recorded): the rows, then the NULL that
 * ends the query's results. */
static PGresult *fetch_result(struct dtf_store *st, struct pg *p)
{
	PGresult *res = PQgetResult(p->conn), *more;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_err(st, p, "load", res);
		PQclear(res);
		res = NULL;
	}
	while ((more = PQgetResult(p->conn)) != NULL)
		PQclear(more);
	return res;
}

/* Reads one table through a cursor, DTF_STORE_LOAD_BATCH rows at a time (a result holds its
 * rows in memory: the whole tasks table at once would double a restart's peak). The next FETCH
 * is sent before the rows of the last one are handed over, so that the server reads and sends
 * them while the coordinator builds its tasks (with a million tasks, each side's work was a
 * good part of the load: bench/RESULTS.md). */
static int load_table(struct dtf_store *st, struct pg *p, const char *sql, enum dtf_store_kind kind,
		      dtf_store_load_cb cb, void *arg)
{
	struct dtf_store_row *rows = calloc(DTF_STORE_LOAD_BATCH, sizeof(*rows));
	char decl[256], fetch[64];
	bool inflight = false;
	int rc, i, n;

	if (!rows)
		return DTF_ENOMEM;
	snprintf(decl, sizeof(decl), "DECLARE dtf_load NO SCROLL CURSOR FOR %s", sql);
	snprintf(fetch, sizeof(fetch), "FETCH %d FROM dtf_load", DTF_STORE_LOAD_BATCH);
	rc = pg_exec(st, p, "load", "BEGIN");
	/* A plain scan of each table: JIT compiling its expressions (a million tasks' estimate
	 * passes jit_above_cost) would only add its compile time. */
	if (!rc)
		rc = pg_exec(st, p, "load", "SET LOCAL jit = off");
	if (!rc)
		rc = pg_exec(st, p, "load", decl);
	if (!rc && !(inflight = PQsendQuery(p->conn, fetch) == 1))
		rc = pg_err(st, p, "load", NULL);
	while (!rc) {
		PGresult *res = fetch_result(st, p);
		inflight = false;
		if (!res) {
			rc = DTF_ESTORE;
			break;
		}
		n = PQntuples(res);
		for (i = 0; i < n && !rc; i++)
			rc = dtf_store_row_set(&rows[i], PQgetvalue(res, i, 0),
					       PQgetvalue(res, i, 1),
					       (size_t)PQgetlength(res, i, 1));
		PQclear(res);
		if (rc) {
			dtf_store_rows_flush(rows, (size_t)i - 1, kind, cb, st->load_task_text,
					     arg);
			break;
		}
		if (n == DTF_STORE_LOAD_BATCH && !(inflight = PQsendQuery(p->conn, fetch) == 1)) {
			rc = pg_err(st, p, "load", NULL);
			dtf_store_rows_flush(rows, (size_t)n, kind, cb, st->load_task_text, arg);
			break;
		}
		rc = dtf_store_rows_flush(rows, (size_t)n, kind, cb, st->load_task_text, arg);
		if (n < DTF_STORE_LOAD_BATCH)
			break;
	}
	/* A callback that stopped the load leaves the next batch on its way: read and dropped
	 * (the load's own error is the one kept). */
	if (inflight) {
		char why[sizeof(st->error)];
		memcpy(why, st->error, sizeof(why));
		PQclear(fetch_result(st, p));
		memcpy(st->error, why, sizeof(why));
	}
	if (p->conn && PQtransactionStatus(p->conn) != PQTRANS_IDLE)
		PQclear(PQexec(p->conn, "ROLLBACK"));
	free(rows);
	return rc;
}

/* The count is a hint: a failure to get it is no failure of the load (nor an error recorded). */
static void load_count(struct pg *p, const char *sql, void (*fn)(void *, size_t), void *arg)
{
	PGresult *res;
	long long n;

	if (!p->conn || p->in_txn)
		return;
	res = PQexec(p->conn, sql);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    (n = atoll(PQgetvalue(res, 0, 0))) > 0)
		fn(arg, (size_t)n);
	PQclear(res);
}

static int pg_load(struct dtf_store *st, dtf_store_load_cb cb, void *arg)
{
	struct pg *p = st->impl;
	int rc;

	rc = load_table(st, p, "SELECT id, doc FROM runs", DTF_STORE_RUN, cb, arg);
	if (!rc && st->load_task_count)
		load_count(p, "SELECT count(*) FROM tasks", st->load_task_count, arg);
	if (!rc)
		rc = load_table(st, p, "SELECT id, doc FROM tasks ORDER BY seq", DTF_STORE_TASK, cb,
				arg);
	if (!rc)
		rc = load_table(st, p,
				"SELECT task_id, doc FROM attempts ORDER BY task_id COLLATE \"C\", "
				"attempt",
				DTF_STORE_ATTEMPT, cb, arg);
	if (!rc)
		rc = load_table(st, p, "SELECT id, doc FROM workers", DTF_STORE_WORKER, cb, arg);
	return rc;
}

static json_t *parse_doc(const PGresult *res, int row, int col, const char *what)
{
	json_error_t je;
	json_t *doc =
	    json_loadb(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col), 0, &je);

	if (!doc)
		log_error("store: %s record %s is not valid JSON; skipped", what,
			  PQgetvalue(res, row, 0));
	return doc;
}

/* Calls cb per row of a key/document table. A document that does not parse is skipped (logged by
 * parse_doc), or, with strict, stops the load. */
static int load_keyed(struct dtf_store *st, const char *table, bool strict,
		      int (*cb)(void *arg, const char *key, json_t *doc), void *arg)
{
	char sql[96], what[64];
	PGresult *res;
	int i, rc = 0;

	snprintf(sql, sizeof(sql), "SELECT key, doc FROM %s", table);
	snprintf(what, sizeof(what), "load %s", table);
	res = query(st, st->impl, what, sql);
	if (!res)
		return DTF_ESTORE;
	for (i = 0; i < PQntuples(res) && !rc; i++) {
		json_t *doc = parse_doc(res, i, 1, table);
		if (!doc && strict) {
			snprintf(st->error, sizeof(st->error), "%s record %s is not valid JSON",
				 table, PQgetvalue(res, i, 0));
			rc = DTF_ESTORE;
			break;
		}
		if (!doc)
			continue;
		rc = cb(arg, PQgetvalue(res, i, 0), doc);
		json_decref(doc);
	}
	PQclear(res);
	return rc;
}

static int pg_load_recovery(struct dtf_store *st,
			    int (*cb)(void *arg, const char *key, json_t *doc), void *arg)
{
	return load_keyed(st, "recovery", false, cb, arg);
}

static int pg_load_browser_perf(struct dtf_store *st,
				int (*cb)(void *arg, const char *key, json_t *doc), void *arg)
{
	return load_keyed(st, "browser_perf", false, cb, arg);
}

/* A document that does not parse stops the load (see sqlite.c's sq_load_meta). */
static int pg_load_meta(struct dtf_store *st, int (*cb)(void *arg, const char *key, json_t *doc),
			void *arg)
{
	return load_keyed(st, "meta_docs", true, cb, arg);
}

static int pg_load_durations(struct dtf_store *st, dtf_store_duration_cb cb, void *arg)
{
	PGresult *res = query(st, st->impl, "load durations",
			      "SELECT name, hardware, mean_s, n FROM durations");
	int i, rc = 0;

	if (!res)
		return DTF_ESTORE;
	for (i = 0; i < PQntuples(res) && !rc; i++)
		rc = cb(arg, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
			strtod(PQgetvalue(res, i, 2), NULL),
			strtoll(PQgetvalue(res, i, 3), NULL, 10));
	PQclear(res);
	return rc;
}

static int pg_load_outbox(struct dtf_store *st,
			  int (*cb)(void *arg, const char *id, int64_t seq, json_t *doc), void *arg)
{
	PGresult *res =
	    query(st, st->impl, "load outbox", "SELECT id, seq, doc FROM outbox ORDER BY seq");
	int i, rc = 0;

	if (!res)
		return DTF_ESTORE;
	for (i = 0; i < PQntuples(res) && !rc; i++) {
		json_t *doc = parse_doc(res, i, 2, "outbox");
		if (!doc)
			continue;
		rc = cb(arg, PQgetvalue(res, i, 0), strtoll(PQgetvalue(res, i, 1), NULL, 10), doc);
		json_decref(doc);
	}
	PQclear(res);
	return rc;
}

int dtf_store_pg_meta_peek(const char *url, const char *key, json_t **doc, char *err, size_t errlen)
{
	const char *const keys[] = {"connect_timeout", "application_name", "options", "dbname",
				    NULL};
	/* Not "dtf-coordinator": a new leader ends every session of that name. */
	const char *const vals[] = {"5", "dtf-check", "-c client_min_messages=warning", url, NULL};
	const char *params[1] = {key};
	PGconn *conn = PQconnectdbParams(keys, vals, 1);
	PGresult *res = NULL;
	json_error_t je;
	int rc = DTF_ESTORE;

	*doc = NULL;
	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, errlen, "connect: %s", conn ? PQerrorMessage(conn) : "out of memory");
		goto out;
	}
	/* A new database has no meta_docs until its first coordinator's store made it. */
	res = PQexec(conn, "SELECT to_regclass('meta_docs') IS NOT NULL");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		snprintf(err, errlen, "read meta_docs: %s", PQresultErrorMessage(res));
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		rc = 0;
		goto out;
	}
	PQclear(res);
	res = PQexecParams(conn, "SELECT doc FROM meta_docs WHERE key = $1", 1, NULL, params, NULL,
			   NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "read meta_docs: %s", PQresultErrorMessage(res));
		goto out;
	}
	rc = 0;
	if (PQntuples(res) == 1) {
		*doc = json_loadb(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), 0, &je);
		if (!*doc) {
			snprintf(err, errlen, "meta_docs record %s is not valid JSON", key);
			rc = DTF_ESTORE;
		}
	}
out:
	if (rc && errlen) {
		size_t n = strlen(err);
		while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
			err[--n] = '\0';
	}
	PQclear(res);
	PQfinish(conn);
	return rc;
}

const struct dtf_store_ops dtf_store_postgres_ops = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .put_run = pg_put_run,
    .put_task = pg_put_task,
    .put_attempt = pg_put_attempt,
    .put_worker = pg_put_worker,
    .load = pg_load,
    .put_recovery = pg_put_recovery,
    .load_recovery = pg_load_recovery,
    .put_duration = pg_put_duration,
    .load_durations = pg_load_durations,
    .put_task_text = pg_put_task_text,
    .put_outbox = pg_put_outbox,
    .del_outbox = pg_del_outbox,
    .load_outbox = pg_load_outbox,
    .put_browser_perf = pg_put_browser_perf,
    .load_browser_perf = pg_load_browser_perf,
    .put_meta = pg_put_meta,
    .load_meta = pg_load_meta,
};
