#!/usr/bin/env bash
# CosyVoice2 at the released shape on one GPU, in one call: build the 0.5b random-weight
# folder there (bench/cosyvoice2_model.py), then measure per-actor RTF, aggregate RTF per
# GPU with 1, 2, 4 and 8 actors, and peak GPU memory per actor, fp32 and fp16
# (bench/cosyvoice2_rtf.py). For a machine with torch and transformers but no CosyVoice and
# no network: the rest travels as wheels in .whl_cv2/ (bench/cosyvoice2_wheels.sh, < 64 MiB).
#
#   bash bench/cosyvoice2_wheels.sh                  # here, where PyPI is reachable
#   bash bench/cosyvoice2_gpu.sh                     # there; carry: [".whl_cv2"]
#   DEVICE=cpu SIZE=tiny ACTORS=1,2 PRECISION=fp32 bash bench/cosyvoice2_gpu.sh   # CPU smoke test
#
# Results in $OUT (default /tmp/cosyvoice2_out): cosyvoice2_rtf.json (rows, the
# executor.sizing figures, BENCHMARKS.md rows as markdown) and the log. The output has the
# same format on CPU and GPU. From a GPU run, copy cosyvoice2_rtf.json to
# bench/results/cosyvoice2_gpu.json: `make bench` puts its rows in BENCHMARKS.md
# (bench/device_rows.py), and its "sizing" figures go in executor.sizing.
set -uo pipefail
OUT=${OUT:-/tmp/cosyvoice2_out}
DEVICE=${DEVICE:-cuda}
SIZE=${SIZE:-0.5b}
ACTORS=${ACTORS:-1,2,4,8}
PRECISION=${PRECISION:-fp32,fp16}
REPEAT=${REPEAT:-1}
WORK=${WORK:-/tmp/cosyvoice2_work}
mkdir -p "$OUT" "$WORK"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
if [ -d .whl_cv2 ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/cv2_site .whl_cv2/*.whl || exit 3
  export PYTHONPATH=/tmp/cv2_site:$PYTHONPATH
fi
# torchaudio 2.11.1's op libraries are built for torch 2.11 (CUDA); CosyVoice uses only its
# pure-Python parts (Kaldi fbank, Resample), which run on any torch once those are gone.
if ! python3 -c "import torchaudio" 2>/dev/null; then
  ta=$(python3 -c "import importlib.util as u; print(u.find_spec('torchaudio').submodule_search_locations[0])")
  rm -f "$ta"/lib/*.so
fi
python3 -c "import numba" 2>/dev/null || export PYTHONPATH=$PYTHONPATH:$PWD/bench/cosyvoice2_shims
[ "$DEVICE" = cuda ] && nvidia-smi -L
python3 - <<'PY' | tee "$OUT/versions.txt"
import importlib.metadata as m
for p in ("torch", "transformers", "onnxruntime", "cosyvoice-minicpmo"):
    try:
        print(p, m.version(p))
    except m.PackageNotFoundError:
        print(p, "missing")
PY
t0=$(date +%s)
python3 -m bench.cosyvoice2_model --size "$SIZE" --out "$WORK/model" 2>&1 | grep -v -i warn | tail -2 \
  | tee "$OUT/build.log"
python3 -m bench.libriheavy_prompts --out "$WORK/prompts" >/dev/null
echo "build: $(( $(date +%s) - t0 )) s" | tee -a "$OUT/build.log"
python3 -m bench.cosyvoice2_rtf --model "$WORK/model" --prompts "$WORK/prompts" --device "$DEVICE" \
  --size "$SIZE" --actors "$ACTORS" --precision "$PRECISION" --repeat "$REPEAT" \
  --json "$OUT/cosyvoice2_rtf.json" 2>&1 | grep -v -i "warn\|it/s\]\|s/it\]\|INFO\|autocast\|forward_call" \
  | tee "$OUT/rtf.log"
