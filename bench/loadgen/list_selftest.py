#!/usr/bin/env python3
"""Self-test of presence_loadgen --list (RFC 4662) without presenced.

  list_selftest.py LOADGEN [--members N] [--chunk K] [--transport udp|tcp] [--changes M]

Starts the generator (127.0.0.1, ephemeral port), plays a list subscriber on
loopback and checks, failing with exit 1 on the first violation:
  1. a list SUBSCRIBE without Supported: eventlist gets 421 with Require: eventlist;
  2. with it: 200 (Require: eventlist), then NOTIFYs with Require: eventlist and a
     multipart/related body whose root (start) part is RLMI; the first one is
     fullState="true" and lists every member; versions grow by 1; every member's
     state arrives (instance cid -> a PIDF part whose entity is the member);
  3. the load phase (M member changes) arrives as partial NOTIFYs with the stamps;
  4. a refresh gets 200 and every member's state again;
  5. a non-member presentity is still served with plain PIDF;
  6. Expires: 0 gets 200 and a terminated NOTIFY;
  7. the generator's summary counts the SIP messages this client saw.
Over UDP the large NOTIFYs come over TCP to our Contact port (RFC 3261 §18.1.1),
so the client listens on both. Every wait has a deadline; the generator is
stopped by PID.
"""

import argparse
import json
import re
import select
import signal
import socket
import subprocess
import sys
import time

DEADLINE_S = 20.0
LIST_URI = "sip:buddies@127.0.0.1"


def fail(msg):
    print(f"list_selftest: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def parse(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs.setdefault(k.strip().lower(), []).append(v.strip())
    return lines[0], hdrs, body


def frames(buf):
    """Whole messages at the start of a TCP buffer: (messages, rest)."""
    out = []
    while True:
        i = buf.find(b"\r\n\r\n")
        if i < 0:
            return out, buf
        m = re.search(rb"(?im)^(content-length|l)\s*:\s*(\d+)", buf[:i])
        end = i + 4 + (int(m.group(2)) if m else 0)
        if len(buf) < end:
            return out, buf
        out.append(buf[:end])
        buf = buf[end:]


def multipart(ctype, body):
    """{content-id: (content-type, bytes)}, root content-id."""
    boundary = re.search(r'boundary="?([^";]+)"?', ctype).group(1).encode()
    start = re.search(r'start="?<([^>"]+)>', ctype).group(1)
    parts = {}
    for chunk in body.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        _, hdrs, content = parse(b"X\r\n" + chunk.lstrip(b"\r\n"))
        cid = hdrs["content-id"][0].strip("<>")
        parts[cid] = (hdrs["content-type"][0], content[:-2] if content.endswith(b"\r\n") else content)
    return parts, start


class Client:
    def __init__(self, port, transport):
        self.server = ("127.0.0.1", port)
        self.transport = transport
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.port = self.udp.getsockname()[1]
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(8)
        self.conns = {}  # socket -> buffer
        self.out_tcp = None
        if transport == "tcp":
            self.out_tcp = socket.create_connection(self.server, timeout=5)
            self.port = self.out_tcp.getsockname()[1]  # not a listener: NOTIFYs come back on it
            self.conns[self.out_tcp] = b""
        self.queue = []  # (message bytes, reply function)
        self.seen = {"SUBSCRIBE": 0, "NOTIFY": 0, "responses_in": 0, "responses_out": 0}
        self.branch = 0

    def send(self, data, sock=None):
        if sock is not None:
            sock.sendall(data)
        elif self.transport == "tcp":
            self.out_tcp.sendall(data)
        else:
            self.udp.sendto(data, self.server)

    def subscribe(self, call_id, to_uri, cseq, expires=60, eventlist=True, to_tag="", event="presence"):
        self.branch += 1
        t = "TCP" if self.transport == "tcp" else "UDP"
        sup = "Supported: eventlist\r\nAccept: multipart/related, application/rlmi+xml, application/pidf+xml\r\n" \
            if eventlist else "Accept: application/pidf+xml\r\n"
        msg = (f"SUBSCRIBE {to_uri} SIP/2.0\r\nVia: SIP/2.0/{t} 127.0.0.1:{self.port};branch=z9hG4bKst{self.branch}\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:bench@127.0.0.1>;tag=st{call_id}\r\n"
               f"To: <{to_uri}>{(';tag=' + to_tag) if to_tag else ''}\r\nCall-ID: {call_id}\r\n"
               f"CSeq: {cseq} SUBSCRIBE\r\nContact: <sip:bench@127.0.0.1:{self.port};transport={t.lower()}>\r\n"
               f"Event: {event}\r\n{sup}Expires: {expires}\r\nContent-Length: 0\r\n\r\n")
        self.seen["SUBSCRIBE"] += 1
        self.send(msg.encode())

    def answer(self, data, sock, addr):
        first, hdrs, _ = parse(data)
        resp = ["SIP/2.0 200 OK"] + [f"Via: {v}" for v in hdrs["via"]]
        resp += [f"From: {hdrs['from'][0]}", f"To: {hdrs['to'][0]}", f"Call-ID: {hdrs['call-id'][0]}",
                 f"CSeq: {hdrs['cseq'][0]}", "Content-Length: 0", "", ""]
        raw = "\r\n".join(resp).encode()
        self.seen["responses_out"] += 1
        if sock is not None:
            sock.sendall(raw)
        else:
            self.udp.sendto(raw, addr)

    def next(self, deadline_s=DEADLINE_S):
        """The next message received (requests are answered 200 when NOTIFY)."""
        end = time.monotonic() + deadline_s
        while not self.queue:
            left = end - time.monotonic()
            if left <= 0:
                fail("no message within the deadline")
            r, _, _ = select.select([self.udp, self.listener] + list(self.conns), [], [], left)
            for s in r:
                if s is self.udp:
                    data, addr = self.udp.recvfrom(70000)
                    self.queue.append((data, None, addr))
                elif s is self.listener:
                    c, _ = self.listener.accept()
                    self.conns[c] = b""
                else:
                    chunk = s.recv(1 << 20)
                    if not chunk:
                        del self.conns[s]
                        continue
                    msgs, self.conns[s] = frames(self.conns[s] + chunk)
                    self.queue += [(m, s, None) for m in msgs]
        data, sock, addr = self.queue.pop(0)
        first, hdrs, body = parse(data)
        if first.startswith("SIP/2.0"):
            self.seen["responses_in"] += 1
        elif first.startswith("NOTIFY"):
            self.seen["NOTIFY"] += 1
            self.answer(data, sock, addr)
        return first, hdrs, body


class ListState:
    """RLMI checks of one list dialog: versions, full state, the members' states."""

    def __init__(self, members):
        self.members = members
        self.version = None
        self.states = {}  # member uri -> PIDF note
        self.notifies = 0

    def feed(self, hdrs, body):
        self.notifies += 1
        if "eventlist" not in ",".join(hdrs.get("require", [])):
            fail("list NOTIFY without Require: eventlist")
        ctype = hdrs["content-type"][0]
        if not ctype.startswith("multipart/related") or "application/rlmi+xml" not in ctype:
            fail(f"list NOTIFY Content-Type {ctype}")
        parts, start = multipart(ctype, body)
        root_type, rlmi = parts[start]
        if not root_type.startswith("application/rlmi+xml"):
            fail(f"root part is {root_type}")
        rlmi = rlmi.decode()
        m = re.search(r'<list xmlns="urn:ietf:params:xml:ns:rlmi" uri="([^"]+)" version="(\d+)" fullState="(\w+)"', rlmi)
        if not m or m.group(1) != LIST_URI:
            fail(f"bad RLMI list element: {rlmi[:200]}")
        version, full = int(m.group(2)), m.group(3) == "true"
        if self.version is None:
            if not full:
                fail("the first list NOTIFY is not fullState=\"true\"")
            listed = re.findall(r'<resource uri="([^"]+)"', rlmi)
            if len(listed) != self.members:
                fail(f"full state lists {len(listed)} resources, not {self.members}")
        elif version != self.version + 1:
            fail(f"RLMI version {version} after {self.version}")
        self.version = version
        for uri, cid in re.findall(r'<resource uri="([^"]+)"><instance id="[^"]+" state="active" cid="([^"]+)"/>', rlmi):
            if cid not in parts:
                fail(f"cid {cid} of {uri} names no part")
            ptype, doc = parts[cid]
            if ptype != "application/pidf+xml" or f'entity="{uri}"'.encode() not in doc:
                fail(f"part {cid} is not the PIDF of {uri}")
            note = re.search(rb"<dm:note>([^<]*)</dm:note>", doc)
            self.states[uri] = note.group(1).decode() if note else ""
        return full


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("loadgen")
    ap.add_argument("--members", type=int, default=1200)
    ap.add_argument("--chunk", type=int, default=500)
    ap.add_argument("--changes", type=int, default=300)
    ap.add_argument("--transport", choices=("udp", "tcp"), default="udp")
    a = ap.parse_args()
    argv = [a.loadgen, "--listen", "127.0.0.1:0", "--list", LIST_URI, "--list-members", str(a.members),
            "--list-chunk", str(a.chunk), "--expect", str(a.members + 1), "--notifies", str(a.changes),
            "--window", "64", "--hold", "30", "--max-seconds", "60", "--subscribe-timeout", "30"]
    gen = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = json.loads(gen.stdout.readline())["port"]
        c = Client(port, a.transport)
        # 1. no eventlist -> 421 Require: eventlist (RFC 4662 §4.1)
        c.subscribe("no-el", LIST_URI, 1, eventlist=False)
        first, hdrs, _ = c.next()
        if not first.startswith("SIP/2.0 421") or "eventlist" not in ",".join(hdrs.get("require", [])):
            fail(f"without eventlist: {first}")
        # 2. the list subscription, all members' states
        c.subscribe("list", LIST_URI, 1)
        st = ListState(a.members)
        to_tag = None
        full_notifies = 0
        while len(st.states) < a.members or to_tag is None:
            first, hdrs, body = c.next()
            if first.startswith("SIP/2.0"):
                if not first.startswith("SIP/2.0 200") or "eventlist" not in ",".join(hdrs.get("require", [])):
                    fail(f"list SUBSCRIBE answered {first} / Require {hdrs.get('require')}")
                to_tag = re.search(r"tag=([^;>\s]+)", hdrs["to"][0]).group(1)
                continue
            full_notifies += st.feed(hdrs, body)
        initial_notifies = st.notifies
        # 5. a non-member presentity: plain PIDF (the load phase starts once it is active)
        c.subscribe("single", "sip:nobody@127.0.0.1", 1)
        got = set()
        while len(got) < 2:
            first, hdrs, body = c.next()
            if first.startswith("SIP/2.0 200") and "single" in hdrs["call-id"][0]:
                got.add("200")
            elif first.startswith("NOTIFY") and hdrs["call-id"][0] == "single":
                if hdrs["content-type"][0] != "application/pidf+xml":
                    fail("the non-member got " + hdrs["content-type"][0])
                got.add("NOTIFY")
            elif first.startswith("NOTIFY") and hdrs["call-id"][0] == "list":
                st.feed(hdrs, body)
        # 3. load phase: member changes as partial NOTIFYs with stamps "lg K"
        stamps = set()
        while len(stamps) < a.changes:
            first, hdrs, body = c.next()
            if first.startswith("NOTIFY") and hdrs["call-id"][0] == "list":
                before = dict(st.states)
                st.feed(hdrs, body)
                stamps |= {v for k, v in st.states.items() if v.startswith("lg ") and before.get(k) != v}
        load_notifies = st.notifies - initial_notifies
        # 4. refresh: 200 and every state again
        time.sleep(0.3)  # let the last load answers settle
        st.states.clear()
        c.subscribe("list", LIST_URI, 2, to_tag=to_tag)
        refreshed = False
        while len(st.states) < a.members or not refreshed:
            first, hdrs, body = c.next()
            if first.startswith("SIP/2.0 200"):
                refreshed = True
            elif first.startswith("NOTIFY") and hdrs["call-id"][0] == "list":
                st.feed(hdrs, body)
        # 6. un-SUBSCRIBE: 200 + terminated NOTIFY
        c.subscribe("list", LIST_URI, 3, expires=0, to_tag=to_tag)
        terminated = False
        while not terminated:
            first, hdrs, body = c.next()
            if first.startswith("NOTIFY") and hdrs["call-id"][0] == "list":
                terminated = hdrs["subscription-state"][0].startswith("terminated")
        time.sleep(0.2)
    finally:
        if gen.poll() is None:
            gen.send_signal(signal.SIGTERM)
        try:
            out, _ = gen.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            gen.kill()
            out, _ = gen.communicate()
    events = {}
    for line in out.splitlines():
        try:
            ev = json.loads(line)
            events[ev["event"]] = ev
        except ValueError:
            pass
    s = events.get("summary")
    if not s:
        fail("no summary line")
    msgs = s["messages"]
    if msgs["in"]["SUBSCRIBE"] != c.seen["SUBSCRIBE"] or msgs["out"]["NOTIFY"] != c.seen["NOTIFY"]:
        fail(f"message counts: generator {msgs}, client {c.seen}")
    if msgs["in"]["responses"] != c.seen["responses_out"]:
        fail(f"responses: generator saw {msgs['in']['responses']}, client sent {c.seen['responses_out']}")
    lst = s["list"]
    print(f"list_selftest: OK ({a.transport}, {a.members} members, chunk {a.chunk}): "
          f"initial {initial_notifies} NOTIFYs ({full_notifies} full state), {a.changes} changes in "
          f"{load_notifies} NOTIFYs, refresh + unsubscribe; generator: {msgs['in']['total']} in, "
          f"{msgs['out']['total']} out, list {json.dumps(lst, separators=(',', ':'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
