"""The explicit registry of backends, by the names recipes use.

Entries are import paths, not classes, so listing or validating a recipe
never imports a heavy library; a backend module keeps its heavy imports
inside functions, so even loading its class for option validation is cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

LLM_BACKENDS: dict[str, str] = {
    "scripted": "datagen.backends.llm.scripted:ScriptedLLM",
    "openai_http": "datagen.backends.llm.openai_http:OpenAIHTTPLLM",
    "vllm": "datagen.backends.llm.vllm:VLLMBackend",
}

TTS_BACKENDS: dict[str, str] = {
    "piper": "datagen.backends.tts.piper:PiperTTS",
    "espeak": "datagen.backends.tts.espeak:EspeakTTS",
    "cosyvoice2": "datagen.backends.tts.cosyvoice2:CosyVoice2TTS",
}


def _load(table: dict[str, str], kind: str, name: str) -> Any:
    if name not in table:
        raise KeyError(f"unknown {kind} backend {name!r}; choose one of {sorted(table)}")
    module, attr = table[name].split(":")
    return getattr(importlib.import_module(module), attr)


def llm_class(name: str) -> Any:
    return _load(LLM_BACKENDS, "llm", name)


def tts_class(name: str) -> Any:
    return _load(TTS_BACKENDS, "tts", name)


def make_llm(name: str, options: dict[str, Any] | None = None) -> Any:
    cls = llm_class(name)
    return cls(cls.Options(**(options or {})))


def make_tts(name: str, options: dict[str, Any] | None = None) -> Any:
    cls = tts_class(name)
    return cls(cls.Options(**(options or {})))
