"""Same recipe + seed => same bytes for the trainer on several CPU threads: the backward of
indexing a parameter by a tensor (the turn-state embedding) must not depend on which
thread finishes first."""

import pytest
import torch
from train_support import tiny_cfg

from datagen.train.training.loop import train_sft
from datagen.train.training.runtime import deterministic_on_cpu, torch_threads


@pytest.fixture(autouse=True)
def _flag_put_back():
    before = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(before)


def _state_grads(n: int = 8) -> list[torch.Tensor]:
    """The turn-state embedding's use in the model (`state_emb[speaking]` added to the
    audio), at the tiny CPU recipe's shapes: its gradient, n times."""
    g = torch.Generator().manual_seed(0)
    speaking = torch.randint(0, 2, (6, 2400), generator=g)
    upstream = torch.randn(6, 2400, 4, 192, generator=g)
    out = []
    for _ in range(n):
        emb = torch.nn.Parameter(torch.randn(2, 192, generator=torch.Generator().manual_seed(1)))
        (emb[speaking][:, :, None] * upstream).sum().backward()
        out.append(emb.grad)
    return out


def test_the_state_embeddings_gradient_is_the_same_every_time_on_two_threads():
    with torch_threads(2):
        torch.use_deterministic_algorithms(False)
        free = _state_grads()
        deterministic_on_cpu(torch.device("cpu"))
        fixed = _state_grads()
    assert all(torch.equal(fixed[0], x) for x in fixed)
    if all(torch.equal(free[0], x) for x in free):
        pytest.skip("this machine's threads happened to agree without the deterministic path")


def test_training_turns_the_deterministic_path_on(local_corpus, tmp_path):
    torch.use_deterministic_algorithms(False)
    train_sft(tiny_cfg(local_corpus, tmp_path / "run", optim={"max_steps": 1}), resume=False, progress=False)
    assert torch.are_deterministic_algorithms_enabled()
