"""Output records shaped like vLLM's (the attributes Ray's engine stage reads)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    finish_reason: str | None = None
    logprobs: Any = None
    cumulative_logprob: float | None = None


@dataclass
class RequestOutput:
    request_id: str
    prompt: str | None
    prompt_token_ids: list[int] | None
    outputs: list[CompletionOutput] = field(default_factory=list)
    finished: bool = False
    metrics: Any = None
    prompt_logprobs: Any = None


@dataclass
class PoolingRequestOutput:  # the stand-in never pools; Ray only checks isinstance
    request_id: str
    prompt_token_ids: list[int]
    outputs: Any = None
    finished: bool = True
