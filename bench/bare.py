"""The bare backends: what voicing a corpus costs without the pipeline.

Every utterance of a finished corpus (its supervisions: text and voice) is
voiced again, one at a time, the way a user would call each engine without
us: Piper through its stock Python API (`PiperVoice.load` once, then
`synthesize` per text, onnxruntime's default threads, no alignment output,
no seeded noise), espeak-ng as its stock CLI (one process per text). The
wall time of that is the denominator of the bench's overhead row.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path


def utterances(corpus: Path) -> list[tuple[str, str]]:
    """(voice id, text) of every supervision of a corpus, in order."""
    from datagen.io.shar import load_cuts

    return [(s.speaker, s.text) for cut in load_cuts(corpus) for s in cut.supervisions if s.text]


def voice_corpus_bare(corpus: Path) -> dict:
    from piper import PiperVoice, SynthesisConfig

    from datagen.backends.registry import make_tts
    from datagen.backends.tts.piper import PiperOptions, _paths

    speakers = {s.id: s for name in ("piper", "espeak") for s in make_tts(name).speakers()}
    todo = utterances(corpus)
    unknown = sorted({v for v, _ in todo if v not in speakers})
    if unknown:
        raise ValueError(f"voices the bare backends do not know: {unknown[:3]}")
    model, config = _paths(PiperOptions())
    t0 = time.perf_counter()
    voice = PiperVoice.load(model, config)
    audio_s = {"piper": 0.0, "espeak": 0.0}
    count = {"piper": 0, "espeak": 0}
    for vid, text in todo:
        p = speakers[vid].params
        if speakers[vid].backend == "piper":
            cfg = SynthesisConfig(
                length_scale=p["length_scale"], noise_scale=p["noise_scale"], noise_w_scale=p["noise_w_scale"]
            )
            chunks = list(voice.synthesize(text, cfg))
            audio_s["piper"] += sum(len(c.audio_float_array) for c in chunks) / voice.config.sample_rate
            count["piper"] += 1
        else:
            v = p["voice"] + (f"+{p['variant']}" if p.get("variant") else "")
            cmd = ["espeak-ng", "-v", v, "-s", str(p["rate"]), "-p", str(p["pitch"]), "--stdout"]
            proc = subprocess.run(cmd, input=text.encode(), capture_output=True, check=True)
            audio_s["espeak"] += (len(proc.stdout) - 44) / 2 / 22050
            count["espeak"] += 1
    return {"wall_s": time.perf_counter() - t0, "utterances": count, "audio_s": audio_s}
