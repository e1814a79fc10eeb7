"""Write the perfect model's output.wav (our channel 1, 16 kHz, as long as input.wav) into an FDB export."""

import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from datagen.export.common import read_export_cuts, resample

corpus, root = Path(sys.argv[1]), Path(sys.argv[2])
ids = json.loads((root / "ids.json").read_text())
want = {cid: (folder, sid) for folder, m in ids.items() for sid, cid in m.items()}
for c in read_export_cuts(corpus):
    if c.id not in want:
        continue
    folder, sid = want[c.id]
    d = root / folder / sid
    n = sf.info(d / "input.wav").frames
    y = resample(c.assistant, c.sample_rate, 16000)[:n]
    sf.write(d / "output.wav", np.pad(y, (0, n - len(y))), 16000, subtype="PCM_16")
