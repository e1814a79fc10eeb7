"""Teacher-forced p(<shift>) at a corpus's gold decisions, by kind: what a checkpoint has learned
before streaming lets one missed block change everything after it.

Kinds: `cue_speak` / `cue_stop` (the assistant's own cue in a dip), `barge_in_stop` (an
interrupted answer's stop) and `barge_in_window` (the most over the `data.react_from_s` up to it,
0.72 s in the recipe, where the trainer also teaches the stop), `answer_speak` / `answer_end`, and
`cue_inside` / `answer_inside` (the most over a span's blocks before it may stop: a stop there
is a cue cut short or an answer's early stop).
Greedy decoding says `<shift>` where p > `stream.shift_threshold` (0.5), so a kind whose
median is far below it is a decision the model does not make. docs/trainer.md quotes it.
Usage: python tools/shift_probs.py CKPT [CKPT ...] --corpus DIR [--corpus DIR]
       [--name NAME ...] [--n 40] [--png OUT]
"""

import argparse

import numpy as np
import torch

from datagen.train.common.config import ScoreConfig
from datagen.train.common.tracks import spans_of
from datagen.train.training import checkpoint as ckpt
from datagen.train.training.answers import answers_of
from datagen.train.training.data import DuplexDataset, StreamBatcher, open_corpora

INSIDE = ScoreConfig().early_blocks  # blocks before a span's own stop that the judge still lets it stop


def kinds_of(cut, p: np.ndarray, window: int) -> dict[str, list[float]]:
    """`window`: blocks before a barge-in stop where the trainer also teaches it."""
    lab = np.asarray(cut.load_labels())
    out: dict[str, list[float]] = {}
    for sp, ans in zip(spans_of(lab), answers_of(cut, cut.load_audio(), lab), strict=True):
        who = "cue" if ans.cue else "answer"
        out.setdefault(f"{who}_speak", []).append(p[sp.speak])
        if sp.stop is None:
            continue
        last = sp.stop - (window if ans.interrupted else INSIDE)  # a stop before it is too soon
        if last > sp.speak + 1:
            out.setdefault(f"{who}_inside", []).append(p[sp.speak + 1 : last].max())
        if ans.interrupted:
            out.setdefault("barge_in_stop", []).append(p[sp.stop])
            out.setdefault("barge_in_window", []).append(
                p[max(sp.speak + 1, sp.stop - window) : sp.stop + 1].max()
            )
        else:
            out.setdefault(f"{who}_{'stop' if ans.cue else 'end'}", []).append(p[sp.stop])
    return out


def probs(path: str, corpora: list[str], n: int) -> dict[str, np.ndarray]:
    """p(<shift>) at each gold decision of the first `n` dialogues of each corpus, by kind."""
    model, cfg, vocab, meta, _ = ckpt.load_model(path, "cpu")
    window = int(np.ceil((cfg.data.react_from_s or 0.72) / meta["block_s"] - 1e-9))
    found: dict[str, list[float]] = {}
    for corpus in corpora:
        cuts = sorted(list(open_corpora([corpus]))[:n], key=lambda c: c.id)
        enc = cfg.encoder
        sr = cuts[0].sampling_rate
        data = DuplexDataset(
            StreamBatcher(vocab, sr, meta["block_s"], enc.assistant_lag_blocks, enc.num_mel_bins)
        )
        with torch.no_grad():
            for i in range(0, len(cuts), 4):
                batch = data[cuts[i : i + 4]]  # the dataset sorts a batch by id, as `cuts` is
                logits = model.logits(batch["env"], batch["asst"], batch["tokens"])
                p = torch.softmax(logits, -1)[..., vocab.shift].numpy()
                for j, cut in enumerate(cuts[i : i + 4]):
                    for k, v in kinds_of(cut, p[j], window).items():
                        found.setdefault(k, []).extend(v)
    return {k: np.asarray(v) for k, v in sorted(found.items())}


def plot(runs: dict[str, dict[str, np.ndarray]], out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = sorted({k for r in runs.values() for k in r})
    fig, ax = plt.subplots(figsize=(1.3 * len(kinds) + 2, 3.6))
    w = 0.8 / len(runs)
    for i, (name, r) in enumerate(runs.items()):
        x = np.arange(len(kinds)) + (i - (len(runs) - 1) / 2) * w
        med = [np.median(r[k]) if k in r else np.nan for k in kinds]
        ax.bar(x, med, w, label=name)
    ax.axhline(0.5, color="k", lw=0.8, ls="--")
    ax.set_xticks(np.arange(len(kinds)), [k.replace("_", "\n") for k in kinds])
    ax.set_ylabel("median p(<shift>), teacher-forced")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--corpus", action="append", required=True)
    ap.add_argument("--name", action="append", help="one per checkpoint (default: its path)")
    ap.add_argument("--n", type=int, default=40, help="dialogues per corpus")
    ap.add_argument("--png", help="draw the medians per kind and checkpoint here")
    a = ap.parse_args()
    torch.set_num_threads(1)
    names = a.name or a.checkpoints
    runs = {name: probs(path, a.corpus, a.n) for name, path in zip(names, a.checkpoints, strict=True)}
    for name, r in runs.items():
        print(f"\n{name}: {a.n} dialogues of each of {', '.join(a.corpus)}")
        print("| decision | n | median p(<shift>) | mean | share > 0.5 |\n|---|---:|---:|---:|---:|")
        for k, v in r.items():
            print(f"| {k} | {len(v)} | {np.median(v):.3f} | {v.mean():.3f} | {(v > 0.5).mean():.2f} |")
    if a.png:
        plot(runs, a.png)
        print(f"\nwritten: {a.png}")


if __name__ == "__main__":
    main()
