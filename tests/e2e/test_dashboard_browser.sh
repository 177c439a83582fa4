#!/usr/bin/env bash
# The web dashboard in a real browser: a coordinator with an API key and one worker run a run of
# nine tasks (passing, failing with a known error, one retried, one named like an HTML injection,
# three that wait for a file this test creates); test_dashboard_browser.py then drives headless
# Chromium through selenium: the login form, the overview's counts changing live when the
# waiting tasks are released, the run page's timeline and status filter, the failed task's page,
# escaping, the CSP header and a clean console. Screenshots of each page are kept in
# $DTF_ARTIFACTS (default $DTF_BUILD_DIR/artifacts/dashboard). See docs/internals/testing.md.
#
# Without /usr/bin/chromium, /usr/bin/chromedriver or selenium for /usr/bin/python3 (Debian
# packages chromium, chromium-driver, python3-selenium; scripts/install-deps.sh) it exits 77,
# which CTest reports as skipped.
PY=/usr/bin/python3
for tool in /usr/bin/chromium /usr/bin/chromedriver "$PY"; do
	if [ ! -x "$tool" ]; then
		echo "SKIP: $tool is not installed (scripts/install-deps.sh installs it)" >&2
		exit 77
	fi
done
if ! "$PY" -c 'import selenium.webdriver' 2> /dev/null; then
	echo "SKIP: $PY has no selenium (Debian package python3-selenium)" >&2
	exit 77
fi
. "$(dirname "$0")/lib.sh"

API_KEY=dash-key-Vt83q
start_coordinator --api-key "$API_KEY" --retry-backoff 0.2
start_worker dash-w1 --api-key "$API_KEY" --slots 8 --lease-wait 2
wait_worker dash-w1

ART=${DTF_ARTIFACTS:-${DTF_BUILD_DIR:-$DTF_SOURCE_DIR/build}/artifacts/dashboard}
mkdir -p "$ART" || fail "cannot create $ART"

# Chromium and chromedriver inherit DTF_E2E_TMP, so the cleanup of lib.sh stops whatever the
# script leaves behind even when it is killed; `timeout` bounds the script as a whole.
DTF_URL=$URL DTF_API_KEY_FOR_TEST=$API_KEY DTF_WORKER_ID=dash-w1 DTF_SCALE=$SCALE \
	DTF_ARTIFACTS=$ART timeout -k 5 $((80 * SCALE)) \
	"$PY" "$DTF_SOURCE_DIR/tests/e2e/test_dashboard_browser.py"
rc=$?
case "$rc" in
0) ;;
77) exit 77 ;;
124) fail "the browser test ran past $((80 * SCALE)) s" ;;
*) fail "the browser test failed (exit $rc)" ;;
esac
exit 0
