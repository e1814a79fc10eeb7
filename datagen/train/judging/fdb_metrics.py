"""Full-Duplex-Bench's metrics, written from its definitions (DanielLin94144/Full-Duplex-Bench
@d7336bd, v1_v1.5/evaluation), so our scores can be set beside the field's.

v1.0 (per sample: the model's output words with their times, as FDB's ASR writes them):
- take turn (TOR): the model took the turn if its output words span at least
  `TURN_S` (1 s, first word's start to last word's end) or number more than
  `TURN_WORDS` (3); no words: it did not. Pause handling and backchannel want 0,
  smooth turn-taking and user interruption 1.
- latency: first output word's start minus the end of the user's turn (smooth
  turn-taking: `turn_taking.json` timestamp[0]; user interruption: the
  interruption's end, the output cropped there before its ASR), below 0 counted
  as 0, averaged over the samples where the model took the turn.

v1.5 (per sample: speech segments of input and output from a VAD, silero in FDB):
- user segments merged across gaps up to `USER_MERGE_S` (0.6 s), model
  segments up to `MODEL_MERGE_S` (0.5 s);
- stop latencies: each overlap of a user and a model segment (the shortest per
  end time): how long the model talked over the user;
- response latencies: for each user segment, the gap from its end to the next
  model segment that starts after it (the later user end per model start).

`sample_*` take one FDB sample folder's contents; `tor` / `latency` the word
lists. `datagen score` gets the same figures from a log's tracks through
`from_spans` (the model's speech times as our judge plays them).
"""

from __future__ import annotations

from statistics import mean

TURN_S = 1.0
TURN_WORDS = 3
USER_MERGE_S = 0.6
MODEL_MERGE_S = 0.5

Words = list[dict]  # [{"text", "timestamp": [s, e]}], FDB's ASR chunks
Seg = tuple[float, float]


def tor(words: Words) -> int:
    """FDB's take-turn: 1 if the output speaks at least TURN_S or more than TURN_WORDS words."""
    if not words:
        return 0
    first, last = words[0]["timestamp"], words[-1]["timestamp"]
    end = last[1] if last[1] is not None else last[0]
    return int(end - first[0] >= TURN_S or len(words) > TURN_WORDS)


def latency(words: Words, user_end: float) -> float | None:
    """Start of the first output word after `user_end`, not below 0; None without a turn."""
    return max(0.0, words[0]["timestamp"][0] - user_end) if tor(words) else None


def crop(words: Words, t: float) -> Words:
    """The words FDB's ASR would find in the output from `t` on (user interruption)."""
    return [w for w in words if w["timestamp"][0] >= t]


def merge(segs: list[Seg], gap: float) -> list[Seg]:
    out: list[list[float]] = []
    for s, e in sorted(segs):
        if out and s - out[-1][1] <= gap:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def stop_latencies(user: list[Seg], model: list[Seg]) -> list[float]:
    """How long the model talked over each stretch of user speech (overlaps; the shortest
    per end time, as FDB keeps them)."""
    best: dict[int, Seg] = {}
    for us, ue in user:
        for ms, me in model:
            s, e = max(us, ms), min(ue, me)
            if e > s:
                k = round(e * 1000)
                if k not in best or e - s < best[k][1] - best[k][0]:
                    best[k] = (s, e)
    return [round(e - s, 3) for s, e in sorted(best.values(), key=lambda x: x[1])]


def response_latencies(user: list[Seg], model: list[Seg]) -> list[float]:
    """From each user end to the model's next start after it (one per model start: the latest
    user end before it)."""
    starts = sorted(s for s, _ in model)
    best: dict[float, float] = {}
    for _, ue in user:
        nxt = next((s for s in starts if s > ue), None)
        if nxt is not None and (nxt not in best or ue > best[nxt]):
            best[nxt] = ue
    return [round(s - ue, 3) for s, ue in sorted(best.items())]


def vad_segments(x, sr: int = 16000) -> list[Seg]:
    """Speech segments (s) of a 16 kHz clip as FDB's get_timing.py finds them: silero-vad's
    `get_speech_timestamps` with its default settings (30 ms padding, 100 ms minimum silence)."""
    import torch
    from silero_vad import get_speech_timestamps

    from datagen.qc.vad import _model

    ts = get_speech_timestamps(torch.as_tensor(x, dtype=torch.float32), _model(), sampling_rate=sr)
    return [(t["start"] / sr, t["end"] / sr) for t in ts]


def timings(user_vad: list[Seg], model_vad: list[Seg]) -> dict:
    """v1.5's two lists for one sample, from the raw VAD segments of input and output."""
    u, m = merge(user_vad, USER_MERGE_S), merge(model_vad, MODEL_MERGE_S)
    return {"stop": stop_latencies(u, m), "response": response_latencies(u, m)}


# ---- a task's score over its samples -------------------------------------------------------------


def _avg(xs: list[float]) -> float | None:
    return round(mean(xs), 4) if xs else None


def pause_handling(outputs: list[Words]) -> dict:
    return {"tor": _avg([tor(w) for w in outputs]), "n": len(outputs)}


def smooth_turn_taking(samples: list[tuple[Words, float]]) -> dict:
    """(output words, user end) per sample."""
    lats = [x for w, t in samples if (x := latency(w, t)) is not None]
    return {"tor": _avg([tor(w) for w, _ in samples]), "latency_s": _avg(lats), "n": len(samples)}


def user_interruption(samples: list[tuple[Words, float]]) -> dict:
    """(output words, interruption end) per sample; the output is cropped at that end."""
    return smooth_turn_taking([(crop(w, t), t) for w, t in samples])


def v15_summary(samples: list[dict]) -> dict:
    """v1.5 timings over samples of `timings`: mean stop and response latency, and how many
    samples have a response at all."""
    stops = [x for s in samples for x in s["stop"]]
    resp = [s["response"][0] for s in samples if s["response"]]
    return {
        "stop_latency_s": _avg(stops),
        "response_latency_s": _avg(resp),
        "responded": _avg([1.0 if s["response"] else 0.0 for s in samples]),
        "n": len(samples),
    }


# ---- the same figures from an error log's tracks (`datagen score`) -------------------------------

SYNTH_DELAY_S = 0.32  # our corpora's label_meta.synth_delay_s: a speak block's audio starts this much later
TAIL_S = 0.2  # FDB's pause inputs end with the user's turn (our export keeps 0.2 s after it)
RESPONSE_S = 10.0  # the silence an FDB input leaves for the model to respond into
V15 = {
    ("barge_in", "user"): "user_interruption",
    ("related_question", "user"): "user_interruption",
    ("backchannel", "user"): "user_backchannel",
    ("distractor", "third_party"): "background_speech",
    ("barge_in", "third_party"): "third_party_interruption",
    ("related_question", "third_party"): "third_party_interruption",
}


def speech_times(line: dict, track) -> list[Seg]:
    """When the model's voice plays (s), as our judge plays a track: the n-th speak-<shift>
    starts the n-th answer `synth_delay_s` later, which ends at its stop or its natural end."""
    from datagen.train.common.tracks import spans_of

    b = line["block_s"]
    delay = float((line.get("decoding") or {}).get("synth_delay_s", SYNTH_DELAY_S))
    out = []
    for sp, ans in zip(spans_of(track), line["answers"], strict=False):
        end_block = sp.speak + ans["natural_blocks"]
        if sp.stop is not None:
            end_block = min(end_block, sp.stop)
        s, e = sp.speak * b + delay, end_block * b
        if e > s:
            out.append((s, e))
    return out


def _within(segs: list[Seg], a: float, z: float) -> Words:
    """Model speech inside [a, z) as one pseudo-word per segment (the words are unknown)."""
    return [{"text": "", "timestamp": [max(s, a), min(e, z)]} for s, e in segs if e > a and s < z]


def _tor_s(words: Words) -> int:
    """FDB's take-turn on speech times alone: at least TURN_S from first start to last end."""
    return int(bool(words) and words[-1]["timestamp"][1] - words[0]["timestamp"][0] >= TURN_S)


def from_log(lines: list[dict], tracks: list) -> dict:
    """FDB v1.0 TOR / latency and v1.5 stop / response latencies over a log's dialogues, each
    event scored as FDB would score a sample cut around it (its input ending with the event).
    The words are unknown, so take-turn is FDB's duration rule alone (>= 1 s of speech)."""
    pause, turn, inter = [], [], []
    per_cat: dict[str, list[dict]] = {}
    for line, track in zip(lines, tracks, strict=True):
        segs = speech_times(line, track)
        heard = sorted(e["time"] for e in line["events"] if e.get("who"))
        for ev in line["events"]:
            t0, t1 = ev["time"], ev["end"]
            # FDB's input ends with the event: nothing the model says once someone speaks again counts
            horizon = min([t for t in heard if t > t1] + [t1 + RESPONSE_S])
            if ev["kind"] == "turn" and ev.get("pauses"):
                pause.append(_tor_s(_within(segs, 0.0, t1 + TAIL_S)))
            elif ev["kind"] == "turn":
                w = _within(segs, t0, horizon)
                turn.append((_tor_s(w), max(0.0, w[0]["timestamp"][0] - t1) if _tor_s(w) else None))
            if ev["kind"] == "related_question" and ev["who"] == "user":
                w = _within(segs, t1, horizon)
                inter.append((_tor_s(w), w[0]["timestamp"][0] - t1 if _tor_s(w) else None))
            cat = V15.get((ev["kind"], ev["who"]))
            if cat:
                m = merge([x for x in segs if x[0] < horizon], MODEL_MERGE_S)
                per_cat.setdefault(cat, []).append(
                    {"stop": stop_latencies([(t0, t1)], m), "response": response_latencies([(t0, t1)], m)}
                )

    def tor_lat(xs):
        lats = [lat for _, lat in xs if lat is not None]
        return {"tor": _avg([float(t) for t, _ in xs]), "latency_s": _avg(lats), "n": len(xs)}

    return {
        "pause_handling": {"tor": _avg([float(t) for t in pause]), "n": len(pause)},
        "smooth_turn_taking": tor_lat(turn),
        "user_interruption": tor_lat(inter),
        "v1.5": {k: v15_summary(v) for k, v in sorted(per_cat.items())},
    }
