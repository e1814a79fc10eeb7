#!/usr/bin/env bash
# Ray 1 -> N workers (bench/scaling.py) on a lent, offline many-core machine
# that has torch and scipy but not Ray, Lhotse or espeak-ng. What travels, in
# $BOX (default .box, ignored; the device tool's carry; built by bench/scaling_box.sh), about 53 MB:
#   whl/              cp312 wheels: the trainer's (bench/gpu_wheels.sh) plus
#                     pyroomacoustics, silero-vad, jsonschema, referencing, rpds-py
#   ray_slim.tar.xz   the ray 2.60.0 cp312 wheel unpacked without its Java jars,
#                     dashboard web build, RLlib, Serve, Tune, Train and LLM (79 -> 28 MB)
#   espeak.tar.xz     Debian's espeak-ng, libespeak-ng1, espeak-ng-data, libsonic0,
#                     and a stub libpcaudio.so.0 (no ALSA/PulseAudio: --stdout never plays)
#
#   OUT=/tmp/out bash bench/scaling_device.sh [bench.scaling args]
set -euo pipefail
BOX=${BOX:-.box}
OUT=${OUT:-/tmp/scaling_out}
SITE=${SITE:-/tmp/site}
ESPEAK=${ESPEAK:-/tmp/espeak}
mkdir -p "$SITE" "$ESPEAK/bin" "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$BOX"/whl/*.whl
tar -C "$SITE" -xJf "$BOX/ray_slim.tar.xz"
tar -C "$ESPEAK" -xJf "$BOX/espeak.tar.xz"
lib="$ESPEAK/usr/lib/x86_64-linux-gnu"
printf '#!/bin/sh\nLD_LIBRARY_PATH=%s ESPEAK_DATA_PATH=%s exec %s "$@"\n' "$lib" "$lib" "$ESPEAK/usr/bin/espeak-ng" \
  > "$ESPEAK/bin/espeak-ng"
chmod +x "$ESPEAK/bin/espeak-ng"
export PATH="$ESPEAK/bin:$PATH" PYTHONPATH="$SITE:$PWD" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
echo "cores: $(nproc); espeak-ng: $(command -v espeak-ng) $(espeak-ng --version | head -1)"
python3 -m bench.scaling --json "$OUT/scaling.json" "$@"
