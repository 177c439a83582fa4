/* analyze.c: requirement analysis of test files and the discovery of `dtf ci` (pytest files,
 * CTest directories, go test packages, explicit file lists). */
#include "ci/analyze.h"

#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "ci/discover.h"
#include "common/err.h"
#include "common/json.h"
#include "common/util.h"

#define MAX_DEPTH 8

/* The text lower-cased, NULs turned to spaces, NUL-terminated. */
struct text {
	char *s;
	size_t n;
};

static bool is_word(char c)
{
	return isalnum((unsigned char)c);
}

/* True when w occurs in t with no letter or digit right before or after it. */
static bool has_word(const struct text *t, const char *w)
{
	size_t m = strlen(w);
	const char *p = t->s;

	while ((p = strstr(p, w))) {
		bool before = p == t->s || !is_word(p[-1]);
		bool after = !is_word(p[m]);
		if (before && after)
			return true;
		p += 1;
	}
	return false;
}

/* ---- comments ----
 * Each stripper blanks a language's comments in place (newlines stay, so words on either side
 * stay apart) and leaves string literals as they are: `device = "cuda"` is code. */

/* Blanks s[from, to) except newlines. */
static void blank(char *s, size_t from, size_t to)
{
	for (; from < to; from++)
		if (s[from] != '\n')
			s[from] = ' ';
}

/* The end of a one-line string literal opened by quote q at s[i] (backslash escapes). */
static size_t skip_string(const char *s, size_t n, size_t i, char q)
{
	for (i++; i < n && s[i] != q && s[i] != '\n'; i++)
		if (s[i] == '\\' && i + 1 < n)
			i++;
	return i < n ? i + 1 : n;
}

/* Python: `#` comments, and docstrings: a triple-quoted string that stands as a statement of
 * its own (at the start of a logical line, outside brackets). */
static void strip_python(char *s, size_t n)
{
	size_t i = 0, j;
	int depth = 0;

	while (i < n) {
		char c = s[i];
		if (c == '#') {
			for (j = i; j < n && s[j] != '\n'; j++)
				;
			blank(s, i, j);
			i = j;
		} else if ((c == '"' || c == '\'') && i + 2 < n && s[i + 1] == c && s[i + 2] == c) {
			bool statement;
			size_t k = i, end;
			for (j = i + 3; j + 2 < n; j++) {
				if (s[j] == '\\') {
					j++;
					continue;
				}
				if (s[j] == c && s[j + 1] == c && s[j + 2] == c)
					break;
			}
			end = j + 2 < n ? j + 3 : n;
			/* What comes before it on its line: string prefixes (r, b, u, f), blanks.
			 */
			for (j = 0; j < 2 && k > 0 && s[k - 1] && strchr("rbuf", s[k - 1]); j++)
				k--;
			while (k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\t'))
				k--;
			statement =
			    depth == 0 && (k == 0 || s[k - 1] == ':' || s[k - 1] == ';' ||
					   (s[k - 1] == '\n' && (k < 2 || s[k - 2] != '\\')));
			if (statement)
				blank(s, i, end);
			i = end;
		} else if (c == '"' || c == '\'') {
			i = skip_string(s, n, i, c);
		} else {
			if (c == '(' || c == '[' || c == '{')
				depth++;
			else if ((c == ')' || c == ']' || c == '}') && depth > 0)
				depth--;
			i++;
		}
	}
}

/* Shell and the like: `#` at the start of a word, to the end of the line; quotes hide it. */
static void strip_hash(char *s, size_t n)
{
	size_t i = 0, j;

	while (i < n) {
		char c = s[i];
		if (c == '#' && (i == 0 || strchr(" \t\n;|&()", s[i - 1]))) {
			for (j = i; j < n && s[j] != '\n'; j++)
				;
			blank(s, i, j);
			i = j;
		} else if (c == '\'') {
			/* No escapes inside single quotes; they may span lines. */
			for (j = i + 1; j < n && s[j] != '\''; j++)
				;
			i = j < n ? j + 1 : n;
		} else if (c == '"') {
			for (j = i + 1; j < n && s[j] != '"'; j++)
				if (s[j] == '\\' && j + 1 < n)
					j++;
			i = j < n ? j + 1 : n;
		} else {
			i += c == '\\' ? 2 : 1;
		}
	}
}

/* C-like: line comments and block comments; "…", '…' and `…` literals hide them. */
static void strip_c(char *s, size_t n)
{
	size_t i = 0, j;

	while (i < n) {
		char c = s[i];
		if (c == '/' && i + 1 < n && s[i + 1] == '/') {
			for (j = i; j < n && s[j] != '\n'; j++)
				;
			blank(s, i, j);
			i = j;
		} else if (c == '/' && i + 1 < n && s[i + 1] == '*') {
			for (j = i + 2; j + 1 < n && !(s[j] == '*' && s[j + 1] == '/'); j++)
				;
			j = j + 1 < n ? j + 2 : n;
			blank(s, i, j);
			i = j;
		} else if (c == '"' || c == '\'') {
			i = skip_string(s, n, i, c);
		} else if (c == '`') {
			for (j = i + 1; j < n && s[j] != '`'; j++)
				if (s[j] == '\\' && j + 1 < n)
					j++;
			i = j < n ? j + 1 : n;
		} else {
			i++;
		}
	}
}

static bool ext_in(const char *ext, const char *const *list)
{
	for (; *list; list++)
		if (strcasecmp(ext, *list) == 0)
			return true;
	return false;
}

enum dtf_lang dtf_analyze_lang(const char *path, const char *text, size_t len)
{
	static const char *const py[] = {"py", "pyw", NULL};
	static const char *const hash[] = {"sh", "bash", "zsh", "ksh", "bats", "rb",
					   "pl", "pm",	 "r",	"tcl", NULL};
	static const char *const cl[] = {"c",  "h",    "cc",  "cpp",   "cxx",	"hpp", "hh",
					 "js", "mjs",  "cjs", "jsx",   "ts",	"tsx", "go",
					 "rs", "java", "kt",  "scala", "swift", "cs",  NULL};
	const char *base = path ? strrchr(path, '/') : NULL;
	const char *dot;
	char line[128];
	size_t i;

	base = base ? base + 1 : path;
	dot = base ? strrchr(base, '.') : NULL;
	if (dot && dot != base) {
		if (ext_in(dot + 1, py))
			return DTF_LANG_PYTHON;
		if (ext_in(dot + 1, hash))
			return DTF_LANG_HASH;
		if (ext_in(dot + 1, cl))
			return DTF_LANG_C;
	}
	if (!text || len < 3 || text[0] != '#' || text[1] != '!')
		return DTF_LANG_OTHER;
	for (i = 0; i < len && i + 1 < sizeof(line) && text[i] && text[i] != '\n'; i++)
		line[i] = (char)tolower((unsigned char)text[i]);
	line[i] = '\0';
	if (strstr(line, "python"))
		return DTF_LANG_PYTHON;
	if (strstr(line, "node") || strstr(line, "deno") || strstr(line, "bun"))
		return DTF_LANG_C;
	if (strstr(line, "sh") || strstr(line, "ruby") || strstr(line, "perl"))
		return DTF_LANG_HASH;
	return DTF_LANG_OTHER;
}

static bool has(const struct text *t, const char *s)
{
	return strstr(t->s, s) != NULL;
}

static void add_hw(json_t *hw, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(hw, i, v)
		if (strcmp(json_string_value(v), name) == 0)
			return;
	json_array_append_new(hw, json_string(name));
}

/* After a marker: skips separators (spaces, =, :, (, quotes) and copies a value of
 * [a-z0-9_.,-] (or digits only with digits) into out. Returns its length. */
static size_t marker_value(const char *p, bool digits, char *out, size_t len)
{
	size_t n = 0;

	while (*p == ' ' || *p == '\t' || *p == '=' || *p == ':' || *p == '(' || *p == '"' ||
	       *p == '\'')
		p++;
	while (*p && n + 1 < len &&
	       (digits ? isdigit((unsigned char)*p)
		       : (isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == ',' ||
			  *p == '.' || *p == '"' || *p == '\'' || *p == ' '))) {
		if (!digits && (*p == '"' || *p == '\'' || *p == ' ')) {
			/* "cuda", "rocm" → cuda,rocm; a space ends an unquoted value. */
			if (*p == ' ' && (n == 0 || out[n - 1] != ','))
				break;
			p++;
			continue;
		}
		out[n++] = *p++;
	}
	out[n] = '\0';
	while (n && (out[n - 1] == ',' || out[n - 1] == '.'))
		out[--n] = '\0';
	return n;
}

/* Finds the first of the markers and reads its value. */
static bool find_marker(const struct text *t, const char *const *markers, bool digits, char *out,
			size_t len)
{
	int i;

	for (i = 0; markers[i]; i++) {
		const char *p = t->s;
		size_t m = strlen(markers[i]);
		while ((p = strstr(p, markers[i]))) {
			/* A marker name must not be the end of a longer identifier. */
			bool before = p == t->s || !(is_word(p[-1]) || p[-1] == '_');
			if (before && marker_value(p + m, digits, out, len) > 0)
				return true;
			p += m;
		}
	}
	return false;
}

/* A marker in the code; else, in a comment, a command-line one: a comment may say how to run the
 * file ("# run with --hardware webgpu"), the way a `dtf:` header does, but a commented-out
 * decorator or a word in a comment is not evidence. */
static bool marker(const struct text *code, const struct text *all, const char *const *markers,
		   bool digits, char *out, size_t len)
{
	const char *cli[2] = {NULL, NULL};
	int i;

	if (find_marker(code, markers, digits, out, len))
		return true;
	for (i = 0; markers[i]; i++)
		if (strncmp(markers[i], "--", 2) == 0)
			cli[0] = markers[i];
	return cli[0] && find_marker(all, cli, digits, out, len);
}

json_t *dtf_analyze_text(const char *text, size_t len, enum dtf_lang lang)
{
	static const char *const hw_markers[] = {"--hardware", "mark.hardware", "hardware(",
						 "hardware=", NULL};
	static const char *const mem_markers[] = {"min_memory", "--min-memory", NULL};
	static const char *const browser_markers[] = {"mark.browser", "browser(",
						      "browser=", "--browser", NULL};
	static const char *const prio_markers[] = {"mark.priority", "priority(",
						   "priority=", "--priority", NULL};
	struct text t, all;
	json_t *out, *hw, *ev;
	char v[256];
	size_t i;

	if (len > DTF_ANALYZE_MAX_BYTES)
		len = DTF_ANALYZE_MAX_BYTES;
	t.s = malloc(len + 1);
	all.s = malloc(len + 1);
	if (!t.s || !all.s) {
		free(t.s);
		free(all.s);
		return NULL;
	}
	for (i = 0; i < len; i++)
		t.s[i] = text[i] ? (char)tolower((unsigned char)text[i]) : ' ';
	t.s[len] = '\0';
	t.n = len;
	memcpy(all.s, t.s, len + 1);
	all.n = len;
	/* What a comment mentions is not what the test uses: t is the code, all the whole text. */
	if (lang == DTF_LANG_PYTHON)
		strip_python(t.s, len);
	else if (lang == DTF_LANG_HASH)
		strip_hash(t.s, len);
	else if (lang == DTF_LANG_C)
		strip_c(t.s, len);
	out = json_object();
	hw = json_array();
	ev = json_array();

	if (marker(&t, &all, hw_markers, false, v, sizeof(v))) {
		json_t *parts = dtf_json_split(v, ",");
		json_t *p;
		json_array_foreach(parts, i, p) {
			const char *s = json_string_value(p);
			add_hw(hw, strcmp(s, "qnn") == 0 ? "qualcomm" : s);
		}
		json_decref(parts);
		json_object_set_new(out, "hardware_source", json_string("marker"));
		json_array_append_new(ev, json_sprintf("hardware marker: %s", v));
	} else {
		bool ml = has(&t, "import torch") || has(&t, "from torch") ||
			  has_word(&t, "tensorflow") || has_word(&t, "jax") ||
			  has_word(&t, "numba");
		if ((ml && has_word(&t, "cuda")) || has_word(&t, "cupy") ||
		    has_word(&t, "nvidia-smi")) {
			add_hw(hw, "cuda");
			json_array_append_new(
			    ev, json_string(ml ? "ML framework + cuda" : "cupy or nvidia-smi"));
		}
		if (has_word(&t, "rocm") || has_word(&t, "hip")) {
			add_hw(hw, "rocm");
			json_array_append_new(ev, json_string("rocm/hip"));
		}
		if (has_word(&t, "mps")) {
			add_hw(hw, "mps");
			json_array_append_new(ev, json_string("mps"));
		}
		if (has_word(&t, "openvino")) {
			add_hw(hw, "openvino");
			json_array_append_new(ev, json_string("openvino"));
		}
		if (has_word(&t, "qnn") || has_word(&t, "qualcomm")) {
			add_hw(hw, "qualcomm");
			json_array_append_new(ev, json_string("qnn/qualcomm"));
		}
		if (has_word(&t, "webgpu") || has(&t, "navigator.gpu")) {
			add_hw(hw, "webgpu");
			json_array_append_new(ev, json_string("webgpu"));
		}
		if (has_word(&t, "webnn") || has(&t, "navigator.ml")) {
			add_hw(hw, "webnn");
			json_array_append_new(ev, json_string("webnn"));
		}
		json_object_set_new(out, "hardware_source", json_string("content"));
	}
	if (json_array_size(hw) == 0)
		add_hw(hw, "cpu");
	json_object_set_new(out, "hardware", hw);

	if (marker(&t, &all, mem_markers, true, v, sizeof(v))) {
		double mib = strtod(v, NULL);
		if (mib > 0 && mib <= 1e9) {
			json_object_set_new(out, "min_memory", json_integer((json_int_t)mib));
			json_array_append_new(ev, json_sprintf("min_memory %s", v));
		}
	}
	if (marker(&t, &all, browser_markers, false, v, sizeof(v))) {
		json_object_set_new(out, "browser", json_string(v));
		json_array_append_new(ev, json_sprintf("browser %s", v));
	}
	if (marker(&t, &all, prio_markers, true, v, sizeof(v))) {
		long pr = strtol(v, NULL, 10);
		if (pr >= 1 && pr <= 10) {
			json_object_set_new(out, "priority", json_integer(pr));
			json_array_append_new(ev, json_sprintf("priority %ld", pr));
		}
	}
	json_object_set_new(out, "evidence", ev);
	free(t.s);
	free(all.s);
	return out;
}

void dtf_analyze_apply(json_t *task, const json_t *a)
{
	json_t *req = json_object_get(task, "requirements");
	json_t *params = json_object_get(task, "params");
	const json_t *hw = json_object_get(a, "hardware");

	if (!params) {
		params = json_object();
		json_object_set_new(task, "params", params);
	}
	json_object_set(params, "inferred", (json_t *)a);
	/* A `dtf:` header sets hardware, requirements or priority itself: it wins. */
	if (json_object_get(task, "hardware") || json_object_get(req, "hardware")) {
		json_object_set_new(params, "hardware_source", json_string("dtf: header"));
	} else if (json_array_size(hw) == 1 &&
		   strcmp(json_string_value(json_array_get(hw, 0)), "cpu") == 0) {
		/* Plain CPU tests run anywhere: no requirement. */
		json_object_set_new(params, "hardware_source", json_string("none found"));
	} else {
		json_object_set(task, "hardware", (json_t *)hw);
		json_object_set(params, "hardware_source", json_object_get(a, "hardware_source"));
	}
	if (json_object_get(a, "min_memory") && !json_object_get(req, "memory")) {
		if (!req) {
			req = json_object();
			json_object_set_new(task, "requirements", req);
		}
		json_object_set(req, "memory", json_object_get(a, "min_memory"));
	}
	if (json_object_get(a, "browser"))
		json_object_set(params, "browser", json_object_get(a, "browser"));
	if (json_object_get(a, "priority") && !json_object_get(task, "priority"))
		json_object_set(task, "priority", json_object_get(a, "priority"));
}

static bool suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Finishes one discovered file task: params.file and the analysis. */
static void finish(json_t *task, const char *path)
{
	char *text = NULL;
	size_t len = 0;
	json_t *a;

	if (!json_object_get(task, "params"))
		json_object_set_new(task, "params", json_object());
	json_object_set_new(json_object_get(task, "params"), "file", json_string(path));
	/* Only the head of a file is read: tests say what they need near the top. */
	if (dtf_read_head(path, DTF_ANALYZE_MAX_BYTES, &text, &len, NULL) != 0)
		return;
	/* Discovery has chosen a Python file's runner already (ci/pyrun.h). */
	a = dtf_analyze_text(text, len, dtf_analyze_lang(path, text, len));
	free(text);
	if (a)
		dtf_analyze_apply(task, a);
	json_decref(a);
}

/* Adds a runner task for a directory (CTest or go test). */
static void dir_task(json_t *tasks, const char *root, const char *dir, const char *runner)
{
	char abs[PATH_MAX], name[PATH_MAX + 16];
	const char *rel = dir + strlen(root);
	json_t *t;

	while (*rel == '/')
		rel++;
	if (!realpath(dir, abs))
		return;
	snprintf(name, sizeof(name), "%s%s%s", runner, *rel ? ":" : "", rel);
	if (strcmp(runner, "ctest") == 0)
		t = json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s}}", "type", "test", "name", name,
			      "shell",
			      "exec ctest --test-dir . --output-on-failure --output-junit "
			      "\"$DTF_WORK_DIR/ctest.xml\"",
			      "junit", "ctest.xml", "params", "runner", "ctest", "file", dir);
	else
		t = json_pack("{s:s,s:s,s:[s,s,s]s:{s:s,s:s}}", "type", "test", "name", name,
			      "command", "go", "test", ".", "params", "runner", "go", "file", dir);
	if (!t)
		return;
	json_object_set_new(t, "cwd", json_string(abs));
	json_array_append_new(tasks, t);
}

static int walk_dirs(const char *root, const char *dir, json_t *tasks, int depth)
{
	DIR *d;
	struct dirent *e;
	bool ctest = false, go = false;
	json_t *subs = json_array(), *s;
	size_t i;
	int found = 0;

	if (depth > MAX_DEPTH || !(d = opendir(dir))) {
		json_decref(subs);
		return 0;
	}
	while ((e = readdir(d))) {
		char p[PATH_MAX];
		struct stat st;
		if (e->d_name[0] == '.' || strcmp(e->d_name, "node_modules") == 0 ||
		    strcmp(e->d_name, "__pycache__") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (stat(p, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			json_array_append_new(subs, json_string(e->d_name));
		else if (strcmp(e->d_name, "CTestTestfile.cmake") == 0)
			ctest = true;
		else if (suffix(e->d_name, "_test.go"))
			go = true;
	}
	closedir(d);
	if (ctest) {
		/* ctest runs the subdirectories' tests too. */
		dir_task(tasks, root, dir, "ctest");
		json_decref(subs);
		return 1;
	}
	if (go) {
		dir_task(tasks, root, dir, "go");
		found++;
	}
	json_array_foreach(subs, i, s) {
		char p[PATH_MAX];
		if (strcmp(json_string_value(s), "vendor") == 0 ||
		    strcmp(json_string_value(s), "testdata") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, json_string_value(s));
		found += walk_dirs(root, p, tasks, depth + 1);
	}
	json_decref(subs);
	return found;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(dtf_json_str(*(json_t *const *)a, "name", ""),
		      dtf_json_str(*(json_t *const *)b, "name", ""));
}

int dtf_ci_discover(const char *dir, const char *pattern, const json_t *files, json_t *tasks,
		    char *err, size_t errlen)
{
	size_t start = json_array_size(tasks), i;
	json_t *f, *t;
	char root[PATH_MAX];
	int rc;

	if (files) {
		json_array_foreach(files, i, f) {
			const char *path = json_string_value(f);
			struct stat st;
			if (!path || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
				snprintf(err, errlen, "test file %s does not exist",
					 path ? path : "?");
				return DTF_ENOTFOUND;
			}
			rc = dtf_discover_file("", path, tasks, err, errlen);
			if (rc < 0)
				return rc;
			if (rc == 0) {
				snprintf(err, errlen, "%s is not a test dtf can run", path);
				return DTF_EINVAL;
			}
			/* Named as given on the command line. */
			json_object_set_new(json_array_get(tasks, json_array_size(tasks) - 1),
					    "name", json_string(path));
			finish(json_array_get(tasks, json_array_size(tasks) - 1), path);
		}
		return (int)(json_array_size(tasks) - start);
	}
	snprintf(root, sizeof(root), "%s", dir);
	while (strlen(root) > 1 && root[strlen(root) - 1] == '/')
		root[strlen(root) - 1] = '\0';
	rc = dtf_discover(root, pattern ? pattern : "test_*.py", tasks, err, errlen);
	if (rc < 0)
		return rc;
	for (i = start; i < json_array_size(tasks); i++) {
		char path[PATH_MAX * 2];
		t = json_array_get(tasks, i);
		snprintf(path, sizeof(path), "%s/%s", root, dtf_json_str(t, "name", ""));
		finish(t, path);
	}
	walk_dirs(root, root, tasks, 0);
	/* A stable order: by name. */
	{
		size_t n = json_array_size(tasks) - start;
		json_t **v = calloc(n ? n : 1, sizeof(*v));
		if (!v)
			return DTF_ENOMEM;
		for (i = 0; i < n; i++)
			v[i] = json_incref(json_array_get(tasks, start + i));
		qsort(v, n, sizeof(*v), cmp_name);
		for (i = 0; i < n; i++)
			json_array_set_new(tasks, start + i, v[i]);
		free(v);
	}
	return (int)(json_array_size(tasks) - start);
}
