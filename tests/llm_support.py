"""For tests that run the real Ray Data LLM processor: a stand-in vLLM and a tiny chat model.

`FAKE_VLLM` is the stand-in `vllm` package (tests/backends/fake_vllm/README.md):
it reaches Ray's engine workers through the backend's `runtime_env`, never
this process. `tiny_chat_model` writes a real Hugging Face tokenizer folder
with a chat template, all Ray's chat-template and tokenize stages need.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FAKE_VLLM = Path(__file__).parent / "backends" / "fake_vllm"  # the stand-in `vllm` (engine workers only)


def chat_tokenizer(texts, vocab_size: int):
    """A real Hugging Face fast tokenizer (byte-level BPE trained on `texts`: lossless on
    any text) with a plain `role: content` chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="</s>"
    )
    fast.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant: {% endif %}"
    )
    return fast


def tiny_chat_model(folder: Path) -> None:
    """A tokenizer folder with a chat template and a config; no weights (a stand-in engine)."""
    fast = chat_tokenizer(["system: Be brief.\nuser: question answer echo\nassistant: "], 300)
    fast.save_pretrained(folder)
    config = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": len(fast)}
    (folder / "config.json").write_text(json.dumps(config))


@pytest.fixture(scope="module")
def ray_llm(tmp_path_factory: pytest.TempPathFactory):
    """Ray Data LLM with a logical GPU: the engine stage reserves one per replica.

    The stand-in engine never touches CUDA, so declaring the resource is all
    Ray needs to schedule it on this CPU-only machine. Logical CPUs are
    declared too: the chat-template, tokenize, engine and detokenize actors
    hold one each for the whole run, and the preprocess/postprocess tasks
    need more (with fewer, the pipeline waits forever on the resource
    budget). They are bookkeeping only; the work itself is tiny.
    """
    pytest.importorskip("ray.data.llm", reason="needs ray[llm] (ray.data.llm)")
    import ray

    res = ray.cluster_resources() if ray.is_initialized() else {}
    if res.get("GPU", 0) >= 1 and res.get("CPU", 0) >= 6:
        yield ray  # a cluster that fits is already up: leave it to its owner
        return
    if ray.is_initialized():  # another module's cluster: too small, or no GPU resource
        ray.shutdown()
    ray.init(num_cpus=6, num_gpus=1, include_dashboard=False, _temp_dir=str(tmp_path_factory.mktemp("ray")))
    yield ray
    ray.shutdown()
