#!/usr/bin/env bash
# The example pipelines in examples/ci stay valid: both YAML files parse, every `dtf ci`
# command line in them (and in the Jenkinsfile) is accepted by `dtf ci --dry-run`, and the
# JUnit path the CI reads is the file dtf writes.
. "$(dirname "$0")/lib.sh"

python3 -c 'import yaml' 2>/dev/null || fail "python3-yaml is missing (scripts/install-deps.sh)"
python3 - "$DTF_SOURCE_DIR/examples/ci" > "$T/commands" <<'PY' || fail "the examples do not parse"
import os, re, shlex, sys, yaml
root = sys.argv[1]
def scripts(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("run", "script") :
                yield from ([v] if isinstance(v, str) else v)
            else:
                yield from scripts(v)
    elif isinstance(node, list):
        for v in node:
            yield from scripts(v)
gh = yaml.safe_load(open(os.path.join(root, ".github/workflows/dtf.yml")))
gl = yaml.safe_load(open(os.path.join(root, ".gitlab-ci.yml")))
assert "jobs" in gh and gh["jobs"], "the workflow has no jobs"
assert "stages" in gl, "the GitLab pipeline has no stages"
texts = list(scripts(gh)) + list(scripts(gl))
texts += re.findall(r"sh '([^']*)'", open(os.path.join(root, "Jenkinsfile")).read())
junit = [gl[j]["artifacts"]["reports"]["junit"] for j in gl if isinstance(gl[j], dict)
         and "reports" in gl[j].get("artifacts", {})]
junit += re.findall(r"junit '([^']*)'", open(os.path.join(root, "Jenkinsfile")).read())
n = 0
for text in texts:
    text = text.replace("\\\n", " ")
    for line in text.split("\n"):
        if "dtf ci" not in line:
            continue
        line = re.sub(r"\$\{\{[^}]*\}\}", "http://127.0.0.1:9", line)
        line = re.sub(r"\$\{?[A-Z_]+\}?", "placeholder", line)
        argv = shlex.split(line)
        argv = argv[argv.index("ci"):]
        print("\t".join(argv))
        n += 1
for j in junit:
    assert os.path.basename(j) == "results.xml", "CI reads %s, dtf writes results.xml" % j
assert n >= 4, "found only %d dtf ci command lines" % n
PY
cd "$DTF_SOURCE_DIR" || fail "no source dir"
while IFS=$'\t' read -r -a argv; do
	out=$("$DTF_BIN" "${argv[@]}" --dry-run 2>&1) ||
		fail "dtf ${argv[*]} --dry-run failed: $out"
	assert_contains "$out" "tests" "dry-run of dtf ${argv[*]}"
done < "$T/commands"
log "checked $(wc -l < "$T/commands") dtf ci command lines"
