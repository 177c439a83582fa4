#!/usr/bin/env bash
# `dtf run --pushgateway URL` pushes the finished run's metrics to a real Prometheus Pushgateway
# (Debian's prometheus-pushgateway, private port and persistence file: Debian's default one is
# shared) under job "dtf" and the run's id, with the
# report's own counts; a real Prometheus (private port and data directory) scrapes the gateway
# and answers a query with those numbers. A gateway that cannot be reached is reported on stderr
# and does not change the run's exit status; $DTF_PUSHGATEWAY_URL is used without the option.
. "$(dirname "$0")/lib.sh"

for tool in prometheus prometheus-pushgateway; do
	if ! command -v "$tool" > /dev/null; then
		echo "SKIP: $tool is not installed (scripts/install-deps.sh installs it)" >&2
		exit 77
	fi
done
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

PG_PORT=$(free_port)
prometheus-pushgateway --web.listen-address="127.0.0.1:$PG_PORT" --persistence.file="$T/pushgateway.data" --log.level=warn >> "$T/pushgateway.log" 2>&1 &
PG_PID=$!
track_pid "$PG_PID"
PG="http://127.0.0.1:$PG_PORT"
pg_ready() {
	pid_alive "$PG_PID" || fail "the pushgateway exited: $(tail -n 20 "$T/pushgateway.log")"
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$PG/-/ready")" = 200 ]
}
wait_for -t 30 -m "the pushgateway to be ready" pg_ready

# Two pass, one fails: the run exits 1, and the push says so too.
cat > tasks.json <<'EOT'
{"tasks": [{"name": "ok-1", "command": ["true"]}, {"name": "ok-2", "command": ["true"]},
           {"name": "broken", "shell": "echo boom >&2; exit 3"}]}
EOT
dtf run --task-file tasks.json --workers 2 --output-dir out --state-dir state --quiet \
	--pushgateway "$PG/" > run.out 2> run.err
rc=$?
assert_eq "$rc" 1 "dtf run's exit status (a test failed)"
RUN=$(sed -n 's/.*pushed the run.s metrics to .* (job dtf, run \(.*\))$/\1/p' run.err)
[ -n "$RUN" ] || fail "dtf run did not say it pushed: $(cat run.err)"
assert_eq "$(jq_py 'd["run"]["id"]' out/results.json)" "$RUN" "the pushed run id is the report's"

# What the gateway holds, as its own API shows it: one group, job dtf and the run's id.
curl -s --max-time 5 "$PG/api/v1/metrics" > groups.json
python3 - groups.json "$RUN" <<'PY' || fail "the pushgateway's groups: $(cat groups.json)"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "success", d
groups = d["data"]
assert len(groups) == 1, groups
g = groups[0]
assert g["labels"] == {"job": "dtf", "run": sys.argv[2]}, g["labels"]
def value(name, **labels):
    fam = g[name]
    for m in fam["metrics"]:
        if all(m["labels"].get(k) == v for k, v in labels.items()):
            return float(m["value"])
    raise KeyError((name, labels))
assert value("dtf_run_tests", status="passed") == 2
assert value("dtf_run_tests", status="failed") == 1
assert value("dtf_run_tests", status="skipped") == 0
assert value("dtf_run_tasks") == 3
assert value("dtf_run_exit_status") == 1
assert value("dtf_run_success") == 0
assert value("dtf_run_duration_seconds") > 0
assert g["dtf_run_tests"]["type"] == "GAUGE", g["dtf_run_tests"]
PY

# A real Prometheus scrapes the gateway (honor_labels keeps the pushed job and run).
PROM_PORT=$(free_port)
cat > prometheus.yml <<EOC
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: pushgateway
    honor_labels: true
    static_configs:
      - targets: ["127.0.0.1:$PG_PORT"]
EOC
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom-data" \
	--web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >> "$T/prometheus.log" 2>&1 &
PROM_PID=$!
track_pid "$PROM_PID"
PROM="http://127.0.0.1:$PROM_PORT"
query() {
	curl -s --max-time 5 -G "$PROM/api/v1/query" --data-urlencode "query=$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
r = d["data"]["result"]
sys.exit(1) if not r else print(",".join(sorted(x["metric"]["job"] + "/" + x["metric"]["run"] + "=" + x["value"][1] for x in r)))'
}
wait_for -t 40 -m "prometheus to answer for the pushed run" eval 'query "dtf_run_tests{status=\"failed\"}" > prom.txt 2>/dev/null'
assert_eq "$(cat prom.txt)" "dtf/$RUN=1" "failed tests in Prometheus"
assert_eq "$(query 'dtf_run_tests{status="passed"}')" "dtf/$RUN=2" "passed tests in Prometheus"

# A gateway that is not there: said on stderr, the exit status is still the tests' (0 here),
# and the environment variable stands in for the option.
DEAD=$(free_port)
cat > pass.json <<'EOT'
{"tasks": [{"name": "ok", "command": ["true"]}]}
EOT
DTF_PUSHGATEWAY_URL="http://127.0.0.1:$DEAD" dtf run --task-file pass.json --workers 1 \
	--output-dir out2 --state-dir state2 --quiet > run2.out 2> run2.err
rc=$?
assert_eq "$rc" 0 "dtf run's exit status with the gateway down"
assert_contains "$(cat run2.err)" "the run's metrics were not pushed: pushgateway http://127.0.0.1:$DEAD/metrics/job/dtf/run/" "the push failure"
# A bad URL is an error message, not a crash.
dtf run --task-file pass.json --workers 1 --output-dir out3 --state-dir state3 --quiet \
	--pushgateway "ftp://x" > run3.out 2> run3.err
assert_eq "$?" 0 "dtf run's exit status with a bad gateway URL"
assert_contains "$(cat run3.err)" "not an http:// or https:// URL" "the bad URL"
log "pushed run $RUN; prometheus: $(cat prom.txt)"
exit 0
