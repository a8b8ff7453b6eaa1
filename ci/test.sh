#!/usr/bin/env bash
# The test command: installs dependencies, then
#   format    every tracked C/C++/CUDA file clang-formatted (ci/format-check.sh)
#   size      no library file over 1000 lines, no function over 150 (ci/size-check.sh)
#   release   the whole CTest suite in the Release build (build/)
#   asan      the whole CTest suite in the ASan+UBSan build (build-asan/)
#   tsan      the threaded tests (ci/tsan-tests) in the ThreadSanitizer build
#             (build-tsan/): any data race fails (ci/tsan.sh)
#   fuzz      the libFuzzer targets for a bounded time (ci/fuzz.sh)
# Every step runs even when an earlier one failed (a build failure skips its
# tests); prints each step's verdict and time, and fails if any step failed.
set -euo pipefail
cd "$(dirname "$0")/.."

t_all=$SECONDS
names=()
verdicts=()
times=()
status=0
step() { # name, command...: runs it, records verdict and seconds
  local name=$1 t0=$SECONDS rc=0
  shift
  echo "== $name: $*"
  "$@" || rc=$?
  names+=("$name")
  times+=($((SECONDS - t0)))
  if ((rc == 0)); then verdicts+=(ok); else verdicts+=("FAILED (exit $rc)"); status=1; fi
  return $rc
}
skip() { # name, reason
  names+=("$1"); times+=(0); verdicts+=("skipped: $2"); status=1
  echo "== $1: skipped: $2"
}

# no point going on without the packages
step install-deps bash ci/install-deps.sh || exit 1
step format bash ci/format-check.sh || true
step size bash ci/size-check.sh || true

if step build bash ci/build.sh all; then
  step ctest-release ctest --test-dir build --output-on-failure || true
  step ctest-asan env ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure || true
else
  skip ctest-release "the build failed"
  skip ctest-asan "the build failed"
fi
step tsan bash ci/tsan.sh || true
step fuzz bash ci/fuzz.sh || true # TB_FUZZ_TOTAL s over all targets (ci/fuzz.sh)

echo "== ci/test.sh summary"
for i in "${!names[@]}"; do
  printf '  %-14s %5d s  %s\n' "${names[$i]}" "${times[$i]}" "${verdicts[$i]}"
done
printf '  %-14s %5d s\n' total $((SECONDS - t_all))
if ((status != 0)); then
  echo "ci/test.sh: FAILED (see the steps above)" >&2
fi
exit $status
