"""Run after run: several `make loop` folders (one per seed), side by side.

One DPO run can land well or badly by chance (a 3.6 M-parameter model trained from
scratch on 2 cores does: docs/trainer.md), so a gain is only a result when it holds
seed after seed. This reads each loop's `compare.json` (written by `datagen train
compare`), and writes `runs.md` / `runs.json`: per seed the figures before and after
DPO and their change, the spread of each change over the seeds (mean, standard
deviation, min, max), and per seed whether the bar of issue 25 holds (`bar`), with the
reason where it does not; `runs.png` draws the figures before and after per run.
"""

from __future__ import annotations

import json
from pathlib import Path
from statistics import mean, pstdev

from datagen.io.atomic import write_json, write_text

FIGURES = (  # (label, path into a metrics dict, digits)
    ("turn-taking", ("turn_taking_success",), 3),
    ("CI stop P", ("ci", "precision"), 3),
    ("CI stop R", ("ci", "recall"), 3),
    ("CI stop F1", ("ci", "f1"), 3),
    ("CD stop F1", ("cd", "f1"), 3),
    ("early stops", ("early_stop_rate",), 3),
    ("cue success", ("cue_success",), 3),
    ("turn latency ms", ("turn_latency_ms", "median"), 0),
    ("CI stop latency ms", ("ci", "stop_latency_ms", "median"), 0),
)


def get(m: dict, path: tuple) -> float | None:
    for k in path:
        if not isinstance(m, dict) or m.get(k) is None:
            return None
        m = m[k]
    return m


def bar(before: dict, after: dict) -> list[str]:
    """What of the bar an after-DPO model misses against its SFT model (empty: it holds):
    CI stop F1 at least 0.05 higher and precision higher, early stops at least a third
    lower, CD stop F1 and turn-taking no more than 0.02 lower."""
    b, a = ({label: get(m, path) for label, path, _ in FIGURES} for m in (before, after))
    miss = []
    if None in (b["CI stop F1"], a["CI stop F1"]) or a["CI stop F1"] < b["CI stop F1"] + 0.05:
        miss.append(f"CI stop F1 {b['CI stop F1']} -> {a['CI stop F1']} (needs +0.05)")
    if None in (b["CI stop P"], a["CI stop P"]) or a["CI stop P"] <= b["CI stop P"]:
        miss.append(f"CI stop precision {b['CI stop P']} -> {a['CI stop P']} (needs higher)")
    if None in (b["early stops"], a["early stops"]) or a["early stops"] > b["early stops"] * 2 / 3:
        miss.append(f"early stops {b['early stops']} -> {a['early stops']} (needs a third lower)")
    for label in ("CD stop F1", "turn-taking"):
        if None in (b[label], a[label]) or a[label] < b[label] - 0.02:
            miss.append(f"{label} {b[label]} -> {a[label]} (at most 0.02 lower)")
    return miss


def _fmt(v, digits: int) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def runs(loops: list[str | Path], out: str | Path, names: list[str] | None = None) -> dict:
    """`runs.md`, `runs.json` and `runs.png` (`runs_plot`) in `out`; `names` label the runs
    in the plot (default: each folder's name)."""
    out = Path(out)
    seeds = []
    for loop in loops:
        path = Path(loop) / "compare.json"
        if not path.is_file():
            raise FileNotFoundError(f"no {path}: run `make loop` for that seed first")
        c = json.loads(path.read_text())
        seeds.append(
            {
                "loop": str(loop),
                "before": c["before"],
                "after": c["after"],
                "miss": bar(c["before"], c["after"]),
            }
        )
    labels = [label for label, _, _ in FIGURES]
    head = "| run | | " + " | ".join(labels) + " |"
    rows = [head, "|---|---|" + "---:|" * len(labels)]
    deltas: dict[str, list[float]] = {label: [] for label in labels}
    for s in seeds:
        for side in ("before", "after"):
            cells = [_fmt(get(s[side], path), d) for _, path, d in FIGURES]
            rows.append(f"| `{s['loop']}` | {side} | " + " | ".join(cells) + " |")
        cells = []
        for label, path, d in FIGURES:
            b, a = get(s["before"], path), get(s["after"], path)
            if b is None or a is None:
                cells.append("–")
                continue
            deltas[label].append(a - b)
            cells.append(f"{a - b:+.{d}f}")
        rows.append(f"| `{s['loop']}` | change | " + " | ".join(cells) + " |")
    spread = {}
    for stat, fn in (("mean", mean), ("sd", pstdev), ("min", min), ("max", max)):
        cells = []
        for label, _, d in FIGURES:
            xs = deltas[label]
            v = fn(xs) if xs else None
            spread.setdefault(label, {})[stat] = v
            cells.append("–" if v is None else f"{v:+.{d}f}" if stat != "sd" else f"{v:.{d}f}")
        rows.append(f"| change over {len(seeds)} runs | {stat} | " + " | ".join(cells) + " |")
    lines = [
        "# Run after run: before and after DPO, per seed",
        "",
        *rows,
        "",
        "The bar (issue 25), per run: CI stop F1 at least 0.05 higher and precision higher after DPO, "
        "early stops at least a third lower, CD stop F1 and turn-taking no more than 0.02 lower.",
        "",
    ]
    for s in seeds:
        lines.append(f"- `{s['loop']}`: " + ("holds" if not s["miss"] else "misses: " + "; ".join(s["miss"])))
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "runs.md", "\n".join(lines) + "\n")
    result = {"runs": seeds, "change": spread, "held": sum(not s["miss"] for s in seeds)}
    write_json(out / "runs.json", result)
    runs_plot(seeds, out, names)
    return {"report": str(out / "runs.md"), "table": "\n".join(lines), **result}


PLOT_PANELS = (  # (title, path into a metrics dict, higher is better)
    ("turn-taking success", ("turn_taking_success",), True),
    ("CI stop F1", ("ci", "f1"), True),
    ("CI stop precision", ("ci", "precision"), True),
    ("CD stop F1", ("cd", "f1"), True),
    ("early-stop rate", ("early_stop_rate",), False),
    ("cue success", ("cue_success",), True),
)


def runs_plot(runs: list[dict], out: str | Path, names: list[str] | None = None) -> Path:
    """`runs.png`: each run's figures before and after DPO, a panel per figure, so a reader
    sees at a glance which way DPO moved each seed (or variant) and by how much.
    runs: [{"loop", "before", "after"}] as `runs()` reads them; names label the runs
    (default: each loop's folder name)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = names or [Path(r["loop"]).name for r in runs]
    panels = [
        p for p in PLOT_PANELS if any(get(r[s], p[1]) is not None for r in runs for s in ("before", "after"))
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 3.4), squeeze=False)
    x = range(len(runs))
    for ax, (title, path, up) in zip(axes[0], panels, strict=True):
        for off, side, color in ((-0.2, "before", "#9aa7b8"), (0.2, "after", "#2f6db5")):
            vals = [get(r[side], path) for r in runs]
            ax.bar([i + off for i in x], [v or 0 for v in vals], 0.4, color=color, label=f"{side} DPO")
            for i, v in zip(x, vals, strict=True):
                if v is None:
                    ax.text(i + off, 0.02, "–", ha="center", fontsize=8)
        ax.set_title(f"{title} ({'↑' if up else '↓'})", fontsize=9)
        ax.set_xticks(list(x))
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=2, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    path = Path(out) / "runs.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
