#!/usr/bin/env bash
# Configures and builds tierbench: Release in build/, ASan+UBSan in
# build-asan/. `bash ci/build.sh release` or `... asan` builds just one;
# `... tsan` builds the ThreadSanitizer configuration in build-tsan/, only
# the tests listed in ci/tsan-tests (and what they run), CUDA off.
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-all}
jobs=$(nproc)

build() { # dir, extra cmake args... (-- targets... to build only those)
  local dir=$1 args=() targets=()
  shift
  while (($#)) && [[ $1 != -- ]]; do args+=("$1"); shift; done
  if (($#)); then shift; targets=(--target "$@"); fi
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "${args[@]}"
  cmake --build "$dir" -j "$jobs" "${targets[@]}"
}

tsan_tests() { sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' ci/tsan-tests; }

case $what in
  all) build build; build build-asan -DTB_SANITIZE=ON ;;
  release) build build ;;
  asan) build build-asan -DTB_SANITIZE=ON ;;
  # nvcc cannot take -fsanitize=thread (CMake also turns CUDA off under TB_TSAN)
  tsan) mapfile -t t < <(tsan_tests)
    build build-tsan -DTB_TSAN=ON -DCMAKE_CUDA_COMPILER=NOTFOUND -- "${t[@]}" ;;
  *) echo "usage: ci/build.sh [all|release|asan|tsan]" >&2; exit 2 ;;
esac
