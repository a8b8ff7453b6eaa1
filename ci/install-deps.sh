#!/usr/bin/env bash
# Installs the Debian 12 packages tierbench builds and runs with. Idempotent:
# asks apt only for what dpkg says is missing, and runs `apt-get update`
# only when something has to be installed.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libbenchmark-dev libjansson-dev libcsv-dev libinih-dev libsqlite3-dev
  libhwloc-dev hwloc libpapi-dev papi-tools
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo
  gnuplot-nox clang libclang-rt-14-dev
  clang-format stress-ng
  chromium
  libpq-dev postgresql libxml2-dev libxml2-utils nettle-dev
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=()
if ((EUID != 0)); then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
