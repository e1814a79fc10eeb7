"""CosyVoice2 speaker prompts: which upstream API takes them, and which ones cannot be used.

* **Two prompt APIs.** Before 2025-12-08 `inference_zero_shot` took a
  16 kHz tensor (`prompt_speech_16k`); since, a file path (`prompt_wav`).
  `prompt_api="auto"` reads the parameter name (`detect_prompt_api`);
  LibriHeavy prompts are slices of chapter-long FLACs, so for the path API
  each slice is written once as a 16 kHz WAV (`materialize_prompt`).
* **Bad prompts are data errors, not crashes.** A missing or over-30 s
  prompt becomes `TTSResult(error="bad_prompt: ...")` before the model is
  touched (`check_prompt`), so the stage can retry with another speaker.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from datagen.backends.tts.base import Speaker

MAX_PROMPT_S = 30.0  # CosyVoice's own limit on prompt audio


def detect_prompt_api(fn: Any) -> str:
    """ "path" or "tensor", from the third parameter of `inference_zero_shot`."""
    names = list(inspect.signature(fn).parameters)
    if "prompt_wav" in names:
        return "path"
    if "prompt_speech_16k" in names:
        return "tensor"
    raise RuntimeError(f"cosyvoice2: cannot tell the prompt API of inference_zero_shot{names}")


def check_prompt(speaker: Speaker) -> str:
    """Why this speaker's prompt cannot be used ('' when it can)."""
    p = speaker.params
    wav, text = p.get("prompt_wav"), str(p.get("prompt_text") or "").strip()
    if not wav:
        return "bad_prompt: speaker has no prompt_wav"
    if not Path(wav).is_file():
        return f"bad_prompt: prompt audio not found: {wav}"
    if not text:
        return "bad_prompt: speaker has no prompt_text"
    duration = p.get("duration")
    if duration is None:
        import soundfile as sf

        try:
            duration = sf.info(wav).duration - float(p.get("start") or 0.0)
        except RuntimeError as e:
            return f"bad_prompt: unreadable prompt audio {wav}: {e}"
    if float(duration) > MAX_PROMPT_S:
        return f"bad_prompt: prompt is {float(duration):.1f} s, over CosyVoice's {MAX_PROMPT_S:.0f} s limit"
    if float(duration) <= 0:
        return "bad_prompt: empty prompt"
    return ""
