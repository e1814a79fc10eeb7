import pytest
import torch
from train_support import tiny_cfg

pytest.importorskip("transformers", reason="the trainer needs the `train` extra")


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


@pytest.fixture
def cfg(local_corpus, tmp_path):
    return tiny_cfg(local_corpus, tmp_path / "run")
