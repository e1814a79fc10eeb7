"""CosyVoice2's own code under our backend, on random weights at real shapes.

The `cosyvoice` extra installs upstream's code (PyPI cosyvoice-minicpmo 0.1.0,
FunAudioLLM/CosyVoice at 46dfe04); `bench.cosyvoice2_model` makes the `tiny`
model folder upstream's `CosyVoice2(model_dir)` loads unchanged, and
`bench.libriheavy_prompts` a LibriHeavy-format prompt manifest. Everything
below runs upstream's classes: its frontend (Whisper log-mel, the ONNX speech
tokenizer and speaker model, the Qwen tokenizer), its Qwen2 LLM decode, flow
matching and HiFT. The stand-in tests (test_cosyvoice2.py) keep covering the
path prompt API and the vLLM options, which this installed code does not have.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cosyvoice.cli.cosyvoice", reason="the cosyvoice extra (make setup installs it)")

from datagen.backends.tts.base import Speaker, TTSRequest  # noqa: E402
from datagen.backends.tts.cosyvoice2 import CosyVoice2Options, CosyVoice2TTS, detect_prompt_api  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipes" / "examples" / "cosyvoice2_random.yaml"


@pytest.fixture(scope="session")
def made(tmp_path_factory) -> dict[str, Path]:
    """The tiny random-weight model folder and a prompt manifest, made once per session."""
    from bench.cosyvoice2_model import build
    from bench.libriheavy_prompts import write_prompts

    root = tmp_path_factory.mktemp("cosyvoice2")
    model = build("tiny", root / "model")
    manifest = write_prompts(root / "prompts")
    return {"root": root, "model": model, "manifest": manifest, "audio_root": root / "prompts"}


@pytest.fixture(scope="session")
def backend(made) -> CosyVoice2TTS:
    """One loaded backend for the in-process tests (a load costs seconds)."""
    b = CosyVoice2TTS(_options(made, prompt_cache_size=2))
    b._load()
    return b


def _options(made: dict[str, Path], **over) -> CosyVoice2Options:
    kw = dict(
        model_dir=str(made["model"]),
        manifest=str(made["manifest"]),
        audio_root=str(made["audio_root"]),
        prompt_cache_dir=str(made["root"] / "prompt_cache"),
        gpus_per_worker=0,
        min_prompt_s=3.0,
        max_prompt_s=4.0,
    )
    kw.update(over)
    return CosyVoice2Options(**kw)


def test_upstream_classes_load_the_made_folder(backend: CosyVoice2TTS) -> None:
    from cosyvoice.cli.cosyvoice import CosyVoice2
    from cosyvoice.cli.model import CosyVoice2Model
    from cosyvoice.llm.llm import Qwen2LM

    m = backend._model
    assert isinstance(m, CosyVoice2) and isinstance(m.model, CosyVoice2Model)
    assert isinstance(m.model.llm, Qwen2LM)  # put back by restore_llm from llm.pt
    assert m.sample_rate == 24000
    # the installed code takes the prompt as a 16 kHz tensor, and has no text normaliser
    assert detect_prompt_api(m.inference_zero_shot) == "tensor" == backend._api
    assert backend._text_kw == {"text_frontend": False}


def test_voices_speakers_and_evicts_them_from_the_real_spk2info(backend: CosyVoice2TTS) -> None:
    pool = backend.speakers()
    assert len(pool) >= 3 and all(s.backend == "cosyvoice2" for s in pool)
    a, b, c = pool[:3]
    spk2info = backend._model.frontend.spk2info
    for s in (a, b):
        (r,) = backend.synthesize([TTSRequest(f"k-{s.id}", "Where is the station?", s, seed=3)])
        assert r.error == "" and r.sample_rate == 24000, r.error
        assert r.timing_source == "estimate" and [w.text for w in r.words] == "Where is the station?".split()
        audio = r.audio
        # the made model's level (bench/cosyvoice2_model.py): well above the -45 dBFS silence check
        assert 20 * np.log10(np.sqrt(np.mean(audio**2))) > -35 and np.abs(audio).max() < 0.99
    assert set(spk2info) == {a.id, b.id}
    # upstream's frontend_zero_shot reads the cached prompt features by id
    assert {"llm_prompt_speech_token", "flow_embedding", "prompt_speech_feat"} <= set(spk2info[a.id])
    (r,) = backend.synthesize([TTSRequest("k-c", "Where is the station?", c, seed=3)])
    assert r.error == ""
    assert set(spk2info) == {b.id, c.id}  # a, least recently used, left the real spk2info
    (r2,) = backend.synthesize([TTSRequest("k-a", "Where is the station?", a, seed=3)])
    assert r2.error == "" and set(spk2info) == {c.id, a.id}  # re-added from its prompt


def test_same_seed_same_samples(backend: CosyVoice2TTS) -> None:
    spk = backend.speakers()[0]
    req = TTSRequest("k", "Tell me about the moon.", spk, seed=11)
    (x,), (y,) = backend.synthesize([req]), backend.synthesize([req])
    assert x.error == y.error == "" and np.array_equal(x.audio, y.audio)


def test_missing_or_unreadable_prompt_is_a_bad_prompt_reject(backend: CosyVoice2TTS, tmp_path: Path) -> None:
    """A missing file is caught before the model; an unreadable one when the prompt is read
    for upstream's add_zero_shot_spk. Both are the request's reject, not the batch's crash."""
    spk = backend.speakers()[0]
    junk = tmp_path / "junk.flac"
    junk.write_bytes(b"not audio at all" * 100)
    gone = Speaker(spk.id + "-gone", "cosyvoice2", {**spk.params, "prompt_wav": str(tmp_path / "none.flac")})
    bad = Speaker(spk.id + "-junk", "cosyvoice2", {**spk.params, "prompt_wav": str(junk)})
    r_gone, r_bad = backend.synthesize([TTSRequest("a", "Hello there.", gone), TTSRequest("b", "Hi.", bad)])
    assert r_gone.audio is None and r_gone.error.startswith("bad_prompt: prompt audio not found")
    assert r_bad.audio is None and r_bad.error.startswith("bad_prompt: "), r_bad.error
    assert bad.id not in backend._model.frontend.spk2info


@pytest.mark.parametrize("name", ["flow.pt", "speech_tokenizer_v2.onnx", "CosyVoice-BlankEN/config.json"])
def test_missing_model_file_is_a_clear_error(made, tmp_path: Path, name: str) -> None:
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(made["model"], folder)
    (folder / name).unlink()
    b = CosyVoice2TTS(_options(made, model_dir=str(folder)))
    spk = b.speakers()[0]
    with pytest.raises(FileNotFoundError, match=f"lacks {name}"):
        b.synthesize([TTSRequest("a", "Hello.", spk)])


def _load_in_child(opts_json: str, trace: str) -> None:
    """Load through our backend with a build flag; record when upstream's
    CosyVoice2.__init__ ran (it runs inside the backend's lock)."""
    import time

    import cosyvoice.cli.cosyvoice as cli

    real = cli.CosyVoice2.__init__

    def timed(self, *a, **k):
        t0 = time.time()
        real(self, *a, **k)
        time.sleep(0.3)  # a build would write here
        Path(trace, str(os.getpid())).write_text(f"{t0} {time.time()}")

    cli.CosyVoice2.__init__ = timed
    CosyVoice2TTS(CosyVoice2Options.model_validate_json(opts_json))._load()


@pytest.mark.slow
def test_loads_with_build_flags_take_the_lock_in_turn(made, tmp_path: Path) -> None:
    """load_trt asks for a one-time build in the model folder; on CPU upstream turns it
    off, but the backend still holds the folder's lock around upstream's load."""
    trace = tmp_path / "trace"
    trace.mkdir()
    opts = _options(made, load_trt=True).model_dump_json()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_load_in_child, args=(opts, str(trace))) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
        assert p.exitcode == 0
    spans = sorted(tuple(map(float, f.read_text().split())) for f in trace.iterdir())
    assert len(spans) == 2
    (s0, e0), (s1, e1) = spans
    assert e0 <= s1, f"the two loads overlapped: {spans}"


def _recipe(made: dict[str, Path], *extra: str):
    from datagen.config import load_recipe

    voice = "tts.voices.{}.options.{}={}"
    sets = []
    for role in ("assistant", "user", "third_party"):
        sets += [
            voice.format(role, "model_dir", made["model"]),
            voice.format(role, "manifest", made["manifest"]),
            voice.format(role, "audio_root", made["audio_root"]),
            voice.format(role, "prompt_cache_dir", made["root"] / "prompt_cache"),
        ]
    return load_recipe(RECIPE, sets + list(extra))


@pytest.mark.slow
def test_recipe_builds_a_valid_corpus_and_ray_matches_local(made, tmp_path: Path, ray_tmp) -> None:
    """The example recipe through upstream's inference: `datagen validate` passes, every
    planned dialogue is kept or rejected with a reason; 2 CPU Ray actors give the same bytes."""
    from e2e_support import same_corpus_as

    from datagen.executors.runner import run
    from datagen.io.validate import validate

    recipe = _recipe(made, "executor.shard_size=2")  # two shards: one for each Ray actor
    local = tmp_path / "local"
    stats = run(recipe, out=str(local), executor="local", quiet=True)
    assert stats["complete"] and stats["kept"] >= 2, stats
    assert stats["kept"] + stats["rejected"] == recipe.dialogues
    rep = validate(local)
    assert rep.ok, rep.problems[:5]
    rejects = local / "rejects.jsonl"
    for line in rejects.read_text().splitlines() if rejects.is_file() else []:
        assert json.loads(line).get("reason"), line
    ray = tmp_path / "ray"
    stats = run(recipe, out=str(ray), executor="ray", workers=2, quiet=True)
    assert stats["complete"], stats
    same_corpus_as(local, ray)
