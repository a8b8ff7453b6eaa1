#!/usr/bin/env bash
# ThreadSanitizer step of the test command: builds build-tsan/ (ci/build.sh
# tsan: -fsanitize=thread -g -O1, CUDA off, only the tests in ci/tsan-tests)
# and runs those tests with halt_on_error=1. Every report, also from a forked
# child or a subprocess whose exit code a test does not check, goes to
# build-tsan/tsan-reports/; any "WARNING: ThreadSanitizer" one (data race,
# lock-order inversion, thread leak, signal-unsafe call, ...) fails this step
# and all are printed at the end. SIGSEGV/SIGBUS/SIGABRT are left to the
# program (handle_*=0): test_watchdog crashes its children on purpose
# (truncated model -> SIGBUS, abort) and checks the signal they die of.
# No suppressions: a race in our code is fixed, not hidden. (Only a race
# inside a third-party runtime, e.g. PoCL's threads, may be suppressed, with
# the reason next to it.)
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/build.sh tsan
mapfile -t tests < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' ci/tsan-tests)
regex="^($(IFS='|'; echo "${tests[*]}"))\$"

reports=$PWD/build-tsan/tsan-reports
rm -rf "$reports"
mkdir -p "$reports"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 history_size=4 handle_segv=0
  handle_sigbus=0 handle_abort=0 log_path=$reports/tsan"
status=0
ctest --test-dir build-tsan --output-on-failure -R "$regex" || status=1

mapfile -t found < <(find "$reports" -type f | sort)
races=0
for f in "${found[@]}"; do
  if grep -q 'WARNING: ThreadSanitizer' "$f"; then
    echo "== ThreadSanitizer report: $f"
    races=$((races + 1))
    status=1
  else
    echo "== ThreadSanitizer output (not a race report): $f"
  fi
  cat "$f"
done
ran=$(ctest --test-dir build-tsan -N -R "$regex" | sed -n 's/^Total Tests: //p')
if ((ran != ${#tests[@]})); then
  echo "tsan.sh: ci/tsan-tests names ${#tests[@]} tests, build-tsan/ has $ran of them" >&2
  status=1
fi
if ((status == 0)); then
  echo "tsan.sh: ${#tests[@]} tests, no data races"
else
  echo "tsan.sh: FAILED ($races ThreadSanitizer report(s); see above)" >&2
fi
exit $status
