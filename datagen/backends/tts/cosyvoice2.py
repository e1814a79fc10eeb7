"""CosyVoice2-0.5B zero-shot TTS, voiced from LibriHeavy speaker prompts.

This is the synthesizer SALMONN-omni's own data was voiced with. Upstream's
code comes one of two ways: the `cosyvoice` extra installs PyPI's
`cosyvoice-minicpmo==0.1.0` (FunAudioLLM/CosyVoice at 46dfe04 with its
`cosyvoice` and `matcha` packages, docs/gpu.md), used when `repo_path` is
unset; or `repo_path` names a git checkout (FunAudioLLM/CosyVoice with the
Matcha-TTS submodule, in its own environment), and both it and
`third_party/Matcha-TTS` go on `sys.path`.

Why it looks the way it does:

* **Offline only.** `CosyVoice2(model_dir)` silently calls ModelScope's
  `snapshot_download` when the folder is missing; we check the folder and
  its files first and fail with a clear message instead, so no worker ever
  reaches a hub.
* **The PyPI package's two gaps.** `cosyvoice-minicpmo` drops the LLM from
  `CosyVoice2Model` and the text normaliser from the frontend (MiniCPM-o
  makes its own speech tokens): `restore_llm` loads `llm.pt` into upstream's
  `Qwen2LM` the way upstream's own `load` does, and requests pass
  `text_frontend=False` (upstream's switch to skip normalisation) when the
  frontend has no normaliser; our texts are already plain written English.
* **Two prompt APIs, bad prompts as data errors**: `cosyvoice2_prompts`.
* **Speaker cache.** `add_zero_shot_spk` extracts a prompt's tokens and
  embedding once per speaker into the frontend's `spk2info`; later requests
  reuse them by `zero_shot_spk_id`. The cache is an LRU of
  `prompt_cache_size` speakers (LibriHeavy has thousands, each holding
  prompt features on the GPU): evicting one also drops it from `spk2info`,
  and it is re-added when used again. A checkout without
  `add_zero_shot_spk` (before upstream 9fea0f0, 2025-04-15) fails at load.
* **One build at a time.** `load_trt` writes the TensorRT plan and
  `load_vllm` exports `model_dir/vllm` the first time, and upstream only
  checks that the file exists: actors sharing a GPU (or a model folder)
  would read each other's half-written files. Loads with either flag hold
  an exclusive lock on `model_dir/.datagen-cosyvoice2.lock`
  (`model_dir_lock`).
* **vLLM memory share.** Upstream's `CosyVoice2Model.load_vllm` hard-codes
  `gpu_memory_utilization=0.2`; `vllm_gpu_memory_utilization` replaces it
  (`vllm_memory_share`), and the options refuse shares that, times the
  actors per GPU, exceed 0.9.
* **Same bytes anywhere.** Upstream's matmuls give other bits with another
  CPU thread count (and so other sampled speech tokens), and a Ray actor runs
  with OMP_NUM_THREADS=1 where a local run has every core: `threads` (1)
  fixes torch's count at load, so a shard is the same bytes on either.
* **Timings are estimates**: `cosyvoice2_timing`.
* **Scaling.** One call synthesizes one text (batch size 1), so throughput
  comes from many workers: in the Ray executor this backend runs as an actor
  pool with fractional GPUs, `resources_gpus` = `gpus_per_worker` (0.25 =
  four workers per GPU; the fp32 model needs ~3-4 GB per worker).
"""

from __future__ import annotations

import inspect
import logging
import sys
import tempfile
from collections import OrderedDict
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from datagen.backends.tts.base import Speaker, TTSBackend, TTSRequest, TTSResult
from datagen.backends.tts.cosyvoice2_load import (
    LOCK_NAME,
    VLLM_GPU_BUDGET,
    actors_per_gpu,
    check_code_and_model,
    model_dir_lock,
    restore_llm,
    vllm_memory_share,
)
from datagen.backends.tts.cosyvoice2_options import CosyVoice2Options
from datagen.backends.tts.cosyvoice2_prompts import MAX_PROMPT_S, check_prompt, detect_prompt_api
from datagen.backends.tts.cosyvoice2_timing import estimate_words, speech_bounds

# The backend and, handed on from the part modules, the names tests and the bench import from here.
__all__ = [
    "LOCK_NAME",
    "MAX_PROMPT_S",
    "VLLM_GPU_BUDGET",
    "CosyVoice2Options",
    "CosyVoice2TTS",
    "actors_per_gpu",
    "check_prompt",
    "detect_prompt_api",
    "estimate_words",
    "set_seed",
    "speech_bounds",
]

log = logging.getLogger(__name__)

# upstream FunAudioLLM/CosyVoice commit that added CosyVoice2.add_zero_shot_spk (first tag with it: v2.0)
ZERO_SHOT_SPK_COMMIT = "9fea0f0 (2025-04-15)"


def set_seed(seed: int) -> None:
    """Seed every RNG CosyVoice samples from, so a request renders the same twice."""
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


class CosyVoice2TTS(TTSBackend):
    """Zero-shot CosyVoice2 with one cached prompt per speaker (24 kHz output)."""

    name = "cosyvoice2"
    extra = "cosyvoice"  # or a git checkout in its own environment (repo_path): see docs/gpu.md
    Options = CosyVoice2Options
    num_gpus = 0.25

    def __init__(self, options: CosyVoice2Options | None = None):
        super().__init__(options)
        self._model: Any = None
        self._api: str = ""
        self._text_kw: dict[str, Any] = {}  # text_frontend=False where the frontend has no normaliser
        self._spk_ready: OrderedDict[str, None] = OrderedDict()  # LRU of speakers in spk2info
        self._pool: list[Speaker] | None = None

    @property
    def resources_gpus(self) -> float:
        """GPUs per actor in the Ray executor's pool (fractional: several workers share a GPU)."""
        return float(self.options.gpus_per_worker)

    def __getstate__(self) -> dict[str, Any]:
        return {
            "options": self.options,
            "_model": None,
            "_api": "",
            "_text_kw": {},
            "_spk_ready": OrderedDict(),
            "_pool": self._pool,
        }

    # -- speakers ------------------------------------------------------------

    def speakers(self) -> list[Speaker]:
        """LibriHeavy prompts from `manifest`; none without one (then the recipe must name speakers)."""
        o = self.options
        if o.manifest is None:
            return []
        if self._pool is None:
            from datagen.sources.libriheavy import load_prompt_pool

            self._pool = load_prompt_pool(
                o.manifest,
                o.audio_root,
                min_s=o.min_prompt_s,
                max_s=o.max_prompt_s,
                per_speaker=o.prompts_per_speaker,
                max_speakers=o.max_speakers,
            )
        return list(self._pool)

    # -- model ---------------------------------------------------------------

    def preflight(self) -> None:
        self.check_paths()

    def check_paths(self) -> tuple[Path | None, Path]:
        """Fail fast, before any import, when the code or the weights are missing.
        Returns (the checkout, or None for the installed package; the model folder)."""
        return check_code_and_model(self.options.repo_path, self.options.model_dir)

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        repo, model_dir = self.check_paths()
        for p in (str(repo / "third_party" / "Matcha-TTS"), str(repo)) if repo else ():
            if p not in sys.path:
                sys.path.insert(0, p)
        o = self.options
        if o.load_vllm:
            # CosyVoice's LLM runs inside vLLM only once its model class is registered
            from cosyvoice.vllm.cosyvoice2 import CosyVoice2ForCausalLM
            from vllm import ModelRegistry

            ModelRegistry.register_model("CosyVoice2ForCausalLM", CosyVoice2ForCausalLM)
        from cosyvoice.cli.cosyvoice import CosyVoice2

        if not callable(getattr(CosyVoice2, "add_zero_shot_spk", None)):
            # without it every speaker would fail in _one and come back as a silent bad_prompt
            raise RuntimeError(
                f"cosyvoice2: the CosyVoice code at {repo or 'site-packages'} has no "
                "CosyVoice2.add_zero_shot_spk, "
                f"which this backend needs to cache speaker prompts; it was added upstream in commit "
                f"{ZERO_SHOT_SPK_COMMIT}, first tagged v2.0: update the checkout "
                f"(git -C {repo} pull && git -C {repo} submodule update --init --recursive)"
            )
        kwargs: dict[str, Any] = {"load_jit": o.load_jit, "load_trt": o.load_trt, "fp16": o.fp16}
        if o.load_vllm or "load_vllm" in inspect.signature(CosyVoice2.__init__).parameters:
            kwargs["load_vllm"] = o.load_vllm
        if o.threads:
            import torch

            torch.set_num_threads(o.threads)
        builds = o.load_trt or o.load_vllm  # only these write into model_dir
        share = vllm_memory_share(o.vllm_gpu_memory_utilization) if o.load_vllm else nullcontext()
        with model_dir_lock(model_dir) if builds else nullcontext(), share as applied:
            model = CosyVoice2(str(model_dir), **kwargs)
            if restore_llm(model, model_dir):
                log.info("cosyvoice2: loaded llm.pt into the LLM this CosyVoice build leaves out")
        engine = getattr(getattr(getattr(model, "model", None), "llm", None), "vllm", None)
        if o.load_vllm and engine is not None and not applied:
            raise RuntimeError(
                "cosyvoice2: this CosyVoice checkout built its vLLM engine without vllm.EngineArgs, so "
                f"vllm_gpu_memory_utilization={o.vllm_gpu_memory_utilization} was not applied; "
                "check cosyvoice/cli/model.py load_vllm"
            )
        if not isinstance(getattr(getattr(model, "frontend", None), "spk2info", None), dict):
            log.warning("cosyvoice2: no frontend.spk2info dict; evicted speakers cannot be freed")
        self._api = o.prompt_api if o.prompt_api != "auto" else detect_prompt_api(model.inference_zero_shot)
        frontend = getattr(model, "frontend", None)
        takes = "text_frontend" in inspect.signature(model.inference_zero_shot).parameters
        no_normaliser = not any(hasattr(frontend, a) for a in ("use_ttsfrd", "frd", "en_tn_model"))
        self._text_kw = {"text_frontend": False} if takes and no_normaliser else {}
        self._model = model
        return model

    def _prompt(self, speaker: Speaker) -> Any:
        """The prompt in the form this CosyVoice version takes: a file path or a [1, T] 16 kHz tensor."""
        from datagen.sources.libriheavy import materialize_prompt, read_prompt

        p = speaker.params
        if self._api == "tensor":
            import torch

            return torch.from_numpy(read_prompt(p, 16000)).unsqueeze(0)
        if p.get("start") is None and p.get("duration") is None:
            return str(p["prompt_wav"])  # a whole file: CosyVoice resamples it itself
        cache = Path(
            self.options.prompt_cache_dir or Path(tempfile.gettempdir()) / "datagen_cosyvoice_prompts"
        )
        return str(materialize_prompt(speaker, cache))

    def _register(self, model: Any, spk_id: str, prompt_text: str, prompt: Any) -> None:
        """Make `spk_id` a zero-shot speaker of the model, keeping at most
        `prompt_cache_size` of them: each holds its prompt's features (on the
        GPU) in `frontend.spk2info`, and a LibriHeavy pool has thousands.
        The least recently used one is dropped from both our LRU and
        spk2info, and is re-added (features extracted again) when next used."""
        ready = self._spk_ready
        if spk_id in ready:
            ready.move_to_end(spk_id)
            return
        model.add_zero_shot_spk(prompt_text, prompt, spk_id)
        ready[spk_id] = None
        spk2info = getattr(getattr(model, "frontend", None), "spk2info", None)
        while len(ready) > self.options.prompt_cache_size:
            old, _ = ready.popitem(last=False)
            if isinstance(spk2info, dict):
                spk2info.pop(old, None)

    def _one(self, req: TTSRequest) -> TTSResult:
        model = self._model
        sr = int(model.sample_rate)
        spk = req.speaker
        prompt_text = " ".join(str(spk.params["prompt_text"]).split())
        try:
            prompt = self._prompt(spk)
            self._register(model, spk.id, prompt_text, prompt)
        except Exception as e:  # an unreadable prompt is this speaker's problem, not the batch's
            return TTSResult(
                key=req.key, audio=None, sample_rate=sr, error=f"bad_prompt: {type(e).__name__}: {e}"
            )
        set_seed(req.seed)
        try:
            chunks = [
                out["tts_speech"]
                for out in model.inference_zero_shot(
                    req.text,
                    prompt_text,
                    prompt,
                    zero_shot_spk_id=spk.id,
                    stream=False,
                    speed=self.options.speed,
                    **self._text_kw,
                )
            ]
        except Exception as e:  # one failed text must not fail the batch
            return TTSResult(
                key=req.key, audio=None, sample_rate=sr, error=f"tts_failed: {type(e).__name__}: {e}"
            )
        if not chunks:
            return TTSResult(key=req.key, audio=None, sample_rate=sr, error="tts_failed: no audio returned")
        import torch

        audio = torch.cat([c.reshape(1, -1) for c in chunks], dim=1)[0].float().cpu().numpy()
        return TTSResult(
            key=req.key,
            audio=audio.astype(np.float32, copy=False),
            sample_rate=sr,
            words=estimate_words(req.text, audio, sr),
            timing_source="estimate",
        )

    def synthesize(self, requests: list[TTSRequest]) -> list[TTSResult]:
        """Render each request in turn (CosyVoice's batch size is one)."""
        results: list[TTSResult | None] = [None] * len(requests)
        todo = []
        for i, req in enumerate(requests):
            why = (
                check_prompt(req.speaker)
                if req.speaker.backend == self.name
                else "bad_prompt: not a cosyvoice2 voice"
            )
            if why:
                results[i] = TTSResult(key=req.key, audio=None, sample_rate=24000, error=why)
            elif not req.text.strip():
                results[i] = TTSResult(key=req.key, audio=None, sample_rate=24000, error="empty_text")
            else:
                todo.append(i)
        if todo:
            self._load()
            for i in todo:
                results[i] = self._one(requests[i])
        return [r for r in results if r is not None]
