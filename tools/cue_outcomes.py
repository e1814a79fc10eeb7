"""What a model did in each dip of the cue set, from its error logs, with the judge's `cut_short`
split by what happened next: docs/trainer.md ("Teaching the hand-back") quotes it.

A `cut_short` cue is almost never a short "mm-": the span stops and the model speaks again a
block or two later, into the dip, with the answer's voice: it takes the floor after a blip. The
blip comes in two kinds, which have different causes: `blip before voice` (it stopped within
`synth_delay_s` of its speak decision, so before its own voice could start) and `blip after
voice` (it stopped once its voice had begun, at a pause inside the cue or after it). With
`--corpus` (the cue set the logs were made on), every outcome is also split by the cue's text:
with a comma ("uh-huh, yeah", a pause inside it in our voices) or without.
Usage: python tools/cue_outcomes.py LOG [LOG ...] [--name NAME ...] [--corpus DIR] [--png OUT]
       [--synth-delay-s S]  (the recipe's `timeline.synth_delay_s`, if not the default 0.32)
"""

import argparse
import json
from collections import Counter

import numpy as np

from datagen.config import TimelineConfig
from datagen.train.common.tracks import spans_of

OUTCOMES = ("ok", "took_floor", "blip before voice", "blip after voice", "no_cue")
CUE = "assistant_backchannel"
AGAIN_BLOCKS = 2  # a span that speaks again this soon after the stop took the floor after a blip


def dips(path: str, synth_delay_s: float) -> list[dict]:
    """One record per cue event of an error log: outcome (cut_short split), speak again soon."""
    out = []
    for line in open(path):
        rec = json.loads(line)
        block = rec["block_s"]
        voice_blocks = round(synth_delay_s / block)  # its voice starts this long after the decision
        spans = spans_of(np.asarray(rec["predicted"]))
        cues = [ev for ev in rec["events"] if ev["kind"] == CUE]
        for i, ev in enumerate(cues):
            outcome, again = ev["outcome"], None
            if outcome == "cut_short":
                first, last = int(ev["time"] / block + 1e-9), int(ev["end"] / block + 1e-9)
                sp = next(s for s in spans if first <= s.speak <= last)
                outcome = "blip before voice" if sp.stop - sp.speak <= voice_blocks else "blip after voice"
                again = any(0 < s.speak - sp.stop <= AGAIN_BLOCKS for s in spans)
            out.append({"cut": rec["cut_id"], "index": i, "outcome": outcome, "again": again})
    return out


def cue_texts(corpus: str) -> dict[str, list[str]]:
    """cut id -> its cues' texts in time order."""
    from datagen.train.training.data import open_corpora

    texts = {}
    for cut in open_corpora([corpus]):
        sups = [s for s in cut.supervisions if s.channel == 1 and (s.custom or {}).get("kind") == CUE]
        texts[cut.id] = [s.text for s in sorted(sups, key=lambda s: s.start)]
    return texts


def table(names: list[str], runs: list[list[dict]], texts: dict | None) -> str:
    head = "| run | dips | " + " | ".join(OUTCOMES) + " | blips that spoke again within 2 blocks |"
    rows = [head, "|---|---:|" + "---:|" * (len(OUTCOMES) + 1)]
    for name, ds in zip(names, runs, strict=True):
        groups = [("", ds)]
        if texts is not None:
            comma = [d for d in ds if "," in texts[d["cut"]][d["index"]]]
            plain = [d for d in ds if "," not in texts[d["cut"]][d["index"]]]
            groups += [(", cue with a comma", comma), (", cue without", plain)]
        for label, g in groups:
            c = Counter(d["outcome"] for d in g)
            blips = [d for d in g if d["again"] is not None]
            cells = " | ".join(f"{c[o]} ({c[o] / max(len(g), 1):.2f})" for o in OUTCOMES)
            rows.append(
                f"| {name}{label} | {len(g)} | {cells} | {sum(d['again'] for d in blips)} of {len(blips)} |"
            )
    return "\n".join(rows)


def plot(names: list[str], runs: list[list[dict]], out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.6 * len(names) + 1.6))
    colours = ("tab:green", "tab:red", "tab:orange", "gold", "tab:gray")
    for y, ds in enumerate(runs):
        c, left = Counter(d["outcome"] for d in ds), 0.0
        for o, col in zip(OUTCOMES, colours, strict=True):
            share = c[o] / len(ds)
            ax.barh(y, share, left=left, color=col, label=o if y == 0 else None)
            if share > 0.06:
                ax.text(left + share / 2, y, f"{share:.2f}", ha="center", va="center", fontsize=8)
            left += share
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the cue set's dips")
    ax.set_title("What the model did in each dip of the cue set")
    ax.legend(
        ncol=5, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.25 if len(names) < 4 else -0.15)
    )
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("logs", nargs="+")
    ap.add_argument("--name", action="append", default=[])
    ap.add_argument("--corpus", help="the cue set the logs were made on: split by the cue's text")
    ap.add_argument("--png")
    ap.add_argument("--synth-delay-s", type=float, default=TimelineConfig().synth_delay_s)
    args = ap.parse_args()
    names = args.name or args.logs
    if len(names) != len(args.logs):
        ap.error("give one --name per log, or none")
    runs = [dips(p, args.synth_delay_s) for p in args.logs]
    print(table(names, runs, cue_texts(args.corpus) if args.corpus else None))
    if args.png:
        plot(names, runs, args.png)


if __name__ == "__main__":
    main()
