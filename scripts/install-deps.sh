#!/usr/bin/env bash
# Installs every build, test and demo dependency of presenced from Debian 12.
# Idempotent: apt-get runs only when something is missing, and afterwards every
# tool and header is checked for real, because `apt-get install` can exit 0
# having installed nothing (empty lists, held packages).
#
#   scripts/install-deps.sh [-q] [--peer]
#     -q      print nothing when everything is there already
#     --peer  also install the optional peer watcher of the benchmarks
#             (bench/bench.py, row "peer"); the default run never installs it
set -euo pipefail

quiet=0
peer=0
for arg in "$@"; do
  case "$arg" in
    -q) quiet=1 ;;
    --peer) peer=1 ;;
    *) echo "usage: $0 [-q] [--peer]" >&2; exit 2 ;;
  esac
done

# Debian package -> a file or command that proves it is really there.
PACKAGES=(
  "make:/usr/bin/make"
  "build-essential:/usr/bin/g++"
  "cmake:/usr/bin/cmake"
  "pkg-config:/usr/bin/pkg-config"
  "libuv1-dev:/usr/include/uv.h"
  "libosip2-dev:/usr/include/osipparser2/osip_parser.h"
  "libexpat1-dev:/usr/include/expat.h"
  "libsqlite3-dev:/usr/include/sqlite3.h"
  "libtomlplusplus-dev:/usr/include/toml++/toml.h"
  "catch2:/usr/include/catch2/catch.hpp"
  "nlohmann-json3-dev:/usr/include/nlohmann/json.hpp"
  "libssl-dev:/usr/include/openssl/evp.h"
  "mandoc:/usr/bin/mandoc"
  "sqlite3:/usr/bin/sqlite3"
  "kamailio:/usr/sbin/kamailio"
  "kamailio-presence-modules:/usr/lib/x86_64-linux-gnu/kamailio/modules/presence.so"
  "kamailio-sqlite-modules:/usr/lib/x86_64-linux-gnu/kamailio/modules/db_sqlite.so"
  "sip-tester:/usr/bin/sipp"
  "clang:/usr/bin/clang++"
  "libclang-rt-14-dev:/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a"
  "clang-format:/usr/bin/clang-format"
  "clang-tidy:/usr/bin/clang-tidy"
  "iproute2:/usr/bin/ss"
  "python3:/usr/bin/python3"
)

# Optional, only with --peer: baresip as the peer watcher that bench/bench.py
# compares presenced with (bench/peer/). Headless, core package only.
PEER_PACKAGES=(
  "baresip-core:/usr/bin/baresip"
)
if [ "$peer" -eq 1 ]; then
  PACKAGES+=("${PEER_PACKAGES[@]}")
fi

# The multiarch directory differs off amd64; ask dpkg where libraries live.
arch_dir=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)

proof_path() {
  local proof=${1//x86_64-linux-gnu/$arch_dir}
  # clang's runtime directory carries the full version; accept any 14.x.
  case "$proof" in
    */clang/14.0.6/*) ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a 2>/dev/null | head -n1 ;;
    *) echo "$proof" ;;
  esac
}

missing_packages() {
  local entry pkg proof
  for entry in "${PACKAGES[@]}"; do
    pkg=${entry%%:*}
    proof=$(proof_path "${entry#*:}")
    if [ -z "$proof" ] || [ ! -e "$proof" ]; then
      echo "$pkg"
    fi
  done
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

mapfile -t missing < <(missing_packages)
if [ ${#missing[@]} -eq 0 ]; then
  [ "$quiet" -eq 1 ] || echo "install-deps: all dependencies present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
as_root apt-get update
as_root apt-get install -y --no-install-recommends "${missing[@]}"

mapfile -t still < <(missing_packages)
if [ ${#still[@]} -ne 0 ]; then
  echo "install-deps: still missing after apt-get install: ${still[*]}" >&2
  exit 1
fi
echo "install-deps: done"
