"""A local Hugging Face backbone with LoRA: the Llama-3-8B path, in miniature on the CPU."""

import pytest
import torch
from hf_support import tiny_hf_backbone
from train_support import tiny_cfg

from datagen.train.training import checkpoint as ckpt
from datagen.train.training.data import DuplexDataset, make_sampler, split_cuts
from datagen.train.training.loop import Run, train_sft
from datagen.train.training.runtime import Dist


@pytest.fixture(scope="module")
def hf_corpus(tmp_path_factory):
    """A small corpus labelled with the backbone's own tokenizer."""
    from e2e_support import small_recipe

    from datagen.executors.runner import run

    root = tmp_path_factory.mktemp("lora")
    folder = tiny_hf_backbone(root / "backbone")
    out = root / "corpus"
    run(small_recipe(f"labels.tokenizer={folder}", "dialogues=6"), out=str(out), executor="local", quiet=True)
    return folder, out


def test_lora_trains_adapters_special_rows_and_the_encoder_only(hf_corpus, tmp_path):
    folder, corpus = hf_corpus
    cfg = tiny_cfg(
        corpus,
        tmp_path / "run",
        backbone={"path": str(folder)},
        lora={"r": 4, "alpha": 8},
        optim={"max_steps": 3},
        grad_checkpointing=True,
    )
    run = Run(cfg, Dist(), torch.device("cpu"))
    trainable = {n for n, p in run.model.named_parameters() if p.requires_grad}
    assert any("lora_" in n for n in trainable) and any("trainable_tokens" in n for n in trainable)
    assert not any(n.endswith("q_proj.base_layer.weight") for n in trainable)
    assert {n.split(".")[0] for n in trainable} == {
        "backbone",
        "encoder",
        "connector",
        "stream_emb",
        "state_emb",
    }
    base_before = {n: p.detach().clone() for n, p in run.model.named_parameters() if "base_layer" in n}

    train_sft(cfg, resume=False, progress=False)
    saved = torch.load(ckpt.latest(cfg.out) / "model.pt", weights_only=True)
    assert not any("base_layer" in k for k in saved)  # the frozen backbone is not copied into checkpoints
    model, _, vocab, _, _ = ckpt.load_model(cfg.out, torch.device("cpu"))
    for n, p in model.named_parameters():
        if n in base_before:
            assert torch.equal(p, base_before[n])  # the local backbone's weights never moved

    train, _ = split_cuts(cfg.data, 0)
    batch = DuplexDataset(run.batcher)[next(iter(make_sampler(train, cfg.data, 0, shuffle=False)))]
    with torch.no_grad():
        tuned = model.logits(batch["env"], batch["asst"], batch["tokens"])
        again = model.logits(batch["env"], batch["asst"], batch["tokens"])
        with model.backbone.disable_adapter():  # the DPO reference: same weights, adapter off
            ref = model.logits(batch["env"], batch["asst"], batch["tokens"])
    assert torch.equal(tuned, again) and not torch.allclose(tuned, ref)
    assert (ckpt.latest(cfg.out) / "tokenizer" / "tokenizer_config.json").is_file()
    assert vocab.think == run.vocab.think
