#!/bin/sh
# postgres.sh: `dtf bench --phases submit,complete` with the coordinator on PostgreSQL against the
# same on SQLite, interleaved (sqlite, postgres, sqlite, …) so that the machine's drift hits both,
# and the median of each. PostgreSQL is a private server (scripts/pg-test-server.sh: 127.0.0.1,
# fsync=on, synchronous_commit=on) on this machine, sharing its cores with the coordinator and the
# simulated clients; every acknowledged change is durable on both backends.
# Usage: bench/postgres.sh [ROUNDS [TASKS]]   (default 5 rounds of 40000 tasks)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${DTF_BUILD_DIR:-$ROOT/build}
ROUNDS=${1:-5}
TASKS=${2:-40000}
DTF=$BUILD/dtf
[ -x "$DTF" ] || { echo "build first: cmake -S . -B build && cmake --build build" >&2; exit 2; }

PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/dtf-bench-pg.XXXXXX")
OUT=$(mktemp -d "${TMPDIR:-/tmp}/dtf-bench-out.XXXXXX")
trap 'sh "$ROOT/scripts/pg-test-server.sh" stop "$PGDIR" >/dev/null 2>&1; rm -rf "$PGDIR" "$OUT"' EXIT
URL=$(sh "$ROOT/scripts/pg-test-server.sh" start "$PGDIR")
echo "PostgreSQL $(psql "$URL" -qAt -c 'SHOW server_version') at $URL" \
	"(fsync=$(psql "$URL" -qAt -c 'SHOW fsync'), synchronous_commit=$(psql "$URL" -qAt -c 'SHOW synchronous_commit'))"

i=1
while [ "$i" -le "$ROUNDS" ]; do
	for b in sqlite postgres; do
		if [ "$b" = postgres ]; then
			"$DTF" bench --phases submit,complete --tasks "$TASKS" --db-url "$URL" >"$OUT/run"
		else
			"$DTF" bench --phases submit,complete --tasks "$TASKS" >"$OUT/run"
		fi
		sed "s/^/$b round $i: /" "$OUT/run"
		sed -n 's/^submit:.* \([0-9]*\) tasks\/s.*/\1/p' "$OUT/run" >>"$OUT/$b.submit"
		sed -n 's/^complete:.* \([0-9]*\) tasks\/s.*/\1/p' "$OUT/run" >>"$OUT/$b.complete"
	done
	i=$((i + 1))
done

median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
echo
printf '%-10s %18s %20s\n' backend "submit tasks/s" "complete tasks/s"
for b in sqlite postgres; do
	printf '%-10s %18s %20s\n' "$b" "$(median "$OUT/$b.submit")" "$(median "$OUT/$b.complete")"
done
echo "(medians of $ROUNDS interleaved rounds of $TASKS tasks)"
