/* exec.c: runs one task's process. It is started in a process group of its own (clone with
 * CLONE_VFORK, or fork in sanitizer builds, and posix_spawn off Linux) with PR_SET_PDEATHSIG
 * SIGKILL, its stdout and stderr are read through pipes with poll() into captures that keep a
 * head and a tail, and the whole group is stopped on timeout, on cancel, and when the leader
 * exits. There is no SIGCHLD handler: the end of the child is seen through a pidfd polled with
 * the pipes (or a short waitid() poll where pidfds are missing), so any number of threads may run
 * tasks at once. */
#include "worker/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"

extern char **environ;

#define DEFAULT_CAP	((size_t)1 << 20)
#define DEFAULT_GRACE_S 2.0
#define MAX_SECONDS	1e9  /* longer timeouts are treated as this (about 31 years) */
#define DRAIN_MS	1000 /* how long the pipes are read after the leader ended */
#define NOW_DRAIN_MS	100  /* the same after a DTF_EXEC_CANCEL_NOW */
#define CANCEL_POLL_MS	100  /* how often *cancel is looked at */
#define WAIT_POLL_MS	20   /* how often waitid() is tried when there is no pidfd */
#define READ_CHUNK	65536
#define DEFAULT_PATH	"/bin:/usr/bin" /* what execvp() searches when PATH is unset */
#define PATH_BUF	4096

/* One captured stream: the first head_cap bytes in head, the last tail_cap bytes in a ring. */
struct capture {
	int fd;		 /* read end of the pipe; -1 once it reached EOF */
	size_t head_cap; /* bytes kept from the start of the stream */
	size_t tail_cap; /* bytes kept from the end of the stream */
	struct dtf_buf head;
	char *ring;	   /* tail_cap bytes, allocated when the head is full */
	size_t ring_start; /* offset of the oldest byte in ring */
	size_t ring_len;
	size_t dropped; /* bytes that fell out between the head and the tail */
};

static void capture_init(struct capture *c, size_t cap)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->head_cap = cap / 2;
	c->tail_cap = cap - c->head_cap;
	dtf_buf_init(&c->head, c->head_cap);
}

static void capture_release(struct capture *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	dtf_buf_release(&c->head);
	free(c->ring);
	c->ring = NULL;
}

static void ring_add(struct capture *c, const char *data, size_t n)
{
	size_t pos, first;

	if (!c->ring && c->tail_cap) {
		c->ring = malloc(c->tail_cap);
		/* Without memory for the tail, what follows the head is counted as left out. */
		if (!c->ring)
			c->tail_cap = 0;
	}
	if (!c->tail_cap) {
		c->dropped += n;
		return;
	}
	if (n >= c->tail_cap) {
		c->dropped += c->ring_len + (n - c->tail_cap);
		memcpy(c->ring, data + (n - c->tail_cap), c->tail_cap);
		c->ring_start = 0;
		c->ring_len = c->tail_cap;
		return;
	}
	if (c->ring_len + n > c->tail_cap) {
		size_t over = c->ring_len + n - c->tail_cap;

		c->dropped += over;
		c->ring_start = (c->ring_start + over) % c->tail_cap;
		c->ring_len -= over;
	}
	pos = (c->ring_start + c->ring_len) % c->tail_cap;
	first = n < c->tail_cap - pos ? n : c->tail_cap - pos;
	memcpy(c->ring + pos, data, first);
	memcpy(c->ring, data + first, n - first);
	c->ring_len += n;
}

static void capture_add(struct capture *c, const char *data, size_t n)
{
	if (c->head.len < c->head_cap) {
		size_t take = c->head_cap - c->head.len;

		if (take > n)
			take = n;
		/* Should memory run out, the head stops where it is so that it never has a gap. */
		if (dtf_buf_add(&c->head, data, take) == 0) {
			data += take;
			n -= take;
		} else {
			c->head_cap = c->head.len;
		}
	}
	if (n)
		ring_add(c, data, n);
}

/* Assembles head, omission marker and tail into one new NUL-terminated string. */
static int capture_finish(struct capture *c, char **text, size_t *len, size_t *dropped)
{
	struct dtf_buf b;
	size_t first;
	int rc;

	dtf_buf_init(&b, SIZE_MAX);
	rc = dtf_buf_add(&b, dtf_buf_str(&c->head), c->head.len);
	if (!rc && c->dropped)
		rc = dtf_buf_printf(&b, "\n[... %zu bytes omitted ...]\n", c->dropped);
	if (!rc && c->ring_len) {
		first = c->ring_len < c->tail_cap - c->ring_start ? c->ring_len
								  : c->tail_cap - c->ring_start;
		rc = dtf_buf_add(&b, c->ring + c->ring_start, first);
		if (!rc)
			rc = dtf_buf_add(&b, c->ring, c->ring_len - first);
	}
	if (rc) {
		dtf_buf_release(&b);
		return rc;
	}
	*text = dtf_buf_detach(&b, len);
	*dropped = c->dropped;
	return 0;
}

/* On Linux with glibc (x86-64, arm64) the child is started with clone(CLONE_VM | CLONE_VFORK) on a
 * stack in the parent's frame: what posix_spawn does, without mapping and unmapping a stack for
 * every task (an munmap in a process with several threads costs a TLB shootdown on every CPU
 * they ran on). Sanitizer builds fork instead: their run-time does not follow a child that
 * shares the parent's memory on another stack (and posix_spawn cannot set a parent-death
 * signal). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define DTF_CLONE_SPAWN 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
#define DTF_CLONE_SPAWN 0
#endif
#endif
#if !defined(DTF_CLONE_SPAWN)
#if defined(__linux__) && defined(__GLIBC__) && (defined(__x86_64__) || defined(__aarch64__))
#define DTF_CLONE_SPAWN 1
#else
#define DTF_CLONE_SPAWN 0
#endif
#endif

#if !DTF_CLONE_SPAWN
/* The signals this process ignores (SIG_IGN), which a child would inherit across exec. Read
 * once: dtf sets its dispositions at start-up and never changes them afterwards. */
static sigset_t ignored_set;
static pthread_once_t ignored_once = PTHREAD_ONCE_INIT;

static void read_ignored(void)
{
	int sig;

	sigemptyset(&ignored_set);
	for (sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			sigaddset(&ignored_set, sig);
	}
}

static void ignored_signals(sigset_t *set)
{
	pthread_once(&ignored_once, read_ignored);
	*set = ignored_set;
}
#endif

#if defined(__linux__)
/* What the child needs until exec (clone and fork alike). */
struct child_ctx {
	const char *prog;
	char *const *argv, *const *envp;
	const char *cwd;
	int out_w, err_w;
	pid_t parent;	  /* the caller's pid: a child whose parent is another one was orphaned */
	int report_fd;	  /* fork: the pipe the child writes its errno to when it cannot exec */
	volatile int err; /* clone: set by the child when it cannot exec */
};

/* What every spawn path gives its child: the program, its argv and environment, its directory
 * and the write ends of its output pipes. */
static void child_ctx_init(struct child_ctx *x, const struct dtf_exec_spec *spec, const char *prog,
			   char *const *envp, int out_w, int err_w)
{
	memset(x, 0, sizeof(*x));
	x->prog = prog;
	x->argv = spec->argv;
	x->envp = envp;
	x->cwd = spec->cwd;
	x->out_w = out_w;
	x->err_w = err_w;
	x->parent = getpid();
	x->report_fd = -1;
}

/* The child after its signal dispositions are back to SIG_DFL (all signals still blocked): asks
 * to be killed when the thread that started it ends, checks that its parent has not ended
 * already (the window between clone and prctl), then sets up its group, descriptors and
 * directory and execs. Only system calls: it may share the parent's memory. */
static __attribute__((noreturn)) void child_exec(struct child_ctx *x)
{
	sigset_t none;
	int fd, e;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
		goto fail;
	if (getppid() != x->parent) {
		errno = ESRCH;
		goto fail;
	}
	if (setpgid(0, 0) != 0 || dup2(x->out_w, STDOUT_FILENO) < 0 ||
	    dup2(x->err_w, STDERR_FILENO) < 0)
		goto fail;
	close(STDIN_FILENO);
	fd = open("/dev/null", O_RDONLY);
	if (fd < 0)
		goto fail;
	if (fd != STDIN_FILENO) {
		if (dup2(fd, STDIN_FILENO) < 0)
			goto fail;
		close(fd);
	}
	if (x->cwd && chdir(x->cwd) != 0)
		goto fail;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(x->prog, x->argv, x->envp);
fail:
	e = errno ? errno : EINVAL;
	x->err = e;
	if (x->report_fd >= 0) {
		ssize_t n;
		do
			n = write(x->report_fd, &e, sizeof(e));
		while (n < 0 && errno == EINTR);
	}
	_exit(127);
}
#endif

#if DTF_CLONE_SPAWN
#define CHILD_STACK 32768

/* The kernel's struct sigaction on x86-64 and arm64, for rt_sigaction. */
struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	unsigned long mask;
};

/* The child until exec: it shares the parent's memory (the parent waits, CLONE_VFORK), so it
 * makes system calls and touches nothing but its context. Every signal is blocked until just
 * before exec, and every disposition goes back to SIG_DFL with the raw system call (glibc's
 * sigaction refuses the two signals it reserves, which a worker may have inherited ignored). */
static int child_main(void *arg)
{
	struct child_ctx *x = arg;
	struct kernel_sigaction dfl;
	int sig;

	memset(&dfl, 0, sizeof(dfl));
	dfl.handler = SIG_DFL;
	for (sig = 1; sig <= 64; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(dfl.mask));
	child_exec(x);
}

/* Starts prog as spawn_child describes. Returns 0 or the errno of the failure (the child, if
 * one was made, is reaped). */
static int clone_spawn(const struct dtf_exec_spec *spec, const char *prog, char *const *envp,
		       int out_w, int err_w, pid_t *pid)
{
	/* The child's stack: this frame is not used while the parent waits for the exec. */
	char stack[CHILD_STACK] __attribute__((aligned(64)));
	struct child_ctx x;
	sigset_t all, old;
	pid_t p;

	child_ctx_init(&x, spec, prog, envp, out_w, err_w);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	p = clone(child_main, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, &x);
	if (p < 0) {
		int e = errno;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return e;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (x.err) {
		while (waitpid(p, NULL, 0) < 0 && errno == EINTR)
			;
		return x.err;
	}
	*pid = p;
	return 0;
}
#elif defined(__linux__)
/* Sanitizer builds (and Linux elsewhere than glibc on x86-64 and arm64): fork, then the same
 * child as above, which reports a failed exec through a close-on-exec pipe. The signals this
 * process ignores go back to SIG_DFL (the only dispositions that survive exec). */
static int fork_spawn(const struct dtf_exec_spec *spec, const char *prog, char *const *envp,
		      int out_w, int err_w, pid_t *pid)
{
	struct child_ctx x;
	sigset_t all, old, ign;
	int rep[2], e = 0, sig;
	ssize_t n;
	pid_t p;

	child_ctx_init(&x, spec, prog, envp, out_w, err_w);
	ignored_signals(&ign);
	if (pipe2(rep, O_CLOEXEC) != 0)
		return errno;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	p = fork();
	if (p == 0) {
		struct sigaction dfl;

		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		for (sig = 1; sig < NSIG; sig++)
			if (sigismember(&ign, sig) == 1)
				sigaction(sig, &dfl, NULL);
		close(rep[0]);
		x.report_fd = rep[1];
		child_exec(&x);
	}
	if (p < 0)
		e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(rep[1]);
	if (p < 0) {
		close(rep[0]);
		return e;
	}
	do
		n = read(rep[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(rep[0]);
	if (n == (ssize_t)sizeof(e)) {
		while (waitpid(p, NULL, 0) < 0 && errno == EINTR)
			;
		return e ? e : EINVAL;
	}
	*pid = p;
	return 0;
}
#endif

static const char *errstr(int e, char *buf, size_t len)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
	return strerror_r(e, buf, len);
#else
	if (strerror_r(e, buf, len) != 0)
		snprintf(buf, len, "error %d", e);
	return buf;
#endif
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t seconds_to_ms(double s)
{
	if (s > MAX_SECONDS)
		s = MAX_SECONDS;
	return (int64_t)(s * 1000.0 + 0.5);
}

/* The value of PATH in envp, or NULL. */
static const char *env_path(char *const *envp)
{
	for (; *envp; envp++) {
		if (strncmp(*envp, "PATH=", 5) == 0)
			return *envp + 5;
	}
	return NULL;
}

/* Looks prog up in the colon-separated list search the way execvp() does and writes the path to
 * hand to posix_spawn into found. Relative entries are relative to the child's working directory,
 * so they are checked under cwd but passed on as they are (the child resolves them after its
 * chdir). Returns 0, or ENOENT, EACCES or ENAMETOOLONG. */
static int path_lookup(const char *prog, const char *cwd, const char *search, char *found,
		       size_t found_len)
{
	char check[PATH_BUF];
	const char *p = search;
	struct stat st;
	int rc = ENOENT;

	for (;;) {
		const char *colon = strchr(p, ':');
		size_t dlen = colon ? (size_t)(colon - p) : strlen(p);
		int n;

		/* An empty entry means the current directory, as in execvp(). */
		if (dlen)
			n = snprintf(found, found_len, "%.*s/%s", (int)dlen, p, prog);
		else
			n = snprintf(found, found_len, "%s", prog);
		if (n < 0 || (size_t)n >= found_len) {
			rc = ENAMETOOLONG;
			goto next;
		}
		if (found[0] != '/' && cwd)
			n = snprintf(check, sizeof(check), "%s/%s", cwd, found);
		else
			n = snprintf(check, sizeof(check), "%s", found);
		if (n < 0 || (size_t)n >= sizeof(check)) {
			rc = ENAMETOOLONG;
			goto next;
		}
		if (stat(check, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(check, X_OK) == 0)
				return 0;
			rc = EACCES;
		}
	next:
		if (!colon)
			break;
		p = colon + 1;
	}
	found[0] = '\0';
	return rc;
}

/* Makes a close-on-exec pipe whose ends are above the standard descriptors, so that the child's
 * dup2() onto 1 and 2 can never clobber one end with the other, and whose read end doesn't
 * block. */
static int make_pipe(int fds[2])
{
	int i;

	if (pipe2(fds, O_CLOEXEC) != 0)
		return -1;
	for (i = 0; i < 2; i++) {
		if (fds[i] <= 2) {
			int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);

			if (fd < 0)
				goto fail;
			close(fds[i]);
			fds[i] = fd;
		}
	}
	if (fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK) != 0)
		goto fail;
	return 0;
fail:
	i = errno;
	close(fds[0]);
	close(fds[1]);
	fds[0] = fds[1] = -1;
	errno = i;
	return -1;
}

static int check_spec(const struct dtf_exec_spec *spec, struct dtf_exec_result *res)
{
	if (!spec || !spec->argv || !spec->argv[0] || !spec->argv[0][0]) {
		snprintf(res->error, sizeof(res->error), "no program to run");
		return DTF_EINVAL;
	}
	/* The negated comparisons also refuse NaN. */
	if (!(spec->timeout_s >= 0) || !(spec->kill_grace_s >= 0)) {
		snprintf(res->error, sizeof(res->error), "bad timeout or kill grace");
		return DTF_EINVAL;
	}
	return 0;
}

#if !defined(__linux__)
/* Elsewhere than Linux: posix_spawn (no parent-death signal there). Returns 0 or the errno of
 * the failure; *setup tells a failure to set the spawn up from one to start the program. */
static int posix_start(const struct dtf_exec_spec *spec, const char *prog, char *const *envp,
		       int out_w, int err_w, pid_t *pid, bool *setup)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	bool fa_ok = false, attr_ok = false;
	sigset_t sigs;
	int e;

	*setup = true;
	e = posix_spawn_file_actions_init(&fa);
	if (e)
		goto out;
	fa_ok = true;
	/* The dup2s come first: the pipe ends are above 2, so nothing they need is overwritten. */
	e = posix_spawn_file_actions_adddup2(&fa, out_w, STDOUT_FILENO);
	if (!e)
		e = posix_spawn_file_actions_adddup2(&fa, err_w, STDERR_FILENO);
	if (!e)
		e = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (!e && spec->cwd)
		e = posix_spawn_file_actions_addchdir_np(&fa, spec->cwd);
	if (e)
		goto out;
	e = posix_spawnattr_init(&attr);
	if (e)
		goto out;
	attr_ok = true;
	sigemptyset(&sigs);
	e = posix_spawnattr_setsigmask(&attr, &sigs);
	/* Only ignored signals survive exec; resetting just those (instead of every signal) saves
	 * the child a system call per signal. */
	ignored_signals(&sigs);
	if (!e)
		e = posix_spawnattr_setsigdefault(&attr, &sigs);
	if (!e)
		e = posix_spawnattr_setpgroup(&attr, 0);
	if (!e)
		e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
							POSIX_SPAWN_SETSIGDEF);
	if (e)
		goto out;
	/* glibc reports a failed chdir or exec in the child as the return value. */
	*setup = false;
	e = posix_spawn(pid, prog, &fa, &attr, spec->argv, envp);
out:
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	return e;
}
#endif

/* Starts the child with its stdout and stderr on the write ends of the pipes. On failure fills
 * res->error and returns DTF_ESPAWN. */
static int spawn_child(const struct dtf_exec_spec *spec, char *const *envp, int out_w, int err_w,
		       pid_t *pid, struct dtf_exec_result *res)
{
	char path[PATH_BUF], ebuf[128];
	const char *prog = spec->argv[0];
	struct stat st;
	bool setup = false;
	int e = 0;

	if (spec->cwd) {
		/* Checked here because a failed chdir in the child reads like a missing program. */
		if (stat(spec->cwd, &st) != 0)
			e = errno;
		else
			e = S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
	}
	if (spec->cwd && e) {
		snprintf(res->error, sizeof(res->error), "cannot change directory to '%s': %s",
			 spec->cwd, errstr(e, ebuf, sizeof(ebuf)));
		return DTF_ESPAWN;
	}
	if (!strchr(prog, '/')) {
		const char *search = env_path(envp);

		e = path_lookup(prog, spec->cwd, search ? search : DEFAULT_PATH, path,
				sizeof(path));
		if (e) {
			snprintf(res->error, sizeof(res->error), "cannot execute '%s': %s", prog,
				 errstr(e, ebuf, sizeof(ebuf)));
			return DTF_ESPAWN;
		}
		prog = path;
	}
#if DTF_CLONE_SPAWN
	e = clone_spawn(spec, prog, envp, out_w, err_w, pid);
#elif defined(__linux__)
	e = fork_spawn(spec, prog, envp, out_w, err_w, pid);
#else
	e = posix_start(spec, prog, envp, out_w, err_w, pid, &setup);
#endif
	if (!e)
		return 0;
	if (setup)
		snprintf(res->error, sizeof(res->error), "cannot set up process for '%s': %s",
			 spec->argv[0], errstr(e, ebuf, sizeof(ebuf)));
	else
		snprintf(res->error, sizeof(res->error), "cannot execute '%s': %s", spec->argv[0],
			 errstr(e, ebuf, sizeof(ebuf)));
	return DTF_ESPAWN;
}

/* True once pid has ended. The child is left a zombie, so its pid, which is also its process
 * group id, can't be reused while the rest of the group is killed. */
static bool child_ended(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
		return errno == ECHILD; /* someone else reaped it */
	return si.si_pid == pid;
}

static void reap(pid_t pid, struct dtf_exec_result *res)
{
	int status;
	pid_t r;

	do
		r = waitpid(pid, &status, 0);
	while (r < 0 && errno == EINTR);
	if (r != pid)
		return;
	if (WIFEXITED(status)) {
		res->exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		res->exit_code = -1;
		res->signal = WTERMSIG(status);
	}
}

/* Lowers *wait (ms; -1 is forever) so that poll() returns by the time `at`. */
static void wake_by(int64_t *wait, int64_t at, int64_t now)
{
	int64_t d = at > now ? at - now : 0;

	if (*wait < 0 || d < *wait)
		*wait = d;
}

static void read_pipe(struct capture *c, char *chunk, size_t chunk_len)
{
	ssize_t n = read(c->fd, chunk, chunk_len);

	if (n > 0) {
		capture_add(c, chunk, (size_t)n);
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		close(c->fd);
		c->fd = -1;
	}
}

/* Reads the output and waits for the child until it has ended and its pipes are closed (or the
 * drain time after its end ran out), stopping the group on timeout or cancel. */
static void supervise(const struct dtf_exec_spec *spec, pid_t pid, int pidfd, struct capture *cap,
		      double t0, struct dtf_exec_result *res)
{
	int64_t start = dtf_mono_ms(), deadline = -1, kill_at = -1, drain_until = -1;
	int64_t grace =
	    seconds_to_ms(spec->kill_grace_s > 0 ? spec->kill_grace_s : DEFAULT_GRACE_S);
	bool ended = false, killed = false, now_mode = false;
	char *chunk = malloc(READ_CHUNK);
	size_t chunk_len = READ_CHUNK;
	char small[4096];

	/* Reading in small steps is slower but still works when memory is short. */
	if (!chunk) {
		chunk = small;
		chunk_len = sizeof(small);
	}
	if (spec->timeout_s > 0)
		deadline = start + seconds_to_ms(spec->timeout_s);

	for (;;) {
		struct pollfd pfd[3];
		int idx[3], nfds = 0, i, r;
		int64_t now = dtf_mono_ms(), wait_ms = -1;
		int cancel = spec->cancel ? atomic_load(spec->cancel) : 0;

		if (cancel >= DTF_EXEC_CANCEL_NOW && !now_mode) {
			/* Stop now: a short grace, and a short read of what strays still write. */
			now_mode = true;
			if (kill_at >= 0 && kill_at > now + DTF_EXEC_NOW_GRACE_MS)
				kill_at = now + DTF_EXEC_NOW_GRACE_MS;
			if (grace > DTF_EXEC_NOW_GRACE_MS)
				grace = DTF_EXEC_NOW_GRACE_MS;
			if (ended && drain_until > now + NOW_DRAIN_MS)
				drain_until = now + NOW_DRAIN_MS;
		}
		if (!ended) {
			if (kill_at < 0) {
				if (cancel)
					res->cancelled = true;
				else if (deadline >= 0 && now >= deadline)
					res->timed_out = true;
				if (res->cancelled || res->timed_out) {
					kill(-pid, SIGTERM);
					kill_at = now + grace;
				}
			}
			if (kill_at >= 0 && !killed && now >= kill_at) {
				kill(-pid, SIGKILL);
				killed = true;
			}
		}
		if (ended && ((cap[0].fd < 0 && cap[1].fd < 0) || now >= drain_until))
			break;

		if (!ended) {
			if (kill_at < 0 && deadline >= 0)
				wake_by(&wait_ms, deadline, now);
			if (spec->cancel && !now_mode)
				wake_by(&wait_ms, now + CANCEL_POLL_MS, now);
			if (kill_at >= 0 && !killed)
				wake_by(&wait_ms, kill_at, now);
			if (pidfd < 0)
				wake_by(&wait_ms, now + WAIT_POLL_MS, now);
		} else {
			wake_by(&wait_ms, drain_until, now);
			if (spec->cancel && !now_mode)
				wake_by(&wait_ms, now + CANCEL_POLL_MS, now);
		}

		for (i = 0; i < 2; i++) {
			if (cap[i].fd >= 0) {
				pfd[nfds].fd = cap[i].fd;
				pfd[nfds].events = POLLIN;
				idx[nfds++] = i;
			}
		}
		if (!ended && pidfd >= 0) {
			pfd[nfds].fd = pidfd;
			pfd[nfds].events = POLLIN;
			idx[nfds++] = 2;
		}
		r = poll(pfd, (nfds_t)nfds, wait_ms > INT32_MAX ? INT32_MAX : (int)wait_ms);
		if (r < 0 && errno != EINTR)
			break; /* cannot happen with valid descriptors; don't spin */
		for (i = 0; r > 0 && i < nfds; i++) {
			if (idx[i] < 2 && pfd[i].revents)
				read_pipe(&cap[idx[i]], chunk, chunk_len);
		}
		if (!ended && child_ended(pid)) {
			ended = true;
			res->duration_s = now_s() - t0;
			/* Strays left in the group may hold the pipes open; they go too. */
			kill(-pid, SIGKILL);
			reap(pid, res);
			drain_until = dtf_mono_ms() + (now_mode ? NOW_DRAIN_MS : DRAIN_MS);
		}
	}
	if (!ended) {
		/* Only after a poll() failure: make sure nothing is left behind. */
		kill(-pid, SIGKILL);
		reap(pid, res);
		res->duration_s = now_s() - t0;
	}
	if (chunk != small)
		free(chunk);
}

int dtf_exec_run(const struct dtf_exec_spec *spec, struct dtf_exec_result *res)
{
	struct capture cap[2];
	int out_p[2] = {-1, -1}, err_p[2] = {-1, -1};
	int pidfd = -1, rc;
	size_t cap_bytes;
	char ebuf[128];
	double t0;
	pid_t pid = -1;

	if (!res)
		return DTF_EINVAL;
	memset(res, 0, sizeof(*res));
	res->exit_code = -1;
	cap_bytes = spec && spec->output_cap ? spec->output_cap : DEFAULT_CAP;
	capture_init(&cap[0], cap_bytes);
	capture_init(&cap[1], cap_bytes);

	rc = check_spec(spec, res);
	if (rc)
		goto out;
	if (make_pipe(out_p) != 0 || make_pipe(err_p) != 0) {
		snprintf(res->error, sizeof(res->error), "cannot create pipe: %s",
			 errstr(errno, ebuf, sizeof(ebuf)));
		rc = DTF_ESPAWN;
		goto out;
	}
	t0 = now_s();
	rc = spawn_child(spec, spec->envp ? spec->envp : environ, out_p[1], err_p[1], &pid, res);
	close(out_p[1]);
	close(err_p[1]);
	out_p[1] = err_p[1] = -1;
	if (rc)
		goto out;
	if (spec->started)
		spec->started(spec->started_arg, pid);
	cap[0].fd = out_p[0];
	cap[1].fd = err_p[0];
	out_p[0] = err_p[0] = -1;

#ifdef SYS_pidfd_open
	/* Missing on old kernels or refused by a seccomp filter: then waitid() is polled. */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
	supervise(spec, pid, pidfd, cap, t0, res);
	if (pidfd >= 0)
		close(pidfd);

	rc = capture_finish(&cap[0], &res->out, &res->out_len, &res->out_dropped);
	if (!rc)
		rc = capture_finish(&cap[1], &res->err, &res->err_len, &res->err_dropped);
out:
	if (rc == DTF_ESPAWN || rc == DTF_EINVAL)
		res->spawn_failed = true;
	if (!res->out)
		res->out = calloc(1, 1);
	if (!res->err)
		res->err = calloc(1, 1);
	for (int i = 0; i < 2; i++) {
		if (out_p[i] >= 0)
			close(out_p[i]);
		if (err_p[i] >= 0)
			close(err_p[i]);
	}
	capture_release(&cap[0]);
	capture_release(&cap[1]);
	return rc;
}

void dtf_exec_result_release(struct dtf_exec_result *res)
{
	if (!res)
		return;
	free(res->out);
	free(res->err);
	res->out = res->err = NULL;
	res->out_len = res->err_len = 0;
}
