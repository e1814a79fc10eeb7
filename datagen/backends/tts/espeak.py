"""eSpeak NG: a formant synthesizer run as the `espeak-ng` system binary.

espeak-ng is GPL-3.0-or-later; we only execute the binary (Debian package
`espeak-ng`) and never link it, so the core stays permissively licensed.

Why it is here: it is robotic but ~380x real time on one core and offers
hundreds of distinct voices (8 English accents x many variants x pitch and
rate), which is what user and third-party roles need most: many speakers,
so a model cannot learn to recognise "the user" by timbre.

espeak prints no word timings with `--stdout`, so words are spread over the
voiced stretches of the audio in proportion to their letters, anchored on
its pauses at punctuation (`timing_source` "estimate").
"""

from __future__ import annotations

import struct
import subprocess
from typing import ClassVar

import numpy as np
from pydantic import Field

from datagen.audio import estimate_words_from_audio, to_float32, voiced_region
from datagen.backends.base import BackendOptions
from datagen.backends.tts.base import OneAtATimeTTS, Speaker, TTSRequest, TTSResult

# English voices that render with their own accent here (checked with
# `espeak-ng --voices=en`); en-uk is left out (it is an alias that falls back
# to en-gb without the mbrola data), and the mbrola voices need files we lack.
VOICES: tuple[str, ...] = (
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-029",
    "en-us-nyc",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
)

# Variant files under espeak-ng-data/voices/!v that sound like a person, with
# the gender the file declares (or that its pitch range implies). Robots,
# whisper, croak and novelty voices are left out: a user voice should be
# plausibly human.
VARIANTS: tuple[tuple[str, str], ...] = (
    *((f"f{i}", "female") for i in range(1, 6)),
    *((f"m{i}", "male") for i in range(1, 9)),
    ("klatt", "male"),
    ("klatt2", "male"),
    ("klatt3", "male"),
    ("Alicia", "female"),
    ("Andrea", "female"),
    ("Annie", "female"),
    ("anika", "female"),
    ("aunty", "female"),
    ("belinda", "female"),
    ("grandma", "female"),
    ("linda", "female"),
    ("steph", "female"),
    ("steph2", "female"),
    ("Andy", "male"),
    ("Denis", "male"),
    ("Henrique", "male"),
    ("Hugo", "male"),
    ("Lee", "male"),
    ("antonio", "male"),
    ("michel", "male"),
    ("miguel", "male"),
    ("sandro", "male"),
    ("travis", "male"),
    ("victor", "male"),
)

PITCHES: tuple[int, ...] = (40, 60)  # espeak -p, 0-99 around the variant's own range
RATES: tuple[int, ...] = (150, 175)  # words per minute (espeak default 175)


class EspeakOptions(BackendOptions):
    binary: str = "espeak-ng"
    amplitude: int = Field(100, ge=0, le=200)  # espeak -a (default 100)
    timeout_s: float = Field(30.0, gt=0)
    # espeak-ng processes run at once; default: the CPUs this process may use.
    workers: int | None = Field(None, ge=1)


def speaker_id(voice: str, variant: str, pitch: int, rate: int) -> str:
    return f"espeak:{voice}+{variant}:p{pitch}:s{rate}"


class EspeakTTS(OneAtATimeTTS):
    """Renders each request with `espeak-ng -v VOICE+VARIANT -s RATE -p PITCH --stdout`."""

    name: ClassVar[str] = "espeak"
    extra: ClassVar[str] = ""  # a system package, not a pip extra
    Options: ClassVar[type[BackendOptions]] = EspeakOptions
    concurrent: ClassVar[bool] = True  # one process per request shares nothing

    def speakers(self) -> list[Speaker]:
        """Every voice x variant x pitch x rate, in a fixed order (~1.2k speakers).

        `base` (voice+variant) names the timbre; pitch/rate siblings share it,
        so speaker assignment can prefer a different timbre for a second voice.
        """
        out = []
        for voice in VOICES:
            for variant, gender in VARIANTS:
                for pitch in PITCHES:
                    for rate in RATES:
                        params = {
                            "voice": voice,
                            "variant": variant,
                            "pitch": pitch,
                            "rate": rate,
                            "gender": gender,
                            "base": f"{voice}+{variant}",
                        }
                        out.append(Speaker(speaker_id(voice, variant, pitch, rate), self.name, params))
        return out

    def preflight(self) -> None:
        import shutil

        if shutil.which(self.options.binary) is None:
            raise FileNotFoundError(
                f"espeak: {self.options.binary!r} not found; install it "
                "(apt-get install espeak-ng) or set tts.voices.<role>.options.binary"
            )

    def _render(self, req: TTSRequest) -> TTSResult:
        words = req.text.split()
        p = req.speaker.params
        voice = str(p.get("voice", "en-us"))
        if p.get("variant"):
            voice += f"+{p['variant']}"
        cmd = [
            self.options.binary,
            "-v",
            voice,
            "-s",
            str(int(p.get("rate", 175))),
            "-p",
            str(int(p.get("pitch", 50))),
            "-a",
            str(int(p.get("amplitude", self.options.amplitude))),
            "--stdout",
        ]
        # Text goes in on stdin, never on the command line: no shell, and a
        # text starting with "-" cannot be read as a flag.
        proc = subprocess.run(
            cmd, input=req.text.encode("utf-8"), capture_output=True, timeout=self.options.timeout_s
        )
        if proc.returncode != 0:
            msg = proc.stderr.decode("utf-8", "replace").strip()[:300]
            return TTSResult(req.key, None, 0, error=f"espeak: exit {proc.returncode}: {msg}")
        audio, sr = parse_wav_stream(proc.stdout)
        if voiced_region(audio, sr) is None:
            return TTSResult(req.key, None, sr, error="espeak: no audible output")
        return TTSResult(
            req.key,
            audio,
            sr,
            words=estimate_words_from_audio(words, audio, sr),
            timing_source="estimate",
        )


def parse_wav_stream(data: bytes) -> tuple[np.ndarray, int]:
    """Decode the 16-bit PCM WAV espeak writes to a pipe.

    Written to a pipe, the header cannot be patched after the fact, so its
    size fields are placeholders (0x7ffff000); the samples are simply
    everything after the `data` chunk header.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"not a WAV stream ({len(data)} bytes)")
    pos, sr, bits, channels = 12, 0, 16, 1
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if cid == b"fmt ":
            fmt, channels, sr = struct.unpack("<HHI", data[body : body + 8])
            bits = struct.unpack("<H", data[body + 14 : body + 16])[0]
            if fmt != 1 or bits != 16:
                raise ValueError(f"unsupported WAV format {fmt} with {bits} bits")
        elif cid == b"data":
            raw = data[body:]
            raw = raw[: len(raw) - len(raw) % (2 * channels)]
            pcm = np.frombuffer(raw, dtype="<i2").reshape(-1, channels)[:, 0]
            if not sr:
                raise ValueError("WAV data before its fmt chunk")
            return to_float32(pcm), sr
        pos = body + size + (size & 1)
    raise ValueError("WAV stream has no data chunk")
