"""Typed records that flow between stages.

Stages map lists of these records to lists of these records; nothing else
crosses a stage boundary. They are frozen so a stage cannot mutate a record
another stage (or a retry) still holds, and they pickle cheaply so executors
can ship them between processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Role = Literal["user", "assistant", "third_party"]
ROLES: tuple[str, ...] = ("user", "assistant", "third_party")

# Tasks a dialogue can be built for. Each names the one behaviour the
# dialogue is meant to teach; the recipe's `mix` gives their shares.
TASKS: tuple[str, ...] = (
    "qa",  # one question, one answer: plain turn-taking
    "multi_turn",  # 2-5 question/answer rounds on one topic
    "pause",  # the user pauses mid-question; the assistant keeps listening
    "backchannel",  # user backchannels during the answer; keep talking
    "barge_in_user",  # context-independent interruption by the user; stop
    "barge_in_third_party",  # context-independent interruption by a third party; stop
    "barge_in_related",  # related question (user or third party); stop, then answer it
    "distractor",  # unrelated third-party question/remark; keep talking
    "no_interruption",  # a long answer nobody interrupts; finish it
    # The user speaks a long turn (context, then a question); the assistant says a
    # short cue ("mm-hmm") in a dip between sentences without taking the floor,
    # then answers once the user is done. Without it a model never learns to
    # backchannel itself (SALMONN-omni rarely does: its data had none).
    "assistant_backchannel",
)

# What an overlay (speech laid over an assistant turn) expects the assistant to do.
Expect = Literal["continue", "stop"]
OVERLAY_KINDS: tuple[str, ...] = ("backchannel", "barge_in", "related_question", "distractor")
# The assistant's own cue said in a dip of a user's turn (task assistant_backchannel).
CUE_KIND = "assistant_backchannel"


@dataclass(frozen=True)
class Question:
    """One input question, from a bundled set, a local file or a hub dataset."""

    id: str
    text: str
    answer: str = ""
    topic: str = ""
    source: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Overlay:
    """Speech by someone else laid over another speaker's turn.

    Over an assistant turn (backchannels, barge-ins, ...): `at_word` is the index
    of the assistant word during which it starts; the composer turns it into a
    time from the assistant's word timings. `expect` is the behaviour the data
    teaches: keep talking or stop.

    Over a user turn (kind CUE_KIND, role assistant): the assistant's short cue.
    `at_word` is where the user's turn is split (the cue falls in the dip after
    word `at_word - 1`); `expect` "continue": the user keeps the floor.
    """

    kind: str  # one of OVERLAY_KINDS
    role: Role
    text: str
    at_word: int
    expect: Expect
    speaker: str = ""


@dataclass(frozen=True)
class Turn:
    """One turn of a dialogue's script.

    `pause_after_word` (user turns) splits the turn into two stretches of
    speech with a pause between them. `overlays` on an assistant turn are
    backchannels, barge-ins and distractors said over it; on a user turn, the
    assistant's cues (CUE_KIND), each splitting the turn at its `at_word`.
    """

    role: Role
    text: str
    speaker: str = ""
    pause_after_word: int | None = None
    overlays: tuple[Overlay, ...] = ()

    @property
    def breaks(self) -> tuple[int, ...]:
        """Word indices where this turn's speech is split into stretches: its
        pause, or the dips that hold the assistant's cues (user turns only)."""
        if self.pause_after_word is not None:
            return (self.pause_after_word,)
        if self.role == "assistant":
            return ()
        return tuple(sorted(ov.at_word for ov in self.overlays if ov.kind == CUE_KIND))

    def stretches(self) -> tuple[str, ...]:
        """The turn's text cut at its `breaks`: what is voiced as "tN", "tNp1", "tNp2", ..."""
        words = self.text.split()
        edges = (0, *self.breaks, len(words))
        return tuple(" ".join(words[a:b]) for a, b in zip(edges, edges[1:], strict=False))


@dataclass(frozen=True)
class DialoguePlan:
    """A dialogue to be written: its task and the questions it is built on."""

    id: str
    task: str
    questions: tuple[Question, ...]
    seed: int
    # Who asks a related question (barge_in_related): planned, so a set's
    # user/third-party split is exact; None leaves it to the dialogue's seed.
    asker: str | None = None


@dataclass(frozen=True)
class Dialogue:
    """The script of one dialogue: turns with roles, speakers and events."""

    id: str
    task: str
    turns: tuple[Turn, ...]
    seed: int
    question_ids: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Word:
    """A word and where it is in an utterance's audio (seconds)."""

    text: str
    start: float
    end: float


@dataclass(frozen=True, eq=False)
class Utterance:
    """Synthesized speech for one piece of text, at the corpus sample rate.

    `key` names what it voices inside its dialogue: "t3" for turn 3,
    "t3p1" for the second stretch of a paused turn, "t3o0" for overlay 0 of
    turn 3. `timing_source` says where word timings came from ("aligner",
    "asr" or "estimate") so a consumer can judge them.
    """

    key: str
    text: str
    speaker: str
    role: Role
    audio: np.ndarray  # float32 mono
    sample_rate: int
    words: tuple[Word, ...] = ()
    timing_source: str = "estimate"
    # DNSMOS of the (trimmed) clip, {"sig", "bak", "ovrl", "p808"}: set by QC only when the
    # recipe's qc.dnsmos_min_ovrl is on; goes into the supervision's custom "dnsmos".
    dnsmos: dict[str, float] | None = None

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate


@dataclass(frozen=True, eq=False)
class VoicedDialogue:
    """A dialogue with one utterance per piece of text it needs spoken."""

    dialogue: Dialogue
    utterances: dict[str, Utterance]


@dataclass(frozen=True)
class Segment:
    """One stretch of speech on the timeline (becomes a Lhotse supervision)."""

    id: str
    start: float
    end: float
    channel: int
    role: Role
    speaker: str
    text: str
    kind: str  # "turn", "pause_part", or an overlay kind
    expect: str = ""  # for overlays and assistant turns: continue/stop/finish
    spoken_text: str = ""  # assistant turns cut short: what was said before the stop
    turn: int = -1
    # The words heard, in dialogue time (a cut-short turn: those whose middle is
    # before the stop), and where their timings came from (Utterance.timing_source).
    words: tuple[Word, ...] = ()
    word_timing: str = ""
    # Utterance.dnsmos, when QC scored it (a dict: left out of the hash)
    dnsmos: dict[str, float] | None = field(default=None, hash=False)


@dataclass(frozen=True)
class Event:
    """A timed conversational event with the behaviour the data teaches."""

    kind: str  # turn_shift, pause, backchannel, barge_in, related_question, distractor, finish
    time: float
    role: Role
    expect: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class DuplexSample:
    """A composed two-channel dialogue with its supervision and label track.

    Channel 0 is the environment stream (user, third parties, noise, echo);
    channel 1 is the assistant's clean speech.
    """

    id: str
    task: str
    audio: np.ndarray  # float32, shape (2, T)
    sample_rate: int
    segments: tuple[Segment, ...]
    events: tuple[Event, ...]
    labels: np.ndarray  # int32, one id per block
    meta: dict[str, Any] = field(default_factory=dict)
    # (turn, mono float32 audio) for each assistant turn cut short: its whole answer.
    full_answers: tuple[tuple[int, np.ndarray], ...] = ()

    @property
    def duration(self) -> float:
        return self.audio.shape[1] / self.sample_rate


@dataclass(frozen=True)
class Reject:
    """An input that did not make it into the corpus, and why."""

    id: str
    stage: str
    reason: str
    detail: str = ""
    raw: str = ""  # raw text that failed to parse, when there is one
