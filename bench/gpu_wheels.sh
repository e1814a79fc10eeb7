#!/usr/bin/env bash
# Download CPython 3.12 x86-64 manylinux wheels into $WHL (default .whl), for an
# offline GPU machine that has torch, transformers and peft. With no arguments:
# what bench/gpu_device.sh needs beside those (the trainer's imports, our lock's
# versions); with arguments: those specs instead (bench/scaling_box.sh).
# Run here, where PyPI is reachable; then carry the folder to the machine.
set -euo pipefail
WHL=${WHL:-.whl}
mkdir -p "$WHL"
specs=("$@")
if [ ${#specs[@]} -eq 0 ]; then
  specs=(pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.7.0 typing-inspection==0.4.5
    typing-extensions==4.16.0 soundfile==0.14.0 cffi==2.1.1 pycparser==3.12
    lhotse==1.33.0 audioread==3.1.0 cytoolz==1.2.0 intervaltree==3.2.1)
fi
for spec in "${specs[@]}"; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$WHL" "$spec"
done
ls "$WHL"
