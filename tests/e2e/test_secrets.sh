#!/usr/bin/env bash
# Secrets stay secret (docs/security.md): the API key a worker was given is not in its tasks'
# environment (so not in their output, logs or core dumps), nor in the coordinator's or the
# worker's log, nor in /api/v1/workers, which shows no worker token either; the store is
# created 0600 and `dtf run`'s state directory 0700.
. "$(dirname "$0")/lib.sh"

KEY=secret-key-Qm73xRv9
start_coordinator --api-key "$KEY"
API_KEY=$KEY
DTF_API_KEY=$KEY start_worker sec-1
wait_worker sec-1
TID=$(submit '{"name": "env_dump", "shell": "env; echo DONE"}')
wait_for -t 20 -m "the task to complete" task_status_is "$TID" completed
task_field "$TID" 'd["result"]["stdout"]' > task-out.txt
grep -q DONE task-out.txt || fail "the task's output was not captured: $(head -c 300 task-out.txt)"
grep -q "DTF_TASK_ID=" task-out.txt || fail "the task's environment was not printed"
grep -q "$KEY" task-out.txt && fail "the task saw the worker's API key in its environment"
# A task may still be given a key on purpose, in its own env.
TID2=$(submit '{"name": "env_key", "shell": "echo k=$DTF_API_KEY", "env": {"DTF_API_KEY": "given"}}')
wait_for -t 20 -m "the second task to complete" task_status_is "$TID2" completed
assert_contains "$(task_field "$TID2" 'd["result"]["stdout"]')" "k=given" "a key the task set itself"

api GET /api/v1/workers > workers.json
grep -q "$KEY" workers.json && fail "/api/v1/workers shows the API key"
grep -q '"token"' workers.json && fail "/api/v1/workers shows a worker token"
api GET /api/v1/workers/sec-1 > worker.json
grep -q '"token"' worker.json && fail "/api/v1/workers/sec-1 shows the worker token"
grep -q "$KEY" "$COORD_LOG" && fail "the coordinator logs the API key"
grep -q "API key 1: …xRv9" "$COORD_LOG" || fail "the coordinator does not name its key by its last four: $(head -5 "$COORD_LOG")"
grep -q "$KEY" "$T/worker-sec-1.log" && fail "the worker logs the API key"
# A wrong key is refused without echoing it.
code=$(curl -s -o wrong.txt -w '%{http_code}' -H "X-API-Key: wrong-$KEY" "$URL/api/v1/tasks")
assert_eq "$code" 401 "a wrong key"
grep -q "$KEY" wrong.txt && fail "the 401 echoes the key it was sent"

# A key sent over plain HTTP to a host that is not loopback is warned about.
out=$(DTF_API_KEY=$KEY dtf client --coordinator http://dtf-plain.invalid:9 workers 2>&1)
assert_contains "$out" "is plain HTTP" "the warning for a key over plain HTTP"
case "$out" in *"$KEY"*) fail "the client printed its key: $out" ;; esac
out=$(DTF_API_KEY=$KEY dtf client --coordinator "$URL" workers 2>&1)
case "$out" in *"plain HTTP"*) fail "a loopback coordinator was warned about: $out" ;; esac

assert_eq "$(stat -c %a "$COORD_DB")" 600 "the store's mode"
mkdir -p run-dir && cd run-dir || fail "cd"
printf '#!/bin/sh\nexit 0\n' > test_ok.sh
chmod +x test_ok.sh
dtf run --workers 1 --test-dir . --test-pattern 'test_*.sh' > run.out 2>&1 ||
	fail "dtf run failed: $(tail -5 run.out)"
assert_eq "$(stat -c %a .dtf)" 700 "dtf run's state directory's mode"
echo "PASS: the key stays out of tasks, logs and the workers API; the store is private"
