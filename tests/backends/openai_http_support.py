"""Shared by the OpenAIHTTPLLM tests: the backend as they build it, a chat reply body,
a qa request with its schema, and `local_server`, a stdlib server on 127.0.0.1 that
can send headers and choose a status per request (tests/backends/conftest.py has the
scripted `stub_server` and `transformers serve`)."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from datagen.backends.llm.openai_http import OpenAIHTTPLLM, OpenAIHTTPOptions
from datagen.backends.llm.prompts import SCHEMAS, make_request

SECRET = "sk-test-Zq8x-do-not-leak-4417"
KEY_ENV = "DATAGEN_TEST_OPENAI_KEY"


def backend(url: str, model: str = "stub", **kw) -> OpenAIHTTPLLM:
    """Transport tests name the dialect: the probe (tests/backends/test_llm_dialects.py) would
    add requests that the scripted stubs here do not expect."""
    kw.setdefault("structured_output", "json_schema")
    return OpenAIHTTPLLM(OpenAIHTTPOptions(base_url=url, model=model, api_key_env=KEY_ENV, **kw))


def ok_body(content: str) -> dict:
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
    respond: Callable[[dict], tuple[int, dict, Any]] = lambda req: (200, {}, ok_body("fine"))
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


def qa_request(i: int, **kw):
    """A qa_answer request WITH its schema: answers are asked as plain text in the pipeline
    (prompts.PLAIN_TEXT_KINDS), but these transport tests need a schema on the wire."""
    ctx = {"question": f"question number {i}?", "answer": "", "topic": "tests", "length": "short"}
    req = make_request(f"q{i}", "qa_answer", ctx, seed=i, **kw)
    return dataclasses.replace(req, json_schema=SCHEMAS["qa_answer"])
