#!/usr/bin/env bash
# `dtf k8s manifest` (docs/deploy.md): the YAML parses into a Secret holding the enrollment key
# (base64 of the file) and a Deployment whose pods run `dtf worker` with that key mounted as a
# file (not in argv or the environment), requests/limits from --cpu/--memory, nvidia.com/gpu from
# --gpus, and terminationGracePeriodSeconds from --drain-timeout; kubectl's own parser (kubectl
# kustomize, offline) reads it too when kubectl is installed. Then the container's command is run
# here as the kubelet would run it ($(VAR) expanded, the Secret's key at the mounted path): it
# registers with the coordinator through the enrollment key, offers the container's CPU and
# memory, carries the pod's labels, runs a task, and drains on SIGTERM (what deleting the pod
# sends). Bad input is refused with a reason.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
$PY -c 'import yaml' 2>/dev/null || fail "python3-yaml is missing (scripts/install-deps.sh)"

A=adm-secret-k8s-Jd71 E=enr-secret-k8s-Pw52
printf 'enr:worker-enroll:%s\n' "$E" > "$T/keys"
chmod 600 "$T/keys"
printf '%s\n' "$E" > "$T/enroll"
chmod 600 "$T/enroll"
start_coordinator --api-key "adm:admin:$A" --keys-file "$T/keys"
API_KEY=$A

dtf k8s manifest --coordinator "$URL" --workers 3 --image registry.example/dtf:1.2 --cpu 500m \
	--memory 2Gi --gpus 1 --drain-timeout 45 --labels pool=k8s,zone=b --namespace ci \
	--enroll-key-file "$T/enroll" > "$T/workers.yaml" || fail "dtf k8s manifest failed"

$PY - "$T/workers.yaml" "$URL" "$E" > "$T/command.json" <<'EOF' || fail "the manifest is not right: $(cat "$T/workers.yaml")"
import base64, json, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
url, key = sys.argv[2], sys.argv[3]
assert [d["kind"] for d in docs] == ["Secret", "Deployment"], docs
sec, dep = docs
assert sec["apiVersion"] == "v1" and sec["metadata"]["namespace"] == "ci", sec
assert base64.b64decode(sec["data"]["enroll-key"]).decode() == key + "\n", sec["data"]
assert dep["apiVersion"] == "apps/v1" and dep["metadata"]["namespace"] == "ci", dep
spec = dep["spec"]
assert spec["replicas"] == 3, spec
sel = spec["selector"]["matchLabels"]
assert sel and all(spec["template"]["metadata"]["labels"][k] == v for k, v in sel.items()), spec
pod = spec["template"]["spec"]
assert pod["terminationGracePeriodSeconds"] == 55, pod     # --drain-timeout 45 plus 10 s
(c,) = pod["containers"]
assert c["image"] == "registry.example/dtf:1.2", c
cmd = c["command"]
assert cmd[:2] == ["dtf", "worker"], cmd
def flag(name):
    return [cmd[i + 1] for i, a in enumerate(cmd) if a == name]
assert flag("--coordinator") == [url], cmd
assert flag("--drain-timeout") == ["45"], cmd
assert flag("--cpus") == ["0.5"] and flag("--memory") == ["2048"], cmd
assert flag("--worker-id") == ["$(POD_NAME)"], cmd
assert "pool=k8s,zone=b" in flag("--labels"), cmd
# The key is a file from the Secret: on no command line, in no environment variable.
(kf,) = flag("--enroll-key-file")
assert key not in json.dumps(c), c
mounts = {m["name"]: m for m in c["volumeMounts"]}
vols = {v["name"]: v for v in pod["volumes"]}
m = [m for m in c["volumeMounts"] if kf.startswith(m["mountPath"] + "/")]
assert len(m) == 1 and m[0]["readOnly"] is True, (kf, c["volumeMounts"])
assert vols[m[0]["name"]]["secret"]["secretName"] == sec["metadata"]["name"], vols
assert kf.rsplit("/", 1)[1] in sec["data"], (kf, sec["data"])
assert vols[m[0]["name"]]["secret"]["defaultMode"] == 0o400, vols
env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in c["env"]}
assert env == {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace",
               "NODE_NAME": "spec.nodeName"}, env
res = c["resources"]
assert res["requests"] == {"cpu": "500m", "memory": "2Gi"}, res
assert res["limits"] == {"cpu": "500m", "memory": "2Gi", "nvidia.com/gpu": 1}, res
assert "lifecycle" not in c, c   # SIGTERM drains: no preStop hook needed
print(json.dumps({"command": cmd, "key_file": kf}))
EOF

if command -v kubectl >/dev/null 2>&1; then
	mkdir -p "$T/kz"
	cp "$T/workers.yaml" "$T/kz/workers.yaml"
	printf 'resources:\n- workers.yaml\n' > "$T/kz/kustomization.yaml"
	timeout 60 kubectl kustomize "$T/kz" > "$T/kz.out" 2>&1 || fail "kubectl cannot read the manifest: $(cat "$T/kz.out")"
	assert_eq "$(grep -c '^kind: ' "$T/kz.out")" 2 "objects kubectl read"
fi

# Without a key file: a placeholder, and nothing but it.
dtf k8s manifest --coordinator "$URL" > "$T/placeholder.yaml" || fail "dtf k8s manifest (no key) failed"
$PY - "$T/placeholder.yaml" <<'EOF' || fail "the placeholder manifest is not right: $(cat "$T/placeholder.yaml")"
import sys, yaml
sec, dep = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
assert "data" not in sec and sec["stringData"]["enroll-key"].startswith("REPLACE"), sec
assert "namespace" not in sec["metadata"], sec
pod = dep["spec"]["template"]["spec"]
assert pod["terminationGracePeriodSeconds"] == 40 and dep["spec"]["replicas"] == 1, dep
assert "resources" not in pod["containers"][0], pod
EOF

# --- the container's command, run as the kubelet would ---
mkdir -p "$T/pod/var/run/dtf"
cp "$T/enroll" "$T/pod/var/run/dtf/enroll-key"
mapfile -t ARGV < <($PY - "$T/command.json" "$T/pod" "$DTF_BIN" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
env = {"POD_NAME": "dtf-worker-5d8f7-abcde", "NODE_NAME": "node-3", "POD_NAMESPACE": "ci"}
out = []
for a in d["command"]:
    for k, v in env.items():
        a = a.replace("$(%s)" % k, v)
    # The volumes are directories here.
    if a.startswith("/var/"):
        a = sys.argv[2] + a
    out.append(a)
out[0] = sys.argv[3]
print("\n".join(out))
EOF
)
[ "${#ARGV[@]}" -gt 10 ] || fail "no command from the manifest"
"${ARGV[@]}" --lease-wait 5 >> "$T/worker-pod.log" 2>&1 &
POD=$!
track_pid "$POD"
wait_worker dtf-worker-5d8f7-abcde
[ -n "$(pgrep -f -- "$E")" ] && fail "the enrollment key is on the process list"
api GET /api/v1/workers/dtf-worker-5d8f7-abcde > "$T/w.json"
$PY - "$T/w.json" <<'EOF' || fail "the pod's worker is not described right: $(cat "$T/w.json")"
import json, sys
w = json.load(open(sys.argv[1]))
l, c = w["labels"], w["capabilities"]
assert l == {"launcher": "kubernetes", "k8s_pod": "dtf-worker-5d8f7-abcde", "k8s_node": "node-3",
             "k8s_namespace": "ci", "pool": "k8s", "zone": "b"}, l
assert c["cpu"]["cores"] == 0.5 and c["memory"] == 2048, c
assert c["cpu"]["model"] is not None, c
EOF
T1=$(submit '{"name": "in_the_pod", "shell": "sleep 1.5; echo finished", "constraints": ["worker.labels.launcher == \"kubernetes\""], "requirements": {"cpu": 0.5}}')
wait_for -t 20 -m "in_the_pod to run" task_status_is "$T1" running
kill -TERM "$POD"
wait_exit "$POD" 20
assert_eq "$WAIT_RC" 0 "the pod's worker's exit status after SIGTERM"
assert_eq "$(task_field "$T1" 'd["status"]')" completed "the task the deleted pod ran"
assert_contains "$(task_field "$T1" 'd["result"]["stdout"]')" finished "its stdout"

# --- bad input ---
for bad in "--cpu 2cores" "--memory 12Q" "--memory 100" "--name Bad_Name" "--namespace -x" \
	"--workers -1" "--gpus x" "--drain-timeout soon"; do
	# shellcheck disable=SC2086
	if dtf k8s manifest --coordinator "$URL" $bad > "$T/out" 2> "$T/err"; then
		fail "dtf k8s manifest $bad was accepted"
	fi
	[ -s "$T/out" ] && fail "dtf k8s manifest $bad printed a manifest"
	[ -s "$T/err" ] || fail "dtf k8s manifest $bad gave no reason"
done
if dtf k8s manifest > "$T/out" 2> "$T/err"; then fail "a manifest without a coordinator URL"; fi
assert_contains "$(cat "$T/err")" "--coordinator" "the reason without a URL"
if dtf k8s manifest --coordinator "$URL" --enroll-key-file "$T/nothing" > "$T/out" 2> "$T/err"; then
	fail "a manifest with a missing key file"
fi
