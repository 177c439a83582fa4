/* proc_helpers.h: helpers of the unit tests that start processes (test_exec.c, test_wstate.c).
 * Header-only; include it after cmocka.h. */
#ifndef DTF_TEST_PROC_HELPERS_H
#define DTF_TEST_PROC_HELPERS_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"

static __attribute__((unused)) void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* True when pid is gone or a zombie (its new parent may be slow to reap it) within ms. */
static __attribute__((unused)) bool pid_gone_within(long pid, int ms)
{
	char path[64], *text = NULL, *p;
	int i;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	for (i = 0; i <= ms / 10; i++) {
		if (dtf_read_file(path, 4096, &text, NULL) != 0)
			return true;
		p = strrchr(text, ')');
		if (p && (p[2] == 'Z' || p[2] == 'X')) {
			free(text);
			return true;
		}
		free(text);
		text = NULL;
		sleep_ms(10);
	}
	return false;
}

/* A new directory under $TMPDIR (or /tmp) whose name starts with prefix. */
static __attribute__((unused)) void make_tmpdir(char *dir, size_t len, const char *prefix)
{
	snprintf(dir, len, "%s/%s-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", prefix);
	assert_non_null(mkdtemp(dir));
}

#endif
