"""OpenAIHTTPLLM's retries on real local sockets: 5xx and 429 retried with backoff,
a refused connection retried then reported, the server's Retry-After (seconds or an
HTTP date) honoured and capped. Only the backend's sleep is swapped where a test
must not wait."""

from __future__ import annotations

import socket
import time
from email.utils import formatdate

import pytest
from openai_http_support import backend, ok_body, qa_request

from datagen.backends.llm.openai_http import parse_retry_after


def test_retries_500_then_succeeds(stub_server):
    stub_server.script = [(500, {"error": "overloaded"}), (503, "busy"), (200, stub_server.ok("fine"))]
    t0 = time.monotonic()
    out = backend(stub_server.url, max_retries=3, backoff_s=0.05).generate([qa_request(1)])
    assert out[0].ok and out[0].text == "fine"
    assert len(stub_server.received) == 3
    assert time.monotonic() - t0 >= 0.05 * 0.5 + 0.1 * 0.5  # two backoffs, each at least half its base


def test_429_gives_up_after_max_retries(stub_server):
    stub_server.script = [(429, {"error": "slow down"})] * 10
    out = backend(stub_server.url, max_retries=2, backoff_s=0.01).generate([qa_request(1)])
    assert not out[0].ok and out[0].error.startswith("http_429") and "after 3 attempts" in out[0].error
    assert len(stub_server.received) == 3
    assert "slow down" in out[0].text  # raw body kept for the rejects log


def test_connection_refused_is_retried_then_reported():
    with socket.socket() as s:  # a port nobody listens on once this closes
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = backend(f"http://127.0.0.1:{port}/v1", max_retries=1, backoff_s=0.01).generate([qa_request(1)])
    assert not out[0].ok and out[0].error.startswith("connection:") and "after 2 attempts" in out[0].error


def test_retry_after_seconds_is_honoured_on_the_wire(local_server):
    replies = [(429, {"Retry-After": "1"}, {"error": "slow down"})]
    local_server.respond = lambda req: replies.pop(0) if replies else (200, {}, ok_body("fine"))
    t0 = time.monotonic()
    out = backend(local_server.url, max_retries=2, backoff_s=0.01).generate([qa_request(1)])
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
    local_server.respond = lambda req: replies.pop(0) if replies else (200, {}, ok_body("fine"))
    llm = backend(local_server.url, max_retries=1, backoff_s=0.5, retry_after_max_s=cap)
    waits: list[float] = []
    monkeypatch.setattr(llm, "_sleep", waits.append)  # only the sleep: the requests are real
    assert llm.generate([qa_request(1)])[0].ok
    assert len(waits) == 1 and low <= waits[0] <= high, waits


def test_retry_after_http_date_on_the_wire(local_server, monkeypatch):
    when = formatdate(time.time() + 30, usegmt=True)  # "Thu, 01 Jan 2026 00:00:30 GMT"
    replies = [(503, {"Retry-After": when}, "busy")]
    local_server.respond = lambda req: replies.pop(0) if replies else (200, {}, ok_body("fine"))
    llm = backend(local_server.url, max_retries=1, backoff_s=0.01)
    waits: list[float] = []
    monkeypatch.setattr(llm, "_sleep", waits.append)
    assert llm.generate([qa_request(1)])[0].ok
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
