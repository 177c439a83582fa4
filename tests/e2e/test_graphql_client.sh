#!/usr/bin/env bash
# A real GraphQL client against dtf: graphql-js 16 (tests/e2e/graphql_client.js) fetches the
# schema with the full introspection query, builds a client schema from it, validates the seed's
# documents against it and executes them over HTTP, with a task running on a worker so that the
# seed's tasks(status: "running") query has something to show. Skipped (77) only without node or
# graphql-js.
. "$(dirname "$0")/lib.sh"

export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
if ! command -v node > /dev/null 2>&1; then
	echo "SKIP: node is not installed" >&2
	exit 77
fi
if ! node -e "require('graphql')" > /dev/null 2>&1; then
	echo "SKIP: graphql-js is not installed (NODE_PATH=$NODE_PATH)" >&2
	exit 77
fi

BUILD=${DTF_BUILD_DIR:-$(dirname "$DTF_BIN")}
EX="$BUILD/examples/plugins"
SRC="$DTF_SOURCE_DIR/examples/plugins"
[ -f "$EX/benchmark.so" ] || fail "$EX/benchmark.so is missing: build the plugins first"
cat > dtf.yaml <<EOF
coordinator:
  worker_auto_discovery: true
plugins:
  directories:
    - $EX
  enabled: [benchmark]
  config:
    benchmark:
      command: [sh, $SRC/fake_benchmark.sh, "{model}", "{batch_size}"]
EOF

start_coordinator --config dtf.yaml
start_worker w1 --config dtf.yaml --hardware cuda
wait_worker w1
SID=$(submit '{"shell": "sleep 60", "hardware": "cuda", "name": "long"}')
wait_for -t 30 -m "the task to run" task_status_is "$SID" running

out=$(node "$DTF_SOURCE_DIR/tests/e2e/graphql_client.js" "$URL" "$SID" 2>&1) ||
	fail "graphql-js: $out"
assert_contains "$out" "ok: introspection" "graphql-js's report"
log "ok"
