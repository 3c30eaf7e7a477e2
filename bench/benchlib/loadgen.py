"""presence_loadgen: start it, read its JSON event lines, sample the watcher at its markers.

The generator prints one JSON object per line (listening, subscribed,
load_start, load_done, latency, summary). A reader thread takes each line as it
comes and, at that very moment, samples the watcher under test (CPU seconds and
RSS from /proc), so the CPU between load_start and load_done is the watcher's
cost of exactly the NOTIFYs the generator counted.
"""

import json
import os
import queue
import subprocess
import threading
import time

from . import procs

LISTEN_DEADLINE_S = 10.0
# After SIGTERM the generator prints its summary and exits.
STOP_TIMEOUT_S = 10.0


class Loadgen:
    def __init__(self, binary, run_dir, cpu=0):
        self.binary, self.run_dir, self.cpu = binary, run_dir, cpu
        self.proc = None
        self.events = {}  # name -> last event of that name, with "_watcher" sample
        self.watch_pid = None  # the watcher to sample at each marker
        self._q = queue.Queue()
        self.port = None
        self.argv = None

    def start(self, expect, max_seconds=600, extra=()):
        self.argv = [self.binary, "--listen", "127.0.0.1:0", "--expect", str(expect),
                     "--max-seconds", str(int(max_seconds))] + [str(a) for a in extra]
        self._err = open(os.path.join(self.run_dir, "loadgen.stderr"), "ab")
        self.proc = procs.spawn(self.argv, cpu=self.cpu, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=self._err)
        threading.Thread(target=self._reader, daemon=True).start()
        ev = self.wait("listening", LISTEN_DEADLINE_S)
        self.port = int(ev["port"])
        return self

    def _reader(self):
        with open(os.path.join(self.run_dir, "loadgen.stdout"), "ab") as log:
            for raw in self.proc.stdout:
                t = time.monotonic()
                smp = procs.sample(self.watch_pid) if self.watch_pid else None
                log.write(raw)
                try:
                    ev = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(ev, dict) or "event" not in ev:
                    continue
                ev["_t"] = t
                ev["_watcher"] = smp
                self.events[ev["event"]] = ev
                self._q.put(ev)
        self._q.put({"event": "_eof", "_t": time.monotonic()})

    def wait(self, name, deadline_s):
        """The next event called name; TimeoutError at the deadline, EOFError if the generator ended."""
        if name in self.events:
            return self.events[name]
        end = time.monotonic() + deadline_s
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"loadgen: no '{name}' event within {deadline_s:.0f} s")
            try:
                ev = self._q.get(timeout=left)
            except queue.Empty:
                continue
            if ev["event"] == name:
                return ev
            if ev["event"] == "_eof":
                self._q.put(ev)
                raise EOFError(f"loadgen ended (rc {self.proc.poll()}) before '{name}'; see {self.run_dir}")

    def stop(self):
        if self.proc is None:
            return None
        rc = procs.stop(self.proc, term_timeout=STOP_TIMEOUT_S)
        self._err.close()
        return rc
