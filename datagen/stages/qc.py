"""The QC stage: drop dialogues whose speech is broken, trim what is kept.

Runs between synthesis and composition. Every utterance gets the cheap
signal checks, then its leading/trailing silence trimmed (so the gaps the
timeline draws are the gaps a listener hears), then the duration limits on
the trimmed audio. When the recipe asks for it, an ASR round trip checks
that the audio says its text, and its word timestamps replace the
backend's estimated ones. When the recipe sets `qc.dnsmos_min_ovrl`, each
utterance's DNSMOS (datagen/qc/dnsmos.py) is checked against it too.

One bad utterance rejects its whole dialogue: a dialogue with a turn
missing or mis-spoken teaches the wrong behaviour, and re-synthesis is the
speech stage's job (it retries on the same signal checks).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter

from datagen.config import QCConfig, Recipe
from datagen.qc.signal import max_seconds_for, signal_problem
from datagen.records import CUE_KIND, Dialogue, Utterance, VoicedDialogue
from datagen.stages.base import Resources, Stage, StageOutput

SHORT_CUE_S = 1.0  # below this, silero's verdict "no speech" is not trusted
TRIM_PAD_S = 0.05  # margin kept around the speech: a cut right at the onset clips plosives

_KEY = re.compile(r"^t(\d+)(?:p(\d+)|o(\d+))?$")


class Rejected(Exception):
    """Internal: one utterance (or the whole dialogue) failed a check."""

    def __init__(self, reason: str, **detail: object):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def utterance_kind(dialogue: Dialogue, key: str) -> str:
    """ "turn", "pause_part" or the overlay's kind, from the utterance key
    ("t3", "t3p1", "t3o0"); unknown keys count as turns."""
    m = _KEY.match(key)
    if m is None:
        return "turn"
    if m.group(2) is not None:
        return "pause_part"
    if m.group(3) is not None:
        turn, o = int(m.group(1)), int(m.group(3))
        if turn < len(dialogue.turns) and o < len(dialogue.turns[turn].overlays):
            return dialogue.turns[turn].overlays[o].kind
        return "overlay"
    return "turn"


class QCStage(Stage):
    name = "qc"

    def __init__(self, recipe: Recipe):
        super().__init__(recipe)
        self.cfg: QCConfig = recipe.qc
        self._asr = None  # (greedy, beam 5) Transcribers, built on first use; the model loads lazily

    @property
    def resources(self) -> Resources:
        return Resources(num_cpus=1)

    def process(self, batch: list[VoicedDialogue]) -> StageOutput:
        out = StageOutput()
        spans = self._speech_spans(batch)
        for vd, found in zip(batch, spans, strict=True):
            if not self.cfg.enabled:
                out.items.append(vd)
                continue
            try:
                out.items.append(self._check(vd, out.counters, found))
            except Rejected as r:
                out.reject(id=vd.dialogue.id, stage=self.name, reason=r.reason, detail=json.dumps(r.detail))
            except Exception as e:  # a broken record must not take the shard down
                detail = json.dumps({"error": f"{type(e).__name__}: {e}"})
                out.reject(id=vd.dialogue.id, stage=self.name, reason="qc_error", detail=detail)
        return out

    def _speech_spans(self, batch: list[VoicedDialogue]) -> list[dict[str, list[tuple[float, float]]]]:
        """silero's speech spans of every utterance in the shard, one {key: spans}
        per dialogue, scored as one batch (`vad.speech_spans_many`: the same spans
        as one utterance at a time, 2.7x faster). Empty dicts when QC does not trim
        with silero, or when the batch fails: then each utterance is scored alone
        in `_trim`, so a broken record rejects its own dialogue, not the shard."""
        per_dialogue: list[dict[str, list[tuple[float, float]]]] = [{} for _ in batch]
        if not (self.cfg.enabled and self.cfg.trim == "silero"):
            return per_dialogue
        from datagen.qc.vad import speech_spans_many

        keys = [(i, key) for i, vd in enumerate(batch) for key in vd.utterances]
        clips = [(u.audio, u.sample_rate) for vd in batch for u in vd.utterances.values()]
        try:
            found = speech_spans_many(clips)
        except Exception:  # retried per utterance in _trim, where it becomes a reject
            return per_dialogue
        for (i, key), spans in zip(keys, found, strict=True):
            per_dialogue[i][key] = spans
        return per_dialogue

    def _check(
        self, vd: VoicedDialogue, counters: Counter, spans: dict[str, list[tuple[float, float]]] | None = None
    ) -> VoicedDialogue:
        spans = spans or {}
        utts = {
            key: self._check_utterance(vd.dialogue, key, u, counters, spans.get(key))
            for key, u in vd.utterances.items()
        }
        total = sum(u.duration for u in utts.values())
        if total > self.cfg.max_dialogue_s:
            raise Rejected("too_long", key="dialogue", seconds=round(total, 2), max_s=self.cfg.max_dialogue_s)
        if self.cfg.asr == "faster_whisper":
            asr = {k: u for k, u in utts.items() if u.role in self.cfg.asr_roles}
            for key in [k for k in asr if utterance_kind(vd.dialogue, k) == CUE_KIND]:
                # An interjection's WER means nothing (ASR writes "mm-hmm" as "Mhm",
                # "Mm-hmm." or not at all); its audio passed the signal checks.
                del asr[key]
                counters["asr_skipped_cues"] += 1
            utts.update(self._asr_check(asr, counters))
        return dataclasses.replace(vd, utterances=utts)

    def _check_utterance(
        self,
        dialogue: Dialogue,
        key: str,
        u: Utterance,
        counters: Counter,
        spans: list[tuple[float, float]] | None = None,
    ) -> Utterance:
        counters["qc_checked_utterances"] += 1
        cfg = self.cfg
        # Length is judged after trimming: trailing silence is not the speaker's fault.
        reason = signal_problem(u.audio, u.sample_rate, None, cfg.min_rms_db, cfg.max_clip_ratio)
        if reason:
            raise Rejected(reason, key=key, seconds=round(u.duration, 2))
        trimmed = self._trim(key, u, counters, spans)
        counters["qc_trimmed_seconds"] += u.duration - trimmed.duration
        max_s = max_seconds_for(u.role, utterance_kind(dialogue, key), cfg)
        if trimmed.duration > max_s:
            raise Rejected("too_long", key=key, seconds=round(trimmed.duration, 2), max_s=max_s)
        if cfg.dnsmos_min_ovrl is not None and u.role in cfg.dnsmos_roles:
            trimmed = self._dnsmos_check(key, trimmed, counters)
        return trimmed

    def _dnsmos_check(self, key: str, u: Utterance, counters: Counter) -> Utterance:
        """DNSMOS of the trimmed clip (silence around the speech would be rated as speech
        quality): below qc.dnsmos_min_ovrl the dialogue goes, else the score rides along into
        the supervision. Clips under dnsmos.MIN_SECONDS are not scored (a score of a clip tiled
        many times over says little), counted as `dnsmos_skipped_short`."""
        from datagen.qc.dnsmos import MIN_SECONDS, score

        if u.duration < MIN_SECONDS:
            counters["dnsmos_skipped_short"] += 1
            return u
        mos = score(u.audio, u.sample_rate)
        counters["dnsmos_utterances"] += 1
        counters["dnsmos_seconds"] += u.duration
        if mos["ovrl"] < self.cfg.dnsmos_min_ovrl:
            raise Rejected("low_dnsmos", key=key, min_ovrl=self.cfg.dnsmos_min_ovrl, **mos)
        return dataclasses.replace(u, dnsmos=mos)

    def _trim(
        self, key: str, u: Utterance, counters: Counter, spans: list[tuple[float, float]] | None = None
    ) -> Utterance:
        """`u` cut to its speech plus TRIM_PAD_S; `spans`: silero's, when the
        shard's batch already found them."""
        if self.cfg.trim == "none":
            return u
        from datagen.qc.vad import crop_utterance

        if self.cfg.trim == "silero":
            from datagen.qc.vad import speech_spans

            # speech_spans rather than vad_trim: "no speech at all" must become a reject.
            if spans is None:
                spans = speech_spans(u.audio, u.sample_rate)
            if spans:
                return crop_utterance(u, spans[0][0] - TRIM_PAD_S, spans[-1][1] + TRIM_PAD_S)
            # Silero misses very short synthetic cues ("Stop.", "Mm-hmm"), which
            # already passed the loudness check: judge those by energy instead.
            if u.duration >= SHORT_CUE_S:
                raise Rejected("no_speech", key=key, seconds=round(u.duration, 2))
            counters["qc_short_cue_energy_trim"] += 1
        from datagen.audio import trim_silence

        x, offset = trim_silence(u.audio, u.sample_rate, pad_s=TRIM_PAD_S)
        return crop_utterance(u, offset, offset + len(x) / u.sample_rate)

    def _asr_check(self, utts: dict[str, Utterance], counters: Counter) -> dict[str, Utterance]:
        """The ASR round trip on one dialogue's `utts`, cheap pass first.

        The cheap pass decodes greedily, without Whisper's temperature
        fallback, with the dialogue's clips packed into shared Whisper
        windows (`Transcriber.transcribe_packed`), and times words only
        where the backend could not (timing_source "estimate"). A clip it
        fails is heard again alone with the careful settings (beam 5 with
        fallback, as one clip at a time always was), and only a clip that
        fails that too is rejected: packing and greedy decoding speed the
        check up but never reject a clip the careful check would keep (the
        other way round, a clip the greedy pass hears well enough is kept
        even where beam 5 might have misheard it). Packing stays inside one
        dialogue, so a clip's neighbours (and hence its timings) do not
        depend on the shard size.
        """
        from datagen.qc.asr import asr_words, pack_windows, wer

        fast, careful = self._transcribers()
        keys = list(utts)
        out: dict[str, Utterance] = {}
        # Window by window, so a dialogue is dropped at its first bad window
        # without hearing the rest (as one clip at a time stopped at the first bad clip).
        for window in pack_windows([utts[k].duration for k in keys]):
            clips = [utts[keys[i]] for i in window]
            timed = [u.timing_source == "estimate" for u in clips]
            heard = fast.transcribe_packed([(u.audio, u.sample_rate) for u in clips], timed)
            counters["asr_windows"] += 1
            for i, u, need_times, (hyp, words) in zip(window, clips, timed, heard, strict=True):
                w = wer(u.text, hyp)
                if w > self.cfg.max_wer:
                    counters["asr_rechecked_alone"] += 1
                    hyp, words = careful.transcribe(u.audio, u.sample_rate, word_timestamps=need_times)
                    w = wer(u.text, hyp)
                counters["asr_utterances"] += 1
                counters["asr_seconds"] += u.duration
                counters["asr_wer_sum"] += w
                counters["asr_wer_count"] += 1
                if w > self.cfg.max_wer:
                    raise Rejected("asr_wer", key=keys[i], wer=round(w, 3), hypothesis=hyp)
                if need_times and words:
                    u = dataclasses.replace(u, words=asr_words(u, words), timing_source="asr")
                out[keys[i]] = u
        return out

    def _transcribers(self):
        """(greedy without temperature fallback, beam 5 with it): one model
        underneath (asr._MODELS), built on first use."""
        if self._asr is None:
            from datagen.qc.asr import Transcriber

            self._asr = (Transcriber(beam_size=1, fallback=False), Transcriber(beam_size=5))
        return self._asr
