#!/usr/bin/env bash
# Regenerates tests/golden/*.expected from the current presenced, on purpose
# only: review `git diff tests/golden` before committing the result.
#   scripts/update-golden.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build}/bin/presenced
for toml in tests/golden/*.toml; do
  set +e
  "$bin" -n -v -f "$toml" > "${toml%.toml}.expected" 2>&1
  echo "exit $?" >> "${toml%.toml}.expected"
  set -e
  echo "wrote ${toml%.toml}.expected"
done
