"""OpenAIHTTPLLM against real local servers: `transformers serve` and stdlib stubs.

The stubs answer scripted status codes over real sockets, so the payload,
fail-fast, schema fallbacks and bad replies are tested on the wire rather than
against a mock (retries and Retry-After: test_llm_openai_http_retry.py).
"""

from __future__ import annotations

import logging
import pickle
import time

import pytest
from openai_http_support import KEY_ENV, SECRET, backend, ok_body, qa_request
from pydantic import ValidationError

from datagen.backends.llm.base import LLMRequest
from datagen.backends.llm.openai_http import OpenAIHTTPLLM, OpenAIHTTPOptions
from datagen.backends.llm.prompts import make_request, parse_response
from datagen.backends.registry import make_llm

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
    llm = backend(tiny_llm_server.base_url, model="/no/such/model", max_retries=0)
    out = llm.generate([qa_request(1, max_tokens=4)])
    # A 4xx from the real server (it is pinned to one model) fails fast with the body kept.
    assert len(out) == 1 and not out[0].ok and out[0].error.startswith("http_4") and out[0].text


# ------------------------------------------------------------------- stub server


def test_sends_openai_payload_and_reads_usage(stub_server, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    stub_server.script = [(200, stub_server.ok('{"answer": "Hi."}', prompt_tokens=11, completion_tokens=5))]
    out = backend(stub_server.url, temperature=0.3, top_p=0.9).generate([qa_request(3, max_tokens=50)])
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
    backend(stub_server.url, structured_output="none").generate([qa_request(1)])
    sent = stub_server.received[0]
    assert "response_format" not in sent["json"]
    assert "Authorization" not in sent["headers"]


def test_many_requests_come_back_in_order(stub_server):
    reqs = [qa_request(i) for i in range(20)]
    out = backend(stub_server.url, concurrency=6).generate(reqs)
    assert [r.id for r in out] == [r.id for r in reqs]
    # The stub echoes each request's user message, so a mix-up between threads would show here.
    for req, resp in zip(reqs, out, strict=True):
        assert req.context["question"] in resp.text
    assert backend(stub_server.url).generate([]) == []


def test_401_fails_fast_and_never_leaks_key(stub_server, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    # A careless server that echoes the credentials it got back in its error body.
    stub_server.script = [(401, lambda req: {"error": f"bad key {req['headers']['Authorization']}"})]
    out = backend(stub_server.url, max_retries=5, backoff_s=1.0).generate([qa_request(1)])
    assert len(stub_server.received) == 1
    assert not out[0].ok and out[0].error.startswith("http_401")
    assert SECRET not in out[0].error and SECRET not in out[0].text and "***" in out[0].error
    assert SECRET not in repr(out[0]) and SECRET not in repr(backend(stub_server.url).options)


def test_schema_rejection_retries_only_that_request(stub_server):
    stub_server.script = [(400, {"error": {"message": "response_format json_schema is not supported"}})]
    llm = backend(stub_server.url, max_retries=0, concurrency=1)
    out = llm.generate([qa_request(1), qa_request(2), qa_request(3)])
    assert [r.ok for r in out] == [True, True, True]
    sent = [("response_format" in r["json"]) for r in stub_server.received]
    # q1: rejected with the schema, retried without it; q2 and q3 still ask for structured output.
    assert sent == [True, False, True, True]
    llm.generate([qa_request(4)])  # a later call too: one rejection switches nothing off
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
        return 200, {}, ok_body("fine")

    local_server.respond = respond
    dialogue = {"topic": "sky", "questions": [{"question": "Why blue?", "answer": "scattering"}], "rounds": 1}
    reqs = [make_request(f"d{i}", "dialogue", dialogue, seed=i) for i in range(4)] + [
        qa_request(i) for i in range(8)
    ]
    caplog.set_level(logging.WARNING)
    out = backend(local_server.url, concurrency=4, max_retries=0).generate(reqs)
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
    out = backend(stub_server.url, max_retries=3).generate([qa_request(1)])
    assert len(stub_server.received) == 2
    assert not out[0].ok and out[0].error.startswith("http_400") and "max_tokens too large" in out[0].error
    assert "retried without response_format after http_400" in out[0].error


def test_other_400_is_not_mistaken_for_schema_problem(stub_server):
    stub_server.script = [(400, {"error": "max_tokens too large"})]
    out = backend(stub_server.url, max_retries=3).generate([qa_request(1)])
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
    out = backend(stub_server.url, concurrency=1).generate([qa_request(1, max_tokens=8), plain])
    assert [r.ok for r in out] == [False, False]
    assert out[0].error == "openai_http: hit max_tokens (8) before the JSON object closed"
    assert out[1].error == "openai_http: hit max_tokens (8) before the answer ended"
    assert out[0].text == '{"answer": "The sky is blue bec' and out[1].text == "The sky is blue bec"
    assert all((r.prompt_tokens, r.completion_tokens) == (20, 8) for r in out)
    assert "response_format" not in stub_server.received[1]["json"]  # plain text asked for no schema


def test_malformed_200_is_a_per_request_error(stub_server):
    stub_server.script = [(200, {"choices": []}), (200, "not json at all")]
    out = backend(stub_server.url, concurrency=1).generate([qa_request(1), qa_request(2), qa_request(3)])
    assert [r.ok for r in out] == [False, False, True]
    assert out[0].error.startswith("bad_response") and out[1].text == "not json at all"


def test_pickles_without_its_client(stub_server):
    llm = backend(stub_server.url)
    assert llm.generate([qa_request(1)])[0].ok  # client now exists
    clone = pickle.loads(pickle.dumps(llm))
    assert clone._client is None and clone.options == llm.options
    assert clone.generate([qa_request(2)])[0].ok
    llm.close()


def test_options_are_strict():
    with pytest.raises(ValidationError):
        OpenAIHTTPOptions(model="m", api_key="sk-should-not-be-here")
    with pytest.raises(ValidationError):
        OpenAIHTTPOptions()  # which model to ask for has no sensible default
    with pytest.raises(ValidationError):
        OpenAIHTTPOptions(model="m", structured_output="xml")
    assert OpenAIHTTPLLM.name == "openai_http" and OpenAIHTTPLLM.extra == "http"
