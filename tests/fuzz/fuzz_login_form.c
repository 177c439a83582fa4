/* fuzz_login_form.c: libFuzzer target for the dashboard's login form parser (dash_form_value in
 * src/dashboard/auth.c), whose input is a POST /login body from anyone (at most 4 KiB reach it).
 * The first byte chooses the output size; the rest is the body, copied to an exact-size buffer
 * without a terminator so ASan catches a read past it. A value found is NUL-terminated, shorter
 * than the output and has no NUL inside. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard/internal.h"

#define MAX_INPUT 4097

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[300];
	size_t len;
	char *body;

	if (size < 1 || size > MAX_INPUT)
		return 0;
	len = (size_t)data[0] % sizeof(out) + 1;
	body = malloc(size - 1 ? size - 1 : 1);
	if (!body)
		return 0;
	memcpy(body, data + 1, size - 1);
	memset(out, 'x', sizeof(out));
	if (dash_form_value(body, size - 1, "key", out, len)) {
		/* The terminator lies inside the space given. */
		if (memchr(out, '\0', len) == NULL)
			abort();
	}
	free(body);
	return 0;
}
