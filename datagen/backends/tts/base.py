"""The interface every speech-synthesis backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from datagen.backends.base import Backend
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


class TTSBackend(Backend, ABC):
    """Synthesizes a batch of texts, each with its own speaker."""

    @abstractmethod
    def synthesize(self, requests: list[TTSRequest]) -> list[TTSResult]:
        """One result per request, same order; failures carry `error`, never raise."""

    def speakers(self) -> list[Speaker]:
        """The voices this backend offers by default (a pool may narrow them)."""
        return []


class OneAtATimeTTS(TTSBackend):
    """A backend that renders one request per call (Piper, espeak-ng): empty
    text and any exception become that request's error, never the batch's."""

    def synthesize(self, requests: list[TTSRequest]) -> list[TTSResult]:
        return [self._safe(r) for r in requests]

    def _safe(self, req: TTSRequest) -> TTSResult:
        if not req.text.split():
            return TTSResult(req.key, None, 0, error=f"{self.name}: empty text")
        try:
            return self._render(req)
        except Exception as e:  # one bad request must not sink the batch
            return TTSResult(req.key, None, 0, error=f"{self.name}: {type(e).__name__}: {e}")

    @abstractmethod
    def _render(self, req: TTSRequest) -> TTSResult:
        """Synthesize one non-empty request."""
