"""Which structured-output dialect an OpenAI-compatible server speaks, found by asking it.

Servers that all call themselves "OpenAI-compatible" disagree on how JSON
output is requested (docs/gpu.md has the table):

- vLLM, SGLang, OpenAI: `{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}`;
- llama.cpp (`llama-cpp-python[server]`, llama-server): `{"type": "json_object",
  "schema": {...}}`; it answers HTTP 500 to `json_schema`;
- `transformers serve`: takes either and ignores both.

Guessing wrong costs a failed request per dialogue (500s) or silently
unconstrained output, so once per run and server we send one tiny probe per
dialect, with a schema that unconstrained text would almost never match (a
fixed key and an enum of two made-up words), and keep the first dialect
whose answer holds it. None holding means "none": requests go without
`response_format`, and the shared parser's validate-and-retry path is all
there is. The result is cached per (base_url, model) for the process and
logged once.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

log = logging.getLogger(__name__)

DIALECTS: tuple[str, ...] = ("json_schema", "json_object")  # tried in this order
PROBE_WORDS = ("zorbly", "quindle")
PROBE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"probe_word": {"type": "string", "enum": list(PROBE_WORDS)}},
    "required": ["probe_word"],
    "additionalProperties": False,
}
_PROBE_MESSAGES = [{"role": "user", "content": "Name a colour."}]  # unrelated on purpose

_cache: dict[tuple[str, str], str] = {}
_notes: dict[tuple[str, str], str] = {}
_lock = threading.Lock()


def response_format(dialect: str, name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The `response_format` body for `schema` in `dialect` (json_schema or json_object)."""
    if dialect == "json_schema":
        spec = {"name": name or "output", "schema": schema, "strict": True}
        return {"type": "json_schema", "json_schema": spec}
    if dialect == "json_object":
        return {"type": "json_object", "schema": schema}
    raise ValueError(f"no response_format in dialect {dialect!r}")


def holds(text: str) -> bool:
    """Does a probe answer match PROBE_SCHEMA exactly?"""
    try:
        obj = json.loads(text)
    except (TypeError, ValueError):
        return False
    return isinstance(obj, dict) and set(obj) == {"probe_word"} and obj["probe_word"] in PROBE_WORDS


def _try(client: Any, base_url: str, model: str, key: str, dialect: str) -> tuple[bool, str]:
    """One probe request: (held, what happened)."""
    body = {
        "model": model,
        "messages": _PROBE_MESSAGES,
        "max_tokens": 48,
        "temperature": 0.0,
        "response_format": response_format(dialect, "probe", PROBE_SCHEMA),
    }
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    r = client.post(base_url.rstrip("/") + "/chat/completions", json=body, headers=headers)
    if r.status_code != 200:
        return False, f"http_{r.status_code}"
    try:
        text = r.json()["choices"][0]["message"].get("content") or ""
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return False, "bad_response"
    return (True, "held") if holds(text) else (False, "ignored")


def probe_dialect(client: Any, base_url: str, model: str, key: str = "") -> str | None:
    """The dialect this server holds a schema in ("none" if neither), probed once and cached.

    None when the server could not be reached: nothing is cached then, so the
    next call probes again (a server still starting must not be written off)."""
    import httpx

    k = (base_url.rstrip("/"), model)
    with _lock:  # one probe per server even when many threads ask at once
        if k in _cache:
            return _cache[k]
        tried: list[str] = []
        found = "none"
        for dialect in DIALECTS:
            try:
                ok, what = _try(client, base_url, model, key, dialect)
            except httpx.HTTPError as e:
                log.warning("structured-output probe of %s failed (%s); will probe again", base_url, e)
                return None
            tried.append(f"{dialect}: {what}")
            if ok:
                found = dialect
                break
        _cache[k] = found
        _notes[k] = "; ".join(tried)
    log.warning(
        "structured output: %s (%s) speaks %s [probe: %s]",
        base_url,
        model,
        found if found != "none" else "no dialect that holds a schema: parse, validate and retry only",
        _notes[k],
    )
    return found


def probe_note(base_url: str, model: str) -> str:
    """What the probe saw, for stats and logs ("" before it ran)."""
    return _notes.get((base_url.rstrip("/"), model), "")


def forget() -> None:
    """Drop the cache (tests, or a server restarted with another engine)."""
    with _lock:
        _cache.clear()
        _notes.clear()
