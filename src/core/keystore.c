/* keystore.c: the API key set's document in the store (docs/auth.md, "Where keys are kept"). The
 * front-end owns the keys and their format; the core keeps its document, the hashes of the keys
 * added through the API and the names of configured keys revoked through it, in the store's
 * meta_docs, so that they outlive a restart on either backend and a standby that takes over a
 * PostgreSQL database reads them when it starts to lead. */
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "core/model.h"

#define KEYS_DOC "api_keys"

int core_keys_store(struct coord *c, const json_t *doc, struct core_err *e)
{
	if (!c->store->ops->put_meta)
		return core_fail(e, DTF_ESTORE, "store_error", "the %s store cannot keep keys",
				 c->store->ops->name);
	if (txn_begin(c) || c->store->ops->put_meta(c->store, KEYS_DOC, doc)) {
		txn_rollback(c);
		return core_fail(e, DTF_ESTORE, "store_error", "the keys could not be stored: %s",
				 c->store->error);
	}
	/* With the request's other changes: its reply waits for this commit. */
	if (txn_commit(c))
		return core_fail(e, DTF_ESTORE, "store_error", "the keys could not be stored: %s",
				 c->store->error);
	return 0;
}

static int pick(void *arg, const char *key, json_t *doc)
{
	json_t **out = arg;

	if (strcmp(key, KEYS_DOC) == 0 && !*out)
		*out = json_incref(doc);
	return 0;
}

int core_keys_stored(struct coord *c, json_t **doc, struct core_err *e)
{
	*doc = NULL;
	if (!c->store->ops->load_meta)
		return 0;
	if (c->store->ops->load_meta(c->store, pick, doc)) {
		json_decref(*doc);
		*doc = NULL;
		return core_fail(e, DTF_ESTORE, "store_error", "cannot read the stored keys: %s",
				 c->store->error);
	}
	return 0;
}
