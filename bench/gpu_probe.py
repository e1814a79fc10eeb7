"""What a GPU machine can run of the pipeline's GPU rows, as JSON (`python -m bench.gpu_probe`).

The GPU rows of BENCHMARKS.md need two engines and two sets of weights that a
lent machine may lack (it is offline): vLLM with Llama-3-8B-Instruct, and
CosyVoice2 with its 0.5B checkpoint. Rather than leave a row out, the bench
records *why* it could not run, read off the machine itself: whether each
engine imports (and its version), and whether the weights are at the paths the
GPU recipe names (`recipes/salmonn_omni.yaml`, the recipe bench/gpu_smoke.sh runs).
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
from pathlib import Path

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "salmonn_omni.yaml"


def recipe_paths(recipe: Path = RECIPE) -> dict[str, str]:
    """The local paths the GPU recipe loads its models from (read as plain YAML:
    the probe runs where the package's own dependencies may be missing)."""
    import yaml

    r = yaml.safe_load(recipe.read_text())
    tts = r["tts"]["voices"]["assistant"]["options"]
    return {
        "llm_weights": r["llm"]["options"]["model"],
        "tts_weights": tts["model_dir"],
        "tts_repo": tts["repo_path"],
    }


def engine(module: str) -> dict:
    """Does `module` import here, and which version is it?"""
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - any import failure is the answer we record
        return {"importable": False, "why": f"{type(exc).__name__}: {exc}"[:200]}
    return {"importable": True, "version": getattr(mod, "__version__", "unknown")}


def probe() -> dict:
    import torch

    out = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "engines": {"vllm": engine("vllm"), "cosyvoice": engine("cosyvoice"), "ray": engine("ray")},
        "weights": {},
    }
    for name in ("transformers", "peft"):
        out[name] = engine(name).get("version")
    for key, path in recipe_paths().items():
        out["weights"][key] = {"path": path, "present": Path(path).exists()}
    return out


if __name__ == "__main__":
    print(json.dumps(probe(), indent=2))
    sys.exit(0)
