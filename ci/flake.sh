#!/usr/bin/env bash
# Flake measurement: runs the whole CTest suite of the Release build (build/)
# and of the ASan+UBSan build (build-asan/, same sanitizer options as
# ci/test.sh) N times back to back (default 10) while `stress-ng --cpu 2`
# loads the machine beside it, so timing-sensitive tests meet the contention
# a shared CI runner gives them. Prints, per configuration, runs and failed
# runs and the names of the tests that failed (with how often), then
#   flake: P passed, F failed
# counting suite runs over both configurations. Exits 1 if any run failed.
# Build first (bash ci/build.sh all); this script builds nothing.
#   TB_FLAKE_TESTS    regex passed to ctest -R (default: every test)
#   TB_FLAKE_STRESS   stress-ng arguments (default: --cpu 2)
#   TB_FLAKE_CONFIGS  space-separated subset of "release asan"
#   TB_FLAKE_JOBS     ctest -j (default: nproc; tests then also compete with
#                     each other, harsher than ci/test.sh's serial runs)
# Logs: build-flake/<config>-<run>.log (one per suite run).
set -euo pipefail
cd "$(dirname "$0")/.."

n=${1:-10}
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "usage: ci/flake.sh [N]   (N >= 1 runs per configuration)" >&2; exit 2; }
read -r -a configs <<<"${TB_FLAKE_CONFIGS:-release asan}"
read -r -a stress_args <<<"${TB_FLAKE_STRESS:---cpu 2}"
jobs=${TB_FLAKE_JOBS:-$(nproc)}
filter=()
[[ -n ${TB_FLAKE_TESTS:-} ]] && filter=(-R "$TB_FLAKE_TESTS")

dir_of() {
  case $1 in
    release) echo build ;;
    asan) echo build-asan ;;
    *) echo "flake.sh: unknown configuration '$1' (release, asan)" >&2; exit 2 ;;
  esac
}
for c in "${configs[@]}"; do
  d=$(dir_of "$c")
  [[ -f $d/CTestTestfile.cmake ]] || { echo "flake.sh: $d/ is not built (bash ci/build.sh all)" >&2; exit 2; }
done
command -v stress-ng >/dev/null || { echo "flake.sh: stress-ng not found (ci/install-deps.sh installs it)" >&2; exit 2; }

logs=build-flake
mkdir -p "$logs"
stress_pid=
stop_stress() {
  if [[ -n $stress_pid ]]; then
    # stress-ng's own process group: its workers go with it
    kill -TERM -- "-$stress_pid" 2>/dev/null || kill -TERM "$stress_pid" 2>/dev/null || true
    wait "$stress_pid" 2>/dev/null || true
    stress_pid=
  fi
}
trap stop_stress EXIT
trap 'exit 130' INT TERM
# a process group of its own (set -m), so stopping it reaches every worker
set -m
stress-ng "${stress_args[@]}" --timeout 0 --quiet >"$logs/stress-ng.log" 2>&1 &
stress_pid=$!
set +m
sleep 1
kill -0 "$stress_pid" 2>/dev/null || { echo "flake.sh: stress-ng did not start:" >&2; cat "$logs/stress-ng.log" >&2; exit 2; }
echo "flake.sh: $n run(s) x (${configs[*]}) beside stress-ng ${stress_args[*]} (pid $stress_pid)${filter:+, tests matching '${TB_FLAKE_TESTS}'}"

export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
passed=0
failed=0
summary=()
t_start=$SECONDS
for c in "${configs[@]}"; do
  d=$(dir_of "$c")
  c_fail=0
  declare -A names=()
  for ((i = 1; i <= n; i++)); do
    log=$logs/$c-$i.log
    t0=$SECONDS
    rc=0
    ctest --test-dir "$d" -j "$jobs" --output-on-failure "${filter[@]}" >"$log" 2>&1 || rc=$?
    # ctest's summary lists each failed test as "  <id> - <name> (Failed|Timeout|...)"
    mapfile -t bad < <(sed -n '/tests failed out of/,$ s/^[[:space:]]*[0-9]\{1,\} - \([^ ]*\) (.*/\1/p' "$log")
    if ((rc == 0)); then
      passed=$((passed + 1))
      echo "  $c run $i/$n: passed ($((SECONDS - t0)) s)"
    else
      failed=$((failed + 1))
      c_fail=$((c_fail + 1))
      ((${#bad[@]} > 0)) || bad=("(ctest exit $rc, no test named: see $log)")
      for b in "${bad[@]}"; do names[$b]=$((${names[$b]:-0} + 1)); done
      echo "  $c run $i/$n: FAILED ($((SECONDS - t0)) s): ${bad[*]}   [log: $log]"
    fi
  done
  line="$c ($d): $n runs, $c_fail failed"
  if ((c_fail > 0)); then
    line+="; failing tests:"
    for b in "${!names[@]}"; do line+=" $b (${names[$b]}/$n)"; done
  fi
  summary+=("$line")
  unset names
done
stop_stress

echo "== flake summary ($((SECONDS - t_start)) s, stress-ng ${stress_args[*]})"
printf '%s\n' "${summary[@]}"
echo "flake: $passed passed, $failed failed"
((failed == 0))
