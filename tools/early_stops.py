"""Where a model's early stops land inside its answers, from its error logs: docs/trainer.md
("Its voice not begun") quotes it.

An `early_stop` (the judge's) is a stop before the answer's audio ended that reacts to no
overlay. This splits them by how far into the answer they came: `at its start` (within
`--start-blocks` of the speak decision, the first second of voice) or later. With `--corpus`
(the eval sets the logs were made on) it also says for every stop whether the answer's audio
held a pause in the 0.4 s before it, against random points of the same answers: stops that
pauses in its own voice set off would show there above the base rate.
Usage: python tools/early_stops.py LOG [LOG ...] [--name NAME ...] [--corpus DIR ...] [--png OUT]
       [--start-blocks N] [--synth-delay-s S]
"""

import argparse
import json

import numpy as np

from datagen.config import TimelineConfig
from datagen.train.common.tracks import spans_of

START_BLOCKS = 16  # 1.28 s after the decision: the first second of its voice
PAUSE_S, QUIET_DB, LOOKBACK_S = 0.15, 30.0, 0.4  # a pause: 150 ms 30 dB under the answer's peak
BASE_POINTS = 3  # random points per early stop for the pause base rate


def stops(path: str) -> list[dict]:
    """One record per early stop of an error log: where in its answer the model stopped."""
    out = []
    for line in open(path):
        rec = json.loads(line)
        spans = spans_of(np.asarray(rec["predicted"]))
        for err in rec["errors"]:
            if err["outcome"] != "early_stop":
                continue
            k = err["answer"]
            sp, natural = spans[k], rec["answers"][k]["natural_blocks"]
            spoken = sp.stop - sp.speak
            out.append(
                {
                    "cut": rec["cut_id"],
                    "answer": k,
                    "spoken": spoken,
                    "share": spoken / natural,
                    "block_s": rec["block_s"],
                }
            )
    return out


def _quiet_run_ends(db: np.ndarray) -> np.ndarray:
    """For every 10 ms frame, how many quiet frames end there."""
    quiet = db < db.max() - QUIET_DB
    run = np.zeros(len(db) + 1, dtype=int)
    for i, q in enumerate(quiet):
        run[i + 1] = run[i] + 1 if q else 0
    return run[1:]


def paused_before(runs: np.ndarray, frame: int) -> bool:
    """Whether a pause of PAUSE_S ended within LOOKBACK_S before this frame (runs: _quiet_run_ends)."""
    lo = max(0, frame - int(LOOKBACK_S * 100))
    return bool(frame > 0 and runs[lo:frame].max(initial=0) >= int(PAUSE_S * 100))


def with_audio(runs: list[list[dict]], corpora: list[str], synth_delay_s: float, seed: int = 0) -> float:
    """Adds `paused` to each stop; returns the base rate over random points of the same answers."""
    from datagen.train.training.data import open_corpora

    by_cut: dict[str, list[dict]] = {}
    for ds in runs:
        for d in ds:
            by_cut.setdefault(d["cut"], []).append(d)
    rng = np.random.default_rng(seed)
    base = []
    for cut in open_corpora(corpora):
        if cut.id not in by_cut:
            continue
        sups = sorted((s for s in cut.supervisions if s.channel == 1), key=lambda s: s.start)
        audio, sr = cut.load_audio()[1], cut.sampling_rate
        for d in by_cut[cut.id]:
            sup = sups[d["answer"]]
            seg = audio[int(sup.start * sr) : int(sup.end * sr)]
            fr = sr // 100
            n = len(seg) // fr
            db = 20 * np.log10(np.sqrt(np.mean(seg[: n * fr].reshape(n, fr) ** 2, axis=1)) + 1e-9)
            runs_db = _quiet_run_ends(db)
            voice_s = (
                d["spoken"] * d["block_s"] - synth_delay_s
            )  # its voice began synth_delay_s after the decision
            d["paused"] = paused_before(runs_db, min(n, int(round(voice_s * 100))))
            base += [paused_before(runs_db, int(f)) for f in rng.integers(1, max(n, 2), BASE_POINTS)]
    return float(np.mean(base)) if base else float("nan")


def table(names: list[str], runs: list[list[dict]], base: float | None, start_blocks: int) -> str:
    head = (
        "| run | early stops | at its start (share) | blocks spoken, median | share of the answer, median |"
    )
    if base is not None:
        head += " a pause in the 0.4 s before |"
    rows = [head, "|---|---:|---:|---:|---:|" + ("---:|" if base is not None else "")]
    for name, ds in zip(names, runs, strict=True):
        start = [d for d in ds if d["spoken"] <= start_blocks]
        spoken = np.median([d["spoken"] for d in ds]) if ds else float("nan")
        share = np.median([d["share"] for d in ds]) if ds else float("nan")
        at_start = f"{len(start)} ({len(start) / max(len(ds), 1):.2f})"
        row = f"| {name} | {len(ds)} | {at_start} | {spoken:.0f} | {share:.2f} |"
        if base is not None:
            pa = sum(d.get("paused", False) for d in ds)
            row += f" {pa} of {len(ds)} ({pa / max(len(ds), 1):.2f}) |"
        rows.append(row)
    if base is not None:
        rows.append(
            f"\nA random point of the same answers has a pause in the 0.4 s before it {base:.2f} of the time."
        )
    return "\n".join(rows)


def plot(names: list[str], runs: list[list[dict]], out: str, start_blocks: int) -> None:
    """Left: the stops in the first blocks of an answer; right: all of them, by the share of
    the answer spoken (so answers of every length line up)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (near, whole) = plt.subplots(1, 2, figsize=(10, 3.4))
    for name, ds in zip(names, runs, strict=True):
        spoken = [d["spoken"] for d in ds if d["spoken"] <= 2 * start_blocks]
        near.hist(spoken, bins=np.arange(0, 2 * start_blocks + 2), histtype="step", linewidth=1.6)
        whole.hist(
            [d["share"] for d in ds],
            bins=np.linspace(0, 1, 21),
            histtype="step",
            linewidth=1.6,
            label=f"{name} ({len(ds)})",
        )
    near.axvspan(0, start_blocks, color="0.92", zorder=0)
    near.set_xlabel(f"blocks (80 ms) spoken before it (up to {2 * start_blocks}; shaded: its start)")
    near.set_ylabel("early stops")
    whole.set_xlabel("share of the answer spoken before it")
    whole.legend(fontsize=8, title="run (early stops)", title_fontsize=8)
    fig.suptitle("Where in its answers the model stopped early")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("logs", nargs="+")
    ap.add_argument("--name", action="append", default=[])
    ap.add_argument("--corpus", action="append", default=[], help="the eval sets the logs were made on")
    ap.add_argument("--png")
    ap.add_argument("--start-blocks", type=int, default=START_BLOCKS)
    ap.add_argument("--synth-delay-s", type=float, default=TimelineConfig().synth_delay_s)
    args = ap.parse_args()
    names = args.name or args.logs
    if len(names) != len(args.logs):
        ap.error("give one --name per log, or none")
    runs = [stops(p) for p in args.logs]
    base = with_audio(runs, args.corpus, args.synth_delay_s) if args.corpus else None
    print(table(names, runs, base, args.start_blocks))
    if args.png:
        plot(names, runs, args.png, args.start_blocks)


if __name__ == "__main__":
    main()
