"""`datagen train select DPO_RUN --dev DIR`: which of a DPO run's checkpoints to keep,
chosen on held-out dialogues, never on the eval sets.

Why: DPO on a few hundred pairs can go past its best. Seed 1's 600-step SFT model,
given 92 "go on" pairs against 4 "stop" ones, was better than its SFT model after 10
of DPO's 30 steps and had lost most of its barge-in stops by step 30 (docs/trainer.md,
"Stop, or go on"). Reading that off the eval sets would be choosing on the test, so
the choice is made on a dev set built like the CI + CD eval sets from training
phrases and voices (recipes/dpo_dev.yaml): dialogues of its own seed, in neither the
training corpus nor the DPO pool, and sharing no question, phrase or voice with the
eval sets (tests/test_eval_split.py).

Every kept checkpoint of the run (set `save_every` below `max_steps` and
`keep_checkpoints` high enough), and the SFT model it started from (`dpo.init`, as
step 0), is streamed over the dev set and scored (datagen score's figures). The
chosen one misses the fewest parts of the bar of issue 25 against the SFT model
(judging/runs.bar: CI stop F1 +0.05 and precision up, early stops down a third, CD
F1 and turn-taking at most 0.02 lower); among those, the highest CI F1 + CD F1 +
turn-taking - early stops; among those, the fewest DPO steps. The SFT model misses
at least three parts against itself, so it is kept only when every DPO checkpoint
misses more, or as many with lower figures: DPO never hands on a model that the dev
set says is worse.

Written to OUT (default DPO_RUN/select): one error log and score per candidate (a
rerun streams only those missing, or whose weights or dev set changed: `<name>.source`),
`select.md`, `select.json`, `select.png`, and `model/`, a run folder holding a copy
of the chosen checkpoint, which every command that takes a run folder (`datagen
train errors`, `compare`) reads as it reads a run.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import yaml

from datagen.io.atomic import replace_dir, write_json, write_text
from datagen.train.judging.runs import FIGURES, bar, get
from datagen.train.judging.score import score_log
from datagen.train.streaming.errors import run_errors
from datagen.train.training import checkpoint as ckpt

SUMMED = (("ci", "f1"), ("cd", "f1"), ("turn_taking_success",))  # added; early stops taken away


def candidates(run: str | Path) -> list[tuple[int, Path]]:
    """(DPO step, checkpoint) for the SFT model (step 0) and each kept checkpoint of the run."""
    latest = ckpt.latest(run)
    if latest is None:
        raise FileNotFoundError(f"no checkpoint in {run}: train DPO first (datagen train dpo)")
    init = yaml.safe_load((latest / "config.yaml").read_text())["dpo"]["init"]
    if not init:
        raise ValueError(f"{run} is not a DPO run (its config names no dpo.init)")
    found = [(0, ckpt.resolve(init))]
    for d in sorted(ckpt.checkpoints_dir(run).glob("step-*")):
        if (d / "state.json").is_file():
            found.append((json.loads((d / "state.json").read_text())["step"], d))
    return found


def figure_sum(m: dict) -> float:
    """CI F1 + CD F1 + turn-taking - early stops (a figure that is missing counts 0)."""
    return sum(get(m, p) or 0.0 for p in SUMMED) - (get(m, ("early_stop_rate",)) or 0.0)


def choose(rows: list[dict]) -> dict:
    """The row to keep (rows[0] is the SFT model): fewest bar misses against it, then the
    highest figure_sum, then the fewest steps."""
    sft = rows[0]["model"]
    for r in rows:
        r["misses"] = bar(sft, r["model"])
        r["sum"] = round(figure_sum(r["model"]), 4)
    return min(rows, key=lambda r: (len(r["misses"]), -r["sum"], r["step"]))


def select(
    run: str | Path,
    dev: list[str],
    out: str | Path | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> dict:
    run = Path(run)
    out = Path(out) if out else run / "select"
    rows = []
    dev_ids = "".join(f"{d} {_corpus_id(d)}\n" for d in dev)  # hashed once, not per candidate
    for step, found in candidates(run):
        name = "sft" if step == 0 else f"step-{step:08d}"
        log, mark = out / f"{name}.jsonl", out / f"{name}.source"
        source = f"{found}\n{_fingerprint(found)}\n" + dev_ids
        if not log.is_file() or not mark.is_file() or mark.read_text() != source:
            run_errors(found, dev, log, progress=progress, threads=threads)
            write_text(mark, source)
        model = score_log(log, out / f"{name}.score.json", baselines=False)["model"]
        rows.append({"step": step, "checkpoint": str(found), "model": model})
    chosen = choose(rows)
    _keep(Path(chosen["checkpoint"]), out / "model")
    return _write(out, rows, chosen, dev)


def _fingerprint(found: Path) -> str:
    """The checkpoint's weights, hashed: a log is reused only for the same weights (a DPO run
    retrained into the same folder gets its checkpoints streamed again)."""
    return hashlib.sha256((found / "model.pt").read_bytes()).hexdigest()


def _corpus_id(d: str) -> str:
    """A dev corpus's dialogues, hashed from its index (a set rebuilt at the same path is new)."""
    index = Path(d) / "index.jsonl"
    if not index.is_file():
        raise FileNotFoundError(f"no corpus at {d} (no index.jsonl): build it first (datagen run RECIPE)")
    return hashlib.sha256(index.read_bytes()).hexdigest()[:16]


def _keep(found: Path, model: Path) -> None:
    """`model/` becomes a run folder whose latest checkpoint is a copy of `found` (copied
    each time: a retrained run's step has the same name and state.json, other weights)."""
    tmp = model.parent / (model.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(found, ckpt.checkpoints_dir(tmp) / found.name)
    (ckpt.checkpoints_dir(tmp) / "latest").write_text(found.name + "\n")
    (tmp / "source.txt").write_text(str(found) + "\n")
    replace_dir(tmp, model)


def _write(out: Path, rows: list[dict], chosen: dict, dev: list[str]) -> dict:
    labels = [label for label, _, _ in FIGURES]
    lines = [
        "# The DPO checkpoint chosen on the dev set",
        "",
        f"Dev set: {', '.join(dev)}. Step 0 is the SFT model. Chosen: **step {chosen['step']}** "
        f"({len(chosen['misses'])} of the bar's parts missed, figure sum {chosen['sum']:.3f}).",
        "",
        "| DPO step | bar parts missed | figure sum | " + " | ".join(labels) + " |",
        "|---:|---:|---:|" + "---:|" * len(labels),
    ]
    for r in rows:
        cells = ["–" if get(r["model"], p) is None else f"{get(r['model'], p):.{d}f}" for _, p, d in FIGURES]
        mark = " (chosen)" if r is chosen else ""
        head = f"| {r['step']}{mark} | {len(r['misses'])} | {r['sum']:.3f} | "
        lines.append(head + " | ".join(cells) + " |")
    write_text(out / "select.md", "\n".join(lines) + "\n")
    res = {"dev": dev, "chosen_step": chosen["step"], "chosen": chosen["checkpoint"], "rows": rows}
    write_json(out / "select.json", res)
    plot(rows, chosen, out / "select.png")
    return res | {"table": "\n".join(lines), "model": str(out / "model")}


PLOTTED = ("CI stop F1", "CD stop F1", "turn-taking", "early stops", "cue success")


def plot(rows: list[dict], chosen: dict, png: Path) -> None:
    """Each figure on the dev set against DPO's step (0: the SFT model), the chosen step marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = {label: path for label, path, _ in FIGURES}
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    steps = [r["step"] for r in rows]
    for label in PLOTTED:
        ys = [get(r["model"], figures[label]) for r in rows]
        if all(y is not None for y in ys):
            ax.plot(steps, ys, marker="o", label=label)
    at = chosen["step"]
    ax.axvline(at, color="0.3", linestyle="--", linewidth=1, label=f"chosen: step {at}")
    ax.set_xticks(steps)
    ax.set_xlabel("DPO step (0: the SFT model)")
    ax.set_title("The dev set's figures at each kept DPO checkpoint", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
