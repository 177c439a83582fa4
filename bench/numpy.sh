#!/bin/sh
# numpy.sh: a real third-party suite through dtf. Debian's python3-numpy ships numpy's own tests;
# the test files of numpy/core/tests, numpy/lib/tests and numpy/linalg/tests are run, one after
# the other on the same machine, by:
#   1. serial pytest (one process, every file in order): the reference;
#   2. pytest-xdist with -n WORKERS (python3-pytest-xdist);
#   3. dtf run --pytest --workers WORKERS (files in chunks, several per pytest process; a chunk's
#      failing tests re-run alone to tell order dependence): first without a duration history
#      (chunks of equal file counts), then again with the durations the first run recorded
#      (chunks packed by time, as every later run in CI).
# For each it prints the wall time and the counts by status, then compares the three test by
# test: every test must have the same status in all three, except the ones dtf names
# order-dependent or isolation failures (it prints each difference). Exit 0 when they agree.
# Usage: bench/numpy.sh   (WORKERS=2, NUMPY_DIRS="core lib linalg", KEEP=1 keeps the logs,
# DTF_BIN, DTF_PYTHON: the interpreter with numpy and pytest, default /usr/bin/python3);
# bench/numpy.sh --compare DIR compares again the results a KEEP=1 run left in DIR.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DTF=${DTF_BIN:-$ROOT/build/dtf}
PY=${DTF_PYTHON:-/usr/bin/python3}
WORKERS=${WORKERS:-2}
NUMPY_DIRS=${NUMPY_DIRS:-core lib linalg}
case "$DTF" in /*) ;; *) DTF="$PWD/$DTF" ;; esac
[ -x "$DTF" ] || { echo "build dtf first (cmake --build build)" >&2; exit 2; }
"$PY" -c 'import numpy, pytest, xdist' 2>/dev/null || {
	echo "$PY needs numpy, pytest and xdist: apt-get install python3-numpy python3-pytest" \
		"python3-pytest-xdist" >&2
	exit 2
}
export DTF_PYTHON="$PY"
NP=$("$PY" -c 'import numpy, os; print(os.path.dirname(numpy.__file__))')
# The comparison of the three runs' results in the current directory (their logs, JUnit reports
# and dtf's results.json): counts, times, and every test whose status differs.
compare() {
	"$PY" - "$NP" files.txt serial.xml xdist.xml dtf-out/results.json serial.log xdist.log dtf.log \
		dtf2-out/results.json dtf2.log <<'EOF'
import json, os, re, sys, xml.etree.ElementTree as ET
np_dir, files_txt, serial_xml, xdist_xml, dtf_json = sys.argv[1:6]
logs = sys.argv[6:9]
dtf2_json, dtf2_log = sys.argv[9:11]
files = [os.path.relpath(l.strip(), np_dir) for l in open(files_txt) if l.strip()]
by_base = {}
for f in files:
    parts = f[:-3].split("/")
    by_base.setdefault(parts[-1], []).append(parts)

def key(classname, name, only=None):
    """The test's id below numpy's directory, whatever pytest's rootdir was: the file is the one
    (of only, a chunk's files, when given) whose path ends with the classname's leading parts."""
    comps = (classname or name).split(".")
    best = None
    for k in range(len(comps) - 1, -1, -1):
        for parts in by_base.get(comps[k], []):
            if only is not None and "/".join(parts) + ".py" not in only:
                continue
            if k + 1 <= len(parts) and comps[:k + 1] == parts[len(parts) - k - 1:]:
                best = (parts, k)
                break
        if best:
            break
    if not best:
        return "?" + classname + "::" + name
    parts, k = best
    rest = comps[k + 1:] if classname else []
    return "/".join(parts) + ".py" + "".join("::" + c for c in rest) + ("::" + name if classname else "")

SEVERITY = {"passed": 0, "skipped": 1, "xfailed": 1, "xpassed": 1, "failed": 2, "error": 3}

def junit(path):
    out = {}
    for tc in ET.parse(path).getroot().iter("testcase"):
        st = "passed"
        if tc.find("error") is not None:
            st = "error"
        elif tc.find("failure") is not None:
            st = "failed"
        elif tc.find("skipped") is not None:
            st = "xfailed" if tc.find("skipped").get("type") == "pytest.xfail" else "skipped"
        k = key(tc.get("classname", ""), tc.get("name", ""))
        # pytest writes a test that fails and then errors in teardown twice: the worse counts.
        if k not in out or SEVERITY.get(st, 0) > SEVERITY.get(out[k], 0):
            out[k] = st
    return out

def dtf_cases(path):
    doc = json.load(open(path))
    out, iso, extra = {}, {}, []
    for t in doc["tasks"]:
        # A chunk's rootdir is its files' common directory: its classnames are told apart by
        # its own files (numpy has test_regression.py in core, lib and linalg).
        only = {os.path.relpath(f, np_dir) for f in t.get("params", {}).get("pytest_files", [])}
        for tc in (t.get("result") or {}).get("testcases") or []:
            st = tc.get("status", "passed")
            if st == "skipped" and tc.get("type") == "pytest.xfail":
                st = "xfailed"
            if tc.get("type") == "dtf.no_tests":
                extra.append(tc.get("classname"))
                continue
            k = key(tc.get("classname", ""), tc.get("name", ""), only or None)
            if k not in out or SEVERITY.get(st, 2) > SEVERITY.get(out[k], 2):
                out[k] = st
            if "isolation" in tc:
                iso[k] = tc["isolation"]
    return out, iso, doc.get("summary", {}), extra

def wall(log):
    m = re.search(r"@@ rc=(-?\d+) wall=([\d.]+) rerun_at=(\S+)", open(log).read())
    return (int(m.group(1)), float(m.group(2)), m.group(3)) if m else (None, None, "-")

serial, xdist = junit(serial_xml), junit(xdist_xml)
dtf, iso, summary, no_tests = dtf_cases(dtf_json)
runs = [("serial pytest", serial, logs[0]), ("pytest-xdist", xdist, logs[1]),
        ("dtf run", dtf, logs[2])]
others = [("pytest-xdist", xdist), ("dtf run", dtf)]
if os.path.exists(dtf2_json):
    dtf2, iso2, _, _ = dtf_cases(dtf2_json)
    runs.append(("dtf run again", dtf2, dtf2_log))
    others.append(("dtf run again", dtf2))
    iso.update(iso2)
statuses = ["passed", "failed", "error", "skipped", "xfailed", "xpassed", "order_dependent",
            "isolation_failure"]
print()
print("| run | wall s | exit | tests | " + " | ".join(statuses) + " |")
print("| --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in statuses) + " |")
for name, res, log in runs:
    rc, w, rerun_at = wall(log)
    counts = {s: 0 for s in statuses}
    for st in res.values():
        counts[st] = counts.get(st, 0) + 1
    note = " (re-runs from %s s)" % rerun_at if rerun_at != "-" else ""
    print("| %s | %s%s | %s | %d | %s |" % (name, "%.1f" % w if w else "?", note, rc, len(res),
          " | ".join(str(counts[s]) for s in statuses)))
print()
print("dtf's own summary: " + ", ".join("%s %s" % (k, summary.get(k)) for k in
      ["total"] + statuses if summary.get(k)))
if no_tests:
    print("files where dtf ran no test (reported skipped, not in the comparison): %s" % no_tests)

named = {k for k, v in iso.items() if v.get("outcome") in ("order_dependent", "isolation_failure")}
# pytest's JUnit report writes an unexpected pass (xpass) as passed; dtf tells it apart.
def same(a, b):
    return a == b or {a, b} == {"passed", "xpassed"}
bad = 0
print()
for other_name, other in others:
    diffs = []
    for k in sorted(set(serial) | set(other)):
        a, b = serial.get(k, "(absent)"), other.get(k, "(absent)")
        if not same(a, b):
            diffs.append((k, a, b))
    unnamed = [d for d in diffs if d[0] not in named]
    print("serial pytest vs %s: %d tests differ, %d of them named by dtf as order-dependent or "
          "isolation failures (xpassed = passed)" % (other_name, len(diffs),
                                                    len(diffs) - len(unnamed)))
    for k, a, b in diffs[:40]:
        v = iso.get(k, {})
        print("  %s: serial %s, %s %s%s" % (k, a, other_name, b,
              " (dtf: %s; alone: %s; files before: %s)" % (v.get("outcome"),
              v.get("alone_status", "-"), ", ".join(os.path.basename(f) for f in
              v.get("files_before", [])) or "none") if v else ""))
    if len(diffs) > 40:
        print("  … and %d more" % (len(diffs) - 40))
    if other_name.startswith("dtf run"):
        bad += len(unnamed)
print()
for k, v in sorted(iso.items()):
    print("dtf isolation: %s: %s (chunk %s, alone %s)%s" % (k, v.get("outcome"),
          v.get("chunk_status"), v.get("alone_status", "-"),
          " — " + v["reason"] if v.get("reason") else ""))
sys.exit(1 if bad else 0)
EOF
}
if [ "${1:-}" = --compare ]; then
	cd "${2:?usage: bench/numpy.sh --compare DIR (a directory KEEP=1 kept)}"
	compare
	exit
fi
TMP=$(mktemp -d)
cleanup() {
	if [ "${KEEP:-0}" = 1 ]; then echo "logs kept in $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT INT TERM
# Every run from an empty directory of its own, without pytest's cache.
cd "$TMP"
: > files.txt
dirs=""
for d in $NUMPY_DIRS; do
	[ -d "$NP/$d/tests" ] || { echo "no $NP/$d/tests" >&2; exit 2; }
	find "$NP/$d/tests" -maxdepth 1 -name 'test_*.py' | sort >> files.txt
	dirs="$dirs --test-dir $NP/$d/tests"
done
echo "numpy $("$PY" -c 'import numpy; print(numpy.__version__)'), pytest" \
	"$("$PY" -c 'import pytest; print(pytest.__version__)'), $(wc -l < files.txt) test files" \
	"($NUMPY_DIRS), $(nproc) cores, $WORKERS workers"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# One command, timed; its output in NAME.log. The time of the line that starts dtf's re-runs is
# noted too, so that the time they took is told apart.
timed() {
	name=$1
	shift
	echo "  (load average at the start: $(cut -d' ' -f1-3 /proc/loadavg))"
	mkdir -p "$name" && (cd "$name" && "$PY" - "$@" > "../$name.log" 2>&1 <<'EOF'
import subprocess, sys, time
t0 = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
rerun_at = None
for line in p.stdout:
    line = line.decode("utf-8", "replace")
    if rerun_at is None and line.startswith("dtf: re-running"):
        rerun_at = time.monotonic() - t0
    sys.stdout.write(line)
rc = p.wait()
wall = time.monotonic() - t0
print("\n@@ rc=%d wall=%.1f rerun_at=%s" % (rc, wall, "%.1f" % rerun_at if rerun_at else "-"))
EOF
	) || true
	tail -n 1 "$name.log"
}

# Warm-up (not timed): the modules and files in the page cache for all three.
"$PY" -m pytest --collect-only -q -p no:cacheprovider $(cat files.txt) > collect.log 2>&1 || true
echo "collected: $(tail -n 1 collect.log)"

echo "serial pytest:"
timed serial "$PY" -m pytest -q -p no:cacheprovider --junitxml=../serial.xml $(cat files.txt)
echo "pytest-xdist -n $WORKERS:"
timed xdist "$PY" -m pytest -q -p no:cacheprovider -n "$WORKERS" --junitxml=../xdist.xml \
	$(cat files.txt)
echo "dtf run --pytest --workers $WORKERS:"
# shellcheck disable=SC2086
timed dtf "$DTF" run --pytest --workers "$WORKERS" $dirs --output-dir ../dtf-out \
	--state-dir ../dtf-state --report-formats json,junit
grep -E '^dtf run:|^dtf: isolation|^order-dependent|^isolation failure' dtf.log || true
# dtf keeps each file's duration: run again, as the next CI run would, with chunks packed by time.
echo "dtf run --pytest --workers $WORKERS again (with the durations the first run recorded):"
# shellcheck disable=SC2086
timed dtf2 "$DTF" run --pytest --workers "$WORKERS" $dirs --output-dir ../dtf2-out \
	--state-dir ../dtf-state --report-formats json,junit
grep -E '^dtf run:|^dtf: isolation|^order-dependent|^isolation failure' dtf2.log || true
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

compare
