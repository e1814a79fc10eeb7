"""Training curves from a run's metrics.jsonl: `<out>/curves.png`, drawn when a run ends."""

from __future__ import annotations

import json
from pathlib import Path

PANELS = (
    ("loss", "loss (all tokens)"),
    ("ctrl_loss", "loss on <think>/<shift>"),
    ("shift_recall", "<shift> recall (argmax)"),
    ("reward_margin", "DPO reward margin"),
    ("preference_accuracy", "DPO preference accuracy"),
)


def training_curves(out: str | Path) -> Path | None:
    out = Path(out)
    path = out / "metrics.jsonl"
    if not path.is_file():
        return None
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    panels = [(k, t) for k, t in PANELS if any(k in r for r in rows)]
    if not rows or not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2), squeeze=False)
    for ax, (key, title) in zip(axes[0], panels, strict=True):
        for split, style in (("train", "-"), ("valid", "o-")):
            pts = [(r["step"], r[key]) for r in rows if r.get("split") == split and key in r]
            if pts:
                ax.plot(*zip(*pts, strict=True), style, label="held out" if split == "valid" else split, ms=3)
        ax.set_title(title, fontsize=10)
        if key.endswith("loss"):
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    target = out / "curves.png"
    fig.savefig(target, dpi=100)
    plt.close(fig)
    return target
