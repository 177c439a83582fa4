/* keys.h: API keys with roles (docs/auth.md). A key set holds named keys, each with a role and
 * an optional project, and only a salted hash of each secret: HMAC-SHA256(salt, SHA-256(secret)),
 * so that a keys file may hold "sha256:HEX" instead of the secret and the set never holds the
 * secret itself. Lookups compare every entry's hash in constant time. Thread-safe: the server's
 * thread looks keys up while an admin request or a reload (SIGHUP) changes the set. */
#ifndef DTF_NET_KEYS_H
#define DTF_NET_KEYS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Roles, weakest first. read < submit < admin is an order; enroll is beside it (it may only
 * register workers) and worker is what a worker's token (a JWT, not a key) grants. */
enum dtf_role {
	DTF_ROLE_NONE = 0,
	DTF_ROLE_READ = 1,
	DTF_ROLE_SUBMIT = 2,
	DTF_ROLE_ADMIN = 3,
	DTF_ROLE_ENROLL = 4,
	DTF_ROLE_WORKER = 5,
};

#define DTF_KEY_NAME_MAX   64
#define DTF_KEY_SECRET_MAX 256 /* longer secrets are refused (and never match) */

struct dtf_key_info {
	char name[DTF_KEY_NAME_MAX];
	int role;
	char project[DTF_KEY_NAME_MAX]; /* "" when the key may see every project */
	/* Limits (an enrollment key's, like GitLab Runner's glrt- tokens): the worker ids it may
	 * register (a glob, "" any), the labels those workers must carry ("k=v,k=v", "" none), and
	 * when the key stops working (wall-clock ms, 0 never; any role). */
	char worker_pattern[DTF_KEY_NAME_MAX];
	char labels[256];
	long long expires_ms;
};

struct dtf_keyset;

/* "read", "submit", "admin", "worker-enroll" (also "enroll"), or NULL/-1. */
const char *dtf_role_name(int role);
int dtf_role_parse(const char *name);
/* True when a key (or token) of role have may call a route that needs role need. */
bool dtf_role_allows(int have, int need);

/* A new empty set with a random salt; NULL when out of memory. Free with dtf_keyset_free. */
struct dtf_keyset *dtf_keyset_new(void);
void dtf_keyset_free(struct dtf_keyset *ks);
/* Adds (or replaces, by name) a key. spec is "SECRET" (an admin key named "default", the form
 * older releases took), "NAME:ROLE:SECRET" or "NAME:ROLE@PROJECT:SECRET"; SECRET may be
 * "sha256:HEX" (64 hex digits of the secret's SHA-256). 0, or DTF_EINVAL with a reason in err
 * (which never repeats the secret). origin marks where the key came from ("flag", "file",
 * "api"); a reload replaces the keys of one origin. */
int dtf_keyset_add_spec(struct dtf_keyset *ks, const char *spec, const char *origin, char *err,
			size_t errlen);
/* Adds a key from its parts. */
int dtf_keyset_add(struct dtf_keyset *ks, const char *name, int role, const char *project,
		   const char *secret, const char *origin, char *err, size_t errlen);
/* Reads a keys file: one key spec a line ('#' comments, blank lines skipped). Refused when
 * others may read it (mode & 007) or past 1 MiB. 0 or DTF_E* with a reason in err. */
int dtf_keyset_load_file(struct dtf_keyset *ks, const char *path, const char *origin, char *err,
			 size_t errlen);
/* Drops every key that came from origin (before a reload). */
void dtf_keyset_drop_origin(struct dtf_keyset *ks, const char *origin);
/* Sets the limits of the key called name (see struct dtf_key_info; NULL or "" for none; the
 * labels "k=v,k=v"). 0, DTF_ENOTFOUND or DTF_EINVAL (too long). */
int dtf_keyset_limit(struct dtf_keyset *ks, const char *name, const char *worker_pattern,
		     const char *labels, long long expires_ms);
/* Revokes the key called name: it fails from its next request on. 0 or DTF_ENOTFOUND. */
int dtf_keyset_revoke(struct dtf_keyset *ks, const char *name);
/* True with *out filled when secret is a live key of the set. */
bool dtf_keyset_lookup(struct dtf_keyset *ks, const char *secret, struct dtf_key_info *out);
/* The number of keys, revoked ones included (0: the coordinator is open). */
size_t dtf_keyset_count(struct dtf_keyset *ks);
/* [{"name", "role", "project"?, "origin", "revoked", "hint"? (a revoked configured key: remove
 * it from the configuration)}], never a secret or a hash. */
json_t *dtf_keyset_list(struct dtf_keyset *ks);
/* The live keys of origin as a document to keep (a new reference): [{"name", "role",
 * "project"?, "sha256": HEX of the secret's SHA-256, "worker_pattern"?, "labels"?,
 * "expires_ms"?}]; dtf_keyset_import() reads it back (as origin). Secrets are not in it. */
json_t *dtf_keyset_export(struct dtf_keyset *ks, const char *origin);
int dtf_keyset_import(struct dtf_keyset *ks, const json_t *doc, const char *origin, char *err,
		      size_t errlen);
/* Configured keys (not of origin "api") revoked by dtf_keyset_revoke() are remembered by name
 * and the SHA-256 of their secret, so that they stay revoked when the configuration is read
 * again: a key of that name and secret added later comes revoked. export gives the records
 * (a new reference: [{"name", "sha256"}]); import reads them back (marking the configured keys
 * already in the set). 0 or DTF_EPARSE/DTF_ENOMEM with a reason in err. */
json_t *dtf_keyset_export_revoked(struct dtf_keyset *ks);
int dtf_keyset_import_revoked(struct dtf_keyset *ks, const json_t *doc, char *err, size_t errlen);

#endif
