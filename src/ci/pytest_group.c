/* pytest_group.c: pytest files grouped into chunks, one pytest process per chunk, balanced by
 * the per-file durations recorded in a history file. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ci/pyrun.h"
#include "ci/pytest_group.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/util.h"
#include "net/http.h"

/* With a duration history, chunks expected to take at least this long each (at slots × 4 of
 * them) are made that fine; shorter suites get slots × 2 (see dtf_pytest_group). */
#define CHUNK_FINE_S 15.0

struct pyfile {
	const char *path; /* absolute, borrowed from its task */
	double est;
	bool known;
};

static const char *str_or_empty(const json_t *v)
{
	return json_is_string(v) ? json_string_value(v) : "";
}

struct bin {
	double load;
	int n;
	int idx;
};

bool dtf_pytest_detect(const char *dir)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/conftest.py", dir);
	if (access(p, R_OK) == 0)
		return true;
	snprintf(p, sizeof(p), "%s/pytest.ini", dir);
	return access(p, R_OK) == 0;
}

json_t *dtf_pytest_history_parse(const char *text, size_t len)
{
	char err[200];
	json_t *doc, *files, *out, *v;
	const char *k;

	if (len > DTF_PYTEST_HISTORY_MAX)
		return NULL;
	doc = dtf_json_parse(text, len, err, sizeof(err));
	files = json_object_get(doc, "files");
	if (!json_is_object(files) || dtf_json_int(doc, "version", 0) != 1) {
		json_decref(doc);
		return NULL;
	}
	out = json_object();
	json_object_foreach(files, k, v) {
		if (json_is_number(v) && json_number_value(v) >= 0 && json_number_value(v) < 1e7)
			json_object_set_new(out, k, json_real(json_number_value(v)));
	}
	json_decref(doc);
	return out;
}

static json_t *history_load(const char *path)
{
	char *text = NULL;
	size_t len;
	json_t *h = NULL;

	if (path && dtf_read_file(path, DTF_PYTEST_HISTORY_MAX, &text, &len) == 0)
		h = dtf_pytest_history_parse(text, len);
	free(text);
	return h ? h : json_object();
}

/* A task discovery made of a Python test file for a test runner (pyrun.h) and left as it was:
 * {shell, env: {DTF_PYRUN}, junit: dtf-junit.xml, params: {runner, test_file}, type: test, name,
 * cwd} and nothing else (a dtf: header setting anything but runner= keeps the file on its own).
 * A plain script (runner "python") is not a pytest file. */
static const char *pytest_file_of(json_t *t)
{
	json_t *params = json_object_get(t, "params"), *env = json_object_get(t, "env");
	const char *k, *path, *runner = dtf_json_str(params, "runner", "");
	json_t *v;

	if (strcmp(runner, "pytest") != 0 && strcmp(runner, "unittest") != 0)
		return NULL;
	if (strcmp(dtf_json_str(t, "junit", ""), DTF_PYRUN_JUNIT) != 0 ||
	    strcmp(dtf_json_str(t, "type", ""), "test") != 0 || json_object_size(env) != 1 ||
	    !json_object_get(env, DTF_PYRUN_ENV))
		return NULL;
	json_object_foreach(t, k, v) {
		if (strcmp(k, "shell") && strcmp(k, "env") && strcmp(k, "junit") &&
		    strcmp(k, "params") && strcmp(k, "type") && strcmp(k, "name") &&
		    strcmp(k, "cwd"))
			return NULL;
	}
	json_object_foreach(params, k, v) {
		if (strcmp(k, "runner") && strcmp(k, "test_file"))
			return NULL;
	}
	path = dtf_json_str(params, "test_file", NULL);
	if (!path || path[0] != '/')
		return NULL;
	return path;
}

static int by_est_desc(const void *a, const void *b)
{
	const struct pyfile *x = a, *y = b;

	if (x->est != y->est)
		return x->est < y->est ? 1 : -1;
	return strcmp(x->path, y->path);
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct pyfile *)a)->path, ((const struct pyfile *)b)->path);
}

static int bin_by_load_desc(const void *a, const void *b)
{
	const struct bin *x = a, *y = b;

	if (x->load != y->load)
		return x->load < y->load ? 1 : -1;
	return x->idx - y->idx;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int dtf_pytest_group(json_t *tasks, int slots, const char *history_path)
{
	json_t *hist, *keep = json_array(), *t;
	struct pyfile *files;
	struct bin *bins;
	int *owner;
	size_t i, n = 0, nknown = 0, nbins;
	double fill = 1.0;

	files = calloc(json_array_size(tasks) + 1, sizeof(*files));
	if (!files || !keep) {
		free(files);
		json_decref(keep);
		return DTF_ENOMEM;
	}
	hist = history_load(history_path);
	json_array_foreach(tasks, i, t) {
		const char *p = pytest_file_of(t);
		json_t *h;
		if (!p) {
			json_array_append(keep, t);
			continue;
		}
		files[n].path = p;
		h = json_object_get(hist, p);
		if (h) {
			files[n].est = json_number_value(h);
			files[n].known = true;
			nknown++;
		}
		n++;
	}
	if (n == 0) {
		json_decref(keep);
		json_decref(hist);
		free(files);
		return 0;
	}
	/* Files without a record count as the median recorded one (1 s when none is known). */
	if (nknown) {
		double *k = malloc(nknown * sizeof(*k));
		size_t j = 0;
		for (i = 0; k && i < n; i++)
			if (files[i].known)
				k[j++] = files[i].est;
		if (k) {
			qsort(k, nknown, sizeof(*k), cmp_double);
			fill = k[nknown / 2];
		}
		free(k);
	}
	for (i = 0; i < n; i++)
		if (!files[i].known)
			files[i].est = fill;
	if (slots < 1)
		slots = 1;
	/* Without history: slots × 4 chunks of equal file counts. With it: slots × 2 chunks of
	 * equal expected time, few pytest starts, where the suite is short; slots × 4 where even
	 * then each chunk is expected to take CHUNK_FINE_S or more, so that a start-up is a small
	 * share of it. Recorded times are only estimates (a loaded machine, a file that builds a
	 * C extension): finer chunks let the workers that finish early take more, where a coarse
	 * packing left one worker with three chunks back to back while the other ran one. */
	nbins = (size_t)slots * 4;
	if (nknown) {
		double total = 0;
		for (i = 0; i < n; i++)
			total += files[i].est;
		if (total / (double)nbins < CHUNK_FINE_S)
			nbins = (size_t)slots * 2;
	}
	if (nbins > n)
		nbins = n;
	bins = calloc(nbins, sizeof(*bins));
	owner = calloc(n, sizeof(*owner));
	if (!bins || !owner) {
		free(bins);
		free(owner);
		free(files);
		json_decref(keep);
		json_decref(hist);
		return DTF_ENOMEM;
	}
	for (i = 0; i < nbins; i++)
		bins[i].idx = (int)i;
	if (nknown) {
		/* Longest processing time first: each file to the least loaded chunk. */
		qsort(files, n, sizeof(*files), by_est_desc);
		for (i = 0; i < n; i++) {
			size_t b, best = 0;
			for (b = 1; b < nbins; b++)
				if (bins[b].load < bins[best].load)
					best = b;
			bins[best].load += files[i].est;
			bins[best].n++;
			owner[i] = (int)best;
		}
	} else {
		qsort(files, n, sizeof(*files), by_path);
		for (i = 0; i < n; i++) {
			bins[i % nbins].load += files[i].est;
			bins[i % nbins].n++;
			owner[i] = (int)(i % nbins);
		}
	}
	/* Longest chunks are submitted (and so leased) first. */
	{
		struct bin *order = malloc(nbins * sizeof(*order));
		size_t b;
		if (order) {
			memcpy(order, bins, nbins * sizeof(*order));
			qsort(order, nbins, sizeof(*order), bin_by_load_desc);
		}
		for (b = 0; order && b < nbins; b++) {
			json_t *list = json_array(), *task;
			char name[128];
			const char *cwd = NULL;
			for (i = 0; i < n; i++) {
				if (owner[i] != order[b].idx)
					continue;
				json_array_append_new(list, json_string(files[i].path));
				if (!cwd)
					cwd = files[i].path;
			}
			snprintf(name, sizeof(name), "pytest chunk %zu of %zu (%d files, ~%.1f s)",
				 b + 1, nbins, order[b].n, order[b].load);
			task =
			    json_pack("{s:s,s:s,s:s,s:{s:O}}", "name", name, "type", "test",
				      "junit", "pytest-junit.xml", "params", "pytest_files", list);
			/* pytest runs the chunk, through the launcher: a worker without pytest
			 * fails it as an infrastructure error. */
			if (task && dtf_pyrun_task(task, "pytest", list) != 0) {
				json_decref(task);
				task = NULL;
			}
			json_decref(list);
			if (!task)
				continue;
			{
				/* Run from the first file's directory's project root: the common
				 * directory of the chunk's tasks (their cwd when discovered). */
				json_t *first = NULL, *e;
				size_t j;
				json_array_foreach(tasks, j, e)
					if (pytest_file_of(e) == cwd)
						first = e;
				if (first && json_object_get(first, "cwd"))
					json_object_set(task, "cwd", json_object_get(first, "cwd"));
			}
			json_array_append_new(keep, task);
		}
		free(order);
	}
	json_array_clear(tasks);
	json_array_extend(tasks, keep);
	json_decref(keep);
	json_decref(hist);
	free(bins);
	free(owner);
	free(files);
	return (int)nbins;
}

/* The dotted module of a test file as pytest names it in a JUnit classname: the path below its
 * rootdir without .py, "/" as "."; matched as a suffix-aligned component of the classname. */
static double file_time(const char *path, json_t *cases, bool *found)
{
	char mod[4096], *p;
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t i, mlen;
	json_t *c;
	double sum = 0;

	snprintf(mod, sizeof(mod), "%s", base);
	p = strstr(mod, ".py");
	if (p)
		*p = '\0';
	mlen = strlen(mod);
	json_array_foreach(cases, i, c) {
		const char *cl = dtf_json_str(c, "classname", "");
		const char *hit = strstr(cl, mod);
		/* "pkg.test_x", "test_x", "test_x.TestClass": the module name as a whole
		 * component. */
		while (hit &&
		       !((hit == cl || hit[-1] == '.') && (hit[mlen] == '\0' || hit[mlen] == '.')))
			hit = strstr(hit + 1, mod);
		if (hit) {
			sum += dtf_json_num(c, "time", 0);
			*found = true;
		}
	}
	return sum;
}

int dtf_pytest_history_update(struct dtf_http_client *hc, const char *run_id,
			      const char *history_path)
{
	char path[256];
	json_t *resp = NULL, *t, *hist = history_load(history_path), *doc;
	size_t i;
	int rc;
	FILE *f;
	char tmp[4200];

	snprintf(path, sizeof(path), "/api/v1/tasks?run_id=%s&limit=100000", run_id);
	rc = dtf_http_call(hc, "GET", path, NULL, 60000, &resp);
	if (rc) {
		json_decref(hist);
		return rc;
	}
	json_array_foreach(json_object_get(resp, "tasks"), i, t) {
		json_t *list = json_object_get(json_object_get(t, "params"), "pytest_files");
		json_t *result = json_object_get(t, "result");
		json_t *cases = json_object_get(result, "testcases");
		double total = dtf_json_num(result, "duration_s", -1), sum = 0, share;
		double *each;
		size_t j, nf = json_array_size(list);
		json_t *e;
		if (!nf || total < 0)
			continue;
		each = calloc(nf, sizeof(*each));
		if (!each)
			continue;
		json_array_foreach(list, j, e) {
			bool found = false;
			each[j] = file_time(str_or_empty(e), cases, &found);
			sum += each[j];
		}
		share = total > sum ? (total - sum) / (double)nf : 0;
		json_array_foreach(list, j, e)
			if (json_is_string(e))
				json_object_set_new(hist, json_string_value(e),
						    json_real(each[j] + share));
		free(each);
	}
	json_decref(resp);
	doc = json_pack("{s:i,s:o}", "version", 1, "files", hist);
	snprintf(tmp, sizeof(tmp), "%s.tmp", history_path);
	f = fopen(tmp, "w");
	if (!f) {
		json_decref(doc);
		return DTF_EIO;
	}
	rc = json_dumpf(doc, f, JSON_COMPACT) == 0 ? 0 : DTF_EIO;
	if (fclose(f) != 0)
		rc = DTF_EIO;
	json_decref(doc);
	if (rc == 0 && rename(tmp, history_path) != 0)
		rc = DTF_EIO;
	return rc;
}
