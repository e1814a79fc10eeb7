"""A perfect model on our FDB export scores FDB's ideal on every task, by FDB's definitions
(datagen/train/judging/fdb_metrics.py, written from FDB's evaluation scripts).

The perfect model's output is our own assistant (channel 1) over each sample's input.wav;
its "ASR" is our word alignment of that audio (a perfect recogniser). v1.5's timings run
silero-vad on input.wav and output.wav as FDB's get_timing.py does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from datagen.export.common import resample
from datagen.export.echo import remove_echo
from datagen.train.judging import fdb_metrics as fdb

SR = 16000


def perfect_words(cut, dur: float) -> list[dict]:
    """The assistant's words heard within the first `dur` seconds, as FDB's ASR writes them."""
    ws = sorted((w for s in cut.sups if s.role == "assistant" for w in s.words), key=lambda w: w[1])
    return [{"text": w, "timestamp": [a, b]} for w, a, b in ws if b <= dur]


@pytest.fixture(scope="module")
def fdb_exports(fdb10, fdb15) -> dict[str, Path]:
    return {"1.0": fdb10[0], "1.5": fdb15[0]}


def samples(root: Path, folder: str, source) -> list[tuple[Path, object]]:
    ids = json.loads((root / "ids.json").read_text()).get(folder, {})
    return [(root / folder / sid, source[cid]) for sid, cid in ids.items()]


def perfect_output(cut, n: int, event_end: float):
    """Our assistant over an input of n samples that ends with the event: what it says up to
    the next channel-0 turn after the event (a follow-up the input no longer holds), silence after."""
    y = resample(cut.assistant, cut.sample_rate, SR)[:n]
    y = np.pad(y, (0, n - len(y)))
    later = [s.start for s in cut.sups if s.channel == 0 and s.start >= event_end]
    if later:
        y[int(min(later) * SR) :] = 0.0
    return y


def input_s(d: Path) -> float:
    import soundfile as sf

    return sf.info(d / "input.wav").frames / SR


def test_v10_perfect_model_scores_ideal(fdb_exports, source):
    root = fdb_exports["1.0"]
    pause = [perfect_words(c, input_s(d)) for d, c in samples(root, "synthetic_pause_handling", source)]
    turn, inter = [], []
    for d, c in samples(root, "synthetic_turn_taking", source):
        end = json.loads((d / "turn_taking.json").read_text())[0]["timestamp"][0]
        turn.append((perfect_words(c, input_s(d)), end))
    for d, c in samples(root, "synthetic_user_interruption", source):
        end = json.loads((d / "interrupt.json").read_text())[0]["timestamp"][1]
        inter.append((perfect_words(c, input_s(d)), end))
    assert pause and turn and inter
    assert fdb.pause_handling(pause)["tor"] == 0  # never takes the turn in a pause
    tt = fdb.smooth_turn_taking(turn)
    assert tt["tor"] == 1 and 0.2 < tt["latency_s"] < 1.5  # always answers, after our turn gap
    ui = fdb.user_interruption(inter)
    assert ui["tor"] == 1 and ui["latency_s"] < 1.5  # answers every interruption, soon after it


def test_v15_perfect_model_timings(fdb_exports, source):
    import soundfile as sf

    root = fdb_exports["1.5"]
    by_task: dict[str, list[dict]] = {}
    for folder in ("user_interruption", "user_backchannel", "background_speech", "third_party_interruption"):
        for d, c in samples(root, folder, source):
            x, _ = sf.read(d / "input.wav", dtype="float32")
            s, e = json.loads((d / "metadata.json").read_text())["timestamps"]
            y = perfect_output(c, len(x), e)
            t = fdb.timings(fdb.vad_segments(x), fdb.vad_segments(y))
            by_task.setdefault(c.task, []).append(t | {"event": (s, e)})
    assert by_task
    for task, ts in by_task.items():
        for t in ts:
            s, e = t["event"]
            # the user's speech is all the input holds: no overlap is longer than the event
            assert all(x <= e - s + 0.6 for x in t["stop"]), (task, t)
        if task in ("barge_in_related", "barge_in_user", "barge_in_third_party"):  # stops: a short overlap
            assert all(max(t["stop"], default=0.0) <= t["event"][1] - t["event"][0] + 0.6 for t in ts)
        # (a stop-and-answer gap under FDB's 0.5 s model merge is no "response" by its definition,
        # so `responded` is not asserted for related questions: our gold answers after 0.3-0.5 s)
        if task in ("backchannel", "distractor"):  # talks on over it: the overlap is most of the event
            # (a "response" may still be listed: FDB counts any restart after a 0.5 s pause)
            # (a 0.3 s backchannel may be too short for the VAD to hear at all)
            heard = [t for t in ts if t["stop"]]
            assert heard and all(max(t["stop"]) >= 0.5 * (t["event"][1] - t["event"][0]) for t in heard)


def test_echo_is_cancelled():
    """A known echo path (delay, decaying room tail) under a user's speech: the echo-only
    stretches drop by more than 30 dB, the user's speech stays."""
    rng = np.random.default_rng(0)
    n = 12 * SR
    ref = np.zeros(n)
    ref[SR : 9 * SR] = rng.standard_normal(8 * SR) * np.repeat(rng.random(8 * 20) > 0.3, SR // 20)
    ir = rng.standard_normal(int(0.3 * SR)) * np.exp(-np.arange(int(0.3 * SR)) / (0.05 * SR))
    delay = int(0.25 * SR)
    echo = np.zeros(n)
    echo[delay:] = 0.2 * np.convolve(ref, ir)[: n - delay]
    user = np.zeros(n)
    user[6 * SR : 8 * SR] = 0.3 * rng.standard_normal(2 * SR)
    out, stats = remove_echo((echo + user).astype(np.float32), ref.astype(np.float32), SR, 0.25, [(6.0, 8.0)])
    assert stats["erle_db"] > 30
    assert np.allclose(out[6 * SR + 4000 : 8 * SR - 4000], user[6 * SR + 4000 : 8 * SR - 4000], atol=0.02)
