"""`datagen train errors --workers N`: the batches decoded by N processes side by side give
the log one process gives, line for line."""

import pytest
from train_support import tiny_cfg

from datagen.train.streaming.batches import Job, plan
from datagen.train.streaming.errors import run_errors
from datagen.train.training.loop import train_sft


@pytest.fixture(scope="module")
def sft(local_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("errors-workers") / "sft"
    train_sft(tiny_cfg(local_corpus, out, optim={"max_steps": 2}), resume=False, progress=False)
    return out


def test_the_plan_names_every_batch_once_in_order(local_corpus):
    jobs = list(plan([str(local_corpus), str(local_corpus)], 2))  # 12 cuts: groups of 8 and 4
    one = [(0, b) for b in range(4)] + [(1, b) for b in range(2)]
    assert [(j.group, j.batch) for j in jobs] == one + one
    assert jobs[0] == Job(str(local_corpus), 0, 0)


def test_two_workers_write_the_log_one_process_writes(sft, local_corpus, tmp_path):
    logs = {}
    for workers in (1, 2):
        logs[workers] = tmp_path / f"w{workers}.jsonl"
        res = run_errors(
            sft, [str(local_corpus)], logs[workers], batch_size=2, progress=False, workers=workers
        )
        assert res["dialogues"] == 12
    assert logs[2].read_bytes() == logs[1].read_bytes()
