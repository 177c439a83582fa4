/* token.h: workers' tokens (docs/auth.md): JSON Web Tokens signed with HS256 (libjwt). libjwt
 * 1.10 checks the signature only, so dtf_token_verify checks the rest itself before and after
 * it: the header's alg (HS256 only: never "none", never another), then exp, nbf, iss, aud and
 * the subject. */
#ifndef DTF_COMMON_TOKEN_H
#define DTF_COMMON_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define DTF_TOKEN_MAX 2048 /* longer tokens are refused before any parsing */

struct dtf_token_claims {
	char sub[72]; /* the worker id */
	char sid[64]; /* the registration it belongs to (rotates at each one, and on revocation) */
	int64_t iat, nbf, exp; /* seconds since the epoch */
};

/* Signs a token for sub/sid, valid from now_s for ttl_s seconds, into out (NUL-terminated).
 * 0, DTF_EINVAL (a claim too long, key empty), DTF_ETOOBIG (out too small) or DTF_ENOMEM. */
int dtf_token_issue(const unsigned char *key, size_t keylen, const char *iss, const char *aud,
		    const char *sub, const char *sid, int64_t now_s, int64_t ttl_s, char *out,
		    size_t outlen);
/* Verifies token at time now_s: 0 with *out filled, or DTF_EAUTH with why ("expired",
 * "not_yet_valid", "bad_alg", "bad_signature", "wrong_audience", "wrong_issuer", "malformed")
 * as a short code, and a sentence in msg. */
int dtf_token_verify(const unsigned char *key, size_t keylen, const char *token, const char *iss,
		     const char *aud, int64_t now_s, struct dtf_token_claims *out, const char **why,
		     char *msg, size_t msglen);

#endif
