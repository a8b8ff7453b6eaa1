#!/usr/bin/env bash
# The main job: installs dependencies, builds (Release) and runs the default
# suite: every shipped device profile this host can emulate x its default
# workloads, on synthetic models generated on first use (cached in
# build/cache; nothing is downloaded). Results go to build/results/run-*/.
# tierbench exits 1 when a profile's SLO failed: that is a qualification
# verdict (printed in the summary), not a failure of this job; exit 2
# (usage/input/IO), 3 (a configuration ended TIMEOUT, CRASHED or
# MODEL-CHANGED) and 4 (a configuration produced no valid measurement) are.
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/install-deps.sh
bash ci/build.sh release

export TB_CACHE_DIR=${TB_CACHE_DIR:-build/cache}
set +e
./build/tierbench run --out build/results "$@"
rc=$?
set -e
case $rc in
  0) echo "main job: done, every SLO that could be measured passed" ;;
  1) echo "main job: done; some profiles FAILED an SLO (see the summary above)" ;;
  3) echo "main job: some configurations did not finish (TIMEOUT/CRASHED/MODEL-CHANGED records in the results)" >&2; exit 3 ;;
  4) echo "main job: some configurations produced no valid measurement (error/invalid records in the results)" >&2; exit 4 ;;
  *) echo "main job: tierbench run failed (exit $rc)" >&2; exit "$rc" ;;
esac
