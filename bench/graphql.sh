#!/bin/sh
# graphql.sh: what 1,000 tasks cost through GraphQL next to the REST list. A coordinator gets
# 1,000 tasks, 200 of them leased by 10 workers (20 slots each); then N times each, alternating:
# GET /api/v1/tasks?limit=1000 (every task's whole document) and the GraphQL query of the same
# 1,000 tasks with the seed's fields and each task's worker. Prints the median and p90 of each
# round trip (request sent to body read, keep-alive, the client's time included alike) and the
# ratio. Usage: bench/graphql.sh [N]   (N defaults to 50)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${DTF_BUILD_DIR:-$ROOT/build}
DTF=${DTF_BIN:-$BUILD/dtf}
N=${1:-50}
[ -x "$DTF" ] || {
	echo "build first: cmake -S . -B build && cmake --build build" >&2
	exit 2
}
T=$(mktemp -d "${TMPDIR:-/tmp}/dtf-bench-graphql.XXXXXX")
"$DTF" coordinator --port 0 --port-file "$T/port" --db-path "$T/c.db" --heartbeat-timeout 600 \
	> "$T/coordinator.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$T"' EXIT INT TERM
i=0
while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ -s "$T/port" ] || {
	echo "the coordinator did not start: $(cat "$T/coordinator.log")" >&2
	exit 1
}
/usr/bin/python3 - "$(cat "$T/port")" "$N" <<'EOF'
import http.client, json, statistics, sys, time

port, n = int(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port)

def call(method, path, body=None, headers=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
    r = conn.getresponse()
    data = r.read()
    if r.status >= 300:
        sys.exit(f"{method} {path}: {r.status} {data[:300]!r}")
    return data

tasks = [{"name": f"t{i}", "command": ["true"], "hardware": "cuda" if i % 5 == 0 else "cpu",
          "type": "benchmark", "model": "bert-base-uncased", "batch_sizes": [1, 2, 4]}
         for i in range(1000)]
call("POST", "/api/v1/tasks", {"tasks": tasks})
for w in range(10):
    reg = json.loads(call("POST", "/api/v1/workers/register",
                          {"worker_id": f"w{w}", "protocol": 1, "slots": 20,
                           "capabilities": {"hardware": ["cpu", "cuda"]}}))
    call("POST", f"/api/v1/workers/w{w}/lease", {"max": 20, "wait_s": 0},
         {"X-DTF-Worker-Token": reg["token"], "X-DTF-Protocol": "1"})

rest_path = "/api/v1/tasks?limit=1000"
query = """query {
  tasks(first: 1000) {
    id, type, status, priority, created_at, updated_at, worker {
      id, status, available_hardware
    }, result {
      status, start_time, end_time, metrics
    }
  }
}"""
gql = {"query": query}

# Both answer the same 1,000 tasks, 200 of them with a worker.
rest = json.loads(call("GET", rest_path))["tasks"]
data = json.loads(call("POST", "/graphql", gql))
if "errors" in data:
    sys.exit(f"GraphQL errors: {data['errors']}")
g = data["data"]["tasks"]
assert [t["id"] for t in rest] == [t["id"] for t in g], "REST and GraphQL list different tasks"
assigned = sum(1 for t in g if t["worker"])
assert assigned == 200, f"{assigned} tasks with a worker, want 200"
assert all(t["worker"]["id"] == r["worker_id"] for t, r in zip(g, rest) if t["worker"])

times = {"rest": [], "graphql": []}
sizes = {}
for i in range(n):
    for kind in (("rest", "graphql") if i % 2 == 0 else ("graphql", "rest")):
        t0 = time.perf_counter()
        body = call("GET", rest_path) if kind == "rest" else call("POST", "/graphql", gql)
        times[kind].append((time.perf_counter() - t0) * 1000)
        sizes[kind] = len(body)

def stats(v):
    v = sorted(v)
    return statistics.median(v), v[int(len(v) * 0.9) - 1 if len(v) >= 10 else -1]

rm, rp = stats(times["rest"])
gm, gp = stats(times["graphql"])
print(f"1,000 tasks (200 on 10 workers), {n} round trips each, alternating")
print(f"REST    GET /api/v1/tasks?limit=1000     median {rm:7.2f} ms  p90 {rp:7.2f} ms  "
      f"body {sizes['rest']:,} bytes")
print(f"GraphQL tasks(first: 1000) with workers  median {gm:7.2f} ms  p90 {gp:7.2f} ms  "
      f"body {sizes['graphql']:,} bytes")
print(f"ratio GraphQL / REST (median): {gm / rm:.2f}")
EOF
