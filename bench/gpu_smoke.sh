#!/usr/bin/env bash
# GPU smoke run: 20 dialogues of recipes/salmonn_omni.yaml end to end (vLLM text,
# CosyVoice2 voices, ASR QC), then each stage's throughput as executor.sizing
# figures (bench/stage_rates.py). Run it from the repository root, in the
# environment that runs the pipeline (docs/gpu.md, "Environments"):
#
#   bench/gpu_smoke.sh                                   # models at the recipe's /data paths
#   bench/gpu_smoke.sh --set llm.options.model=/models/llama3-8b-instruct ...
#   DATAGEN=/envs/cosyvoice/bin/datagen OUT=/tmp/smoke bench/gpu_smoke.sh
#
# Then: datagen run recipes/salmonn_omni.yaml --dry-run --cluster 4x8gpu --set <the figures>
set -euo pipefail
DATAGEN=${DATAGEN:-datagen}
PYTHON=${PYTHON:-python}
OUT=${OUT:-manifests/gpu_smoke}
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_smoke: no CUDA GPU here (nvidia-smi finds none); this run needs one" >&2
  exit 2
fi
nvidia-smi -L
start=$(date +%s)
"$DATAGEN" run recipes/salmonn_omni.yaml --out "$OUT" --fresh \
  --set dialogues=20 --set executor.shard_size=5 "$@"
echo "wall time: $(( $(date +%s) - start )) s for 20 dialogues"
"$PYTHON" -m bench.stage_rates "$OUT/stats.json"
