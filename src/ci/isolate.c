/* isolate.c: a pytest chunk's failing tests re-run alone, and what that says about them (see
 * isolate.h and docs/reports.md, "Order dependence"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ci/isolate.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/hmap.h"
#include "common/json.h"
#include "common/util.h"
#include "net/http.h"

#define MAX_COMPS   256		/* dot-separated parts of a module path or classname */
#define ID_CAP	    (64u << 10) /* longest node id or test id built */
#define MESSAGE_CAP 200		/* the chunk's or the re-run's message quoted in a message */
#define NAMES_SHOWN 6		/* files named in a message before "and N more" */
#define DEFAULT_RUNNER                                                                             \
	"exec \"${DTF_PYTHON:-python3}\" -m pytest -q -p no:cacheprovider "                        \
	"--junitxml=\"$DTF_WORK_DIR/pytest-junit.xml\""

void dtf_isolate_opts_init(struct dtf_isolate_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_tests = DTF_ISOLATE_MAX_TESTS;
	o->max_seconds = DTF_ISOLATE_MAX_SECONDS;
}

bool dtf_isolate_is_opt(int opt)
{
	return opt >= DTF_ISOLATE_OPT_FIRST && opt <= DTF_ISOLATE_OPT_LAST;
}

int dtf_isolate_parse_opt(struct dtf_isolate_opts *o, int opt, const char *arg, char *err,
			  size_t errlen)
{
	char *end = NULL;
	long n;

	switch (opt) {
	case DTF_ISOLATE_OPT_OFF:
		o->off = true;
		return 0;
	case DTF_ISOLATE_OPT_ALLOW:
		o->allow = true;
		return 0;
	case DTF_ISOLATE_OPT_MAX_TESTS:
		n = arg ? strtol(arg, &end, 10) : -1;
		if (!arg || end == arg || *end || n < 0 || n > DTF_ISOLATE_TESTS_CAP) {
			snprintf(err, errlen, "--isolate-max-tests must be 0..%d",
				 DTF_ISOLATE_TESTS_CAP);
			return DTF_EINVAL;
		}
		o->max_tests = (int)n;
		return 0;
	case DTF_ISOLATE_OPT_MAX_SECONDS:
		if (!arg || dtf_parse_seconds(arg, &o->max_seconds) || o->max_seconds <= 0 ||
		    o->max_seconds > 86400) {
			snprintf(err, errlen,
				 "--isolate-max-seconds must be more than 0 (at most a "
				 "day)");
			return DTF_EINVAL;
		}
		return 0;
	default:
		snprintf(err, errlen, "not an isolation option");
		return DTF_EINVAL;
	}
}

/* ---- where a JUnit test case comes from ---- */

struct comp {
	const char *s;
	size_t n;
};

/* Splits s[0..len) at dots into parts (empty ones left out); -1 past max parts. */
static int split_dots(const char *s, size_t len, struct comp *c, int max)
{
	size_t i = 0, start = 0;
	int n = 0;

	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '.')
			continue;
		if (i > start) {
			if (n == max)
				return -1;
			c[n].s = s + start;
			c[n].n = i - start;
			n++;
		}
		start = i + 1;
	}
	return n;
}

static bool comp_eq(const struct comp *a, const struct comp *b)
{
	return a->n == b->n && memcmp(a->s, b->s, a->n) == 0;
}

/* How many leading parts of dotted name the file path: pytest writes a case's classname as the
 * file's path below its rootdir, "/" as "." and without ".py", then the classes ("tests.test_x.
 * TestA"), and a collection error's name as the module alone ("tests.test_x"). The rootdir is
 * not known here (it differs between a chunk and a re-run of one of its files), so the parts are
 * matched as a suffix of the path that ends with the file's module. Returns the offset in dotted
 * just past the module part (the classes follow after a dot), or -1 when path is not where
 * dotted comes from. */
static long module_end(const char *path, const char *dotted)
{
	char p[4096];
	struct comp pc[MAX_COMPS], dc[MAX_COMPS];
	size_t len = strlen(path), i;
	int np, nd, k, j;

	if (!dotted || !*dotted || len < 4 || len >= sizeof(p) || strcmp(path + len - 3, ".py"))
		return -1;
	len -= 3;
	for (i = 0; i < len; i++)
		p[i] = path[i] == '/' ? '.' : path[i];
	np = split_dots(p, len, pc, MAX_COMPS);
	nd = split_dots(dotted, strlen(dotted), dc, MAX_COMPS);
	if (np <= 0 || nd <= 0)
		return -1;
	/* The longest match: dc[0..k] are the last k + 1 parts of the path. */
	for (k = (nd < np ? nd : np) - 1; k >= 0; k--) {
		if (!comp_eq(&dc[k], &pc[np - 1]))
			continue;
		for (j = 0; j <= k && comp_eq(&dc[j], &pc[np - 1 - k + j]); j++)
			;
		if (j > k)
			return (long)(dc[k].s + dc[k].n - dotted);
	}
	return -1;
}

/* Where one test case of a chunk comes from. */
struct origin {
	int file;	     /* index in the chunk's files, -1 when not known */
	const char *classes; /* the classes after the module ("TestA.TestB"), "" for none */
	bool whole_file;     /* a collection error: the case is the file itself */
};

static const char *str_or(const json_t *obj, const char *key, const char *def)
{
	const char *s = dtf_json_str(obj, key, def);

	return s ? s : def;
}

static struct origin case_origin(const json_t *files, const json_t *tc)
{
	struct origin o = {-1, "", false};
	const char *cls = str_or(tc, "classname", ""), *name = str_or(tc, "name", "");
	const char *file = dtf_json_str(tc, "file", NULL);
	long best = -1, e;
	size_t i;
	const json_t *f;

	json_array_foreach(files, i, f) {
		const char *path = json_string_value(f);
		if (!path)
			continue;
		if (*cls) {
			e = module_end(path, cls);
			if (e >= 0 && (e > best || (file && strcmp(file, path) == 0))) {
				best = e;
				o.file = (int)i;
				o.classes = cls[e] == '.' ? cls + e + 1 : cls + e;
				o.whole_file = false;
			}
		} else {
			/* A collection error names the module, no class, no test. */
			e = module_end(path, name);
			if (e >= 0 && name[e] == '\0' && e > best) {
				best = e;
				o.file = (int)i;
				o.classes = "";
				o.whole_file = true;
			}
		}
	}
	return o;
}

/* Appends the test's id within its file: "TestA::TestB::test_x[p]" (classes' dots as "::"). */
static int add_local_id(struct dtf_buf *b, const char *classes, const char *name)
{
	int rc = 0;

	for (; *classes && !rc; classes++)
		rc = *classes == '.' ? dtf_buf_adds(b, "::") : dtf_buf_add(b, classes, 1);
	if (!rc && b->len && !(b->len >= 2 && memcmp(b->data + b->len - 2, "::", 2) == 0))
		rc = dtf_buf_adds(b, "::");
	return rc ? rc : dtf_buf_adds(b, name);
}

static bool status_failing(const char *st)
{
	return strcmp(st, "failed") == 0 || strcmp(st, "error") == 0;
}

static bool status_passing(const char *st)
{
	return strcmp(st, "passed") == 0 || strcmp(st, "xpassed") == 0;
}

/* A failed pytest chunk: its files and test cases, or false. */
static bool failed_chunk(const json_t *task, const json_t **files, const json_t **cases)
{
	*files = json_object_get(json_object_get(task, "params"), "pytest_files");
	*cases = json_object_get(json_object_get(task, "result"), "testcases");
	return strcmp(str_or(task, "status", ""), "failed") == 0 && json_is_array(*files) &&
	       json_array_size(*files) > 0 && json_is_array(*cases);
}

/* ---- the plan ---- */

/* Sets out's runner: the chunk's command with its list of files replaced by target (a node id or
 * a file), so a re-run has the chunk's interpreter, flags and JUnit report. */
static int set_runner(json_t *out, const json_t *chunk, const json_t *files, const char *target)
{
	const char *shell = dtf_json_str(chunk, "shell", NULL);
	const json_t *cmd = json_object_get(chunk, "command"), *f;
	struct dtf_buf b, tail;
	size_t i, nf = json_array_size(files);
	int rc = 0;

	dtf_buf_init(&b, (size_t)64 << 20);
	dtf_buf_init(&tail, (size_t)64 << 20);
	if (shell) {
		const char *at;
		json_array_foreach(files, i, f) {
			rc = dtf_buf_adds(&tail, " ");
			if (!json_is_string(f))
				rc = DTF_EINVAL;
			if (!rc)
				rc = dtf_buf_add_shquote(&tail, json_string_value(f));
			if (rc)
				break;
		}
		at = rc ? NULL : strstr(shell, dtf_buf_str(&tail));
		rc = 0;
		if (at) {
			rc = dtf_buf_add(&b, shell, (size_t)(at - shell));
			if (!rc)
				rc = dtf_buf_adds(&b, " ");
			if (!rc)
				rc = dtf_buf_add_shquote(&b, target);
			if (!rc)
				rc = dtf_buf_adds(&b, at + tail.len);
			if (!rc && json_object_set_new(out, "shell", json_string(dtf_buf_str(&b))))
				rc = DTF_ENOMEM;
			goto out;
		}
	} else if (json_is_array(cmd) && nf) {
		const char *first = json_string_value(json_array_get(files, 0));
		size_t n = json_array_size(cmd), k, j;
		for (k = 0; first && k + nf <= n; k++) {
			for (j = 0; j < nf; j++) {
				const char *a = json_string_value(json_array_get(cmd, k + j));
				const char *w = json_string_value(json_array_get(files, j));
				if (!a || !w || strcmp(a, w))
					break;
			}
			if (j < nf)
				continue;
			json_t *argv = json_array();
			for (j = 0; j < n; j++) {
				if (j == k)
					json_array_append_new(argv, json_string(target));
				else if (j < k || j >= k + nf)
					json_array_append(argv, json_array_get(cmd, j));
			}
			json_object_set_new(out, "command", argv);
			goto out;
		}
	}
	/* Not a command dtf made: pytest the way chunks run it. */
	rc = dtf_buf_adds(&b, DEFAULT_RUNNER " ");
	if (!rc)
		rc = dtf_buf_add_shquote(&b, target);
	if (!rc && (json_object_set_new(out, "shell", json_string(dtf_buf_str(&b))) ||
		    json_object_set_new(out, "junit", json_string("pytest-junit.xml"))))
		rc = DTF_ENOMEM;
out:
	dtf_buf_release(&b);
	dtf_buf_release(&tail);
	return rc;
}

/* A re-run task of chunk: target run alone, with the chunk's placement. */
static json_t *rerun_task(const json_t *chunk, const json_t *files, const char *target,
			  const char *kind, long case_index, const char *file,
			  const struct dtf_isolate_opts *o)
{
	static const char *const copied[] = {"type",	    "cwd",	"env",
					     "junit",	    "hardware", "requirements",
					     "constraints", "user",	"project"};
	json_t *t = json_object(), *iso = json_object();
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	size_t flen = strlen(file);
	char name[512];
	size_t i;

	if (!t || !iso)
		goto fail;
	for (i = 0; i < sizeof(copied) / sizeof(copied[0]); i++) {
		json_t *v = json_object_get(chunk, copied[i]);
		if (v && !json_is_null(v) && json_object_set(t, copied[i], v))
			goto fail;
	}
	/* "alone: test_x.py::TestA::test_y", cut (whole characters) to fit. */
	snprintf(name, sizeof(name), "alone: %s%s", base,
		 strncmp(target, file, flen) == 0 ? target + flen : "");
	if (strlen(name) == sizeof(name) - 1) {
		i = sizeof(name) - 1;
		while (i > 0 && ((unsigned char)name[i - 1] & 0xC0) == 0x80)
			i--;
		if (i > 0 && ((unsigned char)name[i - 1] & 0x80))
			i--; /* the lead byte of the character that was cut */
		name[i] = '\0';
	}
	if (json_object_set_new(t, "name", json_string(name)) ||
	    json_object_set_new(t, "timeout_s", json_real(o->max_seconds)) ||
	    json_object_set_new(t, "max_retries", json_integer(0)) ||
	    json_object_set_new(iso, "task_id", json_string(str_or(chunk, "id", ""))) ||
	    json_object_set_new(iso, "kind", json_string(kind)) ||
	    json_object_set_new(iso, "file", json_string(file)) ||
	    (case_index >= 0 && json_object_set_new(iso, "case", json_integer(case_index))) ||
	    json_object_set_new(t, "params", json_pack("{s:O}", "isolate", iso)) ||
	    set_runner(t, chunk, files, target))
		goto fail;
	json_decref(iso);
	return t;
fail:
	json_decref(t);
	json_decref(iso);
	return NULL;
}

/* The node id pytest selects one test case by: FILE::Class::test, or FILE for a file that failed
 * to import. */
static int node_id(struct dtf_buf *b, const char *file, const struct origin *org, const json_t *tc)
{
	int rc = dtf_buf_adds(b, file);

	if (org->whole_file || rc)
		return rc;
	rc = dtf_buf_adds(b, "::");
	return rc ? rc : add_local_id(b, org->classes, str_or(tc, "name", ""));
}

json_t *dtf_isolate_plan(const json_t *tasks, const struct dtf_isolate_opts *o)
{
	json_t *out = json_array(), *files_out = json_array();
	const json_t *task, *files, *cases, *tc;
	struct dtf_buf id;
	size_t i, j;
	int planned = 0;

	dtf_buf_init(&id, ID_CAP);
	if (!out || !files_out)
		goto fail;
	json_array_foreach(tasks, i, task) {
		struct origin *org;
		bool *wanted;
		size_t nf, nc;
		if (planned >= o->max_tests)
			break;
		if (!failed_chunk(task, &files, &cases))
			continue;
		nf = json_array_size(files);
		nc = json_array_size(cases);
		org = calloc(nc + 1, sizeof(*org));
		wanted = calloc(nf, sizeof(*wanted));
		if (!org || !wanted) {
			free(org);
			free(wanted);
			goto fail;
		}
		json_array_foreach(cases, j, tc)
			org[j] = case_origin(files, tc);
		json_array_foreach(cases, j, tc) {
			const char *file;
			json_t *t;
			if (planned >= o->max_tests)
				break;
			if (!status_failing(str_or(tc, "status", "")) || org[j].file < 0)
				continue;
			file = json_string_value(json_array_get(files, (size_t)org[j].file));
			dtf_buf_reset(&id);
			if (node_id(&id, file, &org[j], tc))
				continue; /* an id past ID_CAP: left as it failed */
			t = rerun_task(task, files, dtf_buf_str(&id), "test", (long)j, file, o);
			if (!t || json_array_append_new(out, t)) {
				free(org);
				free(wanted);
				goto fail;
			}
			planned++;
			if (!org[j].whole_file)
				wanted[org[j].file] = true;
		}
		/* The file of a re-run test, if one of its tests passed in the chunk. */
		for (size_t k = 0; k < nf; k++) {
			bool passed = false;
			const char *file = json_string_value(json_array_get(files, k));
			if (!wanted[k])
				continue;
			json_array_foreach(cases, j, tc) {
				if (org[j].file == (int)k &&
				    strcmp(str_or(tc, "status", ""), "passed") == 0)
					passed = true;
			}
			if (passed) {
				json_t *t = rerun_task(task, files, file, "file", -1, file, o);
				if (!t || json_array_append_new(files_out, t)) {
					free(org);
					free(wanted);
					goto fail;
				}
			}
		}
		free(org);
		free(wanted);
	}
	/* The single tests first: they are quick, and they decide the outcome of failing tests. */
	if (json_array_extend(out, files_out))
		goto fail;
	json_decref(files_out);
	dtf_buf_release(&id);
	return out;
fail:
	json_decref(out);
	json_decref(files_out);
	dtf_buf_release(&id);
	return NULL;
}

/* ---- the classification ---- */

static void rerun_key(struct dtf_buf *b, const char *kind, const char *task_id, const char *what)
{
	dtf_buf_reset(b);
	dtf_buf_printf(b, "%s\x1f%s\x1f%s", kind, task_id, what);
}

/* Appends at most NAMES_SHOWN file names (their last path part), then "and N more". */
static void add_names(struct dtf_buf *b, const json_t *paths)
{
	size_t i, n = json_array_size(paths);
	const json_t *p;

	json_array_foreach(paths, i, p) {
		const char *s = json_is_string(p) ? json_string_value(p) : "";
		const char *base = strrchr(s, '/') ? strrchr(s, '/') + 1 : s;
		if (i == NAMES_SHOWN) {
			dtf_buf_printf(b, " and %zu more", n - i);
			break;
		}
		dtf_buf_printf(b, "%s%s", i ? ", " : "", base);
	}
}

/* Appends what ran before a case in its chunk: "a.py, b.py and 3 earlier tests of its file". */
static void add_before(struct dtf_buf *b, const json_t *before, long earlier)
{
	if (json_array_size(before))
		add_names(b, before);
	if (earlier > 0)
		dtf_buf_printf(b, "%s%ld earlier test%s of its own file",
			       json_array_size(before) ? " and " : "", earlier,
			       earlier == 1 ? "" : "s");
	if (!json_array_size(before) && earlier <= 0)
		dtf_buf_adds(b, "nothing (it ran first)");
}

static void add_quoted(struct dtf_buf *b, const char *what, const char *msg)
{
	size_t n;

	if (!msg || !*msg)
		return;
	/* Its first line: the rest is in the case's details, or the isolation object. */
	n = strcspn(msg, "\r\n");
	if (n > MESSAGE_CAP) {
		size_t m = MESSAGE_CAP;
		while (m > 0 && ((unsigned char)msg[m] & 0xC0) == 0x80)
			m--; /* whole characters only */
		dtf_buf_printf(b, " (%s: %.*s…)", what, (int)m, msg);
		return;
	}
	dtf_buf_printf(b, " (%s: %.*s)", what, (int)n, msg);
}

/* What a re-run says about the case it was made for: the case's status when run alone (a
 * passing, failing or other status), or NULL with *reason set when it says nothing. *found is
 * the re-run's case, when one. */
static const char *alone_status(const json_t *r, const char *file, const char *local_id,
				bool whole_file, bool single, const struct dtf_isolate_opts *o,
				char *reason, size_t rlen, const json_t **found)
{
	const char *st = str_or(r, "status", "");
	const json_t *cases = json_object_get(json_object_get(r, "result"), "testcases"), *c;
	const json_t *err = json_object_get(r, "error");
	struct dtf_buf b;
	size_t i, nfail = 0, npass = 0;
	const char *out = NULL;

	*found = NULL;
	if (strcmp(st, "completed") && strcmp(st, "failed")) {
		snprintf(reason, rlen, "the re-run did not finish within %g s (%s)", o->max_seconds,
			 st);
		return NULL;
	}
	if (strcmp(str_or(err, "kind", ""), "timeout") == 0) {
		snprintf(reason, rlen, "the re-run did not finish within %g s", o->max_seconds);
		return NULL;
	}
	if (whole_file) {
		json_array_foreach(cases, i, c) {
			if (status_failing(str_or(c, "status", ""))) {
				nfail++;
				if (!*found)
					*found = c;
			} else if (status_passing(str_or(c, "status", ""))) {
				npass++;
			}
		}
		if (nfail)
			return "failed";
		if (npass && strcmp(st, "completed") == 0)
			return "passed";
		snprintf(reason, rlen, "the file run alone ran no test that passed (%s)",
			 str_or(err, "message", st));
		return NULL;
	}
	dtf_buf_init(&b, ID_CAP);
	json_array_foreach(cases, i, c) {
		long e = module_end(file, str_or(c, "classname", ""));
		const char *cls = str_or(c, "classname", "");
		dtf_buf_reset(&b);
		if (e < 0)
			continue;
		if (add_local_id(&b, cls[e] == '.' ? cls + e + 1 : cls + e, str_or(c, "name", "")))
			continue;
		if (strcmp(dtf_buf_str(&b), local_id) == 0) {
			*found = c;
			break;
		}
	}
	dtf_buf_release(&b);
	if (!*found && single && json_array_size(cases) == 1 &&
	    strcmp(str_or(json_array_get(cases, 0), "classname", ""), "") != 0)
		*found = json_array_get(cases, 0); /* the one test its node id selected */
	if (!*found) {
		long long code = dtf_json_int(json_object_get(r, "result"), "exit_code", -1);
		snprintf(reason, rlen, "the re-run found no such test (exit code %lld)", code);
		return NULL;
	}
	out = str_or(*found, "status", "passed");
	if (status_passing(out) || status_failing(out))
		return out;
	snprintf(reason, rlen, "it was %s when run alone", out);
	return NULL;
}

/* One chunk's failing and (for re-run files) passing cases, classified. */
static int classify_chunk(json_t *task, const json_t *files, json_t *cases,
			  const struct dtf_hmap *reruns, const struct dtf_isolate_opts *o,
			  bool have_reruns)
{
	const char *task_id = str_or(task, "id", "");
	size_t nc = json_array_size(cases), nf = json_array_size(files), i;
	struct origin *org = calloc(nc + 1, sizeof(*org));
	long *seen = calloc(nf + 1, sizeof(*seen));
	struct dtf_buf key, lid, msg;
	json_t *tc;
	int changed = 0, rc = 0;
	char reason[512];

	dtf_buf_init(&key, ID_CAP + 1024);
	dtf_buf_init(&lid, ID_CAP);
	dtf_buf_init(&msg, 8192);
	if (!org || !seen) {
		rc = DTF_ENOMEM;
		goto out;
	}
	json_array_foreach(cases, i, tc)
		org[i] = case_origin(files, tc);
	json_array_foreach(cases, i, tc) {
		const char *st = str_or(tc, "status", "");
		bool failing = status_failing(st);
		const char *file, *alone;
		const json_t *r, *found = NULL;
		json_t *iso, *before;
		long earlier;
		char idx[32];

		if (!json_is_object(tc))
			continue;
		if (org[i].file < 0) {
			if (failing)
				json_object_set_new(
				    tc, "isolation",
				    json_pack("{s:s,s:s,s:s}", "outcome", "not_rerun",
					      "chunk_status", st, "reason",
					      "its file could not be told from the JUnit report"));
			continue;
		}
		earlier = seen[org[i].file]++;
		if (!failing && strcmp(st, "passed") != 0)
			continue;
		file = json_string_value(json_array_get(files, (size_t)org[i].file));
		dtf_buf_reset(&lid);
		if (!org[i].whole_file &&
		    add_local_id(&lid, org[i].classes, str_or(tc, "name", "")))
			continue;
		if (failing) {
			snprintf(idx, sizeof(idx), "%zu", i);
			rerun_key(&key, "test", task_id, idx);
		} else {
			rerun_key(&key, "file", task_id, file);
		}
		r = dtf_hmap_get(reruns, dtf_buf_str(&key));
		if (!failing && !r)
			continue; /* a passing case whose file was not re-run alone */
		before = json_array();
		for (size_t k = 0; before && k < (size_t)org[i].file; k++)
			json_array_append(before, json_array_get(files, k));
		iso = json_pack("{s:s,s:o,s:I}", "chunk_status", st, "files_before", before,
				"earlier_in_file", (json_int_t)earlier);
		if (!iso) {
			rc = DTF_ENOMEM;
			goto out;
		}
		reason[0] = '\0';
		alone = r ? alone_status(r, file, dtf_buf_str(&lid), org[i].whole_file, failing, o,
					 reason, sizeof(reason), &found)
			  : NULL;
		if (r) {
			json_object_set_new(iso, "rerun_task_id", json_string(str_or(r, "id", "")));
			json_object_set_new(iso, "rerun", json_string(failing ? "test" : "file"));
		}
		if (alone)
			json_object_set_new(iso, "alone_status", json_string(alone));
		if (!failing) {
			/* A passing case of a file re-run alone. */
			if (!alone || !status_failing(alone)) {
				json_decref(iso);
				continue;
			}
			dtf_buf_reset(&msg);
			dtf_buf_adds(&msg, "fails when its file runs alone");
			add_quoted(&msg, "alone", str_or(found, "message", NULL));
			dtf_buf_adds(&msg, "; passed in its chunk after ");
			add_before(&msg, before, earlier);
			json_object_set_new(iso, "outcome", json_string("isolation_failure"));
			json_object_set_new(tc, "status", json_string("isolation_failure"));
			json_object_set_new(tc, "type", json_string("isolation_failure"));
			json_object_set_new(tc, "message", json_string(dtf_buf_str(&msg)));
			if (found && json_is_string(json_object_get(found, "details")))
				json_object_set(tc, "details", json_object_get(found, "details"));
			json_object_set_new(tc, "isolation", iso);
			changed++;
			continue;
		}
		if (!r) {
			json_object_set_new(iso, "outcome", json_string("not_rerun"));
			snprintf(reason, sizeof(reason),
				 have_reruns ? "over the bound of %d tests re-run alone"
					     : "not re-run alone",
				 o->max_tests);
			json_object_set_new(iso, "reason", json_string(reason));
		} else if (!alone) {
			json_object_set_new(iso, "outcome", json_string("inconclusive"));
			json_object_set_new(iso, "reason", json_string(reason));
		} else if (status_failing(alone)) {
			json_object_set_new(iso, "outcome", json_string("failed"));
		} else {
			dtf_buf_reset(&msg);
			dtf_buf_adds(&msg, "passes alone; failed in its chunk after ");
			add_before(&msg, before, earlier);
			add_quoted(&msg, "in the chunk", str_or(tc, "message", NULL));
			json_object_set_new(iso, "outcome", json_string("order_dependent"));
			if (json_is_string(json_object_get(tc, "message")))
				json_object_set(iso, "chunk_message",
						json_object_get(tc, "message"));
			if (json_is_string(json_object_get(tc, "type")))
				json_object_set(iso, "chunk_type", json_object_get(tc, "type"));
			json_object_set_new(tc, "status", json_string("order_dependent"));
			json_object_set_new(tc, "type", json_string("order_dependent"));
			json_object_set_new(tc, "message", json_string(dtf_buf_str(&msg)));
			changed++;
		}
		json_object_set_new(tc, "isolation", iso);
	}
	rc = changed;
out:
	free(org);
	free(seen);
	dtf_buf_release(&key);
	dtf_buf_release(&lid);
	dtf_buf_release(&msg);
	return rc;
}

int dtf_isolate_apply(json_t *doc, const json_t *reruns, const struct dtf_isolate_opts *o)
{
	struct dtf_hmap idx;
	struct dtf_buf key;
	const json_t *r, *files, *cases;
	json_t *task;
	size_t i;
	int changed = 0, rc = 0;

	dtf_hmap_init(&idx);
	dtf_buf_init(&key, ID_CAP + 1024);
	json_array_foreach(reruns, i, r) {
		const json_t *iso = json_object_get(json_object_get(r, "params"), "isolate");
		const char *kind = str_or(iso, "kind", "");
		char what[32];
		if (strcmp(kind, "test") == 0 && json_is_integer(json_object_get(iso, "case"))) {
			snprintf(what, sizeof(what), "%lld", dtf_json_int(iso, "case", 0));
			rerun_key(&key, "test", str_or(iso, "task_id", ""), what);
		} else if (strcmp(kind, "file") == 0) {
			rerun_key(&key, "file", str_or(iso, "task_id", ""),
				  str_or(iso, "file", ""));
		} else {
			continue;
		}
		if (dtf_hmap_put(&idx, dtf_buf_str(&key), (void *)r)) {
			rc = DTF_ENOMEM;
			goto out;
		}
	}
	json_array_foreach(json_object_get(doc, "tasks"), i, task) {
		int n;
		if (!failed_chunk(task, &files, &cases))
			continue;
		n = classify_chunk(task, files, (json_t *)cases, &idx, o,
				   json_array_size(reruns) > 0);
		if (n < 0) {
			rc = n;
			goto out;
		}
		changed += n;
	}
	rc = changed;
out:
	dtf_hmap_release(&idx);
	dtf_buf_release(&key);
	return rc;
}

bool dtf_isolate_only_order(const json_t *doc)
{
	const json_t *task, *files, *cases, *tc;
	size_t i, j, nfailed = 0;

	json_array_foreach(json_object_get(doc, "tasks"), i, task) {
		const json_t *result = json_object_get(task, "result");
		size_t order = 0;
		if (strcmp(str_or(task, "status", ""), "failed") != 0)
			continue;
		nfailed++;
		if (!failed_chunk(task, &files, &cases) ||
		    dtf_json_int(result, "exit_code", -1) != 1 ||
		    dtf_json_int(result, "signal", 0) != 0)
			return false;
		json_array_foreach(cases, j, tc) {
			const char *st = str_or(tc, "status", "");
			if (status_failing(st))
				return false;
			if (strcmp(st, "order_dependent") == 0 ||
			    strcmp(st, "isolation_failure") == 0)
				order++;
		}
		if (!order)
			return false;
	}
	return nfailed > 0;
}

/* ---- the re-runs on a coordinator ---- */

static json_t *list_tasks(struct dtf_http_client *hc, const char *run_id, const char *status,
			  int *rc)
{
	char path[256];
	json_t *resp = NULL, *tasks;

	snprintf(path, sizeof(path), "/api/v1/tasks?run_id=%s%s%s&limit=100000", run_id,
		 status ? "&status=" : "", status ? status : "");
	*rc = dtf_http_call(hc, "GET", path, NULL, 120000, &resp);
	tasks = json_object_get(resp, "tasks");
	if (*rc || !json_is_array(tasks)) {
		if (!*rc)
			*rc = DTF_EPROTO;
		json_decref(resp);
		return NULL;
	}
	json_incref(tasks);
	json_decref(resp);
	return tasks;
}

/* Prints what the re-runs found: one line per order-dependent test and isolation failure, then
 * the counts. */
static void print_findings(json_t *failed, const json_t *reruns, const struct dtf_isolate_opts *o)
{
	json_t *doc = json_pack("{s:O}", "tasks", failed), *task, *tc;
	int n[5] = {0};
	size_t i, j;

	if (!doc)
		return;
	if (dtf_isolate_apply(doc, reruns, o) < 0) {
		json_decref(doc);
		return;
	}
	json_array_foreach(json_object_get(doc, "tasks"), i, task) {
		json_array_foreach(json_object_get(json_object_get(task, "result"), "testcases"), j,
				   tc) {
			const char *out = str_or(json_object_get(tc, "isolation"), "outcome", "");
			const char *cls = str_or(tc, "classname", "");
			int which = strcmp(out, "order_dependent") == 0	    ? 0
				    : strcmp(out, "isolation_failure") == 0 ? 1
				    : strcmp(out, "failed") == 0	    ? 2
				    : *out				    ? 3
									    : 4;
			n[which]++;
			if (which <= 1)
				fprintf(stderr, "%s: %s%s%s: %s\n",
					which ? "isolation failure" : "order-dependent", cls,
					*cls ? "::" : "", str_or(tc, "name", ""),
					str_or(tc, "message", ""));
		}
	}
	fprintf(stderr,
		"dtf: isolation: %d order-dependent, %d isolation failure%s, %d fail%s alone too, "
		"%d not told apart\n",
		n[0], n[1], n[1] == 1 ? "" : "s", n[2], n[2] == 1 ? "s" : "", n[3]);
	json_decref(doc);
}

int dtf_isolate_run(struct dtf_http_client *hc, const char *run_id,
		    const struct dtf_isolate_opts *o, json_t **reruns)
{
	json_t *failed = NULL, *plan = NULL, *resp = NULL, *body, *left;
	char iso_run[80], path[256];
	size_t ntests = 0, i;
	int64_t start = dtf_mono_ms(), deadline;
	int rc, last = -1;
	bool done = false;
	const json_t *t;

	*reruns = NULL;
	if (o->off || o->max_tests == 0)
		return 0;
	*reruns = json_array();
	failed = list_tasks(hc, run_id, "failed", &rc);
	if (!failed)
		goto out;
	plan = dtf_isolate_plan(failed, o);
	if (!plan) {
		rc = DTF_ENOMEM;
		goto out;
	}
	if (json_array_size(plan) == 0)
		goto out;
	json_array_foreach(plan, i, t) {
		const json_t *iso = json_object_get(json_object_get(t, "params"), "isolate");
		if (strcmp(str_or(iso, "kind", ""), "test") == 0)
			ntests++;
	}
	snprintf(path, sizeof(path), "isolation re-runs of %s", run_id);
	body = json_pack("{s:O,s:{s:s}}", "tasks", plan, "run", "name", path);
	rc = body ? dtf_http_call(hc, "POST", "/api/v1/tasks", body, 120000, &resp) : DTF_ENOMEM;
	json_decref(body);
	if (rc)
		goto out;
	snprintf(iso_run, sizeof(iso_run), "%s", dtf_json_str(resp, "run_id", ""));
	json_decref(resp);
	resp = NULL;
	if (!o->quiet)
		fprintf(stderr,
			"dtf: re-running %zu failing test%s alone and %zu of their files, to tell "
			"order dependence (at most %g s)\n",
			ntests, ntests == 1 ? "" : "s", json_array_size(plan) - ntests,
			o->max_seconds);
	deadline = start + (int64_t)(o->max_seconds * 1000.0);
	while (!done && dtf_mono_ms() < deadline) {
		double wait = (double)(deadline - dtf_mono_ms()) / 1000.0;
		json_t *s = NULL;
		int n;
		snprintf(path, sizeof(path), "/api/v1/runs/%s/summary?wait_s=%.2f", iso_run,
			 wait > 1      ? 1.0
			 : wait > 0.05 ? wait
				       : 0.05);
		rc = dtf_http_call(hc, "GET", path, NULL, 20000, &s);
		if (rc == DTF_ENET || rc == DTF_ETIMEOUT) {
			json_decref(s);
			usleep(200 * 1000);
			continue;
		}
		if (rc) {
			json_decref(s);
			goto out;
		}
		done = dtf_json_bool(s, "done", false);
		n = (int)(dtf_json_int(s, "completed", 0) + dtf_json_int(s, "failed", 0) +
			  dtf_json_int(s, "cancelled", 0));
		if (!o->quiet && n != last)
			fprintf(stderr, "isolation: %d/%zu re-runs done\n", n,
				json_array_size(plan));
		last = n;
		json_decref(s);
	}
	if (!done) {
		/* The bound: what has not finished is cancelled (a running task is stopped). */
		left = list_tasks(hc, iso_run, NULL, &rc);
		json_array_foreach(left, i, t) {
			const char *st = str_or(t, "status", "");
			if (strcmp(st, "pending") && strcmp(st, "assigned") &&
			    strcmp(st, "running"))
				continue;
			snprintf(path, sizeof(path), "/api/v1/tasks/%s", str_or(t, "id", ""));
			dtf_http_call(hc, "DELETE", path, NULL, 10000, NULL);
		}
		json_decref(left);
		if (!o->quiet)
			fprintf(stderr,
				"isolation: stopped after %g s; what did not finish keeps "
				"its status from the chunk\n",
				o->max_seconds);
	}
	left = list_tasks(hc, iso_run, NULL, &rc);
	if (!left)
		goto out;
	json_decref(*reruns);
	*reruns = left;
	if (!o->quiet)
		print_findings(failed, *reruns, o);
out:
	if (rc && !o->quiet)
		fprintf(stderr,
			"dtf: the isolation re-runs failed: %s (%s); failing tests are "
			"reported as the chunks gave them\n",
			dtf_strerror(rc), hc->error);
	if (rc && json_array_size(*reruns)) {
		json_decref(*reruns);
		*reruns = json_array();
	}
	json_decref(failed);
	json_decref(plan);
	json_decref(resp);
	return rc;
}
