"""A stand-in CosyVoice checkout for tests/backends/test_cosyvoice2*.py.

CosyVoice cannot run here (tests/backends/test_cosyvoice2_upstream.py runs what of
its real code can). `checkout` writes a `cosyvoice/cli/cosyvoice.py` whose
`CosyVoice2` records its calls, in the pre- or post-2025-12-08 signature, and with
`with_vllm` a stand-in `vllm` whose EngineArgs records its arguments, called the way
upstream's load_vllm calls it; the backend's own code does everything else.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import soundfile as sf

from datagen.backends.tts.base import Speaker
from datagen.backends.tts.cosyvoice2_load import MODEL_FILES

FAKE = """
import os
import sys
import time

CALLS = []
# a checkout that bound vllm's classes at import, before the backend could set the memory share
_V = sys.modules.get("vllm")
EARLY = (_V.EngineArgs, _V.LLMEngine) if getattr(_V, "FAKE", False) else None


class Frontend:
    def __init__(self):
        self.spk2info = {{"builtin": {{"llm_embedding": 0}}}}  # spk2info.pt's own speakers


class LLM:
    vllm = None


class Model:
    def __init__(self):
        self.llm = LLM()

    def load_vllm(self, model_dir):  # as CosyVoice2Model.load_vllm: share hard-coded to 0.2
        if EARLY is not None and os.path.exists(os.path.join(os.path.dirname(model_dir), "bind_early")):
            EngineArgs, LLMEngine = EARLY
        else:
            from vllm import EngineArgs, LLMEngine
        args = EngineArgs(
            model=model_dir, skip_tokenizer_init=True, enable_prompt_embeds=True, gpu_memory_utilization=0.2
        )
        self.llm.vllm = LLMEngine.from_engine_args(args)


class CosyVoice2:
    def __init__(self, model_dir, load_jit=False, load_trt=False, {vllm}fp16=False):
        t0, trace = time.time(), os.path.join(model_dir, "trace")
        if os.path.isdir(trace):  # a slow load, to see whether two processes overlap
            time.sleep(0.4)
        CALLS.append(("init", model_dir, dict(load_jit=load_jit, load_trt=load_trt, fp16=fp16)))
        self.sample_rate = 24000
        self.frontend = Frontend()
        self.model = Model()
        if {vllm_on}:
            self.model.load_vllm(os.path.join(model_dir, "vllm"))
        if os.path.isdir(trace):
            with open(os.path.join(trace, str(os.getpid())), "w") as f:
                f.write(f"{{t0}} {{time.time()}}")

    def add_zero_shot_spk(self, prompt_text, {arg}, zero_shot_spk_id):
        CALLS.append(("spk", prompt_text, {arg}, zero_shot_spk_id))
        self.frontend.spk2info[zero_shot_spk_id] = {{"prompt_text": prompt_text}}
        return True

    def inference_zero_shot(self, tts_text, prompt_text, {arg}, zero_shot_spk_id="", stream=False, speed=1.0):
        import torch

        CALLS.append(("tts", tts_text, zero_shot_spk_id, stream, speed, float(torch.rand(1))))
        if zero_shot_spk_id:
            self.frontend.spk2info[zero_shot_spk_id]  # KeyError, as upstream's frontend_zero_shot
        if "FAIL" in tts_text:
            raise RuntimeError("decoder blew up")
        t = torch.arange(24000) / 24000.0
        tone = 0.5 * torch.sin(2 * 3.14159 * 200 * t)
        yield {{"tts_speech": torch.cat([torch.zeros(4800), tone]).unsqueeze(0)}}
        yield {{"tts_speech": torch.cat([tone[:12000], torch.zeros(7200)]).unsqueeze(0)}}
"""

FAKE_VLLM = """
FAKE = True
ENGINE_ARGS = []
REGISTERED = {}


class EngineArgs:
    def __init__(self, **kwargs):
        ENGINE_ARGS.append(kwargs)
        self.kwargs = kwargs


class LLMEngine:
    @classmethod
    def from_engine_args(cls, args):
        engine = cls()
        engine.args = args
        return engine


class ModelRegistry:
    @staticmethod
    def register_model(name, cls):
        REGISTERED[name] = cls
"""


def checkout(root: Path, new_api: bool, with_vllm: bool = False) -> tuple[Path, Path]:
    """A stand-in CosyVoice checkout (and, with_vllm, a stand-in `vllm` beside it)."""
    repo = root / "CosyVoice"
    cli = repo / "cosyvoice" / "cli"
    cli.mkdir(parents=True)
    (repo / "cosyvoice" / "__init__.py").write_text("")
    (cli / "__init__.py").write_text("")
    arg = "prompt_wav" if new_api else "prompt_speech_16k"
    vllm, vllm_on = ("load_vllm=False, ", "load_vllm") if new_api else ("", "False")
    (cli / "cosyvoice.py").write_text(textwrap.dedent(FAKE.format(arg=arg, vllm=vllm, vllm_on=vllm_on)))
    if with_vllm:
        (repo / "cosyvoice" / "vllm").mkdir()
        (repo / "cosyvoice" / "vllm" / "__init__.py").write_text("")
        (repo / "cosyvoice" / "vllm" / "cosyvoice2.py").write_text("class CosyVoice2ForCausalLM:\n    pass\n")
        (repo / "vllm").mkdir()
        (repo / "vllm" / "__init__.py").write_text(FAKE_VLLM)
    (repo / "third_party" / "Matcha-TTS").mkdir(parents=True)
    (repo / "third_party" / "Matcha-TTS" / "setup.py").write_text("")
    model = root / "CosyVoice2-0.5B"
    model.mkdir()
    (model / "cosyvoice2.yaml").write_text("sample_rate: 24000\n")
    for name in MODEL_FILES[1:]:  # present, never read by the stand-in
        (model / name).parent.mkdir(parents=True, exist_ok=True)
        (model / name).write_bytes(b"")
    return repo, model


def chapter(path: Path, seconds: float = 20.0, sr: int = 16000) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), sr)
    return path


def speaker(tmp: Path, **over) -> Speaker:
    params = {
        "prompt_wav": str(chapter(tmp / "chapter.flac")),
        "prompt_text": "Hello there, friend.",
        "start": 2.0,
        "duration": 4.0,
        "lhotse_cut_id": "small/1/x_0",
        "speaker": "1",
    }
    params.update(over)
    return Speaker(id="libriheavy-1", backend="cosyvoice2", params=params)
