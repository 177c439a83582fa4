#!/bin/sh
# peers.sh: dtf against xargs -P, GNU parallel, Slurm and pytest-xdist on the same workloads, in
# one run (see bench/peers.py for the workloads and the columns). Installs what it needs when run
# as root (Debian: parallel, slurm-wlm, python3-pytest, python3-pytest-xdist), starts Slurm's
# daemons on private ports and directories, tears everything down on exit, and is bounded to 15
# minutes. Environment: DTF_BIN, SLOTS (8), WORKERS (2), WORKLOADS (noop,sleep,pytest),
# N_NOOP (2000), N_SLURM_NOOP (400), SLEEP_TOTAL (240 s of work), REPEAT_NOOP (3).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
need=""
for p in parallel slurm-wlm python3-pytest python3-pytest-xdist curl; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "peers: installing$need" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
	else
		echo "peers: missing$need (run as root to install them)" >&2
	fi
fi
exec timeout -k 10 870 /usr/bin/python3 "$ROOT/bench/peers.py"
