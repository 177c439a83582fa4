/* test_auth.c: API keys with roles (net/keys.c), workers' JWTs (common/token.c) and what the
 * core does with them (core/workers.c): the takeover of a live worker's identity by registering
 * its id again, tokens of one worker used as another, revocation. docs/auth.md. */
#include <jwt.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coord_fixture.h"
#include "unit_main.h"

#include "common/err.h"
#include "common/json.h"
#include "common/token.h"
#include "common/util.h"
#include "core/ops.h"
#include "net/keys.h"

static const unsigned char KEY[32] = "0123456789abcdef0123456789abcde";
#define ISS "dtf-coordinator"
#define AUD "dtf-worker"

/* ---- roles ---- */

static void test_roles(void **state)
{
	(void)state;
	assert_true(dtf_role_allows(DTF_ROLE_ADMIN, DTF_ROLE_READ));
	assert_true(dtf_role_allows(DTF_ROLE_ADMIN, DTF_ROLE_SUBMIT));
	assert_true(dtf_role_allows(DTF_ROLE_ADMIN, DTF_ROLE_ENROLL));
	assert_true(dtf_role_allows(DTF_ROLE_SUBMIT, DTF_ROLE_READ));
	assert_false(dtf_role_allows(DTF_ROLE_SUBMIT, DTF_ROLE_ADMIN));
	assert_false(dtf_role_allows(DTF_ROLE_READ, DTF_ROLE_SUBMIT));
	assert_false(dtf_role_allows(DTF_ROLE_READ, DTF_ROLE_ENROLL));
	assert_false(dtf_role_allows(DTF_ROLE_ENROLL, DTF_ROLE_READ));
	assert_true(dtf_role_allows(DTF_ROLE_ENROLL, DTF_ROLE_ENROLL));
	assert_false(dtf_role_allows(DTF_ROLE_ENROLL, DTF_ROLE_WORKER));
	assert_false(dtf_role_allows(DTF_ROLE_NONE, DTF_ROLE_READ));
	assert_true(dtf_role_allows(DTF_ROLE_NONE, DTF_ROLE_NONE));
	assert_int_equal(dtf_role_parse("worker-enroll"), DTF_ROLE_ENROLL);
	assert_int_equal(dtf_role_parse("enroll"), DTF_ROLE_ENROLL);
	assert_int_equal(dtf_role_parse("root"), -1);
	assert_string_equal(dtf_role_name(DTF_ROLE_SUBMIT), "submit");
}

/* ---- keys ---- */

/* A configured key revoked through the API comes back revoked when the configuration is read
 * again (a reload, or a restart through the kept records), unless its secret changed; a key
 * added through the API leaves no record (it is simply no longer kept). */
static void test_config_revocation_kept(void **state)
{
	struct dtf_keyset *ks = dtf_keyset_new(), *ks2 = dtf_keyset_new();
	struct dtf_key_info ki;
	char err[200];
	json_t *rec, *list, *e;
	size_t i;
	bool hinted = false;
	char *txt;

	(void)state;
	assert_int_equal(dtf_keyset_add_spec(ks, "ro:read:aaa", "config", err, sizeof(err)), 0);
	assert_int_equal(dtf_keyset_add_spec(ks, "ap:read:bbb", "api", err, sizeof(err)), 0);
	assert_int_equal(dtf_keyset_revoke(ks, "ro"), 0);
	assert_int_equal(dtf_keyset_revoke(ks, "ap"), 0);
	assert_false(dtf_keyset_lookup(ks, "aaa", &ki));
	/* A reload: the configuration's keys are dropped and read again. */
	dtf_keyset_drop_origin(ks, "config");
	assert_int_equal(dtf_keyset_add_spec(ks, "ro:read:aaa", "config", err, sizeof(err)), 0);
	assert_false(dtf_keyset_lookup(ks, "aaa", &ki));
	list = dtf_keyset_list(ks);
	json_array_foreach(list, i, e)
		if (strcmp(json_string_value(json_object_get(e, "name")), "ro") == 0)
			hinted = json_is_true(json_object_get(e, "revoked")) &&
				 json_is_string(json_object_get(e, "hint"));
	json_decref(list);
	assert_true(hinted);
	/* A restart: the records are read after the configuration. */
	rec = dtf_keyset_export_revoked(ks);
	assert_int_equal(json_array_size(rec), 1);
	txt = json_dumps(rec, 0);
	assert_null(strstr(txt, "aaa"));
	free(txt);
	assert_int_equal(dtf_keyset_add_spec(ks2, "ro:read:aaa", "config", err, sizeof(err)), 0);
	assert_true(dtf_keyset_lookup(ks2, "aaa", &ki));
	assert_int_equal(dtf_keyset_import_revoked(ks2, rec, err, sizeof(err)), 0);
	assert_false(dtf_keyset_lookup(ks2, "aaa", &ki));
	/* A new secret under the same name is a new key. */
	assert_int_equal(dtf_keyset_add_spec(ks2, "ro:read:ccc", "config", err, sizeof(err)), 0);
	assert_true(dtf_keyset_lookup(ks2, "ccc", &ki));
	json_decref(rec);
	rec = json_loads("[{\"name\": \"x\", \"sha256\": \"zz\"}]", 0, NULL);
	assert_int_equal(dtf_keyset_import_revoked(ks2, rec, err, sizeof(err)), DTF_EPARSE);
	json_decref(rec);
	dtf_keyset_free(ks);
	dtf_keyset_free(ks2);
}

/* A configured key's limits (keys file, --api-key, YAML): the options after its role, as
 * `dtf keys add` sets them for a key added through the API. */
static void test_key_spec_limits(void **state)
{
	struct dtf_keyset *ks = dtf_keyset_new();
	struct dtf_key_info ki;
	char err[200];
	int64_t t;

	(void)state;
	assert_int_equal(
	    dtf_keyset_add_spec(ks,
				"gpu:worker-enroll;worker-pattern=gpu-*;labels=pool=gpu,"
				"zone=a;expires=2999-01-31T18:30:00Z:s3:cret",
				"config", err, sizeof(err)),
	    0);
	assert_true(dtf_keyset_lookup(ks, "s3:cret", &ki));
	assert_int_equal(ki.role, DTF_ROLE_ENROLL);
	assert_string_equal(ki.worker_pattern, "gpu-*");
	assert_string_equal(ki.labels, "pool=gpu,zone=a");
	assert_int_equal(dtf_parse_rfc3339("2999-01-31T18:30:00Z", &t), 0);
	assert_int_equal(ki.expires_ms, t);
	/* A date alone, a project before the options. */
	assert_int_equal(dtf_keyset_add_spec(ks, "ci:submit@web;expires=2999-02-01:xyz", "config",
					     err, sizeof(err)),
			 0);
	assert_true(dtf_keyset_lookup(ks, "xyz", &ki));
	assert_string_equal(ki.project, "web");
	assert_int_equal(dtf_parse_rfc3339("2999-02-01T00:00:00Z", &t), 0);
	assert_int_equal(ki.expires_ms, t);
	/* An expired configured key is refused like an unknown one. */
	assert_int_equal(dtf_keyset_add_spec(ks, "old:read;expires=2001-01-01:oldkey", "config",
					     err, sizeof(err)),
			 0);
	assert_false(dtf_keyset_lookup(ks, "oldkey", &ki));
	/* Malformed options are refused, naming no secret. */
	assert_int_equal(
	    dtf_keyset_add_spec(ks, "b:read;colour=red:abc", "config", err, sizeof(err)),
	    DTF_EINVAL);
	assert_non_null(strstr(err, "colour"));
	assert_int_equal(
	    dtf_keyset_add_spec(ks, "b:read;expires=tomorrow:abc", "config", err, sizeof(err)),
	    DTF_EINVAL);
	assert_int_equal(
	    dtf_keyset_add_spec(ks, "b:read;labels=novalue:abc", "config", err, sizeof(err)),
	    DTF_EINVAL);
	assert_int_equal(
	    dtf_keyset_add_spec(ks, "b:read;worker-pattern=:abc", "config", err, sizeof(err)),
	    DTF_EINVAL);
	assert_null(strstr(err, "abc"));
	dtf_keyset_free(ks);
}

static void test_key_specs(void **state)
{
	struct dtf_keyset *ks = dtf_keyset_new();
	struct dtf_key_info ki;
	char err[200];

	(void)state;
	assert_int_equal(dtf_keyset_add_spec(ks, "plain-one", "config", err, sizeof(err)), 0);
	assert_int_equal(dtf_keyset_add_spec(ks, "plain-two", "config", err, sizeof(err)), 0);
	assert_int_equal(
	    dtf_keyset_add_spec(ks, "ci:submit@web:s3cr:et", "config", err, sizeof(err)), 0);
	assert_int_equal(dtf_keyset_add_spec(ks, "x:boss:abc", "config", err, sizeof(err)),
			 DTF_EINVAL);
	assert_null(strstr(err, "abc")); /* the secret is never repeated */
	assert_int_equal(dtf_keyset_add_spec(ks, "x:read:", "config", err, sizeof(err)),
			 DTF_EINVAL);
	/* A plain key is an admin key (as older releases had); two of them both work. */
	assert_true(dtf_keyset_lookup(ks, "plain-one", &ki));
	assert_int_equal(ki.role, DTF_ROLE_ADMIN);
	assert_true(dtf_keyset_lookup(ks, "plain-two", &ki));
	assert_string_equal(ki.name, "default-2");
	/* The secret is everything after the second colon. */
	assert_true(dtf_keyset_lookup(ks, "s3cr:et", &ki));
	assert_int_equal(ki.role, DTF_ROLE_SUBMIT);
	assert_string_equal(ki.name, "ci");
	assert_string_equal(ki.project, "web");
	assert_false(dtf_keyset_lookup(ks, "s3cr:e", &ki));
	assert_false(dtf_keyset_lookup(ks, "", &ki));
	assert_false(dtf_keyset_lookup(ks, NULL, &ki));
	assert_int_equal(dtf_keyset_count(ks), 3);
	dtf_keyset_free(ks);
}

static void test_key_hashed(void **state)
{
	struct dtf_keyset *ks = dtf_keyset_new();
	unsigned char d[32];
	char spec[128], err[200];
	json_t *list;
	char *text;
	int i, n;

	(void)state;
	SHA256((const unsigned char *)"the-secret", 10, d);
	n = snprintf(spec, sizeof(spec), "h:read:sha256:");
	for (i = 0; i < 32; i++)
		n += snprintf(spec + n, sizeof(spec) - (size_t)n, "%02x", d[i]);
	assert_int_equal(dtf_keyset_add_spec(ks, spec, "file", err, sizeof(err)), 0);
	assert_true(dtf_keyset_lookup(ks, "the-secret", NULL));
	/* The stored form is not a secret a client may present. */
	assert_false(dtf_keyset_lookup(ks, spec + 7, NULL));
	/* Nothing the set shows holds the secret or its hash. */
	list = dtf_keyset_list(ks);
	text = json_dumps(list, 0);
	assert_null(strstr(text, "the-secret"));
	assert_null(strstr(text, spec + 14));
	free(text);
	json_decref(list);
	assert_int_equal(dtf_keyset_add_spec(ks, "bad:read:sha256:zz", "file", err, sizeof(err)),
			 DTF_EINVAL);
	dtf_keyset_free(ks);
}

static void test_key_revoke_and_reload(void **state)
{
	struct dtf_keyset *ks = dtf_keyset_new();
	struct dtf_key_info ki;
	char err[200];

	(void)state;
	assert_int_equal(dtf_keyset_add_spec(ks, "a:admin:aaa", "config", err, sizeof(err)), 0);
	assert_int_equal(
	    dtf_keyset_add(ks, "b", DTF_ROLE_READ, NULL, "bbb", "api", err, sizeof(err)), 0);
	assert_true(dtf_keyset_lookup(ks, "bbb", NULL));
	assert_int_equal(dtf_keyset_revoke(ks, "b"), 0);
	assert_false(dtf_keyset_lookup(ks, "bbb", NULL));
	assert_int_equal(dtf_keyset_revoke(ks, "b"), DTF_ENOTFOUND);
	assert_int_equal(dtf_keyset_revoke(ks, "nobody"), DTF_ENOTFOUND);
	/* What is kept of the API's keys: SHA-256s, read back into a new set (another salt). */
	{
		struct dtf_keyset *ks2 = dtf_keyset_new();
		json_t *doc;
		char *text;
		assert_int_equal(
		    dtf_keyset_add(ks, "c", DTF_ROLE_SUBMIT, "web", "ccc", "api", err, sizeof(err)),
		    0);
		assert_int_equal(dtf_keyset_limit(ks, "c", "ci-*", NULL, 0), 0);
		doc = dtf_keyset_export(ks, "api");
		assert_int_equal(json_array_size(doc), 1); /* b is revoked: not kept */
		text = json_dumps(doc, 0);
		assert_null(strstr(text, "ccc"));
		free(text);
		assert_int_equal(dtf_keyset_import(ks2, doc, "api", err, sizeof(err)), 0);
		json_decref(doc);
		assert_true(dtf_keyset_lookup(ks2, "ccc", &ki));
		assert_string_equal(ki.project, "web");
		assert_string_equal(ki.worker_pattern, "ci-*");
		assert_false(dtf_keyset_lookup(ks2, "bbb", NULL));
		dtf_keyset_free(ks2);
	}
	/* A reload drops the configured keys only. */
	dtf_keyset_drop_origin(ks, "config");
	assert_false(dtf_keyset_lookup(ks, "aaa", NULL));
	/* b, revoked, still counts (keys stay required), and c. */
	assert_int_equal(dtf_keyset_count(ks), 2);
	dtf_keyset_free(ks);
}

static void test_key_limits_and_expiry(void **state)
{
	struct dtf_keyset *ks = dtf_keyset_new();
	struct dtf_key_info ki;
	char err[200];

	(void)state;
	assert_int_equal(dtf_keyset_add_spec(ks, "e:worker-enroll:eee", "api", err, sizeof(err)),
			 0);
	assert_int_equal(dtf_keyset_limit(ks, "e", "ci-*", "pool=gpu", 0), 0);
	assert_true(dtf_keyset_lookup(ks, "eee", &ki));
	assert_string_equal(ki.worker_pattern, "ci-*");
	assert_string_equal(ki.labels, "pool=gpu");
	assert_int_equal(dtf_keyset_limit(ks, "nobody", NULL, NULL, 0), DTF_ENOTFOUND);
	/* Expired: not a key any more (an hour ago), then a key again (in an hour). */
	assert_int_equal(dtf_keyset_limit(ks, "e", NULL, NULL, dtf_wall_ms() - 3600000), 0);
	assert_false(dtf_keyset_lookup(ks, "eee", &ki));
	assert_int_equal(dtf_keyset_limit(ks, "e", NULL, NULL, dtf_wall_ms() + 3600000), 0);
	assert_true(dtf_keyset_lookup(ks, "eee", &ki));
	dtf_keyset_free(ks);
}

static void test_keys_file(void **state)
{
	char path[] = "/tmp/dtf-keys-XXXXXX", err[300];
	struct dtf_keyset *ks = dtf_keyset_new();
	struct dtf_key_info ki;
	int fd = mkstemp(path);
	const char *text = "# keys\n\nops:admin:op-secret\n  ci:submit:ci-secret\r\n";

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	chmod(path, 0644);
	assert_int_equal(dtf_keyset_load_file(ks, path, "config", err, sizeof(err)), DTF_EDENIED);
	assert_non_null(strstr(err, "chmod"));
	chmod(path, 0600);
	assert_int_equal(dtf_keyset_load_file(ks, path, "config", err, sizeof(err)), 0);
	assert_true(dtf_keyset_lookup(ks, "ci-secret", &ki));
	assert_int_equal(ki.role, DTF_ROLE_SUBMIT);
	assert_true(dtf_keyset_lookup(ks, "op-secret", &ki));
	assert_int_equal(ki.role, DTF_ROLE_ADMIN);
	unlink(path);
	dtf_keyset_free(ks);
}

/* ---- tokens ---- */

static int verify(const char *tok, int64_t now, struct dtf_token_claims *cl, const char **why)
{
	char msg[200];

	return dtf_token_verify(KEY, sizeof(KEY), tok, ISS, AUD, now, cl, why, msg, sizeof(msg));
}

static void test_token_roundtrip(void **state)
{
	char tok[DTF_TOKEN_MAX + 1];
	struct dtf_token_claims cl;
	const char *why = NULL;

	(void)state;
	assert_int_equal(
	    dtf_token_issue(KEY, sizeof(KEY), ISS, AUD, "w1", "sid1", 1000, 60, tok, sizeof(tok)),
	    0);
	assert_int_equal(verify(tok, 1000, &cl, &why), 0);
	assert_string_equal(cl.sub, "w1");
	assert_string_equal(cl.sid, "sid1");
	assert_int_equal(cl.exp, 1060);
	assert_int_equal(verify(tok, 1059, &cl, &why), 0);
	/* Expired at exp. */
	assert_int_equal(verify(tok, 1060, &cl, &why), DTF_EAUTH);
	assert_string_equal(why, "expired");
	/* Not yet valid before nbf. */
	assert_int_equal(verify(tok, 999, &cl, &why), DTF_EAUTH);
	assert_string_equal(why, "not_yet_valid");
}

static void test_token_forged(void **state)
{
	char tok[DTF_TOKEN_MAX + 1], bad[DTF_TOKEN_MAX + 1];
	static const unsigned char other[32] = "another key, another coordinator";
	struct dtf_token_claims cl;
	const char *why = NULL;
	char *dot;

	(void)state;
	/* Signed with another key. */
	assert_int_equal(
	    dtf_token_issue(other, sizeof(other), ISS, AUD, "w1", "s", 1000, 60, tok, sizeof(tok)),
	    0);
	assert_int_equal(verify(tok, 1000, &cl, &why), DTF_EAUTH);
	assert_string_equal(why, "bad_signature");
	/* Ours, with the payload swapped for another worker's (the signature no longer fits). */
	assert_int_equal(
	    dtf_token_issue(KEY, sizeof(KEY), ISS, AUD, "w1", "s", 1000, 60, tok, sizeof(tok)), 0);
	assert_int_equal(
	    dtf_token_issue(KEY, sizeof(KEY), ISS, AUD, "w2", "s", 1000, 60, bad, sizeof(bad)), 0);
	dot = strrchr(bad, '.');
	snprintf(dot, sizeof(bad) - (size_t)(dot - bad), "%s", strrchr(tok, '.'));
	assert_int_equal(verify(bad, 1000, &cl, &why), DTF_EAUTH);
	assert_string_equal(why, "bad_signature");
	/* Garbage. */
	assert_int_equal(verify("abc", 1000, &cl, &why), DTF_EAUTH);
	assert_string_equal(why, "malformed");
	assert_int_equal(verify("", 1000, &cl, &why), DTF_EAUTH);
	assert_int_equal(verify("a.b.c.d", 1000, &cl, &why), DTF_EAUTH);
}

static void test_token_wrong_audience_issuer(void **state)
{
	char tok[DTF_TOKEN_MAX + 1];
	struct dtf_token_claims cl;
	const char *why = NULL;

	(void)state;
	assert_int_equal(dtf_token_issue(KEY, sizeof(KEY), ISS, "dtf-client", "w1", "s", 1000, 60,
					 tok, sizeof(tok)),
			 0);
	assert_int_equal(verify(tok, 1000, &cl, &why), DTF_EAUTH);
	assert_string_equal(why, "wrong_audience");
	assert_int_equal(dtf_token_issue(KEY, sizeof(KEY), "someone", AUD, "w1", "s", 1000, 60, tok,
					 sizeof(tok)),
			 0);
	assert_int_equal(verify(tok, 1000, &cl, &why), DTF_EAUTH);
	assert_string_equal(why, "wrong_issuer");
}

/* A token libjwt makes with alg alg (HS512, or none) and our claims. */
static char *foreign_token(jwt_alg_t alg)
{
	jwt_t *jwt = NULL;
	char *s;

	assert_int_equal(jwt_new(&jwt), 0);
	jwt_add_grant(jwt, "iss", ISS);
	jwt_add_grant(jwt, "aud", AUD);
	jwt_add_grant(jwt, "sub", "w1");
	jwt_add_grant(jwt, "sid", "s");
	jwt_add_grant_int(jwt, "nbf", 1000);
	jwt_add_grant_int(jwt, "exp", 2000);
	assert_int_equal(jwt_set_alg(jwt, alg, alg == JWT_ALG_NONE ? NULL : KEY,
				     alg == JWT_ALG_NONE ? 0 : (int)sizeof(KEY)),
			 0);
	s = jwt_encode_str(jwt);
	jwt_free(jwt);
	assert_non_null(s);
	return s;
}

static void test_token_wrong_alg(void **state)
{
	struct dtf_token_claims cl;
	const char *why = NULL;
	char *t;
	/* {"alg":"none","typ":"JWT"} . claims . (no signature), made by hand as an attacker would.
	 */
	static const char none_tok[] =
	    "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
	    "eyJpc3MiOiJkdGYtY29vcmRpbmF0b3IiLCJhdWQiOiJkdGYtd29ya2VyIiwic3ViIjoidzEiLCJzaWQiOiJz"
	    "IiwibmJmIjoxMDAwLCJleHAiOjIwMDB9.";

	(void)state;
	t = foreign_token(JWT_ALG_HS512);
	assert_int_equal(verify(t, 1000, &cl, &why), DTF_EAUTH);
	assert_string_equal(why, "bad_alg");
	free(t);
	t = foreign_token(JWT_ALG_NONE);
	assert_int_equal(verify(t, 1000, &cl, &why), DTF_EAUTH);
	assert_string_equal(why, "bad_alg");
	free(t);
	assert_int_equal(verify(none_tok, 1000, &cl, &why), DTF_EAUTH);
	assert_string_equal(why, "bad_alg");
}

/* ---- the core: a worker's identity ---- */

static const char *reg(struct coord *c, const char *id, const char *cred, bool replace, int *rc,
		       char *tok, size_t toklen)
{
	json_t *body = json_pack("{s:s,s:s}", "worker_id", id, "hostname", "h"), *reply = NULL;
	static char kind[64];
	struct core_err e;

	*rc = core_worker_register(c, NULL, cred, replace, body, &reply, &e);
	if (!*rc)
		snprintf(tok, toklen, "%s", dtf_json_str(reply, "token", ""));
	json_decref(body);
	json_decref(reply);
	if (!*rc)
		return NULL;
	snprintf(kind, sizeof(kind), "%s", e.kind);
	return kind;
}

static bool auth_ok(struct coord *c, const char *id, const char *tok, char *msg, size_t len)
{
	struct core_err e;
	json_t *body = json_object();
	struct cworker *w = core_worker_auth(c, id, NULL, tok, body, &e);

	json_decref(body);
	if (!w)
		snprintf(msg, len, "%s", e.msg);
	return w != NULL;
}

/* Projects in the core (core/ops.h): another project's task or run is unknown to a caller
 * limited to a project, lists and collections leave them out, submission stamps and checks
 * projects, and the blocked hardware leaves out which task of another project blocked a class. */
static void test_project_scope(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	struct core_err e;
	struct ctask **ts = NULL;
	struct crun *ra, *rw;
	json_t *reply = NULL, *body, *v, *bh;
	size_t n = 0;

	coord_fixture_add_task(c, "t-api", "{\"project\": \"api\"}");
	coord_fixture_add_task(c, "t-web", "{\"project\": \"web\"}");
	coord_fixture_add_task(c, "t-none", "{}");
	assert_non_null(core_task_find(c, "t-api", NULL, &e));
	assert_null(core_task_find(c, "t-api", "web", &e));
	assert_int_equal(e.code, DTF_ENOTFOUND);
	assert_string_equal(e.kind, "task_not_found");
	assert_null(core_task_find(c, "t-none", "web", &e));
	assert_int_equal(core_tasks_collect(c, NULL, NULL, "web", &ts, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ts[0]->id, "t-web");
	free(ts);
	assert_int_equal(core_tasks_collect(c, NULL, "t-web,t-api", "web", &ts, &n, &e),
			 DTF_ENOTFOUND);
	v = core_tasks_list(c, NULL, -1, 100, 0, "web");
	assert_int_equal(json_integer_value(json_object_get(v, "total")), 1);
	json_decref(v);
	assert_int_equal(core_task_cancel(c, "t-api", "cancelled", "web", &reply, &e),
			 DTF_ENOTFOUND);
	body = json_pack("{s:i}", "priority", 1);
	assert_int_equal(core_task_update(c, "t-api", body, "web", &reply, &e), DTF_ENOTFOUND);
	json_decref(body);

	/* Runs: of a project, unknown to others; every task in one is of its project. */
	assert_int_equal(core_run_create(c, "a", NULL, "api", &ra, &e), 0);
	assert_int_equal(core_run_create(c, "w", NULL, "web", &rw, &e), 0);
	assert_null(core_run_find(c, ra->id, "web", &e));
	assert_non_null(core_run_find(c, ra->id, NULL, &e));
	v = core_runs_list(c, "web");
	assert_int_equal(json_array_size(json_object_get(v, "runs")), 1);
	json_decref(v);
	assert_int_equal(core_export_doc(c, ra->id, NULL, "web", &v, &e), DTF_ENOTFOUND);
	assert_string_equal(e.kind, "run_not_found");
	body = json_pack("{s:s,s:[s]}", "run_id", ra->id, "command", "true");
	assert_int_equal(core_tasks_submit(c, body, "web", &reply, &e), DTF_ENOTFOUND);
	json_decref(body);
	body = json_pack("{s:s,s:s,s:[s]}", "run_id", ra->id, "project", "web", "command", "true");
	assert_int_equal(core_tasks_submit(c, body, NULL, &reply, &e), DTF_EINVAL);
	json_decref(body);
	body = json_pack("{s:s,s:[s]}", "project", "api", "command", "true");
	assert_int_equal(core_tasks_submit(c, body, "web", &reply, &e), DTF_EDENIED);
	assert_string_equal(e.kind, "forbidden");
	json_decref(body);
	body = json_pack("{s:s,s:[s]}", "run_id", ra->id, "command", "true");
	assert_int_equal(core_tasks_submit(c, body, NULL, &reply, &e), 0);
	assert_string_equal(json_string_value(json_object_get(reply, "project")), "api");
	json_decref(reply);
	json_decref(body);
	body = json_pack("{s:[{s:[s]}]}", "tasks", "command", "true");
	assert_int_equal(core_tasks_submit(c, body, "web", &reply, &e), 0);
	assert_non_null(
	    core_run_find(c, json_string_value(json_object_get(reply, "run_id")), "web", &e));
	json_decref(reply);
	json_decref(body);

	/* The blocked hardware: the class for all, the task only for its project. */
	if (!c->blocked_hw)
		c->blocked_hw = json_object();
	json_object_set_new(c->blocked_hw, "gpu",
			    json_pack("{s:s,s:s,s:s}", "since", "x", "task_id", "t-api", "reason",
				      "task t-api failed there"));
	bh = core_blocked_hardware(c, "web");
	assert_null(json_object_get(json_object_get(bh, "gpu"), "task_id"));
	assert_null(strstr(json_string_value(json_object_get(json_object_get(bh, "gpu"), "reason")),
			   "t-api"));
	json_decref(bh);
	bh = core_blocked_hardware(c, "api");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(bh, "gpu"), "task_id")), "t-api");
	json_decref(bh);
	/* The core's own document is left as it was. */
	assert_non_null(json_object_get(json_object_get(c->blocked_hw, "gpu"), "task_id"));
}

static void test_worker_identity(void **state)
{
	struct coord_fixture *f = *state;
	struct coord *c = f->c;
	char ta[DTF_TOKEN_MAX + 1], tb[DTF_TOKEN_MAX + 1], t2[DTF_TOKEN_MAX + 1], msg[256];
	json_t *reply;
	struct core_err e;
	int rc;

	core_auth_setup(c, KEY, sizeof(KEY), 60);
	assert_null(reg(c, "wa", NULL, false, &rc, ta, sizeof(ta)));
	assert_null(reg(c, "wb", NULL, false, &rc, tb, sizeof(tb)));
	assert_non_null(strchr(ta, '.'));
	assert_true(auth_ok(c, "wa", ta, msg, sizeof(msg)));
	/* A's token does not make anyone B. */
	assert_false(auth_ok(c, "wb", ta, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "wrong_worker"));
	assert_false(auth_ok(c, "wa", "not-a-token", msg, sizeof(msg)));
	assert_false(auth_ok(c, "wa", NULL, msg, sizeof(msg)));
	/* Taking over B by registering its id again: refused without B's token. */
	assert_string_equal(reg(c, "wb", NULL, false, &rc, t2, sizeof(t2)), "worker_live");
	assert_int_equal(rc, DTF_ESTALE);
	assert_string_equal(reg(c, "wb", ta, false, &rc, t2, sizeof(t2)), "worker_live");
	assert_true(auth_ok(c, "wb", tb, msg, sizeof(msg))); /* B is untouched */
	assert_int_equal(c->auth.takeovers, 2);
	/* B itself may register again (a restart with its token); its old token is then stale. */
	assert_null(reg(c, "wb", tb, false, &rc, t2, sizeof(t2)));
	assert_false(auth_ok(c, "wb", tb, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "superseded"));
	assert_true(auth_ok(c, "wb", t2, msg, sizeof(msg)));
	/* Revoking A: its token fails at once, and it may not come back unless an admin replaces
	 * it. */
	assert_int_equal(core_worker_revoke(c, "wa", &reply, &e), 0);
	json_decref(reply);
	assert_false(auth_ok(c, "wa", ta, msg, sizeof(msg)));
	assert_string_equal(reg(c, "wa", ta, false, &rc, t2, sizeof(t2)), "worker_revoked");
	assert_int_equal(rc, DTF_EDENIED);
	assert_null(reg(c, "wa", NULL, true, &rc, t2, sizeof(t2)));
	assert_true(auth_ok(c, "wa", t2, msg, sizeof(msg)));
	assert_int_equal(core_worker_revoke(c, "nobody", &reply, &e), DTF_ENOTFOUND);
	/* A revocation outlives a restart. */
	assert_int_equal(core_worker_revoke(c, "wb", &reply, &e), 0);
	json_decref(reply);
	c = coord_fixture_reopen(f);
	assert_int_equal(state_load(c), 0);
	core_auth_setup(c, KEY, sizeof(KEY), 60);
	assert_string_equal(reg(c, "wb", NULL, false, &rc, t2, sizeof(t2)), "worker_revoked");
	/* wa's token is still wa's after the restart (same secret, same registration). */
	snprintf(ta, sizeof(ta), "%s", t2);
	assert_true(auth_ok(c, "wa", ta, msg, sizeof(msg)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roles),
	    cmocka_unit_test(test_key_specs),
	    cmocka_unit_test(test_key_spec_limits),
	    cmocka_unit_test(test_config_revocation_kept),
	    cmocka_unit_test(test_key_hashed),
	    cmocka_unit_test(test_key_revoke_and_reload),
	    cmocka_unit_test(test_key_limits_and_expiry),
	    cmocka_unit_test(test_keys_file),
	    cmocka_unit_test(test_token_roundtrip),
	    cmocka_unit_test(test_token_forged),
	    cmocka_unit_test(test_token_wrong_audience_issuer),
	    cmocka_unit_test(test_token_wrong_alg),
	    coord_fixture_test(test_worker_identity),
	    coord_fixture_test(test_project_scope),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
