#!/usr/bin/env bash
# The store unit suite (tests/unit/test_store.c) against PostgreSQL: a private server, its URL in
# DTF_TEST_PG_URL, so the binary runs its PostgreSQL group after the SQLite one.
. "$(dirname "$0")/lib.sh"
. "$DTF_SOURCE_DIR/tests/e2e/pg_lib.sh"

start_pg
bin="${DTF_BUILD_DIR:?}/tests/test_store"
[ -x "$bin" ] || fail "no $bin"
DTF_TEST_PG_URL="$PG_URL" "$bin" > unit.log 2>&1 || { cat unit.log >&2; fail "test_store failed"; }
grep -q "Running 21 test" unit.log || { cat unit.log >&2; fail "the PostgreSQL group did not run"; }
[ "$(grep -c '\[  PASSED  \]' unit.log)" = 2 ] || { cat unit.log >&2; fail "a group failed"; }
