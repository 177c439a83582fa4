/* browser_pool.h: the worker's pool of headless browsers (issue 18). Each slot is one browser
 * driven through its WebDriver server (chromedriver, in its own process group, which the browser
 * and its children share). The pool probes what the pages can really use (WebGPU adapter, a
 * compute shader, WebNN contexts) for the worker's registration, runs `browser` tasks in idle
 * instances, and replaces an instance that crashed, hung past the watchdog or grew past the
 * memory bound; instances are recycled after a number of tasks. */
#ifndef DTF_WORKER_BROWSER_POOL_H
#define DTF_WORKER_BROWSER_POOL_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct dtf_bpool;

struct dtf_bpool_config {
	const char *browser; /* "chromium" (the one supported) */
	int size;	     /* instances (slots) */
	int recycle_after;   /* tasks per instance before it is replaced (0: never) */
	double memory_mb;    /* an instance's processes together past this: replaced (0: none) */
	const char *driver;  /* the WebDriver server, default "chromedriver" (PATH) */
	const char *binary;  /* the browser, default "/usr/bin/chromium" */
	const char *flags;   /* launch flags, space-separated, replacing the defaults; or NULL */
	const char *extra_flags; /* flags added to the defaults (or to flags), or NULL */
	const char *work_dir;	 /* where the probe page is written */
	size_t output_cap;	 /* bytes of console output kept per task */
};

/* Parses "chromium" or "chromium:N" into *browser (static string) and *n. Returns 0 or
 * DTF_EINVAL. */
int dtf_bpool_parse_spec(const char *spec, const char **browser, int *n);

/* Starts the pool's instances and probes the first one. NULL with a reason in err when no
 * instance could be started. The caller frees it with dtf_bpool_free(). */
struct dtf_bpool *dtf_bpool_new(const struct dtf_bpool_config *cfg, char *err, size_t errlen);

/* Stops every instance (their process groups are killed) and frees the pool. Accepts NULL. */
void dtf_bpool_free(struct dtf_bpool *p);

/* Adds what the probe found to a worker's capabilities: "browsers" (one object per browser:
 * name, version, instances, webgpu {available, adapter, software, limits, features,
 * compute_ok}, webnn {available, cpu, gpu, npu}) and hardware classes: browser:<name>, webgpu
 * (a real adapter) or webgpu:software (SwiftShader or a fallback adapter), webnn:<device> for
 * each device whose context could be created. */
void dtf_bpool_add_capabilities(struct dtf_bpool *p, json_t *caps);

/* Runs one `browser` task (its document, borrowed; "work_dir" names the task's directory) in
 * pooled instances and returns {outcome, result, error?} (owned by the caller). A browser that
 * crashes or hangs past the watchdog is replaced and the task retried once on a fresh instance
 * before it fails with error.kind "infrastructure". *cancel non-zero stops waiting for an
 * instance. */
json_t *dtf_bpool_run(struct dtf_bpool *p, json_t *task, atomic_int *cancel);

/* The page server's request parser: from an HTTP request (len bytes, not NUL-terminated), the
 * path of a GET relative to the served root, percent-decoded, without its query, into rel
 * (rlen bytes). 0, or DTF_EINVAL for anything but a GET of a path without "..", NUL or a
 * leading '/' that fits. */
int dtf_bpool_request_path(const char *req, size_t len, char *rel, size_t rlen);

/* The instances' states for the worker's heartbeat / registration: [{index, state, tasks,
 * restarts, pid}] (owned by the caller). */
json_t *dtf_bpool_status(struct dtf_bpool *p);

#endif
