#!/usr/bin/env bash
# Installs dependencies, builds both configurations and runs the whole CTest
# suite in each: the Release build and the ASan+UBSan build, then the
# libFuzzer targets for a bounded time (ci/fuzz.sh). Fails if any fails.
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/install-deps.sh
bash ci/build.sh all

status=0
echo "== ctest: build (Release)"
ctest --test-dir build --output-on-failure || status=1

echo "== ctest: build-asan (ASan + UBSan)"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure || status=1

echo "== fuzz: libFuzzer targets, ${TB_FUZZ_SECONDS:-30} s each (ci/fuzz.sh)"
bash ci/fuzz.sh || status=1

if ((status != 0)); then
  echo "ci/test.sh: FAILED (see the ctest output above)" >&2
fi
exit $status
