"""The local executor's stage pipeline: same results as running shards one by
one, stages overlapping across shards, a stage's error reaching the caller."""

import threading
import time

import pytest

from datagen.executors import local
from datagen.executors.shards import ShardState, run_stages
from datagen.stages.base import Stage, StageOutput


class Step(Stage):
    """Appends its tag to every item; records which shard it worked on when."""

    def __init__(self, tag: str, log: list, delay: float = 0.0, fail_on: int | None = None):
        self.name, self.tag, self.log, self.delay, self.fail_on = tag, tag, log, delay, fail_on

    def process(self, batch):
        self.log.append((self.tag, "start", batch[0].split("/")[0], threading.current_thread().name))
        if self.fail_on is not None and batch[0].startswith(f"s{self.fail_on}"):
            raise RuntimeError(f"{self.tag} broke")
        time.sleep(self.delay)
        out = StageOutput(items=[f"{x}/{self.tag}" for x in batch])
        out.counters[f"n_{self.tag}"] += len(batch)
        self.log.append((self.tag, "end", batch[0].split("/")[0], threading.current_thread().name))
        return out


def shards(n: int) -> list[ShardState]:
    return [ShardState(k, [f"s{k}", f"s{k}b"]) for k in range(n)]


@pytest.fixture
def committed(monkeypatch):
    got = []

    def fake_commit(paths, state):
        got.append((state.index, list(state.items)))
        return {k: v for k, v in state.counters.items() if not k.startswith("seconds_")}

    monkeypatch.setattr(local, "commit_shard", fake_commit)
    return got


def test_pipeline_gives_what_running_shards_in_turn_gives(committed):
    log: list = []
    stages = [Step("a", log), Step("b", log), Step("c", log)]
    out = list(local._pipelined(stages, None, shards(5)))
    expected = [run_stages(stages, s) for s in shards(5)]
    assert [i for i, _ in out] == [0, 1, 2, 3, 4]
    assert committed == [(s.index, s.items) for s in expected]
    assert all(c == {"n_a": 2, "n_b": 2, "n_c": 2} for _, c in out)


def test_stages_overlap_across_shards(committed):
    log: list = []
    stages = [Step("a", log, delay=0.05), Step("b", log, delay=0.05)]
    list(local._pipelined(stages, None, shards(4)))
    # Stage a starts shard 1 before stage b has finished shard 0 ...
    assert log.index(("a", "start", "s1", "stage-a")) < log.index(("b", "end", "s0", "stage-b"))
    # ... and each stage runs in one thread of its own, shards in order.
    for tag in "ab":
        mine = [e for e in log if e[0] == tag and e[1] == "start"]
        assert [e[2] for e in mine] == ["s0", "s1", "s2", "s3"] and {e[3] for e in mine} == {f"stage-{tag}"}


def test_a_stage_error_reaches_the_caller_and_stops_the_threads(committed):
    log: list = []
    stages = [Step("a", log), Step("b", log, fail_on=2), Step("c", log)]
    before = threading.active_count()
    got = []
    with pytest.raises(RuntimeError, match="b broke"):
        for index, _ in local._pipelined(stages, None, shards(6)):
            got.append(index)
    assert got == [0, 1]  # the shards before the broken one were committed
    assert threading.active_count() == before


def test_abandoning_the_iterator_stops_the_threads(committed):
    before = threading.active_count()
    it = local._pipelined([Step("a", []), Step("b", [])], None, shards(6))
    assert next(it)[0] == 0
    it.close()
    assert threading.active_count() == before
