"""CosyVoice2 backend: options, prompt checks, prompt APIs, timings, speakers.

CosyVoice cannot run here. The model path is driven through a stand-in
CosyVoice checkout written to tmp (cosyvoice2_support.py), in both the pre-
and post-2025-12-08 signatures, so sys.path handling, the import, prompt
preparation, speaker caching (LRU over the frontend's spk2info), the
cross-process load lock and chunk concatenation are our real code; the vLLM
memory share is in test_cosyvoice2_vllm.py. The real model runs in the `gpu`
test when DATAGEN_COSYVOICE_REPO / DATAGEN_COSYVOICE_MODEL point at a checkout
and CosyVoice2-0.5B.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cosyvoice2_support import chapter, checkout, speaker
from pydantic import ValidationError

from datagen.backends.registry import make_tts
from datagen.backends.tts.base import Speaker, TTSRequest
from datagen.backends.tts.cosyvoice2 import (
    LOCK_NAME,
    CosyVoice2Options,
    CosyVoice2TTS,
    check_prompt,
    detect_prompt_api,
    estimate_words,
    speech_bounds,
)


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
    assert b.resources_gpus == 0.5 and b.extra == "cosyvoice"


def test_detect_prompt_api() -> None:
    def new(tts_text, prompt_text, prompt_wav, zero_shot_spk_id="", stream=False, speed=1.0): ...
    def old(tts_text, prompt_text, prompt_speech_16k, zero_shot_spk_id="", stream=False, speed=1.0): ...
    def other(a, b, c): ...

    assert detect_prompt_api(new) == "path" and detect_prompt_api(old) == "tensor"
    with pytest.raises(RuntimeError):
        detect_prompt_api(other)


def test_bad_prompts_never_touch_the_model(tmp_path: Path) -> None:
    b = CosyVoice2TTS(CosyVoice2Options(repo_path=str(tmp_path / "nope"), model_dir=str(tmp_path / "nope")))
    long = chapter(tmp_path / "long.wav", seconds=31.0)
    reqs = [
        TTSRequest("a", "Hi.", speaker(tmp_path, prompt_wav=str(tmp_path / "missing.flac"))),
        TTSRequest("b", "Hi.", Speaker("w", "cosyvoice2", {"prompt_wav": str(long), "prompt_text": "x"})),
        TTSRequest("c", "Hi.", speaker(tmp_path, duration=45.0)),
        TTSRequest("d", "Hi.", speaker(tmp_path, prompt_text="  ")),
        TTSRequest("e", "Hi.", Speaker("v", "espeak", {"voice": "en"})),
    ]
    out = b.synthesize(reqs)  # the missing checkout would raise if the model were loaded
    assert [r.key for r in out] == ["a", "b", "c", "d", "e"]
    assert all(r.audio is None and r.error.startswith("bad_prompt:") for r in out)
    assert "not found" in out[0].error and "30 s" in out[1].error and "30 s" in out[2].error
    assert check_prompt(speaker(tmp_path)) == ""


def test_missing_checkout_or_weights_fail_fast(tmp_path: Path) -> None:
    spk = speaker(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a CosyVoice checkout"):
        CosyVoice2TTS(CosyVoice2Options(repo_path=str(tmp_path))).synthesize([TTSRequest("a", "Hi.", spk)])
    repo, _ = checkout(tmp_path / "x", new_api=True)
    opts = CosyVoice2Options(repo_path=str(repo), model_dir=str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match="never downloaded"):
        CosyVoice2TTS(opts).synthesize([TTSRequest("a", "Hi.", spk)])


@pytest.mark.parametrize("new_api", [True, False])
def test_synthesis_through_acheckout(tmp_path: Path, isolated_imports, new_api: bool) -> None:
    repo, model = checkout(tmp_path, new_api)
    opts = CosyVoice2Options(
        repo_path=str(repo), model_dir=str(model), speed=1.1, prompt_cache_dir=str(tmp_path / "prompts")
    )
    b = CosyVoice2TTS(opts)
    spk = speaker(tmp_path)
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


def _load_in_child(repo: str, model: str, barrier) -> None:
    """One actor starting up: build the backend and load with TensorRT on (a load that writes files)."""
    barrier.wait(timeout=60)
    CosyVoice2TTS(CosyVoice2Options(repo_path=repo, model_dir=model, load_trt=True))._load()


def test_loads_that_build_files_take_turns_across_processes(tmp_path: Path) -> None:
    repo, model = checkout(tmp_path, new_api=True)
    (model / "trace").mkdir()  # the stand-in load sleeps 0.4 s and records when it ran
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)  # both start loading at the same moment
    procs = [ctx.Process(target=_load_in_child, args=(str(repo), str(model), barrier)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    spans = sorted(tuple(float(x) for x in f.read_text().split()) for f in (model / "trace").iterdir())
    assert len(spans) == 2
    (_, first_end), (second_start, _) = spans
    assert first_end <= second_start, f"loads overlapped: {spans}"
    assert (model / LOCK_NAME).is_file()


@pytest.mark.parametrize("new_api", [True, False])
def test_speaker_cache_is_a_bounded_lru(tmp_path: Path, isolated_imports, new_api: bool) -> None:
    repo, model = checkout(tmp_path, new_api)
    opts = CosyVoice2Options(
        repo_path=str(repo), model_dir=str(model), prompt_cache_size=2, prompt_cache_dir=str(tmp_path / "p")
    )
    b = CosyVoice2TTS(opts)
    params = speaker(tmp_path).params
    voices = {k: Speaker(f"libriheavy-{k}", "cosyvoice2", dict(params)) for k in "ABC"}
    order = "ABCACBBA"
    for i, k in enumerate(order):
        (r,) = b.synthesize([TTSRequest(f"t{i}", "How are you today?", voices[k])])
        assert r.error == "", r.error  # an evicted-but-cached speaker would be a KeyError here
        spk2info = b._model.frontend.spk2info
        assert len(b._spk_ready) <= 2 and set(spk2info) == {"builtin", *b._spk_ready}
    calls = sys.modules["cosyvoice.cli.cosyvoice"].CALLS
    added = [c[3].removeprefix("libriheavy-") for c in calls if c[0] == "spk"]
    # A B C(evicts A) A(re-added, evicts B) C(hit) B(re-added, evicts A) B(hit) A(re-added, evicts C)
    assert "".join(added) == "ABCABA"
    assert list(b._spk_ready) == ["libriheavy-B", "libriheavy-A"]
    assert pickle.loads(pickle.dumps(b))._spk_ready == {}  # a fresh worker starts with an empty cache


def test_checkout_without_add_zero_shot_spk_fails_at_load(tmp_path: Path, isolated_imports) -> None:
    repo, model = checkout(tmp_path, new_api=False)
    src = repo / "cosyvoice" / "cli" / "cosyvoice.py"
    src.write_text(src.read_text().replace("def add_zero_shot_spk", "def _not_in_this_version"))
    b = CosyVoice2TTS(CosyVoice2Options(repo_path=str(repo), model_dir=str(model)))
    with pytest.raises(RuntimeError, match=r"no CosyVoice2\.add_zero_shot_spk.*9fea0f0"):
        b.synthesize([TTSRequest("k", "Hi there.", speaker(tmp_path))])
    assert sys.modules["cosyvoice.cli.cosyvoice"].CALLS == []  # failed before loading any weights


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

    chapter(tmp_path / "ch.flac", 30.0)
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
@pytest.mark.parametrize("api", ["auto", "tensor", "path"])
def test_real_cosyvoice2(tmp_path: Path, api: str) -> None:
    """Both prompt APIs upstream has had (a 16 kHz tensor before 2025-12-08, a file path
    since); a checkout offers one, so the other skips, saying which it has."""
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
    b = CosyVoice2TTS(CosyVoice2Options(repo_path=repo, model_dir=model, prompt_api=api))
    (r,) = b.synthesize([TTSRequest("k", "Hello, this is a short test sentence.", spk, seed=1)])
    has = detect_prompt_api(b._model.inference_zero_shot)
    if api != "auto" and api != has:
        pytest.skip(f"this checkout's inference_zero_shot takes the {has} prompt API")
    assert r.error == "" and r.sample_rate == 24000 and len(r.audio) > 24000 * 0.5
    assert b._api == has
