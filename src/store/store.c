/* store.c: picks the store backend from the target string. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "store/store.h"

static struct dtf_store *store_open(const char *target, int64_t epoch, char *err, size_t errlen)
{
	struct dtf_store *st;
	bool pg;
	int rc;

	if (!target || !*target) {
		snprintf(err, errlen, "no database path given");
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pg = dtf_store_is_url(target);
	st->epoch = pg ? epoch : 0;
	st->ops = pg ? &dtf_store_postgres_ops : &dtf_store_sqlite_ops;
	rc = st->ops->open(st, target);
	if (rc) {
		/* A URL may hold a password: name the database without it. */
		snprintf(err, errlen, "cannot open %s: %s%s",
			 pg ? "the PostgreSQL database" : target,
			 st->error[0] ? st->error : dtf_strerror(rc),
			 strstr(st->error, "locked") ? " (another coordinator is using it)" : "");
		dtf_store_close(st);
		return NULL;
	}
	return st;
}

struct dtf_store *dtf_store_open(const char *target, char *err, size_t errlen)
{
	return store_open(target, 0, err, errlen);
}

struct dtf_store *dtf_store_open_fenced(const char *target, int64_t epoch, char *err, size_t errlen)
{
	if (!dtf_store_is_url(target)) {
		snprintf(err, errlen, "several coordinators need a PostgreSQL database");
		return NULL;
	}
	return store_open(target, epoch, err, errlen);
}

bool dtf_store_is_url(const char *target)
{
	return target && (strncmp(target, "postgresql://", 13) == 0 ||
			  strncmp(target, "postgres://", 11) == 0);
}

void dtf_store_redact(const char *target, char *out, size_t len)
{
	const char *auth, *at, *colon;

	if (!target)
		target = "";
	auth = dtf_store_is_url(target) ? strstr(target, "://") + 3 : NULL;
	at = auth ? strchr(auth, '@') : NULL;
	colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (!colon || (strchr(auth, '/') && strchr(auth, '/') < at)) {
		snprintf(out, len, "%s", target);
		return;
	}
	snprintf(out, len, "%.*s***%s", (int)(colon + 1 - target), target, at);
}

void dtf_store_close(struct dtf_store *st)
{
	if (!st)
		return;
	if (st->ops && st->impl)
		st->ops->close(st);
	free(st);
}
