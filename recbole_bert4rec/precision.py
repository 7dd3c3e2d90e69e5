"""bfloat16 autocast where the device runs it natively, float32 elsewhere."""

import contextlib
from logging import getLogger

import torch


def bf16_supported(device):
    """CUDA needs compute capability >= 8.0 for bf16 matmuls; torch's CPU kernels run bf16 everywhere
    (fast with AVX512-BF16/AMX, emulated and slow without)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return device.type == "cpu"


_warned = set()


def bf16_autocast(device, enabled):
    """``torch.autocast(bfloat16)`` on ``device`` when enabled and supported; a no-op otherwise."""
    if not enabled:
        return contextlib.nullcontext()
    if not bf16_supported(device):
        if device.type not in _warned:
            _warned.add(device.type)
            getLogger().warning(f"bf16_autocast: {device} has no bfloat16 support; training in float32")
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)
