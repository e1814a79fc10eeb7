"""`SamplingParams` / `StructuredOutputsParams` that check their keywords like vLLM's."""

from __future__ import annotations

from typing import Any

# vLLM's SamplingParams fields: those typed without Optional fail on None
_REQUIRED = {
    "n": 1,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "repetition_penalty": 1.0,
    "temperature": 1.0,
    "top_p": 1.0,
    "top_k": 0,
    "min_p": 0.0,
    "ignore_eos": False,
    "min_tokens": 0,
    "detokenize": True,
    "skip_special_tokens": True,
    "spaces_between_special_tokens": True,
    "include_stop_str_in_output": False,
}
_OPTIONAL = {
    "seed",
    "stop",
    "stop_token_ids",
    "max_tokens",
    "logprobs",
    "prompt_logprobs",
    "structured_outputs",
    "logit_bias",
    "allowed_token_ids",
    "extra_args",
    "bad_words",
    "truncate_prompt_tokens",
    "output_kind",
}


class StructuredOutputsParams:
    _KINDS = ("json", "regex", "choice", "grammar", "json_object", "structural_tag")

    def __init__(self, **kw: Any) -> None:
        extra = set(kw) - {*self._KINDS, "disable_fallback", "disable_any_whitespace", "whitespace_pattern"}
        if extra:
            raise TypeError(f"StructuredOutputsParams got unexpected keyword arguments {sorted(extra)}")
        kinds = [k for k in self._KINDS if kw.get(k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"exactly one structured-output constraint is needed, got {kinds}")
        self.kw = kw
        self.json = kw.get("json")

    def __repr__(self) -> str:
        return f"StructuredOutputsParams({self.kw!r})"


class SamplingParams:
    def __init__(self, **kw: Any) -> None:
        unknown = set(kw) - set(_REQUIRED) - _OPTIONAL
        if unknown:
            raise TypeError(f"SamplingParams got unexpected keyword arguments {sorted(unknown)}")
        nones = sorted(k for k in _REQUIRED if k in kw and kw[k] is None)
        if nones:
            raise TypeError(f"SamplingParams fields {nones} cannot be None")
        so = kw.get("structured_outputs")
        if so is not None and not isinstance(so, StructuredOutputsParams):
            raise TypeError(f"structured_outputs must be StructuredOutputsParams, not {type(so).__name__}")
        if kw.get("max_tokens") is not None and kw["max_tokens"] < 1:
            raise ValueError("max_tokens must be at least 1")
        self.kwargs = dict(kw)  # what the caller passed, for the test to see
        for k, v in {**_REQUIRED, **dict.fromkeys(_OPTIONAL), **kw}.items():
            setattr(self, k, v)

    def __repr__(self) -> str:
        return f"SamplingParams({self.kwargs!r})"
