/* txn.c: transactions and the group commit. A front-end's requests run one at a time on its
 * request thread; what they change joins one open transaction, and the front-end holds their
 * replies until it is committed. At the end of each pass over the ready requests (the front-end
 * calls txn_flush), or once GC_MAX_CHANGES requests have joined, the transaction is committed and
 * the front-end is told (c->fe.committed), which releases the held replies together: under load
 * many requests share one commit, and no reply leaves before the commit that holds its change.
 * Changes made on other threads (the tick) commit at once, taking the open group with them. */
#include <stdlib.h>

#include "common/err.h"
#include "common/log.h"
#include "core/model.h"
#include "sched/sched.h"

#define GC_MAX_CHANGES 512

static bool deferrable(struct coord *c)
{
	return !c->cfg.no_group_commit && c->fe.in_request && c->fe.in_request(c->fe.ctx);
}

/* Commits the open transaction and tells the front-end, which releases the replies it held
 * (or fails them if the commit failed). Called with c->lock held. */
static int flush(struct coord *c)
{
	int rc = 0;
	bool held = c->gc_dirty;

	if (c->gc_open) {
		sx_history_persist(c->sx, false);
		rc = c->store->ops->commit(c->store);
		if (rc)
			c->store->ops->rollback(c->store);
		c->gc_open = false;
		c->m_commits++;
		c->m_commit_changes += (uint64_t)(c->gc_changes ? c->gc_changes : 1);
	}
	if (rc && held)
		log_error("store: a group commit of %d changes failed: %s", c->gc_changes,
			  c->store->error);
	if (c->fe.committed)
		c->fe.committed(c->fe.ctx, rc ? DTF_ESTORE : 0, rc ? c->store->error : NULL);
	c->gc_dirty = false;
	c->gc_changes = 0;
	return rc;
}

int txn_begin(struct coord *c)
{
	int rc;

	if (c->gc_open)
		return 0;
	rc = c->store->ops->begin(c->store);
	if (rc == 0)
		c->gc_open = true;
	return rc;
}

int txn_begin_alone(struct coord *c)
{
	int rc = flush(c);

	if (rc)
		return rc;
	return txn_begin(c);
}

int txn_commit(struct coord *c)
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

int txn_commit_now(struct coord *c)
{
	if (c->gc_open)
		c->gc_changes++;
	return flush(c);
}

void txn_rollback(struct coord *c)
{
	/* Others' changes in the open group stay: the caller changed nothing since its begin
	 * (handlers validate before they write). */
	if (!c->gc_open || c->gc_dirty)
		return;
	c->store->ops->rollback(c->store);
	c->gc_open = false;
}

bool txn_pending(const struct coord *c)
{
	return c->gc_dirty;
}

int txn_flush(struct coord *c)
{
	return flush(c);
}
