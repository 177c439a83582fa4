/* outbox.h: the notifications outbox (docs/integrations.md, "Delivery"). An event the routes take
 * (notify/routes.h) becomes one message per channel, written to the store in the transaction of
 * the change that caused it; a sender thread (coordinator.c) takes the messages that are due,
 * sends them without the core's lock, and records the outcome: sent, retried later with
 * exponential backoff and jitter (or when the service's Retry-After says), or given up on after
 * notifications.max_tries as a dead letter, which is itself an event. Messages of one group
 * (route, channel, run) within the route's window are merged into one; a channel over its rate
 * gets its waiting messages merged or delayed, never dropped. A coordinator killed with messages
 * in the outbox sends them after its restart with the same key, so a service that dedupes by it
 * sees each once. Everything here runs under c->lock except outbox_send(). */
#ifndef DTF_CORE_OUTBOX_H
#define DTF_CORE_OUTBOX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "notify/notify.h"
#include "notify/routes.h"

struct coord;
struct ctask;
struct cworker;

#define OUTBOX_BATCH	 32   /* messages one take hands to the sender */
#define OUTBOX_MAX_GROUP 1000 /* entries one message may merge */

/* One message being sent: built by outbox_take under the lock, sent by outbox_send without it,
 * finished by outbox_done under it. */
struct outbox_send {
	int channel;
	struct notify_channel *ch; /* stable while the core lives */
	json_t *data;		   /* the message's template context (owned) */
	char event[32], severity[16], key[64];
	const struct dtf_tpl *tpl;
	char run_id[48]; /* the run it is about, or "" */
	char ref[128];	 /* the channel's reference for that run from an earlier send, or "" */
	int64_t *seqs;	 /* the entries it carries (owned) */
	size_t nseqs;
	int rc;
	struct notify_result res;
};

struct outbox_batch {
	size_t n;
	struct outbox_send items[OUTBOX_BATCH];
};

struct dtf_plugins;
/* Fills ext so that channel types come from the plugins in ps (may be NULL: none), for
 * notify_config_load_ext. */
void outbox_notify_ext(struct dtf_plugins *ps, struct notify_ext *ext);

/* Reads the configuration's integrations and notifications (c->cfg.config_doc), with channel
 * types from c->plugins (loaded first), and loads the stored outbox. 0 when nothing is configured
 * (c->outbox stays NULL) or all is well; else DTF_EINVAL / DTF_ESTORE with err. Called by core_new
 * with c->lock held, after the state. */
int outbox_open(struct coord *c, char *err, size_t errlen);
void outbox_free(struct coord *c);

/* The events. Each is a no-op without an outbox or a route that takes it. */
void outbox_task_final(struct coord *c, struct ctask *t);     /* after its status changed */
void outbox_run_started(struct coord *c, const char *run_id); /* its tasks submitted */
/* For a change whose commit may fail: mark before its events, undo (forget the messages queued
 * since the mark) when the commit failed. */
int64_t outbox_mark(struct coord *c);
void outbox_undo(struct coord *c, int64_t mark);
void outbox_worker_lost(struct coord *c, struct cworker *w, const char *why);
void outbox_hardware_blocked(struct coord *c, struct ctask *t, const json_t *blocked,
			     const char *why);
void outbox_recovery_escalated(struct coord *c, struct ctask *t, int level, const char *strategy,
			       const char *why);

/* The sender's side. take fills b with what is due at now_ms (wall clock) and sets *next_ms to
 * when the next waiting message is due (0: none); send runs without the lock; done records the
 * outcomes and frees what take built. */
void outbox_take(struct coord *c, int64_t now_ms, struct outbox_batch *b, int64_t *next_ms);
void outbox_send(struct outbox_send *s);
void outbox_done(struct coord *c, int64_t now_ms, struct outbox_batch *b);
/* Waits (c->lock held, released while waiting) until an event queues a message, until
 * deadline_ms (wall clock) or until outbox_wake. */
void outbox_wait(struct coord *c, int64_t deadline_ms);
void outbox_wake(struct coord *c);

/* Flushing (a `dtf run` about to end): messages never tried are due at once, whatever their
 * group's window. outbox_pending counts the messages not yet sent or given up on. */
void outbox_set_flushing(struct coord *c, bool on);
size_t outbox_pending(struct coord *c);
double outbox_flush_timeout(struct coord *c);
/* Stops sending (the coordinator is about to stop with messages left: they stay pending, for the
 * next start), and the count of sends still under way, which end as sent, retried or dead. */
void outbox_hold(struct coord *c);
size_t outbox_inflight(struct coord *c);

/* GET /api/v1/notifications: {"notifications": [...], "counts": {pending, sent, dead}}, newest
 * first, state filter "pending", "sent", "dead" or NULL, at most limit. NULL without an
 * outbox (the front-end says none are configured). */
json_t *outbox_list(struct coord *c, const char *state, size_t limit);
/* /metrics: for each channel, messages sent, retried and dead since start, and pending now.
 * Calls fn once per channel. */
void outbox_metrics(struct coord *c,
		    void (*fn)(void *arg, const char *channel, const char *type, uint64_t sent,
			       uint64_t retried, uint64_t dead, uint64_t pending),
		    void *arg);

#endif
