"""vLLM >= 0.19 keeps the prompt types in `vllm.inputs.llm` only, as here."""
