#!/usr/bin/env bash
# Checks that every tracked C/C++/CUDA file is clang-formatted (.clang-format;
# Debian 12's clang-format 14). Prints each offending file, the first places
# clang-format would change, and the command that fixes it. Exits 1 on any
# violation, 2 if clang-format is missing or fails.
#   CLANG_FORMAT  the binary (default clang-format)
set -euo pipefail
cd "$(dirname "$0")/.."

cf=${CLANG_FORMAT:-clang-format}
command -v "$cf" >/dev/null || { echo "format-check: $cf not found (ci/install-deps.sh installs it)" >&2; exit 2; }

mapfile -d '' files < <(git ls-files -z '*.c' '*.h' '*.cc' '*.cu')
((${#files[@]} > 0)) || { echo "format-check: no tracked C/C++/CUDA files?" >&2; exit 2; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
"$cf" --dry-run -Werror --ferror-limit=3 "${files[@]}" >"$log" 2>&1 || rc=$?
# one "FILE:LINE:COL: error: code should be clang-formatted" line per place
mapfile -t bad < <(sed -n 's/^\(.*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' "$log" | sort -u)

if ((rc == 0 && ${#bad[@]} == 0)); then
  echo "format-check: ${#files[@]} files clang-formatted ($("$cf" --version | sed 's/.*version //'))"
  exit 0
fi
if ((${#bad[@]} == 0)); then # failed without naming a file: clang-format itself broke
  echo "format-check: $cf failed (exit $rc):" >&2
  cat "$log" >&2
  exit 2
fi
for f in "${bad[@]}"; do
  echo "format-check: not clang-formatted: $f"
  grep -F -A 1 "$f:" "$log" | grep -v -e '^--$' -e '^ *^ *$' | sed 's/^/    /' || true
done
echo "format-check: FAILED: ${#bad[@]} of ${#files[@]} files need formatting;" \
  "fix with: clang-format -i FILE   (here: clang-format -i ${bad[*]})" >&2
exit 1
