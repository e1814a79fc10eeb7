"""A Ray run whose LLM is Ray Data LLM: the text phase on the driver, one Ray Data job per round.

Ray's real processor, our real pipeline, a stand-in engine (tests/backends/fake_vllm)
that logs every engine it builds and every request it answers."""

from __future__ import annotations

import json
from pathlib import Path

from e2e_support import small_recipe
from llm_support import FAKE_VLLM, tiny_chat_model

from datagen.executors.runner import run
from datagen.executors.sizing import stage_groups


def _recipe(model: Path, log: Path, *extra: str):
    env = {"env_vars": {"PYTHONPATH": str(FAKE_VLLM), "FAKE_VLLM_LOG": str(log)}}
    opts = {"model": str(model), "mode": "ray_data_llm", "batch_size": 4, "runtime_env": env}
    return small_recipe(
        "dialogues=6",
        "executor.shard_size=2",
        "mix={qa: 1}",
        "llm.backend=vllm",
        f"llm.options={json.dumps(opts)}",
        *extra,
    )


def _events(log: Path, kind: str) -> list[dict]:
    if not log.exists():
        return []
    return [e for e in map(json.loads, log.read_text().splitlines()) if e["event"] == kind]


def test_text_phase_is_one_ray_data_job_per_round_and_a_resume_does_not_ask_again(tmp_path, ray_llm):
    """The text of every shard in one Ray Data LLM job (qa: one round), one engine for the
    run; killed after that phase, the rerun voices the shards from the kept text."""
    from datagen.executors.llm_phase import text_phase
    from datagen.executors.runner import prepare
    from datagen.executors.shards import RunPaths, cut_shards

    model, log = tmp_path / "model", tmp_path / "fake_vllm.jsonl"
    tiny_chat_model(model)
    # One try per request: the stand-in echoes a few words, which the parser refuses as too
    # short, and every retry round is one more Ray Data job (with its own engines).
    recipe = _recipe(model, log, "llm.attempts=1")
    assert [lo for lo, *_ in stage_groups(recipe)] == [1]  # no actor pool for the text stage
    paths = RunPaths(tmp_path / "o")
    plans, _ = prepare(recipe, paths)
    shards = cut_shards(plans, recipe.executor.shard_size)
    first = text_phase(recipe, paths, shards, quiet=True)  # as if killed right after it
    assert len(_events(log, "engine")) == 1  # one engine for 3 shards, not one per shard
    assert len(_events(log, "generate")) == 6
    assert len(list((paths.work / "text").glob("*.pkl"))) == 3
    assert sum(len(s.items) + len(s.rejects) for s in first) == 6  # every dialogue accounted for

    stats = run(recipe, out=str(paths.out), executor="ray", quiet=True)
    assert len(_events(log, "generate")) == 6  # nothing asked again: the text came from _work/text
    assert stats["shards"] == 3 and stats["kept"] + stats["rejected"] == 6
    assert stats["counters"]["llm_requests"] == 6 and stats["kept"] == sum(len(s.items) for s in first)
    assert not (paths.work / "text").exists()  # dropped once every shard is committed
