"""Sizing Ray actor pools for a cluster: the layout `--dry-run --cluster` prints is the
one the Ray executor uses."""

from __future__ import annotations

import pytest
from e2e_support import ROOT
from typer.testing import CliRunner

from datagen.cli import app
from datagen.config import RecipeError, load_recipe
from datagen.executors.runner import fingerprint
from datagen.executors.sizing import Cluster, parse_cluster, plan_layout, pool_sizes, stage_groups

OMNI = ROOT / "recipes" / "salmonn_omni.yaml"


def test_cluster_shapes_parse_and_bad_ones_say_how():
    assert parse_cluster("4x8gpu") == Cluster(4, 8, 96)
    assert parse_cluster("2x8gpu:128cpu") == Cluster(2, 8, 128)
    assert parse_cluster("1x0gpu:2cpu").gpus == 0
    for bad in ("8gpu", "0x8gpu", "4x8", "4x8gpu:cpu"):
        with pytest.raises(RecipeError, match="NODESxGPUSgpu"):
            parse_cluster(bad)


def test_every_gpu_is_used_and_the_bottleneck_got_the_spare_ones():
    layout = plan_layout(load_recipe(OMNI), Cluster(4, 8, 96))
    gpu = [p for p in layout.pools if p.gpus_per_actor > 0]
    assert [p.stages for p in gpu] == ["text", "speech"]  # one LLM pool with its own GPU actors
    text, speech = gpu
    assert speech.per_gpu == 4 and speech.actors == 4 * speech.gpus  # CosyVoice2 packed 4 per GPU
    assert sum(p.gpus for p in gpu) == 32
    # max-min: taking one GPU from the faster pool and giving it to the slower would not help
    slow, fast = sorted(gpu, key=lambda p: p.dialogues_per_hour)
    if fast.gpus > fast.unit_gpus:
        fast_after = (fast.actors - fast.unit_actors) * 3600 / fast.seconds_per_dialogue
        assert fast_after <= slow.dialogues_per_hour * (1 + slow.unit_gpus / slow.gpus) + 1e-6
    cpu = [p for p in layout.pools if p.gpus_per_actor == 0]
    assert sum(p.actors for p in cpu) == 384 - text.actors - speech.actors  # one CPU per GPU actor
    assert layout.bottleneck.stages in {"text", "speech", "qc+compose"}


def test_faster_tts_moves_gpus_to_the_llm():
    slow_tts = plan_layout(load_recipe(OMNI), Cluster(1, 8, 96))
    fast_tts = plan_layout(load_recipe(OMNI, ["executor.sizing.tts_rtf=0.02"]), Cluster(1, 8, 96))

    def text_gpus(lay):
        return next(p.gpus for p in lay.pools if p.stages == "text")

    assert text_gpus(fast_tts) > text_gpus(slow_tts)
    assert fast_tts.dialogues_per_hour > slow_tts.dialogues_per_hour


def test_ray_data_llm_runs_first_with_the_cluster_to_itself():
    r = load_recipe(
        OMNI,
        ["llm.options.mode=ray_data_llm", "llm.options.tensor_parallel_size=2", "llm.options.concurrency=4"],
    )
    layout = plan_layout(r, Cluster(2, 8, 96))
    llm = layout.text_phase
    assert llm.stages == "llm (Ray Data LLM)" and llm.actors == 4 and llm.gpus == 8
    assert "concurrency=8 would use every GPU" in llm.note
    assert "text" not in [p.stages for p in layout.pools]  # the text stage is no pool: the driver runs it
    assert sum(p.gpus for p in layout.pools) == 16  # then the voices get every GPU
    both = 1 / (1 / llm.dialogues_per_hour + 1 / layout.bottleneck.dialogues_per_hour)
    assert layout.dialogues_per_hour == both


def test_pool_sizes_for_the_executor():
    r = load_recipe(OMNI)
    assert len(pool_sizes(r, {"CPU": 8})) == len(stage_groups(r))
    assert set(pool_sizes(r, {"CPU": 8})) == {8}  # no GPU: every pool grows to the CPUs
    assert set(pool_sizes(r, {"CPU": 8}, workers=3)) == {3}
    layout = plan_layout(r, Cluster(1, 8, 96))
    assert pool_sizes(r, {"CPU": 96, "GPU": 8}) == [p.actors for p in layout.pools]
    tiny = load_recipe(ROOT / "recipes" / "tiny.yaml")
    assert pool_sizes(tiny, {"CPU": 2}) == [2]  # a CPU box: one fused pool, as before


def test_sizing_figures_do_not_change_what_a_run_resumes():
    a = load_recipe(OMNI)
    b = load_recipe(OMNI, ["executor.sizing.llm_tokens_per_s=12000"])
    assert fingerprint(a) == fingerprint(b)


def test_dry_run_with_a_cluster_names_pools_and_bottleneck():
    res = CliRunner().invoke(app, ["run", str(OMNI), "--dry-run", "--cluster", "4x8gpu"])
    assert res.exit_code == 0, res.output
    out = res.output
    assert "cluster 4 node(s) x 8 GPU" in out and "32 GPUs" in out
    assert "4 per GPU" in out and "dialogues/h" in out and "bottleneck:" in out
    assert "expected wall time for 100,000 dialogues" in out
    res = CliRunner().invoke(app, ["run", str(OMNI), "--dry-run", "--cluster", "lots"])
    assert res.exit_code == 2 and "NODESxGPUSgpu" in res.output
    res = CliRunner().invoke(app, ["run", str(OMNI), "--cluster", "4x8gpu"])
    assert res.exit_code == 2 and "--dry-run" in res.output


def test_a_run_records_each_stages_busy_time_and_the_bench_reads_it(local_corpus):
    import json

    from bench.stage_rates import stage_rates

    stats = json.loads((local_corpus / "stats.json").read_text())
    c = stats["counters"]
    assert all(c[f"seconds_{s}"] > 0 for s in ("text", "speech", "compose"))
    rates = stage_rates(stats)
    assert 0 < rates["tts_rtf"] < 5 and 0 < rates["cpu_rtf"] < 5  # CPU voices, CPU mixing
    assert rates["llm_tokens_per_s"] > 0 and rates["actor_s_per_dialogue_speech"] > 0
    assert rates["dialogues"] == stats["kept"] + stats["rejected"]
