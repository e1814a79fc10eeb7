"""`fdb` export (Full-Duplex-Bench v1.0 / v1.5), read back with soundfile + json through a small
reader written from FDB's documented layout: task folders of digit-named sample folders, mono
16 kHz WAVs, the task's JSON shapes, every timestamp inside its input.wav."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from datagen.export import ExportError, export
from datagen.export.common import ExportCut, Sup, resample
from datagen.export.fdb import Exporter, without_echo

SR = 16000
ATOL = 1e-4  # 16-bit quantisation is 3e-5
V10_JSON = {
    "synthetic_pause_handling": {"pause.json", "transcription.json"},
    "synthetic_turn_taking": {"turn_taking.json", "transcription.json"},
    "synthetic_user_interruption": {"interrupt.json"},
}
V10_WAVS = {"synthetic_user_interruption": {"input.wav", "context.wav", "interrupt.wav"}}
V15_JSON = {"metadata.json", "input.json", "clean_input.json"}
THIRD_PARTY = "third_party_interruption"  # ours, not an FDB category


# ---------------------------------------------------------------- a reader from FDB's layout


def read_wav(path: Path) -> np.ndarray:
    info = sf.info(path)
    assert (info.samplerate, info.channels, info.subtype) == (SR, 1, "PCM_16"), (path, info)
    x, _ = sf.read(path, dtype="float32")
    return x


def read_task(folder: Path) -> list[dict]:
    """Samples of one task folder as FDB's scorers walk it: every entry a digit-named folder
    (its pause / turn-taking scorers `listdir` each entry; its backchannel one keeps digit names)."""
    entries = sorted(folder.iterdir(), key=lambda p: int(p.name) if p.name.isdigit() else -1)
    assert entries and all(p.is_dir() and p.name.isdigit() for p in entries), [p.name for p in entries]
    assert [int(p.name) for p in entries] == list(range(len(entries)))
    samples = []
    for d in entries:
        wavs = {p.name: read_wav(p) for p in d.glob("*.wav")}
        js = {p.name: json.loads(p.read_text()) for p in d.glob("*.json")}
        assert set(wavs) | set(js) == {p.name for p in d.iterdir()}
        samples.append({"id": d.name, "dir": d, "wav": wavs, "json": js, "dur": len(wavs["input.wav"]) / SR})
    return samples


def check_span(ts, dur: float) -> tuple[float, float]:
    assert isinstance(ts, list) and len(ts) == 2 and all(isinstance(t, float | int) for t in ts), ts
    s, e = ts
    assert 0 <= s <= e <= dur + 1e-3, (ts, dur)
    return s, e


def check_chunks(obj: dict, dur: float) -> list[tuple[str, float, float]]:
    """FDB's ASR shape {"text", "chunks": [{"text", "timestamp": [s, e]}]}, in time order."""
    assert set(obj) == {"text", "chunks"}
    words = [(c["text"], *check_span(c["timestamp"], dur)) for c in obj["chunks"]]
    assert obj["text"] == " ".join(w for w, _, _ in words)
    assert [a for _, a, _ in words] == sorted(a for _, a, _ in words)
    return words


# ---------------------------------------------------------------- helpers on the source


def idx(t: float) -> int:
    return int(round(t * SR))


_CHANNEL0: dict[str, np.ndarray] = {}


def channel0(cut: ExportCut) -> np.ndarray:
    """Channel 0 as the export plays it: our assistant's echo cancelled (datagen/export/echo.py;
    seconds per echo dialogue, so once per cut)."""
    if cut.id not in _CHANNEL0:
        _CHANNEL0[cut.id] = np.clip(resample(without_echo(cut, []), cut.sample_rate, SR), -1.0, 1.0)
    return _CHANNEL0[cut.id]


def kept_prefix(x: np.ndarray, env: np.ndarray) -> int:
    """How many leading samples of `x` are channel 0; asserts the rest is digital silence."""
    n = min(len(x), len(env))
    bad = np.flatnonzero(np.abs(x[:n] - env[:n]) > ATOL)
    k = int(bad[0]) if len(bad) else n
    assert not np.any(x[k:]), "after the kept channel 0 only digital silence may follow"
    return k


def user_question(cut: ExportCut) -> list[Sup]:
    return [s for s in cut.of_role("user") if s.kind in ("turn", "pause_part") and s.turn == 0]


def overlay_sups(cut: ExportCut) -> list[Sup]:
    return [s for s in cut.sups if s.channel == 0 and s.kind not in ("turn", "pause_part")]


def first_overlay(cut: ExportCut) -> Sup:
    return min(overlay_sups(cut), key=lambda s: s.start)


# ---------------------------------------------------------------- fixtures (fdb10, fdb15: conftest.py)


def samples_of(out: Path, folder: str, source: dict) -> list[tuple[dict, ExportCut]]:
    ids = json.loads((out / "ids.json").read_text())[folder]
    samples = read_task(out / folder)
    assert set(ids) == {s["id"] for s in samples}
    return [(s, source[ids[s["id"]]]) for s in samples]


# ---------------------------------------------------------------- v1.0


def test_v10_folders_counts_and_ids(fdb10, source):
    out, summary = fdb10
    tasks = Counter(c.task for c in source.values())
    user_related = sum(
        1 for c in source.values() if c.task == "barge_in_related" and first_overlay(c).role == "user"
    )
    want = {
        "synthetic_pause_handling": tasks["pause"],
        "synthetic_turn_taking": tasks["qa"],
        "synthetic_user_interruption": user_related,  # interruptions to answer, not "stop talking"
    }
    assert all(want.values()), want  # the fixture corpus has every task
    assert summary["version"] == "1.0" and summary["samples"] == want
    used = {"pause", "qa", "barge_in_related"}
    skipped = {t: n for t, n in tasks.items() if t not in used}
    if tasks["barge_in_related"] > user_related:
        skipped["barge_in_related"] = tasks["barge_in_related"] - user_related
    assert summary["skipped"] == skipped
    assert sum(want.values()) + sum(skipped.values()) == summary["cuts"] == len(source)
    assert {p.name for p in out.iterdir()} == set(want) | {"ids.json"}
    ids = json.loads((out / "ids.json").read_text())
    for folder, task_ok in [
        ("synthetic_pause_handling", {"pause"}),
        ("synthetic_turn_taking", {"qa"}),
        ("synthetic_user_interruption", {"barge_in_related"}),
    ]:
        order = list(source)
        cut_ids = [ids[folder][str(i)] for i in range(want[folder])]
        assert {source[c].task for c in cut_ids} <= task_ok
        assert cut_ids == sorted(cut_ids, key=order.index)  # numbered in corpus order
        for s in read_task(out / folder):
            assert V10_JSON[folder] | V10_WAVS.get(folder, {"input.wav"}) == set(s["json"]) | set(s["wav"])


def test_v10_pause_handling(fdb10, source):
    out, _ = fdb10
    for s, cut in samples_of(out, "synthetic_pause_handling", source):
        env, x = channel0(cut), s["wav"]["input.wav"]
        q_words = [w for sup in user_question(cut) for w in sup.words]
        last = q_words[-1][2]
        # the whole question (pauses included), then at most a short tail: the input ends with the turn
        assert kept_prefix(x, env) >= idx(last) and len(x) <= idx(last + 0.25)
        answer = min(a.start for a in cut.of_role("assistant"))
        assert len(x) <= idx(answer) + 1
        pauses = [check_span(p["timestamp"], s["dur"]) for p in s["json"]["pause.json"]]
        assert pauses and all(p["text"] == "[PAUSE]" for p in s["json"]["pause.json"])
        for a, b in pauses:  # a pause is mid-turn: speech before and after it, none inside
            assert any(w[2] <= a + 0.05 for w in q_words) and any(w[1] >= b - 0.05 for w in q_words)
            assert not any(a + 0.05 < w[1] < b - 0.05 for w in q_words)
        (spk,) = s["json"]["transcription.json"]
        assert spk["speaker"] == 0
        items = [(i["text"], *check_span(i["timestamp"], s["dur"])) for i in spk["item"]]
        assert [w for w, _, _ in items] == [w for w, _, _ in q_words]
        times = [t for _, a, b in items for t in (a, b)]
        assert np.allclose(times, [t for _, a, b in q_words for t in (a, b)])


def test_v10_smooth_turn_taking(fdb10, source):
    out, _ = fdb10
    for s, cut in samples_of(out, "synthetic_turn_taking", source):
        env, x = channel0(cut), s["wav"]["input.wav"]
        (tt,) = s["json"]["turn_taking.json"]
        assert tt["text"] == "[TURN-TAKING]"
        end, answer = check_span(tt["timestamp"], s["dur"])
        # FDB measures latency from timestamp[0]: it must be the end of the user's turn
        q = user_question(cut)
        assert end == pytest.approx(max(u.end for u in q), abs=1e-3)
        assert answer == pytest.approx(min(a.start for a in cut.of_role("assistant")), abs=1e-3)
        assert kept_prefix(x, env) >= idx(answer) - 1
        assert not np.any(x[idx(answer) + 1 :])  # none of our assistant's answer (its echo) is heard
        assert s["dur"] >= end + 5.0  # room for the model under test to answer
        items = s["json"]["transcription.json"][0]["item"]
        assert " ".join(i["text"] for i in items) == " ".join(u.heard_text for u in q)


def test_v10_user_interruption(fdb10, source):
    out, _ = fdb10
    for s, cut in samples_of(out, "synthetic_user_interruption", source):
        env, x = channel0(cut), s["wav"]["input.wav"]
        (meta,) = s["json"]["interrupt.json"]
        assert set(meta) == {"context", "interrupt", "timestamp"}
        a, b = check_span(meta["timestamp"], s["dur"])
        ev = first_overlay(cut)
        assert ev.role == "user" and ev.kind == "related_question"
        assert (a, b) == pytest.approx((ev.start, ev.end), abs=0.02)
        assert meta["interrupt"] == ev.heard_text
        assert meta["context"] == " ".join(u.heard_text for u in user_question(cut))
        assert kept_prefix(x, env) >= idx(b) and s["dur"] >= b + 5.0
        # the input ends with the interruption: no follow-up, none of our reply
        assert not np.any(x[idx(b) + 1 :])
        q = user_question(cut)
        ctx = s["wav"]["context.wav"]
        i0 = idx(min(u.start for u in q))
        assert len(ctx) == idx(max(u.end for u in q)) - i0
        assert np.allclose(ctx, env[i0 : i0 + len(ctx)], atol=ATOL)
        itr = s["wav"]["interrupt.wav"]
        assert abs(len(itr) - (idx(b) - idx(a))) <= 1
        assert np.allclose(itr, x[idx(a) : idx(a) + len(itr)], atol=ATOL)
        assert np.sqrt(np.mean(itr**2)) > 1e-3  # the interruption is audible in it


# ---------------------------------------------------------------- v1.5


def v15_folder(cut: ExportCut) -> str | None:
    ev = first_overlay(cut) if overlay_sups(cut) else None
    return {
        "barge_in_user": "user_interruption",
        "backchannel": "user_backchannel",
        "distractor": "background_speech",
        "barge_in_third_party": THIRD_PARTY,
        "barge_in_related": "user_interruption" if ev and ev.role == "user" else THIRD_PARTY,
    }.get(cut.task)


def test_v15_folders_and_counts(fdb15, source):
    out, summary = fdb15
    want = Counter(v15_folder(c) for c in source.values() if v15_folder(c))
    assert summary["version"] == "1.5" and summary["samples"] == dict(want)
    assert summary["skipped"] == dict(Counter(c.task for c in source.values() if not v15_folder(c)))
    assert set(want) == {"user_interruption", "user_backchannel", "background_speech", THIRD_PARTY}
    assert {p.name for p in out.iterdir()} == set(want) | {"ids.json"}
    for folder in want:
        for s, cut in samples_of(out, folder, source):
            assert v15_folder(cut) == folder
            assert set(s["wav"]) == {"input.wav", "clean_input.wav"} and set(s["json"]) == V15_JSON


@pytest.mark.parametrize("folder", ["user_interruption", "user_backchannel", "background_speech"])
def test_v15_input_clean_pair_and_metadata(fdb15, source, folder):
    out, _ = fdb15
    for s, cut in samples_of(out, folder, source):
        env, x, clean = channel0(cut), s["wav"]["input.wav"], s["wav"]["clean_input.wav"]
        meta = s["json"]["metadata.json"]
        assert set(meta) == {"context_text", "current_turn_text", "timestamps"}
        a, b = check_span(meta["timestamps"], s["dur"])
        ev = first_overlay(cut)
        assert (a, b) == pytest.approx((ev.start, ev.end), abs=0.02)
        assert meta["current_turn_text"] == ev.heard_text
        assert meta["context_text"] == " ".join(u.heard_text for u in user_question(cut))
        # input: channel 0 through the event, then digital silence at most
        assert kept_prefix(x, env) >= idx(b) and s["dur"] >= b + 5.0
        assert not np.any(x[idx(b) + 1 :])  # the input ends with the event
        others = [o.start for o in overlay_sups(cut) if o.start > ev.start]
        if others:  # exactly one overlap event per sample
            assert not np.any(x[idx(others[0]) + 1 :])
        # clean: the same audio except inside the event's span, which is silent there
        assert len(clean) == len(x)
        changed = np.flatnonzero(np.abs(clean - x) > ATOL)
        assert len(changed) and changed[0] >= idx(a) - 1 and changed[-1] <= idx(b) + 1
        inner = clean[idx(a + 0.011) : idx(b - 0.011)]
        assert not np.any(inner) and np.sqrt(np.mean(x[idx(a) : idx(b)] ** 2)) > 1e-3
        # transcripts: channel-0 speakers' words; the clean one without the event's
        words = check_chunks(s["json"]["input.json"], s["dur"])
        clean_words = check_chunks(s["json"]["clean_input.json"], s["dur"])
        assert [w for w, p, _q in words if a - 0.02 <= p < b] == [w for w, _, _ in ev.words]
        assert not [w for w, p, q in clean_words if q > a + 0.02 and p < b - 0.02]
        q_words = [w for u in user_question(cut) for w, _, _ in u.words]
        assert [w for w, _, _ in clean_words][: len(q_words)] == q_words


def test_v15_third_party_interruption_is_ours_and_a_third_party(fdb15, source):
    out, _ = fdb15
    for s, cut in samples_of(out, THIRD_PARTY, source):
        assert first_overlay(cut).role == "third_party"
        assert s["json"]["metadata.json"]["current_turn_text"] == first_overlay(cut).heard_text


# ---------------------------------------------------------------- options and rates


def test_a_bad_version_is_refused_before_writing(local_corpus, tmp_path):
    out = tmp_path / "fdb"
    for bad in ("2.0", "1.2", "", "latest"):
        with pytest.raises(ExportError, match="1.0 and 1.5"):
            export(local_corpus, "fdb", out, quiet=True, version=bad)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_a_24khz_cut_is_written_at_16khz(tmp_path):
    """Not every corpus is 16 kHz: the input is resampled, times stay in seconds."""
    sr, dur = 24000, 12.0
    t = np.arange(int(dur * sr)) / sr
    env = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)

    def sup(start, end, role, kind, text, channel=0, turn=0):
        words = tuple((w, start + i * 0.3, start + i * 0.3 + 0.25) for i, w in enumerate(text.split()))
        return Sup(start, end, channel, role, role, kind, text, "", "", turn, words)

    sups = [
        sup(0.5, 2.0, "user", "turn", "what is it"),
        sup(2.5, 11.0, "assistant", "turn", "it is a thing", channel=1, turn=1),
        sup(6.0, 7.0, "user", "barge_in", "stop please", turn=1),
    ]
    events = [{"kind": "barge_in", "time": 6.0, "role": "user", "expect": "stop", "detail": {"end": 7.0}}]
    cut = ExportCut("c0", "barge_in_user", dur, sr, env, np.zeros_like(env), sups, events, None)
    exp = Exporter(tmp_path, version="1.5")
    exp.begin(tmp_path)
    exp.add(cut)
    assert exp.end()["samples"] == {"user_interruption": 1}
    (s,) = read_task(tmp_path / "user_interruption")
    x = s["wav"]["input.wav"]
    assert kept_prefix(x, channel0(cut)) >= idx(7.0) - 1 and not np.any(x[idx(7.0) + 1 :])
    assert s["json"]["metadata.json"]["timestamps"] == [6.0, 7.0]
    assert not np.any(s["wav"]["clean_input.wav"][idx(6.02) : idx(6.98)])
