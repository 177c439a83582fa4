/* keystore.c: the API key set's document in the store (docs/auth.md, "Where keys are kept"). The
 * front-end owns the keys and their format; the core keeps its document, the hashes of the keys
 * added through the API and the names of configured keys revoked through it, in the store's
 * meta_docs, so that they outlive a restart on either backend and a standby that takes over a
 * PostgreSQL database reads them when it starts to lead. The same table holds the other documents
 * of the coordinator's own (core_meta_put/get: the fingerprint of the workers' token secret that
 * coordinators sharing a database must agree on, coordinator.c). */
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "core/model.h"

#define KEYS_DOC "api_keys"

int core_meta_put(struct coord *c, const char *key, const json_t *doc, struct core_err *e)
{
	if (!c->store->ops->put_meta)
		return core_fail(e, DTF_ESTORE, "store_error", "the %s store cannot keep %s",
				 c->store->ops->name, key);
	if (txn_begin(c) || c->store->ops->put_meta(c->store, key, doc)) {
		txn_rollback(c);
		return core_fail(e, DTF_ESTORE, "store_error", "%s could not be stored: %s", key,
				 c->store->error);
	}
	/* With the request's other changes: its reply waits for this commit. */
	if (txn_commit(c))
		return core_fail(e, DTF_ESTORE, "store_error", "%s could not be stored: %s", key,
				 c->store->error);
	return 0;
}

struct pick {
	const char *key;
	json_t *doc;
};

static int pick(void *arg, const char *key, json_t *doc)
{
	struct pick *p = arg;

	if (strcmp(key, p->key) == 0 && !p->doc)
		p->doc = json_incref(doc);
	return 0;
}

int core_meta_get(struct coord *c, const char *key, json_t **doc, struct core_err *e)
{
	struct pick p = {key, NULL};

	*doc = NULL;
	if (!c->store->ops->load_meta)
		return 0;
	if (c->store->ops->load_meta(c->store, pick, &p)) {
		json_decref(p.doc);
		return core_fail(e, DTF_ESTORE, "store_error", "cannot read the stored %s: %s", key,
				 c->store->error);
	}
	*doc = p.doc;
	return 0;
}

int core_keys_store(struct coord *c, const json_t *doc, struct core_err *e)
{
	int rc;

	if (!c->store->ops->put_meta)
		return core_fail(e, DTF_ESTORE, "store_error", "the %s store cannot keep keys",
				 c->store->ops->name);
	rc = core_meta_put(c, KEYS_DOC, doc, e);
	if (rc)
		core_fail(e, rc, "store_error", "the keys could not be stored: %s",
			  c->store->error);
	return rc;
}

int core_keys_stored(struct coord *c, json_t **doc, struct core_err *e)
{
	int rc = core_meta_get(c, KEYS_DOC, doc, e);

	if (rc)
		core_fail(e, rc, "store_error", "cannot read the stored keys: %s", c->store->error);
	return rc;
}
