#!/bin/sh
# slurm-test-cluster.sh: a private one-node Slurm cluster for dtf's tests (tests/e2e/test_slurm.sh)
# and for trying `dtf slurm` by hand: its own munged (key and socket under DIR), slurmctld and
# slurmd on free loopback ports, their state, spool, pid and log files under DIR. Nothing of the
# machine's own Slurm or MUNGE setup (/etc/slurm, /run/munge) is used or changed.
#
#   slurm-test-cluster.sh start DIR   writes DIR/slurm.conf, starts the daemons, waits until the
#                                     node is idle; prints the line to give clients the cluster:
#                                     export SLURM_CONF=DIR/slurm.conf
#   slurm-test-cluster.sh stop DIR    stops the daemons (also fine when they are not running) and
#                                     waits until they are gone
#
# Clients (sbatch, squeue, scancel, srun, dtf slurm) find the cluster through SLURM_CONF; the
# configuration's AuthInfo=socket= tells them and the daemons where this munged listens.
# The node is this host (`hostname -s`, reached on 127.0.0.1) with nproc CPUs and most of its
# memory; no cgroups (proctrack/linuxproc, task/none), so it runs in containers too. The daemons
# run as root (SlurmUser=root), as munged needs -f to accept DIR's ownership. The scheduler runs
# every second so that jobs start at once.
# Exits 77 when Slurm's daemons or munged are not installed (Debian: slurm-wlm, munge).
set -eu

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
	echo "usage: $0 start|stop DIR" >&2
	exit 2
fi
for b in slurmctld slurmd munged sinfo; do
	if ! command -v "$b" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$b" ]; then
		echo "slurm-test-cluster: $b is not installed (Debian: slurm-wlm munge)" >&2
		exit 77
	fi
done
PATH=$PATH:/usr/sbin
case "$dir" in /*) ;; *) dir=$PWD/$dir ;; esac
conf=$dir/slurm.conf
export SLURM_CONF="$conf"

free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (at most $2 tenths of a second) until the process of pid file $1 is gone.
wait_gone() {
	n=0
	[ -f "$1" ] || return 0
	pid=$(cat "$1" 2>/dev/null || true)
	[ -n "$pid" ] || return 0
	while kill -0 "$pid" 2>/dev/null; do
		n=$((n + 1))
		if [ "$n" -ge "$2" ]; then
			kill -KILL "$pid" 2>/dev/null || true
			sleep 0.1
			break
		fi
		sleep 0.1
	done
	rm -f "$1"
}

stop_pidfile() {
	if [ -f "$1" ]; then
		pid=$(cat "$1" 2>/dev/null || true)
		[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
	fi
}

case "$cmd" in
start)
	mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
	chmod 700 "$dir/munge"
	host=$(hostname -s)
	cpus=$(nproc)
	# Most of the memory, leaving some for the machine itself: jobs ask for theirs (--mem).
	mem=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.8 }' /proc/meminfo)
	if [ ! -f "$dir/munge/munge.key" ]; then
		dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 2>/dev/null
		chmod 400 "$dir/munge/munge.key"
	fi
	munged -f --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
		--pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" \
		--seed-file="$dir/munge/munged.seed"
	ctld_port=$(free_port)
	slurmd_port=$(free_port)
	while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done
	cat >"$conf" <<EOF
# A private one-node cluster written by scripts/slurm-test-cluster.sh.
ClusterName=dtftest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/slurmd-%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=100
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,sched_min_interval=100000
ReturnToService=2
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=30
MessageTimeout=10
MailProg=/bin/true
NodeName=$host NodeAddr=127.0.0.1 NodeHostname=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
	slurmctld -f "$conf" -i
	slurmd -f "$conf"
	# Up when the node is idle (or mixed/allocated, should jobs already run after a restart).
	n=0
	until sinfo -h -N -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; do
		n=$((n + 1))
		if [ "$n" -ge 300 ]; then
			echo "slurm-test-cluster: the node did not come up within 30 s:" >&2
			sinfo -N -l >&2 || true
			tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
			exit 1
		fi
		sleep 0.1
	done
	echo "export SLURM_CONF=$conf"
	;;
stop)
	# slurmd first (it ends the job steps it runs), then the controller, then munged.
	stop_pidfile "$dir/slurmd.pid"
	wait_gone "$dir/slurmd.pid" 150
	stop_pidfile "$dir/slurmctld.pid"
	wait_gone "$dir/slurmctld.pid" 150
	stop_pidfile "$dir/munge/munged.pid"
	wait_gone "$dir/munge/munged.pid" 50
	;;
*)
	echo "usage: $0 start|stop DIR" >&2
	exit 2
	;;
esac
