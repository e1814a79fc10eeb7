"""Recorded noise and babble from local folders and Lhotse manifests; bad sources."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from acoustics_support import write_noise_folder, write_recording_manifest
from tl_support import SR, Turn, quiet_cfg, voiced

from datagen.config import RecipeError, recipe_from_dict
from datagen.io.validate import check_mix_meta
from datagen.sources.audio_pool import check_pool, load_pool
from datagen.timeline.mix import check_sources, render
from datagen.timeline.noise import loop_crop
from datagen.timeline.place import place


def _mix(noise: dict, seed: int = 4):
    vd = voiced([Turn("user", "where is Paris"), Turn("assistant", "Paris is " * 10)], {"t0": 1.2, "t1": 5.0})
    cfg = quiet_cfg(noise={"prob": 1.0, "snr_db": (15.0, 15.0), **noise})
    check_sources(cfg)
    tl = place(vd, cfg, np.random.default_rng(3))
    return render(vd, tl, cfg, SR, np.random.default_rng(seed))


def _snr(mix) -> float:
    active = np.abs(mix.speech0) > 1e-4
    s = np.sqrt(np.mean(np.square(mix.speech0[active], dtype=np.float64)))
    return 20 * np.log10(s / np.sqrt(np.mean(np.square(mix.interference, dtype=np.float64))))


def test_loop_crop_wraps_from_a_random_offset():
    x = np.arange(5.0)
    y = loop_crop(x, 12, np.random.default_rng(0))
    assert len(y) == 12 and set(np.diff(y)) <= {1.0, -4.0} and set(y) == set(x)


def test_noise_from_a_folder_is_recorded_at_its_snr(tmp_path):
    folder = write_noise_folder(tmp_path)
    ids = {c.id for c in load_pool((str(folder),), "t")}
    assert ids == {"fan", "hum", "speech/talker0", "speech/talker1", "speech/talker2"}
    seen = set()
    for seed in range(6):
        mix = _mix({"kinds": ["file"], "files": [str(folder)]}, seed)
        assert mix.meta["noise_kind"] == "file" and mix.meta["snr_db"] == 15.0
        assert len(mix.meta["noise_ids"]) == 1 and mix.meta["noise_ids"][0] in ids
        assert abs(_snr(mix) - 15.0) < 0.2
        assert check_mix_meta(mix.meta) == []
        seen |= set(mix.meta["noise_ids"])
    assert len(seen) >= 2
    again = _mix({"kinds": ["file"], "files": [str(folder)]}, 5)
    assert np.array_equal(again.audio, mix.audio) and again.meta == mix.meta


def test_babble_sums_several_talkers(tmp_path):
    folder = write_noise_folder(tmp_path)
    mix = _mix({"kinds": ["babble"], "babble": [str(folder / "speech")], "babble_talkers": (4, 4)})
    assert mix.meta["noise_kind"] == "babble" and mix.meta["babble_talkers"] == 4
    assert len(mix.meta["noise_ids"]) == 4 and set(mix.meta["noise_ids"]) <= {"talker0", "talker1", "talker2"}
    assert abs(_snr(mix) - 15.0) < 0.2


def test_musan_style_manifests(tmp_path):
    folder = write_noise_folder(tmp_path)
    corpus = tmp_path / "musan_manifests"
    corpus.mkdir()
    write_recording_manifest(folder / "speech", corpus / "musan_recordings_speech.jsonl.gz")
    noise_only = tmp_path / "noise_only"
    noise_only.mkdir()
    shutil.copy(folder / "hum.wav", noise_only / "hum.wav")
    write_recording_manifest(noise_only, corpus / "musan_recordings_noise.jsonl.gz")
    # one manifest file, a folder of manifests (all parts), the folder's speech part for babble
    assert [c.id for c in load_pool((str(corpus / "musan_recordings_noise.jsonl.gz"),), "t")] == ["hum"]
    assert len(load_pool((str(corpus),), "t")) == 4
    mix = _mix({"kinds": ["babble"], "babble": [str(corpus)], "babble_talkers": (3, 3)})
    assert set(mix.meta["noise_ids"]) <= {"talker0", "talker1", "talker2"}
    mix = _mix({"kinds": ["file"], "files": [str(corpus / "musan_recordings_noise.jsonl.gz")]})
    assert mix.meta["noise_ids"] == ["hum"] and abs(_snr(mix) - 15.0) < 0.2


def test_bad_sources_fail_at_run_start_naming_the_path(tmp_path):
    with pytest.raises(RecipeError, match="does not exist"):
        check_pool([str(tmp_path / "nope")], "timeline.noise.files")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RecipeError, match="no audio files"):
        check_pool([str(tmp_path / "empty")], "timeline.noise.files")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.wav").write_bytes(b"RIFF not really a wave file")
    with pytest.raises(RecipeError, match="cannot read audio file .*broken.wav"):
        check_pool([str(bad)], "timeline.noise.files")
    (tmp_path / "junk.jsonl").write_text("{not json\n")
    with pytest.raises(RecipeError, match="not a Lhotse RecordingSet"):
        check_pool([str(tmp_path / "junk.jsonl")], "timeline.room.rirs")
    cfg = quiet_cfg(noise={"prob": 0.5, "kinds": ["babble"], "babble": [str(tmp_path / "gone")]})
    with pytest.raises(RecipeError, match="timeline.noise.babble: .*gone does not exist"):
        check_sources(cfg)


def test_the_runner_checks_sources_before_any_work(tmp_path):
    from e2e_support import small_recipe

    from datagen.executors.runner import run

    r = small_recipe("timeline.noise.kinds=[file]", f"timeline.noise.files=[{tmp_path / 'missing'}]")
    with pytest.raises(RecipeError, match="timeline.noise.files: .*missing does not exist"):
        run(r, out=str(tmp_path / "out"), executor="local", quiet=True)
    assert not (tmp_path / "out" / "shar").exists()


@pytest.mark.parametrize(
    "noise, fragment",
    [
        ({"kinds": ["file"]}, "noise kind 'file' needs noise.files"),
        ({"kinds": ["babble"]}, "noise kind 'babble' needs noise.babble"),
        ({"babble_talkers": [0, 3]}, "babble_talkers"),
        ({"kinds": ["rain"]}, "timeline.noise.kinds"),
    ],
)
def test_bad_noise_config_fails_at_recipe_load(noise, fragment):
    with pytest.raises(RecipeError, match="timeline.noise") as e:
        recipe_from_dict({"name": "x", "timeline": {"noise": noise}})
    assert fragment in str(e.value)


def test_validate_flags_malformed_room_and_noise_records():
    good_room = {"kind": "simulated", "dims_m": [4, 3, 2.5], "rt60_s": 0.3, "positions_m": {"mic": [1, 1, 1]}}
    assert check_mix_meta({"noise": True, "noise_kind": "pink", "snr_db": 12.0, "room": good_room}) == []
    assert check_mix_meta({"echo": True, "echo_gain": 0.2}) == []  # a corpus from before rooms were recorded
    problems = check_mix_meta(
        {
            "noise": True,
            "noise_kind": "file",
            "snr_db": float("nan"),
            "room": {**good_room, "positions_m": {"user": [5, 1, 1]}},
        }
    )
    assert any("SNR" in p for p in problems) and any("source ids" in p for p in problems)
    assert any("user" in p and "outside the room" in p for p in problems)
    assert check_mix_meta({"noise": True, "noise_kind": "rain", "snr_db": 3}) == ["unknown noise kind 'rain'"]
    assert check_mix_meta({"room": {"kind": "measured"}}) == ["measured room without its RIR ids"]
    assert check_mix_meta({"room": {"kind": "cave"}}) == ["unknown room kind 'cave'"]
