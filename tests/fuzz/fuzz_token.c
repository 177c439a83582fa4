/* fuzz_token.c: libFuzzer target for the worker token parser (dtf_token_verify in
 * src/common/token.c): what reads a worker's X-DTF-Worker-Token header, checks its JOSE header
 * itself and hands it to libjwt. The input is the header's value (anyone may send one). A token
 * that verifies must name a worker and a registration, and be valid at the time given. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/token.h"

static const unsigned char KEY[32] = "fuzz-key-fuzz-key-fuzz-key-fuzz";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dtf_token_claims cl;
	const char *why = NULL;
	char msg[200], *tok;

	if (size > DTF_TOKEN_MAX + 16)
		return 0;
	tok = malloc(size + 1);
	if (!tok)
		return 0;
	memcpy(tok, data, size);
	tok[size] = '\0';
	if (dtf_token_verify(KEY, sizeof(KEY), tok, "dtf-coordinator", "dtf-worker", 1000, &cl,
			     &why, msg, sizeof(msg)) == 0) {
		if (!cl.sub[0] || !cl.sid[0] || cl.exp <= 1000 || cl.nbf > 1000)
			abort();
	} else if (!why || !*why) {
		abort();
	}
	free(tok);
	return 0;
}
