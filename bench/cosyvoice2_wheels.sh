#!/usr/bin/env bash
# Wheels for bench/cosyvoice2_gpu.sh, into $WHL (default .whl_cv2): CosyVoice's upstream code
# and what it imports beyond torch, transformers, numpy, scipy (cp312 manylinux, our versions;
# the three sdists, openai-whisper, antlr4 and wget, are built into wheels here). Left out
# to stay under the 64 MiB that can be carried: numba + llvmlite (61 MiB; a shim stands in,
# bench/cosyvoice2_shims/numba) and scikit-learn (librosa imports it only for what CosyVoice
# does not call). Run here, where PyPI is reachable; carry the folder.
set -euo pipefail
WHL=${WHL:-.whl_cv2}
WHL=$WHL bash "$(dirname "$0")/gpu_wheels.sh" cosyvoice-minicpmo==0.1.0 torchaudio==2.11.1 hyperpyyaml==1.2.3 \
  ruamel.yaml ruamel.yaml.clib inflect==7.6.0 typeguard jaraco.functools more-itertools \
  omegaconf==2.3.1 hydra-core==1.3.8 einops==0.8.2 tiktoken==0.14.0 conformer==0.3.2 diffusers==0.42.1 \
  lightning==2.6.6 lightning-utilities pytorch-lightning==2.6.6 torchmetrics librosa==0.11.0 lazy_loader \
  soxr audioread decorator joblib msgpack pooch platformdirs gdown==6.5.1 beautifulsoup4 soupsieve \
  modelscope==1.40.2 modelscope-hub soundfile==0.14.0 cffi==2.1.1 pycparser==3.12 pydantic==2.14.4 \
  pydantic_core==2.50.5 annotated-types==0.7.0 typing-inspection==0.4.5 typing-extensions==4.16.0 \
  lhotse==1.33.0 cytoolz==1.2.0 intervaltree==3.2.1 >/dev/null
python3 -m pip wheel -q --no-deps -w "$WHL" openai-whisper==20250625 antlr4-python3-runtime==4.9.3 wget==3.2
du -sh "$WHL"
