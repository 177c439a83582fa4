/* fuzz_failure_kind.c: libFuzzer target for the worker's failure classifier
 * (src/worker/classify.c), whose input includes a task's stderr (anything a task prints). The
 * first two bytes choose the facts (flags, signal, oom_kill counters); the rest is the stderr.
 * It must not crash or read outside the buffer, must name one of the known kinds (NULL only for
 * an attempt that did not fail), and must not depend on stderr unless the task has a memory
 * requirement and failed. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker/classify.h"

#define MAX_INPUT (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const kinds[] = {"timeout", "cancelled", "oom", "infrastructure",
					    "signal",  "exit_code", NULL};
	struct dtf_failure_facts f;
	const char *k, *k2;
	char *err;
	int i;

	if (size < 2 || size > MAX_INPUT)
		return 0;
	memset(&f, 0, sizeof(f));
	f.timed_out = data[0] & 1;
	f.cancelled = data[0] & 2;
	f.memory_limited = data[0] & 4;
	f.disk_full = data[0] & 8;
	f.exit_code = (data[0] & 16) ? 1 : 0;
	f.signal = (data[0] & 32) ? SIGKILL : (data[0] & 64) ? SIGSEGV : 0;
	f.oom_kills_before = (data[1] & 3) - 1;
	f.oom_kills_after = ((data[1] >> 2) & 3) - 1;
	/* An exact-size copy: ASan catches any read past the end. */
	err = malloc(size - 2 ? size - 2 : 1);
	if (!err)
		return 0;
	memcpy(err, data + 2, size - 2);
	f.err = err;
	f.err_len = size - 2;
	k = dtf_failure_kind(&f);
	if (!k) {
		if (f.timed_out || f.cancelled || f.signal || f.exit_code)
			abort();
	} else {
		for (i = 0; kinds[i] && strcmp(kinds[i], k) != 0; i++)
			;
		if (!kinds[i])
			abort();
	}
	/* Without a memory requirement the output does not matter. */
	f.err = NULL;
	f.err_len = 0;
	k2 = dtf_failure_kind(&f);
	if (!f.memory_limited && (k != k2) && (!k || !k2 || strcmp(k, k2) != 0))
		abort();
	free(err);
	return 0;
}
