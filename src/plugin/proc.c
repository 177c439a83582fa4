/* proc.c: running the programs of exec plugins and of host->run_process. A program starts with
 * posix_spawn in a process group of its own, with every signal unblocked and the usual ones at
 * their defaults (dtf's threads block them), its input written through a pipe and its output
 * read with poll() into captures that keep the last output_cap bytes. A timeout or a
 * cancellation stops the whole group: SIGTERM, then SIGKILL. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"
#include "plugin/internal.h"

extern char **environ;

#define DEFAULT_CAP  ((size_t)1 << 20)
#define KILL_GRACE_S 1.0
#define DRAIN_MS     500 /* how long pipes are read after the leader exited */
#define CHUNK	     65536

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int plugin_write_all(int fd, const char *buf, size_t len)
{
	sigset_t pipe_set, old;
	int rc = 0, saved = 0;

	/* Block SIGPIPE on this thread so a reader that went away is an EPIPE, not death, then
	 * take back the SIGPIPE that write left pending. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pf = {fd, POLLOUT, 0};
				poll(&pf, 1, 100);
				continue;
			}
			saved = errno;
			rc = DTF_EIO;
			break;
		}
		buf += n;
		len -= (size_t)n;
	}
	if (saved == EPIPE && !sigismember(&old, SIGPIPE)) {
		struct timespec zero = {0, 0};
		while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return rc;
}

char *plugin_find_program(const char *prog, const char *base_dir)
{
	const char *path;
	char buf[PATH_MAX];

	if (!prog || !*prog)
		return NULL;
	if (strchr(prog, '/')) {
		if (prog[0] != '/' && base_dir && *base_dir)
			snprintf(buf, sizeof(buf), "%s/%s", base_dir, prog);
		else
			snprintf(buf, sizeof(buf), "%s", prog);
		return access(buf, X_OK) == 0 ? strdup(buf) : NULL;
	}
	path = getenv("PATH");
	if (!path || !*path)
		path = "/bin:/usr/bin";
	while (*path) {
		const char *end = strchr(path, ':');
		size_t n = end ? (size_t)(end - path) : strlen(path);
		struct stat st;
		if (n == 0)
			snprintf(buf, sizeof(buf), "./%s", prog);
		else
			snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog);
		if (access(buf, X_OK) == 0 && stat(buf, &st) == 0 && S_ISREG(st.st_mode))
			return strdup(buf);
		path += n;
		if (*path == ':')
			path++;
	}
	return NULL;
}

/* Sets up the attributes every program gets: its own process group, no blocked signals, and
 * the signals dtf changes back at their defaults. */
static int spawn_attr(posix_spawnattr_t *attr)
{
	sigset_t none, defaults;

	if (posix_spawnattr_init(attr) != 0)
		return -1;
	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGHUP);
	sigaddset(&defaults, SIGCHLD);
	posix_spawnattr_setflags(attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					   POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(attr, 0);
	posix_spawnattr_setsigmask(attr, &none);
	posix_spawnattr_setsigdefault(attr, &defaults);
	return 0;
}

static int do_spawn(pid_t *pid, const char *const *argv, const char *const *envp, const char *cwd,
		    posix_spawn_file_actions_t *fa, char *err, size_t errlen)
{
	posix_spawnattr_t attr;
	int rc;

	if (!argv || !argv[0]) {
		snprintf(err, errlen, "no program to run");
		return DTF_EINVAL;
	}
	if (cwd)
		posix_spawn_file_actions_addchdir_np(fa, cwd);
	if (spawn_attr(&attr) != 0) {
		snprintf(err, errlen, "out of memory");
		return DTF_ENOMEM;
	}
	rc = posix_spawnp(pid, argv[0], fa, &attr, (char *const *)argv,
			  envp ? (char *const *)envp : environ);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(rc));
		return DTF_ESPAWN;
	}
	return 0;
}

int plugin_proc_spawn(const char *const *argv, const char *const *envp, const char *cwd, pid_t *pid,
		      int *stdin_fd, char *err, size_t errlen)
{
	posix_spawn_file_actions_t fa;
	int in[2], rc;

	if (pipe2(in, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return DTF_EIO;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, 2, 1);
	rc = do_spawn(pid, argv, envp, cwd, &fa, err, errlen);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	if (rc) {
		close(in[1]);
		return rc;
	}
	*stdin_fd = in[1];
	return 0;
}

bool plugin_proc_exited(pid_t pid, int *status)
{
	int st = 0;
	pid_t r;

	do
		r = waitpid(pid, &st, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == pid || (r < 0 && errno == ECHILD)) {
		if (status)
			*status = r == pid ? st : 0;
		return true;
	}
	return false;
}

void plugin_proc_stop(pid_t pid, double grace_s)
{
	int64_t until;

	if (pid <= 0)
		return;
	kill(-pid, SIGTERM);
	kill(pid, SIGTERM);
	until = dtf_mono_ms() + (int64_t)(grace_s * 1000);
	while (dtf_mono_ms() < until) {
		if (plugin_proc_exited(pid, NULL)) {
			kill(-pid, SIGKILL); /* what the leader left behind */
			return;
		}
		sleep_ms(10);
	}
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (!plugin_proc_exited(pid, NULL))
		sleep_ms(5);
}

void plugin_proc_describe(int status, char *out, size_t len)
{
	if (WIFEXITED(status))
		snprintf(out, len, "exit code %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, len, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(out, len, "status %d", status);
}

/* The last cap bytes of a stream. */
struct tail {
	int fd;
	char *buf;
	size_t len, cap, dropped;
};

static void tail_add(struct tail *t, const char *data, size_t n)
{
	if (t->cap == 0) {
		t->dropped += n;
		return;
	}
	if (n >= t->cap) {
		t->dropped += t->len + n - t->cap;
		memcpy(t->buf, data + n - t->cap, t->cap);
		t->len = t->cap;
		return;
	}
	if (t->len + n > t->cap) {
		size_t over = t->len + n - t->cap;
		memmove(t->buf, t->buf + over, t->len - over);
		t->len -= over;
		t->dropped += over;
	}
	memcpy(t->buf + t->len, data, n);
	t->len += n;
}

static bool cancelled(const struct plugin_proc_spec *s)
{
	return s->cancel && atomic_load(s->cancel);
}

int plugin_proc_run(const struct plugin_proc_spec *s, struct dtf_process_result *res, char *err,
		    size_t errlen)
{
	posix_spawn_file_actions_t fa;
	int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
	struct tail t[2];
	size_t cap = s->output_cap ? s->output_cap : DEFAULT_CAP, written = 0;
	int64_t start = dtf_mono_ms(), deadline = 0, kill_at = 0, exited_at = 0;
	pid_t pid = -1;
	int status = 0, rc, i;
	bool exited = false, term_sent = false, timed_out = false, was_cancelled = false;
	char chunk[CHUNK];
	sigset_t pipe_set, old;

	memset(res, 0, sizeof(*res));
	res->struct_size = sizeof(*res);
	res->exit_code = -1;
	memset(t, 0, sizeof(t));
	if (s->timeout_s > 0)
		deadline = start + (int64_t)(s->timeout_s * 1000);
	if (s->deadline_ms && (!deadline || s->deadline_ms < deadline))
		deadline = s->deadline_ms;
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(errp, O_CLOEXEC)) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		rc = DTF_ESPAWN;
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	rc = do_spawn(&pid, s->argv, s->envp, s->cwd, &fa, err, errlen);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	close(errp[1]);
	in[0] = out[1] = errp[1] = -1;
	if (rc)
		goto out;
	for (i = 0; i < 2; i++) {
		t[i].fd = i == 0 ? out[0] : errp[0];
		t[i].cap = cap;
		t[i].buf = malloc(cap);
		if (!t[i].buf)
			t[i].cap = 0;
	}
	out[0] = errp[0] = -1;
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	if (!s->input || s->input_len == 0) {
		close(in[1]);
		in[1] = -1;
	}
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	for (;;) {
		struct pollfd pf[3];
		int np = 0, idx_in = -1, idx_t[2] = {-1, -1};
		int64_t now = dtf_mono_ms();

		if (!exited && plugin_proc_exited(pid, &status)) {
			exited = true;
			exited_at = now;
			kill(-pid, SIGKILL); /* stray children must not hold the pipes */
		}
		if (!exited && !term_sent) {
			if (deadline && now >= deadline)
				timed_out = true;
			else if (cancelled(s))
				was_cancelled = true;
			if (timed_out || was_cancelled) {
				kill(-pid, SIGTERM);
				term_sent = true;
				kill_at = now + (int64_t)(KILL_GRACE_S * 1000);
			}
		}
		if (!exited && term_sent && now >= kill_at)
			kill(-pid, SIGKILL);
		if (t[0].fd < 0 && t[1].fd < 0 && exited)
			break;
		if (exited && now - exited_at > DRAIN_MS)
			break;
		if (in[1] >= 0) {
			idx_in = np;
			pf[np++] = (struct pollfd){in[1], POLLOUT, 0};
		}
		for (i = 0; i < 2; i++)
			if (t[i].fd >= 0) {
				idx_t[i] = np;
				pf[np++] = (struct pollfd){t[i].fd, POLLIN, 0};
			}
		if (np == 0) {
			sleep_ms(10);
			continue;
		}
		if (poll(pf, (nfds_t)np, 50) < 0 && errno != EINTR)
			break;
		if (idx_in >= 0 && pf[idx_in].revents) {
			ssize_t n = write(in[1], s->input + written, s->input_len - written);
			if (n > 0)
				written += (size_t)n;
			if ((n < 0 && errno != EAGAIN && errno != EINTR) ||
			    written >= s->input_len) {
				close(in[1]);
				in[1] = -1;
			}
		}
		for (i = 0; i < 2; i++) {
			ssize_t n;
			if (idx_t[i] < 0 || !pf[idx_t[i]].revents)
				continue;
			n = read(t[i].fd, chunk, sizeof(chunk));
			if (n > 0) {
				tail_add(&t[i], chunk, (size_t)n);
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				close(t[i].fd);
				t[i].fd = -1;
			}
		}
	}
	if (!sigismember(&old, SIGPIPE)) {
		struct timespec zero = {0, 0};
		while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!exited) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	res->duration_s = (double)(dtf_mono_ms() - start) / 1000.0;
	res->timed_out = timed_out;
	res->cancelled = was_cancelled;
	if (WIFEXITED(status)) {
		res->exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		res->exit_code = -1;
		res->signal = WTERMSIG(status);
	}
	for (i = 0; i < 2; i++) {
		char *text = malloc(t[i].len + 1);
		if (text) {
			if (t[i].len)
				memcpy(text, t[i].buf, t[i].len);
			text[t[i].len] = '\0';
		}
		if (i == 0) {
			res->out = text;
			res->out_len = text ? t[i].len : 0;
			res->out_dropped = t[i].dropped;
		} else {
			res->err = text;
			res->err_len = text ? t[i].len : 0;
			res->err_dropped = t[i].dropped;
		}
	}
	rc = 0;
out:
	for (i = 0; i < 2; i++) {
		if (t[i].fd >= 0)
			close(t[i].fd);
		free(t[i].buf);
	}
	if (in[0] >= 0)
		close(in[0]);
	if (in[1] >= 0)
		close(in[1]);
	if (out[0] >= 0)
		close(out[0]);
	if (out[1] >= 0)
		close(out[1]);
	if (errp[0] >= 0)
		close(errp[0]);
	if (errp[1] >= 0)
		close(errp[1]);
	if (rc && !res->err) {
		res->out = calloc(1, 1);
		res->err = strdup(err);
		res->err_len = res->err ? strlen(res->err) : 0;
	}
	return rc;
}

void plugin_proc_result_release(struct dtf_process_result *res)
{
	if (!res)
		return;
	free(res->out);
	free(res->err);
	res->out = res->err = NULL;
}
