#!/usr/bin/env python3
"""peers.py: one workload through dtf and through the tools a user would pick instead, on this
machine, in one run (bench/peers.sh installs the tools and calls this).

Workloads (P slots everywhere, default 8):
  noop    N_NOOP no-op tasks (`true`, default 2,000)
  sleep   300 sleep tasks with heavy-tailed (Pareto) durations, scaled to SLEEP_TOTAL seconds of
          work in all (default 240: a 30 s lower bound on 8 slots)
  pytest  a generated pytest suite of 200 files with skewed durations (bench/gen_pytest_suite.py)
Tools: dtf (coordinator + W workers x S slots over loopback, W*S = P), xargs -P, GNU parallel -j,
Slurm (slurmctld + slurmd started here on private ports and directories, jobs as one sbatch
--array), pytest-xdist -n P (pytest workload).

Columns: wall time; tasks/s; makespan / lower bound (lower bound: the larger of the total work
over P and the longest task); CPU seconds of the tool itself (utime+stime of its own long-lived
processes, read from /proc, the tasks excluded; for the pytest workload, every process, since
the tests only sleep and all the CPU is the runner's); each peer's wall time and CPU over dtf's.
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DTF = os.environ.get("DTF_BIN", os.path.join(ROOT, "build", "dtf"))
P = int(os.environ.get("SLOTS", "8"))
W = int(os.environ.get("WORKERS", "2"))
S = P // W
N_NOOP = int(os.environ.get("N_NOOP", "2000"))
N_SLURM_NOOP = int(os.environ.get("N_SLURM_NOOP", "400"))
N_SLEEP = 300
SLEEP_TOTAL = float(os.environ.get("SLEEP_TOTAL", "240"))
REPEAT_NOOP = int(os.environ.get("REPEAT_NOOP", "3"))
PY = "/usr/bin/python3"
WORKLOADS = os.environ.get("WORKLOADS", "noop,sleep,pytest").split(",")
TICK = os.sysconf("SC_CLK_TCK")

TMP = tempfile.mkdtemp(prefix="dtf-peers.")
started = []  # Popen objects to stop at the end


def teardown(*_):
    for p in reversed(started):
        if p.poll() is None:
            p.terminate()
    deadline = time.time() + 5
    for p in reversed(started):
        try:
            p.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    started.clear()
    if not os.environ.get("KEEP_TMP"):
        shutil.rmtree(TMP, ignore_errors=True)


def on_signal(sig, _frame):
    teardown()
    sys.exit(128 + sig)


signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)


def self_cpu(pid):
    """utime + stime of the process itself (children excluded), seconds; None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return None


class CpuSampler:
    """Samples a short-lived process's own CPU every 20 ms; keeps the last value."""

    def __init__(self, pid):
        self.pid, self.last, self.stop = pid, 0.0, False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            v = self_cpu(self.pid)
            if v is None:
                break
            self.last = v
            time.sleep(0.02)

    def done(self):
        self.stop = True
        self.t.join()
        return self.last


def run_sampled(argv, stdin_text=None, cwd=None, env=None):
    """Runs argv to completion; returns (wall seconds, its own CPU seconds)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin_text is not None else None,
                         stdout=subprocess.DEVNULL, cwd=cwd, env=env)
    started.append(p)
    s = CpuSampler(p.pid)
    if stdin_text is not None:
        p.stdin.write(stdin_text.encode())
        p.stdin.close()
    rc = p.wait()
    wall = time.monotonic() - t0
    started.remove(p)
    if rc != 0:
        raise RuntimeError("%s exited %d" % (argv[0], rc))
    return wall, s.done()


def run_rusage(argv, cwd=None, env=None):
    """Runs argv; returns (wall, CPU of it and every descendant it reaped)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd,
                         env=env)
    started.append(p)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    started.remove(p)
    return time.monotonic() - t0, ru.ru_utime + ru.ru_stime, p.returncode


# ---- dtf ----

def dtf_run(cmds, label, strategy=None, db=None):
    """Runs cmds through a fresh coordinator (on the database db if given, else a new one) and
    returns (wall, cpu, durations, strategy, db): strategy as the coordinator reports it."""
    d = tempfile.mkdtemp(dir=TMP, prefix="dtf.")
    portf = os.path.join(d, "port")
    db = db or os.path.join(d, "db")
    coord = subprocess.Popen([DTF, "coordinator", "--port", "0", "--port-file", portf,
                              "--db-path", db] + (["--strategy", strategy] if strategy else []),
                             stderr=open(os.path.join(d, "coordinator.log"), "w"), cwd=d)
    started.append(coord)
    for _ in range(200):
        if os.path.exists(portf) and open(portf).read().strip():
            break
        time.sleep(0.05)
    url = "http://127.0.0.1:%s" % open(portf).read().strip()
    workers = []
    for i in range(W):
        w = subprocess.Popen([DTF, "worker", "--coordinator", url, "--worker-id", "w%d" % i,
                              "--slots", str(S), "--work-dir", os.path.join(d, "work%d" % i)],
                             stderr=open(os.path.join(d, "worker%d.log" % i), "w"), cwd=d)
        started.append(w)
        workers.append(w)
    for _ in range(200):
        out = subprocess.run(["curl", "-s", url + "/api/v1/workers"], capture_output=True,
                             text=True).stdout
        if out.count('"status":"idle"') >= W:
            break
        time.sleep(0.05)
    with open(os.path.join(d, "tasks.json"), "w") as f:
        json.dump({"tasks": [{"name": "%s-%d" % (label, i), "command": c}
                             for i, c in enumerate(cmds)]}, f)
    used = json.loads(subprocess.run(["curl", "-s", url + "/api/v1/scheduler"],
                                     capture_output=True, text=True).stdout).get("strategy")
    procs = [coord] + workers
    cpu0 = sum(self_cpu(p.pid) or 0 for p in procs)
    t0 = time.monotonic()
    subprocess.run([DTF, "client", "--coordinator", url, "submit-task", "--file", "tasks.json"],
                   cwd=d, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([DTF, "client", "--coordinator", url, "wait-completion", "--quiet"],
                   cwd=d, check=True, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    cpu = sum(self_cpu(p.pid) or 0 for p in procs) - cpu0
    # The recorded durations, for a run ordered by history.
    run_id = open(os.path.join(d, ".dtf", "last-run")).read().strip()
    out = subprocess.run(["curl", "-s", "%s/api/v1/tasks?run_id=%s&limit=100000" % (url, run_id)],
                         capture_output=True, text=True).stdout
    durations = {}
    leased = []
    for t in json.loads(out)["tasks"]:
        if t.get("status") != "completed":
            raise RuntimeError("dtf: task %s is %s" % (t["id"], t.get("status")))
        durations[t["name"]] = (t.get("result") or {}).get("duration_s", 0)
        leased.append((t.get("assigned_at") or "", t.get("seq", 0), t["name"]))
    # Names in the order the coordinator leased them (the last lease of each task).
    durations["_leased"] = [x[2] for x in sorted(leased)]
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait()
        started.remove(p)
    return wall, cpu, durations, used, db


# ---- Slurm ----

SLURM_CONF = """ClusterName=dtfpeers
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={cport}
SlurmdPort={dport}
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
MpiDefault=none
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,default_queue_depth=10000,sched_max_job_start=0
MinJobAge=2
MaxJobCount=200000
MaxArraySize=100001
MessageTimeout=30
SlurmctldDebug=error
SlurmdDebug=error
SlurmdParameters=config_overrides
ReturnToService=2
NodeName={host} NodeAddr=127.0.0.1 CPUs={p} State=UNKNOWN
PartitionName=peers Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Slurm:
    def __init__(self):
        self.error = None
        self.procs = []
        if not shutil.which("slurmctld") or not shutil.which("sbatch"):
            self.error = "slurm-wlm is not installed"
            return
        self.d = tempfile.mkdtemp(dir=TMP, prefix="slurm.")
        for sub in ("state", "spool"):
            os.mkdir(os.path.join(self.d, sub))
        host = socket.gethostname().split(".")[0]
        conf = SLURM_CONF.format(host=host, cport=free_port(), dport=free_port(), d=self.d, p=P)
        self.conf = os.path.join(self.d, "slurm.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.env = dict(os.environ, SLURM_CONF=self.conf)
        print("Slurm settings (after its high-throughput guide):")
        for line in conf.splitlines():
            if line.split("=")[0] in ("SchedulerType", "SchedulerParameters", "SelectType",
                                      "SelectTypeParameters", "ProctrackType", "TaskPlugin",
                                      "JobAcctGatherType", "AccountingStorageType", "MinJobAge",
                                      "MaxJobCount", "MessageTimeout", "SlurmctldDebug",
                                      "SlurmdDebug", "AuthType", "NodeName"):
                print("  " + line)
        for argv in (["slurmctld", "-D", "-i"], ["slurmd", "-D"]):
            p = subprocess.Popen(argv, env=self.env, stdout=subprocess.DEVNULL,
                                 stderr=open(os.path.join(self.d, argv[0] + ".err"), "w"))
            started.append(p)
            self.procs.append(p)
        deadline = time.time() + 30
        while time.time() < deadline:
            out = subprocess.run(["sinfo", "-h", "-o", "%t"], env=self.env, capture_output=True,
                                 text=True).stdout.strip()
            if out in ("idle", "mix", "alloc"):
                return
            if any(p.poll() is not None for p in self.procs):
                break
            time.sleep(0.3)
        err = ""
        for n in ("slurmctld.err", "slurmd.err", "slurmctld.log", "slurmd.log"):
            path = os.path.join(self.d, n)
            if os.path.exists(path):
                err += open(path).read()[-300:]
        self.error = "Slurm did not come up: " + " ".join(err.split())[-300:]

    def run(self, cmds, timeout):
        lst = os.path.join(self.d, "cmds.%d" % len(cmds))
        with open(lst, "w") as f:
            f.write("\n".join(" ".join(c) for c in cmds) + "\n")
        script = os.path.join(self.d, "job.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\nset -- $(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" %s)\n"
                    "exec \"$@\"\n" % lst)
        cpu0 = sum(self_cpu(p.pid) or 0 for p in self.procs)
        t0 = time.monotonic()
        job = subprocess.run(["sbatch", "--parsable", "--array=0-%d" % (len(cmds) - 1),
                              "-o", "/dev/null", "-e", "/dev/null", "-c", "1", script],
                             env=self.env, capture_output=True, text=True, check=True).stdout
        job = job.strip().split(";")[0]
        while time.monotonic() - t0 < timeout:
            q = subprocess.run(["squeue", "-h", "-j", job], env=self.env, capture_output=True,
                               text=True).stdout
            if not q.strip():
                break
            time.sleep(0.1)
        else:
            subprocess.run(["scancel", job], env=self.env)
            raise RuntimeError("Slurm did not finish %d jobs in %d s" % (len(cmds), timeout))
        wall = time.monotonic() - t0
        return wall, sum(self_cpu(p.pid) or 0 for p in self.procs) - cpu0

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            started.remove(p)


# ---- the table ----

rows = []


def row(workload, tool, n, wall, cpu, lb, note=""):
    rows.append(dict(workload=workload, tool=tool, n=n, wall=wall, cpu=cpu, lb=lb, note=note))
    print("  %-7s %-40s %5d tasks %8.2f s  cpu %6.2f s %s" % (workload, tool, n, wall, cpu, note),
          flush=True)


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def print_table():
    print()
    print("| workload | tool | tasks | wall s | tasks/s | makespan / lower bound | tool CPU s "
          "| wall / dtf's | CPU / dtf's | note |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        ref = next((x for x in rows if x["workload"] == r["workload"] and
                    x["tool"].startswith("dtf") and x["wall"]), None)
        if r["wall"] is None:
            print("| %s | %s | %d | – | – | – | – | – | – | %s |" % (
                r["workload"], r["tool"], r["n"], r["note"]))
            continue
        lb = "%.2f" % (r["wall"] / r["lb"]) if r["lb"] else "n/a"
        rw = "%.2f" % (r["wall"] / ref["wall"] * (ref["n"] / r["n"])) if ref else "–"
        rc = "%.2f" % (r["cpu"] / ref["cpu"] * (ref["n"] / r["n"])) if ref and ref["cpu"] else "–"
        print("| %s | %s | %d | %.2f | %.0f | %s | %.2f | %s | %s | %s |" % (
            r["workload"], r["tool"], r["n"], r["wall"], r["n"] / r["wall"], lb, r["cpu"], rw,
            rc, r["note"]))
    print("\nwall / dtf's and CPU / dtf's are per task (scaled by task count where a peer ran "
          "fewer tasks); above 1 means dtf is faster or cheaper.")


def main():
    if not os.access(DTF, os.X_OK):
        sys.exit("build dtf first (make), or set DTF_BIN")
    print("peers: %d slots (dtf: %d workers x %d slots), %s, load average %s" % (
        P, W, S, time.strftime("%Y-%m-%d %H:%M:%S"), open("/proc/loadavg").read().split()[0]))
    slurm = Slurm() if "noop" in WORKLOADS or "sleep" in WORKLOADS else None
    if slurm and slurm.error:
        print("Slurm: " + slurm.error)
    try:
        if "noop" in WORKLOADS:
            noop = [["true"]] * N_NOOP
            res = {"dtf": [], "xargs": [], "parallel": []}
            for _ in range(REPEAT_NOOP):  # interleaved: the machine is shared and noisy
                w, c, _d, _s, _db = dtf_run(noop, "noop")
                res["dtf"].append((w, c))
                res["xargs"].append(run_sampled(["xargs", "-P", str(P), "-I{}", "true"],
                                                "x\n" * N_NOOP))
                res["parallel"].append(run_sampled(["parallel", "--will-cite", "-j", str(P)],
                                                   "true\n" * N_NOOP))
            for tool, label in (("dtf", "dtf (%dx%d)" % (W, S)), ("xargs", "xargs -P%d" % P),
                                ("parallel", "GNU parallel -j%d" % P)):
                walls = [x[0] for x in res[tool]]
                i = walls.index(median(walls))
                row("noop", label, N_NOOP, res[tool][i][0], res[tool][i][1], 0,
                    "median of %d (%.2f–%.2f s)" % (len(walls), min(walls), max(walls)))
            if slurm and not slurm.error:
                try:
                    w, c = slurm.run([["true"]] * N_SLURM_NOOP, 300)
                    row("noop", "Slurm sbatch --array", N_SLURM_NOOP, w, c, 0,
                        "%d of the %d tasks (bounded time)" % (N_SLURM_NOOP, N_NOOP))
                except (RuntimeError, subprocess.CalledProcessError) as e:
                    row("noop", "Slurm sbatch --array", N_SLURM_NOOP, None, None, 0, str(e))
            elif slurm:
                row("noop", "Slurm sbatch --array", N_NOOP, None, None, 0, slurm.error)

        if "sleep" in WORKLOADS:
            rng = random.Random(11)
            raw = [min(12.0, rng.paretovariate(1.5)) for _ in range(N_SLEEP)]
            k = SLEEP_TOTAL / sum(raw)
            durs = [round(x * k, 3) for x in raw]
            lb = max(sum(durs) / P, max(durs))
            cmds = [["sleep", "%.3f" % d] for d in durs]
            print("sleep workload: %d tasks, %.1f s of work, longest %.2f s, lower bound %.2f s"
                  % (len(durs), sum(durs), max(durs), lb))
            # The first run records every task's duration in its store; the second, a new
            # coordinator on the same database with --strategy duration, schedules from them
            # (longest expected first), the tasks submitted in the same order as before.
            w, c, hist, used, db = dtf_run(cmds, "sleep")
            row("sleep", "dtf (%dx%d), first run" % (W, S), N_SLEEP, w, c, lb,
                "strategy %s, submission order" % used)
            w2, c2, h2, used2, _db = dtf_run(cmds, "sleep", strategy="duration", db=db)
            # Evidence that the order came from the history: how many of the tenth of the
            # tasks that took longest in the first run were among the first tenth leased.
            tenth = N_SLEEP // 10
            longest = set(sorted(range(N_SLEEP), key=lambda i: -hist.get("sleep-%d" % i, 0))[:tenth])
            first = set(h2["_leased"][:tenth])
            hits = sum(1 for i in longest if "sleep-%d" % i in first)
            row("sleep", "dtf (%dx%d), second run (history)" % (W, S), N_SLEEP, w2, c2, lb,
                "strategy %s, same database; %d of the %d longest leased first" % (
                    used2, hits, tenth))
            lines = "".join(" ".join(c) + "\n" for c in cmds)
            w, c = run_sampled(["xargs", "-P", str(P), "-n", "1", "sleep"],
                               "".join(c[1] + "\n" for c in cmds))
            row("sleep", "xargs -P%d" % P, N_SLEEP, w, c, lb, "submission order")
            w, c = run_sampled(["parallel", "--will-cite", "-j", str(P)], lines)
            row("sleep", "GNU parallel -j%d" % P, N_SLEEP, w, c, lb, "submission order")
            if slurm and not slurm.error:
                try:
                    w, c = slurm.run(cmds, 240)
                    row("sleep", "Slurm sbatch --array", N_SLEEP, w, c, lb, "array order")
                except (RuntimeError, subprocess.CalledProcessError) as e:
                    row("sleep", "Slurm sbatch --array", N_SLEEP, None, None, lb, str(e))
            elif slurm:
                row("sleep", "Slurm sbatch --array", N_SLEEP, None, None, lb, slurm.error)
    finally:
        if slurm and not slurm.error:
            slurm.stop()

    if "pytest" in WORKLOADS:
        d = os.path.join(TMP, "pytest")
        os.makedirs(d)
        total = float(subprocess.run([PY, os.path.join(ROOT, "bench", "gen_pytest_suite.py"),
                                      os.path.join(d, "suite"), "200"], capture_output=True,
                                     text=True, check=True).stdout)
        longest = 4.0
        lb = max(total / P, longest)
        print("pytest workload: 200 files, %.1f s of tests, lower bound %.2f s" % (total, lb))
        env = dict(os.environ, DTF_PYTHON=PY)
        for label in ("first run (no history)", "second run (history)"):
            w, c, rc = run_rusage([DTF, "run", "--workers", str(W), "--slots", str(S),
                                   "--test-dir", "suite", "--quiet"], cwd=d, env=env)
            if rc != 0:
                raise RuntimeError("dtf run exited %d" % rc)
            row("pytest", "dtf run (%dx%d), %s" % (W, S, label), 200, w, c, lb,
                "all CPU (tests only sleep)")
        w, c, rc = run_rusage([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", str(P),
                               "suite"], cwd=d)
        if rc != 0:
            raise RuntimeError("pytest-xdist exited %d" % rc)
        row("pytest", "pytest-xdist -n %d" % P, 200, w, c, lb, "all CPU (tests only sleep)")
    print_table()


if __name__ == "__main__":
    try:
        main()
    finally:
        teardown()
