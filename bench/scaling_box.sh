#!/usr/bin/env bash
# Build $BOX (default .box) for bench/scaling_device.sh: what an offline,
# many-core machine with torch and scipy lacks to run the pipeline under Ray
# (CPython 3.12, x86-64). Needs PyPI, Debian's archive (apt-get download) and gcc.
set -euo pipefail
BOX=${BOX:-.box}
mkdir -p "$BOX/whl"
BOX=$(cd "$BOX" && pwd)
WHL="$BOX/whl" bash bench/gpu_wheels.sh >/dev/null
WHL="$BOX/whl" bash bench/gpu_wheels.sh pyroomacoustics==0.10.1 silero-vad==6.2.3 jsonschema==4.26.0 \
  jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1 >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Ray without what a CPU run never loads: 79 MB -> 28 MB
WHL="$tmp" bash bench/gpu_wheels.sh ray==2.60.0 >/dev/null
mkdir "$tmp/ray" && python3 - "$tmp"/ray-*.whl "$tmp/ray" <<'PY'
import os, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
for info in z.infolist():
    path = z.extract(info, sys.argv[2])
    mode = (info.external_attr >> 16) & 0o777
    if mode:
        os.chmod(path, mode)
PY
(cd "$tmp/ray/ray" && rm -rf jars dashboard/client/build rllib serve llm tune train)
tar -C "$tmp/ray" -cJf "$BOX/ray_slim.tar.xz" .
# espeak-ng from Debian, with a stub libpcaudio (no ALSA/PulseAudio on the box)
mkdir "$tmp/deb" "$tmp/root"
(cd "$tmp/deb" && apt-get download espeak-ng libespeak-ng1 espeak-ng-data libsonic0 2>/dev/null)
for f in "$tmp"/deb/*.deb; do dpkg -x "$f" "$tmp/root"; done
gcc -shared -fPIC -O2 -o "$tmp/root/usr/lib/x86_64-linux-gnu/libpcaudio.so.0" bench/pcaudio_stub.c
tar -C "$tmp/root" -cJf "$BOX/espeak.tar.xz" .
du -sh "$BOX"/*
