"""Before/after: the figures of two error logs over the same dialogues, side by side.

`make loop` runs SFT -> errors -> pairs -> DPO -> errors again and ends
here: one table (turn-taking success, stop precision/recall/F1 per setting,
early stops, latencies; the rule baselines for reference) and one plot,
written to `<loop folder>/report.md` and `compare.png`.
"""

from __future__ import annotations

from pathlib import Path

from datagen.io.atomic import write_json, write_text
from datagen.train.judging.score import BASELINES, ROWS, format_result, score_log, table

PLOTTED = [(label, get) for label, get in ROWS if "latency" not in label]  # the rates, on one axis


def compare(
    before: str | Path,
    after: str | Path,
    out: str | Path,
    extra: dict | None = None,
    cues: tuple[str | Path, str | Path] | None = None,
) -> dict:
    """`cues`: the (before, after) logs of the assistant_backchannel set, for the cue row."""
    out = Path(out)
    cb, ca = cues or (None, None)
    b = score_log(before, Path(before).with_suffix(".score.json"), cues=cb)
    a = score_log(after, Path(after).with_suffix(".score.json"), baselines=False, cues=ca)
    for x, y in [(before, after)] + ([cues] if cues else []):
        ids_b, ids_a = set(_ids(x)), set(_ids(y))
        if ids_a != ids_b:
            raise ValueError(f"{x} and {y} are not over the same dialogues ({len(ids_b)} vs {len(ids_a)})")
    cols = {"SFT (before)": b["model"], "SFT + DPO (after)": a["model"]}
    cols |= {name.replace("_", " "): b[name] for name in BASELINES if name in b}
    _plot(cols, out / "compare.png")
    lines = [
        "# Before and after DPO",
        "",
        f"{b['scored']} evaluation dialogues; `{before}` (SFT checkpoint `{b['checkpoint'][0]}`) "
        f"against `{after}` (DPO checkpoint `{a['checkpoint'][0]}`)"
        + (f"; cue success on the {b['cue_log']['scored']} dialogues of `{cb}` / `{ca}`." if cues else "."),
        "",
        table(cols),
        "",
        "![before and after](compare.png)",
        "",
        "Baselines: (a) speak after 0.6 s of silence on channel 0, never stop while speaking; "
        "(b) the same, and stop at any channel-0 speech onset. Definitions: docs/error_log.md.",
    ]
    if extra:
        lines += ["", "## The loop", ""] + [f"- {k}: {v}" for k, v in extra.items()]
    write_text(out / "report.md", "\n".join(lines) + "\n")
    result = {"before": b["model"], "after": a["model"], **{k: b[k] for k in BASELINES if k in b}}
    write_json(out / "compare.json", result)
    return {"report": str(out / "report.md"), "table": table(cols), "before": format_result(b)}


def _ids(path) -> list[str]:
    from datagen.train.judging.errlog import read_log

    return [line["cut_id"] for line in read_log(path).lines]


def _plot(cols: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(cols)
    x = np.arange(len(PLOTTED))
    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(11, 5))
    for i, n in enumerate(names):
        vals = [get(cols[n]) or 0.0 for _, get in PLOTTED]
        ax.bar(x + (i - (len(names) - 1) / 2) * width, vals, width, label=n)
    # eleven labels of up to 40 characters: slanted, or neighbours overlap
    ax.set_xticks(x, [label for label, _ in PLOTTED], rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("rate")
    ax.legend(ncol=len(names), loc="upper center", bbox_to_anchor=(0.5, 1.15), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
