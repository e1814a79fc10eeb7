"""A stand-in for the parts of vLLM that Ray Data LLM's engine stage uses (tests only).

The engine answers deterministically: it reads the last user turn out of
the prompt (decoding the token ids Ray's tokenize stage produced), echoes
it, or writes `{"answer": ...}` when structured (JSON) output was asked
for, and fails any prompt containing "boom".
"""

from vllm import inputs, outputs, sampling_params
from vllm._engine import AsyncEngineArgs, AsyncLLMEngine
from vllm.sampling_params import SamplingParams

__version__ = "0.0.0+fake"
__all__ = ["AsyncEngineArgs", "AsyncLLMEngine", "SamplingParams", "inputs", "outputs", "sampling_params"]
