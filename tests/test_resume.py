"""Kill a run (SIGKILL) at several points, rerun the same command, and get
exactly the corpus an uninterrupted run makes: no redone shards, no duplicates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from e2e_support import ROOT, SMALL, small_recipe

from datagen.executors.runner import run
from datagen.executors.shards import RunPaths, finalize
from datagen.io.shar import load_cuts
from datagen.io.validate import validate

pytestmark = pytest.mark.slow


def _start(out: Path) -> subprocess.Popen:
    args = [
        sys.executable,
        "-m",
        "datagen",
        "run",
        str(ROOT / "recipes" / "tiny.yaml"),
        "--out",
        str(out),
        "--executor",
        "local",
    ]
    for s in SMALL:
        args += ["--set", s]
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, "the run ended before the kill point"
        assert time.monotonic() < end, "kill point never reached"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _snapshot(out: Path) -> dict:
    cuts = sorted(load_cuts(out), key=lambda c: c.id)
    return {
        c.id: (c.load_labels().tobytes(), tuple(s.text for s in c.supervisions), c.load_audio().tobytes())
        for c in cuts
    }


def _committed(out: Path) -> dict[str, tuple[int, int]]:
    """Committed shards with their stats file's inode and mtime: a redone shard gets new ones."""
    shards = RunPaths(out).shards
    found = sorted(shards.glob("[0-9]*/stats.json")) if shards.exists() else []
    return {p.parent.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in found}


KILL_POINTS = {
    # mid-commit: a shard is being written to its temp folder
    "writing_a_shard": lambda out: RunPaths(out).shards.exists() and any(RunPaths(out).shards.glob(".tmp-*")),
    # between shards: one committed, the next in flight
    "after_one_shard": lambda out: len(_committed(out)) >= 1,
    "after_two_shards": lambda out: len(_committed(out)) >= 2,
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_kill_and_resume_gives_the_same_corpus(local_corpus, tmp_path, point):
    out = tmp_path / "killed"
    _kill_when(_start(out), lambda: KILL_POINTS[point](out))
    before = _committed(out)
    stats = run(small_recipe(), out=str(out), executor="local", quiet=True)
    after = _committed(out)
    # finished shards were not redone (same commit time), the rest were done once
    assert all(after[k] == v for k, v in before.items())
    assert stats["complete"] and stats["kept"] + stats["rejected"] == stats["planned"]
    got, want = _snapshot(out), _snapshot(local_corpus)
    assert list(got) == list(want)  # same ids, no duplicates
    for cid in want:
        assert got[cid] == want[cid], cid
    assert validate(out).ok


def test_finalize_completes_a_half_moved_corpus(local_corpus, tmp_path):
    """A kill inside finalize leaves some shard files moved and some not."""
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(local_corpus, out)
    paths = RunPaths(out)
    moved = sorted(paths.shar.glob("*.000001.*"))
    for f in moved[:2]:
        f.replace(paths.shard_dir(1) / f.name)  # as if the kill came mid-move
    (out / "stats.json").unlink()
    stats = finalize(
        paths,
        3,
        {"recipe": "tiny", "questions_loaded": 253, "questions_rejected": 0, "planned": 12, "rejects": []},
    )
    assert stats["complete"]
    assert _snapshot(out) == _snapshot(local_corpus)


def test_rerun_of_a_finished_corpus_does_nothing_new(local_corpus, tmp_path):
    import shutil

    out = tmp_path / "again"
    shutil.copytree(local_corpus, out)
    before = _committed(out)
    run(small_recipe(), out=str(out), executor="local", quiet=True)
    assert _committed(out) == before
    assert np.array_equal(sorted(_snapshot(out)), sorted(_snapshot(local_corpus)))


def test_other_recipe_into_the_same_folder_is_refused(local_corpus, tmp_path):
    import shutil

    from datagen.config import RecipeError

    out = tmp_path / "other"
    shutil.copytree(local_corpus, out)
    with pytest.raises(RecipeError, match="different recipe"):
        run(small_recipe("seed=1"), out=str(out), executor="local", quiet=True)
