"""Quality control for synthesized speech: signal checks, VAD trimming, an ASR round trip, DNSMOS.

Split by cost so callers pay only for what they use: `signal` is numpy only
(cheap enough for the speech stage to run after every synthesis and retry),
`vad` loads silero-vad, `asr` faster-whisper and `dnsmos` speechmos's models, each lazily and once
per process. The `qc` stage (datagen/stages/qc.py) strings them together.
"""
