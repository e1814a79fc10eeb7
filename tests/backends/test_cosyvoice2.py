"""CosyVoice2 backend: options, prompt checks, prompt APIs, timings, speakers.

CosyVoice cannot run here. The model path is driven through a stand-in
CosyVoice checkout written to tmp (a `cosyvoice/cli/cosyvoice.py` whose
`CosyVoice2` records its calls), in both the pre- and post-2025-12-08
signatures, so sys.path handling, the import, prompt preparation,
speaker caching and chunk concatenation are our real code. The real model
runs in the `gpu` test when DATAGEN_COSYVOICE_REPO / DATAGEN_COSYVOICE_MODEL
point at a checkout and CosyVoice2-0.5B.
"""

from __future__ import annotations

import os
import pickle
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pydantic import ValidationError

from datagen.backends.registry import make_tts
from datagen.backends.tts.base import Speaker, TTSRequest
from datagen.backends.tts.cosyvoice2 import (
    CosyVoice2Options,
    CosyVoice2TTS,
    check_prompt,
    detect_prompt_api,
    estimate_words,
    speech_bounds,
)

FAKE = """
import torch

CALLS = []


class CosyVoice2:
    def __init__(self, model_dir, load_jit=False, load_trt=False, {vllm}fp16=False):
        CALLS.append(("init", model_dir, dict(load_jit=load_jit, load_trt=load_trt, fp16=fp16)))
        self.sample_rate = 24000

    def add_zero_shot_spk(self, prompt_text, {arg}, zero_shot_spk_id):
        CALLS.append(("spk", prompt_text, {arg}, zero_shot_spk_id))
        return True

    def inference_zero_shot(self, tts_text, prompt_text, {arg}, zero_shot_spk_id="", stream=False, speed=1.0):
        CALLS.append(("tts", tts_text, zero_shot_spk_id, stream, speed, float(torch.rand(1))))
        if "FAIL" in tts_text:
            raise RuntimeError("decoder blew up")
        t = torch.arange(24000) / 24000.0
        tone = 0.5 * torch.sin(2 * 3.14159 * 200 * t)
        yield {{"tts_speech": torch.cat([torch.zeros(4800), tone]).unsqueeze(0)}}
        yield {{"tts_speech": torch.cat([tone[:12000], torch.zeros(7200)]).unsqueeze(0)}}
"""


def _checkout(root: Path, new_api: bool) -> tuple[Path, Path]:
    repo = root / "CosyVoice"
    cli = repo / "cosyvoice" / "cli"
    cli.mkdir(parents=True)
    (repo / "cosyvoice" / "__init__.py").write_text("")
    (cli / "__init__.py").write_text("")
    arg = "prompt_wav" if new_api else "prompt_speech_16k"
    (cli / "cosyvoice.py").write_text(
        textwrap.dedent(FAKE.format(arg=arg, vllm="load_vllm=False, " if new_api else ""))
    )
    (repo / "third_party" / "Matcha-TTS").mkdir(parents=True)
    (repo / "third_party" / "Matcha-TTS" / "setup.py").write_text("")
    model = root / "CosyVoice2-0.5B"
    model.mkdir()
    (model / "cosyvoice2.yaml").write_text("sample_rate: 24000\n")
    return repo, model


@pytest.fixture
def isolated_imports(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    for name in [m for m in sys.modules if m == "cosyvoice" or m.startswith("cosyvoice.")]:
        del sys.modules[name]


def _chapter(path: Path, seconds: float = 20.0, sr: int = 16000) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), sr)
    return path


def _speaker(tmp: Path, **over) -> Speaker:
    params = {
        "prompt_wav": str(_chapter(tmp / "chapter.flac")),
        "prompt_text": "Hello there, friend.",
        "start": 2.0,
        "duration": 4.0,
        "lhotse_cut_id": "small/1/x_0",
        "speaker": "1",
    }
    params.update(over)
    return Speaker(id="libriheavy-1", backend="cosyvoice2", params=params)


def test_options() -> None:
    o = CosyVoice2Options(repo_path="/data/CosyVoice", model_dir="/data/models/CosyVoice2-0.5B")
    assert o.prompt_api == "auto" and o.gpus_per_worker == 0.25
    with pytest.raises(ValidationError):
        CosyVoice2Options(prompt_api="bytes")
    with pytest.raises(ValidationError):
        CosyVoice2Options(max_prompt_s=40)  # CosyVoice's prompt limit is 30 s
    with pytest.raises(ValidationError):
        CosyVoice2Options(unknown=True)
    b = make_tts("cosyvoice2", {"gpus_per_worker": 0.5})
    assert b.resources_gpus == 0.5 and b.extra == ""


def test_detect_prompt_api() -> None:
    def new(tts_text, prompt_text, prompt_wav, zero_shot_spk_id="", stream=False, speed=1.0): ...
    def old(tts_text, prompt_text, prompt_speech_16k, zero_shot_spk_id="", stream=False, speed=1.0): ...
    def other(a, b, c): ...

    assert detect_prompt_api(new) == "path" and detect_prompt_api(old) == "tensor"
    with pytest.raises(RuntimeError):
        detect_prompt_api(other)


def test_bad_prompts_never_touch_the_model(tmp_path: Path) -> None:
    b = CosyVoice2TTS(CosyVoice2Options(repo_path=str(tmp_path / "nope"), model_dir=str(tmp_path / "nope")))
    long = _chapter(tmp_path / "long.wav", seconds=31.0)
    reqs = [
        TTSRequest("a", "Hi.", _speaker(tmp_path, prompt_wav=str(tmp_path / "missing.flac"))),
        TTSRequest("b", "Hi.", Speaker("w", "cosyvoice2", {"prompt_wav": str(long), "prompt_text": "x"})),
        TTSRequest("c", "Hi.", _speaker(tmp_path, duration=45.0)),
        TTSRequest("d", "Hi.", _speaker(tmp_path, prompt_text="  ")),
        TTSRequest("e", "Hi.", Speaker("v", "espeak", {"voice": "en"})),
    ]
    out = b.synthesize(reqs)  # the missing checkout would raise if the model were loaded
    assert [r.key for r in out] == ["a", "b", "c", "d", "e"]
    assert all(r.audio is None and r.error.startswith("bad_prompt:") for r in out)
    assert "not found" in out[0].error and "30 s" in out[1].error and "30 s" in out[2].error
    assert check_prompt(_speaker(tmp_path)) == ""


def test_missing_checkout_or_weights_fail_fast(tmp_path: Path) -> None:
    spk = _speaker(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a CosyVoice checkout"):
        CosyVoice2TTS(CosyVoice2Options(repo_path=str(tmp_path))).synthesize([TTSRequest("a", "Hi.", spk)])
    repo, _ = _checkout(tmp_path / "x", new_api=True)
    opts = CosyVoice2Options(repo_path=str(repo), model_dir=str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match="never downloaded"):
        CosyVoice2TTS(opts).synthesize([TTSRequest("a", "Hi.", spk)])


@pytest.mark.parametrize("new_api", [True, False])
def test_synthesis_through_a_checkout(tmp_path: Path, isolated_imports, new_api: bool) -> None:
    repo, model = _checkout(tmp_path, new_api)
    opts = CosyVoice2Options(
        repo_path=str(repo), model_dir=str(model), speed=1.1, prompt_cache_dir=str(tmp_path / "prompts")
    )
    b = CosyVoice2TTS(opts)
    spk = _speaker(tmp_path)
    out = b.synthesize(
        [
            TTSRequest("t0", "How are you today?", spk, seed=5),
            TTSRequest("t1", "FAIL here", spk),
            TTSRequest("t2", "How are you today?", spk, seed=5),
        ]
    )
    calls = sys.modules["cosyvoice.cli.cosyvoice"].CALLS
    assert calls[0] == ("init", str(model), {"load_jit": False, "load_trt": False, "fp16": False})
    spk_calls = [c for c in calls if c[0] == "spk"]
    assert (
        len(spk_calls) == 1
        and spk_calls[0][1] == "Hello there, friend."
        and spk_calls[0][3] == "libriheavy-1"
    )
    prompt = spk_calls[0][2]
    if new_api:  # a 16 kHz WAV of just the 4 s slice
        info = sf.info(prompt)
        assert info.samplerate == 16000 and info.duration == pytest.approx(4.0, abs=1e-3)
    else:  # a [1, T] tensor at 16 kHz
        assert tuple(prompt.shape) == (1, 64000)
    tts = [c for c in calls if c[0] == "tts"]
    assert tts[0][2:5] == ("libriheavy-1", False, 1.1)
    assert tts[0][5] == tts[2][5]  # same seed, same draw
    r0, r1, r2 = out
    assert r0.sample_rate == 24000 and r0.audio.dtype == np.float32
    assert len(r0.audio) == 4800 + 24000 + 12000 + 7200  # chunks concatenated
    assert r0.timing_source == "estimate" and [w.text for w in r0.words] == ["How", "are", "you", "today?"]
    assert r0.words[0].start == pytest.approx(0.2, abs=0.03) and r0.words[-1].end == pytest.approx(
        1.7, abs=0.03
    )
    assert r1.audio is None and r1.error.startswith("tts_failed:") and "decoder blew up" in r1.error
    assert np.array_equal(r0.audio, r2.audio)
    assert pickle.loads(pickle.dumps(b))._model is None  # the model never pickles into a worker


def test_estimate_words_over_trimmed_speech() -> None:
    sr = 16000
    audio = np.zeros(sr * 3, dtype=np.float32)
    audio[sr : 2 * sr] = 0.5 * np.sin(np.arange(sr) * 0.1)
    assert speech_bounds(audio, sr) == (sr, 2 * sr)
    words = estimate_words("a bbb", audio, sr)
    assert words[0].start == pytest.approx(1.0) and words[-1].end == pytest.approx(2.0)
    assert words[0].end == pytest.approx(1.0 + 2 / 6, abs=1e-3)  # (1+1) of (2+4) characters
    assert estimate_words("", audio, sr) == ()


def test_speakers_from_libriheavy_manifest(tmp_path: Path) -> None:
    from lhotse import AudioSource, CutSet, MonoCut, Recording, SupervisionSegment

    _chapter(tmp_path / "ch.flac", 30.0)
    rec = Recording("rec", [AudioSource("file", [0], "ch.flac")], 16000, 30 * 16000, 30.0)
    cuts = []
    for i, spk in enumerate(["7", "7", "9"]):
        sup = SupervisionSegment(
            f"c{i}", "rec", 0.0, 5.0, channel=0, speaker=spk, custom={"texts": [f"Text {i}.", f"TEXT {i}"]}
        )
        cuts.append(
            MonoCut(f"c{i}", start=i * 6.0, duration=5.0, channel=0, supervisions=[sup], recording=rec)
        )
    CutSet.from_cuts(cuts).to_file(tmp_path / "libriheavy_cuts_small.jsonl.gz")
    b = make_tts(
        "cosyvoice2",
        {
            "manifest": str(tmp_path / "libriheavy_cuts_small.jsonl.gz"),
            "audio_root": str(tmp_path),
            "prompts_per_speaker": 2,
        },
    )
    ids = [s.id for s in b.speakers()]
    assert ids == ["libriheavy-7-0", "libriheavy-7-1", "libriheavy-9-0"]
    assert all(Path(s.params["prompt_wav"]) == tmp_path / "ch.flac" for s in b.speakers())
    assert make_tts("cosyvoice2", {}).speakers() == []


@pytest.mark.gpu
def test_real_cosyvoice2(tmp_path: Path) -> None:
    repo, model = os.environ.get("DATAGEN_COSYVOICE_REPO", ""), os.environ.get("DATAGEN_COSYVOICE_MODEL", "")
    try:
        import torch

        if not torch.cuda.is_available():
            pytest.skip("no CUDA GPU")
    except ImportError:
        pytest.skip("torch not importable")
    if not (repo and model and Path(repo).is_dir() and Path(model).is_dir()):
        pytest.skip(
            "set DATAGEN_COSYVOICE_REPO (checkout) and DATAGEN_COSYVOICE_MODEL (CosyVoice2-0.5B folder)"
        )
    prompt = Path(repo) / "asset" / "zero_shot_prompt.wav"
    spk = Speaker(
        "p", "cosyvoice2", {"prompt_wav": str(prompt), "prompt_text": "希望你以后能够做的比我还好呦。"}
    )
    b = CosyVoice2TTS(CosyVoice2Options(repo_path=repo, model_dir=model))
    (r,) = b.synthesize([TTSRequest("k", "Hello, this is a short test sentence.", spk, seed=1)])
    assert r.error == "" and r.sample_rate == 24000 and len(r.audio) > 24000 * 0.5
