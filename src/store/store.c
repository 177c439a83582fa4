/* store.c: picks the store backend from the target string. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "store/store.h"

struct dtf_store *dtf_store_open(const char *target, char *err, size_t errlen)
{
	struct dtf_store *st;
	int rc;

	if (!target || !*target) {
		snprintf(err, errlen, "no database path given");
		return NULL;
	}
	if (strncmp(target, "postgresql://", 13) == 0 || strncmp(target, "postgres://", 11) == 0) {
		snprintf(err, errlen,
			 "PostgreSQL store is not built into this dtf yet; use --db-path");
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	st->ops = &dtf_store_sqlite_ops;
	rc = st->ops->open(st, target);
	if (rc) {
		snprintf(err, errlen, "cannot open %s: %s%s", target,
			 st->error[0] ? st->error : dtf_strerror(rc),
			 strstr(st->error, "locked") ? " (another coordinator is using it)" : "");
		dtf_store_close(st);
		return NULL;
	}
	return st;
}

void dtf_store_close(struct dtf_store *st)
{
	if (!st)
		return;
	if (st->ops && st->impl)
		st->ops->close(st);
	free(st);
}
