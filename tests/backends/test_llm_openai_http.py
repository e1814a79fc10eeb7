"""OpenAIHTTPLLM against real local servers: `transformers serve` and stdlib stubs.

The stubs answer scripted status codes (and headers) over real sockets, so
retries, backoff and fail-fast are tested on the wire rather than against a
mock; only the backend's sleep is swapped where a test must not wait.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import pickle
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import ValidationError

from datagen.backends.llm.base import LLMRequest
from datagen.backends.llm.openai_http import OpenAIHTTPLLM, OpenAIHTTPOptions, parse_retry_after
from datagen.backends.llm.prompts import SCHEMAS, make_request, parse_response
from datagen.backends.registry import make_llm

SECRET = "sk-test-Zq8x-do-not-leak-4417"
KEY_ENV = "DATAGEN_TEST_OPENAI_KEY"


def _backend(url: str, model: str = "stub", **kw) -> OpenAIHTTPLLM:
    """Transport tests name the dialect: the probe (tests/backends/test_llm_dialects.py) would
    add requests that the scripted stubs here do not expect."""
    kw.setdefault("structured_output", "json_schema")
    return OpenAIHTTPLLM(OpenAIHTTPOptions(base_url=url, model=model, api_key_env=KEY_ENV, **kw))


def _ok(content: str) -> dict:
    return {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3},
    }


@dataclass
class LocalServer:
    """A stdlib server on 127.0.0.1 whose `respond(req)` picks status, headers and body.

    The shared `stub_server` cannot send headers (Retry-After) or choose a
    status from the request (reject one schema, accept others); this can.
    """

    url: str = ""
    respond: Callable[[dict], tuple[int, dict, Any]] = lambda req: (200, {}, _ok("fine"))
    received: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    srv = LocalServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (stdlib name)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            req = {"path": self.path, "headers": dict(self.headers), "json": json.loads(body or b"{}")}
            with srv.lock:
                srv.received.append(req)
                status, headers, reply = srv.respond(req)
            data = reply.encode() if isinstance(reply, str) else json.dumps(reply).encode()
            self.send_response(status)
            for k, v in {"Content-Type": "application/json", **headers}.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    httpd.shutdown()
    httpd.server_close()


def _qa(i: int, **kw):
    """A qa_answer request WITH its schema: answers are asked as plain text in the pipeline
    (prompts.PLAIN_TEXT_KINDS), but these transport tests need a schema on the wire."""
    ctx = {"question": f"question number {i}?", "answer": "", "topic": "tests", "length": "short"}
    req = make_request(f"q{i}", "qa_answer", ctx, seed=i, **kw)
    return dataclasses.replace(req, json_schema=SCHEMAS["qa_answer"])


# ------------------------------------------------------------- transformers serve


def test_real_server_roundtrip(tiny_llm_server, monkeypatch, caplog):
    monkeypatch.setenv(KEY_ENV, SECRET)
    caplog.set_level(logging.DEBUG)
    opts = {"base_url": tiny_llm_server.base_url, "model": tiny_llm_server.model, "api_key_env": KEY_ENV}
    llm = make_llm("openai_http", {**opts, "concurrency": 2, "max_retries": 1, "backoff_s": 0.1})
    contexts = {
        "related_question": {
            "question": "Why is the sky blue?",
            "answer_so_far": "Light scatters",
            "topic": "sky",
        },
        "distractor": {"topic": "the sky"},
        "dialogue": {
            "topic": "sky",
            "questions": [{"question": "Why blue?", "answer": "scattering"}],
            "rounds": 1,
        },
        "qa_answer": {
            "question": "Why is the sky blue?",
            "answer": "scattering",
            "topic": "sky",
            "length": "long",
        },
    }
    reqs = [
        make_request(f"r{i}-{k}", k, c, seed=i, max_tokens=12) for i, (k, c) in enumerate(contexts.items())
    ]
    t0 = time.monotonic()
    out = llm.generate(reqs)
    elapsed = time.monotonic() - t0

    assert [r.id for r in out] == [r.id for r in reqs]
    # Random weights rarely stop on their own within 12 tokens: the real server says
    # finish_reason "length", which must come back as a failure with text and counts kept.
    # qa_answer is asked as plain text (no schema): its cut-off reads "the answer ended".
    cuts = {
        "openai_http: hit max_tokens (12) before the JSON object closed",
        "openai_http: hit max_tokens (12) before the answer ended",
    }
    assert all(r.ok or r.error in cuts for r in out), [r.error for r in out]
    assert any(r.error in cuts for r in out)
    for r in out:
        assert 0 < r.completion_tokens <= 12
        assert r.prompt_tokens > 20  # the system prompt alone is longer than that
        assert r.text  # random weights still produce *something*
    # Random-weight output is not JSON: the shared parser turns it into a reject with the raw text kept.
    for req, resp in zip(reqs, out, strict=True):
        if req.kind in ("related_question", "distractor", "dialogue"):
            value, error = parse_response(req.kind, resp.text, req.context)
            assert value is None and error in ("not_json", "bad_schema")
    # The key was sent, but nothing that comes back or gets logged may contain it.
    blobs = [r.text + r.error for r in out] + [
        caplog.text,
        tiny_llm_server.log_path.read_text(errors="replace"),
    ]
    assert not any(SECRET in b for b in blobs)
    assert elapsed < 60


def test_real_server_unknown_model_fails_per_request(tiny_llm_server):
    llm = _backend(tiny_llm_server.base_url, model="/no/such/model", max_retries=0)
    out = llm.generate([_qa(1, max_tokens=4)])
    # A 4xx from the real server (it is pinned to one model) fails fast with the body kept.
    assert len(out) == 1 and not out[0].ok and out[0].error.startswith("http_4") and out[0].text


# ------------------------------------------------------------------- stub server


def test_sends_openai_payload_and_reads_usage(stub_server, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    stub_server.script = [(200, stub_server.ok('{"answer": "Hi."}', prompt_tokens=11, completion_tokens=5))]
    out = _backend(stub_server.url, temperature=0.3, top_p=0.9).generate([_qa(3, max_tokens=50)])
    assert out[0].ok and out[0].text == '{"answer": "Hi."}'
    assert (out[0].prompt_tokens, out[0].completion_tokens) == (11, 5)
    sent = stub_server.received[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["Authorization"] == f"Bearer {SECRET}"
    body = sent["json"]
    assert body["model"] == "stub" and body["max_tokens"] == 50 and body["seed"] == 3
    assert (body["temperature"], body["top_p"]) == (0.3, 0.9)
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    rf = body["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["name"] == "qa_answer"
    assert rf["json_schema"]["strict"] is True and "answer" in rf["json_schema"]["schema"]["properties"]


def test_structured_output_none_omits_response_format_and_no_key_no_header(stub_server, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    _backend(stub_server.url, structured_output="none").generate([_qa(1)])
    sent = stub_server.received[0]
    assert "response_format" not in sent["json"]
    assert "Authorization" not in sent["headers"]


def test_many_requests_come_back_in_order(stub_server):
    reqs = [_qa(i) for i in range(20)]
    out = _backend(stub_server.url, concurrency=6).generate(reqs)
    assert [r.id for r in out] == [r.id for r in reqs]
    # The stub echoes each request's user message, so a mix-up between threads would show here.
    for req, resp in zip(reqs, out, strict=True):
        assert req.context["question"] in resp.text
    assert _backend(stub_server.url).generate([]) == []


def test_retries_500_then_succeeds(stub_server):
    stub_server.script = [(500, {"error": "overloaded"}), (503, "busy"), (200, stub_server.ok("fine"))]
    t0 = time.monotonic()
    out = _backend(stub_server.url, max_retries=3, backoff_s=0.05).generate([_qa(1)])
    assert out[0].ok and out[0].text == "fine"
    assert len(stub_server.received) == 3
    assert time.monotonic() - t0 >= 0.05 * 0.5 + 0.1 * 0.5  # two backoffs, each at least half its base


def test_429_gives_up_after_max_retries(stub_server):
    stub_server.script = [(429, {"error": "slow down"})] * 10
    out = _backend(stub_server.url, max_retries=2, backoff_s=0.01).generate([_qa(1)])
    assert not out[0].ok and out[0].error.startswith("http_429") and "after 3 attempts" in out[0].error
    assert len(stub_server.received) == 3
    assert "slow down" in out[0].text  # raw body kept for the rejects log


def test_401_fails_fast_and_never_leaks_key(stub_server, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    # A careless server that echoes the credentials it got back in its error body.
    stub_server.script = [(401, lambda req: {"error": f"bad key {req['headers']['Authorization']}"})]
    out = _backend(stub_server.url, max_retries=5, backoff_s=1.0).generate([_qa(1)])
    assert len(stub_server.received) == 1
    assert not out[0].ok and out[0].error.startswith("http_401")
    assert SECRET not in out[0].error and SECRET not in out[0].text and "***" in out[0].error
    assert SECRET not in repr(out[0]) and SECRET not in repr(_backend(stub_server.url).options)


def test_schema_rejection_retries_only_that_request(stub_server):
    stub_server.script = [(400, {"error": {"message": "response_format json_schema is not supported"}})]
    llm = _backend(stub_server.url, max_retries=0, concurrency=1)
    out = llm.generate([_qa(1), _qa(2), _qa(3)])
    assert [r.ok for r in out] == [True, True, True]
    sent = [("response_format" in r["json"]) for r in stub_server.received]
    # q1: rejected with the schema, retried without it; q2 and q3 still ask for structured output.
    assert sent == [True, False, True, True]
    llm.generate([_qa(4)])  # a later call too: one rejection switches nothing off
    assert "response_format" in stub_server.received[-1]["json"]


def test_schema_rejected_for_one_kind_keeps_it_for_the_others(local_server, caplog):
    """vLLM rejects a schema it cannot compile, which is one request kind, not the server."""

    def respond(req):
        rf = req["json"].get("response_format")
        if rf and rf["json_schema"]["name"] == "dialogue":
            return (
                400,
                {},
                {
                    "error": {
                        "message": "The provided JSON schema contains features not supported by xgrammar."
                    }
                },
            )
        return 200, {}, _ok("fine")

    local_server.respond = respond
    dialogue = {"topic": "sky", "questions": [{"question": "Why blue?", "answer": "scattering"}], "rounds": 1}
    reqs = [make_request(f"d{i}", "dialogue", dialogue, seed=i) for i in range(4)] + [
        _qa(i) for i in range(8)
    ]
    caplog.set_level(logging.WARNING)
    out = _backend(local_server.url, concurrency=4, max_retries=0).generate(reqs)
    assert all(r.ok for r in out), [r.error for r in out]
    by_kind = {"dialogue": [], "qa_answer": []}
    for r in local_server.received:
        rf = r["json"].get("response_format")
        kind = (
            "dialogue"
            if "Write a spoken conversation" in r["json"]["messages"][-1]["content"]
            else "qa_answer"
        )
        by_kind[kind].append(rf is not None)
    assert by_kind["qa_answer"] == [True] * 8  # never sent without the schema
    assert sorted(by_kind["dialogue"]) == [False] * 4 + [True] * 4  # each tried with, then without
    warnings = [rec for rec in caplog.records if "rejected response_format" in rec.getMessage()]
    assert len(warnings) == 1 and "dialogue" in warnings[0].getMessage()  # once, from 4 threads


def test_schema_fallback_that_still_fails_says_both(stub_server):
    stub_server.script = [
        (400, {"error": "guided decoding: response_format json_schema unsupported"}),
        (400, {"error": "max_tokens too large"}),
    ]
    out = _backend(stub_server.url, max_retries=3).generate([_qa(1)])
    assert len(stub_server.received) == 2
    assert not out[0].ok and out[0].error.startswith("http_400") and "max_tokens too large" in out[0].error
    assert "retried without response_format after http_400" in out[0].error


def test_other_400_is_not_mistaken_for_schema_problem(stub_server):
    stub_server.script = [(400, {"error": "max_tokens too large"})]
    out = _backend(stub_server.url, max_retries=3).generate([_qa(1)])
    assert not out[0].ok and "max_tokens" in out[0].error and len(stub_server.received) == 1


def test_finish_reason_length_is_a_failure_that_keeps_text_and_counts(stub_server):
    def cut(content):
        body = stub_server.ok(content, prompt_tokens=20, completion_tokens=8)
        body["choices"][0]["finish_reason"] = "length"
        return body

    stub_server.script = [(200, cut('{"answer": "The sky is blue bec')), (200, cut("The sky is blue bec"))]
    plain = LLMRequest(
        id="p1", kind="qa_answer", messages=({"role": "user", "content": "Why?"},), max_tokens=8
    )
    out = _backend(stub_server.url, concurrency=1).generate([_qa(1, max_tokens=8), plain])
    assert [r.ok for r in out] == [False, False]
    assert out[0].error == "openai_http: hit max_tokens (8) before the JSON object closed"
    assert out[1].error == "openai_http: hit max_tokens (8) before the answer ended"
    assert out[0].text == '{"answer": "The sky is blue bec' and out[1].text == "The sky is blue bec"
    assert all((r.prompt_tokens, r.completion_tokens) == (20, 8) for r in out)
    assert "response_format" not in stub_server.received[1]["json"]  # plain text asked for no schema


def test_malformed_200_is_a_per_request_error(stub_server):
    stub_server.script = [(200, {"choices": []}), (200, "not json at all")]
    out = _backend(stub_server.url, concurrency=1).generate([_qa(1), _qa(2), _qa(3)])
    assert [r.ok for r in out] == [False, False, True]
    assert out[0].error.startswith("bad_response") and out[1].text == "not json at all"


def test_connection_refused_is_retried_then_reported():
    with socket.socket() as s:  # a port nobody listens on once this closes
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = _backend(f"http://127.0.0.1:{port}/v1", max_retries=1, backoff_s=0.01).generate([_qa(1)])
    assert not out[0].ok and out[0].error.startswith("connection:") and "after 2 attempts" in out[0].error


def test_retry_after_seconds_is_honoured_on_the_wire(local_server):
    replies = [(429, {"Retry-After": "1"}, {"error": "slow down"})]
    local_server.respond = lambda req: replies.pop(0) if replies else (200, {}, _ok("fine"))
    t0 = time.monotonic()
    out = _backend(local_server.url, max_retries=2, backoff_s=0.01).generate([_qa(1)])
    elapsed = time.monotonic() - t0
    assert out[0].ok and out[0].text == "fine" and len(local_server.received) == 2
    assert 1.0 <= elapsed < 5  # the server's 1 s, not the 0.01 s backoff


@pytest.mark.parametrize(
    ("header", "cap", "low", "high"),
    [
        ("7", 60.0, 7.0, 7.7),  # seconds, plus at most 10% spread
        ("3600", 5.0, 5.0, 5.0),  # a silly wait is capped
        ("soon", 60.0, 0.25, 0.75),  # unparseable: the usual backoff (0.5 s base, jitter 0.5x-1.5x)
        (None, 60.0, 0.25, 0.75),  # absent: same
    ],
)
def test_retry_after_sets_the_wait_between_tries(local_server, monkeypatch, header, cap, low, high):
    headers = {"Retry-After": header} if header else {}
    replies = [(503, headers, "busy")]
    local_server.respond = lambda req: replies.pop(0) if replies else (200, {}, _ok("fine"))
    llm = _backend(local_server.url, max_retries=1, backoff_s=0.5, retry_after_max_s=cap)
    waits: list[float] = []
    monkeypatch.setattr(llm, "_sleep", waits.append)  # only the sleep: the requests are real
    assert llm.generate([_qa(1)])[0].ok
    assert len(waits) == 1 and low <= waits[0] <= high, waits


def test_retry_after_http_date_on_the_wire(local_server, monkeypatch):
    when = formatdate(time.time() + 30, usegmt=True)  # "Thu, 01 Jan 2026 00:00:30 GMT"
    replies = [(503, {"Retry-After": when}, "busy")]
    local_server.respond = lambda req: replies.pop(0) if replies else (200, {}, _ok("fine"))
    llm = _backend(local_server.url, max_retries=1, backoff_s=0.01)
    waits: list[float] = []
    monkeypatch.setattr(llm, "_sleep", waits.append)
    assert llm.generate([_qa(1)])[0].ok
    assert len(waits) == 1 and 28 <= waits[0] <= 33, waits  # 30 s to one-second precision, +10% spread


def test_parse_retry_after():
    now = 1_700_000_000.0
    assert (
        parse_retry_after("120") == 120 and parse_retry_after(" 1.5 ") == 1.5 and parse_retry_after("0") == 0
    )
    assert parse_retry_after(formatdate(now + 42, usegmt=True), now=now) == 42
    assert parse_retry_after(formatdate(now - 42, usegmt=True), now=now) == 0  # already past: retry now
    for bad in (None, "", "  ", "-3", "nan", "inf", "soon", "Wed, 21 Oct 2015 07:28:00"):  # last: no zone
        assert parse_retry_after(bad, now=now) is None, bad


def test_pickles_without_its_client(stub_server):
    llm = _backend(stub_server.url)
    assert llm.generate([_qa(1)])[0].ok  # client now exists
    clone = pickle.loads(pickle.dumps(llm))
    assert clone._client is None and clone.options == llm.options
    assert clone.generate([_qa(2)])[0].ok
    llm.close()


def test_options_are_strict():
    with pytest.raises(ValidationError):
        OpenAIHTTPOptions(model="m", api_key="sk-should-not-be-here")
    with pytest.raises(ValidationError):
        OpenAIHTTPOptions()  # which model to ask for has no sensible default
    with pytest.raises(ValidationError):
        OpenAIHTTPOptions(model="m", structured_output="xml")
    assert OpenAIHTTPLLM.name == "openai_http" and OpenAIHTTPLLM.extra == "http"
