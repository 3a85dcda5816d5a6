"""Which floating-point precision to compute in, given the hardware.

bf16 matrix multiplication is where the speed is on modern hardware: on this project's 2-core
AMD EPYC (AVX512-BF16) a 8192×384×1536 matmul runs at 426 GFLOP/s in bf16 against 130 in fp32,
and every CUDA GPU since Ampere has bf16 tensor cores. ``auto`` therefore picks bf16 autocast
(fp32 master weights, bf16 matmuls) wherever the hardware has native bf16, fp16 on older GPUs,
and fp32 elsewhere, where emulated bf16 would be slower than fp32.
"""
from __future__ import annotations

import logging
from typing import Literal

logger = logging.getLogger(__name__)

from embedtune.config import PRECISIONS

Precision = Literal["auto", "fp32", "bf16", "fp16"]


def cpu_has_native_bf16() -> bool:
    """True when oneDNN runs bf16 matmuls in hardware (AVX512-BF16 or AMX), not by emulation."""
    from embedtune.compat import cpu_has_native_bf16_kernels

    return cpu_has_native_bf16_kernels()


def resolve_precision(precision: str, device: str) -> Literal["fp32", "bf16", "fp16"]:
    """The concrete precision for ``device`` ("cpu", "cuda", "cuda:1", "mps" ...)."""
    import torch

    kind = device.split(":", 1)[0]
    if precision == "auto":
        if kind == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        if kind == "cpu" and cpu_has_native_bf16():
            return "bf16"
        return "fp32"
    if precision == "fp16" and kind == "cpu":
        from embedtune.errors import ConfigError

        raise ConfigError("precision fp16 needs a GPU; on CPU use bf16 (fast with AVX512-BF16/AMX) or fp32")
    if precision not in PRECISIONS:
        from embedtune.errors import ConfigError

        raise ConfigError(f'unknown precision "{precision}" (choose one of: {", ".join(PRECISIONS)})')
    if precision == "bf16" and kind == "cpu" and not cpu_has_native_bf16():
        logger.warning("this CPU has no native bf16: bf16 will be emulated and slower than fp32")
    return precision  # type: ignore[return-value]


def training_encoder_backend(precision: str) -> str:
    """The encoder backend that matches a training run's precision: ``torch-bf16`` for bf16, else ``torch``.

    Encodings made during training (dev scores that rank checkpoints and guard mixes, a teacher's
    labels) feed comparisons or a bf16 student, so a bf16 run may make them with the fast bf16 encoder.
    """
    return "torch-bf16" if precision == "bf16" else "torch"
