"""ASR round trip on espeak-ng speech, WER normalisation, ASR word timings."""

import io
import subprocess

import numpy as np
import pytest
import soundfile as sf

from datagen.audio import resample
from datagen.qc import asr
from datagen.qc.asr import Transcriber, asr_words, normalize_for_wer, wer
from datagen.records import Utterance, Word

SR = 16000
CLEAR = "Could you tell me who wrote the novel Pride and Prejudice?"


def espeak(text: str, sr: int = SR) -> np.ndarray:
    wav = subprocess.run(["/usr/bin/espeak-ng", "--stdout", text], capture_output=True, check=True).stdout
    x, native = sf.read(io.BytesIO(wav), dtype="float32")
    return resample(x, native, sr)


@pytest.fixture(scope="module")
def heard():
    """One transcription shared by the tests that only read it (each costs ~0.5 s)."""
    audio = espeak(CLEAR)
    text, words = Transcriber().transcribe(audio, SR)
    return audio, text, words


@pytest.mark.parametrize(
    "a, b",
    [
        ("There are 7 days in a week.", "there are seven days in a week"),
        ("It was built in 1990!", "It was built in nineteen ninety"),
        ("About 2,000 people", "about two thousand people"),
        ("Pi is 3.14", "pi is three point one four"),
        ("It is 8,849 meters tall", "it is eight thousand eight hundred and forty nine meters tall"),
        ("Don't STOP, please.", "dont stop please"),
    ],
)
def test_normalisation_makes_spellings_agree(a, b):
    assert normalize_for_wer(a) == normalize_for_wer(b)
    assert wer(a, b) == 0.0


def test_wer_counts_real_errors():
    assert wer("the cat sat on the mat", "the cat sat on a mat") == pytest.approx(1 / 6)
    assert wer("seven", "eight") == 1.0
    assert wer("bread and butter", "bread butter") == pytest.approx(1 / 3)  # only "and" inside numbers goes
    assert wer("", "") == 0.0
    assert wer("...", "something") == 1.0


def test_round_trip_of_a_clear_sentence(heard):
    audio, text, _ = heard
    assert wer(CLEAR, text) <= 0.2, text
    assert wer("The weather in Tokyo is sunny and warm today.", text) >= 0.8


def test_word_timestamps_are_ordered_and_inside_the_audio(heard):
    audio, _, words = heard
    assert len(words) >= 6
    assert all(w.text for w in words)
    assert all(0.0 <= w.start <= w.end <= len(audio) / SR + 0.05 for w in words)
    assert all(a.start <= b.start for a, b in zip(words, words[1:], strict=False))


def test_timestamps_follow_leading_silence_and_other_rates(heard):
    audio, _, words = heard
    shifted = np.concatenate([np.zeros(SR, np.float32), audio])
    text2, words2 = Transcriber().transcribe(resample(shifted, SR, 22050), 22050)
    assert wer(CLEAR, text2) <= 0.2
    # Whisper places the first word early when it follows silence, so compare the typical shift.
    assert len(words2) == len(words)
    shift = np.median([b.start - a.start for a, b in zip(words, words2, strict=True)])
    assert shift == pytest.approx(1.0, abs=0.15)


def test_model_loads_once_per_process(heard):
    Transcriber().transcribe(np.zeros(0, np.float32), SR)
    assert len(asr._MODELS) == 1
    assert Transcriber()._model() is Transcriber()._model()


def test_empty_audio():
    assert Transcriber().transcribe(np.zeros(0, np.float32), SR) == ("", ())


def test_asr_words_keep_the_scripts_words_when_counts_match():
    utt = Utterance("t1", "Seven days, please.", "s", "assistant", np.zeros(SR, np.float32), SR)
    heard = (Word("7", 0.1, 0.3), Word("days,", 0.35, 0.6), Word("please.", 0.7, 0.9))
    out = asr_words(utt, heard)
    assert [w.text for w in out] == ["Seven", "days,", "please."]
    assert [(w.start, w.end) for w in out] == [(0.1, 0.3), (0.35, 0.6), (0.7, 0.9)]


def test_asr_words_fall_back_to_what_was_heard():
    utt = Utterance("t1", "In nineteen ninety.", "s", "assistant", np.zeros(SR, np.float32), SR)
    heard = (Word("In", 0.1, 0.2), Word("1990.", 0.3, 0.9))
    assert asr_words(utt, heard) == heard


def test_asr_words_transcribes_when_not_given(heard):
    audio, _, words = heard
    utt = Utterance("t1", CLEAR, "s", "assistant", audio, SR)
    out = asr_words(utt)
    assert len(out) == len(words)
    if len(words) == len(CLEAR.split()):
        assert [w.text for w in out] == CLEAR.split()
