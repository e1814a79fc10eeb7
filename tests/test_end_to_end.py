"""The tiny offline recipe end to end, locally and through Ray, with real
Piper and espeak-ng audio; then what a user would check on the output."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from e2e_support import same_corpus_as, small_recipe

from datagen.executors.runner import run
from datagen.io.shar import load_cuts
from datagen.io.validate import validate
from datagen.records import TASKS

pytestmark = pytest.mark.slow


def _cuts(out):
    return sorted(load_cuts(out), key=lambda c: c.id)


def test_local_run_makes_a_valid_corpus(local_corpus):
    stats = json.loads((local_corpus / "stats.json").read_text())
    assert stats["complete"] and stats["planned"] == 12
    assert stats["kept"] + stats["rejected"] == stats["planned"]
    cuts = _cuts(local_corpus)
    assert len(cuts) == stats["kept"] >= 10
    assert {c.custom["task"] for c in cuts} == set(TASKS)
    for cut in cuts:
        audio = cut.load_audio()
        assert audio.shape[0] == 2 and cut.sampling_rate == 16000
        for s in cut.supervisions:
            assert 0 <= s.start and s.end <= cut.duration + 1e-3
            assert s.channel == (1 if s.custom["role"] == "assistant" else 0)
        labels = cut.load_labels()
        assert labels.dtype == np.int32 and len(labels) == round(cut.duration / 0.08)
    rep = validate(local_corpus)
    assert rep.ok, rep.problems[:5]


def test_events_carry_expected_behaviour(local_corpus):
    seen = {}
    for cut in _cuts(local_corpus):
        for e in cut.custom["events"]:
            seen.setdefault(e["kind"], set()).add(e["expect"])
    assert seen["backchannel"] == {"continue"} and seen["distractor"] == {"continue"}
    assert seen["barge_in"] == {"stop"} and seen["related_question"] == {"stop"}
    assert seen["pause"] == {"listen"} and seen["finish"] == {"listen"}
    assert seen["assistant_backchannel"] == {"cue"}
    roles = {e["role"] for c in _cuts(local_corpus) for e in c.custom["events"] if e["kind"] == "barge_in"}
    assert roles == {"user", "third_party"}


def test_interrupted_turns_record_spoken_text(local_corpus):
    n = 0
    for cut in _cuts(local_corpus):
        for s in cut.supervisions:
            if s.custom["role"] == "assistant" and s.custom["expect"] == "stop":
                spoken = s.custom["spoken_text"].split()
                assert 0 < len(spoken) < len(s.text.split())
                assert s.text.split()[: len(spoken)] == spoken
                n += 1
    assert n >= 3


def test_assistant_cues_sit_in_the_users_dips(local_corpus):
    """Each cue: on channel 1, after one stretch of the user's turn and before (or just
    as) the next begins, with its own <shift>, tokens, <shift> in the label track."""
    cuts = [c for c in _cuts(local_corpus) if c.custom["task"] == "assistant_backchannel"]
    assert cuts
    for cut in cuts:
        sups = sorted(cut.supervisions, key=lambda s: s.start)
        user = [s for s in sups if s.channel == 0]
        cues = [s for s in sups if s.custom["kind"] == "assistant_backchannel"]
        answer = [s for s in sups if s.channel == 1 and s.custom["kind"] == "turn"]
        assert len(user) == len(cues) + 1 and len(answer) == 1 and 1 <= len(cues) <= 2
        assert all(s.custom["kind"] == "pause_part" for s in user)
        events = [e for e in cut.custom["events"] if e["kind"] == "assistant_backchannel"]
        assert len(events) == len(cues)
        for k, (c, e) in enumerate(zip(cues, events, strict=True)):
            assert c.channel == 1 and c.custom["role"] == "assistant" and c.text == e["detail"]["text"]
            d = e["detail"]  # the cue's voice (its file may end in trimmed-to-pad silence)
            assert d["dip_start"] == pytest.approx(user[k].end, abs=1e-3) and user[k].end < c.start
            assert d["audio_start"] < d["end"] <= d["resume"] + 0.1 + 1e-3
            assert d["resume"] == pytest.approx(user[k + 1].start, abs=1e-3)
        assert answer[0].start > user[-1].end
        labels = cut.load_labels()
        shifts = np.flatnonzero(labels == 1)
        assert len(shifts) == 2 * (len(cues) + 1)
        for k, c in enumerate(cues):
            speak, stop = shifts[2 * k], shifts[2 * k + 1]
            assert abs(speak * 0.08 + 0.32 - c.start) < 0.1 and abs(stop * 0.08 - c.end) < 0.1
            assert np.all(labels[speak + 1 : speak + 2] >= 2)  # the cue's tokens follow its <shift>


def test_tiny_recipe_with_its_own_qc_builds_and_validates_the_task_from_the_cli(tmp_path):
    """`datagen run recipes/tiny.yaml` (silero trimming, the ASR round trip; cues skip it)
    and `datagen validate`, as a user runs them."""
    import subprocess
    import sys

    out = tmp_path / "abc"
    args = ["--set", "dialogues=3", "--set", "mix={assistant_backchannel: 1}", "--executor", "local"]
    cmd = [sys.executable, "-m", "datagen", "run", "recipes/tiny.yaml", "--out", str(out), *args]
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["kept"] == 3 and stats["counters"]["asr_skipped_cues"] >= 3
    check = subprocess.run(
        [sys.executable, "-m", "datagen", "validate", str(out)], cwd=root, capture_output=True, text=True
    )
    assert check.returncode == 0 and "OK: 3 cuts pass every check" in check.stdout, check.stdout


def test_ray_run_matches_local(local_corpus, tmp_path, ray_tmp):
    out = tmp_path / "ray"
    stats = run(small_recipe(), out=str(out), executor="ray", workers=2, quiet=True)
    assert stats["complete"]
    same_corpus_as(local_corpus, out)
    assert validate(out).ok


def test_same_seed_same_corpus_whatever_the_sharding(local_corpus, tmp_path):
    """Shard size decides the file layout, never the content."""
    out = tmp_path / "reshard"
    run(small_recipe("executor.shard_size=5"), out=str(out), executor="local", quiet=True)
    a, b = _cuts(local_corpus), _cuts(out)
    assert [c.id for c in a] == [c.id for c in b]
    for x, y in zip(a, b, strict=True):
        assert x.custom["events"] == y.custom["events"]
        assert np.array_equal(x.load_labels(), y.load_labels())
        assert np.array_equal(x.load_audio(), y.load_audio())


def test_same_recipe_and_seed_give_the_same_bytes(tmp_path):
    """Not just the same content: the same files, byte for byte (no write times inside)."""
    a, b = tmp_path / "a", tmp_path / "b"
    recipe = ("dialogues=2", "mix={backchannel: 1, assistant_backchannel: 1}")
    run(small_recipe(*recipe), out=str(a), executor="local", quiet=True)
    time.sleep(1.1)  # a second apart, so a timestamp anywhere in a file would show
    run(small_recipe(*recipe), out=str(b), executor="local", quiet=True)
    files = sorted(p.name for p in (a / "shar").iterdir())
    assert files and files == sorted(p.name for p in (b / "shar").iterdir())
    for name in files:
        assert (a / "shar" / name).read_bytes() == (b / "shar" / name).read_bytes(), name


def test_another_seed_gives_another_corpus(local_corpus, tmp_path):
    out = tmp_path / "seed"
    run(small_recipe("seed=99", "dialogues=3"), out=str(out), executor="local", quiet=True)
    assert not {c.id for c in _cuts(out)} & {c.id for c in _cuts(local_corpus)}


def test_qc_with_vad_and_asr_round_trip(tmp_path):
    """The default recipe's QC: silero trimming and an ASR round trip on answers."""
    out = tmp_path / "qc"
    stats = run(
        small_recipe("dialogues=3", "mix={qa: 1}", "qc.trim=silero", "qc.asr=faster_whisper"),
        out=str(out),
        executor="local",
        quiet=True,
    )
    c = stats["counters"]
    assert c["asr_utterances"] == 3 and c["asr_wer_count"] == 3
    assert c["asr_wer_sum"] / c["asr_wer_count"] < 0.2  # Piper's speech is intelligible
    assert stats["kept"] == 3 and validate(out).ok


def test_asr_timings_are_deterministic_and_independent_of_sharding(tmp_path):
    """ASR word timings replace espeak's estimates: packed per dialogue, the
    same recipe and seed give the same bytes, and the shard size changes no
    content (a clip's window neighbours come from its own dialogue)."""
    sets = (
        "dialogues=3",
        "mix={qa: 1}",
        "qc.asr=faster_whisper",
        "qc.asr_roles=[user, assistant]",
        "qc.max_wer=0.7",
    )
    outs = {}
    for name, shard in (("a", 3), ("b", 3), ("c", 1)):
        outs[name] = tmp_path / name
        stats = run(
            small_recipe(*sets, f"executor.shard_size={shard}"),
            out=str(outs[name]),
            executor="local",
            quiet=True,
        )
        assert stats["counters"]["asr_windows"] >= 1
    files = sorted(p.name for p in (outs["a"] / "shar").iterdir())
    assert files == sorted(p.name for p in (outs["b"] / "shar").iterdir())
    for f in files:
        assert (outs["a"] / "shar" / f).read_bytes() == (outs["b"] / "shar" / f).read_bytes(), f
    a, c = _cuts(outs["a"]), _cuts(outs["c"])
    assert a and [x.id for x in a] == [x.id for x in c]
    assert any(s.custom["word_timing"] == "asr" for x in a for s in x.supervisions)
    for x, y in zip(a, c, strict=True):
        assert [s.to_dict() for s in x.supervisions] == [s.to_dict() for s in y.supervisions]
        assert x.custom["events"] == y.custom["events"]
        assert np.array_equal(x.load_labels(), y.load_labels())
