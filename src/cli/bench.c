/* bench.c: `dtf bench`, the coordinator's ceiling. Starts a real coordinator (this binary, on a
 * loopback port and a fresh database) and drives it over HTTP from one event loop with many
 * keep-alive connections:
 *   submit    batched POST /api/v1/tasks (--batch tasks each, --submitters connections at once):
 *             tasks accepted per second, every one committed before its reply;
 *   complete  --workers simulated workers that finish each leased task at once: each request
 *             reports the previous lease's results and leases the next --lease-max tasks;
 *             tasks completed per second, every change committed;
 *   longpoll  --poll-workers workers, each holding one long-polling connection, against
 *             --pending tasks: a worker leases one task, holds it --task-ms (an exponential
 *             think time with that mean), reports it and leases the next in one request;
 *             lease latency p50/p99/max over --duration seconds (as the client read each reply,
 *             and to the reply's arrival, the kernel's receive time: the coordinator's own
 *             latency without the client's queue of replies to read), the CPU both used and how
 *             long they waited for one, and the coordinator's peak RSS (VmHWM).
 * The simulated workers run no processes: what is measured is the coordinator. --db-url puts the
 * coordinator on a PostgreSQL database instead of a fresh SQLite file: dtf's tables there are
 * dropped before each phase, so it must be a database kept for benchmarks. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/token.h"
#include "common/util.h"
#include "net/http.h"

#define MAX_REPLY (64u << 20)

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- a minimal keep-alive HTTP/1.1 client connection for the event loop ---- */

/* --tls-cert: the coordinator under test serves HTTPS and every bench connection speaks TLS
 * (GnuTLS, handshaken once when the connection opens, then kept alive like the plain ones). */
static struct {
	const char *cert, *key, *ca; /* ca: verify the coordinator with it; NULL: do not */
	gnutls_certificate_credentials_t cred;
} btls;

struct bconn {
	int fd;
	gnutls_session_t tls; /* NULL without --tls-cert */
	int idx;
	bool busy; /* a request is in flight */
	struct dtf_buf out, in;
	size_t out_off;
	int64_t sent_us, next_us; /* when the request went out; when to send the next (0: now) */
	int64_t sent_rt_ns; /* when the request went out, CLOCK_REALTIME (the kernel's clock) */
	int64_t rx_ns;	    /* when the kernel received the last bytes read (0: not known) */
	int hpos;	    /* place in the bench's timer heap; -1: not in it */
	char worker_id[64], token[DTF_TOKEN_MAX + 1];
	json_t *results; /* results to report with the next lease */
	bool done;
	bool parked; /* the request in flight only asks for work (reports nothing) */
};

/* The connections waiting to send (not busy, not done) are kept in a heap by next_us, so that a
 * step of the event loop looks only at the ones whose time has come: with 10,000 long-polling
 * workers, a walk over all of them at every step cost the client more than the replies did, and
 * its replies waited in their sockets meanwhile. */
struct bench {
	unsigned port;
	int ep;
	struct bconn *conns;
	int nconns;
	struct bconn **heap, **again; /* again: popped, still idle, pushed back after the step */
	int nheap;
	bool heap_built;
	int ndone; /* connections marked done */
};

static int connect_loopback(unsigned port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* The kernel stamps each reply as it arrives, so a lease's latency is the coordinator's
	 * and not also the time the reply waited for this one-threaded client to read it. */
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	return fd;
}

/* Starts TLS on the (still blocking) connection. 0 or DTF_ENET. */
static int tls_open(struct bconn *cn)
{
	int rc;

	if (gnutls_init(&cn->tls, GNUTLS_CLIENT) < 0)
		return DTF_ENET;
	gnutls_set_default_priority(cn->tls);
	gnutls_credentials_set(cn->tls, GNUTLS_CRD_CERTIFICATE, btls.cred);
	if (btls.ca)
		gnutls_session_set_verify_cert(cn->tls, "127.0.0.1", 0);
	gnutls_transport_set_int(cn->tls, cn->fd);
	do
		rc = gnutls_handshake(cn->tls);
	while (rc < 0 && !gnutls_error_is_fatal(rc));
	if (rc < 0) {
		fprintf(stderr, "dtf bench: TLS handshake: %s\n", gnutls_strerror(rc));
		return DTF_ENET;
	}
	return 0;
}

/* write() and read() on the connection, through TLS when it has it (EAGAIN as errno). */
static ssize_t conn_write(struct bconn *cn, const void *p, size_t n)
{
	ssize_t r;

	if (!cn->tls)
		return write(cn->fd, p, n);
	r = gnutls_record_send(cn->tls, p, n);
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
		errno = EAGAIN;
		return -1;
	}
	return r < 0 ? -1 : r;
}

static ssize_t conn_read(struct bconn *cn, void *p, size_t n)
{
	ssize_t r;

	if (!cn->tls) {
		union {
			char buf[CMSG_SPACE(sizeof(struct timespec))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = {.iov_base = p, .iov_len = n};
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = &ctl,
				   .msg_controllen = sizeof(ctl)};
		struct cmsghdr *c;

		r = recvmsg(cn->fd, &m, 0);
		for (c = r > 0 ? CMSG_FIRSTHDR(&m) : NULL; c; c = CMSG_NXTHDR(&m, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;
				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				cn->rx_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
			}
		}
		return r;
	}
	r = gnutls_record_recv(cn->tls, p, n);
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
		errno = EAGAIN;
		return -1;
	}
	return r < 0 ? -1 : r;
}

static int bench_open(struct bench *b, int n)
{
	int i;

	b->conns = calloc((size_t)n, sizeof(*b->conns));
	b->heap = calloc((size_t)n, sizeof(*b->heap));
	b->again = calloc((size_t)n, sizeof(*b->again));
	if (!b->conns || !b->heap || !b->again)
		return DTF_ENOMEM;
	b->nconns = n;
	b->nheap = 0;
	b->heap_built = false;
	b->ndone = 0;
	for (i = 0; i < n; i++) {
		struct bconn *cn = &b->conns[i];
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = cn};
		cn->idx = i;
		cn->hpos = -1;
		dtf_buf_init(&cn->out, MAX_REPLY);
		dtf_buf_init(&cn->in, MAX_REPLY);
		cn->fd = connect_loopback(b->port);
		if (cn->fd >= 0 && btls.cert && tls_open(cn) != 0)
			return DTF_ENET;
		if (cn->fd >= 0)
			fcntl(cn->fd, F_SETFL, fcntl(cn->fd, F_GETFL) | O_NONBLOCK);
		if (cn->fd < 0 || epoll_ctl(b->ep, EPOLL_CTL_ADD, cn->fd, &ev) != 0) {
			fprintf(stderr, "dtf bench: connection %d: %s\n", i, strerror(errno));
			return DTF_ENET;
		}
	}
	return 0;
}

static void bench_close(struct bench *b)
{
	int i;

	for (i = 0; i < b->nconns; i++) {
		if (b->conns[i].tls)
			gnutls_deinit(b->conns[i].tls);
		if (b->conns[i].fd >= 0)
			close(b->conns[i].fd);
		dtf_buf_release(&b->conns[i].out);
		dtf_buf_release(&b->conns[i].in);
		json_decref(b->conns[i].results);
	}
	free(b->conns);
	free(b->heap);
	free(b->again);
	b->conns = NULL;
	b->heap = b->again = NULL;
	b->nconns = b->nheap = 0;
}

/* ---- the timer heap (a binary min-heap on next_us) ---- */

static void heap_set(struct bench *b, int i, struct bconn *cn)
{
	b->heap[i] = cn;
	cn->hpos = i;
}

static void heap_up(struct bench *b, int i)
{
	struct bconn *cn = b->heap[i];

	while (i > 0 && b->heap[(i - 1) / 2]->next_us > cn->next_us) {
		heap_set(b, i, b->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(b, i, cn);
}

static void heap_down(struct bench *b, int i)
{
	struct bconn *cn = b->heap[i];

	for (;;) {
		int k = 2 * i + 1;
		if (k >= b->nheap)
			break;
		if (k + 1 < b->nheap && b->heap[k + 1]->next_us < b->heap[k]->next_us)
			k++;
		if (b->heap[k]->next_us >= cn->next_us)
			break;
		heap_set(b, i, b->heap[k]);
		i = k;
	}
	heap_set(b, i, cn);
}

static void heap_push(struct bench *b, struct bconn *cn)
{
	if (cn->hpos >= 0)
		return;
	heap_set(b, b->nheap++, cn);
	heap_up(b, cn->hpos);
}

static struct bconn *heap_pop(struct bench *b)
{
	struct bconn *top = b->heap[0];

	top->hpos = -1;
	if (--b->nheap > 0) {
		heap_set(b, 0, b->heap[b->nheap]);
		heap_down(b, 0);
	}
	return top;
}

static void set_done(struct bench *b, struct bconn *cn)
{
	if (!cn->done)
		b->ndone++;
	cn->done = true;
}

static int flush_out(struct bench *b, struct bconn *cn)
{
	while (cn->out_off < cn->out.len) {
		ssize_t n = conn_write(cn, cn->out.data + cn->out_off, cn->out.len - cn->out_off);
		if (n < 0 && errno == EAGAIN) {
			struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = cn};
			return epoll_ctl(b->ep, EPOLL_CTL_MOD, cn->fd, &ev);
		}
		if (n <= 0)
			return DTF_ENET;
		cn->out_off += (size_t)n;
	}
	return 0;
}

/* --auth: the coordinator has keys (this admin key; workers get JWTs), and every request sends
 * the key, to measure what authentication costs (bench/RESULTS.md). NULL: no keys. */
static const char *auth_key;
#define BENCH_KEY "bench-admin-key-0123456789abcdef"

static int send_req(struct bench *b, struct bconn *cn, const char *method, const char *path,
		    const char *body, size_t len)
{
	dtf_buf_reset(&cn->out);
	dtf_buf_reset(&cn->in);
	cn->out_off = 0;
	dtf_buf_printf(&cn->out,
		       "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
		       "Content-Length: %zu\r\n",
		       method, path, len);
	if (cn->token[0])
		dtf_buf_printf(&cn->out, "X-DTF-Worker-Token: %s\r\n", cn->token);
	if (auth_key)
		dtf_buf_printf(&cn->out, "Authorization: Bearer %s\r\n", auth_key);
	dtf_buf_adds(&cn->out, "\r\n");
	if (len && dtf_buf_add(&cn->out, body, len) != 0)
		return DTF_ENOMEM;
	cn->busy = true;
	cn->rx_ns = 0;
	cn->sent_us = now_us();
	cn->sent_rt_ns = realtime_ns();
	return flush_out(b, cn);
}

/* Reads what is there; returns 1 with the status and body once a whole reply is in, 0 when more
 * is needed, or a DTF_E* code. */
static int read_reply(struct bconn *cn, int *status, const char **body, size_t *blen)
{
	char tmp[65536];
	const char *hend, *cl;
	size_t hlen, want;

	for (;;) {
		ssize_t n = conn_read(cn, tmp, sizeof(tmp));
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			return DTF_ENET;
		if (dtf_buf_add(&cn->in, tmp, (size_t)n) != 0)
			return DTF_ENOMEM;
	}
	if (!cn->in.data)
		return 0;
	hend = memmem(cn->in.data, cn->in.len, "\r\n\r\n", 4);
	if (!hend)
		return 0;
	hlen = (size_t)(hend - cn->in.data) + 4;
	cl = strcasestr(cn->in.data, "\r\nContent-Length:");
	if (!cl || cl > hend)
		return DTF_EPROTO;
	want = strtoul(cl + 17, NULL, 10);
	if (cn->in.len < hlen + want)
		return 0;
	*status = atoi(cn->in.data + 9);
	*body = cn->in.data + hlen;
	*blen = want;
	cn->busy = false;
	return 1;
}

/* One event-loop step: waits for replies (or until the earliest next_us), calls on_reply for
 * each complete one, and on_timer for idle connections whose next_us has come. */
typedef int (*reply_fn)(struct bench *b, struct bconn *cn, int status, const char *body, size_t len,
			void *arg);
typedef int (*timer_fn)(struct bench *b, struct bconn *cn, void *arg);

static int bench_step(struct bench *b, reply_fn on_reply, timer_fn on_timer, void *arg)
{
	struct epoll_event evs[256];
	int64_t now = now_us(), next = now + 100000;
	int i, n, timeout, nagain = 0;

	if (on_timer) {
		if (!b->heap_built) {
			for (i = 0; i < b->nconns; i++)
				if (!b->conns[i].busy && !b->conns[i].done)
					heap_push(b, &b->conns[i]);
			b->heap_built = true;
		}
		while (b->nheap && b->heap[0]->next_us <= now) {
			struct bconn *cn = heap_pop(b);
			int rc = on_timer(b, cn, arg);
			if (rc)
				return rc;
			/* Still idle: asked again at the next step, as before the heap. */
			if (!cn->busy && !cn->done)
				b->again[nagain++] = cn;
		}
		for (i = 0; i < nagain; i++)
			heap_push(b, b->again[i]);
		if (b->nheap && b->heap[0]->next_us < next)
			next = b->heap[0]->next_us;
	}
	timeout = (int)((next - now_us() + 999) / 1000);
	n = epoll_wait(b->ep, evs, 256, timeout < 0 ? 0 : timeout);
	for (i = 0; i < n; i++) {
		struct bconn *cn = evs[i].data.ptr;
		int status = 0, rc;
		const char *body = NULL;
		size_t len = 0;
		if (evs[i].events & EPOLLOUT) {
			struct epoll_event ev = {.events = EPOLLIN, .data.ptr = cn};
			if (flush_out(b, cn) == 0 && cn->out_off == cn->out.len)
				epoll_ctl(b->ep, EPOLL_CTL_MOD, cn->fd, &ev);
		}
		if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
			continue;
		rc = read_reply(cn, &status, &body, &len);
		if (rc < 0) {
			fprintf(stderr, "dtf bench: connection %d: the coordinator closed it\n",
				cn->idx);
			return rc;
		}
		if (rc == 1) {
			rc = on_reply(b, cn, status, body, len, arg);
			if (rc)
				return rc;
			if (on_timer && !cn->busy && !cn->done)
				heap_push(b, cn);
		}
	}
	return 0;
}

/* ---- the coordinator under test ---- */

struct child {
	pid_t pid;
	unsigned port;
	char dir[256];
};

/* --db-url: the PostgreSQL database the coordinator runs on, or NULL for a fresh SQLite file. */
static const char *bench_db_url;

/* Empties the benchmark's PostgreSQL database of dtf's tables, so that each phase starts on a
 * fresh state as it does on a new SQLite file. */
static int reset_pg(const char *url)
{
	PGconn *conn = PQconnectdb(url);
	PGresult *res = NULL;
	int rc = 0;

	if (PQstatus(conn) == CONNECTION_OK)
		res = PQexec(conn, "SET client_min_messages = warning; DROP TABLE IF EXISTS runs, "
				   "tasks, attempts, workers, recovery, durations, outbox, "
				   "schema_version");
	if (PQstatus(conn) != CONNECTION_OK || PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "dtf bench: cannot empty the database: %s", PQerrorMessage(conn));
		rc = DTF_EIO;
	}
	PQclear(res);
	PQfinish(conn);
	return rc;
}

static int start_coordinator(struct child *ch, bool no_group)
{
	char portfile[300], db[300], log[300], self[4096];
	const char *other = getenv("DTF_BENCH_COORDINATOR");
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int i;

	if (n <= 0)
		return DTF_EIO;
	self[n] = '\0';
	/* An A/B drives another build's coordinator with this one's client. */
	if (other && *other)
		snprintf(self, sizeof(self), "%s", other);
	snprintf(ch->dir, sizeof(ch->dir), "%s/dtf-bench.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(ch->dir))
		return DTF_EIO;
	snprintf(portfile, sizeof(portfile), "%s/port", ch->dir);
	snprintf(db, sizeof(db), "%s/bench.db", ch->dir);
	if (bench_db_url && reset_pg(bench_db_url) != 0)
		return DTF_EIO;
	snprintf(log, sizeof(log), "%s/coordinator.log", ch->dir);
	ch->pid = fork();
	if (ch->pid < 0)
		return DTF_EIO;
	if (ch->pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		const char *av[20];
		int ac = 0;
		av[ac++] = "dtf";
		av[ac++] = "coordinator";
		av[ac++] = "--port";
		av[ac++] = "0";
		av[ac++] = "--port-file";
		av[ac++] = portfile;
		av[ac++] = "--db-path";
		av[ac++] = bench_db_url ? bench_db_url : db;
		av[ac++] = "--heartbeat-timeout";
		av[ac++] = "600";
		av[ac++] = "--worker-auto-discovery";
		if (no_group)
			av[ac++] = "--no-group-commit";
		if (auth_key) {
			av[ac++] = "--api-key";
			av[ac++] = "bench:admin:" BENCH_KEY;
		}
		if (btls.cert) {
			av[ac++] = "--tls-cert";
			av[ac++] = btls.cert;
			av[ac++] = "--tls-key";
			av[ac++] = btls.key;
		}
		av[ac] = NULL;
		execv(self, (char *const *)av);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		char *s = NULL;
		size_t len;
		if (dtf_read_file(portfile, 64, &s, &len) == 0 && len > 0) {
			ch->port = (unsigned)atoi(s);
			free(s);
			if (ch->port)
				return 0;
		}
		free(s);
		usleep(25000);
	}
	fprintf(stderr, "dtf bench: the coordinator did not start (see %s)\n", log);
	return DTF_ETIMEOUT;
}

static long vm_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	FILE *f;
	long v = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0)
			v = atol(line + strlen(key) + 1);
	fclose(f);
	return v;
}

static double cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return 0;
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void stop_coordinator(struct child *ch)
{
	if (ch->pid > 0) {
		kill(ch->pid, SIGTERM);
		waitpid(ch->pid, NULL, 0);
	}
	if (ch->dir[0] && !getenv("DTF_BENCH_KEEP") &&
	    nftw(ch->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "dtf bench: cannot remove %s\n", ch->dir);
}

/* ---- phases ---- */

struct opts {
	int tasks, batch, submitters, workers, lease_max, poll_workers, pending;
	double task_ms, duration_s;
	bool no_group;
	const char *phases;
	const char *latency_log; /* longpoll: every lease's times, to see when the slow ones came */
};

struct submit_st {
	char *body;
	size_t len;
	int left; /* batches not yet sent */
	int inflight;
	int accepted;
};

static int submit_reply(struct bench *b, struct bconn *cn, int status, const char *body, size_t len,
			void *arg)
{
	struct submit_st *s = arg;
	json_t *v;

	(void)b;
	s->inflight--;
	if (status != 201) {
		fprintf(stderr, "dtf bench: submission answered %d: %.*s\n", status,
			(int)(len > 300 ? 300 : len), body);
		return DTF_EPROTO;
	}
	v = json_loadb(body, len, 0, NULL);
	s->accepted += (int)json_integer_value(json_object_get(v, "count"));
	json_decref(v);
	cn->next_us = 0;
	return 0;
}

static int submit_timer(struct bench *b, struct bconn *cn, void *arg)
{
	struct submit_st *s = arg;

	if (s->left == 0) {
		set_done(b, cn);
		return 0;
	}
	s->left--;
	s->inflight++;
	return send_req(b, cn, "POST", "/api/v1/tasks", s->body, s->len);
}

/* Submits n tasks in batches; returns the elapsed seconds, or < 0. */
static double submit(unsigned port, int n, int batch, int conns, const char *tag)
{
	struct bench b = {.port = port};
	struct submit_st s = {0};
	struct dtf_buf body;
	int64_t t0;
	int i, rc = 0;

	if (batch > n)
		batch = n;
	dtf_buf_init(&body, MAX_REPLY);
	dtf_buf_adds(&body, "{\"tasks\":[");
	for (i = 0; i < batch; i++)
		dtf_buf_printf(&body, "%s{\"name\":\"%s-%d\",\"command\":[\"true\"]}", i ? "," : "",
			       tag, i);
	dtf_buf_adds(&body, "]}");
	s.body = body.data;
	s.len = body.len;
	s.left = n / batch;
	b.ep = epoll_create1(EPOLL_CLOEXEC);
	if (b.ep < 0 || bench_open(&b, conns) != 0) {
		rc = DTF_ENET;
		goto out;
	}
	t0 = now_us();
	while (rc == 0 && (s.left > 0 || s.inflight > 0))
		rc = bench_step(&b, submit_reply, submit_timer, &s);
	if (rc == 0 && s.accepted != (n / batch) * batch) {
		fprintf(stderr, "dtf bench: %d of %d tasks accepted\n", s.accepted, n);
		rc = DTF_EPROTO;
	}
out:
	bench_close(&b);
	if (b.ep >= 0)
		close(b.ep);
	dtf_buf_release(&body);
	return rc ? -1 : (double)(now_us() - t0) / 1e6;
}

static int register_workers(struct bench *b, int slots, const char *prefix)
{
	struct dtf_http_client c;
	char url[64];
	int i, rc;

	snprintf(url, sizeof(url), "http%s://127.0.0.1:%u", btls.cert ? "s" : "", b->port);
	rc = dtf_http_client_init(&c, url, auth_key);
	if (rc)
		return rc;
	for (i = 0; i < b->nconns && rc == 0; i++) {
		struct bconn *cn = &b->conns[i];
		json_t *req, *resp = NULL;
		snprintf(cn->worker_id, sizeof(cn->worker_id), "%s-%d", prefix, i);
		req = json_pack("{s:s,s:i,s:{s:{s:i}}}", "worker_id", cn->worker_id, "slots", slots,
				"capabilities", "cpu", "cores", slots);
		rc = dtf_http_call(&c, "POST", "/api/v1/workers/register", req, 0, &resp);
		if (rc)
			fprintf(stderr, "dtf bench: register %s: %s\n", cn->worker_id, c.error);
		else
			snprintf(cn->token, sizeof(cn->token), "%s",
				 json_string_value(json_object_get(resp, "token")));
		json_decref(req);
		json_decref(resp);
		cn->results = json_array();
	}
	dtf_http_client_release(&c);
	return rc;
}

struct work_st {
	int target; /* tasks to complete (complete phase) */
	int completed;
	int lease_max;
	double wait_s;
	double task_ms;	 /* mean think time (longpoll phase); 0: report at once */
	int64_t end_us;	 /* longpoll: stop leasing after this */
	int64_t *lat;	 /* longpoll: lease latencies as this client read the replies, µs */
	int64_t *lat_rx; /* the same leases from the request's send to the reply's arrival (the
			  * kernel's receive time), µs; -1 where the kernel gave none (TLS) */
	size_t nlat, caplat;
	FILE *log;     /* --latency-log: "sent_ms read_us arrival_us" a lease */
	int64_t t0_us; /* the start of leasing */
	uint64_t rng;
};

static int send_lease(struct bench *b, struct bconn *cn, struct work_st *w)
{
	char path[128];
	char *s;
	bool over = w->end_us && now_us() >= w->end_us;
	json_t *req = json_pack("{s:i,s:f,s:O}", "max", over ? 0 : w->lease_max, "wait_s",
				over ? 0.0 : w->wait_s, "results", cn->results);
	int rc;

	snprintf(path, sizeof(path), "/api/v1/workers/%s/lease", cn->worker_id);
	cn->parked = json_array_size(cn->results) == 0;
	s = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	json_array_clear(cn->results);
	rc = s ? send_req(b, cn, "POST", path, s, strlen(s)) : DTF_ENOMEM;
	free(s);
	return rc;
}

static int work_timer(struct bench *b, struct bconn *cn, void *arg)
{
	struct work_st *w = arg;

	if (w->end_us && now_us() >= w->end_us && json_array_size(cn->results) == 0) {
		set_done(b, cn);
		return 0;
	}
	return send_lease(b, cn, w);
}

static double exp_ms(struct work_st *w)
{
	double u;

	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	u = (double)(w->rng >> 11) / 9007199254740992.0;
	return -log(1.0 - u) * w->task_ms;
}

static int work_reply(struct bench *b, struct bconn *cn, int status, const char *body, size_t len,
		      void *arg)
{
	struct work_st *w = arg;
	json_t *v, *tasks, *acks, *e;
	size_t i;

	if (status != 200) {
		fprintf(stderr, "dtf bench: lease answered %d: %.*s\n", status,
			(int)(len > 300 ? 300 : len), body);
		return DTF_EPROTO;
	}
	v = json_loadb(body, len, 0, NULL);
	tasks = json_object_get(v, "tasks");
	acks = json_object_get(v, "results");
	json_array_foreach(acks, i, e)
		if (json_is_true(json_object_get(e, "accepted")))
			w->completed++;
	if (w->lat && json_array_size(tasks)) {
		if (w->nlat == w->caplat) {
			size_t cap = w->caplat ? w->caplat * 2 : 65536;
			int64_t *n = realloc(w->lat, cap * sizeof(*n)),
				*m = n ? realloc(w->lat_rx, cap * sizeof(*m)) : NULL;
			if (n)
				w->lat = n;
			if (m)
				w->lat_rx = m;
			if (!n || !m) {
				json_decref(v);
				return DTF_ENOMEM;
			}
			w->caplat = cap;
		}
		w->lat[w->nlat] = now_us() - cn->sent_us;
		w->lat_rx[w->nlat] = cn->rx_ns ? (cn->rx_ns - cn->sent_rt_ns) / 1000 : -1;
		if (w->log)
			fprintf(w->log, "%.3f %lld %lld\n", (double)(cn->sent_us - w->t0_us) / 1000,
				(long long)w->lat[w->nlat], (long long)w->lat_rx[w->nlat]);
		w->nlat++;
	}
	json_array_foreach(tasks, i, e) {
		json_array_append_new(
		    cn->results,
		    json_pack("{s:s,s:I,s:s,s:{s:i,s:f}}", "task_id",
			      json_string_value(json_object_get(e, "id")), "attempt",
			      json_integer_value(json_object_get(e, "attempt")), "outcome",
			      "passed", "result", "exit_code", 0, "duration_s", 0.0));
	}
	json_decref(v);
	cn->next_us = w->task_ms > 0 && json_array_size(cn->results)
			  ? now_us() + (int64_t)(exp_ms(w) * 1000)
			  : 0;
	if (w->target && w->completed >= w->target)
		set_done(b, cn);
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int phase_submit(const struct opts *o, struct child *ch)
{
	double before = ch->pid > 0 ? cpu_s(ch->pid) : 0;
	double s = submit(ch->port, o->tasks, o->batch, o->submitters, "s");

	if (s < 0)
		return 1;
	printf("submit:   %d tasks in batches of %d over %d connections: %.2f s, %.0f tasks/s",
	       o->tasks, o->batch, o->submitters, s, o->tasks / s);
	if (ch->pid > 0)
		printf(" (coordinator CPU %.0f us/task)",
		       (cpu_s(ch->pid) - before) * 1e6 / o->tasks);
	printf("\n");
	return 0;
}

static int phase_complete(const struct opts *o, struct child *ch)
{
	struct bench b = {.port = ch->port};
	struct work_st w = {.lease_max = o->lease_max, .wait_s = 1.0};
	double before, s;
	int64_t t0;
	int rc = 0, done = 0, i;

	if (submit(ch->port, o->tasks, o->batch, o->submitters, "c") < 0)
		return 1;
	w.target = o->tasks;
	b.ep = epoll_create1(EPOLL_CLOEXEC);
	if (b.ep < 0 || bench_open(&b, o->workers) || register_workers(&b, o->lease_max, "cw")) {
		bench_close(&b);
		return 1;
	}
	before = cpu_s(ch->pid);
	t0 = now_us();
	while (rc == 0 && w.completed < w.target) {
		rc = bench_step(&b, work_reply, work_timer, &w);
		for (done = 0, i = 0; i < b.nconns; i++)
			done += b.conns[i].done;
		if (done == b.nconns)
			break;
	}
	s = (double)(now_us() - t0) / 1e6;
	bench_close(&b);
	close(b.ep);
	if (rc)
		return 1;
	printf("complete: %d tasks by %d workers leasing %d at a time: %.2f s, %.0f tasks/s "
	       "(coordinator CPU %.0f us/task)\n",
	       w.completed, o->workers, o->lease_max, s, w.completed / s,
	       (cpu_s(ch->pid) - before) * 1e6 / (w.completed ? w.completed : 1));
	return w.completed >= w.target ? 0 : 1;
}

/* drain: --workers simulated workers complete what the coordinator already holds (with --port,
 * tasks submitted before), --tasks of them, as complete does but without submitting first. */
static int phase_drain(const struct opts *o, struct child *ch)
{
	struct bench b = {.port = ch->port};
	struct work_st w = {.lease_max = o->lease_max, .wait_s = 1.0, .target = o->tasks};
	double s;
	int64_t t0;
	int rc = 0, done = 0, i;

	b.ep = epoll_create1(EPOLL_CLOEXEC);
	if (b.ep < 0 || bench_open(&b, o->workers) || register_workers(&b, o->lease_max, "dw")) {
		bench_close(&b);
		return 1;
	}
	t0 = now_us();
	while (rc == 0 && w.completed < w.target) {
		rc = bench_step(&b, work_reply, work_timer, &w);
		for (done = 0, i = 0; i < b.nconns; i++)
			done += b.conns[i].done;
		if (done == b.nconns)
			break;
	}
	s = (double)(now_us() - t0) / 1e6;
	bench_close(&b);
	close(b.ep);
	if (rc)
		return 1;
	printf("drain:    %d tasks by %d workers leasing %d at a time: %.2f s, %.0f tasks/s\n",
	       w.completed, o->workers, o->lease_max, s, w.completed / s);
	return w.completed >= w.target ? 0 : 1;
}

/* CPU time of every thread of pid, and the time they waited for a CPU while runnable
 * (/proc/PID/task/TID/schedstat), in seconds. On a machine shared with other work the wait says
 * how much of a latency was the scheduler's. */
static void sched_s(pid_t pid, double *run, double *wait)
{
	char path[300];
	DIR *d;
	struct dirent *de;

	*run = *wait = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		unsigned long long r = 0, q = 0;
		FILE *f;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", (int)pid, de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%llu %llu", &r, &q) == 2) {
			*run += (double)r / 1e9;
			*wait += (double)q / 1e9;
		}
		fclose(f);
	}
	closedir(d);
}

static double pct(int64_t *v, size_t n, double p)
{
	size_t i = (size_t)((double)n * p);

	return (double)v[i < n ? i : n - 1] / 1000.0;
}

static int phase_longpoll(const struct opts *o, struct child *ch)
{
	struct bench b = {.port = ch->port};
	struct work_st w = {
	    .lease_max = 1, .wait_s = 30, .task_ms = o->task_ms, .rng = 88172645463325252ull};
	double s, crun0 = 0, cwait0 = 0, crun1 = 0, cwait1 = 0, brun0, bwait0, brun1 = 0,
		  bwait1 = 0;
	int64_t t0, end;
	int rc = 0, done, i;
	bool measured = false;
	size_t n, nrx;

	if (submit(ch->port, o->pending, o->batch, o->submitters, "p") < 0)
		return 1;
	printf("longpoll: coordinator RSS %.1f MiB with %d tasks pending\n",
	       vm_kib(ch->pid, "VmRSS:") / 1024.0, o->pending);
	b.ep = epoll_create1(EPOLL_CLOEXEC);
	if (b.ep < 0 || bench_open(&b, o->poll_workers) || register_workers(&b, 1, "pw")) {
		bench_close(&b);
		return 1;
	}
	printf("longpoll: coordinator RSS %.1f MiB with %d workers connected\n",
	       vm_kib(ch->pid, "VmRSS:") / 1024.0, o->poll_workers);
	w.lat = NULL;
	/* Every worker starts leasing at a random point of its first think time, so the load is
	 * steady rather than one burst. */
	t0 = now_us();
	for (i = 0; i < b.nconns; i++)
		b.conns[i].next_us = t0 + (int64_t)(exp_ms(&w) * 1000);
	w.lat = malloc(sizeof(int64_t));
	w.lat_rx = malloc(sizeof(int64_t));
	w.t0_us = t0;
	if (o->latency_log && !(w.log = fopen(o->latency_log, "w"))) {
		fprintf(stderr, "dtf bench: cannot write %s\n", o->latency_log);
		rc = DTF_EIO;
	}
	w.caplat = 1;
	w.end_us = t0 + (int64_t)(o->duration_s * 1e6);
	if (ch->pid > 0)
		sched_s(ch->pid, &crun0, &cwait0);
	sched_s(getpid(), &brun0, &bwait0);
	while (rc == 0) {
		rc = bench_step(&b, work_reply, work_timer, &w);
		if (now_us() < w.end_us)
			continue;
		if (!measured) {
			if (ch->pid > 0)
				sched_s(ch->pid, &crun1, &cwait1);
			sched_s(getpid(), &brun1, &bwait1);
			measured = true;
		}
		/* Past the end, a worker whose long-poll only waits for work has nothing to report:
		 * it need not wait for the poll to end. */
		for (done = b.ndone, i = 0; i < b.nconns && done < b.nconns; i++)
			done += !b.conns[i].done && b.conns[i].busy && b.conns[i].parked;
		if (done == b.nconns)
			break;
	}
	end = now_us();
	s = (double)(end - t0) / 1e6;
	if (w.log)
		fclose(w.log);
	bench_close(&b);
	close(b.ep);
	n = w.nlat;
	if (rc || n == 0) {
		free(w.lat);
		free(w.lat_rx);
		return 1;
	}
	qsort(w.lat, n, sizeof(*w.lat), cmp_i64);
	qsort(w.lat_rx, n, sizeof(*w.lat_rx), cmp_i64);
	for (nrx = 0; nrx < n && w.lat_rx[nrx] < 0; nrx++)
		;
	printf("longpoll: %d long-polling workers, %d tasks pending at the start, mean task %.0f "
	       "ms: %zu leases in %.1f s (%.0f/s; then %.1f s for the last results); lease latency "
	       "p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
	       o->poll_workers, o->pending, o->task_ms, n, o->duration_s, n / o->duration_s,
	       s > o->duration_s ? s - o->duration_s : 0.0, pct(w.lat, n, 0.5), pct(w.lat, n, 0.99),
	       pct(w.lat, n, 1));
	/* The figure above is as this client read the replies; the one below ends when the reply
	 * arrived (the kernel's receive time): the coordinator's latency without this client's own
	 * queue of replies to read. */
	if (nrx < n)
		printf("longpoll: lease latency to the reply's arrival: p50 %.2f ms, p99 %.2f ms, "
		       "max %.2f ms\n",
		       pct(w.lat_rx + nrx, n - nrx, 0.5), pct(w.lat_rx + nrx, n - nrx, 0.99),
		       pct(w.lat_rx + nrx, n - nrx, 1));
	if (measured) {
		double d = o->duration_s;
		if (ch->pid > 0)
			printf(
			    "longpoll: coordinator CPU %.0f %% of a core (%.0f us a lease), waited "
			    "for a CPU %.0f %% of the time; ",
			    (crun1 - crun0) * 100 / d, (crun1 - crun0) * 1e6 / (double)n,
			    (cwait1 - cwait0) * 100 / d);
		printf("%sclient CPU %.0f %%, waited %.0f %%\n",
		       ch->pid > 0 ? "" : "longpoll: ", (brun1 - brun0) * 100 / d,
		       (bwait1 - bwait0) * 100 / d);
	}
	free(w.lat);
	free(w.lat_rx);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: dtf bench [options]\n"
	    "Starts a coordinator on a fresh database and loopback port and measures it.\n"
	    "  --phases LIST        submit,complete,longpoll (default all three), drain\n"
	    "  --tasks N            tasks for submit and complete (default 20000)\n"
	    "  --batch N            tasks per submission (default 1000)\n"
	    "  --submitters N       submission connections at once (default 2)\n"
	    "  --workers N          simulated workers in complete (default 8)\n"
	    "  --lease-max N        tasks a complete worker leases per request (default 64)\n"
	    "  --poll-workers N     long-polling workers in longpoll (default 1000)\n"
	    "  --pending N          tasks pending at the start of longpoll (default 100000)\n"
	    "  --task-ms MS         mean task duration of a longpoll worker (default 100)\n"
	    "  --duration S         how long longpoll leases (default 5)\n"
	    "  --latency-log F      longpoll: write each lease's send time (ms from the start),\n"
	    "                       latency as read and to the reply's arrival (us) to F\n"
	    "  --no-group-commit    start the coordinator with --no-group-commit\n"
	    "  --auth               API keys and workers' JWTs on (docs/auth.md)\n"
	    "  --tls-cert F --tls-key F   the coordinator serves HTTPS with them and every\n"
	    "                       connection speaks TLS (handshaken once, kept alive)\n"
	    "  --ca-cert F          verify the coordinator's certificate with this CA (default:\n"
	    "                       not verified; the connections are to loopback)\n"
	    "  --db-url URL         run the coordinator on this PostgreSQL database (its dtf\n"
	    "                       tables are dropped before each phase) instead of SQLite\n"
	    "  DTF_BENCH_COORDINATOR=BIN  start BIN's coordinator instead of this binary's (an "
	    "A/B)\n"
	    "  --port P             drive the coordinator already listening on this loopback\n"
	    "                       port instead of starting one (nothing is emptied); the\n"
	    "                       drain phase then completes --tasks of the tasks it holds\n");
}

int cmd_bench(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"phases", required_argument, NULL, 'P'},
	    {"tasks", required_argument, NULL, 'n'},
	    {"batch", required_argument, NULL, 'b'},
	    {"submitters", required_argument, NULL, 's'},
	    {"workers", required_argument, NULL, 'w'},
	    {"lease-max", required_argument, NULL, 'm'},
	    {"poll-workers", required_argument, NULL, 'W'},
	    {"pending", required_argument, NULL, 'p'},
	    {"task-ms", required_argument, NULL, 't'},
	    {"duration", required_argument, NULL, 'd'},
	    {"no-group-commit", no_argument, NULL, 'G'},
	    {"auth", no_argument, NULL, 'U'},
	    {"tls-cert", required_argument, NULL, 'C'},
	    {"tls-key", required_argument, NULL, 'K'},
	    {"ca-cert", required_argument, NULL, 'A'},
	    {"db-url", required_argument, NULL, 'D'},
	    {"port", required_argument, NULL, 'o'},
	    {"latency-log", required_argument, NULL, 'L'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct opts o = {.tasks = 20000,
			 .batch = 1000,
			 .submitters = 2,
			 .workers = 8,
			 .lease_max = 64,
			 .poll_workers = 1000,
			 .pending = 100000,
			 .task_ms = 100,
			 .duration_s = 5,
			 .phases = "submit,complete,longpoll"};
	struct child ch = {0};
	unsigned port = 0; /* --port: a running coordinator's */
	int opt, rc = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'P':
			o.phases = optarg;
			break;
		case 'n':
			o.tasks = atoi(optarg);
			break;
		case 'b':
			o.batch = atoi(optarg);
			break;
		case 's':
			o.submitters = atoi(optarg);
			break;
		case 'w':
			o.workers = atoi(optarg);
			break;
		case 'm':
			o.lease_max = atoi(optarg);
			break;
		case 'W':
			o.poll_workers = atoi(optarg);
			break;
		case 'p':
			o.pending = atoi(optarg);
			break;
		case 't':
			o.task_ms = atof(optarg);
			break;
		case 'd':
			o.duration_s = atof(optarg);
			break;
		case 'G':
			o.no_group = true;
			break;
		case 'U':
			auth_key = BENCH_KEY;
			break;
		case 'C':
			btls.cert = optarg;
			break;
		case 'K':
			btls.key = optarg;
			break;
		case 'A':
			btls.ca = optarg;
			break;
		case 'D':
			bench_db_url = optarg;
			break;
		case 'o':
			port = (unsigned)atoi(optarg);
			if (port == 0 || port > 65535) {
				fprintf(stderr, "dtf bench: bad --port\n");
				return 2;
			}
			break;
		case 'L':
			o.latency_log = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (o.tasks < 1 || o.batch < 1 || o.batch > 100000 || o.submitters < 1 || o.workers < 1 ||
	    o.lease_max < 1 || o.lease_max > 4096 || o.poll_workers < 1 || o.pending < 1 ||
	    o.task_ms < 0 || o.duration_s <= 0 || o.workers + o.poll_workers > 60000) {
		fprintf(stderr, "dtf bench: bad option value\n");
		return 2;
	}
	if (!btls.cert != !btls.key) {
		fprintf(stderr, "dtf bench: --tls-cert and --tls-key go together\n");
		return 2;
	}
	if (btls.cert) {
		struct dtf_tls_client tc = {.ca_cert = btls.ca, .insecure = !btls.ca};
		char terr[256];
		if (gnutls_certificate_allocate_credentials(&btls.cred) < 0 ||
		    (btls.ca && gnutls_certificate_set_x509_trust_file(btls.cred, btls.ca,
								       GNUTLS_X509_FMT_PEM) <= 0)) {
			fprintf(stderr, "dtf bench: cannot use the CA %s\n",
				btls.ca ? btls.ca : "");
			return 2;
		}
		if (dtf_http_client_tls(&tc, terr, sizeof(terr)) != 0) {
			fprintf(stderr, "dtf bench: %s\n", terr);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	{
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	if (port) {
		/* A coordinator of the caller's: every phase drives it in turn. */
		ch.port = port;
		if (strstr(o.phases, "submit"))
			rc |= phase_submit(&o, &ch);
		if (strstr(o.phases, "complete"))
			rc |= phase_complete(&o, &ch);
		if (strstr(o.phases, "drain"))
			rc |= phase_drain(&o, &ch);
		if (strstr(o.phases, "longpoll"))
			rc |= phase_longpoll(&o, &ch);
		goto out;
	}
	if (strstr(o.phases, "submit")) {
		if (start_coordinator(&ch, o.no_group) == 0)
			rc |= phase_submit(&o, &ch);
		else
			rc = 1;
		stop_coordinator(&ch);
	}
	if (strstr(o.phases, "complete")) {
		memset(&ch, 0, sizeof(ch));
		if (start_coordinator(&ch, o.no_group) == 0)
			rc |= phase_complete(&o, &ch);
		else
			rc = 1;
		stop_coordinator(&ch);
	}
	if (strstr(o.phases, "longpoll")) {
		memset(&ch, 0, sizeof(ch));
		if (start_coordinator(&ch, o.no_group) == 0) {
			rc |= phase_longpoll(&o, &ch);
			printf("longpoll: coordinator peak RSS (VmHWM) %.1f MiB, %d connections "
			       "open\n",
			       vm_kib(ch.pid, "VmHWM:") / 1024.0, o.poll_workers);
		} else {
			rc = 1;
		}
		stop_coordinator(&ch);
	}
	if (strstr(o.phases, "drain")) {
		fprintf(stderr, "dtf bench: the drain phase needs --port\n");
		rc = 1;
	}
out:
	if (btls.cred)
		gnutls_certificate_free_credentials(btls.cred);
	return rc ? 1 : 0;
}
