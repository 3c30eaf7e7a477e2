#!/usr/bin/env bash
# Runs every libFuzzer target built in FUZZ_BUILD_DIR for SECONDS each, on a
# scratch copy of the seed corpus (the repository is never written). A crash,
# leak or timeout fails the run and leaves the reproducer in the scratch dir.
#   scripts/run-fuzz.sh FUZZ_BUILD_DIR SECONDS
set -euo pipefail
build=$(cd "$1" && pwd)
seconds=$2
root=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d -t presenced-fuzz.XXXXXX)
status=0
for target in "$build"/bin/fuzz_*; do
  name=$(basename "$target")
  seeds="$root/tests/fuzz/corpus/${name#fuzz_}"
  mkdir -p "$scratch/$name"
  echo "fuzz: $name for ${seconds}s (seeds $seeds)"
  if ! (cd "$scratch/$name" && "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len=70000 -print_final_stats=1 "$scratch/$name" "$seeds" > "$scratch/$name.log" 2>&1); then
    echo "fuzz: $name FAILED; log and reproducer in $scratch" >&2
    tail -n 40 "$scratch/$name.log" >&2
    status=1
  else
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$scratch/$name.log" | sed "s/^/fuzz: $name /"
  fi
done
[ "$status" -eq 0 ] && rm -rf "$scratch"
exit "$status"
