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


# --- packing several clips into one Whisper window ---------------------------

PACKED = (
    "Could you tell me who wrote the novel Pride and Prejudice?",
    "The river was frozen for most of the winter.",
    "Please send the report to the office by Friday.",
)


def test_pack_windows_keeps_order_and_the_window_limit():
    win, gap = asr.PACK_WINDOW_S, asr.PACK_GAP_S
    assert asr.pack_windows([]) == []
    assert asr.pack_windows([3.0, 4.0, 5.0]) == [[0, 1, 2]]
    assert asr.pack_windows([win - 2.0, 1.0, 3.0]) == [[0, 1], [2]]
    # A clip longer than a window gets one of its own; its neighbours still pack.
    assert asr.pack_windows([2.0, win + 5.0, 2.0, 2.0]) == [[0], [1], [2, 3]]
    for durations in ([5.0] * 9, [9.0, 9.0, 9.0, 0.5, 12.0]):
        for w in asr.pack_windows(durations):
            assert len(w) == 1 or sum(durations[i] for i in w) + gap * (len(w) - 1) <= win


def test_split_words_goes_by_midpoint_and_stays_inside_each_clip():
    spans = [(0.0, 2.0), (3.0, 5.0)]
    words = (Word("a", 0.1, 0.5), Word("b", 1.8, 2.4), Word("c", 2.7, 3.4), Word("d", 4.6, 5.3))
    a, b = asr.split_words(words, spans)
    assert [w.text for w in a] == ["a", "b"] and [w.text for w in b] == ["c", "d"]
    assert (a[1].start, a[1].end) == pytest.approx((1.8, 2.0))  # clamped to the clip's end
    assert (b[0].start, b[0].end) == pytest.approx((0.0, 0.4))  # shifted, clamped to its start
    assert (b[1].start, b[1].end) == pytest.approx((1.6, 2.0))
    assert asr.split_words((), spans) == [(), ()]


@pytest.fixture(scope="module")
def packed_vs_alone():
    audios = [espeak(t) for t in PACKED]
    tr = Transcriber(beam_size=1)
    packed = tr.transcribe_packed([(a, SR) for a in audios])
    windows = tr.last_windows
    alone = [Transcriber(beam_size=1).transcribe(a, SR) for a in audios]
    return audios, packed, windows, alone


def test_packed_clips_share_a_window_and_keep_their_words(packed_vs_alone):
    audios, packed, windows, _ = packed_vs_alone
    assert windows == 1 and len(packed) == len(PACKED)
    for text, audio, (hyp, words) in zip(PACKED, audios, packed, strict=True):
        assert wer(text, hyp) <= 0.2, (text, hyp)
        assert all(0.0 <= w.start <= w.end <= len(audio) / SR for w in words)
    # No clip picks up its neighbour's words.
    assert wer(PACKED[1], packed[0][0]) >= 0.8 and wer(PACKED[0], packed[1][0]) >= 0.8


def test_packed_timings_match_one_clip_at_a_time(packed_vs_alone):
    _, packed, _, alone = packed_vs_alone
    diffs = []
    for (_, pw), (_, aw) in zip(packed, alone, strict=True):
        assert len(pw) == len(aw)
        diffs += [abs(p.start - a.start) for p, a in zip(pw, aw, strict=True)]
        diffs += [abs(p.end - a.end) for p, a in zip(pw, aw, strict=True)]
    assert np.median(diffs) <= 0.06, diffs


def test_untimed_words_when_not_asked(packed_vs_alone):
    audios, *_ = packed_vs_alone
    hyp, words = Transcriber(beam_size=1).transcribe(audios[0], SR, word_timestamps=False)
    assert wer(PACKED[0], hyp) <= 0.2
    assert [w.text for w in words] == hyp.split() and all(w.start == w.end == 0.0 for w in words)
    # Alone in its window, a clip is timed only when asked; shared windows always are.
    (_, untimed), (_, timed) = Transcriber(beam_size=1).transcribe_packed(
        [(audios[0], SR), (np.zeros(int((asr.PACK_WINDOW_S + 1) * SR), np.float32), SR)], [False, True]
    )
    assert untimed and all(w.end == 0.0 for w in untimed)
    with pytest.raises(ValueError):
        Transcriber().transcribe_packed([(audios[0], SR)], [True, False])


def test_cheap_pass_encodes_a_short_clip_on_its_own_length(packed_vs_alone):
    """Greedy, no fallback, untimed: the clip's own length, not a padded 30 s window;
    what it hears matches the padded pass; a clip longer than a window goes the padded way."""
    audios, *_ = packed_vs_alone
    cheap = Transcriber(beam_size=1, fallback=False)
    x = audios[0].astype(np.float32)
    exact = cheap._greedy_exact(x)
    assert exact is not None and wer(PACKED[0], exact) <= 0.2
    padded, _ = Transcriber(beam_size=1, fallback=False).transcribe(audios[0], SR, word_timestamps=True)
    assert wer(padded, exact) <= 0.1, (padded, exact)
    assert cheap.transcribe(audios[0], SR, word_timestamps=False)[0] == exact
    long = np.concatenate([x, np.zeros(int(30 * SR), np.float32)])
    assert cheap._greedy_exact(long) is None


def test_cheap_pass_cuts_a_clip_over_one_window_at_a_pause(packed_vs_alone, monkeypatch):
    """A clip over 29 s is heard as two exact-length halves, cut in a pause, not
    through faster-whisper's padded long-form pass; a clip over two windows is."""
    audios, *_ = packed_vs_alone
    gap = np.zeros(int(0.6 * SR), np.float32)
    parts, texts = [], []
    while sum(len(p) for p in parts) < 31 * SR:
        for text, audio in zip(PACKED, audios, strict=True):
            parts += [audio.astype(np.float32), gap]
            texts.append(text)
    long = np.concatenate(parts[:-1])
    assert 31 * SR <= len(long) <= 2 * 29 * SR
    cheap = Transcriber(beam_size=1, fallback=False)
    cuts = []
    exact = cheap._greedy_exact
    monkeypatch.setattr(cheap, "_greedy_exact", lambda x: cuts.append(len(x)) or exact(x))
    hyp, _ = cheap.transcribe(long, SR, word_timestamps=False)
    assert wer(" ".join(texts), hyp) <= 0.1, hyp
    whole, first, second = cuts  # the whole clip first: too long for one window
    assert whole == len(long) and first + second == len(long)
    assert max(first, second) <= (asr.WINDOW_FRAMES - asr.TAIL_FRAMES) * 160
    assert np.abs(long[first - SR // 20 : first + SR // 20]).max() == 0.0  # inside a gap
    assert cheap._greedy_split(np.zeros(2 * 29 * SR + 1, np.float32)) is None
