"""Place a voiced dialogue's utterances on a two-channel timeline.

Pure: utterance durations, word timings, the recipe's timeline settings and
a seeded generator in; placements, supervision segments, events and the
assistant's speaking spans out. Every time the label track depends on is
snapped to the block grid here, so the audio is built to agree with the
labels rather than labels fitted to audio afterwards.

Conventions (docs/labels.md): the assistant decides to speak in block b
(time b*block_s) and its audio starts synth_delay_s later; it decides to stop
in block s and its audio ends at s*block_s (cut there, with a short fade,
when interrupted; at its natural end otherwise, s = the block holding it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from datagen.config import TimelineConfig
from datagen.records import CUE_KIND, Event, Segment, Utterance, VoicedDialogue, Word
from datagen.timeline.rng import uniform

EPS = 1e-9
ENV, ASSISTANT = 0, 1


class PlacementError(ValueError):
    """The dialogue cannot be laid out as asked; `reason` goes to rejects."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class Placement:
    key: str  # utterance key in VoicedDialogue.utterances
    channel: int
    start: float
    gain_db: float = 0.0
    keep_s: float | None = None  # play only this much (interrupted assistant turn)


@dataclass(frozen=True)
class Span:
    """One assistant turn as the label track sees it."""

    turn: int
    text: str
    decide_block: int
    stop_block: int
    audio_start: float
    audio_end: float
    interrupted: bool


@dataclass(frozen=True)
class Timeline:
    placements: tuple[Placement, ...]
    segments: tuple[Segment, ...]
    events: tuple[Event, ...]
    spans: tuple[Span, ...]
    duration: float


def _ceil_block(t: float, block: float) -> int:
    return math.ceil(t / block - EPS)


def assistant_gap(rng: np.random.Generator, cfg: TimelineConfig) -> float:
    g = cfg.gap
    gap = float(np.clip(g.median_s * math.exp(g.sigma * rng.standard_normal()), g.min_s, g.max_s))
    return max(gap, cfg.synth_delay_s + cfg.block_s)


def user_gap(rng: np.random.Generator, cfg: TimelineConfig) -> float:
    g = cfg.user_gap
    return float(np.clip(g.mean_s + g.sd_s * rng.standard_normal(), g.min_s, g.max_s))


def _word_time(utt: Utterance, index: int) -> float:
    if utt.words:
        return utt.words[min(max(index, 0), len(utt.words) - 1)].start
    n = max(len(utt.text.split()), 1)
    return utt.duration * min(max(index, 0), n - 1) / n


def voiced_runs_of(utt: Utterance) -> list[tuple[float, float]]:
    """Where an utterance has voice, judged exactly as `checks` judges channel 1
    (same levelling, same frame threshold), so a cut placed in voice is heard as one."""
    from datagen.timeline.checks import voiced_runs
    from datagen.timeline.mix import SPEECH_RMS_DB, level

    return voiced_runs(level(utt.audio.astype(np.float32), SPEECH_RMS_DB), utt.sample_rate)


def into_voice(runs: list[tuple[float, float]], t: float, margin: float) -> float:
    """How far to move a cut at `t` so it falls at least `margin` inside a voiced
    run (a stop decided during a sentence pause would have no audible end)."""
    for a, b in runs:
        if a + margin <= t <= b:
            return 0.0
        if t < a + margin:
            return a + margin - t
    return math.inf


def start_in_voice(
    runs: list[tuple[float, float]],
    audio_start: float,
    earliest: float,
    latest: float,
    lag: float,
    block: float,
) -> float | None:
    """The latest overlay start in [earliest, latest] whose stop, `lag` later and
    snapped up to the block grid, falls at least two blocks inside a voiced run
    (runs in answer time, the answer starting at `audio_start`). None if none does."""
    for a, b in reversed(runs):
        stop = math.floor((audio_start + b) / block + EPS)  # last block boundary inside the run
        while stop * block >= audio_start + a + 2 * block:
            o_start = stop * block - lag
            if o_start < earliest:
                break
            fits = into_voice(runs, _ceil_block(o_start + lag, block) * block - audio_start, 2 * block) == 0
            if o_start <= latest and fits:
                return o_start
            stop -= 1
    return None


def spoken_prefix(utt: Utterance, keep_s: float) -> str:
    """The words whose middle was heard before the audio stopped."""
    if utt.words:
        return " ".join(w.text for w in utt.words if (w.start + w.end) / 2 <= keep_s)
    words = utt.text.split()
    return " ".join(words[: int(len(words) * keep_s / max(utt.duration, EPS))])


def placed_words(utt: Utterance, start: float, keep_s: float | None) -> tuple[Word, ...]:
    """The utterance's words moved to dialogue time, cut at `keep_s` like
    `spoken_prefix`. Without timings, words share the duration by length (an
    estimate, and the segment says so)."""
    words = utt.words
    if not words:
        texts = utt.text.split()
        total = sum(len(w) + 1 for w in texts) or 1
        t, est = 0.0, []
        for w in texts:
            d = utt.duration * (len(w) + 1) / total
            est.append(Word(w, t, t + d))
            t += d
        words = tuple(est)
    end = utt.duration if keep_s is None else keep_s
    return tuple(
        Word(w.text, round(start + w.start, 4), round(start + min(w.end, end), 4))
        for w in words
        if (w.start + w.end) / 2 <= end
    )


class _Layout:
    """Mutable state while laying out one dialogue (kept out of the records)."""

    def __init__(self, vd: VoicedDialogue, cfg: TimelineConfig, rng: np.random.Generator):
        self.vd, self.cfg, self.rng = vd, cfg, rng
        self.placements: list[Placement] = []
        self.segments: list[Segment] = []
        self.events: list[Event] = []
        self.spans: list[Span] = []
        self.env_end = uniform(rng, cfg.lead_in_s)  # end of the last speech on channel 0
        self.floor_free = self.env_end  # when nobody holds the floor any more
        self.last_assistant: Span | None = None

    def utt(self, key: str) -> Utterance:
        try:
            return self.vd.utterances[key]
        except KeyError:
            raise PlacementError("missing_utterance", key) from None

    def put(
        self,
        key: str,
        channel: int,
        start: float,
        turn: int,
        kind: str,
        expect: str = "",
        gain_db: float = 0.0,
        keep_s: float | None = None,
        spoken: str = "",
    ) -> float:
        u = self.utt(key)
        end = start + (u.duration if keep_s is None else keep_s)
        self.placements.append(Placement(key, channel, start, gain_db, keep_s))
        self.segments.append(
            Segment(
                id=f"{self.vd.dialogue.id}-{key}",
                start=start,
                end=end,
                channel=channel,
                role=u.role,
                speaker=u.speaker,
                text=u.text,
                kind=kind,
                expect=expect,
                spoken_text=spoken,
                turn=turn,
                words=placed_words(u, start, keep_s),
                word_timing=u.timing_source if u.words else "estimate",
                dnsmos=u.dnsmos,
            )
        )
        return end

    # -- user / third-party turns -------------------------------------------------
    def env_turn(self, i: int) -> None:
        turn = self.vd.dialogue.turns[i]
        prev = self.last_assistant
        if prev is None:
            start = self.env_end
        elif prev.interrupted:
            start = max(self.floor_free, self.env_end) + max(user_gap(self.rng, self.cfg), self.cfg.gap.min_s)
        else:
            start = max(prev.audio_end + user_gap(self.rng, self.cfg), self.env_end + self.cfg.gap.min_s)
        key = f"t{i}"
        if turn.pause_after_word is not None:
            end0 = self.put(key, ENV, start, i, "pause_part")
            pause = uniform(self.rng, (self.cfg.pause.min_s, self.cfg.pause.max_s))
            self.events.append(
                Event("pause", end0, turn.role, "listen", {"duration": round(pause, 4), "turn": i})
            )
            end = self.put(f"{key}p1", ENV, end0 + pause, i, "pause_part")
        elif turn.breaks:
            end = self.cue_turn(i, start)
        else:
            end = self.put(key, ENV, start, i, "turn")
        self.env_end = max(self.env_end, end)
        self.floor_free = max(self.floor_free, end)

    def cue_turn(self, i: int, start: float) -> float:
        """A long user turn in stretches, with the assistant's cue in the dip after each
        but the last. A cue is decided like a turn (rule 1, its gap drawn from
        `assistant_backchannel.onset_s`), is an ordinary speaking span on channel 1,
        and the user goes on `resume_s` after its audio ends. Returns the turn's end."""
        cfg, block, bc = self.cfg, self.cfg.block_s, self.cfg.assistant_backchannel
        turn = self.vd.dialogue.turns[i]
        cues = sorted(
            ((j, ov) for j, ov in enumerate(turn.overlays) if ov.kind == CUE_KIND), key=lambda c: c[1].at_word
        )
        t = start
        for k, (j, ov) in enumerate(cues):
            end = self.put(f"t{i}p{k}" if k else f"t{i}", ENV, t, i, "pause_part")
            gap = max(uniform(self.rng, bc.onset_s), cfg.synth_delay_s + block)
            decide, _, lead, audio_start, natural_end, stop_block = self.speak(
                self.utt(f"t{i}o{j}"), end, gap
            )
            self.put(f"t{i}o{j}", ASSISTANT, audio_start, i, CUE_KIND, "finish")
            t = max(natural_end + uniform(self.rng, bc.resume_s), audio_start + lead + block)
            detail = {
                "turn": i,
                "cue": j,
                "text": ov.text,
                "dip_start": round(end, 4),
                "audio_start": round(audio_start + lead, 4),
                "end": round(natural_end, 4),
                "resume": round(t, 4),
            }
            self.events.append(Event(CUE_KIND, decide * block, "assistant", "cue", detail))
            self.spans.append(Span(i, ov.text, decide, stop_block, audio_start, natural_end, False))
        return self.put(f"t{i}p{len(cues)}", ENV, t, i, "pause_part")

    # -- assistant turns ------------------------------------------------------------
    def speak(self, u: Utterance, heard: float, gap: float):
        """Where the assistant's span voicing `u` lands when it has heard up to
        `heard` and answers `gap` later (an answer or a cue alike): its decide
        block (rule 1, and after the previous span's stop), its voiced runs,
        lead-in, audio start and natural end, and the block of its last voiced
        frame. Anchored on audible voice (judged as the checks judge it), not on
        the file's edges, so a quiet lead-in or tail cannot shift the labels."""
        cfg, block = self.cfg, self.cfg.block_s
        decide = max(_ceil_block(heard, block), _ceil_block(heard + gap - cfg.synth_delay_s, block))
        if self.spans:
            decide = max(decide, self.spans[-1].stop_block + 1)
        runs = voiced_runs_of(u)
        lead, last_voice = (runs[0][0], runs[-1][1]) if runs else (0.0, u.duration)
        audio_start = decide * block + cfg.synth_delay_s - lead
        natural_end = audio_start + last_voice
        return decide, runs, lead, audio_start, natural_end, int(natural_end / block + EPS)

    def assistant_turn(self, i: int) -> None:
        cfg, block = self.cfg, self.cfg.block_s
        turn = self.vd.dialogue.turns[i]
        u = self.utt(f"t{i}")
        decide, runs, lead, audio_start, natural_end, stop_block = self.speak(
            u, self.env_end, assistant_gap(self.rng, cfg)
        )
        audio_end, interrupted, keep = natural_end, False, None
        self.events.append(Event("turn_shift", decide * block, "assistant", "speak", {"turn": i}))

        busy_until = audio_start + lead + 0.3
        for j, ov in enumerate(turn.overlays):
            ou = self.utt(f"t{i}o{j}")
            want = audio_start + _word_time(u, ov.at_word) + uniform(self.rng, (-0.1, 0.2))
            if ov.expect == "stop":
                heard_s = (
                    ou.duration if ov.kind == "related_question" else min(ou.duration, cfg.barge_in_heard_s)
                )
                latest = natural_end - 0.4 - heard_s - cfg.reaction_s  # must cut real speech
                o_start = min(max(want, busy_until), latest)
                for _ in range(len(runs) + 1):  # slide later until the stop lands in voice
                    stop_block = _ceil_block(o_start + heard_s + cfg.reaction_s, block)
                    move = into_voice(runs, stop_block * block - audio_start, 2 * block)
                    if move == 0.0:
                        break
                    o_start += move
                earliest = audio_start + lead + 0.3
                if o_start < earliest or o_start > latest or move != 0.0:
                    # Sliding later ran off the answer: take the latest earlier start whose stop
                    # lands in voice, so a long-enough answer is not lost to where its pauses fall.
                    lag = heard_s + cfg.reaction_s
                    o_start = start_in_voice(runs, audio_start, earliest, latest, lag, block)
                    if o_start is None:
                        raise PlacementError("answer_too_short", f"turn {i} cannot hold a {ov.kind}")
                    stop_block = _ceil_block(o_start + lag, block)
                audio_end = stop_block * block
                keep = audio_end - audio_start
                interrupted = True
            else:
                latest = natural_end - ou.duration - 0.2  # a keep-talking cue ends while it talks
                o_start = min(max(want, busy_until), latest)
                if o_start < busy_until - EPS:
                    raise PlacementError("no_room_for_overlay", f"turn {i} overlay {j} ({ov.kind})")
            gain = uniform(self.rng, cfg.interrupter_gain_db)
            o_end = self.put(f"t{i}o{j}", ENV, o_start, i, ov.kind, ov.expect, gain_db=gain)
            detail = {"turn": i, "text": ov.text, "gain_db": round(gain, 2), "end": round(o_end, 4)}
            self.events.append(Event(ov.kind, o_start, ov.role, ov.expect, detail))
            self.env_end = max(self.env_end, o_end)
            busy_until = o_end + 0.5
            if ov.expect == "stop":
                break

        spoken = spoken_prefix(u, keep) if interrupted else ""
        self.put(
            f"t{i}",
            ASSISTANT,
            audio_start,
            i,
            "turn",
            "stop" if interrupted else "finish",
            keep_s=keep,
            spoken=spoken,
        )
        self.events.append(
            Event(
                "stop" if interrupted else "finish",
                stop_block * block if interrupted else natural_end,
                "assistant",
                "listen",
                {"turn": i},
            )
        )
        span = Span(i, turn.text, decide, stop_block, audio_start, audio_end, interrupted)
        self.spans.append(span)
        self.last_assistant = span
        self.floor_free = max(self.floor_free, audio_end, self.env_end)


def place(vd: VoicedDialogue, cfg: TimelineConfig, rng: np.random.Generator) -> Timeline:
    lay = _Layout(vd, cfg, rng)
    for i, turn in enumerate(vd.dialogue.turns):
        if turn.role == "assistant":
            lay.assistant_turn(i)
        else:
            lay.env_turn(i)
    end = max([s.end for s in lay.segments] + [lay.floor_free])
    duration = _ceil_block(end + uniform(rng, cfg.tail_s), cfg.block_s) * cfg.block_s
    if duration > cfg.max_dialogue_s:
        raise PlacementError("dialogue_too_long", f"{duration:.1f}s > {cfg.max_dialogue_s}s")
    order = sorted(range(len(lay.segments)), key=lambda k: (lay.segments[k].start, lay.segments[k].channel))
    return Timeline(
        placements=tuple(lay.placements[k] for k in order),
        segments=tuple(lay.segments[k] for k in order),
        events=tuple(sorted(lay.events, key=lambda e: e.time)),
        spans=tuple(lay.spans),
        duration=round(duration, 6),
    )
