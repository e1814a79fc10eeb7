"""Any OpenAI-compatible chat server (vllm serve, transformers serve, a hosted API).

The backend is transport only: it sends each request's messages, returns the
raw text and token usage, and leaves parsing to `prompts.parse_response` so
every backend shares one parse-and-reject path. It is built for long batch
runs against a server that may hiccup, so:

- transient failures (connection errors, timeouts, 429, 5xx) are retried a
  bounded number of times with exponential backoff and jitter, so a fleet of
  workers does not hammer a recovering server in lockstep; when the server
  says how long to wait (`Retry-After`, seconds or an HTTP-date) that wins,
  capped at `retry_after_max_s`; any other 4xx is a mistake in the request
  and fails at once;
- one failed request becomes an `ok=False` response, never an exception that
  would throw away the rest of the batch;
- a 400 that blames `response_format`/json_schema makes *that request* retry
  once without it (see `OpenAIHTTPLLM._one` for why nothing is remembered);
- an answer cut off by `max_tokens` (finish_reason "length") is `ok=False`
  with the raw text kept: a truncated JSON object cannot parse and a
  truncated spoken answer would stop mid-sentence;
- the API key is read from the environment at call time, never stored in the
  options (which end up in logs and stats) and scrubbed from any error text.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from pydantic import Field

from datagen.backends.llm.base import BackendOptions, LLMBackend, LLMRequest, LLMResponse
from datagen.backends.llm.dialects import probe_dialect, response_format

log = logging.getLogger(__name__)

_RETRY_STATUS = frozenset({408, 425, 429})  # request timeout, too early, rate limited
_BODY_CHARS = 300  # how much of an error body to keep in `error`
_BACKOFF_CAP_S = 60.0


class OpenAIHTTPOptions(BackendOptions):
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = Field(min_length=1)  # what the server calls the model (vllm: the path or served name)
    api_key_env: str = "OPENAI_API_KEY"  # the *name* of the env var holding the key, never the key
    concurrency: int = Field(8, ge=1, le=512)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(3, ge=0, le=20)
    backoff_s: float = Field(1.0, ge=0)
    temperature: float = Field(0.7, ge=0, le=2)
    top_p: float = Field(0.95, gt=0, le=1)
    # How to ask for JSON: "auto" probes the server once (see `dialects.probe_dialect`);
    # "json_schema" (vLLM, SGLang, OpenAI), "json_object" (llama.cpp: the schema rides in
    # response_format.schema) or "none" (parse, validate and retry only) skip the probe.
    structured_output: Literal["auto", "json_schema", "json_object", "none"] = "auto"
    # Longest wait a server's Retry-After may impose before a retry; a misconfigured
    # proxy asking for an hour must not stall a worker for an hour.
    retry_after_max_s: float = Field(60.0, ge=0)


class OpenAIHTTPLLM(LLMBackend):
    """Chat completions over HTTP, `concurrency` requests in flight at once."""

    name = "openai_http"
    extra = "http"
    Options = OpenAIHTTPOptions
    # Options that say how to reach the server, not what it writes: left out of the run's
    # fingerprint (runner.fingerprint), so a server on another port resumes the same corpus.
    transport_options = (
        "base_url",
        "concurrency",
        "timeout_s",
        "max_retries",
        "backoff_s",
        "retry_after_max_s",
    )

    def __init__(self, options: OpenAIHTTPOptions | None = None):
        super().__init__(options)
        self._client: Any = None
        self._lock = threading.Lock()
        self._schema_warned: set[tuple[str, str]] = set()  # (model, kind) already warned about

    # Class-level so a test can swap it on one instance; never shared mutable state.
    _sleep = staticmethod(time.sleep)

    # Pickled into workers before first use: ship options, not sockets or locks.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_client"] = None
        state.pop("_lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_schema_warned", set())
        self._lock = threading.Lock()

    def _http(self) -> Any:
        with self._lock:
            if self._client is None:
                import httpx

                o = self.options
                self._client = httpx.Client(
                    timeout=o.timeout_s,
                    limits=httpx.Limits(
                        max_connections=o.concurrency, max_keepalive_connections=o.concurrency
                    ),
                )
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def generate(self, requests: list[LLMRequest]) -> list[LLMResponse]:
        if not requests:
            return []
        if any(r.json_schema is not None for r in requests):
            _ = self.dialect  # probe once, before the threads start, so they do not race to it
        workers = min(self.options.concurrency, len(requests))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openai_http") as pool:
            return list(pool.map(self._safe_one, requests))  # map keeps request order

    def _safe_one(self, req: LLMRequest) -> LLMResponse:
        key = os.environ.get(self.options.api_key_env, "")
        try:
            return self._one(req, key)
        except Exception as e:  # a bug or an odd server must not sink the whole batch
            return LLMResponse(id=req.id, text="", ok=False, error=_redact(f"unexpected: {e!r}", key))

    def _payload(self, req: LLMRequest, with_schema: bool) -> dict[str, Any]:
        o = self.options
        body: dict[str, Any] = {
            "model": o.model,
            "messages": [dict(m) for m in req.messages],
            "max_tokens": req.max_tokens,
            "temperature": o.temperature,
            "top_p": o.top_p,
            "seed": req.seed,
        }
        if with_schema and req.json_schema is not None and self.dialect != "none":
            body["response_format"] = response_format(self.dialect, req.kind, req.json_schema)
        return body

    def preflight(self) -> None:
        """Probe the structured-output dialect in the driver, so the run's own log says it
        (Ray workers' logs stay in the workers); an unreachable server is not an error here."""
        if self.options.structured_output == "auto":
            _ = self.dialect

    @property
    def dialect(self) -> str:
        """The structured-output dialect in use: the option, or what the probe found."""
        o = self.options
        if o.structured_output != "auto":
            return o.structured_output
        return probe_dialect(self._http(), o.base_url, o.model, self._key()) or "none"

    def _key(self) -> str:
        return os.environ.get(self.options.api_key_env, "")

    def _one(self, req: LLMRequest, key: str) -> LLMResponse:
        """Send one request, retrying what a retry can fix.

        A 400 that blames `response_format`/json_schema drops the schema for
        this request only and retries it at once (no backoff, no attempt
        used). Nothing is remembered across requests: vLLM rejects one
        *schema* it cannot compile (so one request kind), not structured
        output as a whole, and a shared switch would silently turn off
        constrained decoding for every thread, including requests that would
        have succeeded. A server that truly lacks json_schema costs one fast
        400 per request; the warning (once per model and kind) says to set
        `structured_output: none` then.
        """
        import httpx

        o = self.options
        url = o.base_url.rstrip("/") + "/chat/completions"
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        use_schema = self.dialect != "none"
        schema_note = ""  # why the schema was dropped, kept for the final error
        jitter = random.Random(f"{req.id}:{req.seed}")  # private RNG: no shared global state across threads
        last_error, last_body, tries = "", "", 0
        while tries <= o.max_retries:
            tries += 1
            retry_after: float | None = None
            try:
                r = self._http().post(url, json=self._payload(req, use_schema), headers=headers)
            except (httpx.TimeoutException, httpx.TransportError) as e:
                last_error, last_body = f"connection: {type(e).__name__}: {e}", ""
            else:
                if r.status_code == 200:
                    return self._success(req, r, key)
                last_body = r.text
                last_error = f"http_{r.status_code}: {last_body[:_BODY_CHARS]}"
                if (
                    r.status_code == 400
                    and use_schema
                    and req.json_schema is not None
                    and _mentions_schema(last_body)
                ):
                    # Not transient and not the request's fault: drop the schema for this request, no backoff.
                    use_schema, tries = False, tries - 1
                    schema_note = f"; retried without response_format after {last_error[:120]}"
                    self._warn_schema_rejected(req, _redact(last_error, key))
                    continue
                if r.status_code < 500 and r.status_code not in _RETRY_STATUS:
                    break  # the request itself is wrong: retrying cannot help
                retry_after = parse_retry_after(r.headers.get("retry-after"))
            if tries <= o.max_retries:
                if retry_after is not None:
                    # The server said when: wait that long (capped), never less, plus a little
                    # spread so workers told the same instant do not all return at once.
                    delay = min(o.retry_after_max_s, retry_after * (1.0 + 0.1 * jitter.random()))
                else:
                    delay = min(_BACKOFF_CAP_S, o.backoff_s * 2 ** (tries - 1)) * (0.5 + jitter.random())
                log.info("request %s: %s; retry in %.2fs", req.id, _redact(last_error, key)[:120], delay)
                self._sleep(delay)
        attempts = f"after {tries} attempt{'s' if tries > 1 else ''}"
        return LLMResponse(
            id=req.id,
            text=_redact(last_body, key),
            ok=False,
            error=_redact(f"{last_error} ({attempts}{schema_note})", key),
        )

    def _warn_schema_rejected(self, req: LLMRequest, error: str) -> None:
        """Warn once per (model, kind): loud enough to notice, not one line per request."""
        k = (self.options.model, req.kind)
        with self._lock:
            if k in self._schema_warned:
                return
            self._schema_warned.add(k)
        log.warning(
            "server rejected response_format json_schema for %s requests to %s (%s); retrying each such "
            "request without it. Set structured_output: none if the server never supports it.",
            req.kind,
            self.options.model,
            error[:160],
        )

    @staticmethod
    def _success(req: LLMRequest, r: Any, key: str) -> LLMResponse:
        try:
            data = r.json()
            message = data["choices"][0]["message"]
            text = message.get("content") or ""
            finish = data["choices"][0].get("finish_reason")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return LLMResponse(
                id=req.id, text=_redact(r.text, key), ok=False, error="bad_response: no choices[0].message"
            )
        usage = data.get("usage") or {}
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        completion_tokens = int(usage.get("completion_tokens") or 0)
        if finish == "length":
            # Same rule as vllm.output_to_response for JSON (a cut-off object cannot parse), and
            # stricter for plain text: a cut-off answer would be spoken stopping mid-sentence.
            what = "the JSON object closed" if req.json_schema is not None else "the answer ended"
            return LLMResponse(
                id=req.id,
                text=_redact(text, key),
                ok=False,
                error=f"openai_http: hit max_tokens ({req.max_tokens}) before {what}",
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
            )
        return LLMResponse(
            id=req.id,
            text=_redact(text, key),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )


def _mentions_schema(body: str) -> bool:
    """Does a 400 blame the schema we sent? Only asked when a schema was sent.

    Includes vLLM's per-schema rejections ("The provided JSON schema contains
    features not supported by xgrammar.", "Failed to transform json schema
    into a grammar: ...", "Grammar error: ..."), not only "not supported" ones.
    """
    low = body.lower()
    words = ("response_format", "json_schema", "json schema", "structured", "guided", "grammar")
    return any(w in low for w in words)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP-date).

    None when absent or unparseable (negative, nan, a date without a zone),
    so the caller falls back to its own backoff; a date already past means
    "retry now" (0). `now` is a Unix time, for tests.
    """
    value = (value or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive result means the zone was missing
            return None
        return max(0.0, when.timestamp() - (time.time() if now is None else now))
    return seconds if 0 <= seconds < float("inf") else None  # nan fails both comparisons


def _redact(text: str, key: str) -> str:
    """Scrub the key from anything we hand back: servers sometimes echo it in error bodies."""
    return text.replace(key, "***") if key and len(key) >= 4 else text
