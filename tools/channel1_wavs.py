"""Write each dialogue's channel 1 (the corpus's own assistant) as <cut_id>.wav: the perfect model's output.

`datagen errors --from-audio DIR --eval SET` on these files gives the gold row of a
score table (docs/trainer.md), and shows what any model's output folder must look like.
Usage: python tools/channel1_wavs.py OUT_DIR CORPUS [CORPUS ...]
"""

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from datagen.train.training.data import open_corpora

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
n = 0
for c in open_corpora(sys.argv[2:]):
    sf.write(out / f"{c.id}.wav", c.load_audio()[1].astype(np.float32), c.sampling_rate, subtype="PCM_16")
    n += 1
print(f"{n} dialogues' channel 1 -> {out}")
