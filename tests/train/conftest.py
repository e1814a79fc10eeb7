import pytest
import torch
from train_support import tiny_cfg

from datagen.train.training.runtime import torch_threads

pytest.importorskip("transformers", reason="the trainer needs the `train` extra")


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _threads_put_back():
    """A training run sets torch's threads for its process (`threads` in tiny_cfg); a test
    that trains must not leave them set for the next one (2 threads on a busy 2-core box
    made one streaming test 541 s instead of seconds)."""
    with torch_threads(None):
        yield


@pytest.fixture
def cfg(local_corpus, tmp_path):
    return tiny_cfg(local_corpus, tmp_path / "run")
