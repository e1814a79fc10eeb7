"""Loading CosyVoice2 safely when several actors share a GPU and a model folder.

Checks that the code and every model file are there before anything loads
(`check_code_and_model`), puts back the LLM the PyPI build leaves out
(`restore_llm`), and three things upstream leaves to the caller
(datagen/backends/tts/cosyvoice2.py uses them): how many actors Ray packs on
one GPU, a cross-process lock around the one-time builds upstream writes
into the model folder, and the share of GPU memory upstream's `load_vllm`
reserves, which it hard-codes.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOCK_NAME = ".datagen-cosyvoice2.lock"  # in model_dir, beside the files load_trt / load_vllm write
VLLM_GPU_BUDGET = 0.9  # most of one GPU the vLLM engines of its actors may reserve together


def actors_per_gpu(gpus_per_worker: float) -> int:
    """How many actors Ray packs onto one GPU when each asks for `gpus_per_worker`."""
    if gpus_per_worker >= 1 or gpus_per_worker <= 0:
        return 1  # whole GPUs, or CPU actors
    return max(1, math.floor(1 / gpus_per_worker + 1e-9))


@contextmanager
def model_dir_lock(model_dir: str | Path) -> Iterator[Path]:
    """Hold an exclusive, cross-process lock on `model_dir` (yields the lock file).

    Upstream builds `flow.decoder.estimator.*.plan` (load_trt) and exports
    `model_dir/vllm` (load_vllm) when they are missing, checking only that
    they exist: a second actor starting meanwhile loads a half-written plan
    or a partial export. Holding this lock around the whole load makes the
    first build finish before anyone else looks.

    `fcntl.flock` rather than the `filelock` package: filelock is not one of
    our declared dependencies (it only arrives with torch/huggingface), and
    the lock is only needed on the Linux GPU nodes. The kernel releases it
    when the process dies, so a crashed build leaves no stale lock. A model
    folder we cannot write to gets a lock in the temp folder instead (keyed
    by its path): nothing can be built in it, so only this node's loads need
    ordering.
    """
    import fcntl

    folder = Path(model_dir).resolve()
    path = folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:  # read-only model folder
        key = hashlib.sha1(str(folder).encode()).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"datagen-cosyvoice2-{key}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("cosyvoice2: waiting for another worker loading from %s (%s)", folder, path)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def vllm_memory_share(share: float) -> Iterator[list[float]]:
    """Make upstream's `load_vllm` reserve `share` of the GPU instead of its fixed 0.2.

    `CosyVoice2Model.load_vllm` (cosyvoice/cli/model.py) runs
    `from vllm import EngineArgs, LLMEngine` inside the method and builds
    `EngineArgs(..., gpu_memory_utilization=0.2)`, with no parameter to pass
    another value. While the model loads, `vllm.EngineArgs` is a wrapper that
    sets that one argument and builds the real EngineArgs; every other
    argument is upstream's. Yields the list of shares it applied, so the
    caller can tell whether upstream went through it at all.
    """
    import vllm

    had = "EngineArgs" in vars(vllm)
    real = vllm.EngineArgs
    applied: list[float] = []

    def engine_args(*args: Any, **kwargs: Any) -> Any:
        kwargs["gpu_memory_utilization"] = share
        applied.append(share)
        return real(*args, **kwargs)

    vllm.EngineArgs = engine_args
    try:
        yield applied
    finally:
        if had:
            vllm.EngineArgs = real
        else:  # it was served by vllm's lazy module __getattr__: leave that in charge again
            del vllm.EngineArgs


# What `CosyVoice2(model_dir)` opens (besides spk2info.pt, which is optional).
MODEL_FILES = (
    "cosyvoice2.yaml",
    "llm.pt",
    "flow.pt",
    "hift.pt",
    "campplus.onnx",
    "speech_tokenizer_v2.onnx",
    "CosyVoice-BlankEN/config.json",
)


def missing_model_files(model_dir: str | Path) -> list[str]:
    """The files of a CosyVoice2 model folder that are not there."""
    return [name for name in MODEL_FILES if not Path(model_dir, name).is_file()]


def check_code_and_model(repo_path: str | None, model_dir: str | None) -> tuple[Path | None, Path]:
    """(the checkout or None for the installed package, the model folder), or a clear
    FileNotFoundError naming what is missing: a checkout without Matcha-TTS, no installed
    code, a folder without cosyvoice2.yaml or any other file CosyVoice2 opens."""
    import importlib.util

    repo: Path | None = None
    if repo_path:
        repo = Path(repo_path)
        if not Path(repo, "cosyvoice", "cli", "cosyvoice.py").is_file():
            raise FileNotFoundError(
                f"cosyvoice2: repo_path {repo_path!r} is not a CosyVoice checkout; "
                "git clone --recursive https://github.com/FunAudioLLM/CosyVoice (see docs/gpu.md)"
            )
        matcha = Path(repo, "third_party", "Matcha-TTS")
        if not matcha.is_dir() or not any(matcha.iterdir()):
            raise FileNotFoundError(
                f"cosyvoice2: {matcha} is empty; run "
                "`git submodule update --init --recursive` in the checkout"
            )
    elif importlib.util.find_spec("cosyvoice") is None or importlib.util.find_spec("matcha") is None:
        raise FileNotFoundError(
            "cosyvoice2: CosyVoice's code is not installed and no repo_path is set; "
            "`make setup` installs it (the `cosyvoice` extra, see docs/gpu.md)"
        )
    if not model_dir or not Path(model_dir, "cosyvoice2.yaml").is_file():
        raise FileNotFoundError(
            f"cosyvoice2: model_dir {model_dir!r} has no cosyvoice2.yaml; copy CosyVoice2-0.5B there "
            "(it is never downloaded from here)"
        )
    missing = missing_model_files(model_dir)
    if missing:
        raise FileNotFoundError(
            f"cosyvoice2: model_dir {model_dir} lacks {', '.join(missing)}; "
            "copy the whole CosyVoice2-0.5B folder (it is never downloaded from here)"
        )
    return repo, Path(model_dir)


def restore_llm(model: Any, model_dir: str | Path) -> bool:
    """Put the speech-token LLM back where upstream's CosyVoice2 keeps it, if it is missing.

    The PyPI package `cosyvoice-minicpmo` (FunAudioLLM/CosyVoice at 46dfe04,
    repackaged for MiniCPM-o, which makes its own speech tokens) comments
    out the LLM in `CosyVoice2Model`: `__init__` gets `None` for it and
    `load` skips `llm.pt`, so `inference_zero_shot` would fail in its LLM
    thread. Upstream's code does, and so this does, the same two things:
    build `configs['llm']` from `cosyvoice2.yaml` and
    `load_state_dict(torch.load(llm.pt), strict=True)`, then `.to(device).eval()`
    (`.half()` when upstream kept fp16 on, i.e. on a GPU). The yaml is read a second time for it (upstream's
    `__init__` drops its configs), which also builds the flow and HiFT once
    more and throws them away: a few seconds at load, never per request.
    Returns whether it restored anything.
    """
    engine = getattr(model, "model", None)
    if engine is None or getattr(engine, "llm", None) is not None:
        return False
    import torch
    from hyperpyyaml import load_hyperpyyaml

    folder = Path(model_dir)
    with open(folder / "cosyvoice2.yaml") as f:
        configs = load_hyperpyyaml(f, overrides={"qwen_pretrain_path": str(folder / "CosyVoice-BlankEN")})
    llm = configs["llm"]
    llm.load_state_dict(torch.load(folder / "llm.pt", map_location=engine.device), strict=True)
    llm.to(engine.device).eval()
    if getattr(engine, "fp16", False):
        llm.half()
    engine.llm = llm
    return True
