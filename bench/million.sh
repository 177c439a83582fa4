#!/usr/bin/env bash
# million.sh: the coordinator with a million tasks (issue 20). On a fresh state directory:
#  1. submits TASKS no-op tasks (`command: ["true"]`) through POST /api/v1/tasks in batches of
#     BATCH (`dtf bench --port P --phases submit`); records the coordinator's peak RSS (VmHWM) and
#     its RSS once they are all in;
#  2. SIGKILLs it and starts it again on the same database and port: the time from the start
#     command to the first 200 of /healthz and to the first lease that hands out a task (a worker
#     registered, then POST /api/v1/workers/ID/lease until it gets one); RSS and peak RSS then;
#  3. drains every task with WORKERS simulated workers leasing LEASE_MAX at a time (`dtf bench
#     --port P --phases drain`) and records RSS and peak RSS again.
# Prints a table. Usage: bench/million.sh [--backend sqlite|pg] [TASKS (1000000)] [BATCH (10000)]
# DTF_BIN overrides the coordinator's binary (default build/dtf), BENCH_BIN the one that drives it
# (default build/dtf: it needs `dtf bench --port`); WORKERS (8) and LEASE_MAX (256) the drain.
# --backend pg starts a private PostgreSQL (scripts/pg-test-server.sh) in the temporary directory.
# Needs curl; stops everything it started and removes its files on exit.
set -eu
BACKEND=sqlite
if [ "${1:-}" = "--backend" ]; then
	BACKEND=$2
	shift 2
fi
case $BACKEND in sqlite | pg) ;; *) echo "million.sh: --backend sqlite|pg" >&2; exit 2 ;; esac
TASKS=${1:-1000000}
BATCH=${2:-10000}
WORKERS=${WORKERS:-8}
LEASE_MAX=${LEASE_MAX:-256}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DTF=${DTF_BIN:-$ROOT/build/dtf}
BENCH=${BENCH_BIN:-$ROOT/build/dtf}
[ -x "$DTF" ] && [ -x "$BENCH" ] || { echo "build dtf first (make), or set DTF_BIN" >&2; exit 2; }
command -v curl > /dev/null || { echo "needs curl" >&2; exit 2; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/dtf-million.XXXXXX")
chmod 755 "$TMP" # PostgreSQL runs as another user and must reach its directory
COORD_PID=""
PG_DIR=""

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$COORD_PID" ]; then
		kill -TERM "$COORD_PID" 2>/dev/null || true
		wait "$COORD_PID" 2>/dev/null || true
	fi
	[ -z "$PG_DIR" ] || sh "$ROOT/scripts/pg-test-server.sh" stop "$PG_DIR" > /dev/null 2>&1 || true
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { echo $(($(date +%s%N) / 1000000)); }
die() { echo "million.sh: $*" >&2; tail -n 20 "$TMP/coordinator.log" >&2 || true; exit 1; }
kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
healthz() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/healthz")" = 200 ]; }

if [ "$BACKEND" = pg ]; then
	PG_DIR=$TMP/pg
	mkdir -p "$PG_DIR"
	chmod 755 "$PG_DIR"
	DB=$(sh "$ROOT/scripts/pg-test-server.sh" start "$PG_DIR") || die "PostgreSQL did not start"
else
	DB=$TMP/million.db
fi

# start PORT: starts the coordinator (port 0: any) and sets COORD_PID, T_START.
start() {
	rm -f "$TMP/port"
	T_START=$(now_ms)
	"$DTF" coordinator --port "$1" --port-file "$TMP/port" --db-path "$DB" \
		--heartbeat-timeout 600 --worker-auto-discovery >> "$TMP/coordinator.log" 2>&1 &
	COORD_PID=$!
}
wait_healthz() {
	local end=$(($(now_ms) + 600000))
	until [ -s "$TMP/port" ] && URL="http://127.0.0.1:$(cat "$TMP/port")" && healthz; do
		kill -0 "$COORD_PID" 2>/dev/null || die "the coordinator exited"
		[ "$(now_ms)" -lt "$end" ] || die "no /healthz after 600 s"
		sleep 0.01
	done
}

echo "million.sh: $BACKEND, $TASKS tasks in batches of $BATCH" >&2
start 0
wait_healthz
PORT=$(cat "$TMP/port")
T0=$(now_ms)
"$BENCH" bench --port "$PORT" --phases submit --tasks "$TASKS" --batch "$BATCH" --submitters 2 >&2 ||
	die "submission failed"
SUBMIT_S=$(awk -v a="$T0" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
HWM_SUBMIT=$(kib "$COORD_PID" VmHWM)
RSS_SUBMIT=$(kib "$COORD_PID" VmRSS)

kill -KILL "$COORD_PID"
wait "$COORD_PID" 2>/dev/null || true
start "$PORT"
wait_healthz
T_HEALTHZ=$(($(now_ms) - T_START))
TOKEN=$(curl -s --max-time 60 -H 'Content-Type: application/json' \
	--data-binary '{"worker_id": "million-probe", "slots": 1}' "$URL/api/v1/workers/register" |
	sed -n 's/.*"token": *"\([^"]*\)".*/\1/p') || die "register failed"
until curl -s --max-time 60 -H 'Content-Type: application/json' -H "X-DTF-Worker-Token: $TOKEN" \
	--data-binary '{"max": 1, "wait_s": 0}' "$URL/api/v1/workers/million-probe/lease" |
	grep -q '"id"'; do
	[ $(($(now_ms) - T_START)) -lt 600000 ] || die "no lease 600 s after the restart"
	sleep 0.01
done
T_LEASE=$(($(now_ms) - T_START))
HWM_RESTART=$(kib "$COORD_PID" VmHWM)
RSS_RESTART=$(kib "$COORD_PID" VmRSS)

T0=$(now_ms)
# The probe's one task stays leased: the drain completes the others.
"$BENCH" bench --port "$PORT" --phases drain --tasks $((TASKS - 1)) --workers "$WORKERS" \
	--lease-max "$LEASE_MAX" >&2 || die "drain failed"
DRAIN_S=$(awk -v a="$T0" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
HWM_DRAIN=$(kib "$COORD_PID" VmHWM)
RSS_DRAIN=$(kib "$COORD_PID" VmRSS)
DBSIZE=$(if [ "$BACKEND" = sqlite ]; then du -k "$DB" | cut -f1; else du -sk "$PG_DIR" | cut -f1; fi)

printf '| backend | tasks | submit | RSS after submit | peak | restart to /healthz | to first lease | RSS after restart | peak | drain | RSS after drain | peak | store |\n'
printf '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
printf '| %s | %s | %s s | %s MiB | %s MiB | %s ms | %s ms | %s MiB | %s MiB | %s s | %s MiB | %s MiB | %s MiB |\n' \
	"$BACKEND" "$TASKS" "$SUBMIT_S" "$(mib "$RSS_SUBMIT")" "$(mib "$HWM_SUBMIT")" "$T_HEALTHZ" \
	"$T_LEASE" "$(mib "$RSS_RESTART")" "$(mib "$HWM_RESTART")" "$DRAIN_S" "$(mib "$RSS_DRAIN")" \
	"$(mib "$HWM_DRAIN")" "$(mib "$DBSIZE")"
