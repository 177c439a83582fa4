/* test_webdriver.c: the WebDriver client (worker/webdriver.c) against a fake WebDriver server
 * on loopback that records each request and answers with a canned reply, as curl's HTTP tests
 * declare the exact request expected: new session with its capabilities, timeouts, navigate,
 * execute async script, the browser log, delete session; and how failures are told apart (a
 * script's error, a script timeout, a driver that is gone, a hang cut by the watchdog). */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit_main.h"

#include "common/err.h"
#include "worker/browser_pool.h"
#include "worker/webdriver.h"

#define MAX_REQ 16

struct fake {
	int fd, port;
	pthread_t t;
	atomic_int stop;
	int n;
	char method[MAX_REQ][16], path[MAX_REQ][256];
	json_t *body[MAX_REQ];
	/* The answer to the next request: status and body; hang_ms delays it. */
	int status;
	const char *reply;
	int hang_ms;
};

static void handle(struct fake *f, int c)
{
	char buf[65536], *hdr_end, *cl;
	size_t got = 0, want;
	char head[256];
	int hl;

	for (;;) {
		ssize_t r = recv(c, buf + got, sizeof(buf) - 1 - got, 0);
		if (r <= 0)
			return;
		got += (size_t)r;
		buf[got] = '\0';
		if ((hdr_end = strstr(buf, "\r\n\r\n")))
			break;
	}
	cl = strcasestr(buf, "Content-Length:");
	want = (size_t)(hdr_end - buf) + 4 + (cl && cl < hdr_end ? strtoul(cl + 15, NULL, 10) : 0);
	while (got < want && got < sizeof(buf) - 1) {
		ssize_t r = recv(c, buf + got, sizeof(buf) - 1 - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	if (f->n < MAX_REQ) {
		sscanf(buf, "%15s %255s", f->method[f->n], f->path[f->n]);
		f->body[f->n] = hdr_end + 4 < buf + got ? json_loads(hdr_end + 4, 0, NULL) : NULL;
		f->n++;
	}
	if (f->hang_ms)
		usleep((useconds_t)f->hang_ms * 1000);
	hl = snprintf(head, sizeof(head),
		      "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		      "Connection: close\r\n\r\n",
		      f->status, strlen(f->reply));
	send(c, head, (size_t)hl, MSG_NOSIGNAL);
	send(c, f->reply, strlen(f->reply), MSG_NOSIGNAL);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;

	while (!atomic_load(&f->stop)) {
		struct pollfd p = {.fd = f->fd, .events = POLLIN};
		int c;
		if (poll(&p, 1, 50) <= 0)
			continue;
		c = accept(f->fd, NULL, NULL);
		if (c < 0)
			continue;
		handle(f, c);
		close(c);
	}
	return NULL;
}

static void fake_start(struct fake *f)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);

	memset(f, 0, sizeof(*f));
	f->status = 200;
	f->reply = "{\"value\": null}";
	f->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(f->fd >= 0);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->fd, 16), 0);
	assert_int_equal(getsockname(f->fd, (struct sockaddr *)&sa, &sl), 0);
	f->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&f->t, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
	atomic_store(&f->stop, 1);
	pthread_join(f->t, NULL);
	close(f->fd);
	for (int i = 0; i < f->n; i++)
		json_decref(f->body[i]);
}

/* Request i was METHOD PATH with a body equal to the JSON text want (NULL: none). */
static void assert_request(struct fake *f, int i, const char *method, const char *path,
			   const char *want)
{
	assert_true(i < f->n);
	assert_string_equal(f->method[i], method);
	assert_string_equal(f->path[i], path);
	if (!want) {
		assert_null(f->body[i]);
	} else {
		json_t *w = json_loads(want, 0, NULL);
		char *got = json_dumps(f->body[i], JSON_SORT_KEYS | JSON_COMPACT);
		assert_non_null(w);
		if (!json_equal(w, f->body[i]))
			fail_msg("request %d body: got %s, want %s", i, got ? got : "(none)", want);
		free(got);
		json_decref(w);
	}
}

static void connect_wd(struct fake *f, struct dtf_wd *wd)
{
	char base[64];

	snprintf(base, sizeof(base), "http://127.0.0.1:%d", f->port);
	dtf_wd_init(wd, base);
}

static void test_session_lifecycle(void **state)
{
	struct fake f;
	struct dtf_wd wd;
	json_t *caps, *reply = NULL, *v = NULL;

	(void)state;
	fake_start(&f);
	connect_wd(&f, &wd);
	f.reply = "{\"value\": {\"sessionId\": \"abc123\", \"capabilities\": {\"browserVersion\": "
		  "\"156.0\"}}}";
	caps =
	    json_pack("{s:s,s:{s:s,s:[s,s]},s:{s:s}}", "browserName", "chrome",
		      "goog:chromeOptions", "binary", "/usr/bin/chromium", "args", "--headless=new",
		      "--enable-unsafe-webgpu", "goog:loggingPrefs", "browser", "ALL");
	assert_int_equal(dtf_wd_new_session(&wd, caps, &reply), 0);
	json_decref(caps);
	assert_string_equal(wd.session, "abc123");
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(reply, "capabilities"), "browserVersion")),
			    "156.0");
	json_decref(reply);

	f.reply = "{\"value\": null}";
	assert_int_equal(dtf_wd_set_timeouts(&wd, 31, 65), 0);
	assert_int_equal(dtf_wd_navigate(&wd, "http://127.0.0.1:9/page.html", 10), 0);
	f.reply = "{\"value\": \"http://127.0.0.1:9/page.html\"}";
	{
		char *u = NULL;
		assert_int_equal(dtf_wd_current_url(&wd, &u), 0);
		assert_string_equal(u, "http://127.0.0.1:9/page.html");
		free(u);
	}
	f.reply = "{\"value\": {\"result\": {\"passed\": true}}}";
	assert_int_equal(dtf_wd_execute_async(&wd, "arguments[0](1)", 10, &v), 0);
	assert_true(json_is_true(json_object_get(json_object_get(v, "result"), "passed")));
	json_decref(v);
	f.reply = "{\"value\": [{\"level\": \"SEVERE\", \"message\": \"boom\", \"source\": "
		  "\"javascript\", \"timestamp\": 1}]}";
	assert_int_equal(dtf_wd_browser_log(&wd, &v), 0);
	assert_int_equal(json_array_size(v), 1);
	json_decref(v);
	f.reply = "{\"value\": null}";
	assert_int_equal(dtf_wd_delete_session(&wd, 5), 0);
	assert_string_equal(wd.session, "");

	assert_int_equal(f.n, 7);
	assert_request(&f, 0, "POST", "/session",
		       "{\"capabilities\": {\"alwaysMatch\": {\"browserName\": \"chrome\", "
		       "\"goog:chromeOptions\": {\"binary\": \"/usr/bin/chromium\", \"args\": "
		       "[\"--headless=new\", \"--enable-unsafe-webgpu\"]}, \"goog:loggingPrefs\": "
		       "{\"browser\": \"ALL\"}}}}");
	assert_request(&f, 1, "POST", "/session/abc123/timeouts",
		       "{\"script\": 31000, \"pageLoad\": 65000}");
	assert_request(&f, 2, "POST", "/session/abc123/url",
		       "{\"url\": \"http://127.0.0.1:9/page.html\"}");
	assert_request(&f, 3, "GET", "/session/abc123/url", NULL);
	assert_request(&f, 4, "POST", "/session/abc123/execute/async",
		       "{\"script\": \"arguments[0](1)\", \"args\": []}");
	assert_request(&f, 5, "POST", "/session/abc123/se/log", "{\"type\": \"browser\"}");
	assert_request(&f, 6, "DELETE", "/session/abc123", NULL);
	fake_stop(&f);
}

static void test_failures_told_apart(void **state)
{
	struct fake f;
	struct dtf_wd wd;
	json_t *v = NULL;

	(void)state;
	fake_start(&f);
	connect_wd(&f, &wd);
	snprintf(wd.session, sizeof(wd.session), "s1");

	f.status = 500;
	f.reply = "{\"value\": {\"error\": \"javascript error\", \"message\": \"ReferenceError: x "
		  "is not defined\"}}";
	assert_int_not_equal(dtf_wd_execute_async(&wd, "x", 10, &v), 0);
	assert_null(v);
	assert_int_equal(wd.fail, DTF_WD_SCRIPT);
	assert_non_null(strstr(wd.err, "ReferenceError: x is not defined"));

	f.reply = "{\"value\": {\"error\": \"script timeout\", \"message\": \"timeout\"}}";
	assert_int_not_equal(dtf_wd_execute_async(&wd, "x", 10, &v), 0);
	assert_int_equal(wd.fail, DTF_WD_TIMEOUT);

	f.status = 404;
	f.reply = "{\"value\": {\"error\": \"invalid session id\", \"message\": \"session deleted "
		  "because of page crash\"}}";
	assert_int_not_equal(dtf_wd_navigate(&wd, "about:blank", 10), 0);
	assert_int_equal(wd.fail, DTF_WD_BROWSER);

	f.status = 200;
	f.reply = "not json";
	assert_int_equal(dtf_wd_navigate(&wd, "about:blank", 10), DTF_EPROTO);
	assert_int_equal(wd.fail, DTF_WD_BROWSER);

	/* A driver that does not answer: the watchdog cuts the call. */
	f.reply = "{\"value\": null}";
	f.hang_ms = 1500;
	assert_int_equal(dtf_wd_execute_async(&wd, "x", 0.3, &v), DTF_ETIMEOUT);
	assert_int_equal(wd.fail, DTF_WD_TIMEOUT);
	assert_non_null(strstr(wd.err, "watchdog"));
	f.hang_ms = 0;
	fake_stop(&f);

	/* Nobody listens any more: the driver is gone. */
	assert_int_equal(dtf_wd_navigate(&wd, "about:blank", 2), DTF_ENET);
	assert_int_equal(wd.fail, DTF_WD_BROWSER);
}

/* The page server's request parser: what it serves, what it refuses. */
static void test_page_request_path(void **state)
{
	char rel[64];
	const char *ok = "GET /tests/web/matmul.html?sizes=64 HTTP/1.1\r\n\r\n";
	const char *enc = "GET /a%20b.html HTTP/1.1\r\n";
	const char *bad[] = {"GET /../etc/passwd HTTP/1.1\r\n", "GET /a/%2e%2e/b HTTP/1.1\r\n",
			     "GET /%00 HTTP/1.1\r\n",		"POST /x HTTP/1.1\r\n",
			     "GET //etc/passwd HTTP/1.1\r\n",	"GET"};

	(void)state;
	assert_int_equal(dtf_bpool_request_path(ok, strlen(ok), rel, sizeof(rel)), 0);
	assert_string_equal(rel, "tests/web/matmul.html");
	assert_int_equal(dtf_bpool_request_path(enc, strlen(enc), rel, sizeof(rel)), 0);
	assert_string_equal(rel, "a b.html");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (dtf_bpool_request_path(bad[i], strlen(bad[i]), rel, sizeof(rel)) == 0)
			fail_msg("accepted '%s' as '%s'", bad[i], rel);
	/* A path longer than the buffer is refused, not cut. */
	assert_int_equal(dtf_bpool_request_path(ok, strlen(ok), rel, 8), DTF_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_session_lifecycle),
	    cmocka_unit_test(test_failures_told_apart),
	    cmocka_unit_test(test_page_request_path),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
