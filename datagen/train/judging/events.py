"""The gold facts of a dialogue that a prediction is judged against.

Read from a cut (its supervisions, `custom["events"]` and label track) into
the plain-JSON `answers` and `events` of an error-log line
(docs/error_log.md), so the log alone is enough to score a model and to
build DPO pairs: no trainer code or corpus conventions are needed to read it.

Event kinds:
- `turn`: the user (or third party) ends a turn the assistant should take:
  `time` its onset, `end` the end of its speech, `pauses` silences inside it.
- `backchannel`, `barge_in`, `related_question`, `distractor`: speech over an
  assistant answer, expecting `stop` or `continue`.
- `silence`: an answer of a `no_interruption` dialogue, the "silent samples"
  of SALMONN-omni's context-dependent set (expects `continue`).
- `assistant_backchannel`: a dip in the user's long turn where the assistant
  says a short cue and hands the floor back (expects `speak`): `time` the dip's
  start, `end` where the user goes on. The turn the answer then takes starts at
  the user's last stretch after the last cue (a cue is not a cut-in).
"""

from __future__ import annotations

from datagen.train.common.tracks import shift_blocks
from datagen.train.training.answers import CUE_KIND, Answer, assistant_turns

OVERLAYS = ("backchannel", "barge_in", "related_question", "distractor")
CUE = CUE_KIND  # the assistant's own cue in a user's turn
ENV_TURN_KINDS = ("turn", "pause_part", "related_question")


def _answered_speech(cut, speak_time: float, after: float = -1.0):
    """The channel-0 speech an answer deciding at `speak_time` responds to: the last
    user/third-party turn (or related question) that started before the decision,
    counting only stretches that start after `after` (the last cue said before it)."""
    cands = [
        s
        for s in cut.supervisions
        if s.channel == 0 and (s.custom or {}).get("kind") in ENV_TURN_KINDS and after < s.start < speak_time
    ]
    if not cands:
        return None, []
    last = max(cands, key=lambda s: s.end)
    kind, turn = last.custom["kind"], last.custom.get("turn")
    parts = [last] if kind == "related_question" else [s for s in cands if s.custom.get("turn") == turn]
    return last, parts


def gold_record(cut, answers: list[Answer], block_s: float) -> dict:
    """`answers` and `events` of an error-log line for one cut."""
    by_turn = {a.turn: i for i, a in enumerate(answers)}
    ans_rows = [
        {
            "turn": a.turn,
            "gold_speak": a.gold_speak,
            "gold_stop": a.gold_stop,
            "natural_blocks": a.natural_blocks,
            "expect": "stop" if a.interrupted else "finish",
        }
        for a in answers
    ]
    pauses: dict[int, list[list[float]]] = {}
    for e in cut.custom.get("events", []):
        if e["kind"] == "pause":
            t = e["detail"].get("turn")
            pauses.setdefault(t, []).append(
                [round(e["time"], 4), round(e["time"] + e["detail"]["duration"], 4)]
            )
    events: list[dict] = []
    # `answers` are the assistant's supervisions in order (answers.answers_of); cues among them
    is_cue = [(s.custom or {}).get("kind") == CUE for s in assistant_turns(cut)]
    is_cue = is_cue if len(is_cue) == len(answers) else [False] * len(answers)
    cue_events = iter(e for e in cut.custom.get("events", []) if e["kind"] == CUE)
    cue_speaks = [a.gold_speak * block_s for a, c in zip(answers, is_cue, strict=True) if c]
    for k, a in enumerate(answers):
        if is_cue[k]:
            e = next(cue_events, None)
            if e is None:
                continue
            events.append(
                {
                    "kind": CUE,
                    "who": "user",
                    "time": round(e["detail"]["dip_start"], 4),
                    "end": round(e["detail"]["resume"], 4),
                    "expect": "speak",
                    "answer": k,
                    "gold_block": a.gold_speak,
                }
            )
            continue
        speak = a.gold_speak * block_s
        last, parts = _answered_speech(cut, speak, max((t for t in cue_speaks if t < speak), default=-1.0))
        if last is None:
            continue
        events.append(
            {
                "kind": "turn",
                "who": last.custom.get("role", "user"),
                "time": round(min(s.start for s in parts), 4),
                "end": round(last.end, 4),
                "expect": "speak",
                "answer": k,
                "gold_block": a.gold_speak,
                "pauses": pauses.get(last.custom.get("turn"), [])
                if last.custom["kind"] != "related_question"
                else [],
            }
        )
    for e in cut.custom.get("events", []):
        if e["kind"] not in OVERLAYS:
            continue
        k = by_turn.get(e["detail"].get("turn"))
        if k is None:
            continue
        stop = e["expect"] == "stop"
        events.append(
            {
                "kind": e["kind"],
                "who": e["role"],
                "time": round(e["time"], 4),
                "end": round(e["detail"].get("end", e["time"]), 4),
                "expect": "stop" if stop else "continue",
                "answer": k,
                "gold_block": answers[k].gold_stop if stop else None,
            }
        )
    if cut.custom.get("task") == "no_interruption":
        for k, a in enumerate(answers):
            if not a.interrupted:
                events.append(
                    {
                        "kind": "silence",
                        "who": None,
                        "time": round(a.gold_speak * block_s, 4),
                        "end": round(a.gold_stop * block_s, 4),
                        "expect": "continue",
                        "answer": k,
                        "gold_block": None,
                    }
                )
    events.sort(key=lambda ev: (ev["time"], ev["kind"]))
    return {"answers": ans_rows, "events": events}


def log_record(cut, corpus, labels, answers: list[Answer]) -> dict:
    """The gold part of an error-log line for one cut: who it is, its label track's shape and
    shifts, and its answers and events. One place for every log writer (our streamed model's,
    and any model's read back from audio), so their lines never drift apart."""
    meta = cut.custom["label_meta"]
    return {
        "cut_id": cut.id,
        "corpus": str(corpus),
        "task": cut.custom.get("task", ""),
        "block_s": meta["block_s"],
        "num_blocks": len(labels),
        "tokenizer": meta["tokenizer"],
        "gold_shifts": shift_blocks(labels),
        **gold_record(cut, answers, meta["block_s"]),
    }
