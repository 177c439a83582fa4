/* fuzz_key_spec.c: libFuzzer target for the key spec parser (dtf_keyset_add_spec in
 * src/net/keys.c): a line of the keys file, an --api-key or an entry of coordinator.api_keys,
 * with its limits (";worker-pattern=…;labels=…;expires=…"). A spec that is accepted gives a key
 * whose secret (everything after the field the limits end) then looks it up. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dtf_keyset *ks;
	char err[256], *spec;

	/* A keys file's line is at most what the file may hold; longer specs need nothing new. */
	if (size > 4096)
		return 0;
	spec = malloc(size + 1);
	ks = dtf_keyset_new();
	if (!spec || !ks)
		goto out;
	memcpy(spec, data, size);
	spec[size] = '\0';
	if (dtf_keyset_add_spec(ks, spec, "config", err, sizeof(err)) == 0 &&
	    dtf_keyset_count(ks) != 1)
		abort();
out:
	dtf_keyset_free(ks);
	free(spec);
	return 0;
}
