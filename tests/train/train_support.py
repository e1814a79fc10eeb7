"""A trainer config small enough for tests (seconds per step on one CPU core)."""

from __future__ import annotations

from pathlib import Path

from datagen.train.common.config import TrainConfig

TINY = {
    "encoder": {"dim": 32, "conv_channels": 32, "heads": 2, "layers": 1},
    "backbone": {"hidden": 48, "layers": 2, "heads": 2, "kv_heads": 2, "intermediate": 96},
    "optim": {"lr": 3e-3, "warmup_steps": 2, "max_steps": 6},
    "data": {"late_decisions": {"share": 0.5, "max_blocks": 4}},
    "log_every": 1,
    "save_every": 3,
    "tensorboard": False,
    "threads": 2,
}


def tiny_cfg(corpus: Path, out: Path, **over) -> TrainConfig:
    data = {**TINY["data"], "train": [str(corpus)], "max_duration": 60.0, "valid_fraction": 0.25}
    raw = {**TINY, "out": str(out), "data": data}
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(raw.get(k), dict):
            raw[k] = {**raw[k], **v}
        else:
            raw[k] = v
    return TrainConfig.model_validate(raw)


def load_tool(name: str):
    """A script of tools/ (not a package) imported as a module, for its tests."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
