"""Real local servers for the HTTP backend tests: no mocks of httpx.

Three kinds (the third, `local_server`, lives in openai_http_support.py):
- `stub_server`: a stdlib `http.server` on 127.0.0.1 that answers a scripted
  sequence of status codes (500 then 200, 401, ...), to test retries and
  fail-fast against real sockets.
- `tiny_llm_server`: `transformers serve` over a random-weight Llama built
  here in seconds (tokenizer trained locally), a real OpenAI-compatible chat
  server with nothing downloaded. Session-scoped because start-up costs ~10 s.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from openai_http_support import local_server  # noqa: F401 (fixture: headers and a status per request)

# ------------------------------------------------------------------ stdlib stub


@dataclass
class StubServer:
    """Answers requests from `script` in order, then with `default` (a 200 echo)."""

    url: str
    script: list[tuple[int, Any]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def ok(content: str, prompt_tokens: int = 7, completion_tokens: int = 3) -> dict[str, Any]:
        """A well-formed chat.completion body."""
        return ok_body(content, prompt_tokens, completion_tokens)


def ok_body(content: str, prompt_tokens: int = 7, completion_tokens: int = 3) -> dict[str, Any]:
    return {
        "object": "chat.completion",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
    }


def _echo(req: dict[str, Any]) -> dict[str, Any]:
    """Default reply: the last user message back as an answer, so tests can check order."""
    user = req["json"]["messages"][-1]["content"]
    return ok_body(json.dumps({"answer": user}))


def _handler(stub: StubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (stdlib name)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            req = {"path": self.path, "headers": dict(self.headers), "json": json.loads(body or b"{}")}
            with stub.lock:
                stub.received.append(req)
                status, reply = stub.script.pop(0) if stub.script else (200, _echo)
            if callable(reply):
                reply = reply(req)
            data = reply.encode() if isinstance(reply, str) else json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

    return Handler


@pytest.fixture
def stub_server() -> Iterator[StubServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    stub = StubServer(url=f"http://127.0.0.1:{httpd.server_address[1]}/v1")
    httpd.RequestHandlerClass = _handler(stub)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield stub
    httpd.shutdown()
    httpd.server_close()


# ------------------------------------------------------------ transformers serve


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _corpus() -> list[str]:
    """A few hundred lines of plain English plus JSON, enough to train a small BPE."""
    from datagen.backends.llm import scripted

    topics = ["geography", "music", "history", "science", "sports", "food", "space", "art"]
    lines = []
    for i, t in enumerate(topics * 5):
        for tmpl in scripted.ELABORATIONS[i % 3 :: 3]:
            lines.append(tmpl.format(t=t, k=t[::-1]))
    lines += list(scripted.OPENERS + scripted.CLOSERS + scripted.DISTRACTOR_LINES)
    pairs = zip(lines[:96], topics * 12, strict=True)
    lines += [json.dumps({"answer": line, "question": t}) for line, t in pairs]
    return lines


def build_tiny_llama(folder: Path) -> None:
    """Random-weight Llama (hidden 32, 2 layers) + a locally trained byte-level BPE and a chat template."""
    import torch
    from llm_support import chat_tokenizer
    from transformers import LlamaConfig, LlamaForCausalLM

    fast = chat_tokenizer(_corpus(), 512)
    fast.save_pretrained(folder)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)


@dataclass
class LLMServer:
    base_url: str
    model: str
    log_path: Path


def _serve_cli() -> list[str] | None:
    beside = Path(sys.executable).with_name("transformers")
    exe = str(beside) if beside.exists() else shutil.which("transformers")
    return [exe, "serve"] if exe else None


def _wait_ready(url: str, proc: subprocess.Popen, log_path: Path, timeout_s: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text()[-3000:]
            raise RuntimeError(f"transformers serve exited {proc.returncode}:\n{tail}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"transformers serve not ready after {timeout_s}s:\n{log_path.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def tiny_llm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LLMServer]:
    pytest.importorskip("tokenizers", reason="needs the `serve` extra (tokenizers)")
    pytest.importorskip("fastapi", reason="needs the `serve` extra (transformers[serving])")
    cli = _serve_cli()
    if cli is None:
        pytest.skip("needs the `transformers` CLI from the `serve` extra")
    root = tmp_path_factory.mktemp("tiny_llm")
    folder = root / "model"
    build_tiny_llama(folder)
    port = free_port()
    log_path = root / "serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    cmd = [*cli, str(folder), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    cmd += ["--log-level", "info"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        _wait_ready(f"http://127.0.0.1:{port}/health", proc, log_path, timeout_s=90)
        yield LLMServer(base_url=f"http://127.0.0.1:{port}/v1", model=str(folder), log_path=log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# ------------------------------------------------------------------ CosyVoice stand-ins
@pytest.fixture
def isolated_imports(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    real_vllm = sys.modules.pop("vllm", None)  # so a stand-in `vllm` can be imported

    def ours(m: str) -> bool:
        return m == "cosyvoice" or m.startswith("cosyvoice.")

    # the installed upstream package (the cosyvoice extra), if a test imported it: set aside
    real = {m: sys.modules.pop(m) for m in [m for m in sys.modules if ours(m)]}
    yield
    for name in [m for m in sys.modules if ours(m)]:
        del sys.modules[name]
    sys.modules.update(real)
    sys.modules.pop("vllm", None)
    if real_vllm is not None:
        sys.modules["vllm"] = real_vllm
