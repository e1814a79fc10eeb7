"""LibriHeavy prompt pool on a small generated manifest of the real shape.

The fixture mirrors `libriheavy_cuts_small.jsonl.gz`: MonoCuts that slice
long 16 kHz FLAC "chapters", written with lhotse itself, with relative
source paths (`download/librilight/...`) as in the released manifests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from datagen.sources.libriheavy import (
    load_prompt_pool,
    materialize_prompt,
    read_prompt,
    resample,
    resolve_audio_path,
    split_speakers,
)

SR = 16000


def _chapter(path: Path, seconds: float, freq: float) -> None:
    t = np.arange(int(seconds * SR)) / SR
    # a tone whose amplitude ramps with time: a slice's level tells where it came from
    audio = (0.05 + 0.4 * t / seconds) * np.sin(2 * np.pi * freq * t)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio.astype(np.float32), SR, format="FLAC")


def _cuts(tmp: Path) -> list:
    from lhotse import AudioSource, MonoCut, Recording, SupervisionSegment

    specs = {"100": 220.0, "200": 330.0, "300": 440.0}
    cuts = []
    for spk, freq in specs.items():
        rel = f"download/librilight/small/{spk}/book_{spk}/chapter_01.flac"
        _chapter(tmp / "librilight_root" / rel, 40.0, freq)
        rec = Recording(
            id=f"small/{spk}/book_{spk}/chapter_01",
            sources=[AudioSource(type="file", channels=[0], source=rel)],
            sampling_rate=SR,
            num_samples=40 * SR,
            duration=40.0,
        )
        # (start, duration): one too short, one too long, three usable
        for i, (start, dur) in enumerate([(0.5, 2.0), (3.0, 12.0), (16.0, 4.0), (21.0, 6.5), (29.0, 9.0)]):
            cid = f"{rec.id}_{i}"
            sup = SupervisionSegment(
                id=cid,
                recording_id=rec.id,
                start=0.0,
                duration=dur,
                channel=0,
                language="English",
                speaker=spk,
                custom={"texts": [f'Speaker {spk} says, "part {i}."', f"SPEAKER {spk} SAYS PART {i}"]},
            )
            cuts.append(
                MonoCut(id=cid, start=start, duration=dur, channel=0, supervisions=[sup], recording=rec)
            )
    return cuts


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    from lhotse import CutSet

    path = tmp_path / "libriheavy_cuts_small.jsonl.gz"
    CutSet.from_cuts(_cuts(tmp_path)).to_file(path)
    return path


def test_pool_picks_eligible_prompts_with_cased_text(manifest: Path, tmp_path: Path) -> None:
    pool = load_prompt_pool(manifest, audio_root=tmp_path / "librilight_root")
    assert [s.id for s in pool] == ["libriheavy-100", "libriheavy-200", "libriheavy-300"]
    for s in pool:
        p = s.params
        assert s.backend == "cosyvoice2"
        assert 3.0 <= p["duration"] <= 10.0
        assert Path(p["prompt_wav"]).is_file()  # resolved under audio_root
        assert p["prompt_text"].startswith(f"Speaker {p['speaker']} says")  # texts[0], cased
        assert p["lhotse_cut_id"].startswith(f"small/{p['speaker']}/")
        assert p["base"] == s.id  # one prompt per speaker: the id is the reader's base voice


def test_pool_is_deterministic_and_order_free(manifest: Path, tmp_path: Path) -> None:
    from lhotse import CutSet

    a = load_prompt_pool(manifest, tmp_path / "librilight_root", per_speaker=2)
    rev = tmp_path / "reversed.jsonl.gz"
    CutSet.from_cuts(list(reversed(list(CutSet.from_jsonl_lazy(manifest))))).to_file(rev)
    b = load_prompt_pool(rev, tmp_path / "librilight_root", per_speaker=2)
    assert a == b
    assert len(a) == 6 and len({s.params["lhotse_cut_id"] for s in a}) == 6
    assert load_prompt_pool(manifest, None, max_speakers=2) == load_prompt_pool(
        manifest, None, max_speakers=2
    )
    assert len(load_prompt_pool(manifest, None, max_speakers=2)) == 2


def test_audio_root_resolution(tmp_path: Path) -> None:
    f = tmp_path / "ll" / "small" / "1" / "a.flac"
    f.parent.mkdir(parents=True)
    f.write_bytes(b"x")
    # root points below the manifest's prefix: leading folders are dropped
    assert resolve_audio_path("download/librilight/small/1/a.flac", tmp_path / "ll") == f
    assert resolve_audio_path("/abs/x.flac", tmp_path) == Path("/abs/x.flac")
    assert resolve_audio_path("rel/x.flac", None) == Path("rel/x.flac")


def test_materialize_writes_only_the_slice_and_caches(manifest: Path, tmp_path: Path) -> None:
    spk = load_prompt_pool(manifest, tmp_path / "librilight_root")[0]
    out = materialize_prompt(spk, tmp_path / "prompts")
    info = sf.info(out)
    assert info.samplerate == SR and info.channels == 1
    assert info.duration == pytest.approx(spk.params["duration"], abs=1e-3)
    mtime = out.stat().st_mtime_ns
    assert materialize_prompt(spk, tmp_path / "prompts") == out and out.stat().st_mtime_ns == mtime
    # the slice comes from the right place: compare with reading the FLAC directly
    full, _ = sf.read(spk.params["prompt_wav"], dtype="float32")
    s = int(spk.params["start"] * SR)
    direct = full[s : s + info.frames]
    got, _ = sf.read(out, dtype="float32")
    assert np.abs(got - direct).max() < 1e-3  # PCM_16 quantisation only


def test_read_prompt_resamples(manifest: Path, tmp_path: Path) -> None:
    spk = load_prompt_pool(manifest, tmp_path / "librilight_root")[0]
    a24 = read_prompt(spk.params, 24000)
    assert len(a24) == pytest.approx(spk.params["duration"] * 24000, abs=2)
    x = np.sin(np.linspace(0, 100, 16000)).astype(np.float32)
    assert resample(x, 16000, 16000) is x or np.array_equal(resample(x, 16000, 16000), x)
    assert len(resample(x, 16000, 8000)) == 8000


def test_split_speakers_disjoint_and_stable(manifest: Path, tmp_path: Path) -> None:
    pool = load_prompt_pool(manifest, None, per_speaker=2)
    train, ev = split_speakers(pool, eval_share=0.2)
    tr_names = {s.params["speaker"] for s in train}
    ev_names = {s.params["speaker"] for s in ev}
    assert tr_names and ev_names and not tr_names & ev_names
    assert len(train) + len(ev) == len(pool)
    assert split_speakers(list(reversed(pool)), 0.2)[1] == list(reversed(ev))
    assert split_speakers(pool, 0.0) == (pool, [])
    with pytest.raises(ValueError):
        split_speakers(pool, 1.5)


def test_missing_manifest_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="LibriHeavy manifest"):
        load_prompt_pool(tmp_path / "nope.jsonl.gz")
