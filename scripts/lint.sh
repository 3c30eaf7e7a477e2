#!/usr/bin/env bash
# make lint: clang-format check on every C++ file, clang-tidy on the C++
# files changed against HEAD (else those of the last commit), mandoc -Tlint
# on every man page. Exits non-zero on any finding.
#   scripts/lint.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
status=0

mapfile -t sources < <(git ls-files --cached --others --exclude-standard -- 'src/*.cpp' 'src/*.hpp' 'tests/*.cpp' 'tests/*.hpp' 'bench/*.cpp' 'bench/*.hpp')
echo "lint: clang-format on ${#sources[@]} files"
if ! clang-format --dry-run --Werror "${sources[@]}"; then
  echo "lint: clang-format wants changes (run: clang-format -i <files>)" >&2
  status=1
fi

mapfile -t changed < <({ git diff --name-only HEAD 2>/dev/null; git ls-files --others --exclude-standard; } | grep -E '^src/.*\.cpp$' | sort -u || true)
if [ ${#changed[@]} -eq 0 ]; then
  mapfile -t changed < <(git diff --name-only HEAD~1 HEAD 2>/dev/null | grep -E '^src/.*\.cpp$' || true)
fi
if [ ${#changed[@]} -gt 0 ]; then
  [ -f "$build/compile_commands.json" ] || cmake -S . -B "$build" > /dev/null
  echo "lint: clang-tidy on ${#changed[@]} changed files"
  for f in "${changed[@]}"; do
    [ -f "$f" ] || continue
    if ! clang-tidy -p "$build" --quiet "$f" 2> /dev/null; then status=1; fi
  done
else
  echo "lint: clang-tidy: no changed C++ files"
fi

echo "lint: mandoc -Tlint"
if [ -n "$(mandoc -Tlint -Wstyle man/* 2>&1)" ]; then
  mandoc -Tlint -Wstyle man/* >&2 || true
  status=1
fi
exit "$status"
