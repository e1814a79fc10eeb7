"""`fdb`: Full-Duplex-Bench's evaluation layout (DanielLin94144/Full-Duplex-Bench, v1.0 and v1.5).

A model under test reads each sample's `input.wav` and writes a time-aligned
`output.wav` beside it; FDB's scripts then transcribe that (`output.json`) and
score it against the sample's annotation. So every sample is one folder with a
numeric name (FDB's backchannel scorer reads only digit-named folders) holding
mono 16 kHz PCM_16 WAVs (FDB computes timing at 16 kHz) and the task's JSON,
with all timestamps in seconds of that sample's `input.wav`.

Our channel 0 (the environment: user, third parties, noise) is the input, with
our assistant's echo cancelled where the corpus has it (datagen/export/echo.py:
the input is the user's side; FDB times the user with a VAD on it, and the model
under test makes its own voice); channel 1 (the assistant) is never written,
because it is the reference the model under test replaces. Samples keep channel
0 only up to the point where our assistant's reaction would start (so that
reaction is not in the input), never past the end of the sample's event (FDB's
inputs end with it), and then add `RESPONSE_S` of digital silence for the model
to answer into.

v1.0 (`version="1.0"`), folders named after FDB's synthetic subsets:
- `synthetic_pause_handling/{ID}` from `pause` dialogues: `input.wav` is
  channel 0 up to the end of the user's question plus `TAIL_S` (never into
  our assistant's answer), as FDB's pause inputs end with the user's turn;
  `pause.json` `[{"text": "[PAUSE]", "timestamp": [s, e]}]` per mid-turn
  pause; `transcription.json` `[{"speaker": 0, "item": [{text, timestamp}]}]`
  with the user's words.
- `synthetic_turn_taking/{ID}` from `qa` dialogues: `input.wav` is channel 0
  up to where our assistant starts answering; `turn_taking.json`
  `[{"text": "[TURN-TAKING]", "timestamp": [user_end, answer_start]}]`. FDB's
  scorer takes `timestamp[0]` as the end of the user's turn and measures the
  model's latency from it, so the span is the turn gap, not the user's turn.
- `synthetic_user_interruption/{ID}` from `barge_in_related` where the user
  asks (FDB scores the answer to the interruption, so not "Stop talking."):
  `input.wav` is channel 0 through the interruption's end;
  `interrupt.json` `[{"context", "interrupt", "timestamp"}]`
  (the user's question, the interruption's words, its span; FDB's ASR crops
  the output at `timestamp[1]`), plus `context.wav` and `interrupt.wav`, the
  channel-0 audio of those two spans.

v1.5 (`version="1.5"`), overlap categories: `user_interruption` (barge_in_user,
barge_in_related by the user), `user_backchannel` (backchannel),
`background_speech` (distractor) and `third_party_interruption`
(barge_in_third_party, barge_in_related by a third party; ours, not an FDB
category). `input.wav` is channel 0 with the cut's first overlap event, up to
its end (so each sample holds exactly one, and no follow-up);
`clean_input.wav` is the same with the event's span silenced (a
`FADE_S` ramp inside the span); `metadata.json` `{context_text,
current_turn_text, timestamps}` (the user's question(s) before the event, the
event's own words, as FDB's example has the overlapping turn there, and its
span); `input.json` / `clean_input.json` as `{text, chunks}` from our word
alignments of channel-0 speakers (the clean one without the event's words).

Other tasks are skipped and counted. The map from a sample back to its
dialogue is `ids.json` at the top, `{folder: {ID: cut id}}`: it cannot sit in
the task folders, because FDB's pause and turn-taking scorers list every entry
there as a sample folder and fail on a file.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import soundfile as sf

from datagen.export.common import ExportCut, ExportError, Sup, resample

SR = 16000  # FDB computes all timing at 16 kHz
TAIL_S = 0.2  # kept after the user's last word in pause_handling (FDB's inputs end with the turn)
RESPONSE_S = 10.0  # digital silence after an annotated span, for the model to respond into
FADE_S = 0.01  # ramp at each edge of a silenced span in clean_input.wav, so no click
QUESTION_KINDS = ("turn", "pause_part")
OVERLAP_KINDS = ("barge_in", "backchannel", "distractor", "related_question")

V10_FOLDERS = {
    "pause": "synthetic_pause_handling",
    "qa": "synthetic_turn_taking",
    "barge_in_related": "synthetic_user_interruption",  # asked by the user: an interruption to answer
}
V15_FOLDERS = {
    "barge_in_user": "user_interruption",
    "backchannel": "user_backchannel",
    "distractor": "background_speech",
    "barge_in_third_party": "third_party_interruption",
    "barge_in_related": "user_interruption",
}


def parse_version(version) -> str:
    """'1.0' or '1.5' (also 1, 1.5, 'v1.5'); anything else is an ExportError before any writing."""
    v = str(version).strip().lower().removeprefix("v")
    if v in ("1", "1.0"):
        return "1.0"
    if v == "1.5":
        return "1.5"
    raise ExportError(f"--fdb-version {version!r}: Full-Duplex-Bench layouts are 1.0 and 1.5")


# ---- what a dialogue says, in FDB's terms -------------------------------------------------------


def question_sups(c: ExportCut, before: float = float("inf")) -> list[Sup]:
    """The user's own turns (a paused question is several pause_parts) that start before `before`."""
    return [s for s in c.of_role("user") if s.kind in QUESTION_KINDS and s.start < before]


def first_question(c: ExportCut) -> list[Sup]:
    """The parts of the dialogue's opening user turn."""
    qs = question_sups(c)
    return [s for s in qs if s.turn == qs[0].turn] if qs else []


def answer_start(c: ExportCut, after: float) -> float | None:
    """Where our assistant's next turn starts (the first assistant speech from `after` on)."""
    starts = [s.start for s in c.of_role("assistant") if s.start >= after]
    return min(starts) if starts else None


def overlap_events(c: ExportCut) -> list[dict]:
    """The overlaid events (barge-ins, backchannels, ...), in time order, with their end."""
    evs = [e for e in c.events if e.get("kind") in OVERLAP_KINDS and "end" in (e.get("detail") or {})]
    return sorted(evs, key=lambda e: e["time"])


def event_span(ev: dict) -> tuple[float, float]:
    return float(ev["time"]), float(ev["detail"]["end"])


def event_sup(c: ExportCut, ev: dict) -> Sup | None:
    """The supervision of an overlay event: same kind and role, the closest start."""
    cands = [s for s in c.sups if s.kind == ev["kind"] and s.role == ev.get("role") and s.channel == 0]
    return min(cands, key=lambda s: abs(s.start - ev["time"]), default=None)


def text_of(sups: list[Sup]) -> str:
    return " ".join(s.heard_text.strip() for s in sups if s.heard_text.strip())


def words_in(sups: list[Sup], start: float, end: float) -> list[tuple[str, float, float]]:
    """Words of `sups` lying in [start, end), in time order."""
    ws = [w for s in sups for w in s.words if w[1] >= start and w[2] <= end + 1e-6 and w[1] < end]
    return sorted(ws, key=lambda w: w[1])


def chunks(words: list[tuple[str, float, float]]) -> dict:
    """FDB's ASR transcript shape: {"text", "chunks": [{"text", "timestamp": [s, e]}]}."""
    return {
        "text": " ".join(w for w, _, _ in words),
        "chunks": [{"text": w, "timestamp": [round(a, 4), round(b, 4)]} for w, a, b in words],
    }


# ---- audio ---------------------------------------------------------------------------------------


def idx(t: float) -> int:
    return int(round(t * SR))


def input_audio(env: np.ndarray, keep_end: float, min_s: float = 0.0) -> np.ndarray:
    """Channel 0 up to `keep_end`, then digital silence up to `min_s`: the model hears
    nothing after the point where our assistant's own reaction would begin."""
    x = env[: idx(keep_end)]
    n = max(len(x), idx(min_s))
    return np.concatenate([x, np.zeros(n - len(x), np.float32)]) if n > len(x) else x.copy()


def silence_span(x: np.ndarray, start: float, end: float) -> np.ndarray:
    """`x` with [start, end) muted; the FADE_S ramps lie inside the span, so nothing outside changes."""
    i0, i1 = max(0, idx(start)), min(len(x), idx(end))
    y = x.copy()
    if i1 <= i0:
        return y
    gain = np.zeros(i1 - i0, np.float32)
    nf = min(idx(FADE_S), (i1 - i0) // 2)
    if nf > 0:
        ramp = (0.5 + 0.5 * np.cos(np.linspace(0, np.pi, nf + 2)[1:-1])).astype(np.float32)
        gain[:nf], gain[len(gain) - nf :] = ramp, ramp[::-1]
    y[i0:i1] *= gain
    return y


def write_wav(path: Path, x: np.ndarray) -> None:
    sf.write(path, np.clip(x, -1.0, 1.0), SR, subtype="PCM_16")


def write_json(path: Path, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)


def span(a: float, b: float) -> list[float]:
    return [round(a, 4), round(b, 4)]


# ---- the exporter --------------------------------------------------------------------------------


class Exporter:
    """One sample folder per usable dialogue; `ids.json` and the summary at the end."""

    def __init__(self, src: Path, version: str = "1.0"):
        self.version = parse_version(version)
        self.out: Path | None = None
        self.ids: dict[str, dict[str, str]] = {}
        self.skipped: Counter = Counter()
        self.echo: list[dict] = []  # per echo dialogue: how far its echo was cancelled

    def begin(self, tmp: Path) -> None:
        self.out = tmp

    def add(self, c: ExportCut) -> None:
        if c.task not in (V10_FOLDERS if self.version == "1.0" else V15_FOLDERS):
            self.skipped[c.task or "unknown"] += 1
            return
        env = resample(without_echo(c, self.echo), c.sample_rate, SR)
        made = self._add_v10(c, env) if self.version == "1.0" else self._add_v15(c, env)
        if not made:
            self.skipped[c.task or "unknown"] += 1

    def end(self) -> dict:
        write_json(self.out / "ids.json", self.ids)
        erle = sorted(e["erle_db"] for e in self.echo)
        return {
            "version": self.version,
            "samples": {k: len(v) for k, v in sorted(self.ids.items())},
            "skipped": dict(sorted(self.skipped.items())),
            "echo_removed": {
                "dialogues": len(erle),
                "median_erle_db": erle[len(erle) // 2] if erle else None,
            },
        }

    def _folder(self, name: str, cut_id: str) -> Path:
        """The next numeric sample folder of task folder `name` (0, 1, ... in corpus order)."""
        ids = self.ids.setdefault(name, {})
        sid = str(len(ids))
        ids[sid] = cut_id
        d = self.out / name / sid
        d.mkdir(parents=True)
        return d

    # v1.0

    def _add_v10(self, c: ExportCut, env: np.ndarray) -> bool:
        if c.task == "pause":
            return self._pause(c, env)
        if c.task == "qa":
            return self._turn_taking(c, env)
        if c.task == "barge_in_related":
            return self._interruption(c, env)
        return False

    def _pause(self, c: ExportCut, env: np.ndarray) -> bool:
        q = first_question(c)
        words = words_in(q, 0.0, c.duration)
        if not words:
            return False
        q_end = words[-1][2]
        pauses = [
            span(e["time"], e["time"] + e["detail"]["duration"])
            for e in c.events
            if e.get("kind") == "pause" and e.get("role", "user") == "user" and e["time"] < q_end
        ]
        if not pauses:
            return False
        ans = answer_start(c, q_end)
        keep_end = min(q_end + TAIL_S, ans if ans is not None else c.duration, c.duration)
        d = self._folder(V10_FOLDERS["pause"], c.id)
        write_wav(d / "input.wav", input_audio(env, keep_end))
        write_json(d / "pause.json", [{"text": "[PAUSE]", "timestamp": p} for p in pauses])
        write_json(d / "transcription.json", [{"speaker": 0, "item": chunks(words)["chunks"]}])
        return True

    def _turn_taking(self, c: ExportCut, env: np.ndarray) -> bool:
        q = first_question(c)
        words = words_in(q, 0.0, c.duration)
        if not words:
            return False
        user_end = max(s.end for s in q)
        ans = answer_start(c, user_end)
        if ans is None:
            return False
        d = self._folder(V10_FOLDERS["qa"], c.id)
        write_wav(d / "input.wav", input_audio(env, ans, user_end + RESPONSE_S))
        write_json(d / "turn_taking.json", [{"text": "[TURN-TAKING]", "timestamp": span(user_end, ans)}])
        write_json(d / "transcription.json", [{"speaker": 0, "item": chunks(words)["chunks"]}])
        return True

    def _interruption(self, c: ExportCut, env: np.ndarray) -> bool:
        evs = [e for e in overlap_events(c) if e.get("role") == "user" and e["kind"] == "related_question"]
        q = first_question(c)
        if not evs or not q:
            return False
        ev = evs[0]
        s, e = event_span(ev)
        sup = event_sup(c, ev)
        d = self._folder(V10_FOLDERS[c.task], c.id)
        write_wav(d / "input.wav", input_audio(env, min(keep_until(c, ev), e), e + RESPONSE_S))
        q_start, q_end = min(x.start for x in q), max(x.end for x in q)
        write_wav(d / "context.wav", env[idx(q_start) : idx(q_end)])
        write_wav(d / "interrupt.wav", env[idx(s) : idx(e)])
        interrupt = sup.heard_text if sup else str(ev["detail"].get("text", ""))
        meta = {"context": text_of(q), "interrupt": interrupt, "timestamp": span(s, e)}
        write_json(d / "interrupt.json", [meta])
        return True

    # v1.5

    def _add_v15(self, c: ExportCut, env: np.ndarray) -> bool:
        if c.task not in V15_FOLDERS:
            return False
        evs = overlap_events(c)
        if not evs:
            return False
        ev = evs[0]
        folder = V15_FOLDERS[c.task]
        if c.task == "barge_in_related" and ev.get("role") != "user":
            folder = "third_party_interruption"
        s, e = event_span(ev)
        keep_end = min(keep_until(c, ev), e)
        x = input_audio(env, keep_end, e + RESPONSE_S)
        sup = event_sup(c, ev)
        env_sups = [t for t in c.sups if t.channel == 0]
        words = words_in(env_sups, 0.0, keep_end)
        clean_words = [w for w in words if w[2] <= s or w[1] >= e]  # what the silenced span leaves
        d = self._folder(folder, c.id)
        write_wav(d / "input.wav", x)
        write_wav(d / "clean_input.wav", silence_span(x, s, e))
        write_json(
            d / "metadata.json",
            {
                "context_text": text_of(question_sups(c, before=s)),
                "current_turn_text": sup.heard_text if sup else str(ev["detail"].get("text", "")),
                "timestamps": span(s, e),
            },
        )
        write_json(d / "input.json", chunks(words))
        write_json(d / "clean_input.json", chunks(clean_words))
        return True


def without_echo(c: ExportCut, log: list[dict]) -> np.ndarray:
    """Channel 0 with our assistant's echo cancelled (datagen/export/echo.py), for a dialogue
    mixed with echo; channel 0 itself otherwise. The input is the user's side only: the
    model under test makes its own voice, and FDB times the user by a VAD on the input."""
    mix = c.custom.get("mix") or {}
    if not mix.get("echo"):
        return c.env
    from datagen.export.echo import remove_echo

    speech = [(s.start, s.end) for s in c.sups if s.channel == 0]
    out, stats = remove_echo(c.env, c.assistant, c.sample_rate, float(mix["echo_delay_s"]), speech)
    log.append(stats)
    return out


def keep_until(c: ExportCut, ev: dict) -> float:
    """How much of channel 0 a sample built on overlap event `ev` keeps: up to the next overlap
    event (one event per sample) or our assistant's next turn after it (its reaction, which the
    model under test is to produce), else the whole dialogue."""
    s, e = event_span(ev)
    ends = [c.duration]
    ends += [x["time"] for x in overlap_events(c) if x["time"] > s]
    ans = answer_start(c, s)
    if ans is not None:
        ends.append(ans)
    return max(e, min(ends))
