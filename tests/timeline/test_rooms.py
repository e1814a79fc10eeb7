"""Rooms: simulated shoeboxes and measured responses on the echo and speech paths."""

from __future__ import annotations

import time

import numpy as np
import pytest
from acoustics_support import write_recording_manifest, write_rir_folder
from tl_support import SR, Overlay, Turn, quiet_cfg, voiced

from datagen.config import RecipeError, RoomConfig, recipe_from_dict
from datagen.io.validate import check_mix_meta
from datagen.timeline.checks import check_audible
from datagen.timeline.mix import render
from datagen.timeline.place import place
from datagen.timeline.rng import rng_for
from datagen.timeline.rooms import PRE, SOURCES, draw_room


def _dialogue():
    vd = voiced(
        [Turn("user", "where is Paris"), Turn("assistant", "Paris is " * 10, overlays=(Overlay(
            "barge_in", "third_party", "stop now", 6, "stop"),))],
        {"t0": 1.2, "t1": 5.0, "t1o0": 0.6},
    )  # fmt: skip
    return vd


def _render(cfg, seed=4):
    vd = _dialogue()
    tl = place(vd, cfg, np.random.default_rng(3))
    return tl, render(vd, tl, cfg, SR, np.random.default_rng(seed), rng_for(seed, "room"))


def _rt60(rir: np.ndarray) -> float:
    """pyroomacoustics' own Schroeder-curve estimate, extrapolated from a 20 dB decay."""
    import pyroomacoustics as pra

    return float(pra.experimental.measure_rt60(rir, fs=SR, decay_db=20))


def test_simulated_room_is_deterministic_per_seed_and_recorded():
    cfg = RoomConfig()
    a = draw_room(cfg, SR, rng_for(11, "room"), list(SOURCES))
    b = draw_room(cfg, SR, rng_for(11, "room"), list(SOURCES))
    c = draw_room(cfg, SR, rng_for(12, "room"), list(SOURCES))
    assert a.meta == b.meta and a.meta != c.meta
    assert all(np.array_equal(a.rirs[s], b.rirs[s]) for s in SOURCES)
    m = a.meta
    dims = np.array(m["dims_m"])
    assert m["kind"] == "simulated" and cfg.rt60_s[0] <= m["rt60_s"] <= cfg.rt60_s[1]
    assert 0 < m["absorption"] < 1 and 0 < m["max_order"] <= cfg.max_order
    assert set(m["rt60_measured_s"]) == set(SOURCES) and all(0 < t < 2 for t in m["rt60_measured_s"].values())
    pos = {k: np.array(v) for k, v in m["positions_m"].items()}
    assert set(pos) == {"mic", *SOURCES}
    for p in pos.values():
        assert (p >= cfg.wall_margin_m - 1e-3).all() and (p <= dims - cfg.wall_margin_m + 1e-3).all()
    d_ls = np.linalg.norm(pos["loudspeaker"] - pos["mic"])
    assert cfg.loudspeaker_mic_m[0] - 1e-3 <= d_ls <= cfg.loudspeaker_mic_m[1] + 1e-3
    assert np.linalg.norm(pos["user"] - pos["third_party"]) >= cfg.min_spacing_m - 1e-3
    for s in SOURCES:  # the direct path first (a far talker's reflections may sum higher later), unit energy
        r = a.rirs[s]
        assert int(np.argmax(np.abs(r[: 2 * PRE]))) == PRE and np.isclose(np.sum(r**2), 1.0)
    assert int(np.argmax(np.abs(a.rirs["loudspeaker"]))) == PRE  # beside the microphone: the loudest
    assert check_mix_meta({"room": m}) == []
    # drawing fewer responses does not change the room
    one = draw_room(cfg, SR, rng_for(11, "room"), ["loudspeaker"]).meta
    assert {k: v for k, v in one.items() if k != "rt60_measured_s"} == {
        k: v for k, v in a.meta.items() if k != "rt60_measured_s"
    }


def test_energy_decays_as_the_rt60_says_and_the_cost_is_small():
    small = {"length_m": (4.0, 4.0), "width_m": (3.5, 3.5), "height_m": (2.8, 2.8), "max_order": 60}
    measured = {}
    for rt60 in (0.25, 0.6):
        room = draw_room(RoomConfig(**small, rt60_s=(rt60, rt60)), SR, rng_for(5, "room"), ["loudspeaker"])
        measured[rt60] = _rt60(room.rirs["loudspeaker"])
        assert 0.6 * rt60 < measured[rt60] < 1.5 * rt60, measured
        recorded = room.meta["rt60_measured_s"]["loudspeaker"]  # what the cut says it measured
        assert abs(recorded - measured[rt60]) < 0.15 * measured[rt60], (recorded, measured)
    assert measured[0.25] < measured[0.6]
    t = time.perf_counter()  # the default cap: three responses per dialogue
    rooms = [draw_room(RoomConfig(), SR, rng_for(seed, "room"), list(SOURCES)) for seed in range(3)]
    assert (time.perf_counter() - t) / 3 < 2.0  # tens of ms idle; generous for a shared CI box
    for room in rooms:  # the default image-order cap keeps the drawn RT60, roughly
        ratio = room.meta["rt60_measured_s"]["loudspeaker"] / room.meta["rt60_s"]
        assert 0.6 < ratio < 1.5, room.meta


def test_room_echo_differs_from_the_exponential_one_and_keeps_the_delay():
    base = {"prob": 1.0, "gain": (0.3, 0.3), "delay_s": (0.2, 0.2)}
    tl, room = _render(quiet_cfg(echo=base))
    _, expo = _render(quiet_cfg(echo=base, room={"kind": "exponential"}))
    assert room.meta["room"]["kind"] == "simulated" and expo.meta["room"]["kind"] == "exponential"
    assert room.meta["echo_delay_s"] == expo.meta["echo_delay_s"] == 0.2
    assert not np.allclose(room.interference, expo.interference, atol=1e-3)
    # the echo's direct path arrives at the configured delay: it is the dry assistant, shifted and scaled
    dry = np.zeros_like(room.interference)
    k = int(0.2 * SR)
    dry[k:] = room.audio[1][:-k] * 0.3
    i = int(np.argmax(np.abs(dry)))
    seg = slice(i - 400, i + 400)
    lag = np.argmax(np.correlate(room.interference[seg], dry[seg], "full")) - (800 - 1)
    assert abs(lag) <= 2
    assert room.audio.shape == expo.audio.shape and np.array_equal(room.audio[1], expo.audio[1])


def test_speech_through_the_room_reverberates_and_stays_audible():
    dry_tl, dry = _render(quiet_cfg())
    tl, wet = _render(quiet_cfg(room={"speech": True}))
    assert "room" in wet.meta and "room" not in dry.meta
    assert not np.allclose(wet.speech0, dry.speech0, atol=1e-3)
    user = next(s for s in tl.segments if s.role == "user")
    after = slice(int(user.end * SR) + 80, int((user.end + 0.15) * SR))
    assert np.sum(wet.speech0[after] ** 2) > 10 * np.sum(dry.speech0[after] ** 2)  # the room's tail
    for seg in tl.segments:
        if seg.channel == 0:
            assert check_audible(wet.audio[0], SR, seg.start, seg.end) is None


def test_measured_rirs_from_a_folder_and_a_manifest(tmp_path):
    folder = write_rir_folder(tmp_path)
    cfg = RoomConfig(kind="measured", rirs=[str(folder)])
    room = draw_room(cfg, SR, rng_for(1, "room"), list(SOURCES))
    assert set(room.meta["rir_ids"]) == set(SOURCES) and set(room.meta["rir_ids"].values()) <= {
        "hall",
        "office",
    }
    for s in SOURCES:  # 8 kHz files resampled to 16 kHz: the 0.3/0.5 s tails are 4800/8000 samples long
        r = room.rirs[s]
        assert int(np.argmax(np.abs(r))) == PRE
        assert min(abs(len(r) - 4800 - PRE), abs(len(r) - 8000 - PRE)) < 40
    again = draw_room(cfg, SR, rng_for(1, "room"), list(SOURCES))
    assert again.meta == room.meta
    manifest = write_recording_manifest(folder, tmp_path / "rirs_recordings.jsonl.gz")
    # the manifest lists only wav files: 'hall'
    via = draw_room(RoomConfig(kind="measured", rirs=[str(manifest)]), SR, rng_for(1, "room"), ["user"])
    assert via.meta["rir_ids"] == {"user": "hall"}
    _, mix = _render(quiet_cfg(echo={"prob": 1.0}, room={"kind": "measured", "rirs": [str(folder)]}))
    assert mix.meta["room"]["kind"] == "measured" and "loudspeaker" in mix.meta["room"]["rir_ids"]


@pytest.mark.parametrize(
    "room, fragment",
    [
        ({"kind": "measured"}, "room.kind=measured needs room.rirs"),
        ({"kind": "exponential", "speech": True}, "room.speech needs a simulated or measured room"),
        ({"length_m": [0.8, 3]}, "twice wall_margin_m"),
        ({"rt60_s": [0.5, 0.2]}, "rt60_s must be a range"),
    ],
)
def test_bad_room_config_fails_at_recipe_load(room, fragment):
    with pytest.raises(RecipeError, match="timeline.room") as e:
        recipe_from_dict({"name": "x", "timeline": {"room": room}})
    assert fragment in str(e.value)
