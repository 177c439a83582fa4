/* classify.c: names a failed attempt's error.kind from what the executor saw (classify.h). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "worker/classify.h"

/* Looks for an out-of-memory message in the last 4 KiB of stderr. */
static bool oom_message(const char *err, size_t len)
{
	static const char *const needles[] = {"std::bad_alloc",		"MemoryError",
					      "Cannot allocate memory", "out of memory",
					      "Out of memory",		NULL};
	size_t from = len > 4096 ? len - 4096 : 0, i, k;

	if (!err)
		return false;
	for (k = 0; needles[k]; k++) {
		size_t n = strlen(needles[k]);
		for (i = from; i + n <= len; i++)
			if (memcmp(err + i, needles[k], n) == 0)
				return true;
	}
	return false;
}

bool dtf_runner_missing(int exit_code, const char *err, size_t len, char *msg, size_t msglen)
{
	static const char mark[] = DTF_RUNNER_MISSING_MARK;
	const size_t n = sizeof(mark) - 1;
	size_t from = len > 4096 ? len - 4096 : 0, i, found = len;

	if (exit_code != DTF_EXIT_RUNNER_MISSING || !err)
		return false;
	for (i = from; i + n <= len; i++)
		if ((i == 0 || err[i - 1] == '\n') && memcmp(err + i, mark, n) == 0)
			found = i;
	if (found == len)
		return false;
	if (msg && msglen) {
		const char *s = err + found + n;
		const char *e = memchr(s, '\n', len - found - n);
		size_t m = e ? (size_t)(e - s) : len - found - n;
		if (m >= msglen)
			m = msglen - 1;
		memcpy(msg, s, m);
		msg[m] = '\0';
	}
	return true;
}

const char *dtf_failure_kind(const struct dtf_failure_facts *f)
{
	bool failed = f->signal != 0 || f->exit_code != 0;

	if (f->cancelled)
		return "cancelled";
	if (f->timed_out)
		return "timeout";
	if (!failed)
		return NULL;
	if (!f->signal && dtf_runner_missing(f->exit_code, f->err, f->err_len, NULL, 0))
		return "infrastructure";
	if (f->signal == SIGKILL && f->oom_kills_before >= 0 &&
	    f->oom_kills_after > f->oom_kills_before)
		return "oom";
	if (f->memory_limited && oom_message(f->err, f->err_len))
		return "oom";
	if (f->disk_full)
		return "infrastructure";
	return f->signal ? "signal" : "exit_code";
}

/* The worker's memory.events path, found once: a process does not change cgroups under us in
 * practice, and reading /proc/self/cgroup before and after every task cost four system calls. */
static char events_path[512];
static bool have_events;
static pthread_once_t events_once = PTHREAD_ONCE_INIT;

static void find_events_path(void)
{
	char *text = NULL, *p, *nl;
	size_t len;

	if (dtf_read_file("/proc/self/cgroup", 4096, &text, &len) != 0)
		return;
	/* cgroup v2: the line "0::/path". */
	p = strstr(text, "0::");
	if (p && (p == text || p[-1] == '\n')) {
		p += 3;
		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		snprintf(events_path, sizeof(events_path), "/sys/fs/cgroup%s/memory.events",
			 strcmp(p, "/") ? p : "");
		have_events = access(events_path, R_OK) == 0;
	}
	free(text);
}

long dtf_cgroup_oom_kills(void)
{
	char *text = NULL, *p;
	size_t len;
	long n = -1;

	pthread_once(&events_once, find_events_path);
	if (!have_events || dtf_read_file(events_path, 4096, &text, &len) != 0)
		return -1;
	p = strstr(text, "oom_kill ");
	if (p)
		n = strtol(p + 9, NULL, 10);
	free(text);
	return n;
}
