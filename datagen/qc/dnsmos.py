"""DNSMOS: a speech-quality score per utterance, from Microsoft's own ONNX models.

DNSMOS P.835 (Reddy et al., ICASSP 2022) predicts what listeners would rate a
clip on three 1-5 scales: SIG (the speech itself: distortion, vocoder
artefacts), BAK (the background: noise) and OVRL (overall); its P.808 model
gives one overall rating as well. It needs no reference, so it scores TTS
output, a mixed corpus channel and any duplex model's speech alike. The models
and the scoring code are those of the PyPI package `speechmos` (MIT, the DNS
Challenge organisers'): their `DNSMOS.__call__` does the work here (the clip
tiled to at least 9.01 s, 9 s windows every second, the P.835 polynomials),
so a figure here is the package's figure.

Three callers: the QC stage's optional threshold (`qc.dnsmos_min_ovrl`), the
corpus report (datagen/report/speech_quality.py) and `datagen errors --from-audio
--dnsmos` (datagen/train/streaming/from_audio.py). It lives in datagen/qc so the
trainer may import it too (datagen/train never imports the pipeline's stages).

Cost: one 9 s window through the P.835 model is ~0.8 s of one (busy) CPU core,
and a clip of L >= 9 s takes floor(L) - 8 windows; a shorter clip is doubled
until it fills 9.01 s, landing anywhere in 9-18 s (2.4 s: 1 window, 3.6 s: 5,
1.0 s: 8), so an utterance costs 1-5 s. Not for every utterance of a big corpus
by default: the report samples, the threshold is off unless a recipe sets it.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from datagen.audio import resample

DNSMOS_SR = 16000  # the models were trained on 16 kHz audio; speechmos refuses any other rate
KEYS: tuple[str, ...] = ("sig", "bak", "ovrl", "p808")
# Below this much speech a score says little: the clip is repeated until it fills the 9 s
# window, so a 0.3 s "mm-hmm" is rated as thirty of them in a row. Callers skip shorter clips.
MIN_SECONDS = 1.0
EXTRA_HINT = "install the qc extra: pip install -e '.[qc]' (speechmos, librosa)"

_MODEL: Any = None
_MODEL_LOCK = threading.Lock()


class DNSMOSMissing(ImportError):
    """speechmos (or what it imports) is not installed."""


def missing() -> str:
    """ "" when DNSMOS can run, else a sentence saying why not and how to get it."""
    try:
        _import()
    except DNSMOSMissing as e:
        return str(e)
    return ""


def _import():
    try:
        from speechmos import dnsmos
    except ImportError as e:
        raise DNSMOSMissing(f"DNSMOS needs the speechmos package ({e}); {EXTRA_HINT}") from None
    return dnsmos


def _model() -> Any:
    """speechmos's DNSMOS scorer, loaded once per process.

    Its own class, with the two onnxruntime sessions made on one thread each
    (as silero-vad's are): the QC stage runs one scorer per worker, each worker
    given one CPU, and onnxruntime's default of a thread per core would have
    them all fight over every core. The models are the ones `speechmos.dnsmos.run`
    loads (dnsmos_models/sig_bak_ovr.onnx and model_v8.onnx)."""
    global _MODEL
    with _MODEL_LOCK:
        if _MODEL is None:
            from pathlib import Path

            import onnxruntime as ort

            mod = _import()

            class OneThread(mod.DNSMOS):
                def __init__(self, primary: str, p808: str) -> None:
                    opts = ort.SessionOptions()
                    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
                    cpu = ["CPUExecutionProvider"]
                    self.primary_model_path = primary
                    self.onnx_sess = ort.InferenceSession(primary, opts, providers=cpu)
                    self.p808_onnx_sess = ort.InferenceSession(p808, opts, providers=cpu)

            models = Path(mod.__file__).parent / "dnsmos_models"
            _MODEL = OneThread(str(models / "sig_bak_ovr.onnx"), str(models / "model_v8.onnx"))
    return _MODEL


def prepare(audio: np.ndarray, sr: int) -> np.ndarray:
    """Mono float32 at 16 kHz, clipped into [-1, 1].

    Resampled with the project's polyphase resampler (datagen.audio.resample)
    because the models only know 16 kHz. Clipped because speechmos raises on
    any sample outside [-1, 1], and resampling a clip that peaks near full
    scale overshoots it by a little (the filter's ringing): such a clip should
    be scored, not refused."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=0) if x.shape[0] < x.shape[1] else x.mean(axis=1)
    x = x.reshape(-1)
    if x.size == 0:
        raise ValueError("DNSMOS of an empty clip")
    if not np.isfinite(x).all():
        raise ValueError("DNSMOS of a clip with samples that are not finite numbers")
    return np.clip(resample(x, int(sr), DNSMOS_SR), -1.0, 1.0)


def score(audio: np.ndarray, sr: int) -> dict[str, float]:
    """DNSMOS of one clip: {"sig", "bak", "ovrl", "p808"}, each on 1-5, rounded to 4 places
    (what goes into manifests and logs; onnxruntime on one thread gives the same figures on
    every run, so the same recipe and seed still give the same bytes)."""
    x = prepare(audio, sr)
    res = _model()(x, DNSMOS_SR, False)
    return {
        "sig": round(float(res["sig_mos"]), 4),
        "bak": round(float(res["bak_mos"]), 4),
        "ovrl": round(float(res["ovrl_mos"]), 4),
        "p808": round(float(res["p808_mos"]), 4),
    }


def weighted_mean(scores: list[tuple[dict[str, float], float]]) -> dict[str, float] | None:
    """The duration-weighted mean of several clips' scores ((score, seconds) pairs), or None."""
    total = sum(w for _, w in scores)
    if not scores or total <= 0:
        return None
    return {k: round(sum(s[k] * w for s, w in scores) / total, 4) for k in KEYS}
