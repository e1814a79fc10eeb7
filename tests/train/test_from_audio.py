"""`datagen errors --from-audio`: an error log from a model's output audio.

The corpus's own channel 1, written as a model's output, must score as the gold
track does; moved, cut short or silenced, it must score what that behaviour is;
every bad file is a reject with its reason and every dialogue is accounted for."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from datagen.train.common.tracks import shift_blocks
from datagen.train.judging.score import score_log
from datagen.train.streaming.from_audio import errors_from_audio, merge_spans, rejects_path, spans_to_track
from datagen.train.training.data import open_corpora


@pytest.fixture(scope="module")
def channel1(local_corpus) -> dict[str, tuple[np.ndarray, int]]:
    return {
        c.id: (c.load_audio()[1].astype(np.float32), c.sampling_rate) for c in open_corpora([local_corpus])
    }


def write_outputs(folder: Path, outputs: dict[str, tuple[np.ndarray, int]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for cid, (x, sr) in outputs.items():
        sf.write(folder / f"{cid}.wav", x, sr, subtype="PCM_16")
    return folder


def scored(tmp_path: Path, name: str, corpus: Path, outputs) -> tuple[dict, list[dict], dict]:
    folder = write_outputs(tmp_path / name, outputs)
    summary = errors_from_audio(folder, [str(corpus)], tmp_path / f"{name}.jsonl")
    res = score_log(tmp_path / f"{name}.jsonl", baselines=False)
    lines = [json.loads(x) for x in (tmp_path / f"{name}.jsonl").read_text().splitlines()]
    return res["model"], lines, summary


def test_channel_one_scores_as_gold(local_corpus, channel1, tmp_path):
    m, lines, summary = scored(tmp_path, "gold", local_corpus, channel1)
    assert summary["dialogues"] == len(channel1) and summary["rejected"] == 0
    assert m["turn_taking_success"] == 1.0
    assert m["ci"]["f1"] == 1.0 and m["cd"]["f1"] == 1.0
    assert m["early_stop_rate"] == 0.0
    f = m["fdb"]  # FDB's definitions on the same tracks: the ideal where the task is present
    assert f["smooth_turn_taking"]["tor"] == 1.0
    assert f["pause_handling"]["tor"] in (0.0, None) and f["user_interruption"]["tor"] in (1.0, None)
    for line in lines:  # every decision within a block or two of the gold one, no extra or missing <shift>
        assert len(line["predicted_shifts"]) == len(line["gold_shifts"]), line["cut_id"]
        assert np.max(np.abs(np.subtract(line["predicted_shifts"], line["gold_shifts"]))) <= 8, line["cut_id"]
        assert set(line["predicted"]) <= {0, 1}  # text unknown: <think> between the <shift>s


@pytest.mark.slow  # four logs of the corpus (70 s on the loaded 2-core box, ~15 s idle)
def test_moved_cut_short_and_silenced(local_corpus, channel1, tmp_path):
    gold, _, _ = scored(tmp_path, "gold", local_corpus, channel1)

    def late(x, sr, s):
        return np.concatenate([np.zeros(int(s * sr), np.float32), x[: len(x) - int(s * sr)]])

    # 1 s later: turns still taken (within 3 s), 1 s slower; stops come late too, which can
    # make a barge-in's answer start before the stop is heard, so not every turn need pass
    m, _, _ = scored(
        tmp_path, "late1", local_corpus, {k: (late(x, sr, 1.0), sr) for k, (x, sr) in channel1.items()}
    )
    assert m["turn_taking_success"] >= 0.8
    assert abs(m["turn_latency_ms"]["median"] - gold["turn_latency_ms"]["median"] - 1000) <= 100
    # 4 s later: no turn is taken in time
    m, _, _ = scored(
        tmp_path, "late4", local_corpus, {k: (late(x, sr, 4.0), sr) for k, (x, sr) in channel1.items()}
    )
    assert m["turn_taking_success"] < 0.5
    # every answer cut after its first 2 s: the uninterrupted ones stop early
    cut = {}
    for k, (x, sr) in channel1.items():
        y, on = x.copy(), np.flatnonzero(np.abs(x) > 1e-3)
        starts = [on[0]] + [b for a, b in zip(on, on[1:], strict=False) if b - a > sr]  # answer onsets
        for s in starts:
            nxt = next((b for b in starts if b > s), len(x))
            y[s + 2 * sr : nxt] = 0.0
        cut[k] = (y, sr)
    m, _, _ = scored(tmp_path, "short", local_corpus, cut)
    assert m["early_stop_rate"] > 0.5
    # silent after the first answer's start: later turns get no response, no barge-in is stopped
    sil = {}
    for k, (x, sr) in channel1.items():
        on = int(np.flatnonzero(np.abs(x) > 1e-3)[0])
        y = x.copy()
        y[on + int(1.5 * sr) :] = 0.0
        sil[k] = (y, sr)
    m, _, _ = scored(tmp_path, "silenced", local_corpus, sil)
    assert m["turn_taking_success"] < gold["turn_taking_success"]
    assert m["ci"]["recall"] == 0.0 and m["cd"]["recall"] == 0.0


def test_bad_files_are_rejects_with_reasons(local_corpus, channel1, tmp_path):
    ids = sorted(channel1)
    folder = tmp_path / "bad"
    folder.mkdir()
    make = {
        "missing": lambda p, x, sr: None,
        "unreadable": lambda p, x, sr: p.write_bytes(b"RIFF not really"),
        "empty": lambda p, x, sr: sf.write(p, np.zeros(0, np.float32), sr),
        "silent": lambda p, x, sr: sf.write(p, np.zeros_like(x), sr),
        "clipped": lambda p, x, sr: sf.write(p, np.clip(x * 200, -1, 1), sr),
        "wrong_rate": lambda p, x, sr: sf.write(p, x[::4], 4000),
        "wrong_length": lambda p, x, sr: sf.write(p, x[: len(x) // 2], sr),
    }
    for cid, f in zip(ids, make.values(), strict=False):
        f(folder / f"{cid}.wav", *channel1[cid])
    for cid in ids[len(make) :]:
        x, sr = channel1[cid]
        if cid == ids[-1]:  # FDB-style layout, stereo at another rate: read, not rejected
            (folder / cid).mkdir()
            sf.write(folder / cid / "output.wav", np.stack([x[::2], x[::2]], 1), sr // 2)
        else:
            sf.write(folder / f"{cid}.wav", x, sr)
    sf.write(folder / "someone-else.wav", channel1[ids[-1]][0], 16000)
    summary = errors_from_audio(folder, [str(local_corpus)], tmp_path / "bad.jsonl")
    rejects = [json.loads(x) for x in rejects_path(tmp_path / "bad.jsonl").read_text().splitlines()]
    by_cut = {r["cut_id"]: r["reason"] for r in rejects if r["cut_id"]}
    assert by_cut == dict(zip(ids, make, strict=False))
    assert [r["reason"] for r in rejects if not r["cut_id"]] == ["extra"]
    assert all(r["detail"] for r in rejects)
    assert summary["dialogues"] + len(by_cut) == len(ids)  # every eval dialogue accounted for
    res = score_log(tmp_path / "bad.jsonl", baselines=False)
    assert res["scored"] == summary["dialogues"] and not res["rejected"]  # the log itself is schema-valid


def test_spans_to_blocks():
    # onset 1.0 s with 0.32 s synthesis delay -> block 8; end 3.0 s - end lag -> block 36
    t = spans_to_track([(1.0, 3.0), (5.0, 9.9)], 100, 0.08, 0.32)
    assert shift_blocks(t) == [8, 36, 58]  # the second span speaks to the end
    # a 0.5 s pause closes, unless someone on channel 0 talks then and the model waits for them
    assert merge_spans([(0, 1), (1.5, 2)]) == [(0, 2)]
    assert merge_spans([(0, 1), (1.5, 2)], heard=[(0.5, 1.2)]) == [(0, 1), (1.5, 2)]
    assert merge_spans([(0, 1), (1.5, 2)], heard=[(0.5, 1.8)]) == [(0, 2)]  # it talks on over them
    assert merge_spans([(0, 1), (2.0, 3)]) == [(0, 1), (2.0, 3)]
    assert merge_spans([(0, 1), (1.2, 1.25)]) == [(0, 1.25)]
    assert merge_spans([(0, 0.1)]) == []
    # the turn it answers ended before it began: a sentence break 0.6 s into the answer, within
    # REACT_S of that turn's end, is no stop (400 eval dialogues' gold read 23 such as early stops)
    assert merge_spans([(3.0, 3.5), (4.0, 8.0)], heard=[(0.3, 2.9)]) == [(3.0, 8.0)]


def test_our_model_output_audio_reads_back(local_corpus, tmp_path):
    """A track written as audio (datagen/train/streaming/voice_out.py, what `train errors --audio-out`
    writes) and read back by --from-audio gives the track's decisions: the gold track here."""
    from datagen.train.streaming.stream import Dialogue
    from datagen.train.streaming.voice_out import write_voice
    from datagen.train.training.answers import answers_of

    folder = tmp_path / "voice"
    for cut in open_corpora([local_corpus]):
        audio, labels = cut.load_audio(), np.asarray(cut.load_labels())
        d = Dialogue(cut.id, audio[0], len(labels), answers_of(cut, audio, labels), cut.sampling_rate)
        write_voice(folder, d, labels, cut.custom["label_meta"]["block_s"])
    errors_from_audio(folder, [str(local_corpus)], tmp_path / "voice.jsonl")
    m = score_log(tmp_path / "voice.jsonl", baselines=False)["model"]
    assert m["ci"]["f1"] == 1.0 and m["early_stop_rate"] == 0.0
    # Our stream silences a stopped answer from the end of its stop block, so a stop-and-answer
    # leaves a 0.32 s gap (the corpus's own channel 1: 0.4 s), at the edge of what the VAD can
    # tell from a sentence break (merge_spans): a related question may read as talked through,
    # and its answer then as part of the answer before (one of four in a 24-dialogue corpus).
    assert m["cd"]["precision"] == 1.0 and m["cd"]["recall"] >= 0.5
    assert m["turn_taking_success"] >= 0.9
