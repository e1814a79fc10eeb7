"""Prompt types (plain dicts, as vLLM's TypedDicts are)."""

from __future__ import annotations

from typing import Any


def TextPrompt(**kw: Any) -> dict[str, Any]:  # noqa: N802 (vLLM's name)
    return {k: v for k, v in kw.items() if v is not None}


def TokensPrompt(**kw: Any) -> dict[str, Any]:  # noqa: N802 (vLLM's name)
    return {k: v for k, v in kw.items() if v is not None}
