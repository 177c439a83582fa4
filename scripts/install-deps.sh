#!/bin/sh
# Installs the Debian packages dtf needs to build, test and run, when they are missing.
# Run as root (CI, a fresh machine) it uses apt-get; otherwise it names what to install.
set -e
# prometheus: promtool and a Prometheus server for tests/e2e/test_prometheus.sh, which runs its own
# on a private port and data directory (a system service the package may start is not used).
# prometheus-pushgateway: tests/e2e/test_pushgateway.sh, where `dtf run --pushgateway` pushes to
# a private one that the private Prometheus scrapes.
# clang-format: scripts/check-format.sh (the lint.format test, `make format`).
# python3-jsonschema: tests/e2e/test_openapi_replies.sh validates real replies against docs/openapi.json.
# nodejs, npm: tests/e2e/test_openapi_valid.sh installs an OpenAPI validator with npm; only asked
# for when npm is missing (NodeSource's nodejs package carries npm and conflicts with Debian's).
# chromium-driver, python3-selenium: tests/e2e/test_dashboard_browser.py drives headless Chromium
# over WebDriver against the dashboard. node-graphql: graphql-js, the GraphQL client that
# tests/e2e/test_graphql_client.sh runs (with node) against the coordinator's /graphql.
# python3-numpy: numpy's own tests, run by tests/e2e/test_numpy_suite.sh (and bench/numpy.sh, which
# also compares with pytest -n from python3-pytest-xdist).
# python3-aiosmtpd, openssl: tests/e2e/test_notify_email.sh runs a real SMTP server (STARTTLS on a
# certificate the test makes with `openssl req`, AUTH required) for the email connector.
# libjwt-dev: workers' tokens (HS256 JWTs, src/common/token.c).
# libssl-dev: libcrypto's HMAC-SHA256 signs the generic webhook's requests (src/notify/webhook.c).
# libpq-dev, postgresql: the PostgreSQL store (src/store/postgres.c); its tests and bench/postgres.sh
# start a private server with scripts/pg-test-server.sh.
# slurm-wlm, munge: tests/e2e/test_slurm.sh starts a private one-node Slurm cluster
# (scripts/slurm-test-cluster.sh) on which `dtf slurm submit-workers` starts workers.
PKGS="cmake make gcc clang pkg-config libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev
libsqlite3-dev libpq-dev postgresql libyaml-dev libxml2-dev libcmocka-dev libclang-rt-14-dev clang-format python3
python3-requests python3-yaml curl bc chromium python3-pytest python3-numpy python3-pytest-xdist
prometheus prometheus-pushgateway python3-jsonschema chromium-driver python3-selenium node-graphql
python3-aiosmtpd openssl libssl-dev libjwt-dev slurm-wlm munge"
command -v npm > /dev/null 2>&1 || PKGS="$PKGS nodejs npm"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "dtf: missing Debian packages:$missing" >&2
	echo "dtf: install them with: sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "dtf: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
