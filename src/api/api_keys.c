/* api_keys.c: the admin's endpoints for API keys (rotation without a restart) and for revoking a
 * worker's credentials (docs/auth.md). The key set belongs to the front-end (api.c); secrets
 * are never stored or shown again after the reply that creates them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "api/api.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "core/model.h"

static struct dtf_keyset *keys_of(struct dtf_http_req *r)
{
	return ((struct dtf_api *)r->app)->keys;
}

void api_h_keys_list(struct dtf_http_req *r)
{
	dtf_http_reply_json(r, 200, json_pack("{s:o}", "keys", dtf_keyset_list(keys_of(r))));
}

/* The labels object {k: v} as "k=v,k=v" into out; false when it is not such an object (string
 * values without ',' or '=') or does not fit. */
static bool labels_text(const json_t *labels, char *out, size_t len)
{
	const char *k;
	json_t *v;
	size_t n = 0;

	out[0] = '\0';
	if (!labels)
		return true;
	if (!json_is_object(labels))
		return false;
	json_object_foreach((json_t *)labels, k, v) {
		const char *s = json_string_value(v);
		int w;
		if (!s || strpbrk(k, ",=") || strpbrk(s, ",="))
			return false;
		w = snprintf(out + n, len - n, "%s%s=%s", n ? "," : "", k, s);
		if (w < 0 || (size_t)w >= len - n)
			return false;
		n += (size_t)w;
	}
	return true;
}

/* POST {"name", "role", "project"?, "secret"?, "worker_pattern"?, "labels"?, "expires_in_s"?}:
 * without a secret one is made (32 random bytes, hex) and shown in this reply only. */
void api_h_keys_add(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	struct core_err e;
	json_t *body = api_body_json(r);
	const char *name, *role, *project, *secret, *pattern;
	char made[65], err[256], labels[256];
	long long expires;
	unsigned char rnd[32];
	int rl, rc, i;

	if (!body)
		return;
	if (!dtf_http_keys_required(r)) {
		/* Open, a coordinator has no worker tokens either: keys are a start-time choice. */
		dtf_http_reply_error(r, 409, "keys_not_enabled",
				     "this coordinator was started without keys; start it with "
				     "--api-key or --keys-file to manage keys");
		goto out;
	}
	name = dtf_json_str(body, "name", NULL);
	role = dtf_json_str(body, "role", NULL);
	project = dtf_json_str(body, "project", NULL);
	secret = dtf_json_str(body, "secret", NULL);
	pattern = dtf_json_str(body, "worker_pattern", NULL);
	rl = dtf_role_parse(role);
	if (!name || rl < 0) {
		dtf_http_reply_error(r, 400, "invalid_key",
				     "a key needs 'name' and 'role' (admin, submit, read or "
				     "worker-enroll)");
		goto out;
	}
	if (!secret) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			dtf_http_reply_error(r, 503, "unavailable", "no random bytes");
			goto out;
		}
		for (i = 0; i < 32; i++)
			snprintf(made + 2 * i, 3, "%02x", rnd[i]);
		secret = made;
	}
	if (!labels_text(json_object_get(body, "labels"), labels, sizeof(labels)) ||
	    (json_object_get(body, "expires_in_s") &&
	     (!json_is_number(json_object_get(body, "expires_in_s")) ||
	      dtf_json_num(body, "expires_in_s", 0) <= 0)) ||
	    (pattern && (!*pattern || strlen(pattern) >= DTF_KEY_NAME_MAX))) {
		dtf_http_reply_error(r, 400, "invalid_key",
				     "'labels' must be an object of strings (no ',' or '='), "
				     "'expires_in_s' a positive number, 'worker_pattern' a glob of "
				     "1-63 characters");
		goto out;
	}
	rc = dtf_keyset_add(keys_of(r), name, rl, project, secret, "api", err, sizeof(err));
	if (rc) {
		dtf_http_reply_error(r, 400, "invalid_key", "%s", err);
		goto out;
	}
	expires = json_object_get(body, "expires_in_s")
		      ? dtf_wall_ms() + (long long)(dtf_json_num(body, "expires_in_s", 0) * 1000)
		      : 0;
	dtf_keyset_limit(keys_of(r), name, pattern, labels, expires);
	log_info("key '%s' (%s) added by key '%s'", name, dtf_role_name(rl), r->key.name);
	pthread_mutex_lock(&c->lock);
	/* Not stored (503), the key works until a restart only. */
	if (api_keys_save(r->app, &e))
		api_reply_err(r, &e);
	else
		dtf_http_reply_json(r, 201,
				    json_pack("{s:s,s:s,s:s*,s:s*}", "name", name, "role",
					      dtf_role_name(rl), "project", project, "secret",
					      secret == made ? made : NULL));
	pthread_mutex_unlock(&c->lock);
out:
	memset(made, 0, sizeof(made));
	json_decref(body);
}

void api_h_keys_revoke(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	struct core_err e;

	if (dtf_keyset_revoke(keys_of(r), r->param[0]) != 0) {
		dtf_http_reply_error(r, 404, "key_not_found", "no live key '%s'", r->param[0]);
		return;
	}
	log_info("key '%s' revoked by key '%s'", r->param[0], r->key.name);
	pthread_mutex_lock(&c->lock);
	/* Not stored (503), the key is refused until a restart only. */
	if (api_keys_save(r->app, &e))
		api_reply_err(r, &e);
	else
		dtf_http_reply_json(r, 200,
				    json_pack("{s:s,s:b}", "name", r->param[0], "revoked", 1));
	pthread_mutex_unlock(&c->lock);
}

void api_h_worker_revoke(struct dtf_http_req *r)
{
	struct coord *c = api_core(r);
	struct core_err e;
	json_t *reply;

	pthread_mutex_lock(&c->lock);
	if (core_worker_revoke(c, r->param[0], &reply, &e))
		api_reply_err(r, &e);
	else
		dtf_http_reply_json(r, 200, reply);
	pthread_mutex_unlock(&c->lock);
}
