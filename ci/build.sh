#!/usr/bin/env bash
# Configures and builds tierbench: Release in build/, ASan+UBSan in
# build-asan/. `bash ci/build.sh release` or `... asan` builds just one.
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-all}
jobs=$(nproc)

build() { # dir, extra cmake args...
  local dir=$1
  shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@"
  cmake --build "$dir" -j "$jobs"
}

case $what in
  all) build build; build build-asan -DTB_SANITIZE=ON ;;
  release) build build ;;
  asan) build build-asan -DTB_SANITIZE=ON ;;
  *) echo "usage: ci/build.sh [all|release|asan]" >&2; exit 2 ;;
esac
