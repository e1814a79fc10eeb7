"""CosyVoice2 backend: options, prompt checks, prompt APIs, timings, speakers.

CosyVoice cannot run here. The model path is driven through a stand-in
CosyVoice checkout written to tmp (a `cosyvoice/cli/cosyvoice.py` whose
`CosyVoice2` records its calls), in both the pre- and post-2025-12-08
signatures, so sys.path handling, the import, prompt preparation,
speaker caching (LRU over the frontend's spk2info), the cross-process load
lock, the vLLM memory share (through a stand-in `vllm` whose EngineArgs
records its arguments, called the way upstream's load_vllm calls it) and
chunk concatenation are our real code. The real model
runs in the `gpu` test when DATAGEN_COSYVOICE_REPO / DATAGEN_COSYVOICE_MODEL
point at a checkout and CosyVoice2-0.5B.
"""

from __future__ import annotations

import multiprocessing
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
    LOCK_NAME,
    CosyVoice2Options,
    CosyVoice2TTS,
    actors_per_gpu,
    check_prompt,
    detect_prompt_api,
    estimate_words,
    speech_bounds,
)
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


def _checkout(root: Path, new_api: bool, with_vllm: bool = False) -> tuple[Path, Path]:
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


@pytest.fixture
def isolated_imports(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    real_vllm = sys.modules.pop("vllm", None)  # so a stand-in `vllm` can be imported

    def ours(m: str) -> bool:
        return m == "cosyvoice" or m.startswith("cosyvoice.")

    # the installed upstream package (the cosyvoice extra), if a test imported it: set aside
    real = {m: sys.modules.pop(m) for m in [m for m in sys.modules if ours(m)]}
    yield
    for name in [m for m in sys.modules if ours(m)]:
        del sys.modules[name]
    sys.modules.update(real)
    sys.modules.pop("vllm", None)
    if real_vllm is not None:
        sys.modules["vllm"] = real_vllm


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


def _load_in_child(repo: str, model: str, barrier) -> None:
    """One actor starting up: build the backend and load with TensorRT on (a load that writes files)."""
    barrier.wait(timeout=60)
    CosyVoice2TTS(CosyVoice2Options(repo_path=repo, model_dir=model, load_trt=True))._load()


def test_loads_that_build_files_take_turns_across_processes(tmp_path: Path) -> None:
    repo, model = _checkout(tmp_path, new_api=True)
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
    repo, model = _checkout(tmp_path, new_api=True, with_vllm=True)
    opts = CosyVoice2Options(
        repo_path=str(repo), model_dir=str(model), load_vllm=True, vllm_gpu_memory_utilization=0.15
    )
    b = CosyVoice2TTS(opts)
    (r,) = b.synthesize([TTSRequest("k", "How are you today?", _speaker(tmp_path))])
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
    repo, model = _checkout(tmp_path, new_api=True, with_vllm=True)
    (model / "bind_early").write_text("")  # this checkout's load_vllm holds vllm.EngineArgs from import
    opts = CosyVoice2Options(repo_path=str(repo), model_dir=str(model), load_vllm=True)
    with pytest.raises(RuntimeError, match="vllm_gpu_memory_utilization=0.2 was not applied"):
        CosyVoice2TTS(opts).synthesize([TTSRequest("k", "Hi there.", _speaker(tmp_path))])


@pytest.mark.parametrize("new_api", [True, False])
def test_speaker_cache_is_a_bounded_lru(tmp_path: Path, isolated_imports, new_api: bool) -> None:
    repo, model = _checkout(tmp_path, new_api)
    opts = CosyVoice2Options(
        repo_path=str(repo), model_dir=str(model), prompt_cache_size=2, prompt_cache_dir=str(tmp_path / "p")
    )
    b = CosyVoice2TTS(opts)
    params = _speaker(tmp_path).params
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
    repo, model = _checkout(tmp_path, new_api=False)
    src = repo / "cosyvoice" / "cli" / "cosyvoice.py"
    src.write_text(src.read_text().replace("def add_zero_shot_spk", "def _not_in_this_version"))
    b = CosyVoice2TTS(CosyVoice2Options(repo_path=str(repo), model_dir=str(model)))
    with pytest.raises(RuntimeError, match=r"no CosyVoice2\.add_zero_shot_spk.*9fea0f0"):
        b.synthesize([TTSRequest("k", "Hi there.", _speaker(tmp_path))])
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
