"""BENCHMARKS.md's GPU rows come from the committed GPU results and say why a row did not run."""

import json

from bench.device_rows import RESULTS, markdown, scaling_markdown


def test_gpu_rows_name_why_an_engine_row_did_not_run(tmp_path):
    r = json.loads(RESULTS.read_text())
    r["probe"]["engines"]["vllm"] = {"importable": True, "version": "0.11"}
    r["probe"]["weights"]["llm_weights"]["present"] = False
    path = tmp_path / "gpu.json"
    path.write_text(json.dumps(r))
    text = "\n".join(markdown(path))
    vllm = next(line for line in text.splitlines() if line.startswith("| vLLM"))
    assert "no weights at `/data/models/Meta-Llama-3-8B-Instruct`" in vllm and "does not import" not in vllm
    cosy = next(line for line in text.splitlines() if line.startswith("| CosyVoice2"))
    assert "`cosyvoice` does not import" in cosy
    # the trainer's figures stand beside the same machine's plain transformers + peft
    ours, base = r["trainer"]["dpo_pair_s"], r["anchor_same_machine"]["dpo_pair_L2250_s"]
    dpo = next(line for line in text.splitlines() if line.startswith("| DPO pair"))
    assert f"| {ours / base:.2f} |" in dpo


def test_gpu_rows_without_results_say_not_run(tmp_path):
    assert any("Not run: no GPU results yet" in line for line in markdown(tmp_path / "none.json"))


def test_scaling_rows_give_speedup_efficiency_and_cpu_per_shard(tmp_path):
    timeline = {"shards": 4, "idle_before_first_shard_s": 0.5, "idle_after_last_shard_s": 0.25}
    r = {
        "machine": "m",
        "when": "w",
        "command": "c",
        "dialogues": 16,
        "shard_size": 4,
        "recipe": "r",
        "same_bytes": False,
        "rows": [
            {
                "workers": 1,
                "wall_s": 10.0,
                "speedup": 1.0,
                "efficiency": 1.0,
                "timeline": {**timeline, "busy_cpu_s": 8.0},
            },
            {
                "workers": 4,
                "wall_s": 4.0,
                "speedup": 2.5,
                "efficiency": 0.62,
                "timeline": {**timeline, "busy_cpu_s": 12.0},
            },
        ],
    }
    path = tmp_path / "scaling.json"
    path.write_text(json.dumps(r))
    lines = scaling_markdown(path)
    assert "| 4 | 4.0 s | 2.50x | 0.62 | 3.00 (1.50) | 0.5 / 0.2 |" in lines
    assert any("the same bytes: NO" in line for line in lines)
    assert any("Not run" in line for line in scaling_markdown(tmp_path / "none.json"))
    # what bench/cpu_probe.py saw on the machine, when it was run there
    r["cpu_probe"] = {
        "command": "probe",
        "when": "w",
        "python_loop": {"alone": 2.0, "x4": [2.0, 2.0, 3.0, 3.0]},
        "numpy_convolve": {"alone": 0.25, "x4": [0.25, 0.25, 0.45, 0.45]},
    }
    path.write_text(json.dumps(r))
    probe = scaling_markdown(path)[-2]
    assert "numpy convolution took 0.25 s alone, 0.25-0.45 s (mean 0.35) as 4 concurrent copies" in probe
