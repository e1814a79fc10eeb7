"""`bf16: auto`: resolved once from what the device computes natively, recorded as a bool."""

import torch

from datagen.train.common.config import TrainConfig, load_train_config
from datagen.train.common.precision import emulated_bf16_warning, native_bf16, resolve_bf16


def test_auto_is_what_the_cpu_computes_natively():
    native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    assert native_bf16("cpu") is native
    assert resolve_bf16("auto", "cpu") is native
    assert resolve_bf16(True, "cpu") is True and resolve_bf16(False, "cpu") is False


def test_the_config_records_a_bool_so_checkpoints_never_say_auto():
    cfg = TrainConfig.model_validate({"bf16": "auto", "device": "cpu"})
    assert cfg.bf16 is native_bf16("cpu")
    assert cfg.model_dump(mode="json")["bf16"] in (True, False)
    tiny = load_train_config("recipes/train/tiny_cpu.yaml", ["device=cpu"])
    assert tiny.bf16 is native_bf16("cpu")


def test_asking_for_emulated_bf16_warns():
    warning = emulated_bf16_warning(True, "cpu")
    assert (warning is None) is native_bf16("cpu")
    assert emulated_bf16_warning(False, "cpu") is None
