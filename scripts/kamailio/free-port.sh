#!/usr/bin/env bash
# Print a port number that is free on 127.0.0.1 for both UDP and TCP right
# now (the kernel picks it: bind port 0, then check the other protocol can
# bind the same number; up to 50 tries). Used by start.sh and the SIPp
# wrappers, so no test or demo ever uses a fixed port.
#
# Usage: free-port.sh          prints e.g. 40123, exits 1 if none was found
set -euo pipefail

exec python3 - <<'PY'
import socket, sys

for _ in range(50):
    first = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        first.bind(("127.0.0.1", 0))
        port = first.getsockname()[1]
        second = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            second.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            second.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            second.close()
    finally:
        first.close()
    print(port)
    sys.exit(0)
print("free-port.sh: no port free for both UDP and TCP on 127.0.0.1", file=sys.stderr)
sys.exit(1)
PY
