#!/usr/bin/env bash
# /metrics is what Prometheus accepts (docs/api.md, "Metrics"): after a coordinator went through
# passed and failed tasks, a batch, a recovery (a task retried in place, then elsewhere, where it
# passes) and a quarantine (the worker it failed on, at --quarantine-threshold 1), Debian's
# `promtool check metrics` finds no problem in its /metrics, and a real Prometheus server
# (private port and data directory) scrapes it and answers a PromQL query for dtf_tasks by
# status with the coordinator's own numbers.
. "$(dirname "$0")/lib.sh"

for tool in prometheus promtool; do
	if ! command -v "$tool" > /dev/null; then
		echo "SKIP: $tool is not installed (Debian package prometheus; scripts/install-deps.sh)" >&2
		exit 77
	fi
done

start_coordinator --batch-processing --retry-backoff 0.2 --quarantine-threshold 1
status_of() { task_field "$1" 'd["status"]'; }
all_final() {
	local id st
	for id in "$@"; do
		st=$(status_of "$id")
		case "$st" in completed | failed) ;; *) return 1 ;; esac
	done
}

# --- a batch, passes and a failure ---
api POST /api/v1/tasks '{"tasks": [
	{"name": "batch-1", "batch_key": "model-a", "hardware": "pbatch", "command": ["true"]},
	{"name": "batch-2", "batch_key": "model-a", "hardware": "pbatch", "command": ["true"]},
	{"name": "batch-3", "batch_key": "model-a", "hardware": "pbatch", "command": ["true"]},
	{"name": "fails", "hardware": "pbatch", "command": ["false"]}]}' > batch.json
mapfile -t FIRST < <(jq_py '"\n".join(d["ids"])' batch.json)
[ "${#FIRST[@]}" = 4 ] || fail "expected 4 task ids: $(cat batch.json)"
start_worker p-3 --slots 4 --hardware pbatch
wait_for -t 30 -m "the first four tasks to finish" all_final "${FIRST[@]}"
[ "$(metric dtf_batches_total)" -ge 1 ] || fail "no batch was leased: $(curl -s "$URL/metrics" | grep batch)"

# --- a recovery and a quarantine ---
start_worker p-1 --hardware ph
start_worker p-2 --hardware ph
wait_worker p-1
wait_worker p-2
# p-2 is kept busy until the gate opens, so that the task below fails on p-1 first.
BLOCK=$(submit '{"name": "blocker", "hardware": "ph", "constraints": ["worker.id == \"p-2\""],
	"shell": "while [ ! -f '"$T"'/gate ]; do sleep 0.05; done"}')
wait_for -t 20 -m "the blocker to run on p-2" eval '[ "$(task_field '"$BLOCK"' "d.get(\"worker_id\", \"\")")" = p-2 ]'
FLAKY=$(submit '{"name": "fails_on_p1", "hardware": "ph", "max_retries": 2,
	"shell": "[ \"$DTF_WORKER_ID\" != p-1 ]"}')
# In place on p-1 (level 1), then held for another worker (level 2, retry_elsewhere).
wait_for -t 20 -m "fails_on_p1 to fail twice on p-1" eval \
	'[ "$(task_field '"$FLAKY"' "[a[\"worker_id\"] for a in d.get(\"history\", [])]")" = "[\"p-1\", \"p-1\"]" ]'
touch "$T/gate"
wait_for -t 20 -m "fails_on_p1 to pass on p-2" eval '[ "$(status_of '"$FLAKY"')" = completed ]'
wait_for -t 20 -m "p-1 to be quarantined" eval '[ "$(api GET /api/v1/workers/p-1 | jq_py "d[\"status\"]")" = quarantined ]'
wait_for -t 20 -m "the blocker to finish" eval '[ "$(status_of '"$BLOCK"')" = completed ]'

# --- promtool ---
curl -s --max-time 10 "$URL/metrics" > metrics.txt
promtool check metrics < metrics.txt > promtool.out 2>&1
rc=$?
[ "$rc" = 0 ] && [ ! -s promtool.out ] ||
	fail "promtool check metrics (exit $rc): $(cat promtool.out); metrics: $(cat metrics.txt)"
python3 - metrics.txt <<'EOF' || fail "the /metrics text: $(cat metrics.txt)"
import re, sys
lines = open(sys.argv[1]).read().splitlines()
helps, types, order = {}, {}, []
for l in lines:
    m = re.match(r"# (HELP|TYPE) (\S+)", l)
    if m:
        d = helps if m.group(1) == "HELP" else types
        assert m.group(2) not in d, f"two {m.group(1)} lines for {m.group(2)}"
        d[m.group(2)] = l
        continue
    name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", l).group(0)
    fam = re.sub(r"_(bucket|sum|count)$", "", name) if re.sub(r"_(bucket|sum|count)$", "", name) in types else name
    assert fam in types and fam in helps, f"sample {l!r} has no HELP/TYPE"
    if not order or order[-1] != fam:
        assert fam not in order, f"the samples of {fam} are not together"
        order.append(fam)
v = {l.rsplit(" ", 1)[0]: float(l.rsplit(" ", 1)[1]) for l in lines if not l.startswith("#")}
# What this coordinator went through, as the metrics say it.
assert v['dtf_recovery_successes_total{class="exit",strategy="retry_elsewhere"}'] == 1, v
assert v['dtf_recovery_attempts_total{class="exit",strategy="retry_in_place"}'] == 1, v
assert v["dtf_quarantines_total"] == 1 and v["dtf_workers_quarantined"] == 1, v
assert v['dtf_tasks{status="completed"}'] == 5 and v['dtf_tasks{status="failed"}'] == 1, v
assert v["dtf_batches_total"] >= 1, v
EOF

# --- a real Prometheus scrape ---
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PROM_PORT=$(free_port)
cat > prometheus.yml <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: dtf
    metrics_path: /metrics
    static_configs:
      - targets: ["127.0.0.1:$COORD_PORT"]
EOF
promtool check config prometheus.yml > /dev/null 2>&1 || fail "promtool check config: $(promtool check config prometheus.yml 2>&1)"
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom-data" \
	--web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >> "$T/prometheus.log" 2>&1 &
PROM_PID=$!
track_pid "$PROM_PID"
PROM="http://127.0.0.1:$PROM_PORT"
prom_ready() {
	pid_alive "$PROM_PID" || fail "prometheus exited: $(tail -n 20 "$T/prometheus.log")"
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$PROM/-/ready")" = 200 ]
}
wait_for -t 30 -m "prometheus to be ready" prom_ready
# query EXPR: the result of an instant query as {labels-without-__name__: value}, or exit 1.
query() {
	curl -s --max-time 5 -G "$PROM/api/v1/query" --data-urlencode "query=$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["status"] == "success", d
r = d["data"]["result"]
if not r:
    sys.exit(1)
print(json.dumps({",".join(f"{k}={v}" for k, v in sorted(x["metric"].items()) if k not in ("__name__", "job", "instance")): float(x["value"][1]) for x in r}, sort_keys=True))'
}
# The scrape took: the target is up (a scrape Prometheus cannot parse leaves it down).
wait_for -t 30 -m "prometheus to scrape the coordinator" eval '[ "$(query "up{job=\"dtf\"}" 2>/dev/null)" = "{\"\": 1.0}" ]'
tasks_by_status() { query 'dtf_tasks{job="dtf"}' > prom_tasks.json 2>/dev/null; }
wait_for -t 30 -m "prometheus to answer dtf_tasks by status" tasks_by_status
curl -s --max-time 10 "$URL/metrics" > metrics2.txt
python3 - prom_tasks.json metrics2.txt <<'EOF' || fail "dtf_tasks in Prometheus: $(cat prom_tasks.json)"
import json, re, sys
prom = json.load(open(sys.argv[1]))
coord = {}
for l in open(sys.argv[2]):
    m = re.match(r'dtf_tasks\{status="(\w+)"\} (\S+)$', l.strip())
    if m:
        coord["status=" + m.group(1)] = float(m.group(2))
# Nothing changes any more: every series agrees with the coordinator, status by status.
assert sorted(coord) == ["status=" + s for s in sorted(["pending", "assigned", "running", "completed", "failed", "cancelled"])], coord
assert prom == coord, (prom, coord)
assert prom["status=completed"] == 5 and prom["status=failed"] == 1, prom
EOF
# The family the old output split and left untyped is there too.
assert_eq "$(query 'dtf_recovery_successes_total{class="exit"}')" \
	'{"class=exit,strategy=retry_elsewhere": 1.0, "class=exit,strategy=retry_in_place": 0.0}' \
	"dtf_recovery_successes_total in Prometheus"
log "prometheus answered: $(cat prom_tasks.json)"
exit 0
