#!/usr/bin/env bash
# The main job: installs dependencies, builds (Release), writes a synthetic
# stories15m-shaped q4_0 model into a cache directory and runs greedy
# decoding on it, printing the generated tokens and prefill/decode speed.
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/install-deps.sh
bash ci/build.sh release

cache=${TB_CACHE_DIR:-build/cache}
mkdir -p "$cache"
model=$cache/stories15m-q4_0.gguf
# synthetic models are deterministic: write once (complete files only), reuse
if [[ ! -f $model ]]; then
  ./build/tierbench model synth --shape stories15m --type q4_0 --seed 1 -o "$model.tmp"
  mv "$model.tmp" "$model"
fi

./build/tierbench infer --model "$model" --tokens 1,15043,29892,920 --n-predict 32 --backend cpu --reps 3
