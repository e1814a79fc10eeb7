"""A cheap recipe for the fault tests (every run in them is a real `datagen run`),
and the comparisons they make between a disturbed run and an undisturbed one."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from e2e_support import ROOT

from datagen.config import load_recipe

# One task, espeak-ng voices, no ASR, one dialogue a shard: ~1 s a shard, so a
# run has shards enough to kill it between and inside them.
FAST = [
    "dialogues=6",
    "executor.shard_size=1",
    "mix={qa: 1}",
    "qc.asr=none",
    "qc.trim=energy",
    "tts.voices.assistant.backend=espeak",
]


def fast_recipe(*extra: str):
    return load_recipe(ROOT / "recipes" / "tiny.yaml", FAST + list(extra))


def run_args(out: str, *extra: str, executor: str = "local") -> list[str]:
    args = [sys.executable, "-m", "datagen", "run", str(ROOT / "recipes" / "tiny.yaml"), "--out", out]
    args += ["--executor", executor]
    for s in FAST + list(extra):
        args += ["--set", s]
    return args


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a `datagen` subprocess: this tree first on the path."""
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def corpus_files(files: dict[str, bytes]) -> dict[str, bytes]:
    """What a reader of the corpus sees: Shar files, index and rejects byte for byte,
    stats.json without the seconds each stage took (wall time differs run to run)."""
    keep = {k: v for k, v in files.items() if k.startswith("shar/") or k in ("index.jsonl", "rejects.jsonl")}
    stats = json.loads(files["stats.json"])
    stats["counters"] = {k: v for k, v in stats["counters"].items() if not k.startswith("seconds_")}
    keep["stats.json"] = json.dumps(stats, sort_keys=True).encode()
    return keep


def folder_files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def diff(got: dict[str, bytes], want: dict[str, bytes]) -> list[str]:
    """Which files differ (for the assertion message)."""
    keys = sorted(set(got) | set(want))
    return [k for k in keys if got.get(k) != want.get(k)]
