/* pyrun.c: runner detection for Python test files and the launcher that runs them (pyrun.h). */
#include "ci/pyrun.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "worker/classify.h"

#include "common/banned.h"

/* The launcher. It imports nothing that is not in Python's standard library before it knows pytest
 * is there; pytest runs in-process (pytest.main) with a small plugin that marks non-strict XPASS
 * results in the report (pytest's JUnit writer shows them as plain passes) and notes which files
 * yielded tests, so that a file with none gets a skipped "(no tests)" case instead of nothing.
 * Without pytest, a unittest file runs through unittest with a result class that writes the same
 * JUnit shape; a pytest file stops with DTF_EXIT_RUNNER_MISSING (97) and the "dtf: runner
 * missing:" line that the worker turns into error.kind "infrastructure". Kept terse: every
 * discovered Python test task carries it. */
const char dtf_pyrun_source[] =
    "import os,sys,time\n"
    "mode,junit,args=sys.argv[1],sys.argv[2],sys.argv[3:]\n"
    "os.environ.pop(\"DTF_PYRUN\",None)\n"
    "junit=os.path.join(os.environ.get(\"DTF_WORK_DIR\",\".\"),junit)\n"
    "os.makedirs(os.path.dirname(junit) or \".\",exist_ok=True)\n"
    "import xml.etree.ElementTree as ET,re\n"
    "def clean(s):\n"
    " return re.sub(\"[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]\",\"?\",str(s))\n"
    "def none_ran(files,why):\n"
    " try:root=ET.parse(junit).getroot()\n"
    " except Exception:root=ET.Element(\"testsuites\")\n"
    " su=root if root.tag==\"testsuite\" else root.find(\"testsuite\")\n"
    " if su is None:su=ET.SubElement(root,\"testsuite\",name=\"dtf\")\n"
    " for f in files:\n"
    "  c=ET.SubElement(su,\"testcase\",classname=os.path.splitext(os.path.basename(f))[0],nam"
    "e=\"(no tests)\",time=\"0\")\n"
    "  ET.SubElement(c,\"skipped\",type=\"dtf.no_tests\",message=clean(\"no tests ran: \"+why"
    "))\n"
    " ET.ElementTree(root).write(junit,encoding=\"utf-8\",xml_declaration=True)\n"
    "try:import pytest\n"
    "except ImportError:pytest=None\n"
    "if pytest:\n"
    " seen=set()\n"
    " def key(p):return os.path.realpath(str(p).split(\"::\")[0])\n"
    " class P:\n"
    "  @pytest.hookimpl(hookwrapper=True)\n"
    "  def pytest_runtest_makereport(self,item,call):\n"
    "   r=(yield).get_result()\n"
    "   if r.when==\"call\" and r.passed and hasattr(r,\"wasxfail\"):item.user_properties.app"
    "end((\"dtf.outcome\",\"xpassed\"))\n"
    "  def pytest_configure(self,config):self.root=str(getattr(config,\"rootpath\",None) or c"
    "onfig.rootdir)\n"
    "  def pytest_collectreport(self,report):\n"
    "   if report.failed or report.skipped:seen.add(key(os.path.join(self.root,report.nodeid)"
    "))\n"
    "  def pytest_collection_finish(self,session):\n"
    "   for i in session.items:seen.add(key(getattr(i,\"path\",None) or i.fspath))\n"
    " a=[\"-q\",\"-p\",\"no:cacheprovider\",\"--continue-on-collection-errors\",\"--junitxml="
    "\"+junit]+args;sys.argv=[\"pytest\"]+a\n"
    " rc=int(pytest.main(a,plugins=[P()]))\n"
    " empty=[a for a in args if not a.startswith(\"-\") and os.path.isfile(a.split(\"::\")[0]"
    ") and key(a) not in seen]\n"
    " if empty and rc in(0,1,5):\n"
    "  none_ran(empty,\"pytest collected no tests from this file (empty module, or every test"
    " deselected)\")\n"
    "  if rc==5:rc=0\n"
    " sys.exit(rc)\n"
    "if mode!=\"unittest\":\n"
    " sys.stderr.write(\"dtf: runner missing: pytest is not importable by %s (%s): apt-get in"
    "stall python3-pytest, or pip install pytest\\n\"%(os.environ.get(\"DTF_PYTHON\") or \"py"
    "thon3\",sys.executable));sys.exit(97)\n"
    "import unittest,traceback,importlib.util\n"
    "class R(unittest.TestResult):\n"
    " def __init__(s):\n"
    "  unittest.TestResult.__init__(s);s.cases=[];s.t0=time.time()\n"
    " def startTest(s,t):\n"
    "  unittest.TestResult.startTest(s,t);s.t0=time.time()\n"
    " def add(s,t,kind=None,text=\"\",msg=\"\"):\n"
    "  tc=getattr(t,\"test_case\",t);m=getattr(tc,\"_testMethodName\",None)\n"
    "  if m:cl=type(tc).__module__+\".\"+type(tc).__qualname__;n=m+(\" \"+t._subDescription()"
    " if tc is not t else \"\")\n"
    "  else:cl,n=mod,str(t)\n"
    "  s.cases.append((cl,n,time.time()-s.t0,kind,text,msg))\n"
    " def tb(s,e,t):\n"
    "  x=s._exc_info_to_string(e,t);return x,(x.strip().splitlines() or [\"\"])[-1]\n"
    " def addSuccess(s,t):unittest.TestResult.addSuccess(s,t);s.add(t)\n"
    " def addFailure(s,t,e):unittest.TestResult.addFailure(s,t,e);s.add(t,\"failure\",*s.tb(e"
    ",t))\n"
    " def addError(s,t,e):unittest.TestResult.addError(s,t,e);s.add(t,\"error\",*s.tb(e,t))\n"
    " def addSkip(s,t,r):unittest.TestResult.addSkip(s,t,r);s.add(t,\"skipped\",\"\",r)\n"
    " def addExpectedFailure(s,t,e):unittest.TestResult.addExpectedFailure(s,t,e);s.add(t,\"x"
    "failed\",*s.tb(e,t))\n"
    " def addUnexpectedSuccess(s,t):unittest.TestResult.addUnexpectedSuccess(s,t);s.add(t,\"f"
    "ailure\",\"\",\"unexpected success (the test is marked expectedFailure)\")\n"
    " def addSubTest(s,t,st,e):\n"
    "  unittest.TestResult.addSubTest(s,t,st,e)\n"
    "  if e is not None:s.add(st,\"failure\" if issubclass(e[0],t.failureException) else \"er"
    "ror\",*s.tb(e,t))\n"
    "root=ET.Element(\"testsuites\");bad=False\n"
    "for f in args:\n"
    " mod=os.path.splitext(os.path.basename(f))[0];r=R();r.buffer=True;t0=time.time()\n"
    " sys.path.insert(0,os.path.dirname(os.path.abspath(f)))\n"
    " try:\n"
    "  sp=importlib.util.spec_from_file_location(mod,f);m=importlib.util.module_from_spec(sp)"
    ";sys.modules[mod]=m;sp.loader.exec_module(m)\n"
    "  unittest.TestLoader().loadTestsFromModule(m).run(r)\n"
    " except (Exception,SystemExit) as e:\n"
    "  r.cases.append((mod,\"(collection)\",0,\"error\",traceback.format_exc(),\"collection f"
    "ailure: \"+repr(e)))\n"
    " su=ET.SubElement(root,\"testsuite\",name=\"unittest:\"+mod,tests=str(len(r.cases)),time"
    "=\"%.3f\"%(time.time()-t0))\n"
    " for cl,n,dt,kind,text,msg in r.cases:\n"
    "  c=ET.SubElement(su,\"testcase\",classname=clean(cl),name=clean(n),time=\"%.3f\"%dt)\n"
    "  if kind==\"xfailed\":\n"
    "   ET.SubElement(ET.SubElement(c,\"properties\"),\"property\",name=\"dtf.outcome\",value"
    "=\"xfailed\");kind=\"skipped\"\n"
    "  if kind:\n"
    "   e=ET.SubElement(c,kind,message=clean(msg)[:4000]);e.text=clean(text)\n"
    "   if kind!=\"skipped\":bad=True;sys.stderr.write(\"%s: %s.%s\\n%s\\n\"%(kind.upper(),cl"
    ",n,text or msg))\n"
    " if not r.cases:\n"
    "  c=ET.SubElement(su,\"testcase\",classname=mod,name=\"(no tests)\",time=\"0\")\n"
    "  ET.SubElement(c,\"skipped\",type=\"dtf.no_tests\",message=\"no tests ran: unittest fou"
    "nd no tests in this file\")\n"
    "ET.ElementTree(root).write(junit,encoding=\"utf-8\",xml_declaration=True)\n"
    "sys.stdout.write(\"dtf: pytest is not importable by %s; ran %s with unittest\\n\"%(sys.e"
    "xecutable,\" \".join(args)))\n"
    "sys.exit(1 if bad else 0)\n";

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
	json_array_foreach(args, i, a)
	{
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
