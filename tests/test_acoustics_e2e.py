"""The room and noise example recipes, built small end to end: they validate,
their cuts record the room and the noise, and a room build is byte-identical
when repeated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from e2e_support import SMALL

from datagen.config import load_recipe
from datagen.executors.runner import run
from datagen.io.shar import load_cuts
from datagen.io.validate import validate

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
FEW = ["dialogues=4", "executor.shard_size=2", "mix={qa: 1, barge_in_third_party: 1, backchannel: 1}"]
TIMELINE_DIR = ROOT / "tests" / "timeline"


def _recipe(name: str, *extra: str):
    return load_recipe(ROOT / "recipes" / "examples" / f"{name}.yaml", SMALL + FEW + list(extra))


def _build(recipe, out: Path) -> list:
    stats = run(recipe, out=str(out), executor="local", quiet=True)
    assert stats["complete"] and stats["kept"] >= 2, stats
    rep = validate(out)
    assert rep.ok, rep.problems[:5]
    return sorted(load_cuts(out), key=lambda c: c.id)


def test_room_recipe_builds_validates_records_rooms_and_repeats_bytes(tmp_path):
    a = tmp_path / "a"
    cuts = _build(_recipe("rooms"), a)
    for cut in cuts:
        mix = cut.custom["mix"]
        room = mix["room"]
        assert mix["echo"] and room["kind"] == "simulated"
        assert len(room["dims_m"]) == 3 and 0.2 <= room["rt60_s"] <= 0.7
        assert {"mic", "loudspeaker", "user", "third_party"} <= set(room["positions_m"])
    assert len({str(c.custom["mix"]["room"]["dims_m"]) for c in cuts}) == len(cuts)  # one room each
    b = tmp_path / "b"
    run(_recipe("rooms"), out=str(b), executor="local", quiet=True)
    files = sorted(p.name for p in (a / "shar").iterdir())
    assert files == sorted(p.name for p in (b / "shar").iterdir())
    for name in files:
        assert (a / "shar" / name).read_bytes() == (b / "shar" / name).read_bytes(), name


def test_noise_folder_recipe_builds_validates_and_records_noise(tmp_path):
    import sys

    sys.path.insert(0, str(TIMELINE_DIR))
    from acoustics_support import write_noise_folder

    folder = write_noise_folder(tmp_path)
    recipe = _recipe(
        "noise_folder",
        "timeline.noise.prob=1.0",
        f"timeline.noise.files=[{folder}]",
        f"timeline.noise.babble=[{folder / 'speech'}]",
    )
    cuts = _build(recipe, tmp_path / "out")
    kinds = set()
    for cut in cuts:
        mix = cut.custom["mix"]
        assert mix["noise"] and mix["noise_kind"] in ("file", "babble") and 5.0 <= mix["snr_db"] <= 25.0
        assert mix["noise_ids"]
        kinds.add(mix["noise_kind"])
        if mix["noise_kind"] == "babble":
            assert 3 <= mix["babble_talkers"] == len(mix["noise_ids"]) <= 7
        audio = cut.load_audio()
        assert np.isfinite(audio).all()
    assert kinds  # at least one kind drawn; which ones depends on the seed
