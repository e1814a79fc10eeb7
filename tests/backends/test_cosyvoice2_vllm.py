"""CosyVoice2 with vLLM: the memory share our backend gives upstream's vLLM engine.

Through the stand-in checkout and `vllm` of cosyvoice2_support.py: the options that
bound the share by actors per GPU, the engine built with our share, and a checkout
whose load_vllm binds vllm.EngineArgs before we can set it (an error, not a silent
default).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cosyvoice2_support import checkout, speaker
from pydantic import ValidationError

from datagen.backends.tts.base import TTSRequest
from datagen.backends.tts.cosyvoice2 import LOCK_NAME, CosyVoice2Options, CosyVoice2TTS, actors_per_gpu


def test_vllm_memory_share_options() -> None:
    assert [actors_per_gpu(g) for g in (0.25, 0.1, 0.3, 0.5, 1.0, 2.0)] == [4, 10, 3, 2, 1, 1]
    assert CosyVoice2Options().vllm_gpu_memory_utilization == 0.2  # upstream's own value; 4 x 0.2 fits
    CosyVoice2Options(load_vllm=True, gpus_per_worker=0.5, vllm_gpu_memory_utilization=0.45)
    CosyVoice2Options(load_vllm=False, vllm_gpu_memory_utilization=0.5)  # unused without vLLM
    with pytest.raises(ValidationError, match="4 actors per GPU.*at most 0.225"):
        CosyVoice2Options(load_vllm=True, vllm_gpu_memory_utilization=0.25)
    with pytest.raises(ValidationError, match="10 actors per GPU"):
        CosyVoice2Options(load_vllm=True, gpus_per_worker=0.1)
    with pytest.raises(ValidationError):
        CosyVoice2Options(vllm_gpu_memory_utilization=0.95)


def test_vllm_engine_gets_our_memory_share(tmp_path: Path, isolated_imports) -> None:
    repo, model = checkout(tmp_path, new_api=True, with_vllm=True)
    opts = CosyVoice2Options(
        repo_path=str(repo), model_dir=str(model), load_vllm=True, vllm_gpu_memory_utilization=0.15
    )
    b = CosyVoice2TTS(opts)
    (r,) = b.synthesize([TTSRequest("k", "How are you today?", speaker(tmp_path))])
    assert r.error == ""
    vllm = sys.modules["vllm"]
    assert vllm.ENGINE_ARGS == [
        {
            "model": str(model / "vllm"),
            "skip_tokenizer_init": True,
            "enable_prompt_embeds": True,
            "gpu_memory_utilization": 0.15,
        }
    ]
    assert b._model.model.llm.vllm.args.kwargs["gpu_memory_utilization"] == 0.15
    assert isinstance(vllm.EngineArgs, type)  # the real class is back once the model is loaded
    assert "CosyVoice2ForCausalLM" in vllm.REGISTERED
    assert (model / LOCK_NAME).is_file()  # the export into model_dir/vllm ran under the lock


def test_vllm_engine_built_around_our_share_is_an_error(tmp_path: Path, isolated_imports) -> None:
    repo, model = checkout(tmp_path, new_api=True, with_vllm=True)
    (model / "bind_early").write_text("")  # this checkout's load_vllm holds vllm.EngineArgs from import
    opts = CosyVoice2Options(repo_path=str(repo), model_dir=str(model), load_vllm=True)
    with pytest.raises(RuntimeError, match="vllm_gpu_memory_utilization=0.2 was not applied"):
        CosyVoice2TTS(opts).synthesize([TTSRequest("k", "Hi there.", speaker(tmp_path))])
