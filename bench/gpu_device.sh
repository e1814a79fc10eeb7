#!/usr/bin/env bash
# The GPU checks of one lent machine, in one call (the device tool, or any
# CUDA box with torch, transformers and peft): what the machine can run of the
# GPU rows (bench/gpu_probe.py), the GPU-marked tests, and the trainer at
# Llama-3-8B shape (bench/gpu_trainer.py), then, when $ANCHOR names it (a copy
# of shared/bench/gpu_trainer_anchor.py), plain transformers + peft at the same
# shape on the same machine. Results go to $OUT (default /tmp/gpu_out);
# `python -m bench.device_rows --collect $OUT` turns them into
# bench/results/gpu.json, which `make bench` puts in BENCHMARKS.md's GPU rows.
#
# On the offline device machine the missing pure-Python needs travel as wheels
# in .whl/, downloaded by bench/gpu_wheels.sh (pydantic, pydantic-core, annotated-types, typing-inspection,
# soundfile, cffi, pycparser, typing-extensions, and for the streaming
# features lhotse, audioread, cytoolz, intervaltree; cp312 manylinux, the
# versions of our lock):
#
#   bash bench/gpu_device.sh          # carry: [".whl"]
set -uo pipefail
OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 3
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
nvidia-smi -L
python3 -m bench.gpu_probe | tee "$OUT/gpu_probe.json"
# --noconftest: the suite's conftest pulls the data pipeline (Lhotse, Ray), which
# these tests do not use and the machine lacks.
# The backends' GPU tests (vLLM, CosyVoice2) need their engines: the probe says
# whether this machine has them.
timeout 240 python3 -m pytest --noconftest -p no:cacheprovider -q -rs -m gpu tests/train/test_gpu.py 2>&1 \
  | tee "$OUT/pytest.log"
timeout 300 python3 bench/gpu_trainer.py ${GPU_TRAINER_ARGS:-} --json "$OUT/gpu_trainer.json" 2>&1 | grep -v Warning | tee "$OUT/trainer.log"
if [ -n "${ANCHOR:-}" ]; then
  (cd "$(dirname "$ANCHOR")" && timeout 300 python3 "$(basename "$ANCHOR")" 2>&1 | grep -v -i warn \
    | tail -1 | tee "$OUT/trainer_anchor.json")
fi
