"""Processes the harness starts, and what /proc says about them.

Every process is started through spawn(), which records it; stop() ends it by
PID (SIGTERM, then SIGKILL after a deadline), and an atexit hook stops whatever
is still recorded, so an exception or Ctrl-C never leaves a daemon, a load
generator or a baresip behind. Nothing is ever stopped by name.
"""

import atexit
import os
import shutil
import signal
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
# How long a process gets after SIGKILL to be reaped before we give up on it.
KILL_REAP_S = 5.0

_started = []  # Popen objects still to be stopped


def spawn(argv, cpu=None, **popen_kw):
    """Start argv, pinned to one CPU with taskset when cpu is given.

    taskset execs the program, so the PID returned is the program's own.
    """
    # Pinned only where that CPU exists for us (a 1-CPU container runs unpinned).
    if cpu is not None and cpu in os.sched_getaffinity(0) and shutil.which("taskset"):
        argv = ["taskset", "-c", str(cpu)] + list(argv)
    proc = subprocess.Popen(argv, **popen_kw)
    _started.append(proc)
    return proc


def stop(proc, term_timeout=10.0, sig=signal.SIGTERM):
    """Stop one process we started: sig, wait up to term_timeout, then SIGKILL.

    Returns (exit code, how it ended: "exited" | "killed").
    """
    how = "exited"
    if proc.poll() is None:
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=term_timeout)
        except subprocess.TimeoutExpired:
            how = "killed"
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=KILL_REAP_S)
            except subprocess.TimeoutExpired:
                print(f"bench: pid {proc.pid} survived SIGKILL", file=sys.stderr)
    if proc in _started:
        _started.remove(proc)
    return proc.returncode, how


def stop_all():
    for proc in list(reversed(_started)):
        stop(proc, term_timeout=3.0)


def _on_signal(signum, _frame):
    # Turn SIGTERM/SIGINT into an exception so every finally block runs.
    raise SystemExit(128 + signum)


def install_cleanup():
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)


def cpu_seconds(pid):
    """utime + stime of pid, in seconds, from /proc/PID/stat (clock ticks)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode()
    except OSError:
        return None
    # The command name may hold spaces and ')': split after the last ')'.
    fields = data[data.rindex(")") + 2:].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLK_TCK


def rss_kib(pid):
    """VmRSS of pid in KiB, from /proc/PID/status."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def sample(pid):
    """One sample of a process: wall time, CPU seconds, RSS KiB."""
    return {"t": time.monotonic(), "cpu_s": cpu_seconds(pid), "rss_kib": rss_kib(pid)}


def wait_until(predicate, deadline_s, interval=0.05, what="condition"):
    """Poll predicate until it returns a true value; TimeoutError at the deadline."""
    end = time.monotonic() + deadline_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= end:
            raise TimeoutError(f"timed out after {deadline_s:.0f} s waiting for {what}")
        time.sleep(interval)
