#!/bin/sh
# pg-test-server.sh: a private PostgreSQL server for dtf's tests and benchmarks, in a directory of
# the caller's (data directory, socket, log), listening on 127.0.0.1 on a free port.
#
#   pg-test-server.sh start DIR         initdb (first time) + start; prints the database URL
#   pg-test-server.sh stop DIR          a fast shutdown (also fine when it is not running)
#   pg-test-server.sh kill DIR          an immediate shutdown (as if the server crashed)
#   pg-test-server.sh restart DIR       start again on the same port after stop/kill
#
# fsync=on and synchronous_commit=on (PostgreSQL's defaults, set explicitly): what dtf measures and
# tests is durable commits. PostgreSQL refuses to run as root: as root the server runs as the
# postgres user (Debian's package creates it), else nobody, which must be able to reach DIR (its
# parents searchable: not under a 0700 directory).
# Exits 77 when PostgreSQL's binaries are absent (PG_BIN names their folder if not in the usual
# /usr/lib/postgresql/<version>/bin).
set -eu

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
	echo "usage: $0 start|stop|kill|restart DIR" >&2
	exit 2
fi

bin=${PG_BIN:-}
if [ -z "$bin" ]; then
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			bin=$d
			break
		fi
	done
fi
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
	echo "pg-test-server: PostgreSQL's initdb and pg_ctl are not installed" >&2
	exit 77
fi

user=
if [ "$(id -u)" = 0 ]; then
	if id postgres >/dev/null 2>&1; then user=postgres; else user=nobody; fi
fi

# Runs a command as the server's user (the caller itself when not root).
as_user() {
	if [ -n "$user" ]; then
		(cd / && runuser -u "$user" -- "$@")
	else
		"$@"
	fi
}

free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_start() {
	port=$1
	as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir/sock -c fsync=on -c synchronous_commit=on -c max_connections=20" \
		start >/dev/null
}

case "$cmd" in
start)
	mkdir -p "$dir/sock"
	chmod 755 "$dir"
	[ -n "$user" ] && chown "$user" "$dir" "$dir/sock"
	if [ ! -d "$dir/data" ]; then
		# --no-sync: initdb's own files need no fsync for a test; the server runs with fsync=on.
		as_user "$bin/initdb" -D "$dir/data" -U dtf -A trust --no-sync -E UTF8 \
			--locale=C >"$dir/initdb.log" 2>&1 || {
			cat "$dir/initdb.log" >&2
			exit 1
		}
	fi
	# A free port can be taken between the check and the bind: a few tries.
	tries=0
	until port=$(free_port) && pg_start "$port"; do
		tries=$((tries + 1))
		if [ "$tries" -ge 5 ]; then
			tail -20 "$dir/server.log" >&2
			exit 1
		fi
	done
	echo "$port" >"$dir/port"
	as_user "$bin/psql" -h 127.0.0.1 -p "$port" -U dtf -d postgres -qAt \
		-c "CREATE DATABASE dtf" >/dev/null
	echo "postgresql://dtf@127.0.0.1:$port/dtf"
	;;
restart)
	port=$(cat "$dir/port")
	pg_start "$port"
	echo "postgresql://dtf@127.0.0.1:$port/dtf"
	;;
stop | kill)
	[ -d "$dir/data" ] || exit 0
	mode=fast
	[ "$cmd" = kill ] && mode=immediate
	if as_user "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		as_user "$bin/pg_ctl" -D "$dir/data" -m "$mode" -w -t 60 stop >/dev/null
	fi
	;;
*)
	echo "usage: $0 start|stop|kill|restart DIR" >&2
	exit 2
	;;
esac
