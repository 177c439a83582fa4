/* discover.c: test discovery and `dtf:` headers. */
#include "ci/discover.h"
#include "ci/pyrun.h"

#include <dirent.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/json.h"
#include "common/util.h"

#define HEADER_LINES	      30
#define DTF_DISCOVER_MAX_READ (1 << 20) /* the head of a file read for its header and runner */
#define MAX_DEPTH	      8

static json_t *req(json_t *task)
{
	json_t *r = json_object_get(task, "requirements");

	if (!r) {
		r = json_object();
		json_object_set_new(task, "requirements", r);
	}
	return r;
}

int dtf_discover_header(const char *line, json_t *task, char *err, size_t errlen)
{
	char buf[1024], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", line);
	buf[strcspn(buf, "\r\n")] = '\0';
	/* A C comment's closing marker is not part of the header. */
	if (strstr(buf, "*/"))
		*strstr(buf, "*/") = '\0';
	for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(tok, '='), *end;
		const char *k = tok, *v;
		double d;
		if (!eq || eq == tok || !eq[1]) {
			snprintf(err, errlen, "'%s' is not key=value", tok);
			return DTF_EPARSE;
		}
		*eq = '\0';
		v = eq + 1;
		if (strcmp(k, "hardware") == 0) {
			json_object_set_new(task, "hardware", dtf_json_split(v, ","));
		} else if (strcmp(k, "requires") == 0) {
			json_object_set_new(req(task), "hardware", dtf_json_split(v, ","));
		} else if (strcmp(k, "timeout") == 0) {
			if (dtf_parse_seconds(v, &d) || d <= 0)
				goto bad;
			json_object_set_new(task, "timeout_s", json_real(d));
		} else if (strcmp(k, "priority") == 0 || strcmp(k, "retries") == 0) {
			long n = strtol(v, &end, 10);
			if (*end || n < 0 || n > 100 || (k[0] == 'p' && (n < 1 || n > 10)))
				goto bad;
			json_object_set_new(task, k[0] == 'p' ? "priority" : "max_retries",
					    json_integer(n));
		} else if (strcmp(k, "cpu") == 0 || strcmp(k, "memory") == 0 ||
			   strcmp(k, "gpu_memory") == 0) {
			d = strtod(v, &end);
			if (*end || !(d >= 0) || d > 1e12 || !(*v >= '0' && *v <= '9'))
				goto bad;
			json_object_set_new(req(task), k, json_real(d));
		} else if (strcmp(k, "runner") == 0) {
			json_t *params = json_object_get(task, "params");
			if (!dtf_pyrun_valid(v))
				goto bad;
			if (!json_is_object(params)) {
				params = json_object();
				json_object_set_new(task, "params", params);
			}
			json_object_set_new(params, "runner", json_string(v));
		} else if (strcmp(k, "artifacts") == 0) {
			json_object_set_new(task, "artifacts", dtf_json_split(v, ","));
		} else if (strcmp(k, "junit") == 0 || strcmp(k, "type") == 0 ||
			   strcmp(k, "name") == 0 || strcmp(k, "skip") == 0) {
			json_object_set_new(task, k, json_string(v));
		} else {
			snprintf(err, errlen, "unknown key '%s'", k);
			return DTF_EPARSE;
		}
		continue;
	bad:
		snprintf(err, errlen, "bad value for '%s': '%s'", k, v);
		return DTF_EPARSE;
	}
	return 0;
}

static bool is_test_name(const char *name, const char *pattern)
{
	if (pattern)
		return fnmatch(pattern, name, 0) == 0;
	if (strncmp(name, "test_", 5) == 0)
		return true;
	return fnmatch("*_test.*", name, 0) == 0 || fnmatch("*_test", name, 0) == 0;
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Makes the discovered Python file task run with its runner: the header's runner= when it gave
 * one, else what the file's text needs (pyrun.h). A plain script stays `python3 FILE`. */
static int python_task(json_t *task, const char *detected, const char *abspath, char *err,
		       size_t errlen)
{
	json_t *params = json_object_get(task, "params");
	const char *runner = dtf_json_str(params, "runner", detected);
	json_t *args;
	int rc;

	if (strcmp(runner, "python") == 0) {
		if (!params) {
			params = json_object();
			json_object_set_new(task, "params", params);
		}
		json_object_set_new(params, "runner", json_string("python"));
		return 0;
	}
	args = json_pack("[s]", abspath);
	rc = args ? dtf_pyrun_task(task, runner, args) : DTF_ENOMEM;
	if (!rc)
		json_object_set_new(json_object_get(task, "params"), "test_file",
				    json_string(abspath));
	json_decref(args);
	if (rc)
		snprintf(err, errlen, "%s: cannot make its %s task: %s", abspath, runner,
			 dtf_strerror(rc));
	return rc;
}

static int add_test(const char *root, const char *path, json_t *tasks, char *err, size_t errlen)
{
	char *text = NULL, dir[PATH_MAX], abspath[PATH_MAX];
	const char *runner = "python";
	size_t len;
	json_t *task = json_object();
	const char *rel = path + strlen(root);
	int line = 0, rc = 0;
	bool python = false, cut = false;
	char *p;
	struct stat st;

	while (*rel == '/')
		rel++;
	if (!realpath(path, abspath)) {
		json_decref(task);
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s", abspath);
	*strrchr(dir, '/') = '\0';
	if (has_suffix(path, ".sh")) {
		json_object_set_new(task, "command", json_pack("[s,s]", "/bin/sh", abspath));
	} else if (has_suffix(path, ".c")) {
		char sh[PATH_MAX * 2 + 128];
		snprintf(sh, sizeof(sh),
			 "cc -std=c11 -O1 -Wall -o \"$DTF_WORK_DIR/test.bin\" '%s' -lm && exec "
			 "\"$DTF_WORK_DIR/test.bin\"",
			 abspath);
		json_object_set_new(task, "shell", json_string(sh));
	} else if (has_suffix(path, ".py")) {
		/* Its runner is chosen once the file's text and header are read, below. */
		json_object_set_new(task, "command", json_pack("[s,s]", "python3", abspath));
		python = true;
	} else if (stat(path, &st) == 0 && (st.st_mode & S_IXUSR)) {
		json_object_set_new(task, "command", json_pack("[s]", abspath));
	} else {
		json_decref(task);
		return 0;
	}
	json_object_set_new(task, "type", json_string("test"));
	json_object_set_new(task, "name", json_string(rel));
	json_object_set_new(task, "cwd", json_string(dir));
	if (dtf_read_head(path, DTF_DISCOVER_MAX_READ, &text, &len, &cut) == 0) {
		/* Past the part read, a plain-looking file may still define tests: pytest runs
		 * a plain script's code too (at collection), so it is the safe choice. */
		if (python)
			runner = dtf_pyrun_detect(text, len);
		if (python && cut && strcmp(runner, "python") == 0)
			runner = "pytest";
		for (p = text; p && *p && line < HEADER_LINES; line++) {
			char *nl = strchr(p, '\n');
			char *m = strstr(p, "dtf:");
			if (nl)
				*nl = '\0';
			if (m && m - p < 8 &&
			    (strstr(p, "#") == p || strstr(p, "//") == p || strstr(p, "/*") == p)) {
				char why[256];
				if (dtf_discover_header(m + 4, task, why, sizeof(why)) != 0) {
					snprintf(err, errlen, "%s:%d: dtf header: %s", path,
						 line + 1, why);
					rc = DTF_EPARSE;
					break;
				}
			}
			p = nl ? nl + 1 : NULL;
		}
	}
	free(text);
	if (rc == 0 && !python && json_object_get(json_object_get(task, "params"), "runner")) {
		snprintf(err, errlen, "%s: dtf header: runner= is for Python files only", path);
		rc = DTF_EPARSE;
	}
	if (rc == 0 && python)
		rc = python_task(task, runner, abspath, err, errlen);
	if (rc == 0)
		json_array_append(tasks, task);
	json_decref(task);
	return rc ? rc : 1;
}

int dtf_discover_file(const char *root, const char *path, json_t *tasks, char *err, size_t errlen)
{
	return add_test(root, path, tasks, err, errlen);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(const char *root, const char *dir, const char *pattern, json_t *tasks, int depth,
		char *err, size_t errlen)
{
	DIR *d;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	int found = 0, rc = 0;

	if (depth > MAX_DEPTH)
		return 0;
	d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "cannot open directory %s", dir);
		return DTF_ENOTFOUND;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, "build") == 0 ||
		    strcmp(e->d_name, "node_modules") == 0 || strcmp(e->d_name, "__pycache__") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			names = realloc(names, cap * sizeof(*names));
		}
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n && rc >= 0; i++) {
		char path[PATH_MAX];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int r = walk(root, path, pattern, tasks, depth + 1, err, errlen);
			if (r < 0)
				rc = r;
			else
				found += r;
		} else if (S_ISREG(st.st_mode) && is_test_name(names[i], pattern)) {
			int r;
			if (json_array_size(tasks) >= DTF_DISCOVER_MAX_FILES) {
				snprintf(err, errlen, "more than %d tests", DTF_DISCOVER_MAX_FILES);
				rc = DTF_ETOOBIG;
				break;
			}
			r = add_test(root, path, tasks, err, errlen);
			if (r < 0)
				rc = r;
			else
				found += r;
		}
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc < 0 ? rc : found;
}

int dtf_discover(const char *dir, const char *pattern, json_t *tasks, char *err, size_t errlen)
{
	char root[PATH_MAX];
	size_t n;

	snprintf(root, sizeof(root), "%s", dir);
	n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		root[--n] = '\0';
	return walk(root, root, pattern, tasks, 0, err, errlen);
}
