"""`datagen run`: plan, shard, execute pending shards, finalize.

The output folder remembers the recipe it was made with (`_work/recipe.json`,
without executor settings, which do not change the corpus). Rerunning the
same command resumes: committed shards are skipped, the rest are (re)done,
and finalize rebuilds the corpus-level files. Running a different recipe
into a folder that holds another is an error rather than a silent mix.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from datagen.config import Recipe, RecipeError
from datagen.executors.shards import RunPaths, cut_shards, finalize, run_paths
from datagen.io.atomic import json_text, jsonl_text
from datagen.io.shar import reject_row
from datagen.io.store import StoreError, check_store, is_url
from datagen.sources.questions import load_questions
from datagen.stages.plan import plan_dialogues

DEFAULT_ROOT = "manifests"


def output_root() -> Path:
    return Path(os.environ.get("DATAGEN_OUTPUT_ROOT", DEFAULT_ROOT)).resolve()


def resolve_out(recipe: Recipe, out: str | None) -> Path | str:
    """An explicit --out is the user's choice (a folder, or a URL such as
    s3://bucket/prefix); a recipe's `out` must stay inside the output root
    (a recipe from elsewhere cannot write anywhere)."""
    if out and is_url(out):
        return out.rstrip("/")
    if out:
        return Path(out).resolve()
    root = output_root()
    rel = Path(recipe.out or recipe.name)
    target = (root / rel).resolve()
    if rel.is_absolute() or not target.is_relative_to(root):
        raise RecipeError(f"out: {recipe.out!r} points outside the output root {root}")
    return target


def fingerprint(recipe: Recipe) -> dict:
    data = recipe.model_dump(mode="json")
    data["executor"] = {"shard_size": recipe.executor.shard_size}
    if recipe.qc.dnsmos_min_ovrl is None:  # off, DNSMOS changes nothing: corpora made before it resume
        for key in ("dnsmos_min_ovrl", "dnsmos_roles"):
            data["qc"].pop(key, None)
    # Where the LLM server listens, and how patiently we talk to it, do not change the text:
    # `datagen serve-llm` picks a new free port per run, and its rerun must still resume.
    from datagen.backends.registry import llm_class

    for key in getattr(llm_class(recipe.llm.backend), "transport_options", ()):
        data["llm"]["options"].pop(key, None)
    return data


def _check_writable(paths: RunPaths) -> None:
    if paths.remote:  # a wrong bucket, endpoint or credentials: named, before any work
        try:
            check_store(paths.out)
        except StoreError as e:
            raise RecipeError(str(e)) from None
        return
    out = paths.out
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise RecipeError(f"output folder {out} is not writable: {e.strerror or e}") from None
    free = shutil.disk_usage(out).free
    if free < 50 * 2**20:
        raise RecipeError(f"output folder {out} has only {free // 2**20} MiB free; need at least 50 MiB")


def preflight(recipe: Recipe) -> None:
    """Every configured backend can run here, or a clear error before any work."""
    from datagen.backends.registry import make_llm, make_tts
    from datagen.timeline.mix import check_sources

    check_sources(recipe.timeline)  # local noise / RIR pools: there, not empty, readable
    if recipe.qc.enabled and recipe.qc.dnsmos_min_ovrl is not None:
        from datagen.qc.dnsmos import missing

        if why := missing():  # else every dialogue would be a qc_error reject
            raise RecipeError(f"qc.dnsmos_min_ovrl is set but {why}")
    make_llm(recipe.llm.backend, recipe.llm.options).preflight()
    for voice in recipe.tts.voices.values():
        make_tts(voice.backend, voice.options).preflight()


def prepare(recipe: Recipe, paths: RunPaths, fresh: bool = False):
    _check_writable(paths)
    if fresh:
        paths.clear()
    fp = fingerprint(recipe)
    old = paths.read_text("_work/recipe.json")
    if old is not None and json.loads(old) != fp:
        raise RecipeError(
            f"{paths.label} holds a corpus made with a different recipe; "
            "rerun with --fresh to replace it, or choose another --out"
        )
    paths.write_text("_work/recipe.json", json_text(fp))
    preflight(recipe)
    questions, q_rejects = load_questions(recipe.questions)
    if not questions:
        from collections import Counter

        paths.write_text("rejects.jsonl", jsonl_text(reject_row(r) for r in q_rejects))
        reasons = dict(Counter(r.reason for r in q_rejects))
        raise RecipeError(
            f"no usable questions: {len(q_rejects)} input rows rejected {reasons}; "
            f"see {paths.label}/rejects.jsonl"
        )
    plans = plan_dialogues(questions, recipe)
    driver = {
        "recipe": recipe.name,
        "questions_loaded": len(questions) + len(q_rejects),
        "questions_rejected": len(q_rejects),
        "planned": len(plans),
        # dialogues whose seed question an earlier one already used (ids end in -r1, -r2, ...)
        "questions_reused": max(len(plans) - len(questions), 0),
        "rejects": [reject_row(r) for r in q_rejects],
    }
    return plans, driver


class Progress:
    """One line per finished shard, with totals and an ETA (stderr)."""

    def __init__(self, total: int, already: int, quiet: bool = False):
        self.total, self.done, self.quiet = total, already, quiet
        self.start, self.new = time.monotonic(), 0
        self.kept = self.rejected = 0
        self.audio = 0.0

    def update(self, index: int, counters: dict) -> None:
        self.done += 1
        self.new += 1
        self.kept += counters.get("kept", 0)
        self.rejected += counters.get("rejected", 0)
        self.audio += counters.get("audio_seconds", 0.0)
        if self.quiet:
            return
        el = time.monotonic() - self.start
        eta = el / self.new * (self.total - self.done)
        print(
            f"[{self.done}/{self.total}] shard {index:06d} done · kept {self.kept} rejected {self.rejected} "
            f"· {self.audio / 60:.1f} min audio · {el:.0f}s elapsed, ~{eta:.0f}s left",
            file=sys.stderr,
            flush=True,
        )


def run(
    recipe: Recipe,
    out: str | None = None,
    executor: str | None = None,
    workers: int | None = None,
    fresh: bool = False,
    quiet: bool = False,
) -> dict:
    paths = run_paths(resolve_out(recipe, out))
    plans, driver = prepare(recipe, paths, fresh)
    shards = cut_shards(plans, recipe.executor.shard_size)
    committed = paths.done_indices()  # one listing: the completion markers
    pending = [s for s in shards if s.index not in committed]
    kind = executor or recipe.executor.kind
    n_workers = workers or recipe.executor.workers  # None: this machine's CPUs, or the Ray cluster's
    if not quiet:
        print(
            f"{recipe.name}: {len(plans)} dialogues in {len(shards)} shards; {len(shards) - len(pending)} "
            f"already done; running {len(pending)} on {kind}"
            + (f" with {n_workers} workers" if kind == "ray" and n_workers else "")
            + f" -> {paths.label}",
            file=sys.stderr,
            flush=True,
        )
    if not quiet and driver["questions_reused"]:
        print(
            f"note: {len(plans)} dialogues from {len(plans) - driver['questions_reused']} usable questions: "
            f"{driver['questions_reused']} reuse a question (their ids end in -r1, -r2, ...)",
            file=sys.stderr,
            flush=True,
        )
    progress = Progress(len(shards), len(shards) - len(pending), quiet)
    failed: list[dict] = []  # shards that failed every try (Ray): recorded, the run goes on
    if pending:
        if kind == "ray":
            from datagen.executors.ray_exec import iter_ray

            results = iter_ray(recipe, paths, pending, n_workers, quiet, failed)
        else:
            from datagen.executors.local import iter_local

            results = iter_local(recipe, paths, pending)
        for index, counters in results:
            progress.update(index, counters)
    driver["failed_shards"] = sorted(failed, key=lambda f: f["shard"])
    return finalize(paths, len(shards), driver)
