"""The interface every speech-synthesis backend implements."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar

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


def cpu_budget() -> int:
    """CPUs this process may use: OMP_NUM_THREADS when set (Ray sets it to an
    actor's num_cpus), else the cores the process may run on."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class OneAtATimeTTS(TTSBackend):
    """A backend that renders one request per call (Piper, espeak-ng): empty
    text and any exception become that request's error, never the batch's.

    A backend whose `_render` may run in several threads at once
    (`concurrent = True`) renders a batch on `workers` threads (default:
    `cpu_budget()`). Each request is computed exactly as it would be alone,
    so the results are the same bytes in any order or thread; only the wall
    time changes. Longest texts start first, so no long one is left running
    alone at the end of the batch.
    """

    concurrent: ClassVar[bool] = False

    def synthesize(self, requests: list[TTSRequest]) -> list[TTSResult]:
        n = min(self.workers(), len(requests)) if self.concurrent else 1
        if n <= 1:
            return [self._safe(r) for r in requests]
        order = sorted(range(len(requests)), key=lambda i: -len(requests[i].text))
        with ThreadPoolExecutor(n, thread_name_prefix=f"tts-{self.name}") as pool:
            done = dict(zip(order, pool.map(lambda i: self._safe(requests[i]), order), strict=True))
        return [done[i] for i in range(len(requests))]

    def workers(self) -> int:
        return getattr(self.options, "workers", None) or cpu_budget()

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
