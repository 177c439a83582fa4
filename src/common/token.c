/* token.c: workers' JWTs (token.h). */
#include <errno.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/token.h"

int dtf_token_issue(const unsigned char *key, size_t keylen, const char *iss, const char *aud,
		    const char *sub, const char *sid, int64_t now_s, int64_t ttl_s, char *out,
		    size_t outlen)
{
	jwt_t *jwt = NULL;
	char *s = NULL;
	int rc = DTF_ENOMEM;

	if (!keylen || keylen > 1024 || strlen(sub) >= 72 || strlen(sid) >= 64)
		return DTF_EINVAL;
	if (jwt_new(&jwt) != 0)
		return DTF_ENOMEM;
	if (jwt_add_grant(jwt, "iss", iss) || jwt_add_grant(jwt, "aud", aud) ||
	    jwt_add_grant(jwt, "sub", sub) || jwt_add_grant(jwt, "sid", sid) ||
	    jwt_add_grant_int(jwt, "iat", (long)now_s) ||
	    jwt_add_grant_int(jwt, "nbf", (long)now_s) ||
	    jwt_add_grant_int(jwt, "exp", (long)(now_s + ttl_s)) ||
	    jwt_set_alg(jwt, JWT_ALG_HS256, key, (int)keylen))
		goto out;
	s = jwt_encode_str(jwt);
	if (!s)
		goto out;
	rc = DTF_ETOOBIG;
	if (strlen(s) < outlen) {
		memcpy(out, s, strlen(s) + 1);
		rc = 0;
	}
out:
	free(s);
	jwt_free(jwt);
	return rc;
}

/* Decodes base64url (no padding) into out; the length, or -1. */
static long b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
	unsigned acc = 0;
	int bits = 0;
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int v;
		char ch = in[i];
		if (ch >= 'A' && ch <= 'Z')
			v = ch - 'A';
		else if (ch >= 'a' && ch <= 'z')
			v = ch - 'a' + 26;
		else if (ch >= '0' && ch <= '9')
			v = ch - '0' + 52;
		else if (ch == '-')
			v = 62;
		else if (ch == '_')
			v = 63;
		else if (ch == '=')
			break;
		else
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return (long)o;
}

static int fail(const char **why, const char *code, char *msg, size_t msglen, const char *text)
{
	*why = code;
	snprintf(msg, msglen, "%s", text);
	return DTF_EAUTH;
}

/* The header's alg, checked before libjwt sees the token: libjwt 1.10 would accept "none" (and
 * an alg other than the one the key is for) on its own terms. */
static int check_header(const char *token, const char **why, char *msg, size_t msglen)
{
	const char *dot = strchr(token, '.');
	unsigned char hdr[512];
	long n;
	json_t *h;
	const char *alg, *typ;
	char err[64];
	int rc = 0;

	if (!dot || !strchr(dot + 1, '.') || strchr(strchr(dot + 1, '.') + 1, '.'))
		return fail(why, "malformed", msg, msglen,
			    "the token is not header.payload.signature");
	n = b64url_decode(token, (size_t)(dot - token), hdr, sizeof(hdr));
	if (n <= 0)
		return fail(why, "malformed", msg, msglen, "the token's header is not base64url");
	h = dtf_json_parse((const char *)hdr, (size_t)n, err, sizeof(err));
	if (!json_is_object(h)) {
		json_decref(h);
		return fail(why, "malformed", msg, msglen, "the token's header is not JSON");
	}
	alg = json_string_value(json_object_get(h, "alg"));
	typ = json_string_value(json_object_get(h, "typ"));
	if (!alg || strcmp(alg, "HS256") != 0)
		rc = fail(why, "bad_alg", msg, msglen, "the token's alg must be HS256");
	else if (json_object_get(h, "typ") && (!typ || strcmp(typ, "JWT") != 0))
		rc = fail(why, "malformed", msg, msglen, "the token's typ must be JWT");
	json_decref(h);
	return rc;
}

static int copy_claim(jwt_t *jwt, const char *name, char *out, size_t cap)
{
	const char *v = jwt_get_grant(jwt, name);

	if (!v || !*v || strlen(v) >= cap)
		return -1;
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

static int int_claim(jwt_t *jwt, const char *name, int64_t *out)
{
	long v;

	errno = 0;
	v = jwt_get_grant_int(jwt, name);
	if (errno)
		return -1;
	*out = v;
	return 0;
}

int dtf_token_verify(const unsigned char *key, size_t keylen, const char *token, const char *iss,
		     const char *aud, int64_t now_s, struct dtf_token_claims *out, const char **why,
		     char *msg, size_t msglen)
{
	jwt_t *jwt = NULL;
	const char *v;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!token || !*token)
		return fail(why, "missing", msg, msglen, "no worker token was sent");
	if (strlen(token) > DTF_TOKEN_MAX)
		return fail(why, "malformed", msg, msglen, "the token is too long");
	rc = check_header(token, why, msg, msglen);
	if (rc)
		return rc;
	if (!keylen || jwt_decode(&jwt, token, key, (int)keylen) != 0 || !jwt)
		return fail(why, "bad_signature", msg, msglen,
			    "the token's signature does not verify (forged or for another "
			    "coordinator)");
	if (jwt_get_alg(jwt) != JWT_ALG_HS256) {
		rc = fail(why, "bad_alg", msg, msglen, "the token's alg must be HS256");
		goto out;
	}
	v = jwt_get_grant(jwt, "iss");
	if (!v || strcmp(v, iss) != 0) {
		rc = fail(why, "wrong_issuer", msg, msglen, "the token was issued by someone else");
		goto out;
	}
	v = jwt_get_grant(jwt, "aud");
	if (!v || strcmp(v, aud) != 0) {
		rc = fail(why, "wrong_audience", msg, msglen, "the token is for another audience");
		goto out;
	}
	if (int_claim(jwt, "exp", &out->exp) || int_claim(jwt, "nbf", &out->nbf) ||
	    copy_claim(jwt, "sub", out->sub, sizeof(out->sub)) ||
	    copy_claim(jwt, "sid", out->sid, sizeof(out->sid))) {
		rc = fail(why, "malformed", msg, msglen, "the token lacks exp, nbf, sub or sid");
		goto out;
	}
	if (int_claim(jwt, "iat", &out->iat))
		out->iat = out->nbf;
	if (out->exp <= now_s) {
		rc = fail(why, "expired", msg, msglen, "the token has expired");
		goto out;
	}
	if (out->nbf > now_s) {
		rc = fail(why, "not_yet_valid", msg, msglen, "the token is not valid yet (nbf)");
		goto out;
	}
	rc = 0;
out:
	jwt_free(jwt);
	return rc;
}
