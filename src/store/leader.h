/* leader.h: which of several coordinators on one PostgreSQL database leads. The leader holds a
 * session advisory lock on a connection of its own (the lock session) and a fencing epoch: the
 * `leader` table's one row, incremented by each new leader when it takes the lock. The store of
 * a leader checks its epoch in every write transaction (dtf_store_open_fenced()), so a leader
 * that was paused and superseded commits nothing. A standby waits for the lock, and takes it from
 * a leader whose heartbeat (the row's heartbeat_at, renewed every DTF_LEADER_BEAT_MS) is older
 * than DTF_LEADER_LEASE_MS by ending that leader's sessions (pg_terminate_backend). See
 * docs/internals/store.md ("Several coordinators"). */
#ifndef DTF_STORE_LEADER_H
#define DTF_STORE_LEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DTF_LEADER_BEAT_MS  250
#define DTF_LEADER_LEASE_MS 1500
#define DTF_LEADER_POLL_MS  100 /* how often a standby tries the lock */

struct dtf_leader;

/* A leadership handle for the database at url (a postgresql:// URL); holder names this process
 * in the leader table (host:pid). Connects nothing yet. Returns NULL without memory. Free with
 * dtf_leader_free(). */
struct dtf_leader *dtf_leader_new(const char *url, const char *holder);
/* The URL clients reach this coordinator at, written to the leader table when it leads (before
 * acquire; "" for none). 0 or DTF_ENOMEM. */
int dtf_leader_advertise(struct dtf_leader *l, const char *advertise);
/* Waits until this process leads: takes the lock (ending a stale leader's sessions), ends the
 * write sessions a previous leader left, and increments the epoch. wait_ms < 0 waits for ever,
 * else gives up after wait_ms with DTF_ETIMEOUT ("another coordinator holds this database");
 * *stop (may be NULL) set from another thread or a signal handler ends the wait with
 * DTF_ESHUTDOWN. Other failures (no database) are retried while waiting, else DTF_ESTORE. The
 * reason of a failure is in err. */
int dtf_leader_acquire(struct dtf_leader *l, int wait_ms, volatile int *stop, char *err,
		       size_t errlen);
/* Starts the heartbeat thread (after acquire succeeded). 0, or DTF_ENOMEM. */
int dtf_leader_start(struct dtf_leader *l);
/* This process's epoch once it leads (0 before). */
int64_t dtf_leader_epoch(const struct dtf_leader *l);
/* True once the heartbeat found another leader in our place (the epoch moved on): the process
 * must stop serving. */
bool dtf_leader_lost(const struct dtf_leader *l);
/* While waiting: the advertised URL of the leader as last read from the table ("" when none, or
 * when it is this process's own: a row its earlier run left), copied into out; returns its
 * epoch (0 when there has never been a leader). Any thread. */
int64_t dtf_leader_hint(struct dtf_leader *l, char *out, size_t len);
/* Stops the heartbeat and closes the lock session, which releases the lock at once (a standby
 * takes over within its poll, DTF_LEADER_POLL_MS). Accepts NULL. */
void dtf_leader_free(struct dtf_leader *l);

#endif
