"""The QC stage keeps good dialogues (trimmed) and rejects bad ones with a reason."""

import dataclasses
import io
import json
import pickle
import subprocess

import numpy as np
import pytest
import soundfile as sf

from datagen.audio import estimate_word_times, resample
from datagen.config import QCConfig, Recipe
from datagen.records import Dialogue, Overlay, Turn, Utterance, VoicedDialogue
from datagen.stages.qc import QCStage, utterance_kind

SR = 16000
QUESTION = "Who wrote the novel Pride and Prejudice?"
ANSWER = "Jane Austen wrote it, and it was published in eighteen thirteen."
PAD = 1.0  # silence each side of every utterance


def espeak(text: str) -> np.ndarray:
    wav = subprocess.run(["/usr/bin/espeak-ng", "--stdout", text], capture_output=True, check=True).stdout
    x, native = sf.read(io.BytesIO(wav), dtype="float32")
    x = resample(x, native, SR)
    loud = np.flatnonzero(np.abs(x) > 0.01)  # drop espeak's own lead-in/out silence
    return x[loud[0] : loud[-1] + 1]


@pytest.fixture(scope="module")
def voices():
    return {t: espeak(t) for t in (QUESTION, ANSWER)}


def utt(key, role, text, audio, timing="estimate"):
    padded = np.concatenate([np.zeros(int(PAD * SR), np.float32), audio, np.zeros(int(PAD * SR), np.float32)])
    words = estimate_word_times(text.split(), PAD, PAD + len(audio) / SR)
    return Utterance(key, text, "spk", role, padded, SR, words=words, timing_source=timing)


def dialogue(voices, id="d0", answer_audio=None, answer_text=ANSWER, timing="estimate"):
    d = Dialogue(id=id, task="qa", turns=(Turn("user", QUESTION), Turn("assistant", answer_text)), seed=0)
    a = voices[ANSWER] if answer_audio is None else answer_audio
    return VoicedDialogue(
        d,
        {
            "t0": utt("t0", "user", QUESTION, voices[QUESTION]),
            "t1": utt("t1", "assistant", answer_text, a, timing),
        },
    )


def stage(**qc):
    return QCStage(Recipe.model_construct(name="t", qc=QCConfig(**qc)))


def test_a_good_dialogue_is_kept_and_trimmed(voices):
    vd = dialogue(voices)
    out = stage(trim="energy").process([vd])
    assert out.rejects == [] and len(out.items) == 1
    kept = out.items[0]
    assert kept.dialogue is vd.dialogue
    for key in ("t0", "t1"):
        before, after = vd.utterances[key], kept.utterances[key]
        assert before.duration - after.duration == pytest.approx(2 * PAD - 0.1, abs=0.1)
        assert after.words[0].start == pytest.approx(before.words[0].start - (PAD - 0.05), abs=0.05)
        assert after.timing_source == "estimate"  # no ASR asked for
    assert out.counters["qc_checked_utterances"] == 2
    assert out.counters["qc_trimmed_seconds"] == pytest.approx(4 * PAD - 0.2, abs=0.2)
    assert out.counters["asr_utterances"] == 0


def test_silero_trim_and_no_trim(voices):
    vd = dialogue(voices)
    silero = stage(trim="silero").process([vd]).items[0]
    assert silero.utterances["t1"].duration < vd.utterances["t1"].duration - 1.5
    untouched = stage(trim="none").process([vd]).items[0]
    assert untouched.utterances["t1"].duration == vd.utterances["t1"].duration


def test_noise_is_not_speech_to_silero(voices):
    noise = (0.1 * np.random.default_rng(0).standard_normal(3 * SR)).astype(np.float32)
    out = stage(trim="silero").process([dialogue(voices, answer_audio=noise)])
    assert [(r.reason, json.loads(r.detail)["key"]) for r in out.rejects] == [("no_speech", "t1")]


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda a: a * np.float32(np.nan), "nan_audio"),
        (lambda a: np.zeros_like(a), "silent"),
        (lambda a: np.sign(a + 1e-3).astype(np.float32), "clipped"),
        (lambda a: a[:0], "zero_length"),
    ],
)
def test_one_broken_utterance_rejects_the_dialogue(voices, make, reason):
    bad = dialogue(voices, id="bad")
    t1 = bad.utterances["t1"]
    bad.utterances["t1"] = dataclasses.replace(t1, audio=make(t1.audio))
    good = dialogue(voices, id="good")
    out = stage().process([bad, good])
    assert [vd.dialogue.id for vd in out.items] == ["good"]
    (r,) = out.rejects
    assert (r.id, r.stage, r.reason) == ("bad", "qc", reason)
    assert json.loads(r.detail)["key"] == "t1"
    assert out.counters[f"dropped_{reason}"] == 1


def test_duration_limits_apply_to_trimmed_audio(voices):
    vd = dialogue(voices)
    answer_s = len(voices[ANSWER]) / SR
    limit = answer_s + 0.5  # longer than the speech, shorter than speech + padding
    assert stage(trim="energy", max_answer_s=limit).process([vd]).rejects == []
    (r,) = stage(trim="none", max_answer_s=limit).process([vd]).rejects
    assert r.reason == "too_long" and json.loads(r.detail)["key"] == "t1"
    (r,) = stage(max_question_s=1.0).process([vd]).rejects
    assert r.reason == "too_long" and json.loads(r.detail)["key"] == "t0"
    (r,) = stage(max_dialogue_s=3.0).process([vd]).rejects
    assert r.reason == "too_long" and json.loads(r.detail)["key"] == "dialogue"


def test_asr_keeps_matching_speech_and_takes_its_timings(voices):
    out = stage(asr="faster_whisper").process([dialogue(voices)])
    assert out.rejects == []
    kept = out.items[0]
    assert kept.utterances["t1"].timing_source == "asr"
    assert kept.utterances["t0"].timing_source == "estimate"  # user is not in asr_roles
    assert out.counters["asr_utterances"] == 1 and out.counters["asr_wer_count"] == 1
    assert out.counters["asr_wer_sum"] <= 0.2
    words = kept.utterances["t1"].words
    assert all(0.0 <= w.start <= w.end <= kept.utterances["t1"].duration + 0.05 for w in words)


def test_asr_rejects_speech_that_does_not_say_its_text(voices):
    wrong = "The weather in Tokyo is sunny and warm today."
    out = stage(asr="faster_whisper").process([dialogue(voices, answer_text=wrong)])
    (r,) = out.rejects
    assert r.reason == "asr_wer"
    detail = json.loads(r.detail)
    assert detail["key"] == "t1" and detail["wer"] > 0.5 and "wrote it" in detail["hypothesis"]
    assert out.counters["asr_wer_sum"] > 0.5


def test_aligned_timings_are_kept(voices):
    out = stage(asr="faster_whisper", asr_roles=["assistant"]).process([dialogue(voices, timing="aligner")])
    assert out.items[0].utterances["t1"].timing_source == "aligner"


def test_disabled_passes_everything_and_errors_become_rejects(voices):
    bad = dialogue(voices, answer_audio=np.array(["x"] * 100, dtype=object))
    assert stage(enabled=False).process([bad]).items == [bad]
    out = stage().process([bad])
    assert out.items == [] and out.rejects[0].reason == "qc_error"


def test_resources_pickle_and_kinds(voices):
    s = stage(asr="faster_whisper")
    s.process([dialogue(voices)])
    assert s.resources.num_cpus == 1
    assert pickle.loads(pickle.dumps(s)).cfg.asr == "faster_whisper"
    d = Dialogue(
        "d",
        "backchannel",
        (Turn("assistant", "x", overlays=(Overlay("backchannel", "user", "mm", 0, "continue"),)),),
        0,
    )
    assert [utterance_kind(d, k) for k in ("t0", "t0p1", "t0o0", "t0o5", "x")] == [
        "turn",
        "pause_part",
        "backchannel",
        "overlay",
        "turn",
    ]


def test_short_cue_silero_misses_is_trimmed_by_energy_not_rejected():
    """Silero hears nothing in a 0.3 s synthetic cue that is plainly audible."""
    import numpy as np

    from datagen.config import Recipe
    from datagen.records import Dialogue, Turn, Utterance, VoicedDialogue
    from datagen.stages.qc import QCStage

    sr = 16000
    t = np.arange(int(0.3 * sr)) / sr
    cue = np.concatenate([np.zeros(1600), 0.3 * np.sin(2 * np.pi * 180 * t), np.zeros(1600)]).astype(
        np.float32
    )
    utt = Utterance("t0", "Stop.", "s", "user", cue, sr)
    vd = VoicedDialogue(Dialogue("d", "qa", (Turn("user", "Stop."),), 1), {"t0": utt})
    out = QCStage(Recipe(name="x", qc={"trim": "silero"})).process([vd])
    assert not out.rejects and out.counters["qc_short_cue_energy_trim"] == 1
    assert out.items[0].utterances["t0"].duration < 0.45


def test_a_bad_packed_neighbour_does_not_fail_the_good_clip(voices):
    """Question and answer share a Whisper window; only the mis-spoken one is blamed."""
    wrong = "The weather in Tokyo is sunny and warm today."
    s = stage(asr="faster_whisper", asr_roles=["user", "assistant"])
    out = s.process([dialogue(voices, answer_text=wrong)])
    (r,) = out.rejects
    assert r.reason == "asr_wer" and json.loads(r.detail)["key"] == "t1"
    assert out.counters["asr_windows"] == 1  # both clips were heard in one pass
    # The question passed the packed pass; the answer failed it and failed alone too.
    assert out.counters["asr_utterances"] == 2 and out.counters["asr_rechecked_alone"] == 1
    bad_wer = json.loads(r.detail)["wer"]
    assert bad_wer > 0.5 and out.counters["asr_wer_sum"] - bad_wer <= 0.2  # the question's WER


def test_a_clip_the_packed_pass_mishears_is_kept_when_it_passes_alone(voices, monkeypatch):
    """Whisper merging or dropping words across packed clips must never reject a good clip."""
    from datagen.qc.asr import Transcriber

    real = Transcriber.transcribe_packed

    def merged(self, clips, word_timestamps=True):
        heard = real(self, clips, word_timestamps)
        return [("", ())] + heard[1:]  # the first clip's words went to nobody

    monkeypatch.setattr(Transcriber, "transcribe_packed", merged)
    out = stage(asr="faster_whisper", asr_roles=["user", "assistant"]).process([dialogue(voices)])
    assert out.rejects == [] and out.counters["asr_rechecked_alone"] == 1
    kept = out.items[0].utterances
    assert kept["t0"].timing_source == kept["t1"].timing_source == "asr"
    assert len(kept["t0"].words) == len(QUESTION.split())


def test_packed_timings_match_the_one_clip_check(voices):
    """Word timings that replace estimates are as good packed as alone."""
    from datagen.qc.asr import Transcriber

    out = stage(asr="faster_whisper", asr_roles=["user", "assistant"]).process([dialogue(voices)])
    assert out.counters["asr_windows"] == 1 and out.counters["asr_rechecked_alone"] == 0
    diffs = []
    for u in out.items[0].utterances.values():
        _, alone = Transcriber().transcribe(u.audio, u.sample_rate)  # beam 5, one clip: as before packing
        assert u.timing_source == "asr" and len(u.words) == len(alone)
        diffs += [abs(a.start - b.start) for a, b in zip(u.words, alone, strict=True)]
    assert np.median(diffs) <= 0.06, diffs


def test_a_shard_trims_each_dialogue_as_it_would_alone(voices):
    """Silero scores a shard's utterances as one batch: every kept utterance must be
    the one QC keeps when its dialogue is the only one, and a record that breaks the
    batch rejects its own dialogue, not the shard."""
    shorter = dialogue(voices, id="b", answer_audio=voices[ANSWER][: len(voices[ANSWER]) // 2])
    shard = [dialogue(voices, id="a"), shorter, dialogue(voices, id="c", answer_audio=voices[QUESTION])]
    together = stage(trim="silero").process(shard)
    alone = [stage(trim="silero").process([vd]).items[0] for vd in shard]
    assert [vd.dialogue.id for vd in together.items] == ["a", "b", "c"]
    for a, b in zip(together.items, alone, strict=True):
        for key in a.utterances:
            np.testing.assert_array_equal(a.utterances[key].audio, b.utterances[key].audio)
            assert a.utterances[key].words == b.utterances[key].words

    broken = dialogue(voices, id="x", answer_audio=np.array(["x"] * 100, dtype=object))
    out = stage(trim="silero").process([shard[0], broken, shard[1]])
    assert [vd.dialogue.id for vd in out.items] == ["a", "b"]
    assert [(r.id, r.reason) for r in out.rejects] == [("x", "qc_error")]
    np.testing.assert_array_equal(out.items[1].utterances["t1"].audio, alone[1].utterances["t1"].audio)
