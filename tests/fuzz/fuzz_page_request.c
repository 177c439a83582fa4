/* fuzz_page_request.c: libFuzzer target for the request parser of the browser pool's page server
 * (src/worker/browser_pool.c), which reads what a page in the browser asks for on loopback. It
 * must not crash or read past the input, and what it accepts must stay under the served root: no
 * "..", no NUL, no leading '/', and within the output buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker/browser_pool.h"

#define MAX_INPUT (16u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *req, rel[64];

	if (size > MAX_INPUT)
		return 0;
	/* An exact-size copy: ASan catches any read past the end. */
	req = malloc(size ? size : 1);
	if (!req)
		return 0;
	memcpy(req, data, size);
	memset(rel, 'x', sizeof(rel));
	if (dtf_bpool_request_path(req, size, rel, sizeof(rel)) == 0) {
		size_t n = strnlen(rel, sizeof(rel));
		if (n == sizeof(rel) || strstr(rel, "..") || rel[0] == '/')
			abort();
	}
	free(req);
	return 0;
}
