#!/usr/bin/env bash
# The CI pipelines run as written, step by step: the seeds' own pipelines (tests/fixtures/
# seed_pipelines: seed 000's GitHub, GitLab and Jenkins pipelines, seed 004's GitLab, Jenkins,
# GitHub and generic ones, with `dtf` for `python -m …`) and the examples in examples/ci. For each
# pipeline, tests/fixtures/pipeline_steps.py lists its dtf commands in the CI's order; they run in
# a fresh directory holding a small suite where the pipeline looks for one (three tests, one
# failing), with the CI's environment pointing at a mock of its API, against a coordinator with a
# worker (the pipelines that start their own coordinator and workers do so). Every step must exit
# as a CI would expect (1 for the steps that run the failing suite, 0 otherwise); every JUnit file
# the pipeline hands to its CI (GitLab reports:junit, Jenkins junit, GitHub report_paths) must
# exist, match its glob once, parse, and count 3 tests with 1 failure; a GitLab Code Quality file
# must list the failing test; and each `dtf ci` step writes the formats it was asked for.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ci_lib.sh"

python3 -c 'import yaml' 2>/dev/null || fail "python3-yaml is missing (scripts/install-deps.sh)"
STEPS="$DTF_SOURCE_DIR/tests/fixtures/pipeline_steps.py"

KEY=pipeline-e2e-key
export API_KEY=$KEY # for lib.sh's http/api
start_coordinator --api-key "$KEY"
start_worker fleet-1 --api-key "$KEY"
wait_worker fleet-1
FLEET_URL=$URL
start_mock

# make_tree DIR: what the pipelines expect in their checkout, each a suite of three tests with one
# failing: examples/suite (shell and Python), the seed 004 test directory and ./tests (Python
# unittest files), and tests/test_suite.json (a task file).
make_tree() {
	local d=$1 t
	mkdir -p "$d/examples/suite" "$d/test/duckdb_api/distributed_testing/tests" "$d/tests"
	printf '#!/bin/sh\necho fine\n' > "$d/examples/suite/test_ok.sh"
	printf '#!/bin/sh\necho "expected 4, got 5" >&2\nexit 1\n' > "$d/examples/suite/test_fail.sh"
	for t in "$d/examples/suite" "$d/test/duckdb_api/distributed_testing/tests" "$d/tests"; do
		cat > "$t/test_math.py" <<'PY'
import unittest


class MathTest(unittest.TestCase):
    def test_add(self):
        self.assertEqual(1 + 1, 2)


if __name__ == "__main__":
    unittest.main()
PY
	done
	for t in "$d/test/duckdb_api/distributed_testing/tests" "$d/tests"; do
		sed 's/MathTest/OkTest/; s/test_add/test_ok/' "$t/test_math.py" > "$t/test_ok.py"
		sed 's/MathTest/FailTest/; s/test_add/test_fail/; s/1 + 1, 2/1 + 1, 3/' \
			"$t/test_math.py" > "$t/test_fail.py"
	done
	cat > "$d/tests/test_suite.json" <<'JSON'
[{"name": "test_true", "command": ["true"]},
 {"name": "test_shell", "shell": "test $((2 + 2)) -eq 4"},
 {"name": "test_fail", "shell": "echo 'expected 4, got 5' >&2; exit 1"}]
JSON
}

# ci_env KIND: the environment the CI gives its jobs, its API being the mock.
ci_env() {
	unset GITHUB_ACTIONS GITLAB_CI JENKINS_URL TF_BUILD CIRCLECI TRAVIS TEAMCITY_VERSION \
		BITBUCKET_BUILD_NUMBER GITHUB_EVENT_PATH CI_MERGE_REQUEST_IID
	case $1 in
	github)
		export GITHUB_ACTIONS=true GITHUB_TOKEN=ghs_pipelineToken1 GITHUB_REPOSITORY=octo/hello \
			GITHUB_SHA=abc123 GITHUB_REF=refs/heads/main GITHUB_RUN_ID=1 \
			GITHUB_API_URL="$MOCK_URL" GITHUB_SERVER_URL=https://github.example \
			GITHUB_STEP_SUMMARY="$PWD/step-summary.md" ;;
	gitlab)
		export GITLAB_CI=true CI_JOB_TOKEN=job-token-1 CI_PROJECT_ID=42 CI_COMMIT_SHA=def456 \
			CI_COMMIT_REF_NAME=main CI_PIPELINE_ID=7 CI_API_V4_URL="$MOCK_URL" ;;
	jenkins)
		export JENKINS_URL="$MOCK_URL/" BUILD_URL="$MOCK_URL/job/app/1/" BUILD_NUMBER=1 \
			JOB_NAME=app GIT_COMMIT=cafe12 BRANCH_NAME=main ;;
	esac
}

# run_steps: runs $D/steps.tsv's dtf steps in order in $D (a subshell); each step's exit status
# goes to $D/rcs. A coordinator a step starts listens on a free port (the seeds' localhost:8080
# is ${DTF_TEST_URL}); the processes the pipeline started are stopped at the end.
run_steps() {
	local kind job cmd rc out pids=() daemon=""
	cd "$D" || fail "no $D"
	ci_env "$(awk -F'\t' '$1 == "ci" { print $2 }' steps.tsv)"
	export COORDINATOR_URL="$FLEET_URL" API_KEY="$KEY" COORDINATOR_API_KEY="$KEY"
	export DTF_TEST_URL="$FLEET_URL"
	unset DTF_COORDINATOR DTF_API_KEY
	while IFS=$'\t' read -r kind job cmd; do
		[ "$kind" = step ] || continue
		cmd="\"\$DTF_BIN\" ${cmd#dtf }"
		case $cmd in
		*" coordinator "*--daemon*)
			out=$(eval "$cmd --port 0 --port-file coord.port" 2>&1)
			rc=$?
			daemon=$(printf '%s\n' "$out" | sed -n 's/.*(pid \([0-9]*\)).*/\1/p')
			[ -n "$daemon" ] || fail "$job: the coordinator did not start: $out"
			export DTF_TEST_URL="http://127.0.0.1:$(head -n1 coord.port)"
			# The seeds' client commands carry no URL: the default is the daemon's port.
			export DTF_COORDINATOR="$DTF_TEST_URL" ;;
		*"&")
			eval "$cmd"
			rc=$?
			pids+=($!) ;;
		*)
			eval "$cmd" >> steps.out 2>&1
			rc=$? ;;
		esac
		printf '%s\t%s\t%s\n' "$job" "${cmd#\"\$DTF_BIN\" }" "$rc" >> rcs
		# A pipeline's workers must be registered before it submits (the CI's runner takes
		# longer than that between steps).
		case $cmd in
		*" worker "*"--worker-id "*)
			local id=${cmd##*--worker-id }
			id=${id%% *}
			URL=$DTF_TEST_URL API_KEY="" wait_worker "$id" ;;
		esac
	done < steps.tsv
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait_exit "$p" 20; done
	if [ -n "$daemon" ]; then
		kill -TERM "$daemon"
		wait_for -t 20 -m "the pipeline's coordinator to exit" eval "! pid_alive $daemon"
	fi
	exit 0
}

# check_pipeline FILE: what the CI would see after the steps.
check_pipeline() {
	python3 - "$D" <<'PY'
import glob, json, os, re, shlex, sys, xml.etree.ElementTree as ET
d = sys.argv[1]
steps = [l.rstrip("\n").split("\t") for l in open(os.path.join(d, "steps.tsv"))]
rcs = [l.rstrip("\n").split("\t") for l in open(os.path.join(d, "rcs"))]
n_steps = sum(1 for s in steps if s[0] == "step")
assert len(rcs) == n_steps, "ran %d of %d steps" % (len(rcs), n_steps)
for job, cmd, rc in rcs:
    # The steps that run or wait for the suite see its failing test; the rest succeed.
    runs_suite = cmd.startswith("ci ") or cmd.startswith("client wait-completion")
    want = 1 if runs_suite else 0
    assert int(rc) == want, "%s: `dtf %s` exited %s, want %d" % (job, cmd, rc, want)

def check_junit(path):
    root = ET.parse(path).getroot()
    cases = list(root.iter("testcase"))
    bad = [c for c in cases if c.find("failure") is not None or c.find("error") is not None]
    assert len(cases) == 3, "%s: %d test cases: %s" % (path, len(cases), [c.get("name") for c in cases])
    assert len(bad) == 1, "%s: %d failed" % (path, len(bad))
    who = " ".join(bad[0].get(k) or "" for k in ("name", "classname", "file"))
    assert "fail" in who.lower(), "%s: the failing case is %s" % (path, who)
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    assert sum(int(s.get("tests")) for s in suites) == 3, [s.attrib for s in suites]
    assert sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites) == 1, \
        [s.attrib for s in suites]

checked = 0
for s in steps:
    if s[0] == "junit":
        files = glob.glob(os.path.join(d, s[1]))
        assert len(files) == 1, "junit %s matches %s" % (s[1], files)
        check_junit(files[0])
        checked += 1
    elif s[0] == "quality":
        issues = json.load(open(os.path.join(d, s[1])))
        assert isinstance(issues, list) and len(issues) == 1, issues
        i = issues[0]
        assert "fail" in i["location"]["path"] + i["description"], i
        assert re.fullmatch(r"[0-9a-f]{32}", i["fingerprint"]), i
        assert i["check_name"].startswith("dtf/") and i["severity"] in ("major", "critical"), i
        assert i["location"]["lines"]["begin"] >= 1, i
        checked += 1
    elif s[0] == "step" and s[2].startswith("dtf ci "):
        argv = shlex.split(s[2].replace("${", "").replace("}", ""))
        out = argv[argv.index("--output-dir") + 1]
        names = {"json": "results.json", "md": "report.md", "html": "report.html",
                 "markdown": "report.md", "csv": "results.csv", "junit": "results.xml"}
        i = argv.index("--report-formats") + 1
        while i < len(argv) and not argv[i].startswith("--"):
            for f in argv[i].split(","):
                assert os.path.isfile(os.path.join(d, out, names[f])), (out, names[f])
            i += 1
        # JUnit is always written, under the name seed 004's pipelines glob too.
        for f in ("results.xml", "test_report_junit.xml"):
            check_junit(os.path.join(d, out, f))
        checked += 1
print(checked)
PY
}

n=0
for f in "$DTF_SOURCE_DIR"/tests/fixtures/seed_pipelines/[0-9]* \
	"$DTF_SOURCE_DIR"/examples/ci/*.yml "$DTF_SOURCE_DIR"/examples/ci/Jenkinsfile; do
	name=$(basename "$f")
	D="$T/p-$name"
	make_tree "$D"
	python3 "$STEPS" "$f" > "$D/steps.tsv" || fail "cannot read the pipeline $name"
	grep -q '^step' "$D/steps.tsv" || fail "$name has no dtf step"
	( run_steps ) || fail "the steps of $name did not run ($(tail -5 "$D/steps.out" 2>/dev/null))"
	checked=$(check_pipeline) ||
		fail "$name: $(cat "$D/rcs"; tail -20 "$D/steps.out" 2>/dev/null)"
	log "$name: $(grep -c '^step' "$D/steps.tsv") dtf steps, $checked reports checked"
	n=$((n + 1))
done
[ "$n" -ge 10 ] || fail "only $n pipelines"
# The examples README lists the files that are there.
for f in github-actions.yml gitlab-ci.yml Jenkinsfile; do
	grep -q "$f" "$DTF_SOURCE_DIR/examples/ci/README.md" || fail "examples/ci/README.md misses $f"
done
