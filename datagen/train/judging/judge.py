"""Judge a predicted token track against a dialogue's gold events.

The one place that decides what a model did right and wrong; the error log,
the scorer and the DPO pair builder all call it, for our model or any other
(docs/error_log.md gives the rules with examples).

Times: a decision in block b exists at the end of the block, (b + 1) * block_s:
that is when its token is emitted. Latencies are measured to that moment.

- A `turn` is taken when the first speak-`<shift>` at or after the block in
  which the user's turn began falls in a block that ends after the user's
  speech ended, and within `turn_window_s` of it. Earlier is `cut_in`
  (`spoke_in_pause` inside a pause); none is `no_response`.
- Over an answer, the model is *speaking* at an event if it decided to speak
  before the event's block and has not decided to stop by then. A stop in
  the event's window (its onset to its end + `react_window_s`) reacts to it.
- `stop` events (barge-ins, related questions): reacting is right (a stop
  more than `late_blocks` after the gold stop is `late`); no stop in the
  window is `missed`; not speaking at the onset is `not_speaking`.
- `continue` events (backchannels, distractors): a stop in the window is a
  `false_stop`; not speaking at the onset is `not_speaking`.
- `silence` (an answer nobody interrupts): stopping it early is a false stop.
- A stop more than `early_blocks` before the end of the answer's audio that
  reacts to no event is an `early_stop`.
- `assistant_backchannel` (a dip in the user's long turn): a speak-`<shift>`
  in the dip (its start to where the user goes on) whose span stops by then
  (+ `react_window_s`) is a cue, `ok`; one that talks on is `took_floor`; one
  that stops more than `early_blocks` before the cue's audio ends is `cut_short`
  (a flicker of speak-stop is not a cue: a DPO run that made every span one block
  long scored 0.85 cue success without it); no speak in the dip is `no_cue`. A
  cue is not a turn: the answer's `turn` event starts at the user's last stretch.

Error categories are SALMONN-omni's five (REFERENCE.md §1), and a sixth of
ours for the cue (`no_cue`, `took_floor`, `cut_short`), so DPO pairs can teach it too;
turn-taking errors and consequences of an earlier error (`not_speaking`) have none.
"""

from __future__ import annotations

from collections.abc import Sequence

from datagen.train.common.config import ScoreConfig
from datagen.train.common.tracks import SpeakSpan, spans_of, speaking_at

CATEGORIES = (
    "cd_barge_in",
    "ci_barge_in_user",
    "ci_barge_in_third_party",
    "backchannel",
    "early_stop",
    "assistant_backchannel",  # ours: the assistant's own cue, missed or talked on (not the paper's)
)
SETTING = {
    "barge_in": "ci",
    "backchannel": "ci",
    "related_question": "cd",
    "distractor": "cd",
    "silence": "cd",
}


def category_of(event: dict) -> str | None:
    kind = event["kind"]
    if kind in ("related_question", "distractor"):
        return "cd_barge_in"
    if kind == "barge_in":
        return "ci_barge_in_user" if event["who"] == "user" else "ci_barge_in_third_party"
    if kind == "backchannel":
        return "backchannel"
    if kind == "silence":
        return "early_stop"
    if kind == "assistant_backchannel":
        return "assistant_backchannel"
    return None


def _block(t: float, block: float) -> int:
    return int(t / block + 1e-9)


def _window(ev: dict, block: float, cfg: ScoreConfig) -> tuple[int, int]:
    """Blocks in which a stop counts as a reaction to an overlay."""
    return _block(ev["time"], block), _block(ev["end"] + cfg.react_window_s, block)


def _judge_turn(ev: dict, spans: Sequence[SpeakSpan], block: float, cfg: ScoreConfig) -> dict:
    onset = _block(ev["time"], block)
    u = ev["end"]
    speaks = [sp.speak for sp in spans if sp.speak >= onset]
    if not speaks or speaks[0] * block > u + cfg.turn_window_s:
        return {"outcome": "no_response", "block": _block(u, block)}
    m = speaks[0]
    if (m + 1) * block <= u:
        t = (m + 1) * block
        in_pause = any(a <= t <= b for a, b in ev.get("pauses", []))
        return {"outcome": "spoke_in_pause" if in_pause else "cut_in", "block": m}
    return {"outcome": "ok", "block": m, "latency_ms": round(((m + 1) * block - u) * 1000)}


def _judge_overlay(ev: dict, spans: Sequence[SpeakSpan], block: float, cfg: ScoreConfig) -> dict:
    first, last = _window(ev, block, cfg)
    sp = speaking_at(spans, first)
    if sp is None:
        return {"outcome": "not_speaking", "predicted_stop": ev["expect"] != "stop", "block": first}
    reacted = sp.stop is not None and first <= sp.stop <= last
    if ev["expect"] == "continue":
        if reacted:
            return {"outcome": "false_stop", "predicted_stop": True, "block": sp.stop}
        return {"outcome": "ok", "predicted_stop": False}
    if not reacted:
        return {"outcome": "missed", "predicted_stop": False, "block": ev["gold_block"]}
    latency = round(((sp.stop + 1) * block - ev["time"]) * 1000)
    late = ev.get("gold_block") is not None and sp.stop > ev["gold_block"] + cfg.late_blocks
    out = {"outcome": "late" if late else "ok", "predicted_stop": True, "latency_ms": latency}
    return out | ({"block": ev["gold_block"]} if late else {"block": sp.stop})


def _judge_cue(
    ev: dict, spans: Sequence[SpeakSpan], answers: list[dict], block: float, cfg: ScoreConfig
) -> dict:
    first, last = _block(ev["time"], block), _block(ev["end"], block)
    said = [sp for sp in spans if first <= sp.speak <= last]
    if not said:
        return {"outcome": "no_cue", "block": ev["gold_block"]}
    sp = said[0]
    if sp.stop is None or sp.stop > _block(ev["end"] + cfg.react_window_s, block):
        return {"outcome": "took_floor", "block": sp.speak}
    if sp.stop < sp.speak + answers[ev["answer"]]["natural_blocks"] - cfg.early_blocks:
        return {"outcome": "cut_short", "block": sp.stop, "speak": sp.speak}
    latency = round(((sp.speak + 1) * block - ev["time"]) * 1000)
    return {"outcome": "ok", "block": sp.speak, "latency_ms": latency}


def _judge_silence(ev: dict, spans: Sequence[SpeakSpan], answers: list[dict], cfg: ScoreConfig) -> dict:
    k = ev["answer"]
    if k >= len(spans):
        return {"outcome": "not_speaking", "predicted_stop": True, "block": None}
    sp = spans[k]
    natural = sp.speak + answers[k]["natural_blocks"]
    if sp.stop is not None and sp.stop < natural - cfg.early_blocks:
        return {"outcome": "false_stop", "predicted_stop": True, "block": sp.stop}
    return {"outcome": "ok", "predicted_stop": False}


def _early_stops(
    record: dict, spans: Sequence[SpeakSpan], verdicts: list[dict], cfg: ScoreConfig
) -> list[dict]:
    """Stops before an answer's audio ended that react to no overlay."""
    block = record["block_s"]
    windows = [
        _window(ev, block, cfg)
        for ev in record["events"]
        if ev["kind"] in SETTING and ev["kind"] != "silence"
    ]
    out = []
    for k, sp in enumerate(spans):
        if k >= len(record["answers"]) or sp.stop is None:
            continue
        natural = sp.speak + record["answers"][k]["natural_blocks"]
        if sp.stop >= natural - cfg.early_blocks or any(a <= sp.stop <= b for a, b in windows):
            continue
        out.append(
            {"block": sp.stop, "event": None, "outcome": "early_stop", "category": "early_stop", "answer": k}
        )
    return out


def judge(record: dict, predicted: Sequence[int], cfg: ScoreConfig) -> dict:
    """Per-event verdicts, the errors in time order and the dialogue's error category."""
    block = record["block_s"]
    spans = spans_of(predicted)
    verdicts: list[dict] = []
    errors: list[dict] = []
    for i, ev in enumerate(record["events"]):
        if ev["kind"] == "turn":
            v = _judge_turn(ev, spans, block, cfg)
        elif ev["kind"] == "silence":
            v = _judge_silence(ev, spans, record["answers"], cfg)
        elif ev["kind"] == "assistant_backchannel":
            v = _judge_cue(ev, spans, record["answers"], block, cfg)
        else:
            v = _judge_overlay(ev, spans, block, cfg)
        verdicts.append(v)
        if v["outcome"] == "ok" or (ev["kind"] == "silence" and v["outcome"] == "false_stop"):
            continue  # a silence false stop is the same stop as its early stop, counted once below
        cat = None if v["outcome"] == "not_speaking" else category_of(ev)
        errors.append({"block": v.get("block"), "event": i, "outcome": v["outcome"], "category": cat})
    errors += _early_stops(record, spans, verdicts, cfg)
    errors.sort(key=lambda e: (e["block"] if e["block"] is not None else 1 << 30, e["event"] or 0))
    first = next((e for e in errors if e["category"]), None)
    return {
        "verdicts": verdicts,
        "errors": errors,
        "category": first["category"] if first else None,
        "first_error_block": errors[0]["block"] if errors else None,
        "spans": [[sp.speak, sp.stop] for sp in spans],
    }
