/* webdriver.c: the W3C WebDriver client (see webdriver.h). One curl handle per call: a pool slot
 * makes a handful of calls per task, and a fresh handle cannot carry a broken connection of a
 * driver that was killed into the next instance. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "worker/webdriver.h"

void dtf_wd_init(struct dtf_wd *wd, const char *base)
{
	memset(wd, 0, sizeof(*wd));
	snprintf(wd->base, sizeof(wd->base), "%s", base);
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	return dtf_buf_add(arg, p, sz * n) == 0 ? sz * n : 0;
}

static int fail(struct dtf_wd *wd, enum dtf_wd_fail kind, int rc, const char *fmt, const char *a,
		const char *b)
{
	wd->fail = kind;
	snprintf(wd->err, sizeof(wd->err), fmt, a, b);
	return rc;
}

/* Makes one call; *value gets the reply's "value" (owned). WebDriver errors come back as
 * {"value": {"error": code, "message": …}} with a 4xx/5xx status. */
static int call(struct dtf_wd *wd, const char *method, const char *path, json_t *body,
		double timeout_s, json_t **value)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct dtf_buf resp;
	char url[512], *text = NULL, why[128];
	long status = 0;
	json_t *doc = NULL, *v;
	CURLcode cc;
	int rc = 0;

	if (value)
		*value = NULL;
	wd->fail = DTF_WD_OK;
	wd->err[0] = '\0';
	if (!c)
		return fail(wd, DTF_WD_BROWSER, DTF_ENOMEM, "%s%s", "curl_easy_init failed", "");
	dtf_buf_init(&resp, DTF_WD_MAX_REPLY);
	snprintf(url, sizeof(url), "%s%s", wd->base, path);
	h = curl_slist_append(h, "Content-Type: application/json; charset=utf-8");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout_s * 1000));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text ? text : "{}");
	}
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		rc = fail(wd, DTF_WD_TIMEOUT, DTF_ETIMEOUT, "%s %s: no answer in time (watchdog)",
			  method, path);
		goto out;
	}
	if (cc != CURLE_OK) {
		rc = fail(wd, DTF_WD_BROWSER, DTF_ENET, "driver unreachable: %s%s",
			  curl_easy_strerror(cc), "");
		goto out;
	}
	doc = dtf_json_parse(resp.data ? resp.data : "", resp.len, why, sizeof(why));
	v = json_object_get(doc, "value");
	if (!json_is_object(doc) || !v) {
		rc = fail(wd, DTF_WD_BROWSER, DTF_EPROTO,
			  "driver reply is not WebDriver JSON: %s%s", why, "");
		goto out;
	}
	if (status >= 400 || (json_is_object(v) && json_object_get(v, "error"))) {
		const char *code = dtf_json_str(v, "error", "unknown error");
		enum dtf_wd_fail k = DTF_WD_BROWSER;
		if (strcmp(code, "javascript error") == 0)
			k = DTF_WD_SCRIPT;
		else if (strcmp(code, "script timeout") == 0 || strcmp(code, "timeout") == 0)
			k = DTF_WD_TIMEOUT;
		rc = fail(wd, k, DTF_EIO, "%s: %.400s", code, dtf_json_str(v, "message", ""));
		goto out;
	}
	if (value)
		*value = json_incref(v);
out:
	json_decref(doc);
	free(text);
	dtf_buf_release(&resp);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc;
}

static int session_call(struct dtf_wd *wd, const char *method, const char *what, json_t *body,
			double timeout_s, json_t **value)
{
	char path[256];

	if (!wd->session[0]) {
		json_decref(body);
		return fail(wd, DTF_WD_BROWSER, DTF_ESTATE, "no session%s%s", "", "");
	}
	snprintf(path, sizeof(path), "/session/%s%s", wd->session, what);
	int rc = call(wd, method, path, body, timeout_s, value);
	json_decref(body);
	return rc;
}

int dtf_wd_wait_ready(struct dtf_wd *wd, double timeout_s)
{
	struct timespec ts = {0, 50 * 1000 * 1000};
	int tries = (int)(timeout_s * 20) + 1;

	while (tries-- > 0) {
		json_t *v = NULL;
		if (call(wd, "GET", "/status", NULL, 2, &v) == 0 &&
		    dtf_json_bool(v, "ready", false)) {
			json_decref(v);
			return 0;
		}
		json_decref(v);
		nanosleep(&ts, NULL);
	}
	return fail(wd, DTF_WD_BROWSER, DTF_ETIMEOUT, "driver not ready after %s%s", "timeout", "");
}

int dtf_wd_new_session(struct dtf_wd *wd, json_t *always, json_t **reply)
{
	json_t *body = json_pack("{s:{s:O}}", "capabilities", "alwaysMatch", always), *v = NULL;
	int rc = call(wd, "POST", "/session", body, 60, &v);

	json_decref(body);
	if (reply)
		*reply = NULL;
	if (rc)
		return rc;
	if (!json_is_string(json_object_get(v, "sessionId"))) {
		json_decref(v);
		return fail(wd, DTF_WD_BROWSER, DTF_EPROTO, "new session: no sessionId%s%s", "",
			    "");
	}
	snprintf(wd->session, sizeof(wd->session), "%s", dtf_json_str(v, "sessionId", ""));
	if (reply)
		*reply = v;
	else
		json_decref(v);
	return 0;
}

int dtf_wd_set_timeouts(struct dtf_wd *wd, double script_s, double page_load_s)
{
	return session_call(wd, "POST", "/timeouts",
			    json_pack("{s:I,s:I}", "script", (json_int_t)(script_s * 1000),
				      "pageLoad", (json_int_t)(page_load_s * 1000)),
			    10, NULL);
}

int dtf_wd_navigate(struct dtf_wd *wd, const char *url, double timeout_s)
{
	json_t *v = NULL;
	int rc = session_call(wd, "POST", "/url", json_pack("{s:s}", "url", url), timeout_s, &v);

	json_decref(v);
	return rc;
}

int dtf_wd_current_url(struct dtf_wd *wd, char **url)
{
	json_t *v = NULL;
	int rc = session_call(wd, "GET", "/url", NULL, 10, &v);

	if (url)
		*url = rc == 0 && json_is_string(v) ? strdup(json_string_value(v)) : NULL;
	json_decref(v);
	return rc;
}

int dtf_wd_execute_async(struct dtf_wd *wd, const char *script, double timeout_s, json_t **value)
{
	return session_call(wd, "POST", "/execute/async",
			    json_pack("{s:s,s:[]}", "script", script, "args"), timeout_s, value);
}

int dtf_wd_browser_log(struct dtf_wd *wd, json_t **entries)
{
	int rc =
	    session_call(wd, "POST", "/se/log", json_pack("{s:s}", "type", "browser"), 10, entries);

	if (rc == 0 && !json_is_array(*entries)) {
		json_decref(*entries);
		*entries = json_array();
	}
	return rc;
}

int dtf_wd_delete_session(struct dtf_wd *wd, double timeout_s)
{
	json_t *v = NULL;
	int rc = session_call(wd, "DELETE", "", NULL, timeout_s, &v);

	json_decref(v);
	wd->session[0] = '\0';
	return rc;
}
