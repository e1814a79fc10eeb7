"""`datagen train sweep RUN --pool DIR --eval DIR --pairs N --source S`: how DPO's gain
grows with the number of pairs, and with whose mistakes they are made of.

From one SFT checkpoint (RUN) and a held-out training pool: the model's own errors on
the pool (`own`), mistakes simulated from the pool's gold tracks (`simulate`, no model
needed: simulate.py), or half of each (`mixed`). For every source and every N it draws
N pairs, as evenly over the error categories as the pool allows (a category with fewer
pairs than its share gives its rest to the others), with the same seeded order for
every N, so 100 pairs hold the 32; trains DPO on them from RUN with the DPO recipe,
streams the result over the eval sets and scores it. One row per (source, N) beside the
SFT model's own row, in `<out>/sweep.md` and `sweep.json`. Each step's output is kept,
so a rerun resumes where a killed sweep stopped.
"""

from __future__ import annotations

import json
from pathlib import Path

from datagen.io.atomic import write_json, write_jsonl, write_text
from datagen.train.common.config import load_train_config
from datagen.train.judging.runs import FIGURES, get
from datagen.train.judging.score import score_log
from datagen.train.preference.dpo import train_dpo
from datagen.train.preference.dpo_data import balanced, build, read_pairs
from datagen.train.preference.simulate import MISTAKES
from datagen.train.streaming.errors import run_errors
from datagen.train.training import checkpoint as ckpt

SOURCES = ("own", "simulate", "mixed")
ALL = 10**9  # "no cap" for the per-category cap


def _draw(source: str, n: int, pools: dict[str, tuple[list, list]], seed: int) -> tuple[list, list]:
    if source == "mixed":
        own = balanced(pools["own"][0], n // 2, seed)
        sim = balanced(pools["simulate"][0], n - len(own), seed)
        # both SFT samples are one seeded order over the same pool: the longer holds the other
        pairs, sft = own + sim, max(pools["own"][1], pools["simulate"][1], key=len)
    else:
        pairs, sft = balanced(pools[source][0], n, seed), pools[source][1]
    return pairs, sft[: len(pairs)]


def _errors(ckpt, evals: list[str], cues: str | None, folder: Path, progress: bool) -> dict:
    log, cue_log = folder / "errors.jsonl", folder / "errors_cues.jsonl"
    if not log.is_file():
        run_errors(ckpt, evals, log, progress=progress)
    if cues and not cue_log.is_file():
        run_errors(ckpt, [cues], cue_log, progress=progress)
    return score_log(log, folder / "score.json", baselines=False, cues=cue_log if cues else None)["model"]


def sweep(
    run: str | Path,
    pool: str,
    evals: list[str],
    out: str | Path,
    pairs: list[int],
    sources: list[str],
    cues: str | None = None,
    seed: int = 0,
    dpo_recipe: str | Path = "recipes/train/tiny_cpu_dpo.yaml",
    overrides: list[str] | None = None,
    progress: bool = True,
) -> dict:
    bad = set(sources) - set(SOURCES)
    if bad:
        raise ValueError(f"unknown pair source(s) {sorted(bad)}; choose from {list(SOURCES)}")
    out = Path(out)
    pools: dict[str, tuple[list, list]] = {}
    need = {"own", "simulate"} if "mixed" in sources else set(sources)
    if "own" in need:
        log = out / "errors_pool.jsonl"
        if not log.is_file():
            run_errors(run, [pool], log, progress=progress)
        if not (out / "pairs_own" / "pairs.jsonl").is_file():
            build(log, [pool], out / "pairs_own", per_category=ALL, seed=seed)
        pools["own"] = read_pairs(out / "pairs_own")
    if "simulate" in need:
        if not (out / "pairs_simulate" / "pairs.jsonl").is_file():
            mix = {m: 1.0 for m in MISTAKES}
            build(None, [pool], out / "pairs_simulate", per_category=ALL, seed=seed, simulate_mix=mix)
        pools["simulate"] = read_pairs(out / "pairs_simulate")
    rows = [
        {"source": "SFT (before)", "pairs": 0, "model": _errors(run, evals, cues, out / "before", progress)}
    ]
    for source in sources:
        for n in pairs:
            d = out / f"{source}_{n}"
            picked, sft = _draw(source, n, pools, seed)
            if not (d / "pairs" / "pairs.jsonl").is_file():
                write_jsonl(d / "pairs" / "sft.jsonl", sft)
                write_jsonl(d / "pairs" / "pairs.jsonl", picked)
            if not (d / "errors.jsonl").is_file():  # trained already when its errors are logged
                sets = [f"dpo.init={run}", f"dpo.pairs={d / 'pairs'}", f"out={d / 'dpo'}", f"seed={seed}"]
                train_dpo(load_train_config(dpo_recipe, sets + list(overrides or [])), progress=progress)
            row = {"source": source, "pairs": len(picked), "asked": n, "steps": _steps(d)}
            rows.append(row | {"model": _errors(d / "dpo", evals, cues, d, progress)})
            _write(out, rows + _finished_before(out, rows))
    return _write(out, rows + _finished_before(out, rows))


def _steps(d: Path) -> int:
    return json.loads((ckpt.latest(d / "dpo") / "state.json").read_text())["step"]


def _finished_before(out: Path, rows: list[dict]) -> list[dict]:
    """Rows of the (source, N) steps an earlier call finished in this folder and this one
    did not ask for, from their kept pairs, checkpoints and scores."""
    asked = {(r["source"], r.get("asked")) for r in rows}
    found = []
    for d in sorted(out.iterdir()) if out.is_dir() else []:
        source, _, n = d.name.rpartition("_")
        if source not in SOURCES or not n.isdigit() or (source, int(n)) in asked:
            continue
        if not (d / "score.json").is_file() or not (d / "pairs" / "pairs.jsonl").is_file():
            continue
        picked = (d / "pairs" / "pairs.jsonl").read_text().splitlines()
        model = json.loads((d / "score.json").read_text())["model"]
        found.append(
            {"source": source, "pairs": len(picked), "asked": int(n), "steps": _steps(d), "model": model}
        )
    return found


def _write(out: Path, rows: list[dict]) -> dict:
    order = {s: i for i, s in enumerate(SOURCES)}
    rows = rows[:1] + sorted(rows[1:], key=lambda r: (order[r["source"]], r["asked"]))
    labels = [label for label, _, _ in FIGURES]
    lines = [
        "# DPO against the number of pairs and their source",
        "",
        "| pairs from | pairs | DPO steps | " + " | ".join(labels) + " |",
        "|---|---:|---:|" + "---:|" * len(labels),
    ]
    for r in rows:
        cells = ["–" if get(r["model"], p) is None else f"{get(r['model'], p):.{d}f}" for _, p, d in FIGURES]
        lines.append(f"| {r['source']} | {r['pairs']} | {r.get('steps', '')} | " + " | ".join(cells) + " |")
    write_text(out / "sweep.md", "\n".join(lines) + "\n")
    write_json(out / "sweep.json", {"rows": rows})
    plot(rows, out / "sweep.png")
    return {"rows": rows, "table": "\n".join(lines), "report": str(out / "sweep.md")}


PLOTTED = ("CI stop F1", "CI stop P", "early stops", "CD stop F1", "turn-taking", "cue success")


def plot(rows: list[dict], png: Path) -> None:
    """One panel per figure: each source's value against the number of pairs (log scale),
    the SFT model's as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = {label: path for label, path, _ in FIGURES}
    shown = [f for f in PLOTTED if any(get(r["model"], figures[f]) is not None for r in rows)]
    fig, axes = plt.subplots(1, len(shown), figsize=(2.6 * len(shown), 2.8), squeeze=False)
    for ax, label in zip(axes[0], shown, strict=True):
        base = get(rows[0]["model"], figures[label])
        if base is not None:
            ax.axhline(base, color="0.4", linestyle="--", linewidth=1, label="SFT (before)")
        for source in SOURCES:
            pts = [(r["pairs"], get(r["model"], figures[label])) for r in rows[1:] if r["source"] == source]
            pts = [(x, y) for x, y in pts if y is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", label=source)
        ax.set_xscale("log")
        ticks = sorted({r["pairs"] for r in rows[1:]})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        if ticks:
            ax.set_xlim(ticks[0] / 1.6, ticks[-1] * 1.6)
        ax.set_xlabel("pairs")
        ax.set_title(label, fontsize=9)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("DPO against the number of pairs and their source", fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
