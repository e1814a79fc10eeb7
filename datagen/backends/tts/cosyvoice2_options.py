"""What a recipe may set for the CosyVoice2 backend, checked when the recipe loads.

The recipe loader validates a voice's options with the backend's `Options`
model, so a bad value (a vLLM memory share that, times the actors Ray packs
on one GPU, leaves no room for the rest) is refused there, not minutes later
when a later actor's engine fails to start. The backend (`cosyvoice2`) reads
these fields; the limits come from `cosyvoice2_load` and `cosyvoice2_prompts`.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from datagen.backends.base import BackendOptions
from datagen.backends.tts.cosyvoice2_load import VLLM_GPU_BUDGET, actors_per_gpu
from datagen.backends.tts.cosyvoice2_prompts import MAX_PROMPT_S


class CosyVoice2Options(BackendOptions):
    repo_path: str | None = None  # CosyVoice git checkout (with third_party/Matcha-TTS); unset: the extra
    model_dir: str | None = None  # local CosyVoice2-0.5B folder (cosyvoice2.yaml, llm.pt, ...)
    fp16: bool = False
    load_jit: bool = False
    load_trt: bool = False
    load_vllm: bool = False  # CosyVoice's vLLM LLM path (needs vllm in the CosyVoice env)
    # share of the GPU each actor's vLLM engine reserves (upstream hard-codes 0.2); only with load_vllm
    vllm_gpu_memory_utilization: float = Field(0.2, gt=0, le=VLLM_GPU_BUDGET)
    prompt_api: Literal["auto", "tensor", "path"] = "auto"
    # torch's CPU threads in this process (torch.set_num_threads at load): float reductions
    # depend on the thread count, so a fixed count gives the same bytes in a 1-CPU Ray actor
    # and in a local run; None leaves torch's own choice
    threads: int | None = Field(1, ge=1)
    speed: float = Field(1.0, gt=0.25, le=4.0)
    gpus_per_worker: float = Field(0.25, ge=0, le=8)  # 0: CPU actors (tests, the random-weight recipe)
    prompt_cache_dir: str | None = None  # where sliced prompts go (default: a temp folder)
    prompt_cache_size: int = Field(256, ge=1)  # speakers kept registered with the model (LRU)
    # the speaker pool (LibriHeavy via Lhotse)
    manifest: str | None = None  # libriheavy_cuts_*.jsonl.gz
    audio_root: str | None = None  # Libri-Light audio root the manifest's paths are under
    max_speakers: int | None = Field(None, ge=1)
    prompts_per_speaker: int = Field(1, ge=1)
    min_prompt_s: float = Field(3.0, gt=0)
    max_prompt_s: float = Field(10.0, gt=0, le=MAX_PROMPT_S)

    @model_validator(mode="after")
    def _vllm_engines_fit_one_gpu(self) -> CosyVoice2Options:
        """Each actor's vLLM engine reserves its share of the whole GPU, and Ray packs
        1/gpus_per_worker actors onto one: together they must leave room (10%) for the
        PyTorch flow/HiFT parts and CUDA contexts, or the later engines fail to start."""
        if self.load_vllm:
            n = actors_per_gpu(self.gpus_per_worker)
            if n * self.vllm_gpu_memory_utilization > VLLM_GPU_BUDGET + 1e-9:
                raise ValueError(
                    f"vllm_gpu_memory_utilization {self.vllm_gpu_memory_utilization} x {n} actors per GPU "
                    f"(gpus_per_worker {self.gpus_per_worker}) is over {VLLM_GPU_BUDGET}; use at most "
                    f"{math.floor(VLLM_GPU_BUDGET / n * 1000) / 1000}"
                )
        return self
