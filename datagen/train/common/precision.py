"""Whether bf16 is worth it on this machine, and `bf16: auto` resolved from that.

bf16 halves memory and is ~2x faster where the hardware computes in it (CUDA GPUs
from Ampere on, CPUs with AVX512-BF16 or AMX). Where it does not, PyTorch still
runs bf16 but emulates it: on a 2-core AVX2 CPU the tiny recipe's SFT step took
65-85 s in bf16 against 6-14 s in float32 (one thread, beside other jobs). So the
CPU recipes say `bf16: auto`, which is resolved once, when the config is read, and
recorded as true or false in every checkpoint: a run's precision never depends on
where its checkpoint is read back.
"""

from __future__ import annotations

import functools


@functools.cache
def native_bf16(device_type: str) -> bool:
    """True where `device_type` ("cpu" or "cuda") computes bf16 in hardware."""
    import torch

    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolve_bf16(value: bool | str, device: str) -> bool:
    """`bf16` of a config: true/false as given; "auto" = what the device the run will
    pick (`device`: auto/cpu/cuda) computes natively."""
    if value != "auto":
        return bool(value)
    import torch

    kind = "cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu"
    return native_bf16(kind)


def emulated_bf16_warning(bf16: bool, device_type: str) -> str | None:
    """The warning a run asked to use bf16 where it is emulated should print, else None."""
    if bf16 and not native_bf16(device_type):
        return (
            f"bf16: true on a {device_type} without native bf16 (no AVX512-BF16/AMX): PyTorch emulates it, "
            "tens of times slower than float32; set `bf16: auto` or `bf16: false`"
        )
    return None
