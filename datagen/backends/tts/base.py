"""The interface every speech-synthesis backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from datagen.backends.llm.base import BackendOptions
from datagen.records import Word


@dataclass(frozen=True)
class Speaker:
    """A voice: an id, the backend that renders it and that backend's knobs.

    `params` are backend-specific (espeak: voice/pitch/rate; piper:
    length_scale/noise; cosyvoice2: prompt_wav/prompt_text).
    """

    id: str
    backend: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TTSRequest:
    key: str
    text: str
    speaker: Speaker
    seed: int = 0


@dataclass(frozen=True, eq=False)
class TTSResult:
    key: str
    audio: np.ndarray | None  # float32 mono at `sample_rate`; None on failure
    sample_rate: int
    words: tuple[Word, ...] = ()
    timing_source: str = "estimate"  # aligner | asr | estimate
    error: str = ""


class TTSBackend(ABC):
    """Synthesizes a batch of texts, each with its own speaker."""

    name: ClassVar[str]
    extra: ClassVar[str] = ""
    Options: ClassVar[type[BackendOptions]] = BackendOptions
    num_gpus: ClassVar[float] = 0.0

    def __init__(self, options: BackendOptions | None = None):
        self.options = options if options is not None else self.Options()

    @property
    def resources_gpus(self) -> float:
        """GPUs one worker holding this backend needs (options may change it)."""
        return self.num_gpus

    @abstractmethod
    def synthesize(self, requests: list[TTSRequest]) -> list[TTSResult]:
        """One result per request, same order; failures carry `error`, never raise."""

    def speakers(self) -> list[Speaker]:
        """The voices this backend offers by default (a pool may narrow them)."""
        return []
