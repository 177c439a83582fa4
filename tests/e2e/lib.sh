# lib.sh: helpers sourced by the end-to-end tests (tests/e2e/test_*.sh).
#
# Each test gets its own temporary directory ($T, also the working directory) that is removed on
# exit, and every process it started is stopped then: the ones started through these helpers by
# pid (SIGTERM, then SIGKILL), and everything else that inherited DTF_E2E_TMP=$T (a daemonized
# coordinator, the tasks a killed worker left behind) by scanning /proc for that variable.
#
# Environment (set by CTest): DTF_BIN (the dtf binary), DTF_SOURCE_DIR (the repository root),
# DTF_BUILD_DIR. Ports are always chosen by the kernel (--port 0 --port-file F).
#
# Helpers:
#   start_coordinator [args…]   coordinator in the background on a free port; sets URL, COORD_PID,
#                               COORD_PORT (db: $COORD_DB, default $T/coordinator.db)
#   stop_coordinator [SIG]      stops it (SIGTERM by default) and waits for it to exit
#   start_worker ID [args…]     a worker in the background (pid in WORKER_PID[ID], log
#                               $T/worker-ID.log); see wait_worker
#   wait_worker ID              until the coordinator lists worker ID as registered
#   wait_for [-t S] [-m MSG] CMD…   polls CMD until it succeeds, fails after S seconds
#   wait_exit PID S             waits for a child to exit (bounded); its status in WAIT_RC
#   fail MSG / assert_eq GOT WANT WHAT / assert_contains HAYSTACK NEEDLE WHAT
#   http METHOD PATH [BODY] [curl args…]  prints the status code; the body is in $T/body
#   api METHOD PATH [BODY]      like http but fails unless 2xx; prints the body
#   jq_py EXPR [FILE]           evaluates a Python expression over the JSON document `d` (from
#                               FILE or stdin); strings print raw, the rest as JSON
#   dtf ARGS…                   runs "$DTF_BIN" ARGS… (a function: for background processes
#                               use "$DTF_BIN" itself, so that $! is the dtf process)
#   track_pid PID               stop this pid at exit as well
#   procs_with_env NAME=VALUE   pids whose environment holds NAME=VALUE (e.g. DTF_TASK_ID=…)
#   now_ms                      the wall clock in epoch milliseconds
#   submit TASK_JSON            POST /api/v1/tasks with one task; prints its id
#   task_field ID EXPR / task_status_is ID STATUS   a task's document, its status
#   task_procs ID / has_task_procs ID / no_task_procs ID   live processes of a task
#
# The fault-injection scripts (tests/e2e/faults/) source faults_lib.sh, which sources this file.

set -u
set -o pipefail

: "${DTF_BIN:?DTF_BIN must point at the dtf binary}"
: "${DTF_SOURCE_DIR:?DTF_SOURCE_DIR must point at the repository root}"
case "$DTF_BIN" in /*) ;; *) DTF_BIN="$PWD/$DTF_BIN" ;; esac
[ -x "$DTF_BIN" ] || { echo "FAIL: DTF_BIN '$DTF_BIN' is not executable" >&2; exit 1; }

# Nothing from the caller's environment may change what the tests see.
unset DTF_API_KEY DTF_API_KEYS DTF_COORDINATOR DTF_CAPABILITIES

TEST_NAME=$(basename "$0" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/dtf-e2e-$TEST_NAME.XXXXXX") || { echo "FAIL: mktemp" >&2; exit 1; }
export DTF_E2E_TMP="$T"
cd "$T" || exit 1

# Sanitizer builds are several times slower: every deadline scales.
SCALE=1
if grep -qa '__asan_init' "$DTF_BIN" 2>/dev/null; then
	SCALE=3
fi

declare -a TRACKED_PIDS=()
declare -A WORKER_PID=()
COORD_PID=""
COORD_DB="$T/coordinator.db"
COORD_LOG="$T/coordinator.log"
URL=""
API_KEY=""          # when set, http/api send it as X-API-Key
TEST_START=$(date +%s.%N)

log() { printf '[%s +%ss] %s\n' "$TEST_NAME" "$(elapsed)" "$*" >&2; }

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

elapsed() { awk -v s="$TEST_START" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }'; }

dump_logs() {
	local f
	for f in "$T"/*.log; do
		[ -f "$f" ] || continue
		echo "----- $(basename "$f") (last 40 lines) -----" >&2
		tail -n 40 "$f" >&2
	done
}

fail() {
	echo "FAIL [$TEST_NAME]: $*" >&2
	dump_logs
	# Inside $(…) or a pipeline, exiting ends only the subshell: stop the test itself too.
	[ "${BASHPID:-$$}" = "$$" ] || kill -TERM "$$"
	exit 1
}

assert_eq() {
	# assert_eq GOT WANT WHAT
	[ "$1" = "$2" ] || fail "${3:-value}: got '$1', want '$2'"
}

assert_contains() {
	# assert_contains HAYSTACK NEEDLE WHAT
	case "$1" in
	*"$2"*) ;;
	*) fail "${3:-text} does not contain '$2': $(printf '%s' "$1" | head -c 2000)" ;;
	esac
}

track_pid() { TRACKED_PIDS+=("$1"); }

pid_alive() { kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ]; }

# has_env PID NAME=VALUE: the process PID has NAME=VALUE in its environment.
has_env() {
	local e
	local -a envs
	mapfile -d "" -t envs 2>/dev/null < "/proc/$1/environ" || return 1
	for e in "${envs[@]}"; do
		[ "$e" = "$2" ] && return 0
	done
	return 1
}

# procs_with_env NAME=VALUE: every process (but this shell) whose environment has NAME=VALUE.
# One grep reads every environment (a loop of has_env in the shell took seconds on a loaded
# machine, longer than some of the deadlines it is polled under).
procs_with_env() {
	local f pid
	for f in $(grep -lzxF -- "$1" /proc/[0-9]*/environ 2>/dev/null); do
		pid=${f#/proc/}
		pid=${pid%/environ}
		[ "$pid" = "$$" ] && continue
		[ "$pid" = "${BASHPID:-}" ] && continue
		echo "$pid"
	done
}

# Every process this test started, however indirectly.
our_processes() { procs_with_env "DTF_E2E_TMP=$T"; }

# Functions cleanup runs first, before the processes are stopped (pg_lib.sh's server shutdown).
declare -a CLEANUP_HOOKS=()

cleanup() {
	local rc=$? pid i left hook
	local -a mine=()
	trap - EXIT INT TERM
	for hook in "${CLEANUP_HOOKS[@]}"; do
		"$hook"
	done
	# Only pids that are still this test's (a reaped pid may belong to someone else by now).
	for pid in "${TRACKED_PIDS[@]}"; do
		has_env "$pid" "DTF_E2E_TMP=$T" && mine+=("$pid")
	done
	for pid in "${mine[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for i in $(seq 1 30); do
		left=0
		for pid in "${mine[@]}"; do
			pid_alive "$pid" && left=1
		done
		[ "$left" = 0 ] && break
		sleep 0.1
	done
	# Whatever is left that this test started (daemons, orphaned task processes).
	for pid in $(our_processes); do
		kill -KILL "$pid" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "$rc" = 0 ]; then
		log "PASS"
	elif [ -n "${KEEP_TMP:-}" ]; then
		echo "kept $T" >&2
	fi
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

dtf() { "$DTF_BIN" "$@"; }

# wait_for [-t SECONDS] [-m MESSAGE] CMD…: runs CMD every 0.1 s until it succeeds; fails the
# test after SECONDS (default 20, scaled for sanitizer builds).
wait_for() {
	local secs=20 msg="" deadline
	while [ $# -gt 0 ]; do
		case "$1" in
		-t) secs=$2; shift 2 ;;
		-m) msg=$2; shift 2 ;;
		*) break ;;
		esac
	done
	deadline=$(( $(date +%s%N) / 1000000 + secs * SCALE * 1000 ))
	until "$@"; do
		if [ $(( $(date +%s%N) / 1000000 )) -ge "$deadline" ]; then
			fail "timed out after $((secs * SCALE)) s waiting for: ${msg:-$*}"
		fi
		sleep 0.1
	done
}

# wait_exit PID SECONDS: waits for the child PID to exit; WAIT_RC gets its status.
wait_exit() {
	local pid=$1 secs=${2:-20}
	wait_for -t "$secs" -m "process $pid to exit" eval '! pid_alive '"$pid"
	wait "$pid" 2>/dev/null
	WAIT_RC=$?
}

# http METHOD PATH [BODY] [extra curl args…]: prints the status code, keeps the body in $T/body.
# BODY starting with @ is a file. Sends $API_KEY when set.
http() {
	local method=$1 path=$2 data=${3-}
	local -a args=(-s -o "$T/body" -w '%{http_code}' -X "$method" --max-time 30)
	shift 2
	[ $# -gt 0 ] && shift
	[ -n "$API_KEY" ] && args+=(-H "X-API-Key: $API_KEY")
	if [ -n "$data" ]; then
		args+=(-H 'Content-Type: application/json' --data-binary "$data")
	fi
	curl "${args[@]}" "$@" "$URL$path"
}

body() { cat "$T/body"; }

# metric NAME: the value of an unlabelled series in the coordinator's /metrics.
metric() { curl -s --max-time 5 "$URL/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }

# api METHOD PATH [BODY]: like http, but the call must succeed (2xx); prints the body.
api() {
	local code
	code=$(http "$@")
	case "$code" in
	2??) body ;;
	*) fail "$1 $2 answered $code: $(body)" ;;
	esac
}

# jq_py EXPR [FILE]: prints EXPR evaluated with d = the JSON document.
jq_py() {
	python3 -c '
import json, sys
src = open(sys.argv[2]) if len(sys.argv) > 2 else sys.stdin
d = json.load(src)
v = eval(sys.argv[1])
print(v if isinstance(v, str) else json.dumps(v))
' "$@"
}

# --- the coordinator ---

# start_coordinator [args…]: starts "$DTF_BIN coordinator" on COORD_PORT (default 0: a free
# port) with the db $COORD_DB (a file, or a postgresql:// URL: see pg_lib.sh); waits until it
# serves /healthz; sets URL, COORD_PID, COORD_PORT.
start_coordinator() {
	local pf="$T/coordinator.port" port=${COORD_PORT_WANT:-0} dbflag=--db-path
	rm -f "$pf"
	case "$COORD_DB" in postgres*://*) dbflag=--db-url ;; esac
	"$DTF_BIN" coordinator --port "$port" --port-file "$pf" "$dbflag" "$COORD_DB" \
		--heartbeat-interval 0.5 "$@" >> "$COORD_LOG" 2>&1 &
	COORD_PID=$!
	track_pid "$COORD_PID"
	wait_for -t 20 -m "the coordinator to write its port file" port_file_ready "$pf" "$COORD_PID"
	COORD_PORT=$(head -n1 "$pf")
	URL="http://127.0.0.1:$COORD_PORT"
	export URL
	wait_for -t 20 -m "the coordinator to answer /healthz" healthz_ok
	log "coordinator pid $COORD_PID on $URL"
}

port_file_ready() {
	# port_file_ready FILE [PID]: the file holds a whole port number (and PID still runs).
	if [ -n "${2:-}" ] && ! pid_alive "$2"; then
		fail "the coordinator (pid $2) exited before serving"
	fi
	[ -f "$1" ] && grep -qE '^[0-9]+$' "$1" && [ "$(head -n1 "$1")" -gt 0 ]
}

healthz_ok() {
	[ "$(curl -s --max-time 5 "$URL/healthz" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("status"))' 2>/dev/null)" = ok ]
}

# stop_coordinator [SIGNAL]: SIGTERM (default) or SIGKILL; waits until it is gone.
stop_coordinator() {
	local sig=${1:-TERM}
	[ -n "$COORD_PID" ] || return 0
	kill -"$sig" "$COORD_PID" 2>/dev/null
	wait_exit "$COORD_PID" 20
	COORD_PID=""
}

# --- workers ---

# start_worker ID [args…]: a worker with --worker-id ID against $URL.
start_worker() {
	local id=$1
	shift
	"$DTF_BIN" worker --coordinator "$URL" --worker-id "$id" --work-dir "$T/work/$id" \
		--lease-wait 5 "$@" >> "$T/worker-$id.log" 2>&1 &
	WORKER_PID[$id]=$!
	track_pid "$!"
}

worker_registered() {
	local code st
	code=$(http GET "/api/v1/workers/$1")
	[ "$code" = 200 ] || return 1
	st=$(jq_py 'd.get("status","")' "$T/body")
	[ -n "$st" ] && [ "$st" != lost ]
}

wait_worker() { wait_for -t 20 -m "worker $1 to register" worker_registered "$1"; }

# --- tasks ---

# submit TASK_JSON: submits one task; prints its id.
submit() { api POST /api/v1/tasks "$1" | jq_py 'd["id"]'; }

task_field() {
	# task_field ID EXPR: EXPR over the task document d of GET /api/v1/tasks/ID.
	local code
	code=$(http GET "/api/v1/tasks/$1")
	[ "$code" = 200 ] || fail "GET /api/v1/tasks/$1 answered $code: $(body)"
	jq_py "$2" "$T/body"
}

task_status_is() { [ "$(task_field "$1" 'd["status"]')" = "$2" ]; }
# run_completed_at_least RUN N: whether at least N tasks of the run have completed.
run_completed_at_least() {
	local n
	n=$(curl -s --max-time 5 "$URL/api/v1/runs/$1/summary" | jq_py 'd["completed"]' 2>/dev/null) || return 1
	[ "${n:-0}" -ge "$2" ]
}

# task_procs ID: live processes of that task (whichever worker started them).
task_procs() { procs_with_env "DTF_TASK_ID=$1"; }
has_task_procs() { [ -n "$(task_procs "$1")" ]; }
no_task_procs() { [ -z "$(task_procs "$1")" ]; }
