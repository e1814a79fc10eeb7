"""`runs.png` beside `runs.md`: each run's figures before and after DPO, one panel per
figure, so a reader sees at a glance which way DPO moved each seed (or each variant)
and by how much, and where the bar's thresholds sit."""

from __future__ import annotations

from pathlib import Path

from datagen.train.judging.runs import get

PANELS = (  # (title, path into a metrics dict, higher is better)
    ("turn-taking success", ("turn_taking_success",), True),
    ("CI stop F1", ("ci", "f1"), True),
    ("CI stop precision", ("ci", "precision"), True),
    ("CD stop F1", ("cd", "f1"), True),
    ("early-stop rate", ("early_stop_rate",), False),
    ("cue success", ("cue_success",), True),
)


def runs_plot(runs: list[dict], out: str | Path, names: list[str] | None = None) -> Path:
    """runs: [{"loop", "before", "after"}] as `runs()` reads them; names label the runs
    (default: each loop's folder name)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = names or [Path(r["loop"]).name for r in runs]
    panels = [
        p for p in PANELS if any(get(r[s], p[1]) is not None for r in runs for s in ("before", "after"))
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
