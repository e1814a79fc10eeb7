"""vLLM: offline batched generation on local GPUs, in-process or via Ray Data LLM.

Two modes, because the two ways of scaling want different shapes:

* `engine` (default): one `vllm.LLM` per worker, built lazily on the first
  `generate`, fed whole batches through `llm.chat` with one `SamplingParams`
  per request (each request keeps its own seed and JSON schema). The stage
  running it should be an actor holding `resources_gpus` GPUs
  (= `tensor_parallel_size`).
* `ray_data_llm`: Ray Data LLM (`ray.data.llm`) owns the engines: it
  schedules `concurrency` replicas of `tensor_parallel_size` GPUs each,
  batches rows and runs them in its own `runtime_env` (vLLM pins torch and
  transformers versions that clash with ours). The calling stage then needs
  no GPU itself (`resources_gpus` = 0); the Ray executor can also plug
  `build_processor()` straight into its dataset.

JSON output uses vLLM's `structured_outputs=StructuredOutputsParams(json=...)`
(the older `guided_decoding` was removed in vLLM 0.12). Models load from a
local path only: no hub download ever happens from here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from datagen.backends.llm.base import BackendOptions, LLMBackend, LLMRequest, LLMResponse


class VLLMOptions(BackendOptions):
    model: str  # local model folder (e.g. /data/models/Meta-Llama-3-8B-Instruct)
    tensor_parallel_size: int = Field(1, ge=1)
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    max_model_len: int | None = Field(4096, ge=256)
    temperature: float = Field(0.7, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)  # caps each request's own max_tokens
    structured_output: bool = True  # honour LLMRequest.json_schema
    mode: Literal["engine", "ray_data_llm"] = "engine"
    batch_size: int = Field(64, ge=1)  # ray_data_llm: rows per engine call
    concurrency: int = Field(1, ge=1)  # ray_data_llm: engine replicas (each tensor_parallel_size GPUs)
    runtime_env: dict[str, Any] | None = None  # ray_data_llm: env of the engine workers
    seed: int = 0  # engine seed; each request also carries its own sampling seed
    engine_kwargs: dict[str, Any] = {}  # extra vLLM engine arguments (enable_prefix_caching, ...)

    @model_validator(mode="after")
    def _engine_kwargs(self) -> VLLMOptions:
        clash = {"model", "tensor_parallel_size", "gpu_memory_utilization", "max_model_len"} & set(
            self.engine_kwargs
        )
        if clash:
            raise ValueError(f"set {sorted(clash)} as options, not inside engine_kwargs")
        return self


def engine_kwargs(opts: VLLMOptions) -> dict[str, Any]:
    """Arguments for `vllm.LLM(...)` / Ray Data LLM's `engine_kwargs`."""
    kw: dict[str, Any] = {
        "tensor_parallel_size": opts.tensor_parallel_size,
        "gpu_memory_utilization": opts.gpu_memory_utilization,
        "seed": opts.seed,
        **opts.engine_kwargs,
    }
    if opts.max_model_len is not None:
        kw["max_model_len"] = opts.max_model_len
    return kw


def sampling_dict(req: LLMRequest, opts: VLLMOptions) -> dict[str, Any]:
    """Plain-dict sampling parameters for one request.

    The same dict feeds `vllm.SamplingParams(**d)` (engine mode, after
    turning `structured_outputs` into `StructuredOutputsParams`) and Ray
    Data LLM's `sampling_params` column, which does that conversion itself.
    The schema travels as a JSON string: Arrow would otherwise turn each
    schema into a struct type and fail to stack rows with different schemas.
    `structured_outputs` is left out when a request has no schema. Ray 2.60's
    engine stage pops the key and reads a null as "none", but an engine stage
    that passes the rest on as `SamplingParams(**rest, structured_outputs=...)`
    without popping it fails every request, so the row never carries a
    None-valued parameter. (Rows with and without it stack in Arrow: the
    missing field reads back as null.)
    """
    max_tokens = req.max_tokens if opts.max_tokens is None else min(req.max_tokens, opts.max_tokens)
    d: dict[str, Any] = {
        "temperature": opts.temperature,
        "top_p": opts.top_p,
        "max_tokens": max_tokens,
        "seed": req.seed,
    }
    if opts.structured_output and req.json_schema is not None:
        d["structured_outputs"] = {"json": json.dumps(req.json_schema, sort_keys=True)}
    return d


def request_rows(requests: list[LLMRequest], opts: VLLMOptions) -> list[dict[str, Any]]:
    """Rows for Ray Data LLM: the preprocess output, computed up front.

    Each row is already `{"id", "messages", "sampling_params"}`, so the
    processor's preprocess only selects columns and the row format is
    testable without Ray or vLLM.
    """
    ids = [r.id for r in requests]
    if len(set(ids)) != len(ids):
        raise ValueError("request ids must be unique within a generate() call")
    return [
        {
            "id": r.id,
            "messages": [{"role": m["role"], "content": m["content"]} for m in r.messages],
            "sampling_params": sampling_dict(r, opts),
        }
        for r in requests
    ]


def preprocess_row(row: dict[str, Any]) -> dict[str, Any]:
    """Ray Data LLM preprocess: pass the prepared columns through."""
    return {"messages": row["messages"], "sampling_params": row["sampling_params"]}


def postprocess_row(row: dict[str, Any]) -> dict[str, Any]:
    """Ray Data LLM postprocess: keep our id, the text and the token counts.

    It returns every column (`**row`) because with `should_continue_on_error`
    Ray Data LLM passes error rows through whole (its `__data` dict, prompt
    included), bypassing postprocess; success rows then carry the same
    columns. (Ray 2.60's block builder would also fill missing columns with
    nulls; the same columns keep this independent of that.)
    """
    return {
        **row,
        "id": row["id"],
        "generated_text": row.get("generated_text") or "",
        "num_input_tokens": int(row.get("num_input_tokens") or 0),
        "num_generated_tokens": int(row.get("num_generated_tokens") or 0),
        "__inference_error__": "",
    }


def rows_to_responses(
    requests: list[LLMRequest], rows: list[dict[str, Any]], opts: VLLMOptions | None = None
) -> list[LLMResponse]:
    """Order processor output rows back to request order; gaps and errors become ok=False.

    Ray 2.60's output rows carry no finish reason, so an answer is taken as cut off
    by max_tokens when it used all of them (the same rule as `output_to_response`)."""
    by_id = {str(r.get("id")): r for r in rows}
    out = []
    for req in requests:
        row = by_id.get(req.id)
        if row is None:
            out.append(LLMResponse(id=req.id, text="", ok=False, error="vllm: no output row for request"))
        elif row.get("__inference_error__"):
            out.append(LLMResponse(id=req.id, text="", ok=False, error=f"vllm: {row['__inference_error__']}"))
        else:
            text = row.get("generated_text") or ""
            p, c = int(row.get("num_input_tokens") or 0), int(row.get("num_generated_tokens") or 0)
            limit = sampling_dict(req, opts)["max_tokens"] if opts is not None else req.max_tokens
            if c >= limit:
                out.append(cut_short(req, text, p, c))
            else:
                out.append(LLMResponse(id=req.id, text=text, prompt_tokens=p, completion_tokens=c))
    return out


def cut_short(req: LLMRequest, text: str, prompt_tokens: int, completion_tokens: int) -> LLMResponse:
    """An answer that hit max_tokens: a failure, the text kept. A cut-off JSON object cannot
    parse, and a cut-off spoken answer would stop mid-sentence (openai_http does the same)."""
    what = "the JSON object closed" if req.json_schema is not None else "the answer ended"
    return LLMResponse(
        id=req.id,
        text=text,
        ok=False,
        error=f"vllm: hit max_tokens before {what}",
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
    )


def output_to_response(req: LLMRequest, output: Any) -> LLMResponse:
    """One `vllm.RequestOutput` to an LLMResponse (engine mode)."""
    if output is None or not getattr(output, "outputs", None):
        return LLMResponse(id=req.id, text="", ok=False, error="vllm: empty output")
    first = output.outputs[0]
    finish = getattr(first, "finish_reason", None)
    text = first.text or ""
    prompt_tokens = len(getattr(output, "prompt_token_ids", None) or [])
    completion_tokens = len(getattr(first, "token_ids", None) or [])
    if finish == "length":
        return cut_short(req, text, prompt_tokens, completion_tokens)
    return LLMResponse(id=req.id, text=text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)


def _import(module: str, attr: str | None = None) -> Any:
    """Import a heavy optional dependency, or say how to get it."""
    import importlib

    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise RuntimeError(
            f"the vllm backend needs {module!r} ({e}); install the `vllm` extra in its own "
            "environment (vllm pins its own torch): see docs/gpu.md"
        ) from e
    return getattr(mod, attr) if attr else mod


class VLLMBackend(LLMBackend):
    """Llama-3-8B-Instruct (or any local chat model) through vLLM.

    The Ray executor should size this stage from the instance property
    `resources_gpus`, not the class attribute `num_gpus` (which only states
    the default of one GPU): engine mode needs `tensor_parallel_size` GPUs
    in the actor, ray_data_llm mode none (Ray Data LLM reserves
    `concurrency x tensor_parallel_size` GPUs for its own engine actors).
    """

    name = "vllm"
    extra = "vllm"
    Options = VLLMOptions
    num_gpus = 1.0

    def __init__(self, options: VLLMOptions | None = None):
        if options is None:
            raise ValueError("the vllm backend needs options.model (a local model folder)")
        super().__init__(options)
        self._llm: Any = None
        self._processor: Any = None

    @property
    def resources_gpus(self) -> float:
        o = self.options
        return 0.0 if o.mode == "ray_data_llm" else float(o.tensor_parallel_size)

    def __getstate__(self) -> dict[str, Any]:
        # ship options only: an engine or processor never pickles into a worker
        return {"options": self.options, "_llm": None, "_processor": None}

    def preflight(self) -> None:
        self._check_model()

    def _check_model(self) -> None:
        if not Path(self.options.model).exists():
            raise FileNotFoundError(
                f"vllm: model folder {self.options.model!r} does not exist; "
                "point llm.options.model at a local copy (no hub downloads here)"
            )

    def generate(self, requests: list[LLMRequest]) -> list[LLMResponse]:
        if not requests:
            return []
        if self.options.mode == "ray_data_llm":
            return self._generate_ray(requests)
        return self._generate_engine(requests)

    # -- engine mode -------------------------------------------------------

    def _engine(self) -> Any:
        if self._llm is None:
            self._check_model()
            LLM = _import("vllm", "LLM")
            self._llm = LLM(model=self.options.model, **engine_kwargs(self.options))
        return self._llm

    def _sampling_params(self, req: LLMRequest) -> Any:
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        d = sampling_dict(req, self.options)
        so = d.pop("structured_outputs", None)
        return SamplingParams(**d, structured_outputs=StructuredOutputsParams(**so) if so else None)

    def _generate_engine(self, requests: list[LLMRequest]) -> list[LLMResponse]:
        llm = self._engine()
        convs = [[dict(m) for m in r.messages] for r in requests]
        params = [self._sampling_params(r) for r in requests]
        try:
            outputs = llm.chat(convs, params, use_tqdm=False)
        except Exception as e:  # a bad batch: retry one by one to isolate it
            if len(requests) == 1:
                return [
                    LLMResponse(id=requests[0].id, text="", ok=False, error=f"vllm: {type(e).__name__}: {e}")
                ]
            return [r for req in requests for r in self._generate_engine([req])]
        if len(outputs) != len(requests):
            return [
                LLMResponse(id=r.id, text="", ok=False, error="vllm: output count mismatch") for r in requests
            ]
        return [output_to_response(r, o) for r, o in zip(requests, outputs, strict=True)]

    # -- Ray Data LLM mode -------------------------------------------------

    def processor_config(self) -> Any:
        config_cls = _import("ray.data.llm", "vLLMEngineProcessorConfig")
        o = self.options
        return config_cls(
            model_source=o.model,
            engine_kwargs=engine_kwargs(o),
            batch_size=o.batch_size,
            concurrency=o.concurrency,
            runtime_env=o.runtime_env,
            should_continue_on_error=True,  # one bad row must not fail the whole dataset
        )

    def build_processor(self) -> Any:
        """The Ray Data LLM processor; apply it to a dataset of `request_rows`."""
        if self._processor is None:
            self._check_model()
            rdl = _import("ray.data.llm")
            build = getattr(rdl, "build_llm_processor", None) or rdl.build_processor
            self._processor = build(
                self.processor_config(), preprocess=preprocess_row, postprocess=postprocess_row
            )
        return self._processor

    def _generate_ray(self, requests: list[LLMRequest]) -> list[LLMResponse]:
        import ray

        rows = request_rows(requests, self.options)
        try:
            out = self.build_processor()(ray.data.from_items(rows)).take_all()
        except Exception as e:  # the whole job failed: every request says why
            err = f"vllm(ray_data_llm): {type(e).__name__}: {e}"
            return [LLMResponse(id=r.id, text="", ok=False, error=err) for r in requests]
        return rows_to_responses(requests, out, self.options)
