# pg_lib.sh: a private PostgreSQL server for an end-to-end test (sourced after lib.sh).
#
#   start_pg      starts a server in $T/pg (scripts/pg-test-server.sh: initdb, 127.0.0.1 on a free
#                 port, fsync=on) and points the test's coordinator at it: PG_URL, COORD_DB. Exits
#                 77 (skipped) when PostgreSQL is not installed. The server stops when the test
#                 ends, passed or failed.
#   kill_pg       an immediate shutdown, as if the server crashed
#   restart_pg    starts it again on the same port and data
#   start_pg_coordinator NAME ARGS…
#                 a coordinator on it with --standby on a free port (ARGS added; its log
#                 $T/coord-NAME.log); sets NAME_PID and NAME_URL
#   role_is URL ROLE  whether that coordinator's /healthz says that role (leader, standby)
PG_SERVER="$DTF_SOURCE_DIR/scripts/pg-test-server.sh"
# Not under $T: the server runs as another user when the test runs as root, and $T is 0700.
PG_DIR=""
PG_URL=""

stop_pg() {
	[ -n "$PG_DIR" ] || return 0
	sh "$PG_SERVER" kill "$PG_DIR" >/dev/null 2>&1
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$PG_DIR"
}

start_pg() {
	local rc=0
	PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/dtf-pg.XXXXXX") || fail "mktemp"
	CLEANUP_HOOKS+=(stop_pg)
	PG_URL=$(sh "$PG_SERVER" start "$PG_DIR" 2>"$T/pg-start.log") || rc=$?
	if [ "$rc" = 77 ]; then
		log "SKIP: PostgreSQL is not installed ($(cat "$T/pg-start.log"))"
		exit 77
	fi
	[ "$rc" = 0 ] || { cat "$T/pg-start.log" >&2; fail "cannot start the private PostgreSQL"; }
	COORD_DB="$PG_URL"
	export PG_URL
	log "PostgreSQL on $PG_URL"
}

kill_pg() { sh "$PG_SERVER" kill "$PG_DIR" || fail "cannot stop PostgreSQL"; }

restart_pg() { sh "$PG_SERVER" restart "$PG_DIR" >/dev/null || fail "cannot restart PostgreSQL"; }

start_pg_coordinator() {
	local name=$1 pf="$T/$1.port"
	shift
	rm -f "$pf"
	"$DTF_BIN" coordinator --port 0 --port-file "$pf" --db-url "$PG_URL" --standby "$@" \
		>> "$T/coord-$name.log" 2>&1 &
	eval "${name}_PID=$!"
	track_pid "$!"
	wait_for -t 20 -m "coordinator $name to write its port file" port_file_ready "$pf" "$!"
	eval "${name}_URL=http://127.0.0.1:$(head -n1 "$pf")"
}

role_is() {
	[ "$(curl -s --max-time 2 "$1/healthz" | jq_py 'd.get("role", "")' 2>/dev/null)" = "$2" ]
}
