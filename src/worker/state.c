/* state.c: the worker's lock, task records and guard (see state.h).
 *
 * The records file holds one fixed 128-byte record per slot, written with one pwrite() when the
 * slot's task starts (after its spawn: pid, process start time from /proc/PID/stat, task id,
 * attempt, boot id) and cleared when it ends. A write goes to the page cache, so it survives the
 * worker's SIGKILL, costs no fsync, and is never torn (one aligned write within a page).
 *
 * Killing what is left of a recorded group without touching anyone else's process:
 *  - the record's boot id must be this boot's (after a reboot nothing of it can be alive);
 *  - while the leader lives (its pid with the recorded start time), its pid cannot be reused
 *    and neither can the group id (the kernel keeps a pid allocated while any process has it as
 *    pid or process group), so the whole group is killed with kill(-pgid);
 *  - once the leader is gone (PR_SET_PDEATHSIG killed it), a process in group pgid is killed only
 *    if it started no earlier than the leader and its environment holds the task's DTF_TASK_ID
 *    and DTF_ATTEMPT: a group id reused by a stranger does not match both.
 * Rounds repeat (for up to a second) until nothing that matches is alive, so a process forked
 * between the scan and the kill goes too. */
#include "worker/state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

#include "common/err.h"
#include "common/log.h"

#define REC_SIZE       128
#define REC_MAGIC      0x4b534154u	 /* "TASK" */
#define MAX_RECS       4096		 /* the most slots a worker has */
#define ENV_CAP	       ((size_t)1 << 20) /* bytes of /proc/PID/environ read */
#define LOCK_TRIES     20
#define LOCK_TRY_MS    50
#define SWEEP_ROUNDS   50
#define SWEEP_ROUND_MS 20

struct rec {
	uint32_t magic;	      /* REC_MAGIC while the slot runs the task, 0 when idle */
	int32_t pid;	      /* the leader, whose pid is the process group's id */
	uint64_t start_ticks; /* field 22 of /proc/PID/stat: start time after boot, clock ticks */
	int64_t attempt;
	char boot_id[37];
	char task_id[65];
	char pad[2];
};
_Static_assert(sizeof(struct rec) == REC_SIZE, "a record is 128 bytes");

/* A process seen in /proc. */
struct proc {
	int pid, pgrp;
	uint64_t start;
};

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Reads up to len-1 bytes of a small file into buf (NUL-terminated). Returns the length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, total = 0;

	if (fd < 0)
		return -1;
	while ((size_t)total < len - 1) {
		n = read(fd, buf + total, len - 1 - (size_t)total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += n;
	}
	close(fd);
	buf[total] = '\0';
	return total;
}

static void read_boot_id(char *out, size_t len)
{
	char buf[64];
	ssize_t n = read_small("/proc/sys/kernel/random/boot_id", buf, sizeof(buf));

	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	snprintf(out, len, "%s", n > 0 ? buf : "");
}

/* The process group, start time and state of pid from /proc/PID/stat. False when it is gone,
 * a zombie, or unreadable. */
static bool proc_stat(int pid, int *pgrp, uint64_t *start)
{
	char path[64], buf[1024], *p, *save = NULL, *tok;
	int field = 2;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return false;
	/* The command name (field 2) may hold spaces and parentheses: fields go on after the
	 * last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return false;
	for (tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		field++;
		if (field == 3 && (tok[0] == 'Z' || tok[0] == 'X'))
			return false;
		if (field == 5)
			*pgrp = atoi(tok);
		if (field == 22) {
			*start = strtoull(tok, NULL, 10);
			return true;
		}
	}
	return false;
}

/* True when the environment of pid holds both entries a and b. */
static bool env_has(int pid, const char *a, const char *b)
{
	char path[64], *buf = malloc(ENV_CAP);
	int fd;
	size_t total = 0, i = 0;
	ssize_t n;
	bool ha = false, hb = false;

	if (!buf)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return false;
	}
	while (total < ENV_CAP - 1) {
		n = read(fd, buf + total, ENV_CAP - 1 - total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += (size_t)n;
	}
	close(fd);
	buf[total] = '\0';
	while (i < total) {
		const char *e = buf + i;
		size_t l = strlen(e);
		ha = ha || strcmp(e, a) == 0;
		hb = hb || strcmp(e, b) == 0;
		i += l + 1;
	}
	free(buf);
	return ha && hb;
}

/* Every live process, in a malloc'ed array. */
static struct proc *scan_procs(size_t *n)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	struct proc *v = NULL;
	size_t cap = 0;

	*n = 0;
	if (!d)
		return NULL;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		struct proc p;
		if (*end || pid <= 0 || pid > INT32_MAX)
			continue;
		if (!proc_stat((int)pid, &p.pgrp, &p.start))
			continue;
		p.pid = (int)pid;
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			struct proc *nv = realloc(v, nc * sizeof(*v));
			if (!nv)
				break;
			v = nv;
			cap = nc;
		}
		v[(*n)++] = p;
	}
	closedir(d);
	return v;
}

/* One round over the records (all of this boot): kills what matches, adds to killed[i] the
 * processes of record i it killed. Returns how many it killed. */
static int kill_round(const struct rec *recs, size_t nrec, int *killed)
{
	size_t np = 0, i, j;
	struct proc *ps = scan_procs(&np);
	int total = 0;

	for (i = 0; i < nrec; i++) {
		const struct rec *r = &recs[i];
		bool leader = false;
		int members = 0;
		char ta[128], tb[64];

		for (j = 0; j < np; j++) {
			if (ps[j].pid == r->pid && ps[j].start == r->start_ticks)
				leader = true;
			if (ps[j].pgrp == r->pid)
				members++;
		}
		if (leader) {
			/* Its pid, and so its group id, cannot have been reused. */
			kill(r->pid, SIGKILL);
			kill(-r->pid, SIGKILL);
			killed[i] += members ? members : 1;
			total += members ? members : 1;
			continue;
		}
		snprintf(ta, sizeof(ta), "DTF_TASK_ID=%s", r->task_id);
		snprintf(tb, sizeof(tb), "DTF_ATTEMPT=%lld", (long long)r->attempt);
		for (j = 0; j < np; j++) {
			if (ps[j].pgrp != r->pid || ps[j].start < r->start_ticks)
				continue;
			if (!env_has(ps[j].pid, ta, tb))
				continue;
			kill(ps[j].pid, SIGKILL);
			killed[i]++;
			total++;
		}
	}
	free(ps);
	return total;
}

/* Kills what is left of the recorded tasks (records of another boot are skipped), in rounds until
 * nothing that matches is alive or a second has passed. */
static void kill_recorded(struct rec *recs, size_t nrec, int *killed)
{
	char boot[40];
	size_t i, live = 0;
	int round;

	read_boot_id(boot, sizeof(boot));
	/* Those of this boot first. */
	for (i = 0; i < nrec; i++) {
		if (strcmp(recs[i].boot_id, boot) == 0) {
			struct rec t = recs[live];
			int k = killed[live];
			recs[live] = recs[i];
			killed[live] = killed[i];
			recs[i] = t;
			killed[i] = k;
			live++;
		}
	}
	for (round = 0; live && round < SWEEP_ROUNDS; round++) {
		if (kill_round(recs, live, killed) == 0)
			break;
		sleep_ms(SWEEP_ROUND_MS);
	}
}

/* Reads the valid records of the file behind fd into a malloc'ed array (*out, NULL when there
 * are none). Returns 0, or DTF_EIO / DTF_ENOMEM when the records could not be read: the caller
 * must then leave them in place for a later start. */
static int read_recs(int fd, struct rec **out, size_t *n)
{
	struct stat sb;
	struct rec *v;
	size_t count, i, k = 0;

	*out = NULL;
	*n = 0;
	if (fstat(fd, &sb) != 0)
		return DTF_EIO;
	if (sb.st_size <= 0)
		return 0;
	count = (size_t)sb.st_size / REC_SIZE;
	if (count > MAX_RECS)
		count = MAX_RECS;
	v = calloc(count ? count : 1, sizeof(*v));
	if (!v)
		return DTF_ENOMEM;
	for (i = 0; i < count; i++) {
		struct rec r;
		if (pread(fd, &r, sizeof(r), (off_t)(i * REC_SIZE)) != (ssize_t)sizeof(r))
			break;
		if (r.magic != REC_MAGIC || r.pid <= 0)
			continue;
		r.boot_id[sizeof(r.boot_id) - 1] = '\0';
		r.task_id[sizeof(r.task_id) - 1] = '\0';
		v[k++] = r;
	}
	*n = k;
	if (k)
		*out = v;
	else
		free(v);
	return 0;
}

int dtf_wstate_open(struct dtf_wstate *s, const char *work_dir, const char *name, int slots,
		    char *err, size_t errlen)
{
	int rc = 0, i;

	memset(s, 0, sizeof(*s));
	s->lock_fd = s->tasks_fd = s->guard_fd = -1;
	s->slots = slots < 1 ? 1 : slots > MAX_RECS ? MAX_RECS : slots;
	if ((size_t)snprintf(s->lock_path, sizeof(s->lock_path), "%s/.worker-%s.lock", work_dir,
			     name) >= sizeof(s->lock_path) ||
	    (size_t)snprintf(s->tasks_path, sizeof(s->tasks_path), "%s/.worker-%s.tasks", work_dir,
			     name) >= sizeof(s->tasks_path) ||
	    (size_t)snprintf(s->spool_path, sizeof(s->spool_path), "%s/.worker-%s.spool", work_dir,
			     name) >= sizeof(s->spool_path) ||
	    (size_t)snprintf(s->token_path, sizeof(s->token_path), "%s/.worker-%s.token", work_dir,
			     name) >= sizeof(s->token_path)) {
		snprintf(err, errlen, "the work directory's path is too long");
		return DTF_EINVAL;
	}
	read_boot_id(s->boot_id, sizeof(s->boot_id));
	s->lock_fd = open(s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->lock_fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", s->lock_path, strerror(errno));
		rc = DTF_EIO;
		goto fail;
	}
	/* A process forked by the last holder and not yet exec'd (or exited) holds a copy of its
	 * descriptor for a moment: a worker started again at once waits that out. */
	for (i = 0; flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0; i++) {
		int e = errno;
		if ((e == EINTR || e == EWOULDBLOCK) && i < LOCK_TRIES) {
			sleep_ms(LOCK_TRY_MS);
			continue;
		}
		if (e == EWOULDBLOCK)
			snprintf(
			    err, errlen, "%s is locked: another worker %s uses this work directory",
			    s->lock_path,
			    strcmp(name, "anonymous") ? "with this id" : "without --worker-id");
		else
			snprintf(err, errlen, "%s is locked: %s", s->lock_path, strerror(e));
		rc = e == EWOULDBLOCK ? DTF_EEXISTS : DTF_EIO;
		goto fail;
	}
	s->tasks_fd = open(s->tasks_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->tasks_fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", s->tasks_path, strerror(errno));
		rc = DTF_EIO;
		goto fail;
	}
	return 0;
fail:
	dtf_wstate_close(s);
	return rc;
}

int dtf_wstate_sweep(struct dtf_wstate *s, struct dtf_wstate_task **tasks, size_t *n)
{
	struct rec *recs;
	size_t nrec = 0, i;
	int *killed, rc;
	struct dtf_wstate_task *out;

	*tasks = NULL;
	*n = 0;
	if (s->tasks_fd < 0)
		return 0;
	rc = read_recs(s->tasks_fd, &recs, &nrec);
	if (rc)
		return rc; /* the records stay for the next start */
	killed = calloc(nrec ? nrec : 1, sizeof(*killed));
	out = calloc(nrec ? nrec : 1, sizeof(*out));
	if (!killed || !out) {
		free(recs);
		free(killed);
		free(out);
		return DTF_ENOMEM;
	}
	if (nrec)
		kill_recorded(recs, nrec, killed);
	for (i = 0; i < nrec; i++) {
		snprintf(out[i].task_id, sizeof(out[i].task_id), "%s", recs[i].task_id);
		out[i].attempt = recs[i].attempt;
		out[i].pgid = recs[i].pid;
		out[i].killed = killed[i];
		out[i].other_boot = strcmp(recs[i].boot_id, s->boot_id) != 0;
	}
	free(recs);
	free(killed);
	/* Cleared: every slot idle. */
	if (ftruncate(s->tasks_fd, 0) != 0 ||
	    ftruncate(s->tasks_fd, (off_t)s->slots * REC_SIZE) != 0) {
		free(out);
		return DTF_EIO;
	}
	*tasks = out;
	*n = nrec;
	return 0;
}

/* The guard's life: waits for the worker to end (EOF on the pipe), kills what is left of the
 * recorded tasks, exits. Never returns. */
static __attribute__((noreturn)) void guard_main(const char *tasks_path, int rfd)
{
	struct rec *recs;
	size_t n = 0, i;
	int *killed, fd;
	char c;
	ssize_t r;

	do
		r = read(rfd, &c, 1);
	while (r < 0 && errno == EINTR);
	fd = open(tasks_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		_exit(0);
	if (read_recs(fd, &recs, &n) != 0)
		_exit(0);
	close(fd);
	killed = calloc(n ? n : 1, sizeof(*killed));
	if (recs && killed && n) {
		kill_recorded(recs, n, killed);
		for (i = 0; i < n; i++)
			if (killed[i])
				log_warn(
				    "guard: the worker ended while task %s (attempt %lld) ran; "
				    "killed %d process%s of it",
				    recs[i].task_id, (long long)recs[i].attempt, killed[i],
				    killed[i] == 1 ? "" : "es");
	}
	_exit(0);
}

/* Closes every descriptor from 3 up except keep. */
static void close_others(int keep)
{
	long max = sysconf(_SC_OPEN_MAX);
	int fd;

#if defined(SYS_close_range)
	if ((keep <= 3 || syscall(SYS_close_range, 3u, (unsigned)keep - 1, 0u) == 0) &&
	    syscall(SYS_close_range, (unsigned)keep + 1, ~0u, 0u) == 0)
		return;
#endif
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = 3; fd < max; fd++)
		if (fd != keep)
			close(fd);
}

int dtf_wstate_guard(struct dtf_wstate *s)
{
	int p[2];
	pid_t pid;

	if (s->tasks_fd < 0)
		return 0;
	if (pipe2(p, O_CLOEXEC) != 0)
		return DTF_ESPAWN;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return DTF_ESPAWN;
	}
	if (pid == 0) {
		sigset_t all;

		/* It ends when the worker does, not on a terminal's or a group's signals. */
		sigfillset(&all);
		sigprocmask(SIG_BLOCK, &all, NULL);
#if defined(__linux__)
		prctl(PR_SET_NAME, "dtf-guard", 0, 0, 0);
#endif
		close_others(p[0]);
		guard_main(s->tasks_path, p[0]);
	}
	close(p[0]);
	s->guard_fd = p[1];
	s->guard_pid = pid;
	return 0;
}

static int64_t rec_offset(int slot)
{
	return (int64_t)slot * REC_SIZE;
}

void dtf_wstate_task_started(struct dtf_wstate *s, int slot, const char *task_id, long long attempt,
			     pid_t pid)
{
	struct rec r;
	char path[64], buf[1024], *p, *save = NULL, *tok;
	int field = 2;

	if (s->tasks_fd < 0 || slot < 0 || slot >= s->slots)
		return;
	memset(&r, 0, sizeof(r));
	r.magic = REC_MAGIC;
	r.pid = (int32_t)pid;
	r.attempt = attempt;
	snprintf(r.boot_id, sizeof(r.boot_id), "%s", s->boot_id);
	snprintf(r.task_id, sizeof(r.task_id), "%s", task_id);
	/* The start time even of a zombie (a task that already ended) identifies it. */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof(buf)) > 0 && (p = strrchr(buf, ')'))) {
		for (tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
			if (++field == 22) {
				r.start_ticks = strtoull(tok, NULL, 10);
				break;
			}
	}
	if (pwrite(s->tasks_fd, &r, sizeof(r), (off_t)rec_offset(slot)) != (ssize_t)sizeof(r))
		log_warn("cannot record task %s in %s: %s", task_id, s->tasks_path,
			 strerror(errno));
}

void dtf_wstate_task_ended(struct dtf_wstate *s, int slot)
{
	uint32_t idle = 0;

	if (s->tasks_fd < 0 || slot < 0 || slot >= s->slots)
		return;
	if (pwrite(s->tasks_fd, &idle, sizeof(idle), (off_t)rec_offset(slot)) !=
	    (ssize_t)sizeof(idle))
		log_warn("cannot clear a task record in %s: %s", s->tasks_path, strerror(errno));
}

void dtf_wstate_close(struct dtf_wstate *s)
{
	if (s->guard_fd >= 0)
		close(s->guard_fd);
	if (s->guard_pid > 0) {
		int i;
		for (i = 0; i < 200; i++) {
			pid_t r = waitpid(s->guard_pid, NULL, WNOHANG);
			if (r == s->guard_pid || (r < 0 && errno != EINTR))
				break;
			sleep_ms(10);
		}
		s->guard_pid = 0;
	}
	if (s->tasks_fd >= 0)
		close(s->tasks_fd);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	s->guard_fd = s->tasks_fd = s->lock_fd = -1;
}

int dtf_wstate_token_save(struct dtf_wstate *s, const char *token)
{
	char tmp[DTF_WSTATE_PATH + 8];
	size_t len = strlen(token);
	int fd, rc = 0;

	if (s->lock_fd < 0 || !s->token_path[0])
		return 0;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", s->token_path) >= sizeof(tmp))
		return DTF_EIO;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	/* An older file of another mode keeps it through O_TRUNC: set it. */
	if (fd < 0 || fchmod(fd, 0600) != 0 || write(fd, token, len) != (ssize_t)len ||
	    fsync(fd) != 0 || rename(tmp, s->token_path) != 0) {
		log_warn("cannot keep the worker's token in %s: %s", s->token_path,
			 strerror(errno));
		rc = DTF_EIO;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

int dtf_wstate_token_load(struct dtf_wstate *s, char *out, size_t len)
{
	struct stat st;
	ssize_t n;
	int fd;

	out[0] = '\0';
	if (s->lock_fd < 0 || !s->token_path[0])
		return DTF_ENOTFOUND;
	fd = open(s->token_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return DTF_ENOTFOUND;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) || st.st_size <= 0 || (size_t)st.st_size >= len) {
		log_warn("ignoring the kept token %s (not a private file of this user's, or too "
			 "long)",
			 s->token_path);
		close(fd);
		return DTF_ENOTFOUND;
	}
	n = read(fd, out, len - 1);
	close(fd);
	if (n != st.st_size) {
		out[0] = '\0';
		return DTF_ENOTFOUND;
	}
	out[n] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	return out[0] ? 0 : DTF_ENOTFOUND;
}
