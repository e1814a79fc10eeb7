"""Turn-taking from the audio (silero-vad) vs from supervisions, on real espeak-ng speech.

The assistant's answer is two sentences with a 0.9 s silence between them,
under ONE supervision (as the pipeline writes an answer): the supervision
view cannot see that pause, the audio view must.
"""

import io
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from datagen.audio import resample
from datagen.report.audio_turns import audio_turns, channel_speech, sample_rows, subtract
from datagen.report.collect import collect
from datagen.report.html import build_report

pytest.importorskip("silero_vad")

SR = 16000
PAUSE = 0.9


def _espeak(text: str) -> np.ndarray:
    wav = subprocess.run(["/usr/bin/espeak-ng", "--stdout", text], capture_output=True, check=True).stdout
    x, native = sf.read(io.BytesIO(wav), dtype="float32")
    x = resample(x, native, SR)
    loud = np.flatnonzero(np.abs(x) > 0.01)
    return x[loud[0] : loud[-1] + 1]


@pytest.fixture(scope="module")
def dialogue():
    """(2 x n audio, user span, answer span, first sentence end, second sentence start)."""
    question = _espeak("What is the capital of France?")
    first, second = _espeak("The capital of France is Paris."), _espeak("It is a lovely old city.")
    u0 = 0.4
    u1 = u0 + len(question) / SR
    a0 = u1 + 0.6
    s1 = a0 + len(first) / SR
    s2 = s1 + PAUSE
    a1 = s2 + len(second) / SR
    n = int((a1 + 0.8) * SR)
    audio = np.zeros((2, n), dtype=np.float32)
    for ch, start, x in ((0, u0, question), (1, a0, first), (1, s2, second)):
        i = int(round(start * SR))
        audio[ch, i : i + len(x)] += x
    return audio, (u0, u1), (a0, a1), s1, s2


def _write_corpus(out, audio, sups, mix):
    from lhotse import Recording, SupervisionSegment
    from lhotse.shar import SharWriter

    path = out / "d.flac"
    sf.write(path, audio.T, SR)
    cut = Recording.from_file(path, recording_id="d").to_cut()
    cut.supervisions = [
        SupervisionSegment(
            id=f"d-s{i}", recording_id="d", start=s, duration=round(e - s, 6), channel=ch,
            speaker=role, text="x", custom={"role": role, "kind": "turn", "turn": i},
        )
        for i, (s, e, ch, role) in enumerate(sups)
    ]  # fmt: skip
    cut.custom = {"task": "qa", "events": [], "mix": mix}
    (out / "shar").mkdir()
    with SharWriter(str(out / "shar"), fields={"recording": "flac"}, shard_size=None) as writer:
        writer.write(cut)
    (out / "stats.json").write_text(json.dumps({"planned": 1, "kept": 1}))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, dialogue):
    audio, (u0, u1), (a0, a1), _, _ = dialogue
    out = tmp_path_factory.mktemp("vadcorpus")
    _write_corpus(out, audio, [(u0, u1, 0, "user"), (a0, a1, 1, "assistant")], {"echo": False})
    return out


def test_audio_counts_the_pause_the_supervisions_do_not(corpus, dialogue):
    _, _, _, s1, s2 = dialogue
    audio = audio_turns(collect(corpus), vad_cuts=10)
    assert audio.n_cuts == 1 and audio.note == ""
    assert audio.sup_stats["counts"]["pause"] == 0  # one supervision spans both sentences
    pauses = audio.stats["durations"]["pause"]
    assert any(abs(p - PAUSE) < 0.3 for p in pauses), pauses
    assert audio.stats["counts"]["ipu"] >= audio.sup_stats["counts"]["ipu"] + 1
    assert audio.sup_stats["counts"]["gap"] == 1 and audio.stats["counts"]["gap"] == 1


def test_report_shows_the_audio_table(corpus):
    page = build_report(corpus, max_timelines=0, vad_cuts=5, dnsmos_utts=0).read_text(encoding="utf-8")
    assert "id='turntaking-audio'" in page
    assert "audio VAD, sample: s / 5 turns" in page and "supervisions, sample: s / 5 turns" in page
    assert "61.89" in page and "2505.17060" in page and "--vad-cuts" in page
    assert "Computed on all 1 dialogues" in page


def test_missing_silero_falls_back_with_a_note(corpus, monkeypatch):
    monkeypatch.setitem(sys.modules, "silero_vad", None)  # import silero_vad -> ImportError
    page = build_report(corpus, max_timelines=0, dnsmos_utts=0).read_text(encoding="utf-8")
    assert "silero-vad is not installed" in page
    assert "61.89" in page  # the supervision-based table is still there


def test_echo_on_channel_0_is_not_counted_as_user_speech(dialogue):
    audio, (u0, u1), (a0, a1), _, _ = dialogue
    delay = 0.25
    mixed = audio.copy()
    d = int(delay * SR)
    mixed[0, d:] += 0.3 * audio[1, :-d]  # the assistant's echo leaks into channel 0
    env_sups = [(u0, u1)]
    with_meta, dropped = channel_speech(mixed, SR, env_sups, {"echo": True, "echo_delay_s": delay})
    without, none_dropped = channel_speech(mixed, SR, env_sups, {"echo": False})
    assert none_dropped == 0.0
    assert any(s > a0 for s, _ in without["environment"])  # silero hears the echo as speech...
    assert dropped > 1.0
    assert all(e <= u1 + 0.3 for _, e in with_meta["environment"])  # ...and it is dropped


def test_sample_is_deterministic_and_capped():
    from datagen.report.collect import CutRow

    rows = [CutRow(f"c{i}", "qa", 1.0, "", 1, 1, {}, {}, [], []) for i in range(50)]
    a = [r.id for r in sample_rows(rows, 7)]
    assert a == [r.id for r in sample_rows(list(reversed(rows)), 7)] and len(set(a)) == 7
    assert sample_rows(rows, 0) == []


def test_subtract():
    assert subtract([(0.0, 10.0)], [(2.0, 3.0), (5.0, 6.0)]) == [(0.0, 2.0), (3.0, 5.0), (6.0, 10.0)]
    assert subtract([(1.0, 2.0)], [(0.0, 5.0)]) == []
    assert subtract([(1.0, 2.0)], []) == [(1.0, 2.0)]
