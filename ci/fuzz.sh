#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, build-fuzz/) and runs
# each one for a bounded time on a temporary copy of its seed corpus
# (tests/fuzz/corpus/<target>/; the committed corpus never grows). Fails on
# any crash, leak, timeout, out-of-memory or sanitizer report; the input
# that triggered it is kept under build-fuzz/artifacts/.
#   TB_FUZZ_TOTAL    seconds of fuzzing over all default targets (default
#                    150, split by weight: model 50, each parser 20; the
#                    model target builds, loads and runs a model per input)
#   TB_FUZZ_SECONDS  seconds per target instead (every target the same)
#   TB_FUZZ_TARGETS  space-separated subset (default: all six)
set -euo pipefail
cd "$(dirname "$0")/.."

total=${TB_FUZZ_TOTAL:-150}
read -r -a targets <<<"${TB_FUZZ_TARGETS:-gguf profile results trace gbench model}"
jobs=$(nproc)

weight() { # share of TB_FUZZ_TOTAL, in fifteenths
  case $1 in
    model) echo 5 ;;
    *) echo 2 ;;
  esac
}
seconds() {
  if [[ -n ${TB_FUZZ_SECONDS:-} ]]; then echo "$TB_FUZZ_SECONDS"; else
    echo $(((total * $(weight "$1") + 14) / 15)); fi
}

max_len() { # largest input per target: room for the seeds plus mutations
  case $1 in
    trace) echo 2048 ;;
    profile) echo 4096 ;;
    model) echo 1024 ;; # 16 header bytes + 8-byte pokes
    *) echo 8192 ;;
  esac
}

# CUDA off: nvcc cannot take clang's sanitizer flags and no target needs it.
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CUDA_COMPILER=NOTFOUND -DTB_FUZZ=ON >/dev/null
cmake --build build-fuzz -j "$jobs" --target fuzz

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts=build-fuzz/artifacts
mkdir -p "$artifacts"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

status=0
total_runs=0
for t in "${targets[@]}"; do
  bin=build-fuzz/fuzz_$t
  [[ -x $bin ]] || { echo "fuzz.sh: no target fuzz_$t" >&2; exit 2; }
  mkdir -p "$work/$t"
  cp tests/fuzz/corpus/"$t"/* "$work/$t/"
  # past findings start the run too (they are replayed by test_fuzz_regress as well)
  if [[ -d tests/fuzz/regress/$t ]]; then cp tests/fuzz/regress/"$t"/* "$work/$t/"; fi
  log=$work/$t.log
  rc=0
  secs=$(seconds "$t")
  all_secs=$((${all_secs:-0} + secs))
  "$bin" "$work/$t" -max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=10 \
    -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$t-" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  if ((rc != 0)) || [[ -z $runs ]] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|FUZZ INVARIANT' "$log"; then
    echo "== fuzz_$t: FAILED (exit $rc); log tail:"
    tail -n 60 "$log"
    echo "== fuzz_$t: crashing input(s) in $artifacts/ (replay: $bin FILE)"
    status=1
  else
    echo "fuzz_$t: $runs runs in ${secs} s, no findings ($(ls "$work/$t" | wc -l) corpus files)"
    total_runs=$((total_runs + runs))
  fi
done
echo "fuzz.sh: ${#targets[@]} targets, ${all_secs:-0} s, $total_runs executions in passing targets"
if ((status != 0)); then
  echo "fuzz.sh: FAILED (see above)" >&2
fi
exit $status
