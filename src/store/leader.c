/* leader.c: leadership among coordinators sharing one PostgreSQL database (leader.h).
 *
 * The lock session holds the advisory lock (PG_LOCK_KEY, the key the single-coordinator store
 * took) and renews the leader row's heartbeat_at every DTF_LEADER_BEAT_MS. A new leader, holding
 * the lock, first ends every write session a previous leader left (application_name
 * "dtf-coordinator": only a leader opens one, after it took the lock), then increments the epoch
 * in one statement that also opens the epoch's row in leader_commits. The write sessions of the
 * leader check the epoch in every transaction (dtf_fence(), created here, run first in the
 * store's pipeline): it takes the leader row FOR KEY SHARE, so the increment waits for a
 * transaction that passed the check to end, and a transaction after the increment fails it. A
 * paused leader keeps its sessions (and the lock) open: a standby that sees heartbeat_at older than
 * the lease ends the lock holder's session, which releases the lock.
 *
 * The tables are not part of the versioned schema (postgres.c's migrations, shared in number
 * with SQLite's): they are created here, idempotently, under a transaction-scoped advisory lock,
 * by whichever coordinator comes first. */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "store/leader.h"

#define PG_LOCK_KEY  "6583398" /* "dtf" in ASCII: the same key postgres.c takes */
#define PG_SETUP_KEY "6583399" /* held while the tables are created */

struct dtf_leader {
	char *url, *holder, *advertise;
	PGconn *conn; /* the lock session */
	int64_t epoch;
	pthread_t beat;
	bool beat_running;
	pthread_mutex_t mu; /* guards hint, hint_epoch and stop */
	pthread_cond_t cv;
	bool stop;
	atomic_bool lost;
	char hint[512];
	int64_t hint_epoch;
};

static const char setup_sql[] =
    "BEGIN;"
    "SELECT pg_advisory_xact_lock(" PG_SETUP_KEY ");"
    "CREATE TABLE IF NOT EXISTS leader (id integer PRIMARY KEY CHECK (id = 1),"
    " epoch bigint NOT NULL UNIQUE, holder text, url text, pid integer, since timestamptz,"
    " heartbeat_at timestamptz);"
    "INSERT INTO leader (id, epoch) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;"
    "CREATE TABLE IF NOT EXISTS leader_commits (epoch bigint PRIMARY KEY, holder text,"
    " since timestamptz, commits bigint NOT NULL DEFAULT 0, last_at timestamptz);"
    /* The check a write transaction runs first. The row lock (FOR KEY SHARE) is what makes
     * it atomic with the writes that follow: an epoch increment (epoch is UNIQUE, so changing
     * it takes FOR UPDATE) waits for this transaction, and one that committed first is seen
     * (READ COMMITTED re-reads the row it waited for); the heartbeat, which changes no key
     * column, waits for neither. The count of commits per epoch is what a test reads to tell
     * that a superseded leader committed nothing. */
    "CREATE OR REPLACE FUNCTION dtf_fence(mine bigint) RETURNS void LANGUAGE plpgsql AS $f$"
    " BEGIN"
    "  PERFORM 1 FROM leader WHERE id = 1 AND epoch = mine FOR KEY SHARE;"
    "  IF NOT FOUND THEN"
    "   RAISE EXCEPTION 'fenced: epoch % no longer leads this database', mine"
    "    USING ERRCODE = 'DTF01';"
    "  END IF;"
    "  UPDATE leader_commits SET commits = commits + 1, last_at = clock_timestamp()"
    "   WHERE epoch = mine;"
    " END $f$;"
    "COMMIT";

/* Ends the session holding the coordinators' lock when its leader is stale: the holder is the
 * leader the row names and its heartbeat is older than the lease, or (a leader that stopped
 * between taking the lock and writing the row) another session idle for longer than the lease.
 */
static const char terminate_stale_sql[] =
    "SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " CROSS JOIN leader d WHERE d.id = 1 AND l.locktype = 'advisory' AND l.granted"
    " AND l.classid = 0 AND l.objid = " PG_LOCK_KEY " AND l.objsubid = 1"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND l.pid <> pg_backend_pid()"
    " AND CASE WHEN l.pid = d.pid THEN d.heartbeat_at < now() - make_interval(secs => $1)"
    " ELSE a.state_change < now() - make_interval(secs => $1) END";

/* Every write session of an earlier leader (run while holding the lock, before ours opens). */
static const char terminate_writers_sql[] =
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
    " WHERE datname = current_database() AND application_name = 'dtf-coordinator'"
    " AND pid <> pg_backend_pid()";

static const char bump_sql[] =
    "WITH u AS (UPDATE leader SET epoch = epoch + 1, holder = $1, url = $2,"
    " pid = pg_backend_pid(), since = now(), heartbeat_at = now() WHERE id = 1"
    " RETURNING epoch, holder, since)"
    " INSERT INTO leader_commits (epoch, holder, since) SELECT epoch, holder, since FROM u"
    " RETURNING epoch";

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libpq's last message, without its trailing newline. */
static void conn_err(PGconn *conn, const PGresult *res, const char *what, char *err, size_t len)
{
	const char *m = res ? PQresultErrorMessage(res) : NULL;
	size_t n;

	if (!m || !*m)
		m = conn ? PQerrorMessage(conn) : "no connection";
	/* The first line: libpq's hints on the next lines make a log line hard to read. */
	snprintf(err, len, "%s: %.*s", what, (int)strcspn(*m ? m : "error", "\n"),
		 *m ? m : "error");
	n = strlen(err);
	while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
}

/* A session to the database with keepalives short enough that the server notices a leader whose
 * machine vanished within seconds (the lease covers a process that is merely paused). */
static PGconn *connect_db(const char *url, const char *app, char *err, size_t errlen)
{
	const char *const keys[] = {"connect_timeout",	"application_name",
				    "options",		"keepalives",
				    "keepalives_idle",	"keepalives_interval",
				    "keepalives_count", "tcp_user_timeout",
				    "dbname",		NULL};
	const char *const vals[] = {
	    "3",
	    app,
	    "-c client_min_messages=warning -c lock_timeout=200 -c statement_timeout=5000"
	    " -c tcp_keepalives_idle=2 -c tcp_keepalives_interval=1 -c tcp_keepalives_count=3"
	    " -c tcp_user_timeout=5000",
	    "1",
	    "2",
	    "1",
	    "3",
	    "5000",
	    url,
	    NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);

	if (!c || PQstatus(c) != CONNECTION_OK) {
		conn_err(c, NULL, "connect", err, errlen);
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* Runs sql; 0 when it succeeded. With rows, the first column of the first row goes there (""
 * when none). */
static int run(PGconn *c, const char *sql, int n, const char *const *params, char *row,
	       size_t rowlen, char *err, size_t errlen)
{
	PGresult *res = n ? PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0) : PQexec(c, sql);
	ExecStatusType s = PQresultStatus(res);
	int rc = 0;

	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		conn_err(c, res, "leader", err, errlen);
		rc = DTF_ESTORE;
	} else if (row) {
		snprintf(row, rowlen, "%s",
			 s == PGRES_TUPLES_OK && PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
	}
	PQclear(res);
	return rc;
}

int dtf_leader_advertise(struct dtf_leader *l, const char *advertise)
{
	char *s = strdup(advertise ? advertise : "");

	if (!s)
		return DTF_ENOMEM;
	pthread_mutex_lock(&l->mu);
	free(l->advertise);
	l->advertise = s;
	pthread_mutex_unlock(&l->mu);
	return 0;
}

struct dtf_leader *dtf_leader_new(const char *url, const char *holder)
{
	struct dtf_leader *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->url = strdup(url);
	l->holder = strdup(holder ? holder : "");
	l->advertise = strdup("");
	if (!l->url || !l->holder || !l->advertise) {
		free(l->url);
		free(l->holder);
		free(l->advertise);
		free(l);
		return NULL;
	}
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	atomic_init(&l->lost, false);
	return l;
}

static bool stopped(volatile int *stop)
{
	return stop && *stop;
}

/* Sleeps ms, in steps short enough to notice *stop. */
static void nap(int ms, volatile int *stop)
{
	for (; ms > 0 && !stopped(stop); ms -= 20)
		usleep((useconds_t)(ms < 20 ? ms : 20) * 1000);
}

/* Reads the current leader's advertised URL and epoch into the hint. */
static void read_hint(struct dtf_leader *l)
{
	PGresult *res = PQexec(l->conn, "SELECT coalesce(url, ''), epoch FROM leader WHERE id = 1");

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		pthread_mutex_lock(&l->mu);
		snprintf(l->hint, sizeof(l->hint), "%s", PQgetvalue(res, 0, 0));
		l->hint_epoch = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		pthread_mutex_unlock(&l->mu);
	}
	PQclear(res);
}

/* Holding the lock: ends what an earlier leader left and takes the next epoch. A write
 * transaction of the earlier leader still open (its process paused mid-pipeline) holds the
 * leader row: the increment then fails on lock_timeout, and the writers are ended again. */
static int take_epoch(struct dtf_leader *l, char *err, size_t errlen)
{
	const char *p[2] = {l->holder, l->advertise};
	char ended[32], epoch[32];
	int tries, rc = 0;

	log_info("leader: took the lock; ending what the previous leader left");
	for (tries = 0; tries < 10; tries++) {
		rc =
		    run(l->conn, terminate_writers_sql, 0, NULL, ended, sizeof(ended), err, errlen);
		if (rc)
			return rc;
		if (atoi(ended) > 0)
			log_info("leader: ended %s write session(s) of the previous leader", ended);
		rc = run(l->conn, bump_sql, 2, p, epoch, sizeof(epoch), err, errlen);
		if (!rc && *epoch) {
			l->epoch = strtoll(epoch, NULL, 10);
			return run(l->conn, "SET application_name = 'dtf-leader'", 0, NULL, NULL, 0,
				   err, errlen);
		}
		if (!rc) {
			snprintf(err, errlen, "leader: the leader row is missing");
			return DTF_ESTORE;
		}
		if (PQstatus(l->conn) != CONNECTION_OK)
			return rc;
	}
	return rc;
}

int dtf_leader_acquire(struct dtf_leader *l, int wait_ms, volatile int *stop, char *err,
		       size_t errlen)
{
	int64_t deadline = wait_ms < 0 ? INT64_MAX : mono_ms() + wait_ms;
	char lease[32], got[8], why[256] = "";
	const char *lp[1] = {lease};
	bool set_up = false, said_waiting = false, ended = false;
	int rc;

	snprintf(lease, sizeof(lease), "%.3f", DTF_LEADER_LEASE_MS / 1000.0);
	for (;;) {
		if (stopped(stop)) {
			snprintf(err, errlen, "stopped while waiting to lead");
			return DTF_ESHUTDOWN;
		}
		if (!l->conn || PQstatus(l->conn) != CONNECTION_OK) {
			PQfinish(l->conn);
			l->conn = connect_db(l->url, "dtf-standby", why, sizeof(why));
			set_up = false;
		}
		rc = l->conn ? 0 : DTF_ESTORE;
		if (!rc && !set_up) {
			rc = run(l->conn, setup_sql, 0, NULL, NULL, 0, why, sizeof(why));
			if (rc && PQtransactionStatus(l->conn) != PQTRANS_IDLE)
				PQclear(PQexec(l->conn, "ROLLBACK"));
			set_up = rc == 0;
		}
		if (!rc)
			rc = run(l->conn, "SELECT pg_try_advisory_lock(" PG_LOCK_KEY ")", 0, NULL,
				 got, sizeof(got), why, sizeof(why));
		if (!rc && strcmp(got, "t") == 0) {
			rc = take_epoch(l, why, sizeof(why));
			if (!rc)
				return 0;
			/* Not the leader after all: let the lock go and start over. */
			PQfinish(l->conn);
			l->conn = NULL;
		} else if (!rc) {
			read_hint(l);
			rc = run(l->conn, terminate_stale_sql, 1, lp, got, sizeof(got), why,
				 sizeof(why));
			ended = !rc && strcmp(got, "t") == 0;
			if (ended)
				log_warn("leader: the leader's heartbeat is older than %s s: ended "
					 "its lock session",
					 lease);
			if (!said_waiting && wait_ms < 0) {
				char url[512];
				int64_t e = dtf_leader_hint(l, url, sizeof(url));
				log_info("standby: coordinator epoch %lld leads (%s); waiting",
					 (long long)e, *url ? url : "no advertised URL");
				said_waiting = true;
			}
			snprintf(why, sizeof(why),
				 "another coordinator holds this database (a PostgreSQL advisory "
				 "lock; run the others with --standby)");
		}
		if (rc)
			log_warn("%s", why);
		if (mono_ms() >= deadline) {
			snprintf(err, errlen, "%s", why);
			return rc ? DTF_ESTORE : DTF_ETIMEOUT;
		}
		/* Just ended the holder: its session lets the lock go a moment later. */
		nap(rc ? 500 : ended ? 10 : DTF_LEADER_POLL_MS, stop);
		ended = false;
	}
}

int64_t dtf_leader_epoch(const struct dtf_leader *l)
{
	return l ? l->epoch : 0;
}

bool dtf_leader_lost(const struct dtf_leader *l)
{
	return l && atomic_load(&l->lost);
}

int64_t dtf_leader_hint(struct dtf_leader *l, char *out, size_t len)
{
	int64_t e;

	pthread_mutex_lock(&l->mu);
	snprintf(out, len, "%s", strcmp(l->hint, l->advertise) == 0 ? "" : l->hint);
	e = l->hint_epoch;
	pthread_mutex_unlock(&l->mu);
	return e;
}

/* The lock session broke (the server restarted, the network): a new one, the lock again, and the
 * row still ours. 0 when we lead on; DTF_ESTALE when another coordinator took over; else retry.
 */
static int rejoin(struct dtf_leader *l, char *err, size_t errlen)
{
	char mine[32], got[8], n[16];
	const char *p[1] = {mine};
	int rc;

	PQfinish(l->conn);
	l->conn = connect_db(l->url, "dtf-leader", err, errlen);
	if (!l->conn)
		return DTF_ESTORE;
	snprintf(mine, sizeof(mine), "%lld", (long long)l->epoch);
	rc = run(l->conn, "SELECT pg_try_advisory_lock(" PG_LOCK_KEY ")", 0, NULL, got, sizeof(got),
		 err, errlen);
	if (!rc && strcmp(got, "t") != 0) {
		/* Our old session may still hold it until the server notices it is gone. */
		rc = run(l->conn, "SELECT count(*) FROM leader WHERE id = 1 AND epoch = $1", 1, p,
			 n, sizeof(n), err, errlen);
		if (!rc && strcmp(n, "0") == 0)
			return DTF_ESTALE;
		snprintf(err, errlen, "the lock is still held (our earlier session?)");
		return rc ? rc : DTF_ESTORE;
	}
	if (!rc)
		rc =
		    run(l->conn,
			"WITH u AS (UPDATE leader SET pid = pg_backend_pid(), heartbeat_at = now() "
			"WHERE id = 1 AND epoch = $1 RETURNING 1) SELECT count(*) FROM u",
			1, p, n, sizeof(n), err, errlen);
	if (!rc && strcmp(n, "1") != 0)
		return DTF_ESTALE;
	return rc;
}

static void *beat_main(void *arg)
{
	struct dtf_leader *l = arg;
	char mine[32], n[16], err[256];
	const char *p[1] = {mine};
	struct timespec ts;
	bool broken = false;
	int rc;

	snprintf(mine, sizeof(mine), "%lld", (long long)l->epoch);
	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)DTF_LEADER_BEAT_MS * 1000000;
		ts.tv_sec += ts.tv_nsec / 1000000000;
		ts.tv_nsec %= 1000000000;
		pthread_cond_timedwait(&l->cv, &l->mu, &ts);
		if (l->stop)
			break;
		pthread_mutex_unlock(&l->mu);
		if (broken) {
			rc = rejoin(l, err, sizeof(err));
			if (!rc) {
				log_info("leader: lock session back (epoch %s)", mine);
				broken = false;
			}
		} else {
			rc = run(
			    l->conn,
			    "WITH u AS (UPDATE leader SET heartbeat_at = now() WHERE id = 1 AND "
			    "epoch = $1 AND pid = pg_backend_pid() RETURNING 1) SELECT count(*) "
			    "FROM u",
			    1, p, n, sizeof(n), err, sizeof(err));
			if (!rc && strcmp(n, "1") != 0)
				rc = DTF_ESTALE;
			if (rc && rc != DTF_ESTALE && PQstatus(l->conn) != CONNECTION_OK) {
				log_error("leader: the lock session broke (%s); taking it again",
					  err);
				broken = true;
			}
		}
		pthread_mutex_lock(&l->mu);
		if (rc == DTF_ESTALE) {
			log_error("leader: another coordinator took over (epoch %s is superseded); "
				  "stepping down",
				  mine);
			atomic_store(&l->lost, true);
			break;
		}
		if (rc && !broken)
			log_warn("leader: heartbeat failed: %s", err);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

int dtf_leader_start(struct dtf_leader *l)
{
	if (pthread_create(&l->beat, NULL, beat_main, l) != 0)
		return DTF_ENOMEM;
	l->beat_running = true;
	return 0;
}

void dtf_leader_free(struct dtf_leader *l)
{
	if (!l)
		return;
	if (l->beat_running) {
		pthread_mutex_lock(&l->mu);
		l->stop = true;
		pthread_cond_signal(&l->cv);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->beat, NULL);
	}
	PQfinish(l->conn);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	free(l->url);
	free(l->holder);
	free(l->advertise);
	free(l);
}
