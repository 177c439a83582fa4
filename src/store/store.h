/* store.h: the coordinator's durable state behind one table of operations, so SQLite (sqlite.c,
 * the embedded default) and PostgreSQL share every caller. Records are JSON documents keyed by
 * id; the coordinator keeps the live state in memory and writes each change through here inside
 * a transaction, answering a request only after commit() returned 0. */
#ifndef DTF_STORE_H
#define DTF_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dtf_store_kind { DTF_STORE_RUN, DTF_STORE_TASK, DTF_STORE_ATTEMPT, DTF_STORE_WORKER };

struct dtf_store;

/* Called once per stored record by load(), runs first, then tasks in submission order, attempts,
 * workers. doc is borrowed for the call. Returning non-zero stops the load with that code. */
typedef int (*dtf_store_load_cb)(void *arg, enum dtf_store_kind kind, const char *id, json_t *doc);

/* Optional (struct dtf_store.load_task_text, set by the caller before load()): called for each
 * task instead of the load callback, with its stored text: text[0..len) and a NUL, malloc'd. The
 * callee may keep the text (it then sets *text to NULL) and builds the task from it, so that the
 * store need not parse every document into a tree. Non-zero stops the load with that code. */
typedef int (*dtf_store_text_cb)(void *arg, const char *id, char **text, size_t len);

/* Called once per duration history entry by load_durations(); non-zero stops it. */
typedef int (*dtf_store_duration_cb)(void *arg, const char *name, const char *hw, double mean_s,
				     int64_t n);

struct dtf_store_ops {
	const char *name;
	int (*open)(struct dtf_store *st, const char *target);
	void (*close)(struct dtf_store *st);
	int (*begin)(struct dtf_store *st);
	int (*commit)(struct dtf_store *st);
	int (*rollback)(struct dtf_store *st);
	/* Insert or replace one record. For tasks, seq orders them at load; status is stored in
	 * its own column but not indexed (everything is read whole at start-up). */
	int (*put_run)(struct dtf_store *st, const char *id, const json_t *doc);
	int (*put_task)(struct dtf_store *st, const char *id, int64_t seq, const char *run_id,
			const char *status, const json_t *doc);
	int (*put_attempt)(struct dtf_store *st, const char *task_id, int attempt,
			   const json_t *doc);
	int (*put_worker)(struct dtf_store *st, const char *id, const json_t *doc);
	int (*load)(struct dtf_store *st, dtf_store_load_cb cb, void *arg);
	/* Recovery (coordinator/recovery.c): the per-(error class, strategy) history and the
	 * hardware classes blocked system-wide, one JSON document per key. put_recovery inserts or
	 * replaces inside the current transaction; load_recovery calls cb once per stored key. */
	int (*put_recovery)(struct dtf_store *st, const char *key, const json_t *doc);
	int (*load_recovery)(struct dtf_store *st,
			     int (*cb)(void *arg, const char *key, json_t *doc), void *arg);
	/* The scheduler's per-test duration history, keyed by test name and hardware class
	 * (may be NULL in a backend without it). put_duration inserts or replaces one entry
	 * inside the caller's transaction. */
	int (*put_duration)(struct dtf_store *st, const char *name, const char *hw, double mean_s,
			    int64_t n);
	int (*load_durations)(struct dtf_store *st, dtf_store_duration_cb cb, void *arg);
	/* put_task with the document already serialized (compact JSON), so that a caller that
	 * keeps the text serializes it once (may be NULL: then put_task). */
	int (*put_task_text)(struct dtf_store *st, const char *id, int64_t seq, const char *run_id,
			     const char *status, const char *text);
	/* The notifications outbox (core/outbox.c): one document per message, written in the
	 * transaction of the change that caused it and rewritten as it is sent, retried or given
	 * up on; deleted when it is no longer kept. load_outbox calls cb in seq order. May be
	 * NULL in a backend without it (then notifications are refused at start). */
	int (*put_outbox)(struct dtf_store *st, const char *id, int64_t seq, const json_t *doc);
	int (*del_outbox)(struct dtf_store *st, const char *id);
	int (*load_outbox)(struct dtf_store *st,
			   int (*cb)(void *arg, const char *id, int64_t seq, json_t *doc),
			   void *arg);
	/* The browser benchmarks' performance history (core/browsers.c, schema version 2): one
	 * document per (worker, browser, adapter, benchmark) key holding its last runs. put
	 * inserts or replaces inside the caller's transaction; load calls cb once per key. May be
	 * NULL in a backend without it (the history then lives in memory only). */
	int (*put_browser_perf)(struct dtf_store *st, const char *key, const json_t *doc);
	int (*load_browser_perf)(struct dtf_store *st,
				 int (*cb)(void *arg, const char *key, json_t *doc), void *arg);
	/* Small documents of the coordinator's own, one per key (schema version 2, table
	 * meta_docs): the API keys added or revoked through the API (core/keystore.c). put
	 * inserts or replaces inside the caller's transaction; load calls cb once per key. May be
	 * NULL in a backend without it. */
	int (*put_meta)(struct dtf_store *st, const char *key, const json_t *doc);
	int (*load_meta)(struct dtf_store *st, int (*cb)(void *arg, const char *key, json_t *doc),
			 void *arg);
};

/* The schema version both backends migrate a database to (each backend's list of steps). */
#define DTF_STORE_SCHEMA_VERSION 3

struct dtf_store {
	const struct dtf_store_ops *ops;
	void *impl;	 /* the backend's own state */
	char error[256]; /* the last backend error, for logs */
	int64_t epoch;	 /* PostgreSQL, opened fenced: the leader's epoch each commit checks */
	bool fenced;	 /* a commit found another leader's epoch: every write is refused */
	dtf_store_text_cb load_task_text; /* see above; NULL: tasks are parsed for the callback */
	/* Optional, set by the caller before load(): told how many tasks the load is about to
	 * give (a backend that can count them cheaply), so that it sizes its tables once. */
	void (*load_task_count)(void *arg, size_t n);
};

/* Opens a store: "postgresql://…" or "postgres://…" selects PostgreSQL, anything else is an SQLite
 * file path (created with its schema when missing). Returns a new store the caller frees with
 * dtf_store_close(), or NULL with a reason in err. */
struct dtf_store *dtf_store_open(const char *target, char *err, size_t errlen);
/* The same for a leader of several coordinators on one PostgreSQL database (store/leader.h):
 * no lock of its own (the leader's session holds it), and every transaction first checks that
 * epoch still leads; a commit that finds it superseded fails and sets st->fenced. An SQLite
 * target is refused (one coordinator per file). */
struct dtf_store *dtf_store_open_fenced(const char *target, int64_t epoch, char *err,
					size_t errlen);
/* Whether target names a PostgreSQL database (a postgresql:// or postgres:// URL). */
bool dtf_store_is_url(const char *target);
/* target for a log line: a URL's password (postgresql://user:PASSWORD@…) replaced by "***". */
void dtf_store_redact(const char *target, char *out, size_t len);
/* Closes and frees; accepts NULL. */
void dtf_store_close(struct dtf_store *st);
/* Reads the document kept under key in meta_docs of the PostgreSQL database at url, on a
 * connection of its own that takes no lock and writes nothing (so a coordinator can check what
 * the leader of the database stored before it waits as a standby). *doc gets a new reference, or
 * NULL when the database has no such document (or no meta_docs yet). 0, or DTF_ESTORE with the
 * reason in err (the database cannot be reached, or the document is not JSON). */
int dtf_store_pg_meta_peek(const char *url, const char *key, json_t **doc, char *err,
			   size_t errlen);

extern const struct dtf_store_ops dtf_store_sqlite_ops;
extern const struct dtf_store_ops dtf_store_postgres_ops;

#endif
