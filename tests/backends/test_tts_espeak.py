"""The espeak-ng backend against the real binary (skipped where it is missing)."""

import shutil
from itertools import pairwise

import numpy as np
import pytest

from datagen.audio import trim_silence
from datagen.backends.registry import make_tts
from datagen.backends.tts.base import Speaker, TTSRequest
from datagen.backends.tts.espeak import EspeakTTS, parse_wav_stream

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")

TEXT = "Could you tell me, please, how tall the Eiffel Tower is?"


def speaker(voice="en-us", variant="m3", pitch=50, rate=175) -> Speaker:
    return Speaker(
        f"espeak:{voice}+{variant}:p{pitch}:s{rate}",
        "espeak",
        {
            "voice": voice,
            "variant": variant,
            "pitch": pitch,
            "rate": rate,
        },
    )


def median_f0(x: np.ndarray, sr: int) -> float:
    """Autocorrelation pitch of the loud 40 ms frames, 60-400 Hz."""
    n = int(0.04 * sr)
    lo, hi = sr // 400, sr // 60
    f0 = []
    for i in range(0, len(x) - n, n):
        frame = x[i : i + n] - x[i : i + n].mean()
        if np.sqrt(np.mean(frame**2)) < 0.05:
            continue
        ac = np.correlate(frame, frame, "full")[n - 1 :]
        f0.append(sr / (lo + np.argmax(ac[lo:hi])))
    return float(np.median(f0))


@pytest.fixture(scope="module")
def backend() -> EspeakTTS:
    return make_tts("espeak")


def test_renders_audible_speech_with_estimated_words(backend):
    (r,) = backend.synthesize([TTSRequest("k", TEXT, speaker())])
    assert r.error == "" and r.key == "k"
    assert r.sample_rate == 22050 and r.audio.dtype == np.float32 and r.audio.ndim == 1
    duration = len(r.audio) / r.sample_rate
    assert 2.0 < duration < 8.0
    assert np.sqrt(np.mean(r.audio**2)) > 0.02
    assert r.timing_source == "estimate"
    assert [w.text for w in r.words] == TEXT.split()
    assert all(0.0 <= w.start <= w.end <= duration for w in r.words)
    assert all(a.end <= b.start for a, b in pairwise(r.words))
    trimmed, offset = trim_silence(r.audio, r.sample_rate)
    assert abs(r.words[-1].end - (offset + len(trimmed) / r.sample_rate)) < 0.1


def test_speakers_sound_different(backend):
    f, m = backend.synthesize(
        [
            TTSRequest("f", TEXT, speaker(variant="f3", pitch=60)),
            TTSRequest("m", TEXT, speaker(variant="m3", pitch=40)),
        ]
    )
    assert median_f0(f.audio, f.sample_rate) > 1.4 * median_f0(m.audio, m.sample_rate)
    slow, fast = backend.synthesize(
        [
            TTSRequest("s", TEXT, speaker(rate=130)),
            TTSRequest("f", TEXT, speaker(rate=220)),
        ]
    )
    assert len(slow.audio) > 1.3 * len(fast.audio)


def test_pool_is_large_unique_and_every_id_renders(backend):
    pool = backend.speakers()
    assert len(pool) >= 500
    assert len({s.id for s in pool}) == len(pool)
    assert pool == backend.speakers()  # deterministic order
    sample = pool[:: len(pool) // 12]
    results = backend.synthesize([TTSRequest(s.id, "Hello there.", s) for s in sample])
    assert [r.error for r in results] == [""] * len(sample)
    first = results[0].audio
    assert any(len(r.audio) != len(first) or not np.array_equal(r.audio, first) for r in results[1:])


def test_failures_are_results_not_exceptions():
    bad_binary = EspeakTTS(EspeakTTS.Options(binary="/nonexistent/espeak-ng"))
    (r,) = bad_binary.synthesize([TTSRequest("a", TEXT, speaker())])
    assert r.audio is None and "espeak" in r.error
    ok = EspeakTTS()
    empty, bad_voice, good = ok.synthesize(
        [
            TTSRequest("e", "   ", speaker()),
            TTSRequest("v", TEXT, speaker(voice="xx-nonexistent")),
            TTSRequest("g", "Fine.", speaker()),
        ]
    )
    assert empty.audio is None and "empty" in empty.error
    assert bad_voice.audio is None and "exit" in bad_voice.error
    assert good.error == "" and good.audio is not None


def test_text_is_not_read_as_flags(backend):
    (r,) = backend.synthesize([TTSRequest("k", "--help me now", speaker())])
    assert r.error == "" and len(r.words) == 3


def test_parse_wav_stream_rejects_garbage():
    with pytest.raises(ValueError):
        parse_wav_stream(b"not a wav at all")


def test_concurrent_processes_give_the_same_bytes_in_order():
    from datagen.backends.tts.espeak import EspeakOptions

    reqs = [
        TTSRequest(f"k{i}", t, speaker(rate=150 + 10 * i))
        for i, t in enumerate([TEXT, "Hi.", "", "Okay then."])
    ]
    alone = EspeakTTS(EspeakOptions(workers=1)).synthesize(reqs)
    together = EspeakTTS(EspeakOptions(workers=4)).synthesize(reqs)
    assert [r.key for r in together] == ["k0", "k1", "k2", "k3"] and together[2].error
    for a, b in zip(alone, together, strict=True):
        assert (a.audio is None) == (b.audio is None)
        if a.audio is not None:
            assert a.audio.tobytes() == b.audio.tobytes() and a.words == b.words
