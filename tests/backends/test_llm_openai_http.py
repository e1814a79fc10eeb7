"""OpenAIHTTPLLM against real local servers: `transformers serve` and a stdlib stub.

The stub answers scripted status codes over real sockets, so retries,
backoff and fail-fast are tested on the wire rather than against a mock.
"""

from __future__ import annotations

import logging
import pickle
import socket
import time

import pytest
from pydantic import ValidationError

from datagen.backends.llm.openai_http import OpenAIHTTPLLM, OpenAIHTTPOptions
from datagen.backends.llm.prompts import make_request, parse_response
from datagen.backends.registry import make_llm

SECRET = "sk-test-Zq8x-do-not-leak-4417"
KEY_ENV = "DATAGEN_TEST_OPENAI_KEY"


def _backend(url: str, model: str = "stub", **kw) -> OpenAIHTTPLLM:
    return OpenAIHTTPLLM(OpenAIHTTPOptions(base_url=url, model=model, api_key_env=KEY_ENV, **kw))


def _qa(i: int, **kw):
    ctx = {"question": f"question number {i}?", "answer": "", "topic": "tests", "length": "short"}
    return make_request(f"q{i}", "qa_answer", ctx, seed=i, **kw)


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
    assert all(r.ok for r in out), [r.error for r in out]
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


def test_schema_rejection_retries_without_it_and_remembers(stub_server):
    stub_server.script = [(400, {"error": {"message": "response_format json_schema is not supported"}})]
    llm = _backend(stub_server.url, max_retries=0)
    out = llm.generate([_qa(1)])
    assert out[0].ok
    first, second = stub_server.received
    assert "response_format" in first["json"] and "response_format" not in second["json"]
    llm.generate([_qa(2)])
    assert "response_format" not in stub_server.received[2]["json"]


def test_other_400_is_not_mistaken_for_schema_problem(stub_server):
    stub_server.script = [(400, {"error": "max_tokens too large"})]
    out = _backend(stub_server.url, max_retries=3).generate([_qa(1)])
    assert not out[0].ok and "max_tokens" in out[0].error and len(stub_server.received) == 1


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
