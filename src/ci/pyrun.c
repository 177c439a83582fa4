/* pyrun.c: runner detection for Python test files and the launcher that runs them (pyrun.h). */
#include "ci/pyrun.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "worker/classify.h"

/* The launcher, dtf_pyrun_source: src/ci/pyrun.py (what it does is said there), embedded
 * at build time by scripts/embed_text.py. */
#include "pyrun_source.inc"

/* True when p starts with the identifier w (followed by no identifier character). */
static bool word(const char *p, const char *end, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(end - p) < n || memcmp(p, w, n) != 0)
		return false;
	p += n;
	return p == end || !(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9'));
}

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

struct py_facts {
	bool uses_pytest, uses_unittest, module_tests, method_tests, test_class, testcase_class;
};

/* Notes what an import of module (the text from p to a separator) says. */
static void note_module(struct py_facts *f, const char *p, const char *end, bool from_import,
			const char *rest, const char *rest_end)
{
	if (word(p, end, "pytest") || word(p, end, "_pytest") ||
	    (end - p > 7 && memcmp(p, "pytest.", 7) == 0) ||
	    (end - p > 8 && memcmp(p, "_pytest.", 8) == 0)) {
		f->uses_pytest = true;
		return;
	}
	if (!word(p, end, "unittest"))
		return;
	/* unittest.mock alone is a mocking library, not a test runner. */
	if (end - p > 8 && p[8] == '.')
		return;
	if (from_import) {
		while (rest < rest_end && (*rest == ' ' || *rest == '\t' || *rest == '('))
			rest++;
		if (word(rest, rest_end, "mock"))
			return;
	}
	f->uses_unittest = true;
}

/* Reads one logical line's import statement: "import a, b as c" or "from a import b". */
static void note_import(struct py_facts *f, const char *p, const char *end)
{
	const char *q;

	if (word(p, end, "from")) {
		p += 4;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		for (q = p; q < end && *q != ' ' && *q != '\t'; q++)
			;
		/* "from x import y": the rest after "import". */
		{
			const char *r = q;
			while (r < end && (*r == ' ' || *r == '\t'))
				r++;
			if (word(r, end, "import"))
				r += 6;
			note_module(f, p, q, true, r, end);
		}
		return;
	}
	p += 6; /* "import" */
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		for (q = p; q < end && *q != ',' && *q != ' ' && *q != '\t'; q++)
			;
		if (q > p)
			note_module(f, p, q, false, q, end);
		/* Skip an "as name". */
		while (q < end && *q != ',')
			q++;
		p = q;
	}
}

const char *dtf_pyrun_detect(const char *text, size_t len)
{
	struct py_facts f = {0};
	const char *p = text, *end = text ? text + len : NULL;

	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end, *s = p;
		size_t indent;
		while (s < eol && (*s == ' ' || *s == '\t'))
			s++;
		indent = (size_t)(s - p);
		if (word(s, eol, "import") || word(s, eol, "from")) {
			note_import(&f, s, eol);
		} else if (word(s, eol, "async")) {
			s += 5;
			while (s < eol && (*s == ' ' || *s == '\t'))
				s++;
		}
		if (word(s, eol, "def")) {
			const char *name = skip_blanks(s + 3, eol);
			if (eol - name > 4 && memcmp(name, "test", 4) == 0) {
				if (indent == 0)
					f.module_tests = true;
				else
					f.method_tests = true;
			}
		} else if (word(s, eol, "class")) {
			const char *name = skip_blanks(s + 5, eol);
			if (eol - name > 4 && memcmp(name, "Test", 4) == 0)
				f.test_class = true;
		}
		if (word(s, eol, "class")) {
			const char *open = memchr(s, '(', (size_t)(eol - s));
			const char *close = open ? memchr(open, ')', (size_t)(eol - open)) : NULL;
			size_t i;
			for (i = 0; open && close && open + i + 8 <= close; i++)
				if (memcmp(open + i, "TestCase", 8) == 0)
					f.testcase_class = true;
		}
		p = nl ? nl + 1 : NULL;
	}
	if (f.uses_pytest || f.module_tests)
		return "pytest";
	if (f.testcase_class || f.uses_unittest)
		return "unittest";
	if (f.test_class || f.method_tests)
		return "pytest";
	return "python";
}

bool dtf_pyrun_valid(const char *runner)
{
	return runner && (strcmp(runner, "pytest") == 0 || strcmp(runner, "unittest") == 0 ||
			  strcmp(runner, "python") == 0);
}

int dtf_pyrun_task(json_t *task, const char *runner, const json_t *args)
{
	struct dtf_buf sh;
	const char *junit = json_string_value(json_object_get(task, "junit"));
	json_t *env, *params, *a;
	size_t i;
	int rc = DTF_EINVAL;

	if (!runner || (strcmp(runner, "pytest") && strcmp(runner, "unittest")) ||
	    !json_array_size(args))
		return DTF_EINVAL;
	if (!junit)
		junit = DTF_PYRUN_JUNIT;
	dtf_buf_init(&sh, 64u << 20);
	/* The interpreter itself missing is an infrastructure error too, not exit status 127; and
	 * a task derived from this one that lost its environment must not run `python3 -c ""`,
	 * which passes. */
	rc = dtf_buf_printf(
	    &sh,
	    "P=\"${DTF_PYTHON:-python3}\"; [ -n \"$%s\" ] || { echo \"%sthe task "
	    "lacks dtf's Python launcher (env %s)\" >&2; exit %d; }; command -v \"$P\" "
	    ">/dev/null 2>&1 || { echo \"%s$P is not installed on this worker: "
	    "apt-get install python3\" >&2; exit %d; }; exec \"$P\" -c \"$%s\" %s ",
	    DTF_PYRUN_ENV, DTF_RUNNER_MISSING_MARK, DTF_PYRUN_ENV, DTF_EXIT_RUNNER_MISSING,
	    DTF_RUNNER_MISSING_MARK, DTF_EXIT_RUNNER_MISSING, DTF_PYRUN_ENV, runner);
	if (!rc)
		rc = dtf_buf_add_shquote(&sh, junit);
	json_array_foreach(args, i, a) {
		if (rc)
			break;
		if (!json_is_string(a)) {
			rc = DTF_EINVAL;
			break;
		}
		rc = dtf_buf_adds(&sh, " ");
		if (!rc)
			rc = dtf_buf_add_shquote(&sh, json_string_value(a));
	}
	if (rc)
		goto out;
	rc = DTF_ENOMEM;
	env = json_object_get(task, "env");
	if (!json_is_object(env)) {
		env = json_object();
		if (!env || json_object_set_new(task, "env", env))
			goto out;
	}
	params = json_object_get(task, "params");
	if (!json_is_object(params)) {
		params = json_object();
		if (!params || json_object_set_new(task, "params", params))
			goto out;
	}
	if (json_object_set_new(env, DTF_PYRUN_ENV, json_string(dtf_pyrun_source)) ||
	    json_object_set_new(task, "shell", json_string(dtf_buf_str(&sh))) ||
	    json_object_set_new(task, "junit", json_string(junit)) ||
	    json_object_set_new(params, "runner", json_string(runner)))
		goto out;
	json_object_del(task, "command");
	rc = 0;
out:
	dtf_buf_release(&sh);
	return rc;
}
