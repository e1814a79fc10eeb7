"""BENCHMARKS.md's GPU rows come from the committed GPU results and say why a row did not run."""

import json

from bench.gpu_rows import RESULTS, markdown


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
