/* webdriver.h: a small client of the W3C WebDriver protocol over HTTP (libcurl), enough to drive a
 * headless browser through its driver (chromedriver): open a session, load a page, run an async
 * script, read the browser's console log and close the session. No Selenium is needed. */
#ifndef DTF_WORKER_WEBDRIVER_H
#define DTF_WORKER_WEBDRIVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Replies of the driver past this many bytes are an error (a page's log or result is small). */
#define DTF_WD_MAX_REPLY (8u << 20)

/* How a call failed, so that the pool can tell the page's fault from the browser's. */
enum dtf_wd_fail {
	DTF_WD_OK = 0,
	DTF_WD_SCRIPT,	/* "javascript error": the page's script threw */
	DTF_WD_TIMEOUT, /* "script timeout" / "timeout": the page took too long */
	DTF_WD_BROWSER, /* the browser or its driver is gone, crashed or answers nonsense */
};

struct dtf_wd {
	char base[128];	   /* "http://127.0.0.1:PORT" */
	char session[128]; /* the session id, "" when none */
	char err[512];	   /* the last failure's message */
	enum dtf_wd_fail fail;
};

/* Sets the driver's base URL; no request is made. */
void dtf_wd_init(struct dtf_wd *wd, const char *base);

/* GET /status until the driver says ready or timeout_s passes. Returns 0 or DTF_ETIMEOUT. */
int dtf_wd_wait_ready(struct dtf_wd *wd, double timeout_s);

/* POST /session with {"capabilities": {"alwaysMatch": always}} (borrowed). On success the session
 * id is kept in wd; *reply (may be NULL) gets the reply's value (owned by the caller). */
int dtf_wd_new_session(struct dtf_wd *wd, json_t *always, json_t **reply);

/* POST /session/{id}/timeouts {"script": ms, "pageLoad": ms}. */
int dtf_wd_set_timeouts(struct dtf_wd *wd, double script_s, double page_load_s);

/* POST /session/{id}/url: loads url and waits for it (bounded by timeout_s on the HTTP side). */
int dtf_wd_navigate(struct dtf_wd *wd, const char *url, double timeout_s);

/* GET /session/{id}/url: the page's URL, which the driver must ask the browser for: a cheap check
 * that the browser still answers. *url (may be NULL) gets it (owned by the caller). */
int dtf_wd_current_url(struct dtf_wd *wd, char **url);

/* POST /session/{id}/execute/async {"script": script, "args": []}. The script ends by calling its
 * last argument; *value gets what it passed (owned by the caller). The HTTP call is cut after
 * timeout_s, the watchdog of a browser that hangs. */
int dtf_wd_execute_async(struct dtf_wd *wd, const char *script, double timeout_s, json_t **value);

/* POST /session/{id}/se/log {"type": "browser"}: the console entries since the last call
 * ([{level, message, source, timestamp}], owned by the caller). */
int dtf_wd_browser_log(struct dtf_wd *wd, json_t **entries);

/* DELETE /session/{id}; forgets the session whatever the answer. */
int dtf_wd_delete_session(struct dtf_wd *wd, double timeout_s);

#endif
