#!/usr/bin/env bash
# Size lint for the library sources (tracked .c/.h/.cc/.cu under kernels/,
# workloads/, harness/, reports/; tests are not checked): fails when a file
# has over TB_MAX_FILE_LINES lines (1000) or a function over
# TB_MAX_FUNC_LINES lines (150). Relies on the clang-formatted Linux brace
# style: a function body opens with `{` at column 0 and closes with `}` at
# column 0, and nothing else does. A function's length is counted from its
# opening brace to its closing brace (closing line - opening line), i.e. its
# body plus the closing brace. Names each violation as FILE:LINE.
set -euo pipefail
cd "$(dirname "$0")/.."

max_file=${TB_MAX_FILE_LINES:-1000}
max_func=${TB_MAX_FUNC_LINES:-150}

mapfile -d '' files < <(git ls-files -z -- 'kernels/*' 'workloads/*' 'harness/*' 'reports/*' |
  grep -zE '\.(c|h|cc|cu)$')
((${#files[@]} > 0)) || { echo "size-check: no library sources found" >&2; exit 2; }

out=$(awk -v max_file="$max_file" -v max_func="$max_func" '
  # the function name: the identifier before the first "(" of the signature,
  # which starts at the last column-0 line before the "{" (continuations are
  # indented)
  function name_of(sig,   s) {
    s = sig
    sub(/\(.*/, "", s)
    sub(/[ \t*]+$/, "", s)
    if (match(s, /[A-Za-z_][A-Za-z_0-9]*$/)) return substr(s, RSTART, RLENGTH)
    return "?"
  }
  function file_done() {
    if (prev != "" && prev_lines > max_file)
      printf "%s:%d: file is %d lines (max %d)\n", prev, 1, prev_lines, max_file
  }
  FNR == 1 { file_done(); prev = FILENAME; open = 0; sig = ""; sig_line = 0 }
  { prev_lines = FNR }
  /^\{/ && !open { open = FNR; fname = name_of(sig); fline = sig_line; next }
  /^\}/ && open {
    n = FNR - open
    if (n > max_func)
      printf "%s:%d: function %s is %d lines (max %d)\n", FILENAME, fline, fname, n, max_func
    open = 0; sig = ""; next
  }
  !open {
    if ($0 ~ /^[A-Za-z_]/) { sig = $0; sig_line = FNR }   # a new declaration starts
    else if ($0 ~ /^[ \t]+[^ \t]/ && sig != "") sig = sig " " $0   # its continuation
    else if ($0 ~ /^[ \t]*$/) sig = ""
  }
  END { file_done() }
' "${files[@]}")

if [[ -z $out ]]; then
  echo "size-check: ${#files[@]} library sources, none over $max_file lines, no function over $max_func lines"
  exit 0
fi
echo "$out" | sort -t: -k1,1 -k2,2n
echo "size-check: FAILED: $(echo "$out" | wc -l) violation(s) (files over $max_file lines, functions over $max_func lines); split them" >&2
exit 1
