"""A small speaker-prompt corpus in LibriHeavy's format, for recipes that need one offline.

    python -m bench.libriheavy_prompts --out manifests/cosyvoice2_random/prompts

LibriHeavy cannot be downloaded here. This writes what our loader
(datagen/sources/libriheavy.py) reads from the real one: a Lhotse
`libriheavy_cuts_small.jsonl.gz` of MonoCuts that slice long 16 kHz FLAC
"chapters" under `download/librilight/small/<speaker>/<book>/`, with
relative source paths and `custom.texts = [cased, UPPER]` as released.
Each speaker's chapter is a buzz at its own pitch, pulsed at a syllable
rate (voice-like enough for the random-weight CosyVoice2 of
bench/cosyvoice2_model.py, which only needs prompts to tokenise and embed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

SR = 16000
CHAPTER_S = 30.0
TEXTS = [
    "It was a bright cold day in April, and the clocks were striking thirteen.",
    "The old man walked slowly down the road towards the village.",
    "She opened the letter and read it twice before she understood.",
    "There was nothing to be done but wait for the morning train.",
]


def _chapter(path: Path, f0: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(int(CHAPTER_S * SR)) / SR
    pitch = f0 * (1 + 0.05 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / SR
    buzz = sum(np.sin(k * phase) / k for k in range(1, 8))
    syllables = 0.6 + 0.4 * np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, np.pi))
    audio = 0.1 * buzz * syllables + 0.003 * rng.standard_normal(len(t))
    path.parent.mkdir(parents=True, exist_ok=True)
    import soundfile as sf

    sf.write(path, audio.astype(np.float32), SR, format="FLAC")


def write_prompts(out: str | Path, speakers: int = 6, cut_s: float = 3.5) -> Path:
    """Write chapters and the manifest under `out`; returns the manifest's path."""
    from lhotse import AudioSource, CutSet, MonoCut, Recording, SupervisionSegment

    out = Path(out)
    cuts = []
    for n in range(speakers):
        spk = str(100 + n)
        rel = f"download/librilight/small/{spk}/book_{spk}/chapter_01.flac"
        _chapter(out / rel, 110.0 + 35.0 * n, n)
        rec = Recording(
            id=f"small/{spk}/book_{spk}/chapter_01",
            sources=[AudioSource(type="file", channels=[0], source=rel)],
            sampling_rate=SR,
            num_samples=int(CHAPTER_S * SR),
            duration=CHAPTER_S,
        )
        for i, start in enumerate((1.0, 8.0, 15.0)):
            cid = f"{rec.id}_{i}"
            text = TEXTS[(n + i) % len(TEXTS)]
            sup = SupervisionSegment(
                id=cid,
                recording_id=rec.id,
                start=0.0,
                duration=cut_s,
                channel=0,
                language="English",
                speaker=spk,
                custom={"texts": [text, text.upper().replace(",", "").replace(".", "")]},
            )
            cuts.append(
                MonoCut(id=cid, start=start, duration=cut_s, channel=0, supervisions=[sup], recording=rec)
            )
    path = out / "libriheavy_cuts_small.jsonl.gz"
    CutSet.from_cuts(cuts).to_file(path)
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--speakers", type=int, default=6)
    a = ap.parse_args(argv)
    print(write_prompts(a.out, a.speakers))


if __name__ == "__main__":
    main()
