"""vLLM backend: options, request building, response mapping, both modes.

vLLM itself cannot run here (no GPU, no weights). The engine path is driven
through a stand-in `vllm` module that records what our code passes to
`LLM(...)`, `SamplingParams(...)` and `llm.chat(...)`. The Ray Data LLM path
runs Ray's real processor (`ray.data.llm.build_processor`, all of its stages)
with only the engine replaced: a stand-in `vllm` package
(tests/backends/fake_vllm) put on the engine workers' PYTHONPATH through the
backend's `runtime_env`. The real thing runs in the `gpu`-marked test where
vLLM, a GPU and a local model (DATAGEN_VLLM_MODEL) exist.
"""

from __future__ import annotations

import json
import os
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from llm_support import FAKE_VLLM, tiny_chat_model
from pydantic import ValidationError

from datagen.backends.llm.base import LLMRequest
from datagen.backends.llm.vllm import (
    VLLMBackend,
    VLLMOptions,
    engine_kwargs,
    output_to_response,
    postprocess_row,
    preprocess_row,
    request_rows,
    rows_to_responses,
    sampling_dict,
)
from datagen.backends.registry import make_llm

SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


def _req(i: int, schema: dict | None = None, max_tokens: int = 400) -> LLMRequest:
    msgs = ({"role": "system", "content": "Be brief."}, {"role": "user", "content": f"question {i}?"})
    return LLMRequest(
        id=f"r{i}", kind="qa_answer", messages=msgs, json_schema=schema, seed=i, max_tokens=max_tokens
    )


def test_options_validate(tmp_path: Path) -> None:
    o = VLLMOptions(model=str(tmp_path), tensor_parallel_size=2, max_model_len=8192)
    assert engine_kwargs(o) == {
        "tensor_parallel_size": 2,
        "gpu_memory_utilization": 0.9,
        "seed": 0,
        "max_model_len": 8192,
    }
    with pytest.raises(ValidationError):
        VLLMOptions()  # model is required
    with pytest.raises(ValidationError):
        VLLMOptions(model="m", mode="server")
    with pytest.raises(ValidationError):
        VLLMOptions(model="m", typo=1)
    with pytest.raises(ValidationError, match="not inside engine_kwargs"):
        VLLMOptions(model="m", engine_kwargs={"tensor_parallel_size": 4})
    assert make_llm("vllm", {"model": str(tmp_path)}).options.mode == "engine"


def test_resources_follow_mode_and_tp(tmp_path: Path) -> None:
    b = VLLMBackend(VLLMOptions(model=str(tmp_path), tensor_parallel_size=4))
    assert b.resources_gpus == 4.0
    r = VLLMBackend(VLLMOptions(model=str(tmp_path), tensor_parallel_size=4, mode="ray_data_llm"))
    assert r.resources_gpus == 0.0  # Ray Data LLM reserves the GPUs of its own engine actors
    with pytest.raises(ValueError, match="options.model"):
        VLLMBackend()


def test_sampling_dict_per_request() -> None:
    o = VLLMOptions(model="m", temperature=0.3, top_p=0.9, max_tokens=256)
    d = sampling_dict(_req(3, SCHEMA, max_tokens=400), o)
    assert d["seed"] == 3 and d["max_tokens"] == 256 and d["temperature"] == 0.3 and d["top_p"] == 0.9
    assert json.loads(d["structured_outputs"]["json"]) == SCHEMA
    assert "guided_decoding" not in d
    assert "structured_outputs" not in sampling_dict(_req(1), o)  # never a None Ray would pass on
    off = VLLMOptions(model="m", structured_output=False)
    assert "structured_outputs" not in sampling_dict(_req(1, SCHEMA), off)


def test_request_rows_shape_and_unique_ids() -> None:
    rows = request_rows([_req(1), _req(2, SCHEMA)], VLLMOptions(model="m"))
    assert [r["id"] for r in rows] == ["r1", "r2"]
    assert rows[0]["messages"][1] == {"role": "user", "content": "question 1?"}
    assert set(preprocess_row(rows[1])) == {"messages", "sampling_params"}
    with pytest.raises(ValueError, match="unique"):
        request_rows([_req(1), _req(1)], VLLMOptions(model="m"))


def test_rows_to_responses_reorders_and_maps_errors() -> None:
    reqs = [_req(1), _req(2), _req(3)]
    rows = [
        postprocess_row(
            {"id": "r3", "generated_text": "three", "num_input_tokens": 7, "num_generated_tokens": 2}
        ),
        {"id": "r1", "generated_text": "", "__inference_error__": "ValueError: prompt too long"},
    ]
    out = rows_to_responses(reqs, rows)
    assert [r.id for r in out] == ["r1", "r2", "r3"]
    assert not out[0].ok and "prompt too long" in out[0].error
    assert not out[1].ok and "no output row" in out[1].error
    assert (
        out[2].ok and out[2].text == "three" and out[2].prompt_tokens == 7 and out[2].completion_tokens == 2
    )
    # Ray's rows carry no finish reason: all of max_tokens used means cut off (here capped at 2)
    capped = rows_to_responses(reqs[2:], rows[:1], VLLMOptions(model="m", max_tokens=2))
    assert not capped[0].ok and "hit max_tokens" in capped[0].error and capped[0].text == "three"


def _out(text: str, finish: str = "stop") -> Any:
    comp = types.SimpleNamespace(text=text, token_ids=[1, 2, 3], finish_reason=finish)
    return types.SimpleNamespace(outputs=[comp], prompt_token_ids=[5] * 10)


def test_output_to_response() -> None:
    ok = output_to_response(_req(1), _out("hello"))
    assert ok.ok and ok.text == "hello" and ok.prompt_tokens == 10 and ok.completion_tokens == 3
    cut = output_to_response(_req(1, SCHEMA), _out('{"answer": "to', "length"))
    assert not cut.ok and "JSON object closed" in cut.error and cut.text.startswith("{")
    plain = output_to_response(_req(1), _out("The wall was built over", "length"))
    assert not plain.ok and "answer ended" in plain.error and plain.completion_tokens == 3
    assert not output_to_response(_req(1), types.SimpleNamespace(outputs=[])).ok


@dataclass
class _FakeVLLM:
    """Records the calls our backend makes; answers like vLLM's RequestOutput."""

    llm_kwargs: list[dict] = field(default_factory=list)
    chats: list[tuple] = field(default_factory=list)
    fail_on: str = ""

    def module(self) -> tuple[types.ModuleType, types.ModuleType]:
        fake = self

        class LLM:
            def __init__(self, **kw: Any) -> None:
                fake.llm_kwargs.append(kw)

            def chat(self, messages: list, sampling_params: list, use_tqdm: bool = True) -> list:
                fake.chats.append((messages, sampling_params))
                if any(fake.fail_on and fake.fail_on in m[-1]["content"] for m in messages):
                    raise ValueError("bad prompt")
                return [_out(f"answer to {m[-1]['content']}") for m in messages]

        class SamplingParams:
            def __init__(self, **kw: Any) -> None:
                self.kw = kw

        class StructuredOutputsParams:
            def __init__(self, json: Any = None) -> None:
                self.json = json

        vllm = types.ModuleType("vllm")
        sp = types.ModuleType("vllm.sampling_params")
        vllm.LLM, vllm.SamplingParams, sp.StructuredOutputsParams = (
            LLM,
            SamplingParams,
            StructuredOutputsParams,
        )
        vllm.sampling_params = sp
        return vllm, sp


def test_engine_mode_call_shape(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = _FakeVLLM(fail_on="question 2?")
    vllm, sp = fake.module()
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", sp)
    b = VLLMBackend(VLLMOptions(model=str(tmp_path), tensor_parallel_size=2, seed=7))
    out = b.generate([_req(1, SCHEMA), _req(2), _req(3)])
    assert fake.llm_kwargs == [
        {
            "model": str(tmp_path),
            "tensor_parallel_size": 2,
            "gpu_memory_utilization": 0.9,
            "seed": 7,
            "max_model_len": 4096,
        }
    ]
    convs, params = fake.chats[0]
    assert len(convs) == 3 and len(params) == 3  # one SamplingParams per request
    assert params[0].kw["seed"] == 1 and json.loads(params[0].kw["structured_outputs"].json) == SCHEMA
    assert params[1].kw["structured_outputs"] is None
    # the failing batch was retried request by request: only r2 fails
    assert [r.ok for r in out] == [True, False, True]
    assert out[0].text == "answer to question 1?" and "bad prompt" in out[1].error
    b.generate([_req(4)])
    assert len(fake.llm_kwargs) == 1  # engine built once


def test_engine_mode_fails_fast_without_model_or_vllm(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError, match="no hub downloads"):
        VLLMBackend(VLLMOptions(model=str(tmp_path / "missing"))).generate([_req(1)])
    monkeypatch.setitem(sys.modules, "vllm", None)  # import fails like an absent package
    with pytest.raises(RuntimeError, match="docs/gpu.md"):
        VLLMBackend(VLLMOptions(model=str(tmp_path))).generate([_req(1)])


def test_backend_pickles_without_engine(tmp_path: Path) -> None:
    import pickle

    b = VLLMBackend(VLLMOptions(model=str(tmp_path)))
    b._llm = object()  # an engine never travels into a worker
    c = pickle.loads(pickle.dumps(b))
    assert c._llm is None and c.options == b.options


def test_ray_data_llm_mode_through_real_ray_processor(tmp_path: Path, ray_llm) -> None:
    """Our rows through Ray's own vLLM processor; only the engine is a stand-in.

    Ray's code does everything between our preprocess and our postprocess:
    the Arrow round trip, its chat-template, tokenize and detokenize stages,
    `_prepare_llm_request` (which builds `vllm.SamplingParams(**sampling_params,
    structured_outputs=...)`), and the error rows of `should_continue_on_error`.
    The stand-in `vllm` (tests/backends/fake_vllm) reaches the engine workers
    through the backend's own `runtime_env` option and logs what it was given.
    """
    from transformers import AutoTokenizer

    model = tmp_path / "model"
    tiny_chat_model(model)
    log = tmp_path / "fake_vllm.jsonl"
    opts = VLLMOptions(
        model=str(model),
        mode="ray_data_llm",
        batch_size=8,
        concurrency=2,  # an autoscaling pool of 1..2 engines: one fits the one logical GPU
        temperature=0.2,
        max_tokens=300,
        runtime_env={"env_vars": {"PYTHONPATH": str(FAKE_VLLM), "FAKE_VLLM_LOG": str(log)}},
    )
    reqs = [
        _req(1, SCHEMA),
        _req(2),
        LLMRequest(id="x", kind="qa_answer", messages=({"role": "user", "content": "boom"},), seed=5),
        _req(4, max_tokens=50),
    ]
    backend = VLLMBackend(opts)
    out = backend.generate(reqs)

    config = backend.build_processor().config
    assert type(config).__name__ == "vLLMEngineProcessorConfig" and config.model_source == str(model)
    assert config.should_continue_on_error is True and config.concurrency == 2
    assert config.runtime_env == opts.runtime_env

    assert [r.id for r in out] == ["r1", "r2", "x", "r4"], out
    assert [r.ok for r in out] == [True, True, False, True], out
    assert json.loads(out[0].text) == {"answer": "question 1?"}
    assert out[1].text == "echo: question 2?" and out[3].text == "echo: question 4?"
    assert "RuntimeError: stand-in engine: boom in the prompt" in out[2].error
    tok = AutoTokenizer.from_pretrained(model)
    for r in (out[0], out[1], out[3]):
        assert r.completion_tokens == len(tok.encode(r.text, add_special_tokens=False)) > 0
    prompt_2 = "system: Be brief.\nuser: question 2?\nassistant: "  # Ray's chat-template stage
    assert out[1].prompt_tokens == len(tok(prompt_2)["input_ids"])

    events = [json.loads(line) for line in log.read_text().splitlines()]
    engines = [e for e in events if e["event"] == "engine"]
    assert engines and "RayPrometheusStatLogger" in str(engines[0]["stat_loggers"])  # Ray's default
    assert engines[0]["engine_args"] == {
        **engine_kwargs(opts),
        "model": str(model),
        "runner": "generate",
        "distributed_executor_backend": "uni",
        "enable_log_requests": False,
    }
    gens = {e["prompt"].splitlines()[-2]: e for e in events if e["event"] == "generate"}
    assert set(gens) == {"user: question 1?", "user: question 2?", "user: boom", "user: question 4?"}
    assert all(e["tokenized"] for e in gens.values())  # Ray's tokenize stage ran
    # the exact keyword arguments SamplingParams got, after the Arrow round trip
    base = {"temperature": 0.2, "top_p": 0.95}
    s1 = gens["user: question 1?"]["sampling"]
    assert s1.pop("structured_outputs") == {
        "StructuredOutputsParams": {"json": json.dumps(SCHEMA, sort_keys=True)}
    }
    assert s1 == {**base, "max_tokens": 300, "seed": 1}
    assert gens["user: question 2?"]["sampling"] == {
        **base,
        "max_tokens": 300,
        "seed": 2,
        "structured_outputs": None,
    }
    assert gens["user: question 4?"]["sampling"] == {
        **base,
        "max_tokens": 50,
        "seed": 4,
        "structured_outputs": None,
    }
    assert gens["user: boom"]["sampling"]["seed"] == 5


def _gpu_ready() -> tuple[bool, str]:
    model = os.environ.get("DATAGEN_VLLM_MODEL", "")
    try:
        import torch

        if not torch.cuda.is_available():
            return False, "no CUDA GPU"
        import vllm  # noqa: F401
    except ImportError as e:
        return False, f"vllm not importable: {e}"
    if not model or not Path(model).exists():
        return False, "set DATAGEN_VLLM_MODEL to a local chat model folder"
    return True, ""


@pytest.mark.gpu
def test_real_vllm_engine_json() -> None:
    ready, why = _gpu_ready()
    if not ready:
        pytest.skip(why)
    b = VLLMBackend(VLLMOptions(model=os.environ["DATAGEN_VLLM_MODEL"], max_model_len=2048, temperature=0.0))
    out = b.generate([_req(1, SCHEMA, max_tokens=64), _req(2, max_tokens=32)])
    assert all(r.ok for r in out), out
    assert "answer" in json.loads(out[0].text)


@pytest.mark.gpu
def test_real_vllm_through_ray_data_llm(tmp_path: Path) -> None:
    """The same requests through Ray Data LLM's real engine stage and a real vLLM."""
    ready, why = _gpu_ready()
    if not ready:
        pytest.skip(why)
    import ray

    if not ray.is_initialized():
        ray.init(include_dashboard=False, _temp_dir=str(tmp_path / "ray"))
    opts = VLLMOptions(
        model=os.environ["DATAGEN_VLLM_MODEL"], mode="ray_data_llm", max_model_len=2048, temperature=0.0
    )
    out = VLLMBackend(opts).generate([_req(1, SCHEMA, max_tokens=64), _req(2, max_tokens=32)])
    assert [r.id for r in out] == ["r1", "r2"]
    assert out[0].ok, out[0]
    assert "answer" in json.loads(out[0].text) and out[0].completion_tokens > 0
