# pyrun.py: the launcher of Python test tasks (src/ci/pyrun.c embeds it at build time, without
# its comment lines, through scripts/embed_text.py; every discovered Python test task carries it
# in its environment as $DTF_PYRUN and runs it with `python3 -c "$DTF_PYRUN" MODE JUNIT ARGS…`).
#
# MODE is pytest or unittest (the runner discovery chose), JUNIT the report to write, relative to
# $DTF_WORK_DIR. It imports nothing outside Python's standard library before it knows pytest is
# there. pytest runs in-process (pytest.main) with a small plugin that marks non-strict XPASS
# results (pytest's JUnit writer shows them as plain passes) and notes which files yielded tests,
# so that a file with none gets a skipped "(no tests)" case instead of nothing. Without pytest, a
# unittest file runs through unittest with a result class that writes the same JUnit shape; a
# pytest file stops with exit status 97 and the "dtf: runner missing:" line that the worker turns
# into error.kind "infrastructure". Kept terse: its size is paid by every Python test task.
import os,sys,time
mode,junit,args=sys.argv[1],sys.argv[2],sys.argv[3:]
os.environ.pop("DTF_PYRUN",None)
junit=os.path.join(os.environ.get("DTF_WORK_DIR","."),junit)
os.makedirs(os.path.dirname(junit) or ".",exist_ok=True)
import xml.etree.ElementTree as ET,re
def clean(s):
 return re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f]","?",str(s))
def none_ran(files,why):
 try:root=ET.parse(junit).getroot()
 except Exception:root=ET.Element("testsuites")
 su=root if root.tag=="testsuite" else root.find("testsuite")
 if su is None:su=ET.SubElement(root,"testsuite",name="dtf")
 for f in files:
  c=ET.SubElement(su,"testcase",classname=os.path.splitext(os.path.basename(f))[0],name="(no tests)",time="0")
  ET.SubElement(c,"skipped",type="dtf.no_tests",message=clean("no tests ran: "+why))
 ET.ElementTree(root).write(junit,encoding="utf-8",xml_declaration=True)
try:import pytest
except ImportError:pytest=None
if pytest:
 seen=set()
 def key(p):return os.path.realpath(str(p).split("::")[0])
 class P:
  @pytest.hookimpl(hookwrapper=True)
  def pytest_runtest_makereport(self,item,call):
   r=(yield).get_result()
   if r.when=="call" and r.passed and hasattr(r,"wasxfail"):item.user_properties.append(("dtf.outcome","xpassed"))
  def pytest_configure(self,config):self.root=str(getattr(config,"rootpath",None) or config.rootdir)
  def pytest_collectreport(self,report):
   if report.failed or report.skipped:seen.add(key(os.path.join(self.root,report.nodeid)))
  def pytest_collection_finish(self,session):
   for i in session.items:seen.add(key(getattr(i,"path",None) or i.fspath))
 a=["-q","-p","no:cacheprovider","--continue-on-collection-errors","--junitxml="+junit]+args;sys.argv=["pytest"]+a
 rc=int(pytest.main(a,plugins=[P()]))
 empty=[a for a in args if not a.startswith("-") and os.path.isfile(a.split("::")[0]) and key(a) not in seen]
 if empty and rc in(0,1,5):
  none_ran(empty,"pytest collected no tests from this file (empty module, or every test deselected)")
  if rc==5:rc=0
 sys.exit(rc)
if mode!="unittest":
 sys.stderr.write("dtf: runner missing: pytest is not importable by %s (%s): apt-get install python3-pytest, or pip install pytest\n"%(os.environ.get("DTF_PYTHON") or "python3",sys.executable));sys.exit(97)
import unittest,traceback,importlib.util
class R(unittest.TestResult):
 def __init__(s):
  unittest.TestResult.__init__(s);s.cases=[];s.t0=time.time()
 def startTest(s,t):
  unittest.TestResult.startTest(s,t);s.t0=time.time()
 def add(s,t,kind=None,text="",msg=""):
  tc=getattr(t,"test_case",t);m=getattr(tc,"_testMethodName",None)
  if m:cl=type(tc).__module__+"."+type(tc).__qualname__;n=m+(" "+t._subDescription() if tc is not t else "")
  else:cl,n=mod,str(t)
  s.cases.append((cl,n,time.time()-s.t0,kind,text,msg))
 def tb(s,e,t):
  x=s._exc_info_to_string(e,t);return x,(x.strip().splitlines() or [""])[-1]
 def addSuccess(s,t):unittest.TestResult.addSuccess(s,t);s.add(t)
 def addFailure(s,t,e):unittest.TestResult.addFailure(s,t,e);s.add(t,"failure",*s.tb(e,t))
 def addError(s,t,e):unittest.TestResult.addError(s,t,e);s.add(t,"error",*s.tb(e,t))
 def addSkip(s,t,r):unittest.TestResult.addSkip(s,t,r);s.add(t,"skipped","",r)
 def addExpectedFailure(s,t,e):unittest.TestResult.addExpectedFailure(s,t,e);s.add(t,"xfailed",*s.tb(e,t))
 def addUnexpectedSuccess(s,t):unittest.TestResult.addUnexpectedSuccess(s,t);s.add(t,"failure","","unexpected success (the test is marked expectedFailure)")
 def addSubTest(s,t,st,e):
  unittest.TestResult.addSubTest(s,t,st,e)
  if e is not None:s.add(st,"failure" if issubclass(e[0],t.failureException) else "error",*s.tb(e,t))
root=ET.Element("testsuites");bad=False
for f in args:
 mod=os.path.splitext(os.path.basename(f))[0];r=R();r.buffer=True;t0=time.time()
 sys.path.insert(0,os.path.dirname(os.path.abspath(f)))
 try:
  sp=importlib.util.spec_from_file_location(mod,f);m=importlib.util.module_from_spec(sp);sys.modules[mod]=m;sp.loader.exec_module(m)
  unittest.TestLoader().loadTestsFromModule(m).run(r)
 except (Exception,SystemExit) as e:
  r.cases.append((mod,"(collection)",0,"error",traceback.format_exc(),"collection failure: "+repr(e)))
 su=ET.SubElement(root,"testsuite",name="unittest:"+mod,tests=str(len(r.cases)),time="%.3f"%(time.time()-t0))
 for cl,n,dt,kind,text,msg in r.cases:
  c=ET.SubElement(su,"testcase",classname=clean(cl),name=clean(n),time="%.3f"%dt)
  if kind=="xfailed":
   ET.SubElement(ET.SubElement(c,"properties"),"property",name="dtf.outcome",value="xfailed");kind="skipped"
  if kind:
   e=ET.SubElement(c,kind,message=clean(msg)[:4000]);e.text=clean(text)
   if kind!="skipped":bad=True;sys.stderr.write("%s: %s.%s\n%s\n"%(kind.upper(),cl,n,text or msg))
 if not r.cases:
  c=ET.SubElement(su,"testcase",classname=mod,name="(no tests)",time="0")
  ET.SubElement(c,"skipped",type="dtf.no_tests",message="no tests ran: unittest found no tests in this file")
ET.ElementTree(root).write(junit,encoding="utf-8",xml_declaration=True)
sys.stdout.write("dtf: pytest is not importable by %s; ran %s with unittest\n"%(sys.executable," ".join(args)))
sys.exit(1 if bad else 0)
