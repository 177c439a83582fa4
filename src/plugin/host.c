/* host.c: the host API table plugins call back into (struct dtf_plugin_host): logging with the
 * plugin's name, tasks and workers as JSON from the loading process, custom events, timers,
 * HTTP requests through libcurl, and programs run with a timeout and an output cap. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "plugin/internal.h"

#define MAX_EVENT_NAME 64

static void h_log(dtf_plugin_ctx *pl, int level, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	if (!pl || !fmt)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (level < DTF_PLUGIN_LOG_DEBUG)
		level = DTF_PLUGIN_LOG_DEBUG;
	if (level >= DTF_PLUGIN_LOG_ERROR) {
		level = DTF_PLUGIN_LOG_ERROR;
		pthread_mutex_lock(&pl->owner->lock);
		snprintf(pl->last_error, sizeof(pl->last_error), "%s", line);
		pthread_mutex_unlock(&pl->owner->lock);
	}
	dtf_log((enum dtf_log_level)level, "plugin %s: %s", pl->name, line);
}

static char *h_get_task(dtf_plugin_ctx *pl, const char *id)
{
	struct dtf_plugin_host_impl *impl = &pl->owner->impl;

	if (!id || !impl->get_task_json)
		return NULL;
	return impl->get_task_json(impl->arg, id);
}

static char *h_get_worker(dtf_plugin_ctx *pl, const char *id)
{
	struct dtf_plugin_host_impl *impl = &pl->owner->impl;

	if (!id || !impl->get_worker_json)
		return NULL;
	return impl->get_worker_json(impl->arg, id);
}

static int h_emit_event(dtf_plugin_ctx *pl, const char *name, const char *data_json)
{
	struct dtf_plugins *p = pl->owner;
	json_t *data, *payload;
	char perr[128];
	int depth = plugin_current_depth() + 1;

	if (!name || !*name || strlen(name) > MAX_EVENT_NAME)
		return DTF_EINVAL;
	if (data_json) {
		data = dtf_json_parse(data_json, strnlen(data_json, PLUGIN_MAX_EVENT_BYTES + 1),
				      perr, sizeof(perr));
		if (!data) {
			log_warn("plugin %s: emit_event %s: the data is not JSON (%s)", pl->name,
				 name, perr);
			return DTF_EPARSE;
		}
	} else {
		data = json_null();
	}
	if (depth > PLUGIN_MAX_DEPTH) {
		log_warn("plugin %s: event %s not emitted: events emitted from events nest deeper "
			 "than %d",
			 pl->name, name, PLUGIN_MAX_DEPTH);
		json_decref(data);
		return DTF_ESTATE;
	}
	if (p->impl.emit_event)
		p->impl.emit_event(p->impl.arg, name, data);
	payload = json_pack("{s:s,s:s,s:O}", "name", name, "plugin", pl->name, "data", data);
	if (payload && (atomic_load(&p->subscribed) & DTF_HOOK_BIT(DTF_HOOK_CUSTOM)))
		plugin_enqueue(p, DTF_HOOK_CUSTOM, json_dumps(payload, JSON_COMPACT), payload,
			       pl->index, depth);
	json_decref(payload);
	json_decref(data);
	return 0;
}

static long long h_schedule_timer(dtf_plugin_ctx *pl, unsigned delay_ms, unsigned interval_ms,
				  int (*fn)(void *arg), void *arg)
{
	return plugin_timer_add(pl, delay_ms, interval_ms, fn, arg);
}

static int h_cancel_timer(dtf_plugin_ctx *pl, long long id)
{
	return plugin_timer_cancel(pl, id);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct dtf_buf *b = ud;

	if (dtf_buf_add(b, ptr, size * nmemb) != 0)
		return 0; /* past the cap: curl stops with CURLE_WRITE_ERROR */
	return size * nmemb;
}

static int h_http_request(dtf_plugin_ctx *pl, const char *method, const char *url,
			  const char *const *headers, const char *body, size_t body_len,
			  long timeout_ms, long *status, char **resp_body, size_t *resp_len)
{
	CURL *c;
	struct curl_slist *hl = NULL;
	struct dtf_buf b;
	CURLcode cr;
	int rc = 0;

	if (status)
		*status = 0;
	if (resp_body)
		*resp_body = NULL;
	if (resp_len)
		*resp_len = 0;
	if (!url || !method ||
	    (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
		return DTF_EINVAL;
	c = curl_easy_init();
	if (!c)
		return DTF_ENOMEM;
	dtf_buf_init(&b, PLUGIN_HTTP_MAX_BYTES);
	for (; headers && *headers; headers++)
		hl = curl_slist_append(hl, *headers);
	curl_easy_setopt(c, CURLOPT_URL, url);
	if (strcasecmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 10000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	cr = curl_easy_perform(c);
	if (cr != CURLE_OK) {
		log_debug("plugin %s: %s %s: %s", pl->name, method, url, curl_easy_strerror(cr));
		rc = cr == CURLE_WRITE_ERROR	      ? DTF_ETOOBIG
		     : cr == CURLE_OPERATION_TIMEDOUT ? DTF_ETIMEOUT
						      : DTF_ENET;
	} else {
		long code = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		if (status)
			*status = code;
		if (resp_len)
			*resp_len = b.len;
		if (resp_body)
			*resp_body = dtf_buf_detach(&b, NULL);
	}
	dtf_buf_release(&b);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return rc;
}

static int h_run_process(dtf_plugin_ctx *pl, dtf_task_run *run, const char *const *argv,
			 const char *const *envp, const char *cwd, const char *stdin_data,
			 double timeout_s, size_t output_cap, struct dtf_process_result *res)
{
	struct plugin_proc_spec spec = {0};
	struct dtf_process_result full;
	char err[512] = "";
	size_t n;
	int rc;

	if (!res || res->struct_size < sizeof(uint32_t) + sizeof(int))
		return DTF_EINVAL;
	spec.argv = argv;
	spec.envp = envp;
	spec.cwd = cwd;
	spec.input = stdin_data;
	spec.input_len = stdin_data ? strlen(stdin_data) : 0;
	spec.timeout_s = timeout_s;
	spec.output_cap = output_cap;
	spec.cancel = run ? run->cancel : NULL;
	spec.deadline_ms = run ? run->deadline_ms : 0;
	rc = plugin_proc_run(&spec, &full, err, sizeof(err));
	if (rc)
		log_debug("plugin %s: %s", pl->name, err);
	/* Give the caller what its struct has room for; free what it cannot receive. */
	n = res->struct_size < sizeof(full) ? res->struct_size : sizeof(full);
	full.struct_size = res->struct_size;
	if (n < offsetof(struct dtf_process_result, out) + sizeof(full.out)) {
		free(full.out);
		full.out = NULL;
	}
	if (n < offsetof(struct dtf_process_result, err) + sizeof(full.err)) {
		free(full.err);
		full.err = NULL;
	}
	memcpy(res, &full, n);
	return rc;
}

static int h_task_cancelled(dtf_task_run *run)
{
	if (!run)
		return 0;
	if (run->cancel && atomic_load(run->cancel))
		return 1;
	return run->deadline_ms && dtf_mono_ms() >= run->deadline_ms;
}

static void h_free(void *ptr)
{
	free(ptr);
}

void plugin_host_init(struct dtf_plugins *p)
{
	struct dtf_plugin_host *h = &p->host;

	memset(h, 0, sizeof(*h));
	h->abi_version = DTF_PLUGIN_ABI_VERSION;
	h->struct_size = sizeof(*h);
	h->log = h_log;
	h->get_task = h_get_task;
	h->get_worker = h_get_worker;
	h->emit_event = h_emit_event;
	h->schedule_timer = h_schedule_timer;
	h->cancel_timer = h_cancel_timer;
	h->http_request = h_http_request;
	h->run_process = h_run_process;
	h->task_cancelled = h_task_cancelled;
	h->free = h_free;
	h->role = p->impl.role ? p->impl.role : "cli";
}
