/* browser_pool.c: the worker's pool of headless browsers (see browser_pool.h).
 *
 * An instance is a chromedriver started in its own session (setsid) under a small keeper
 * process, the session's leader, so that the driver, the browser it launches and the browser's
 * helpers share the keeper's process group: killing the group stops them all, whatever state
 * they are in. The keeper also stops the group when the worker dies, even by SIGKILL (see
 * spawn_driver). Pages are served from the task's directory by a small static file
 * server on loopback (a secure context, as WebGPU needs), one per task, so that tasks never see
 * each other's files. */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "worker/browser_pool.h"
#include "worker/webdriver.h"

extern char **environ;

#define MAX_INSTANCES 64
#define MAX_SHARDS    64
#define DEFAULT_FLAGS                                                                              \
	"--headless=new --enable-unsafe-webgpu --disable-dev-shm-usage "                           \
	"--disable-gpu-sandbox --no-first-run --no-default-browser-check"
#define WATCHDOG_GRACE_S 10.0 /* past the task's timeout, the HTTP call to the driver is cut */
#define PAGE_FILE_MAX	 (64u << 20)

enum inst_state { I_STARTING, I_IDLE, I_BUSY, I_RECYCLING, I_CRASHED, I_DOWN };

static const char *const state_names[] = {"starting",  "idle",	  "busy",
					  "recycling", "crashed", "down"};

struct instance {
	int index;
	enum inst_state state;
	pid_t pgid; /* the keeper's pid, also its group's id; 0 when none */
	int port;
	struct dtf_wd wd;
	long tasks;    /* tasks run by the current process */
	long restarts; /* replacements so far */
	char version[64];
	char last_error[256];
};

struct dtf_bpool {
	struct dtf_bpool_config cfg;
	char browser[32];
	char driver[256], binary[256], flags[1024], extra[1024], work_dir[1024];
	pthread_mutex_t lock;
	pthread_cond_t idle;
	struct instance inst[MAX_INSTANCES];
	int n;
	json_t *probe; /* the browsers[] entry of the capabilities */
	pthread_t supervisor;
	bool supervised;
	atomic_int stopping;
	/* The worker's end of the pipe every keeper watches: it closes when the worker dies. */
	int life_r, life_w;
};

/* Starts a thread with every signal blocked: the worker's signals (SIGTERM, SIGINT, SIGQUIT) are
 * for its signal thread, and a pool made before the caller blocked them must not take them. */
static int spawn_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* ---- the static file server of a task's pages ---------------------------------------------- */

struct fileserver {
	int fd;
	int port;
	char root[4096];
	atomic_int stop;
	pthread_t thread;
	bool running;
};

static const char *content_type(const char *path)
{
	const char *dot = strrchr(path, '.');
	static const char *const map[][2] = {{".html", "text/html; charset=utf-8"},
					     {".htm", "text/html; charset=utf-8"},
					     {".js", "text/javascript"},
					     {".mjs", "text/javascript"},
					     {".json", "application/json"},
					     {".wasm", "application/wasm"},
					     {".css", "text/css"},
					     {".wgsl", "text/plain; charset=utf-8"},
					     {".png", "image/png"},
					     {".svg", "image/svg+xml"}};

	for (size_t i = 0; dot && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(dot, map[i][0]) == 0)
			return map[i][1];
	return "application/octet-stream";
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void reply(int fd, int status, const char *type, const char *body, size_t len)
{
	char head[256];
	int hl = snprintf(head, sizeof(head),
			  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			  "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
			  status, status == 200 ? "OK" : "Not Found", type, len);
	send_all(fd, head, (size_t)hl);
	send_all(fd, body, len);
}

int dtf_bpool_request_path(const char *req, size_t len, char *rel, size_t rlen)
{
	const char *p, *end, *stop = req + len;
	size_t j = 0;

	if (rlen == 0 || len < 6 || memcmp(req, "GET /", 5) != 0)
		return DTF_EINVAL;
	p = req + 5;
	for (end = p; end < stop && *end != ' ' && *end != '?' && *end != '#' && *end != '\r' &&
		      *end != '\n' && *end != '\0';
	     end++)
		;
	/* Percent-decoding, then no parent segments and no NUL: the root is the task's
	 * directory. */
	while (p < end) {
		char ch = *p;
		if (ch == '%' && end - p >= 3 && isxdigit((unsigned char)p[1]) &&
		    isxdigit((unsigned char)p[2])) {
			char hex[3] = {p[1], p[2], 0};
			ch = (char)strtol(hex, NULL, 16);
			p += 3;
		} else {
			p++;
		}
		if (ch == '\0' || j + 1 >= rlen)
			return DTF_EINVAL;
		rel[j++] = ch;
	}
	rel[j] = '\0';
	if (strstr(rel, "..") || rel[0] == '/')
		return DTF_EINVAL;
	return 0;
}

/* Put at the top of every HTML page served, before any of the page's own scripts: messages
 * posted before the harness (which runs after the load event) hooks them are kept in
 * window.__dtfMessages, and a {dtfResult} among them is the page's result. */
static const char early_hooks[] =
    "<script>(function () { var m = window.__dtfMessages = [];"
    " window.addEventListener('message', function (e) { if (m.length < 1000) m.push(e.data);"
    " if (e.data && e.data.dtfResult !== undefined) window.dtfResult = e.data.dtfResult; });"
    " })();</script>\n";

/* page with early_hooks after its doctype (a script before it would put the page in quirks
 * mode), or at the start. New buffer or NULL. */
static char *with_early_hooks(const char *page, size_t len, size_t *out_len)
{
	size_t at = 0, hl = strlen(early_hooks);
	char *out;

	while (at < len && isspace((unsigned char)page[at]))
		at++;
	if (len - at >= 9 && strncasecmp(page + at, "<!doctype", 9) == 0) {
		const char *gt = memchr(page + at, '>', len - at);
		at = gt ? (size_t)(gt - page) + 1 : 0;
	} else {
		at = 0;
	}
	out = malloc(len + hl + 1);
	if (!out)
		return NULL;
	memcpy(out, page, at);
	memcpy(out + at, early_hooks, hl);
	memcpy(out + at + hl, page + at, len - at);
	out[len + hl] = '\0';
	*out_len = len + hl;
	return out;
}

/* Serves one request: GET of a file under the root. */
static void serve_one(struct fileserver *fs, int fd)
{
	char req[8192], rel[2048], file[8192];
	size_t got = 0;
	char *data = NULL;
	size_t len;
	struct timeval tv = {5, 0};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (got < sizeof(req) - 1) {
		ssize_t r = recv(fd, req + got, sizeof(req) - 1 - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	req[got] = '\0';
	if (dtf_bpool_request_path(req, got, rel, sizeof(rel)) != 0) {
		reply(fd, 404, "text/plain", "not found\n", 10);
		return;
	}
	snprintf(file, sizeof(file), "%s/%s", fs->root, rel[0] ? rel : "index.html");
	if (dtf_read_file(file, PAGE_FILE_MAX, &data, &len) != 0 &&
	    strcmp(rel, "favicon.ico") == 0) {
		/* Browsers ask for it by themselves: no 404 in the page's console for that. */
		reply(fd, 200, "image/x-icon", "", 0);
		return;
	}
	if (!data) {
		reply(fd, 404, "text/plain", "not found\n", 10);
		return;
	}
	if (strncmp(content_type(file), "text/html", 9) == 0) {
		size_t hlen;
		char *h = with_early_hooks(data, len, &hlen);
		if (h) {
			free(data);
			data = h;
			len = hlen;
		}
	}
	reply(fd, 200, content_type(file), data, len);
	free(data);
}

static void *fileserver_main(void *arg)
{
	struct fileserver *fs = arg;

	while (!atomic_load(&fs->stop)) {
		struct pollfd pfd = {.fd = fs->fd, .events = POLLIN};
		int c;
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		c = accept(fs->fd, NULL, NULL);
		if (c < 0)
			continue;
		serve_one(fs, c);
		close(c);
	}
	return NULL;
}

static int fileserver_start(struct fileserver *fs, const char *root)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);

	memset(fs, 0, sizeof(*fs));
	snprintf(fs->root, sizeof(fs->root), "%s", root);
	fs->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fs->fd < 0)
		return DTF_EIO;
	if (bind(fs->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fs->fd, 64) != 0 ||
	    getsockname(fs->fd, (struct sockaddr *)&sa, &sl) != 0) {
		close(fs->fd);
		return DTF_EIO;
	}
	fs->port = ntohs(sa.sin_port);
	if (spawn_thread(&fs->thread, fileserver_main, fs) != 0) {
		close(fs->fd);
		return DTF_ENOMEM;
	}
	fs->running = true;
	return 0;
}

static void fileserver_stop(struct fileserver *fs)
{
	if (!fs->running)
		return;
	atomic_store(&fs->stop, 1);
	pthread_join(fs->thread, NULL);
	close(fs->fd);
	fs->running = false;
}

/* ---- instances ------------------------------------------------------------------------------ */

static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = 0;

	if (fd < 0)
		return 0;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* Kills the instance's process group and reaps the driver. */
static void kill_instance(struct instance *in)
{
	if (in->pgid > 0) {
		kill(-in->pgid, SIGKILL);
		/* The keeper is our child; the driver and the browser's processes are in its
		 * group, reparented to init (or a subreaper) when it dies. */
		waitpid(in->pgid, NULL, 0);
	}
	in->pgid = 0;
	in->wd.session[0] = '\0';
}

static json_t *launch_args(struct dtf_bpool *p)
{
	json_t *args = dtf_json_split(p->flags, " ");
	json_t *extra = p->extra[0] ? dtf_json_split(p->extra, " ") : NULL;

	if (extra)
		json_array_extend(args, extra);
	json_decref(extra);
	/* Chromium refuses to start as root with its sandbox on. */
	if (geteuid() == 0)
		json_array_append_new(args, json_string("--no-sandbox"));
	return args;
}

/* The driver's path for execv (the child must not search PATH: after fork in a threaded
 * process only async-signal-safe calls are allowed). */
static void resolve_driver(const char *driver, char *out, size_t outlen)
{
	const char *path = getenv("PATH");
	char cand[1024];

	snprintf(out, outlen, "%s", driver);
	if (strchr(driver, '/') || !path)
		return;
	while (*path) {
		size_t n = strcspn(path, ":");
		snprintf(cand, sizeof(cand), "%.*s/%s", (int)n, n ? path : ".", driver);
		if (access(cand, X_OK) == 0) {
			snprintf(out, outlen, "%s", cand);
			return;
		}
		path += n + (path[n] == ':');
	}
}

/* Starts the driver under a keeper: a child of the worker that leads a new session, forks the
 * driver into it, and then only watches. It kills its whole group (the driver, the browser and
 * its helpers, itself) when the driver exits, or when the pipe from the worker reads end of file:
 * the worker is gone, however it died. prctl(PR_SET_PDEATHSIG) would not do: it fires when the
 * thread that forked exits (the pool starts instances from short-lived threads), and the
 * browser, a grandchild, would not get it anyway. The keeper runs only async-signal-safe calls
 * and closes every descriptor it inherited but the pipe, so it holds none of the worker's
 * sockets open. Returns 0 with *pid the keeper's pid (the group's id), or an errno. */
static int spawn_driver(struct dtf_bpool *p, char *const argv[], const char *logpath, pid_t *pid)
{
	char path[1024];
	int nullfd, logfd, err;
	sigset_t none;
	pid_t k;

	resolve_driver(p->driver, path, sizeof(path));
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (nullfd < 0 || logfd < 0) {
		err = errno;
		if (nullfd >= 0)
			close(nullfd);
		if (logfd >= 0)
			close(logfd);
		return err;
	}
	sigemptyset(&none);
	k = fork();
	if (k == 0) {
		struct sigaction dfl;
		pid_t d;
		int sig, st;

		/* No signal blocked or caught as the worker's threads have them. */
		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		for (sig = 1; sig < NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				sigaction(sig, &dfl, NULL);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setsid();
		if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0 ||
		    dup2(p->life_r, 3) < 0)
			_exit(127);
		close_range(4, ~0U, 0);
		d = fork();
		if (d == 0) {
			close(3);
			execv(path, argv);
			_exit(127);
		}
		if (d < 0)
			_exit(127);
		for (;;) {
			struct pollfd pf = {.fd = 3, .events = POLLIN};
			if (poll(&pf, 1, 250) > 0 || waitpid(d, &st, WNOHANG) != 0)
				kill(0, SIGKILL);
		}
	}
	err = k < 0 ? errno : 0;
	close(nullfd);
	close(logfd);
	if (k > 0)
		*pid = k;
	return err;
}

/* Starts the driver and a session in it. Called without the lock on an instance this thread
 * owns (starting or recycling). */
static int start_instance(struct dtf_bpool *p, struct instance *in)
{
	char portarg[32], base[64];
	char *argv[] = {p->driver, portarg, "--allowed-ips=127.0.0.1", NULL};
	char logpath[1200];
	json_t *caps, *reply = NULL;
	pid_t pid = 0;
	int rc;

	in->port = free_port();
	snprintf(portarg, sizeof(portarg), "--port=%d", in->port);
	/* The driver's chatter goes to a log beside the tasks' directories, not the worker's. */
	snprintf(logpath, sizeof(logpath), "%s/browser-%d.log", p->work_dir, in->index);
	rc = spawn_driver(p, argv, logpath, &pid);
	if (rc != 0) {
		snprintf(in->last_error, sizeof(in->last_error), "cannot start %s: %s", p->driver,
			 strerror(rc));
		return DTF_ESPAWN;
	}
	in->pgid = pid;
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", in->port);
	dtf_wd_init(&in->wd, base);
	rc = dtf_wd_wait_ready(&in->wd, 15);
	if (rc == 0) {
		caps = json_pack("{s:s,s:{s:s,s:o},s:{s:s}}", "browserName", "chrome",
				 "goog:chromeOptions", "binary", p->binary, "args", launch_args(p),
				 "goog:loggingPrefs", "browser", "ALL");
		rc = dtf_wd_new_session(&in->wd, caps, &reply);
		json_decref(caps);
	}
	if (rc) {
		snprintf(in->last_error, sizeof(in->last_error), "%s", in->wd.err);
		kill_instance(in);
		json_decref(reply);
		return rc;
	}
	snprintf(in->version, sizeof(in->version), "%s",
		 dtf_json_str(json_object_get(reply, "capabilities"), "browserVersion", ""));
	json_decref(reply);
	in->tasks = 0;
	return 0;
}

/* Replaces an instance's processes with fresh ones (it stays owned by the caller). */
static int restart_instance(struct dtf_bpool *p, struct instance *in, const char *why)
{
	int rc;

	if (in->pgid > 0 && in->wd.session[0])
		dtf_wd_delete_session(&in->wd, 3);
	kill_instance(in);
	in->restarts++;
	rc = start_instance(p, in);
	if (rc)
		log_warn("browser %d: cannot start (%s): %s", in->index, why, in->last_error);
	else
		log_info("browser %d: replaced (%s)", in->index, why);
	return rc;
}

/* The memory of every process in the group (proportional set sizes), in MiB. */
static double group_rss_mb(pid_t pgid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	double kb = 0;
	long page_kb = sysconf(_SC_PAGESIZE) / 1024;

	if (!d || pgid <= 0) {
		if (d)
			closedir(d);
		return 0;
	}
	while ((e = readdir(d))) {
		char path[64], buf[1024], *rp;
		FILE *f;
		long pg = 0, rss = 0;
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && (rp = strrchr(buf, ')')) &&
		    sscanf(rp + 2,
			   "%*c %*d %ld %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
			   "%*d %*d %*d %*u %*u %ld",
			   &pg, &rss) == 2 &&
		    pg == pgid) {
			/* The proportional share (Pss): the helpers share most of their pages,
			 * which a sum of resident sets would count once per process. */
			char line[256];
			long pss = -1;
			FILE *sm;
			snprintf(path, sizeof(path), "/proc/%s/smaps_rollup", e->d_name);
			sm = fopen(path, "r");
			while (sm && fgets(line, sizeof(line), sm))
				if (sscanf(line, "Pss: %ld kB", &pss) == 1)
					break;
			if (sm)
				fclose(sm);
			kb += pss >= 0 ? (double)pss : (double)(rss * page_kb);
		}
		fclose(f);
	}
	closedir(d);
	return kb / 1024.0;
}

static bool alive(struct instance *in)
{
	return in->pgid > 0 && waitpid(in->pgid, NULL, WNOHANG) == 0;
}

/* Takes an idle instance (marked busy), or NULL when cancelled. */
static struct instance *acquire(struct dtf_bpool *p, atomic_int *cancel)
{
	struct instance *got = NULL;

	pthread_mutex_lock(&p->lock);
	while (!got && !(cancel && atomic_load(cancel))) {
		for (int i = 0; i < p->n && !got; i++)
			if (p->inst[i].state == I_IDLE || p->inst[i].state == I_DOWN)
				got = &p->inst[i];
		if (!got) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 200 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&p->idle, &p->lock, &ts);
		}
	}
	if (got)
		got->state = got->state == I_DOWN ? I_RECYCLING : I_BUSY;
	pthread_mutex_unlock(&p->lock);
	if (got && got->state == I_RECYCLING) {
		/* Its last replacement failed: try again now that a task needs it. */
		if (restart_instance(p, got, "was down") != 0) {
			pthread_mutex_lock(&p->lock);
			got->state = I_DOWN;
			pthread_cond_broadcast(&p->idle);
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		got->state = I_BUSY;
	}
	return got;
}

static void set_state(struct dtf_bpool *p, struct instance *in, enum inst_state s)
{
	pthread_mutex_lock(&p->lock);
	in->state = s;
	pthread_cond_broadcast(&p->idle);
	pthread_mutex_unlock(&p->lock);
}

/* Gives an instance back; replaces it first when it is spent, too big or broken. */
static void release(struct dtf_bpool *p, struct instance *in, const char *broken)
{
	char why[128] = "";

	in->tasks++;
	if (broken)
		snprintf(why, sizeof(why), "%s", broken);
	else if (!alive(in))
		snprintf(why, sizeof(why), "driver exited");
	else if (p->cfg.recycle_after > 0 && in->tasks >= p->cfg.recycle_after)
		snprintf(why, sizeof(why), "recycled after %ld tasks", in->tasks);
	else if (p->cfg.memory_mb > 0) {
		double mb = group_rss_mb(in->pgid);
		if (mb > p->cfg.memory_mb)
			snprintf(why, sizeof(why), "%.0f MiB past the bound of %.0f MiB", mb,
				 p->cfg.memory_mb);
	}
	if (why[0]) {
		set_state(p, in, broken ? I_CRASHED : I_RECYCLING);
		if (restart_instance(p, in, why) != 0) {
			set_state(p, in, I_DOWN);
			return;
		}
	}
	set_state(p, in, I_IDLE);
}

/* Every second, each idle instance is asked whether its browser still answers; one that died
 * while idle (killed, crashed) is replaced before a task finds it dead. */
static void *supervisor_main(void *arg)
{
	struct dtf_bpool *p = arg;

	while (!atomic_load(&p->stopping)) {
		for (int i = 0; i < 10 && !atomic_load(&p->stopping); i++) {
			struct timespec ts = {0, 100 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		for (int i = 0; i < p->n && !atomic_load(&p->stopping); i++) {
			struct instance *in = &p->inst[i];
			bool mine = false;
			pthread_mutex_lock(&p->lock);
			if (in->state == I_IDLE) {
				in->state = I_RECYCLING;
				mine = true;
			}
			pthread_mutex_unlock(&p->lock);
			if (!mine)
				continue;
			if (dtf_wd_current_url(&in->wd, NULL) == 0 ||
			    in->wd.fail != DTF_WD_BROWSER) {
				set_state(p, in, I_IDLE);
				continue;
			}
			set_state(p, in, I_CRASHED);
			set_state(p, in,
				  restart_instance(p, in, "crashed while idle") ? I_DOWN : I_IDLE);
		}
	}
	return NULL;
}

/* ---- running a page ------------------------------------------------------------------------- */

/* The harness: a first script hooks errors and postMessage and starts the task's script (if
 * any) without waiting for it; then short polls wait for window.dtfResult or an error, with the
 * browser's log read between them, so that an uncaught exception the hooks could not see (one
 * thrown while the page loaded, or before they were set) ends the task at once. */
static const char harness_start[] =
    "const done = arguments[arguments.length - 1];\n"
    "const errs = window.__dtfErrors || (window.__dtfErrors = []);\n"
    "if (!window.__dtfHooked) {\n"
    "  window.__dtfHooked = true;\n"
    "  window.addEventListener('error', e => errs.push(String(e.error && e.error.stack || "
    "e.message)));\n"
    "  window.addEventListener('unhandledrejection', e => errs.push('Uncaught (in promise) ' + "
    "String(e.reason && e.reason.stack || e.reason)));\n"
    "  window.addEventListener('message', e => { if (e.data && e.data.dtfResult !== undefined) "
    "window.dtfResult = e.data.dtfResult; });\n"
    "}\n"
    "(async () => { %s\n })().catch(e => errs.push(String(e && e.stack || e)));\n"
    "done(true);\n";

static const char harness_poll[] =
    "const done = arguments[arguments.length - 1];\n"
    "const until = Date.now() + %ld;\n"
    "const errs = window.__dtfErrors || [];\n"
    "const poll = () => {\n"
    "  if (window.dtfResult !== undefined) return done({result: window.dtfResult, errors: errs});\n"
    "  if (errs.length) return done({errors: errs});\n"
    "  if (Date.now() >= until) return done({pending: true});\n"
    "  setTimeout(poll, 20);\n"
    "};\n"
    "poll();\n";

#define POLL_MS 1000

static char *harness(const char *script)
{
	struct dtf_buf b;

	dtf_buf_init(&b, 4u << 20);
	if (dtf_buf_printf(&b, harness_start, script ? script : "")) {
		dtf_buf_release(&b);
		return NULL;
	}
	return b.data;
}

/* What one page run gave. */
struct page_run {
	json_t *value;	  /* the harness's answer, or NULL */
	json_t *log;	  /* console entries */
	int fail;	  /* enum dtf_wd_fail of a failed call */
	char err[512];	  /* its message */
	bool timed_out;	  /* the page did not finish in time */
	bool load_errors; /* uncaught exceptions while it loaded */
	bool dead_before; /* the instance was found dead before the page was loaded */
	bool cancelled;	  /* the task was cancelled while its page ran */
	int64_t start_ms; /* wall clock */
	int64_t end_ms;
	int instance;
};

static void page_run_release(struct page_run *r)
{
	json_decref(r->value);
	json_decref(r->log);
	memset(r, 0, sizeof(*r));
}

static void append_log(struct page_run *r, struct dtf_wd *wd)
{
	json_t *e = NULL;

	if (dtf_wd_browser_log(wd, &e) == 0)
		json_array_extend(r->log, e);
	json_decref(e);
}

static bool is_uncaught(json_t *entry)
{
	return strcmp(dtf_json_str(entry, "source", ""), "javascript") == 0 &&
	       strcmp(dtf_json_str(entry, "level", ""), "SEVERE") == 0;
}

static bool has_uncaught(json_t *log)
{
	size_t i;
	json_t *e;

	json_array_foreach(log, i, e)
		if (is_uncaught(e))
			return true;
	return false;
}

static void call_failed(struct page_run *r, struct instance *in)
{
	r->fail = in->wd.fail;
	snprintf(r->err, sizeof(r->err), "%s", in->wd.err);
	/* A call cut by the watchdog: the browser does not answer, whatever the page does. */
	if (r->fail == DTF_WD_TIMEOUT && strstr(in->wd.err, "watchdog"))
		r->timed_out = true;
}

/* Loads url in the instance and runs the harness; never fails as a C call: r says what
 * happened. */
static void run_page(struct instance *in, const char *url, const char *script, double timeout_s,
		     atomic_int *cancel, struct page_run *r)
{
	char *h = harness(script), poll[1024];
	int64_t deadline = dtf_mono_ms() + (int64_t)(timeout_s * 1000);
	json_t *old = NULL, *v = NULL;

	r->log = json_array();
	r->instance = in->index;
	r->start_ms = dtf_wall_ms();
	/* Is the browser still there (the driver answers the log from its own buffer, so it is
	 * asked for the page's URL)? And what the last page left in the log is not this task's. */
	if (dtf_wd_current_url(&in->wd, NULL) || dtf_wd_browser_log(&in->wd, &old)) {
		call_failed(r, in);
		r->dead_before = r->fail == DTF_WD_BROWSER;
		goto out;
	}
	if (!h) {
		r->fail = DTF_WD_BROWSER;
		snprintf(r->err, sizeof(r->err), "out of memory");
		goto out;
	}
	if (dtf_wd_set_timeouts(&in->wd, POLL_MS / 1000.0 + 30, timeout_s + 5) ||
	    dtf_wd_navigate(&in->wd, url, timeout_s + WATCHDOG_GRACE_S)) {
		call_failed(r, in);
		goto out;
	}
	append_log(r, &in->wd);
	if ((r->load_errors = has_uncaught(r->log)))
		goto out;
	if (dtf_wd_execute_async(&in->wd, h, timeout_s + WATCHDOG_GRACE_S, &v)) {
		call_failed(r, in);
		goto out;
	}
	for (;;) {
		long left = (long)(deadline - dtf_mono_ms());
		json_decref(v);
		v = NULL;
		if (left <= 0) {
			r->timed_out = true;
			break;
		}
		if (cancel && atomic_load(cancel)) {
			r->cancelled = true;
			break;
		}
		snprintf(poll, sizeof(poll), harness_poll, left < POLL_MS ? left : (long)POLL_MS);
		if (dtf_wd_execute_async(&in->wd, poll, POLL_MS / 1000.0 + WATCHDOG_GRACE_S, &v)) {
			call_failed(r, in);
			break;
		}
		if (!dtf_json_bool(v, "pending", false)) {
			r->value = v;
			v = NULL;
			break;
		}
		append_log(r, &in->wd);
		if ((r->load_errors = has_uncaught(r->log)))
			break;
	}
	if (!r->timed_out || r->fail != DTF_WD_TIMEOUT)
		append_log(r, &in->wd);
out:
	json_decref(old);
	json_decref(v);
	r->end_ms = dtf_wall_ms();
	free(h);
}

/* Runs one page with the retry on a fresh instance when the browser broke. */
static void run_with_retry(struct dtf_bpool *p, const char *url, const char *script,
			   double timeout_s, atomic_int *cancel, struct page_run *r, int *retries)
{
	int dead = 0;

	for (int attempt = 0; attempt < 2; attempt++) {
		struct instance *in = acquire(p, cancel);
		if (!in) {
			r->log = json_array();
			r->fail = DTF_WD_BROWSER;
			snprintf(r->err, sizeof(r->err), "no browser instance could be started");
			return;
		}
		run_page(in, url, script, timeout_s, cancel, r);
		if (r->dead_before && dead++ < p->n) {
			/* An idle instance that died meanwhile: replaced; the page has not run, so
			 * this is not its retry. */
			release(p, in, "crashed while idle");
			page_run_release(r);
			attempt--;
			continue;
		}
		if (r->fail == DTF_WD_BROWSER) {
			char why[600];
			snprintf(why, sizeof(why), "crashed: %s", r->err);
			release(p, in, why);
			if (attempt == 0) {
				log_warn("browser %d crashed (%s); the page is retried on a fresh "
					 "instance",
					 in->index, r->err);
				page_run_release(r);
				(*retries)++;
				continue;
			}
			return;
		}
		/* A page that did not finish may still hold the browser busy: a fresh one. */
		release(p, in,
			r->timed_out   ? "hung past its timeout"
			: r->cancelled ? "its task was cancelled"
				       : NULL);
		return;
	}
}

static void console_text(struct dtf_buf *out, struct dtf_buf *err, json_t *log)
{
	size_t i;
	json_t *e;

	json_array_foreach(log, i, e) {
		const char *lvl = dtf_json_str(e, "level", "INFO");
		dtf_buf_printf(out, "[console %s] %s\n", lvl, dtf_json_str(e, "message", ""));
		if (strcmp(lvl, "SEVERE") == 0)
			dtf_buf_printf(err, "%s\n", dtf_json_str(e, "message", ""));
	}
}

/* The first error a run had, for the task's message. */
static void first_error(struct page_run *r, char *msg, size_t len)
{
	json_t *errs = json_object_get(r->value, "errors"), *e;
	size_t i;

	if (json_array_size(errs)) {
		snprintf(msg, len, "%s", json_string_value(json_array_get(errs, 0)));
		return;
	}
	json_array_foreach(r->log, i, e)
		if (is_uncaught(e)) {
			snprintf(msg, len, "%s", dtf_json_str(e, "message", ""));
			return;
		}
	snprintf(msg, len, "%s", r->err[0] ? r->err : "the page failed");
}

static json_t *testcases_of(json_t *res, const char *prefix)
{
	json_t *tests = json_object_get(res, "tests"), *out = json_array(), *t;
	size_t i;

	json_array_foreach(tests, i, t) {
		const char *st = dtf_json_str(t, "status", NULL);
		json_t *c;
		if (!st)
			st = dtf_json_bool(t, "passed", true) ? "passed" : "failed";
		c = json_pack("{s:s+,s:s}", "name", prefix, dtf_json_str(t, "name", "test"),
			      "status", st);
		if (json_is_string(json_object_get(t, "message")))
			json_object_set(c, "message", json_object_get(t, "message"));
		if (json_is_number(json_object_get(t, "duration_s")))
			json_object_set(c, "duration_s", json_object_get(t, "duration_s"));
		json_array_append_new(out, c);
	}
	return out;
}

/* A member of the task: the core keeps the ones it does not know (page, script, shards, …) in
 * its params. */
static json_t *tfield(json_t *task, const char *key)
{
	json_t *v = json_object_get(task, key);

	return v ? v : json_object_get(json_object_get(task, "params"), key);
}

static const char *tstr(json_t *task, const char *key, const char *dflt)
{
	json_t *v = tfield(task, key);

	return json_is_string(v) ? json_string_value(v) : dflt;
}

/* The page's URL: the task's "url" as is, or its "page" served from its directory. */
static int page_url(json_t *task, struct fileserver *fs, bool *served, char *url, size_t len)
{
	const char *u = tstr(task, "url", NULL);
	const char *page = tstr(task, "page", NULL);
	const char *cwd = dtf_json_str(task, "cwd", NULL);
	const char *wd = dtf_json_str(task, "work_dir", ".");
	char root[4096];

	*served = false;
	if (u) {
		snprintf(url, len, "%s", u);
		return 0;
	}
	if (!page)
		return DTF_EINVAL;
	if (cwd && cwd[0] == '/')
		snprintf(root, sizeof(root), "%s", cwd);
	else if (cwd)
		snprintf(root, sizeof(root), "%s/%s", wd, cwd);
	else
		snprintf(root, sizeof(root), "%s", wd);
	while (*page == '/')
		page++;
	{
		char file[8192];
		struct stat st;
		snprintf(file, sizeof(file), "%s/%.*s", root, (int)strcspn(page, "?#"), page);
		if (stat(file, &st) != 0 || !S_ISREG(st.st_mode))
			return DTF_ENOTFOUND;
	}
	if (fileserver_start(fs, root) != 0)
		return DTF_EIO;
	*served = true;
	snprintf(url, len, "http://127.0.0.1:%d/%s", fs->port, page);
	return 0;
}

struct shard_arg {
	struct dtf_bpool *p;
	const char *url;
	char *script;
	double timeout_s;
	atomic_int *cancel;
	struct page_run run;
	int retries;
	pthread_t thread;
};

static void *shard_main(void *arg)
{
	struct shard_arg *s = arg;

	run_with_retry(s->p, s->url, s->script, s->timeout_s, s->cancel, &s->run, &s->retries);
	return NULL;
}

/* A shard's script: the task's items for it are in window.dtfShard before the task's script. */
static char *shard_script(json_t *task, int k, int K)
{
	json_t *items = tfield(task, "items"), *mine = json_array(), *sh;
	struct dtf_buf b;
	char *s;

	for (size_t i = 0; i < json_array_size(items); i++)
		if ((int)(i % (size_t)K) == k)
			json_array_append(mine, json_array_get(items, i));
	sh = json_pack("{s:i,s:i,s:o}", "index", k, "count", K, "items", mine);
	s = json_dumps(sh, JSON_COMPACT);
	json_decref(sh);
	dtf_buf_init(&b, 8u << 20);
	dtf_buf_printf(&b, "window.dtfShard = %s;\n%s", s ? s : "null", tstr(task, "script", ""));
	free(s);
	return b.data;
}

json_t *dtf_bpool_run(struct dtf_bpool *p, json_t *task, atomic_int *cancel)
{
	struct fileserver fs = {0};
	bool served = false;
	char url[4600], msg[1024] = "";
	double timeout_s = dtf_json_num(task, "timeout_s", 60);
	int K = json_is_integer(tfield(task, "shards"))
		    ? (int)json_integer_value(tfield(task, "shards"))
		    : 1;
	struct shard_arg *sh = NULL;
	struct dtf_buf out, err;
	json_t *result = json_object(), *metrics = json_object(), *cases = json_array(), *shards;
	json_t *msgj;
	const char *outcome = "passed", *kind = NULL, *reason = NULL;
	int64_t t0 = dtf_mono_ms();
	int retries = 0, rc;

	dtf_buf_init(&out, p->cfg.output_cap ? p->cfg.output_cap : (1u << 20));
	dtf_buf_init(&err, p->cfg.output_cap ? p->cfg.output_cap : (1u << 20));
	shards = json_array();
	if (timeout_s <= 0)
		timeout_s = 60;
	if (K < 1)
		K = 1;
	if (K > MAX_SHARDS)
		K = MAX_SHARDS;
	if (strcmp(tstr(task, "browser", p->browser), p->browser) != 0) {
		outcome = "failed";
		kind = "infrastructure";
		reason = "browser_missing";
		snprintf(msg, sizeof(msg), "this worker's pool has %s, not %s", p->browser,
			 tstr(task, "browser", ""));
		goto done;
	}
	if ((rc = page_url(task, &fs, &served, url, sizeof(url))) != 0) {
		outcome = "failed";
		kind = rc == DTF_ENOTFOUND ? "test_failures" : "infrastructure";
		reason = rc == DTF_ENOTFOUND ? "page_missing" : "browser_task";
		if (rc == DTF_ENOTFOUND)
			snprintf(msg, sizeof(msg), "the page %s is not in %s",
				 tstr(task, "page", ""), tstr(task, "cwd", "the task's directory"));
		else
			snprintf(msg, sizeof(msg), "a browser task needs \"page\" or \"url\"");
		goto done;
	}
	sh = calloc((size_t)K, sizeof(*sh));
	for (int k = 0; sh && k < K; k++) {
		sh[k].p = p;
		sh[k].url = url;
		sh[k].script = K > 1 ? shard_script(task, k, K) : strdup(tstr(task, "script", ""));
		sh[k].timeout_s = timeout_s;
		sh[k].cancel = cancel;
		if (K == 1)
			shard_main(&sh[k]);
		else
			spawn_thread(&sh[k].thread, shard_main, &sh[k]);
	}
	for (int k = 0; sh && K > 1 && k < K; k++)
		pthread_join(sh[k].thread, NULL);
	for (int k = 0; sh && k < K; k++) {
		struct page_run *r = &sh[k].run;
		json_t *res = json_object_get(r->value, "result"), *m, *v;
		const char *key;
		char prefix[32] = "", start[32], end[32], one[1024] = "";
		bool ok = res && !r->fail && !r->timed_out && !r->load_errors && !r->cancelled &&
			  !json_array_size(json_object_get(r->value, "errors")) &&
			  dtf_json_bool(res, "passed", false);
		json_t *tc;

		retries += sh[k].retries;
		if (K > 1) {
			snprintf(prefix, sizeof(prefix), "shard%d/", k);
			dtf_buf_printf(&out, "--- shard %d (browser %d) ---\n", k, r->instance);
		}
		console_text(&out, &err, r->log);
		m = json_object_get(res, "metrics");
		json_object_foreach(m, key, v) {
			if (K > 1) {
				char name[256];
				snprintf(name, sizeof(name), "%s%s", prefix, key);
				json_object_set(metrics, name, v);
			} else {
				json_object_set(metrics, key, v);
			}
		}
		tc = testcases_of(res, prefix);
		json_array_extend(cases, tc);
		json_decref(tc);
		dtf_rfc3339(r->start_ms, start);
		dtf_rfc3339(r->end_ms, end);
		if (!ok) {
			if (r->cancelled) {
				snprintf(one, sizeof(one), "the task was cancelled");
			} else if (r->fail == DTF_WD_BROWSER) {
				snprintf(one, sizeof(one), "the browser crashed twice: %s", r->err);
			} else if (r->timed_out) {
				snprintf(one, sizeof(one), "the page did not finish in %.1f s",
					 timeout_s);
			} else if (res && !r->fail && !r->load_errors &&
				   !json_array_size(json_object_get(r->value, "errors"))) {
				snprintf(one, sizeof(one), "the page reported passed: false%s%s",
					 json_is_string(json_object_get(res, "message")) ? ": "
											 : "",
					 dtf_json_str(res, "message", ""));
			} else {
				first_error(r, one, sizeof(one));
			}
			dtf_buf_printf(&err, "%s%s\n", prefix, one);
			if (strcmp(outcome, "passed") == 0) {
				outcome = "failed";
				snprintf(msg, sizeof(msg), "%s%s", prefix, one);
				if (r->cancelled) {
					kind = "cancelled";
				} else if (r->fail == DTF_WD_BROWSER) {
					kind = "infrastructure";
					reason = "browser_crashed";
				} else if (r->timed_out) {
					kind = "timeout";
				} else {
					kind = "test_failures";
					reason = "page";
				}
			}
		}
		json_array_append_new(
		    shards,
		    json_pack("{s:i,s:i,s:s,s:s,s:f,s:b,s:O?,s:i,s:s?}", "shard", k, "instance",
			      r->instance, "started_at", start, "finished_at", end, "duration_s",
			      (double)(r->end_ms - r->start_ms) / 1000.0, "passed", ok, "metrics",
			      m, "retries", sh[k].retries, "error", ok ? NULL : one));
	}
done:
	if (served)
		fileserver_stop(&fs);
	for (int k = 0; sh && k < K; k++) {
		page_run_release(&sh[k].run);
		free(sh[k].script);
	}
	free(sh);
	json_object_set_new(result, "exit_code", json_integer(strcmp(outcome, "passed") ? 1 : 0));
	json_object_set_new(result, "signal", json_integer(0));
	json_object_set_new(result, "duration_s", json_real((double)(dtf_mono_ms() - t0) / 1000.0));
	json_object_set_new(result, "stdout", json_stringn(out.data ? out.data : "", out.len));
	json_object_set_new(result, "stderr", json_stringn(err.data ? err.data : "", err.len));
	if (!json_object_get(result, "stdout"))
		json_object_set_new(result, "stdout", json_string(""));
	if (!json_object_get(result, "stderr"))
		json_object_set_new(result, "stderr", json_string(""));
	if (json_object_size(metrics))
		json_object_set(result, "metrics", metrics);
	if (json_array_size(cases))
		json_object_set(result, "testcases", cases);
	json_object_set_new(result, "browser",
			    json_pack("{s:s,s:s,s:i,s:O}", "name", p->browser, "version",
				      p->n ? p->inst[0].version : "", "retries", retries, "shards",
				      shards));
	json_decref(metrics);
	json_decref(cases);
	json_decref(shards);
	msgj = json_pack("{s:s,s:o}", "outcome", outcome, "result", result);
	if (kind) {
		json_t *e = json_pack("{s:s,s:s}", "kind", kind, "message", msg);
		if (reason)
			json_object_set_new(e, "reason", json_string(reason));
		json_object_set_new(msgj, "error", e);
	}
	dtf_buf_release(&out);
	dtf_buf_release(&err);
	return msgj;
}

/* ---- probes --------------------------------------------------------------------------------- */

/* What the page can use: WebGPU (adapter, info, limits, features, a compute shader that doubles
 * and adds one) and WebNN (a context per device type). */
static const char probe_js[] =
    "const done = arguments[arguments.length - 1];\n"
    "(async () => {\n"
    "  const r = {webgpu: {available: !!navigator.gpu}, webnn: {available: !!navigator.ml}};\n"
    "  if (navigator.gpu) {\n"
    "    try {\n"
    "      const a = await navigator.gpu.requestAdapter();\n"
    "      r.webgpu.adapter = !!a;\n"
    "      if (a) {\n"
    "        const i = a.info || {};\n"
    "        r.webgpu.info = {vendor: i.vendor || '', architecture: i.architecture || '',\n"
    "          device: i.device || '', description: i.description || ''};\n"
    "        r.webgpu.fallback = !!(a.isFallbackAdapter || i.isFallbackAdapter);\n"
    "        r.webgpu.features = Array.from(a.features).sort();\n"
    "        const l = {};\n"
    "        for (const k of ['maxBufferSize', 'maxStorageBufferBindingSize',\n"
    "          'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup',\n"
    "          'maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension'])\n"
    "          l[k] = a.limits[k];\n"
    "        r.webgpu.limits = l;\n"
    "        const d = await a.requestDevice();\n"
    "        const m = d.createShaderModule({code: '@group(0) @binding(0) var<storage, "
    "read_write> v: array<u32>; @compute @workgroup_size(4) fn main(@builtin(global_invocation_id) "
    "g: vec3u) { v[g.x] = v[g.x] * 2u + 1u; }'});\n"
    "        const p = d.createComputePipeline({layout: 'auto', compute: {module: m, "
    "entryPoint: 'main'}});\n"
    "        const b = d.createBuffer({size: 16, usage: GPUBufferUsage.STORAGE | "
    "GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST});\n"
    "        d.queue.writeBuffer(b, 0, new Uint32Array([1, 2, 3, 4]));\n"
    "        const rb = d.createBuffer({size: 16, usage: GPUBufferUsage.MAP_READ | "
    "GPUBufferUsage.COPY_DST});\n"
    "        const bg = d.createBindGroup({layout: p.getBindGroupLayout(0), entries: "
    "[{binding: 0, resource: {buffer: b}}]});\n"
    "        const e = d.createCommandEncoder();\n"
    "        const pass = e.beginComputePass();\n"
    "        pass.setPipeline(p); pass.setBindGroup(0, bg); pass.dispatchWorkgroups(1); "
    "pass.end();\n"
    "        e.copyBufferToBuffer(b, 0, rb, 0, 16);\n"
    "        d.queue.submit([e.finish()]);\n"
    "        await rb.mapAsync(GPUMapMode.READ);\n"
    "        const got = Array.from(new Uint32Array(rb.getMappedRange()));\n"
    "        r.webgpu.compute_ok = got.join(',') === '3,5,7,9';\n"
    "        d.destroy();\n"
    "      }\n"
    "    } catch (x) { r.webgpu.error = String(x); }\n"
    "  }\n"
    "  for (const dev of ['cpu', 'gpu', 'npu']) {\n"
    "    let ok = false;\n"
    "    if (navigator.ml) {\n"
    "      try { await navigator.ml.createContext({deviceType: dev}); ok = true; }\n"
    "      catch (x) { r.webnn[dev + '_error'] = String(x); }\n"
    "    }\n"
    "    r.webnn[dev] = ok;\n"
    "  }\n"
    "  done(r);\n"
    "})();\n";

/* Software rendering, whatever its name: SwiftShader, a fallback adapter, llvmpipe. */
static bool software_adapter(json_t *gpu)
{
	json_t *info = json_object_get(gpu, "info");
	const char *words[] = {"swiftshader", "llvmpipe", "lavapipe", "software",
			       "microsoft basic"};
	char all[512];

	if (dtf_json_bool(gpu, "fallback", false))
		return true;
	snprintf(all, sizeof(all), "%s %s %s %s", dtf_json_str(info, "vendor", ""),
		 dtf_json_str(info, "architecture", ""), dtf_json_str(info, "device", ""),
		 dtf_json_str(info, "description", ""));
	for (char *c = all; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(all, words[i]))
			return true;
	return false;
}

static json_t *probe(struct dtf_bpool *p, struct instance *in)
{
	char dir[1100], file[1200], url[128];
	struct fileserver fs;
	json_t *v = NULL, *r, *gpu;

	snprintf(dir, sizeof(dir), "%s/.browser-probe", p->work_dir);
	snprintf(file, sizeof(file), "%s/index.html", dir);
	dtf_mkdirs(dir, 0755);
	dtf_write_file(file, "<!doctype html><title>dtf probe</title>\n", 39);
	r = json_pack("{s:s,s:s}", "name", p->browser, "version", in->version);
	if (fileserver_start(&fs, dir) != 0)
		return r;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/index.html", fs.port);
	if (dtf_wd_set_timeouts(&in->wd, 60, 60) == 0 && dtf_wd_navigate(&in->wd, url, 60) == 0 &&
	    dtf_wd_execute_async(&in->wd, probe_js, 70, &v) == 0 && json_is_object(v)) {
		json_object_update(r, v);
	} else {
		json_object_set_new(r, "probe_error", json_string(in->wd.err));
	}
	json_decref(v);
	fileserver_stop(&fs);
	dtf_rmtree(dir);
	gpu = json_object_get(r, "webgpu");
	if (dtf_json_bool(gpu, "adapter", false))
		json_object_set_new(gpu, "software", json_boolean(software_adapter(gpu)));
	return r;
}

/* ---- the pool ------------------------------------------------------------------------------- */

int dtf_bpool_parse_spec(const char *spec, const char **browser, int *n)
{
	const char *colon = strchr(spec, ':');
	size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
	char *end;
	long v = 1;

	if (len != strlen("chromium") || strncmp(spec, "chromium", len) != 0)
		return DTF_EINVAL;
	if (colon) {
		errno = 0;
		v = strtol(colon + 1, &end, 10);
		if (errno || *end || end == colon + 1 || v < 1 || v > MAX_INSTANCES)
			return DTF_EINVAL;
	}
	*browser = "chromium";
	*n = (int)v;
	return 0;
}

struct start_arg {
	struct dtf_bpool *p;
	struct instance *in;
	int rc;
	pthread_t t;
};

static void *start_main(void *arg)
{
	struct start_arg *s = arg;

	s->rc = start_instance(s->p, s->in);
	return NULL;
}

struct dtf_bpool *dtf_bpool_new(const struct dtf_bpool_config *cfg, char *err, size_t errlen)
{
	struct dtf_bpool *p = calloc(1, sizeof(*p));
	struct start_arg sa[MAX_INSTANCES];
	int up = 0;

	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->cfg = *cfg;
	snprintf(p->browser, sizeof(p->browser), "%s", cfg->browser ? cfg->browser : "chromium");
	snprintf(p->driver, sizeof(p->driver), "%s", cfg->driver ? cfg->driver : "chromedriver");
	snprintf(p->binary, sizeof(p->binary), "%s",
		 cfg->binary ? cfg->binary : "/usr/bin/chromium");
	snprintf(p->flags, sizeof(p->flags), "%s", cfg->flags ? cfg->flags : DEFAULT_FLAGS);
	snprintf(p->extra, sizeof(p->extra), "%s", cfg->extra_flags ? cfg->extra_flags : "");
	snprintf(p->work_dir, sizeof(p->work_dir), "%s", cfg->work_dir ? cfg->work_dir : ".");
	p->n = cfg->size < 1 ? 1 : cfg->size > MAX_INSTANCES ? MAX_INSTANCES : cfg->size;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->idle, NULL);
	{
		int fds[2];
		if (pipe2(fds, O_CLOEXEC) != 0) {
			snprintf(err, errlen, "cannot make a pipe: %s", strerror(errno));
			pthread_mutex_destroy(&p->lock);
			pthread_cond_destroy(&p->idle);
			free(p);
			return NULL;
		}
		p->life_r = fds[0];
		p->life_w = fds[1];
	}
	/* Instances start at once: a browser takes a second or two to come up. */
	for (int i = 0; i < p->n; i++) {
		p->inst[i].index = i;
		p->inst[i].state = I_STARTING;
		sa[i] = (struct start_arg){.p = p, .in = &p->inst[i]};
		spawn_thread(&sa[i].t, start_main, &sa[i]);
	}
	for (int i = 0; i < p->n; i++) {
		pthread_join(sa[i].t, NULL);
		p->inst[i].state = sa[i].rc ? I_DOWN : I_IDLE;
		if (!sa[i].rc)
			up++;
	}
	if (!up) {
		snprintf(err, errlen, "no %s instance could be started: %s", p->browser,
			 p->inst[0].last_error);
		dtf_bpool_free(p);
		return NULL;
	}
	for (int i = 0; i < p->n; i++)
		if (p->inst[i].state == I_IDLE) {
			p->probe = probe(p, &p->inst[i]);
			break;
		}
	json_object_set_new(p->probe, "instances", json_integer(p->n));
	p->supervised = spawn_thread(&p->supervisor, supervisor_main, p) == 0;
	log_info("browser pool: %d of %d %s instances up (version %s)", up, p->n, p->browser,
		 dtf_json_str(p->probe, "version", "?"));
	return p;
}

void dtf_bpool_free(struct dtf_bpool *p)
{
	if (!p)
		return;
	atomic_store(&p->stopping, 1);
	if (p->supervised)
		pthread_join(p->supervisor, NULL);
	for (int i = 0; i < p->n; i++) {
		if (p->inst[i].pgid > 0 && p->inst[i].wd.session[0])
			dtf_wd_delete_session(&p->inst[i].wd, 3);
		kill_instance(&p->inst[i]);
	}
	close(p->life_r);
	close(p->life_w);
	json_decref(p->probe);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->idle);
	free(p);
}

void dtf_bpool_add_capabilities(struct dtf_bpool *p, json_t *caps)
{
	json_t *hw = json_object_get(caps, "hardware"), *list = json_object_get(caps, "browsers");
	json_t *gpu, *nn;
	char cls[64];

	if (!p || !p->probe)
		return;
	if (!json_is_array(hw)) {
		hw = json_array();
		json_object_set_new(caps, "hardware", hw);
	}
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(caps, "browsers", list);
	}
	json_array_append(list, p->probe);
	snprintf(cls, sizeof(cls), "browser:%s", p->browser);
	json_array_append_new(hw, json_string(cls));
	gpu = json_object_get(p->probe, "webgpu");
	if (dtf_json_bool(gpu, "adapter", false) && dtf_json_bool(gpu, "compute_ok", false))
		json_array_append_new(hw, json_string(dtf_json_bool(gpu, "software", true)
							  ? "webgpu:software"
							  : "webgpu"));
	nn = json_object_get(p->probe, "webnn");
	for (const char *const *d = (const char *const[]){"cpu", "gpu", "npu", NULL}; *d; d++)
		if (dtf_json_bool(nn, *d, false)) {
			snprintf(cls, sizeof(cls), "webnn:%s", *d);
			json_array_append_new(hw, json_string(cls));
		}
}

json_t *dtf_bpool_status(struct dtf_bpool *p)
{
	json_t *a = json_array();

	if (!p)
		return a;
	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < p->n; i++)
		json_array_append_new(
		    a, json_pack("{s:i,s:s,s:s,s:I,s:I,s:i}", "index", i, "browser", p->browser,
				 "state", state_names[p->inst[i].state], "tasks",
				 (json_int_t)p->inst[i].tasks, "restarts",
				 (json_int_t)p->inst[i].restarts, "pid", (int)p->inst[i].pgid));
	pthread_mutex_unlock(&p->lock);
	return a;
}
