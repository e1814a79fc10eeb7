#!/usr/bin/env bash
# Download into .whl/ the wheels bench/gpu_device.sh needs on an offline GPU
# machine that has torch, transformers and peft but not the rest of what the
# trainer imports (CPython 3.12, x86-64 manylinux; our lock's versions).
# Run here, where PyPI is reachable; then carry .whl to the machine.
set -euo pipefail
mkdir -p .whl
for spec in pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.7.0 typing-inspection==0.4.5 \
  typing-extensions==4.16.0 soundfile==0.14.0 cffi==2.1.1 pycparser==3.12 \
  lhotse==1.33.0 audioread==3.1.0 cytoolz==1.2.0 intervaltree==3.2.1; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl "$spec"
done
ls .whl
