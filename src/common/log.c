/* log.c: stderr logger with timestamps. */
#include "common/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char log_role[64] = "dtf";
static enum dtf_log_level log_level = DTF_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void lock_log(void)
{
	pthread_mutex_lock(&log_lock);
}

static void unlock_log(void)
{
	pthread_mutex_unlock(&log_lock);
}

/* A child forked while another thread held the lock (the worker's guard process, forked when
 * plugins may already run threads) would find it held forever: fork takes it first. */
static void log_atfork(void)
{
	pthread_atfork(lock_log, unlock_log, unlock_log);
}

void dtf_log_setup(const char *role, enum dtf_log_level level)
{
	const char *env = getenv("DTF_LOG");

	snprintf(log_role, sizeof(log_role), "%s", role ? role : "dtf");
	log_level = level;
	if (env && strcmp(env, "debug") == 0)
		log_level = DTF_LOG_DEBUG;
	else if (env && strcmp(env, "warn") == 0)
		log_level = DTF_LOG_WARN;
	else if (env && strcmp(env, "error") == 0)
		log_level = DTF_LOG_ERROR;
}

void dtf_log_set_level(enum dtf_log_level level)
{
	log_level = level;
}

void dtf_log(enum dtf_log_level level, const char *fmt, ...)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (level < log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	pthread_once(&log_once, log_atfork);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s.%03ld %s %s: ", stamp, ts.tv_nsec / 1000000, log_role, names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&log_lock);
}
