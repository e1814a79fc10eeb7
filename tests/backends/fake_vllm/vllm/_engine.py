"""`AsyncEngineArgs` and `AsyncLLMEngine`: a deterministic engine that runs on CPU in microseconds."""

from __future__ import annotations

import asyncio
import json
import os
import types
from collections.abc import AsyncIterator
from typing import Any

from vllm.outputs import CompletionOutput, RequestOutput
from vllm.sampling_params import SamplingParams

# real vLLM EngineArgs fields (a subset): anything else is a TypeError, as with the dataclass
ENGINE_ARGS = {
    "model",
    "tokenizer",
    "runner",
    "convert",
    "task",
    "tensor_parallel_size",
    "pipeline_parallel_size",
    "data_parallel_size",
    "distributed_executor_backend",
    "gpu_memory_utilization",
    "max_model_len",
    "max_num_seqs",
    "max_num_batched_tokens",
    "seed",
    "dtype",
    "trust_remote_code",
    "load_format",
    "quantization",
    "enforce_eager",
    "enable_prefix_caching",
    "enable_chunked_prefill",
    "enable_log_requests",
    "disable_log_stats",
    "kv_cache_dtype",
}


def log(event: str, **data: Any) -> None:
    """Append one JSON line to $FAKE_VLLM_LOG (the test reads it back)."""
    path = os.environ.get("FAKE_VLLM_LOG")
    if not path:
        return
    line = json.dumps({"event": event, "pid": os.getpid(), **data}, default=_plain, sort_keys=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def _plain(o: Any) -> Any:
    if hasattr(o, "item"):  # numpy scalars
        return {"numpy": type(o).__name__, "value": o.item()}
    if hasattr(o, "kw"):  # StructuredOutputsParams
        return {"StructuredOutputsParams": o.kw}
    return repr(o)


class AsyncEngineArgs:
    def __init__(self, **kw: Any) -> None:
        unknown = set(kw) - ENGINE_ARGS
        if unknown:
            raise TypeError(f"AsyncEngineArgs got unexpected keyword arguments {sorted(unknown)}")
        if "model" not in kw:
            raise TypeError("AsyncEngineArgs needs model")
        self.kwargs = dict(kw)
        self.model = kw["model"]

    def create_engine_config(self) -> Any:
        ns = types.SimpleNamespace
        return ns(
            scheduler_config=ns(max_num_seqs=self.kwargs.get("max_num_seqs", 256)),
            parallel_config=ns(pipeline_parallel_size=self.kwargs.get("pipeline_parallel_size", 1)),
        )


class AsyncLLMEngine:
    def __init__(self, args: AsyncEngineArgs) -> None:
        from transformers import AutoTokenizer

        self.args = args
        self.tokenizer = AutoTokenizer.from_pretrained(args.model)

    @classmethod
    def from_engine_args(cls, args: AsyncEngineArgs, stat_loggers: Any = None) -> AsyncLLMEngine:
        log("engine", engine_args=args.kwargs, stat_loggers=stat_loggers)
        return cls(args)

    async def generate(
        self, request_id: str, prompt: dict[str, Any], sampling_params: Any, lora_request: Any = None
    ) -> AsyncIterator[RequestOutput]:
        if not isinstance(sampling_params, SamplingParams):
            raise TypeError(f"sampling_params must be SamplingParams, not {type(sampling_params).__name__}")
        ids = prompt.get("prompt_token_ids")
        text = self.tokenizer.decode(ids) if ids is not None else prompt["prompt"]
        if ids is None:
            ids = self.tokenizer.encode(text, add_special_tokens=False)
        log(
            "generate",
            request_id=request_id,
            prompt=text,
            tokenized=prompt.get("prompt_token_ids") is not None,
            sampling=sampling_params.kwargs,
        )
        await asyncio.sleep(0)
        if "boom" in text:
            raise RuntimeError("stand-in engine: boom in the prompt")
        user = [line[len("user: ") :] for line in text.splitlines() if line.startswith("user: ")][-1]
        so = sampling_params.structured_outputs
        answer = json.dumps({"answer": user}) if so is not None else f"echo: {user}"
        out_ids = self.tokenizer.encode(answer, add_special_tokens=False)
        finish = "stop"
        if sampling_params.max_tokens is not None and len(out_ids) > sampling_params.max_tokens:
            out_ids, finish = out_ids[: sampling_params.max_tokens], "length"
        comp = CompletionOutput(0, self.tokenizer.decode(out_ids), out_ids, finish)
        yield RequestOutput(request_id, text, list(ids), [comp], finished=False)
        yield RequestOutput(request_id, text, list(ids), [comp], finished=True)

    async def do_log_stats(self) -> None:
        pass

    def shutdown(self) -> None:
        pass
