"""presenced under test: its configuration, its users, start, control, stop.

One temporary directory per run holds the config, the users CSV, the control
socket, the state database and the daemon's log. The config has one connector
toward the load generator on loopback, and users with a rich_uri only, so one
user is one subscription (presenced.toml(5): a user without extension has no
derived telephony URI).
"""

import json
import os
import socket
import subprocess
import time

from . import procs

# Default pacing of presenced.toml(5); "pacing off" is the maximum of both keys.
PACING_DEFAULT_RATE = 50
PACING_OFF = 10000
# A daemon gets this long after SIGTERM beyond its shutdown_timeout.
STOP_GRACE_S = 10.0
# Deadline for the control socket to answer after exec, cold start.
START_DEADLINE_S = 30.0
CONTROL_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 2
# [daemon] flush_interval_ms default: the longest a changed state waits before it is written.
FLUSH_INTERVAL_S = 0.5
# Poll period of the warm-start loop: fine enough for ms, without stealing the daemon's CPU.
POLL_S = 0.001


def write_users_csv(path, n, domain="127.0.0.1"):
    """n users u0..u(n-1), rich_uri only; format of presencectl(8) users import."""
    with open(path, "w") as f:
        f.write("username,rich_uri\n")
        for i in range(n):
            f.write(f"u{i},sip:u{i}@{domain}\n")


def toml_str(s):
    return json.dumps(s)  # a JSON string is a valid TOML basic string


def write_config(run_dir, server_port, users_csv, transport="udp", pacing=True, store=True,
                 expires=3600, log_level="warn", shutdown_timeout=SHUTDOWN_TIMEOUT_S, list_uri=None):
    sock = os.path.join(run_dir, "presenced.sock")
    db = os.path.join(run_dir, "state.db") if store else ""
    lines = [
        "[daemon]",
        f"control_socket = {toml_str(sock)}",
        f"state_db = {toml_str(db)}",
        f"log_level = {toml_str(log_level)}",
        "",
        "[sip]",
        'listen = "127.0.0.1:0"',
        "",
        "[presence]",
        f"expires = {expires}",
        f"shutdown_timeout = {shutdown_timeout}",
    ]
    if users_csv:
        lines.append(f"users_csv = {toml_str(users_csv)}")
    lines += [
        "",
        "[[connector]]",
        'name = "bench"',
        f'server = "127.0.0.1:{server_port}"',
        f"transport = {toml_str(transport)}",
        'uri = "sip:bench@127.0.0.1"',
        'auth_id = "bench"',
        'password = "bench"',
        'domain = "127.0.0.1"',
    ]
    if list_uri:
        # presenced.toml(5): one list subscription (RFC 4662) replaces the members' own.
        lines.append(f"rich_list_uri = {toml_str(list_uri)}")
    if not pacing:
        lines += [f"subscribe_rate = {PACING_OFF}", f"max_in_flight = {PACING_OFF}"]
    path = os.path.join(run_dir, "presenced.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path, sock, db


def check_config(binary, config):
    """presenced -n: (ok, message). Used to tell whether "store off" is supported yet."""
    r = subprocess.run([binary, "-n", "-f", config], capture_output=True, text=True, timeout=30)
    return r.returncode == 0, (r.stderr or r.stdout).strip()


def control(sock_path, cmd, args=None, timeout=CONTROL_TIMEOUT_S):
    """One request on the control socket (presencectl(8) CONTROL PROTOCOL)."""
    req = {"v": 1, "id": 1, "cmd": cmd}
    if args:
        req["args"] = args
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(sock_path)
        s.sendall((json.dumps(req) + "\n").encode())
        buf = bytearray()
        while not buf.endswith(b"\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                raise ConnectionError(f"control socket closed before the answer to {cmd}")
            buf += chunk
    ans = json.loads(buf)
    if not ans.get("ok"):
        raise RuntimeError(f"{cmd}: {ans.get('error')}")
    return ans["result"]


class Daemon:
    """One presenced process, pinned to a CPU, stopped by PID."""

    def __init__(self, binary, config, sock, run_dir, cpu=1):
        self.binary, self.config, self.sock, self.cpu = binary, config, sock, cpu
        self.log_path = os.path.join(run_dir, "presenced.log")
        self.proc = None
        self.exec_t = None

    def start(self):
        self._log = open(self.log_path, "ab")
        self.exec_t = time.monotonic()
        self.proc = procs.spawn([self.binary, "-d", "-f", self.config], cpu=self.cpu,
                                stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def request(self, cmd, args=None, timeout=CONTROL_TIMEOUT_S):
        return control(self.sock, cmd, args, timeout)

    def wait_ready(self, deadline_s=START_DEADLINE_S):
        def ready():
            if not self.alive():
                raise RuntimeError(f"presenced exited with {self.proc.returncode}; see {self.log_path}")
            try:
                return self.request("status", timeout=2.0)
            except (OSError, ConnectionError, ValueError):
                return None
        return procs.wait_until(ready, deadline_s, interval=0.02, what="presenced control socket")

    def subscriptions(self):
        """Subscription counts per status, summed over the connectors."""
        total = {}
        for c in self.request("connectors")["connectors"]:
            for k, v in c.get("subscriptions", {}).items():
                total[k] = total.get(k, 0) + v
        return total

    def requests_received(self):
        return self.request("status")["sip"]["requests_received"]

    def wait_active(self, n, deadline_s):
        return procs.wait_until(lambda: self.subscriptions().get("active", 0) >= n, deadline_s,
                                interval=0.1, what=f"{n} active subscriptions")

    def sample(self):
        return procs.sample(self.pid)

    def stop(self, shutdown_timeout=SHUTDOWN_TIMEOUT_S):
        if self.proc is None:
            return None
        rc = procs.stop(self.proc, term_timeout=shutdown_timeout + STOP_GRACE_S)
        self._log.close()
        return rc

    def log_tail(self, n=5):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""
