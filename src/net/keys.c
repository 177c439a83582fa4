/* keys.c: the key set (keys.h): named keys with roles, held as salted hashes. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/util.h"
#include "net/keys.h"

struct key {
	struct dtf_key_info info;
	unsigned char hash[32];
	unsigned char digest[32]; /* the secret's SHA-256: what dtf_keyset_export() keeps */
	char origin[16];
	bool revoked;
};

/* A configured key (--api-key, the keys file) revoked through the API: its name and the
 * SHA-256 of its secret, so that it stays revoked when the configuration is read again (a
 * restart, SIGHUP) until it is removed there or given a new secret. */
struct revoked {
	char name[DTF_KEY_NAME_MAX];
	unsigned char digest[32];
};

struct dtf_keyset {
	pthread_mutex_t lock;
	unsigned char salt[32];
	struct key *keys;
	size_t n, cap;
	struct revoked *rev;
	size_t nrev;
};

static const char *const role_names[] = {"none",  "read",	   "submit",
					 "admin", "worker-enroll", "worker"};

const char *dtf_role_name(int role)
{
	if (role < 0 || role > DTF_ROLE_WORKER)
		return NULL;
	return role_names[role];
}

int dtf_role_parse(const char *name)
{
	int i;

	if (name && strcmp(name, "enroll") == 0)
		return DTF_ROLE_ENROLL;
	for (i = DTF_ROLE_READ; name && i <= DTF_ROLE_ENROLL; i++)
		if (strcmp(name, role_names[i]) == 0)
			return i;
	return -1;
}

bool dtf_role_allows(int have, int need)
{
	if (need == DTF_ROLE_NONE)
		return true;
	if (have == DTF_ROLE_NONE)
		return false;
	if (need == DTF_ROLE_ENROLL)
		return have == DTF_ROLE_ENROLL || have == DTF_ROLE_ADMIN;
	if (need == DTF_ROLE_WORKER)
		return have == DTF_ROLE_WORKER;
	if (have == DTF_ROLE_ENROLL || have == DTF_ROLE_WORKER)
		return false;
	return have >= need;
}

struct dtf_keyset *dtf_keyset_new(void)
{
	struct dtf_keyset *ks = calloc(1, sizeof(*ks));

	if (!ks)
		return NULL;
	pthread_mutex_init(&ks->lock, NULL);
	if (getrandom(ks->salt, sizeof(ks->salt), 0) != (ssize_t)sizeof(ks->salt)) {
		/* No entropy: the hashes are then unsalted SHA-256s, still never the secret. */
		memset(ks->salt, 0, sizeof(ks->salt));
	}
	return ks;
}

void dtf_keyset_free(struct dtf_keyset *ks)
{
	if (!ks)
		return;
	OPENSSL_cleanse(ks->keys, ks->cap * sizeof(*ks->keys));
	free(ks->keys);
	free(ks->rev);
	pthread_mutex_destroy(&ks->lock);
	free(ks);
}

/* HMAC(salt, digest): what the set keeps of a key whose secret has SHA-256 digest. */
static void salted(const struct dtf_keyset *ks, const unsigned char digest[32],
		   unsigned char out[32])
{
	unsigned int len = 32;

	HMAC(EVP_sha256(), ks->salt, sizeof(ks->salt), digest, 32, out, &len);
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* The SHA-256 of secret, or the digest that "sha256:HEX" spells. */
static int secret_digest(const char *secret, unsigned char digest[32], char *err, size_t errlen)
{
	size_t n = strlen(secret), i;

	if (n == 0 || n > DTF_KEY_SECRET_MAX) {
		snprintf(err, errlen, "a key's secret must be 1..%d characters",
			 DTF_KEY_SECRET_MAX);
		return DTF_EINVAL;
	}
	if (strncmp(secret, "sha256:", 7) == 0) {
		if (n != 7 + 64) {
			snprintf(err, errlen, "sha256: must be followed by 64 hex digits");
			return DTF_EINVAL;
		}
		for (i = 0; i < 32; i++) {
			int hi = hexval(secret[7 + 2 * i]), lo = hexval(secret[8 + 2 * i]);
			if (hi < 0 || lo < 0) {
				snprintf(err, errlen, "sha256: must be followed by 64 hex digits");
				return DTF_EINVAL;
			}
			digest[i] = (unsigned char)(hi << 4 | lo);
		}
		return 0;
	}
	SHA256((const unsigned char *)secret, n, digest);
	return 0;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= DTF_KEY_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

/* True when the configured key name with secret digest was revoked through the API; called
 * with ks->lock held. */
static bool was_revoked(const struct dtf_keyset *ks, const char *name,
			const unsigned char digest[32])
{
	size_t i;

	for (i = 0; i < ks->nrev; i++)
		if (strcmp(ks->rev[i].name, name) == 0 &&
		    CRYPTO_memcmp(ks->rev[i].digest, digest, 32) == 0)
			return true;
	return false;
}

/* Remembers that the configured key name with secret digest is revoked; called with ks->lock
 * held. 0 or DTF_ENOMEM. */
static int remember_revoked(struct dtf_keyset *ks, const char *name, const unsigned char digest[32])
{
	struct revoked *nr;

	if (was_revoked(ks, name, digest))
		return 0;
	nr = realloc(ks->rev, (ks->nrev + 1) * sizeof(*nr));
	if (!nr)
		return DTF_ENOMEM;
	ks->rev = nr;
	memset(&nr[ks->nrev], 0, sizeof(*nr));
	snprintf(nr[ks->nrev].name, sizeof(nr[ks->nrev].name), "%s", name);
	memcpy(nr[ks->nrev].digest, digest, 32);
	ks->nrev++;
	return 0;
}

int dtf_keyset_add(struct dtf_keyset *ks, const char *name, int role, const char *project,
		   const char *secret, const char *origin, char *err, size_t errlen)
{
	unsigned char digest[32];
	struct key k, *slot = NULL;
	size_t i;
	int rc;

	memset(&k, 0, sizeof(k));
	if (!name_ok(name)) {
		snprintf(err, errlen, "a key's name must be 1-63 characters of [A-Za-z0-9._-]");
		return DTF_EINVAL;
	}
	if (role < DTF_ROLE_READ || role > DTF_ROLE_ENROLL) {
		snprintf(err, errlen,
			 "key '%s': the role must be admin, submit, read or worker-enroll", name);
		return DTF_EINVAL;
	}
	if (project && *project && !name_ok(project)) {
		snprintf(err, errlen,
			 "key '%s': the project must be 1-63 characters of "
			 "[A-Za-z0-9._-]",
			 name);
		return DTF_EINVAL;
	}
	rc = secret_digest(secret, digest, err, errlen);
	if (rc)
		return rc;
	snprintf(k.info.name, sizeof(k.info.name), "%s", name);
	snprintf(k.info.project, sizeof(k.info.project), "%s", project ? project : "");
	snprintf(k.origin, sizeof(k.origin), "%s", origin ? origin : "");
	k.info.role = role;
	salted(ks, digest, k.hash);
	memcpy(k.digest, digest, sizeof(k.digest));
	OPENSSL_cleanse(digest, sizeof(digest));
	pthread_mutex_lock(&ks->lock);
	k.revoked = strcmp(k.origin, "api") != 0 && was_revoked(ks, name, k.digest);
	for (i = 0; i < ks->n; i++)
		if (strcmp(ks->keys[i].info.name, name) == 0)
			slot = &ks->keys[i];
	if (!slot) {
		if (ks->n == ks->cap) {
			size_t cap = ks->cap ? ks->cap * 2 : 8;
			struct key *nk = calloc(cap, sizeof(*nk));
			if (!nk) {
				pthread_mutex_unlock(&ks->lock);
				snprintf(err, errlen, "out of memory");
				return DTF_ENOMEM;
			}
			if (ks->n)
				memcpy(nk, ks->keys, ks->n * sizeof(*nk));
			OPENSSL_cleanse(ks->keys, ks->cap * sizeof(*ks->keys));
			free(ks->keys);
			ks->keys = nk;
			ks->cap = cap;
		}
		slot = &ks->keys[ks->n++];
	}
	*slot = k;
	pthread_mutex_unlock(&ks->lock);
	return 0;
}

static bool name_taken(struct dtf_keyset *ks, const char *name)
{
	size_t i;
	bool taken = false;

	pthread_mutex_lock(&ks->lock);
	for (i = 0; i < ks->n; i++)
		taken |= strcmp(ks->keys[i].info.name, name) == 0;
	pthread_mutex_unlock(&ks->lock);
	return taken;
}

/* The length of the RFC 3339 time or date at p ("2027-01-01", "2027-01-01T12:00:00Z",
 * "…T12:00:00.5+02:00"), 0 when none: a key's expiry holds colons, which otherwise end the
 * spec's second field. */
static size_t time_len(const char *p)
{
	static const char date[] = "dddd-dd-dd", clock[] = "Tdd:dd:dd";
	size_t n, i;

	for (n = 0; date[n]; n++)
		if (date[n] == 'd' ? !(p[n] >= '0' && p[n] <= '9') : p[n] != date[n])
			return 0;
	if (p[n] != 'T')
		return n;
	for (i = 0; clock[i]; i++, n++)
		if (clock[i] == 'd' ? !(p[n] >= '0' && p[n] <= '9') : p[n] != clock[i])
			return 0;
	if (p[n] == '.')
		for (n++; p[n] >= '0' && p[n] <= '9'; n++)
			;
	if (p[n] == 'Z')
		return n + 1;
	if (p[n] == '+' || p[n] == '-') {
		/* "+HH:MM", checked in order so that nothing past the string's end is read. */
		static const char off[] = "dd:dd";

		for (i = 0; off[i]; i++)
			if (off[i] == 'd' ? !(p[n + 1 + i] >= '0' && p[n + 1 + i] <= '9')
					  : p[n + 1 + i] != off[i])
				return 0;
		return n + 6;
	}
	return 0;
}

/* True when labels is "k=v,k=v" (each item a non-empty key, '=', a value). */
static bool labels_ok(const char *labels)
{
	const char *p = labels;

	while (*p) {
		size_t n = strcspn(p, ","), k = strcspn(p, "=");
		if (k == 0 || k >= n)
			return false;
		p += n;
		if (*p == ',' && *++p == '\0')
			return false;
	}
	return true;
}

/* Parses the options of a spec's second field (";worker-pattern=GLOB;labels=k=v,k=v;
 * expires=TIME", at p)
 * into the limits; *end gets where they stop (the ':' before the secret). 0 or DTF_EINVAL. */
static int parse_limits(const char *p, const char **end, struct dtf_key_info *ki, char *err,
			size_t errlen)
{
	while (*p == ';') {
		const char *name = p + 1, *eq = strchr(name, '='), *v;
		size_t len;
		char *dst = NULL, tv[64];
		size_t cap = 0;

		if (!eq) {
			snprintf(err, errlen, "a key's option is NAME=VALUE");
			return DTF_EINVAL;
		}
		v = eq + 1;
		if ((size_t)(eq - name) == 7 && strncmp(name, "expires", 7) == 0) {
			int64_t ms;
			len = time_len(v);
			if (len == 0 || len >= sizeof(tv) - 10 ||
			    (v[len] != ';' && v[len] != ':')) {
				snprintf(err, errlen,
					 "expires= takes a date or an RFC 3339 time "
					 "(2027-01-31, 2027-01-31T18:00:00Z)");
				return DTF_EINVAL;
			}
			snprintf(tv, sizeof(tv), "%.*s%s", (int)len, v,
				 len == 10 ? "T00:00:00Z" : "");
			if (dtf_parse_rfc3339(tv, &ms) != 0 || ms <= 0) {
				snprintf(err, errlen, "expires=%s is not a valid time", tv);
				return DTF_EINVAL;
			}
			ki->expires_ms = ms;
			p = v + len;
			continue;
		}
		len = strcspn(v, ";:");
		if ((size_t)(eq - name) == 14 && strncmp(name, "worker-pattern", 14) == 0) {
			dst = ki->worker_pattern;
			cap = sizeof(ki->worker_pattern);
		} else if ((size_t)(eq - name) == 6 && strncmp(name, "labels", 6) == 0) {
			dst = ki->labels;
			cap = sizeof(ki->labels);
		} else {
			snprintf(err, errlen,
				 "unknown key option '%.*s' (worker-pattern, labels, expires)",
				 (int)(eq - name) < 32 ? (int)(eq - name) : 32, name);
			return DTF_EINVAL;
		}
		if (len == 0 || len >= cap) {
			snprintf(err, errlen, "%.*s= must be 1 to %zu characters", (int)(eq - name),
				 name, cap - 1);
			return DTF_EINVAL;
		}
		snprintf(dst, cap, "%.*s", (int)len, v);
		if (dst == ki->labels && !labels_ok(dst)) {
			snprintf(err, errlen, "labels= is k=v,k=v");
			return DTF_EINVAL;
		}
		p = v + len;
	}
	*end = p;
	return 0;
}

int dtf_keyset_add_spec(struct dtf_keyset *ks, const char *spec, const char *origin, char *err,
			size_t errlen)
{
	char name[DTF_KEY_NAME_MAX], role[64], *at;
	const char *c1, *c2;
	struct dtf_key_info lim;
	size_t rlen;
	int r, rc;

	memset(&lim, 0, sizeof(lim));
	c1 = strchr(spec, ':');
	/* A plain secret (no colon), or a "sha256:HEX" one, is the admin key of older releases:
	 * named default, default-2, … in the order they come. */
	if (!c1 || strncmp(spec, "sha256:", 7) == 0) {
		int i = 1;
		snprintf(name, sizeof(name), "default");
		while (name_taken(ks, name))
			snprintf(name, sizeof(name), "default-%d", ++i);
		return dtf_keyset_add(ks, name, DTF_ROLE_ADMIN, NULL, spec, origin, err, errlen);
	}
	/* The second field is ROLE[@PROJECT] and then the limits, each ";NAME=VALUE". */
	rlen = strcspn(c1 + 1, ";:");
	if (c1[1 + rlen] == ';' && parse_limits(c1 + 1 + rlen, &c2, &lim, err, errlen) != 0)
		return DTF_EINVAL;
	if (c1[1 + rlen] != ';')
		c2 = c1 + 1 + rlen;
	if (*c2 != ':' || (size_t)(c1 - spec) >= sizeof(name) || rlen >= sizeof(role)) {
		snprintf(err, errlen,
			 "a key is SECRET or NAME:ROLE:SECRET (NAME:ROLE@PROJECT;OPTIONS:SECRET)");
		return DTF_EINVAL;
	}
	memcpy(name, spec, (size_t)(c1 - spec));
	name[c1 - spec] = '\0';
	memcpy(role, c1 + 1, rlen);
	role[rlen] = '\0';
	at = strchr(role, '@');
	if (at)
		*at++ = '\0';
	r = dtf_role_parse(role);
	if (r < 0) {
		snprintf(err, errlen,
			 "key '%s': unknown role '%s' (admin, submit, read or worker-enroll)", name,
			 role);
		return DTF_EINVAL;
	}
	rc = dtf_keyset_add(ks, name, r, at, c2 + 1, origin, err, errlen);
	if (!rc)
		rc = dtf_keyset_limit(ks, name, lim.worker_pattern, lim.labels, lim.expires_ms);
	return rc;
}

int dtf_keyset_load_file(struct dtf_keyset *ks, const char *path, const char *origin, char *err,
			 size_t errlen)
{
	struct stat st;
	char *text = NULL, *line, *next;
	size_t len;
	int rc = 0, lineno = 0;

	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "cannot read the keys file %s", path);
		return DTF_EIO;
	}
	if (st.st_mode & 0007) {
		snprintf(err, errlen,
			 "the keys file %s may be read by anyone (mode %03o): chmod o-rwx it first",
			 path, (unsigned)(st.st_mode & 0777));
		return DTF_EDENIED;
	}
	if (dtf_read_file(path, 1u << 20, &text, &len) != 0) {
		snprintf(err, errlen, "cannot read the keys file %s (or it is over 1 MiB)", path);
		return DTF_EIO;
	}
	for (line = text; line && *line; line = next) {
		char e[200];
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		line[strcspn(line, "\r")] = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '\0' || *line == '#')
			continue;
		if (dtf_keyset_add_spec(ks, line, origin, e, sizeof(e)) != 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, e);
			rc = DTF_EINVAL;
			break;
		}
	}
	OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}

void dtf_keyset_drop_origin(struct dtf_keyset *ks, const char *origin)
{
	size_t i, j = 0;

	pthread_mutex_lock(&ks->lock);
	for (i = 0; i < ks->n; i++)
		if (strcmp(ks->keys[i].origin, origin) != 0)
			ks->keys[j++] = ks->keys[i];
	ks->n = j;
	pthread_mutex_unlock(&ks->lock);
}

int dtf_keyset_limit(struct dtf_keyset *ks, const char *name, const char *worker_pattern,
		     const char *labels, long long expires_ms)
{
	size_t i;
	int rc = DTF_ENOTFOUND;

	if ((worker_pattern && strlen(worker_pattern) >= DTF_KEY_NAME_MAX) ||
	    (labels && strlen(labels) >= sizeof(((struct dtf_key_info *)0)->labels)))
		return DTF_EINVAL;
	pthread_mutex_lock(&ks->lock);
	for (i = 0; i < ks->n; i++) {
		struct dtf_key_info *ki = &ks->keys[i].info;
		if (strcmp(ki->name, name) != 0)
			continue;
		snprintf(ki->worker_pattern, sizeof(ki->worker_pattern), "%s",
			 worker_pattern ? worker_pattern : "");
		snprintf(ki->labels, sizeof(ki->labels), "%s", labels ? labels : "");
		ki->expires_ms = expires_ms;
		rc = 0;
	}
	pthread_mutex_unlock(&ks->lock);
	return rc;
}

int dtf_keyset_revoke(struct dtf_keyset *ks, const char *name)
{
	size_t i;
	int rc = DTF_ENOTFOUND;

	pthread_mutex_lock(&ks->lock);
	for (i = 0; i < ks->n; i++)
		if (strcmp(ks->keys[i].info.name, name) == 0 && !ks->keys[i].revoked) {
			ks->keys[i].revoked = true;
			/* A configured key would come back with the configuration: remembered. */
			if (strcmp(ks->keys[i].origin, "api") != 0)
				remember_revoked(ks, name, ks->keys[i].digest);
			rc = 0;
		}
	pthread_mutex_unlock(&ks->lock);
	return rc;
}

bool dtf_keyset_lookup(struct dtf_keyset *ks, const char *secret, struct dtf_key_info *out)
{
	unsigned char digest[32], h[32];
	size_t i, n = secret ? strlen(secret) : 0;
	bool found = false;
	long long now;

	/* A "sha256:…" string is a stored form, never a secret a client may present. */
	if (n == 0 || n > DTF_KEY_SECRET_MAX || strncmp(secret, "sha256:", 7) == 0)
		return false;
	SHA256((const unsigned char *)secret, n, digest);
	salted(ks, digest, h);
	now = dtf_wall_ms();
	pthread_mutex_lock(&ks->lock);
	/* Every entry is compared, whichever matches, so the time says nothing of which. */
	for (i = 0; i < ks->n; i++) {
		bool eq = CRYPTO_memcmp(h, ks->keys[i].hash, 32) == 0;
		bool expired = ks->keys[i].info.expires_ms && now >= ks->keys[i].info.expires_ms;
		if (eq && !ks->keys[i].revoked && !expired && !found) {
			found = true;
			if (out)
				*out = ks->keys[i].info;
		}
	}
	pthread_mutex_unlock(&ks->lock);
	return found;
}

size_t dtf_keyset_count(struct dtf_keyset *ks)
{
	size_t i, n = 0;

	if (!ks)
		return 0;
	/* Revoked keys count: revoking the last key must not open the coordinator. */
	pthread_mutex_lock(&ks->lock);
	for (i = 0; i < ks->n; i++)
		n++;
	pthread_mutex_unlock(&ks->lock);
	return n;
}

json_t *dtf_keyset_list(struct dtf_keyset *ks)
{
	json_t *list = json_array();
	size_t i;

	pthread_mutex_lock(&ks->lock);
	for (i = 0; i < ks->n; i++) {
		const struct key *k = &ks->keys[i];
		json_t *o = json_pack("{s:s,s:s,s:s,s:b}", "name", k->info.name, "role",
				      dtf_role_name(k->info.role), "origin", k->origin, "revoked",
				      k->revoked);
		if (k->info.project[0])
			json_object_set_new(o, "project", json_string(k->info.project));
		if (k->info.worker_pattern[0])
			json_object_set_new(o, "worker_pattern",
					    json_string(k->info.worker_pattern));
		if (k->info.labels[0])
			json_object_set_new(o, "labels", json_string(k->info.labels));
		if (k->info.expires_ms) {
			char ts[32];
			dtf_rfc3339(k->info.expires_ms, ts);
			json_object_set_new(o, "expires_at", json_string(ts));
		}
		if (k->revoked && strcmp(k->origin, "api") != 0)
			json_object_set_new(
			    o, "hint",
			    json_string(
				"revoked through the API and kept revoked across restarts: "
				"remove it from the configuration (--api-key, the keys file, "
				"coordinator.api_keys)"));
		json_array_append_new(list, o);
	}
	pthread_mutex_unlock(&ks->lock);
	return list;
}

json_t *dtf_keyset_export(struct dtf_keyset *ks, const char *origin)
{
	json_t *list = json_array();
	size_t i;
	int j;

	pthread_mutex_lock(&ks->lock);
	for (i = 0; i < ks->n; i++) {
		const struct key *k = &ks->keys[i];
		char hex[65];
		json_t *o;
		if (k->revoked || strcmp(k->origin, origin) != 0)
			continue;
		for (j = 0; j < 32; j++)
			snprintf(hex + 2 * j, 3, "%02x", k->digest[j]);
		o = json_pack("{s:s,s:s,s:s}", "name", k->info.name, "role",
			      dtf_role_name(k->info.role), "sha256", hex);
		if (k->info.project[0])
			json_object_set_new(o, "project", json_string(k->info.project));
		if (k->info.worker_pattern[0])
			json_object_set_new(o, "worker_pattern",
					    json_string(k->info.worker_pattern));
		if (k->info.labels[0])
			json_object_set_new(o, "labels", json_string(k->info.labels));
		if (k->info.expires_ms)
			json_object_set_new(o, "expires_ms", json_integer(k->info.expires_ms));
		json_array_append_new(list, o);
	}
	pthread_mutex_unlock(&ks->lock);
	return list;
}

int dtf_keyset_import(struct dtf_keyset *ks, const json_t *doc, const char *origin, char *err,
		      size_t errlen)
{
	size_t i;
	json_t *e;
	int rc;

	if (!json_is_array(doc)) {
		snprintf(err, errlen, "the kept keys are not a list");
		return DTF_EPARSE;
	}
	json_array_foreach(doc, i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *hex = json_string_value(json_object_get(e, "sha256"));
		char secret[80];
		json_t *exp = json_object_get(e, "expires_ms");
		if (!name || !hex || strlen(hex) != 64) {
			snprintf(err, errlen, "kept key %zu lacks its name or sha256", i);
			return DTF_EPARSE;
		}
		snprintf(secret, sizeof(secret), "sha256:%s", hex);
		rc = dtf_keyset_add(
		    ks, name, dtf_role_parse(json_string_value(json_object_get(e, "role"))),
		    json_string_value(json_object_get(e, "project")), secret, origin, err, errlen);
		if (!rc)
			rc = dtf_keyset_limit(
			    ks, name, json_string_value(json_object_get(e, "worker_pattern")),
			    json_string_value(json_object_get(e, "labels")),
			    json_is_integer(exp) ? (long long)json_integer_value(exp) : 0);
		if (rc)
			return rc;
	}
	return 0;
}

json_t *dtf_keyset_export_revoked(struct dtf_keyset *ks)
{
	json_t *list = json_array();
	size_t i;
	int j;

	pthread_mutex_lock(&ks->lock);
	for (i = 0; i < ks->nrev; i++) {
		char hex[65];
		for (j = 0; j < 32; j++)
			snprintf(hex + 2 * j, 3, "%02x", ks->rev[i].digest[j]);
		json_array_append_new(
		    list, json_pack("{s:s,s:s}", "name", ks->rev[i].name, "sha256", hex));
	}
	pthread_mutex_unlock(&ks->lock);
	return list;
}

int dtf_keyset_import_revoked(struct dtf_keyset *ks, const json_t *doc, char *err, size_t errlen)
{
	size_t i, k;
	json_t *e;
	int rc = 0;

	if (!json_is_array(doc)) {
		snprintf(err, errlen, "the kept revocations are not a list");
		return DTF_EPARSE;
	}
	pthread_mutex_lock(&ks->lock);
	json_array_foreach(doc, i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *hex = json_string_value(json_object_get(e, "sha256"));
		unsigned char digest[32];
		int j;
		if (!name || !name_ok(name) || !hex || strlen(hex) != 64) {
			snprintf(err, errlen, "kept revocation %zu lacks its name or sha256", i);
			rc = DTF_EPARSE;
			break;
		}
		for (j = 0; j < 32; j++) {
			int hi = hexval(hex[2 * j]), lo = hexval(hex[2 * j + 1]);
			if (hi < 0 || lo < 0)
				break;
			digest[j] = (unsigned char)(hi << 4 | lo);
		}
		if (j < 32) {
			snprintf(err, errlen, "kept revocation %zu: sha256 is not hex", i);
			rc = DTF_EPARSE;
			break;
		}
		rc = remember_revoked(ks, name, digest);
		if (rc)
			break;
		/* The configuration's keys are read before the kept file. */
		for (k = 0; k < ks->n; k++)
			if (strcmp(ks->keys[k].origin, "api") != 0 &&
			    strcmp(ks->keys[k].info.name, name) == 0 &&
			    CRYPTO_memcmp(ks->keys[k].digest, digest, 32) == 0)
				ks->keys[k].revoked = true;
	}
	pthread_mutex_unlock(&ks->lock);
	return rc;
}
