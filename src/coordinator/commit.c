/* commit.c: group commit. Handlers run one at a time on the HTTP server's thread; what they
 * change joins one open transaction, and their responses are held until it is committed. After
 * each pass over the ready connections (after_run), or once GC_MAX_CHANGES requests have joined,
 * the transaction is committed and the held responses are released together: under load many
 * requests share one commit, and no response leaves before the commit that holds its change.
 * Changes made on other threads (the tick) commit at once, taking the open group with them. */
#include <stdlib.h>

#include "common/log.h"
#include "coordinator/coordinator.h"
#include "sched/sched.h"

#define GC_MAX_CHANGES 512

static bool deferrable(struct coord *c)
{
	return !c->cfg.no_group_commit && dtf_http_server_in_loop(c->http);
}

/* Commits the open transaction and releases the held responses (503 for them if the commit
 * failed). Called with c->lock held. */
static int flush(struct coord *c)
{
	int rc = 0;
	size_t i;

	if (c->gc_open) {
		sx_history_persist(c->sx, false);
		rc = c->store->ops->commit(c->store);
		if (rc)
			c->store->ops->rollback(c->store);
		c->gc_open = false;
		c->m_commits++;
		c->m_commit_changes += (uint64_t)(c->gc_changes ? c->gc_changes : 1);
	}
	if (rc && c->gc_nheld)
		log_error("store: a group commit of %d changes failed: %s", c->gc_changes,
			  c->store->error);
	for (i = 0; i < c->gc_nheld; i++) {
		struct dtf_http_req *r = c->gc_held[i];
		if (rc) {
			c->m_http_errors++;
			dtf_http_reply_error(r, 503, "store_error",
					     "the change could not be committed: %s",
					     c->store->error);
		}
		dtf_http_release(r);
	}
	c->gc_nheld = 0;
	c->gc_dirty = false;
	c->gc_changes = 0;
	return rc;
}

int state_begin(struct coord *c)
{
	int rc;

	if (c->gc_open)
		return 0;
	rc = c->store->ops->begin(c->store);
	if (rc == 0)
		c->gc_open = true;
	return rc;
}

int state_begin_alone(struct coord *c)
{
	int rc = flush(c);

	if (rc)
		return rc;
	return state_begin(c);
}

int state_commit(struct coord *c)
{
	if (!c->gc_open)
		return 0;
	if (deferrable(c)) {
		c->gc_dirty = true;
		if (++c->gc_changes < GC_MAX_CHANGES)
			return 0;
	} else {
		c->gc_changes++;
	}
	return flush(c);
}

int state_commit_now(struct coord *c)
{
	if (c->gc_open)
		c->gc_changes++;
	return flush(c);
}

void state_rollback(struct coord *c)
{
	/* Others' changes in the open group stay: the caller changed nothing since its begin
	 * (handlers validate before they write). */
	if (!c->gc_open || c->gc_dirty)
		return;
	c->store->ops->rollback(c->store);
	c->gc_open = false;
}

bool coord_hold(struct dtf_http_req *r)
{
	struct coord *c = r->app;
	bool held = false;

	pthread_mutex_lock(&c->lock);
	if (c->gc_dirty) {
		if (c->gc_nheld == c->gc_cap) {
			size_t cap = c->gc_cap ? c->gc_cap * 2 : 64;
			struct dtf_http_req **n = realloc(c->gc_held, cap * sizeof(*n));
			if (!n) {
				/* Cannot wait for the group: commit it now instead. */
				flush(c);
				pthread_mutex_unlock(&c->lock);
				return false;
			}
			c->gc_held = n;
			c->gc_cap = cap;
		}
		dtf_http_hold(r);
		c->gc_held[c->gc_nheld++] = r;
		held = true;
	}
	pthread_mutex_unlock(&c->lock);
	return held;
}

void coord_after_run(void *app)
{
	struct coord *c = app;

	pthread_mutex_lock(&c->lock);
	if (c->gc_dirty || c->gc_nheld)
		flush(c);
	if (c->run_waiters)
		coord_run_waiters_check(c, false);
	pthread_mutex_unlock(&c->lock);
}
