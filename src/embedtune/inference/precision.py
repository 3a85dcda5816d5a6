"""Which floating-point precision to compute in, given the hardware.

bf16 matrix multiplication is where the speed is on modern hardware: on this project's 2-core
AMD EPYC (AVX512-BF16) a 8192×384×1536 matmul runs at 426 GFLOP/s in bf16 against 130 in fp32,
and every CUDA GPU since Ampere has bf16 tensor cores. ``auto`` therefore picks bf16 autocast
(fp32 master weights, bf16 matmuls) wherever the hardware has native bf16, fp16 on older GPUs,
and fp32 elsewhere, where emulated bf16 would be slower than fp32.

bf16 instructions are not enough on their own: on a 2-core Intel Xeon with AVX512-BF16 but no AMX,
bf16 encoding ran at 0.54x fp32 for all-mpnet-base-v2 and 0.70x for MiniLM
(bench/results/precision_probe.json), where the AMD EPYC and an AMX Xeon ran it at 2.2x. So on a
CPU ``auto`` also times one bf16 and one fp32 matmul (a few milliseconds, once per process) and
keeps bf16 only where it is clearly faster.
"""
from __future__ import annotations

import functools
import logging
from typing import Literal

logger = logging.getLogger(__name__)

from embedtune.config import PRECISIONS

Precision = Literal["auto", "fp32", "bf16", "fp16"]


def cpu_has_native_bf16() -> bool:
    """True when oneDNN runs bf16 matmuls in hardware (AVX512-BF16 or AMX), not by emulation."""
    from embedtune.compat import cpu_has_native_bf16_kernels

    return cpu_has_native_bf16_kernels()


BF16_MIN_SPEEDUP = 1.1  # bf16 matmuls must beat fp32 by this much for ``auto`` to train in bf16 on a CPU


@functools.lru_cache(maxsize=1)
def cpu_bf16_speedup() -> float:
    """bf16 over fp32 throughput of a 512x768 @ 768x768 matmul (a transformer layer's shape) on this
    CPU: the best of five timed pairs each, after a warm-up."""
    import time

    import torch

    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(512, 768, generator=generator), torch.randn(768, 768, generator=generator)
    best = {}
    for dtype in (torch.float32, torch.bfloat16):
        x, y = a.to(dtype), b.to(dtype)
        x @ y
        times = []
        for _ in range(5):
            start = time.perf_counter()
            x @ y
            x @ y
            times.append(time.perf_counter() - start)
        best[dtype] = min(times)
    return best[torch.float32] / best[torch.bfloat16]


def cpu_bf16_pays() -> bool:
    """Native bf16 kernels that are also faster than fp32 here (``cpu_bf16_speedup``)."""
    if not cpu_has_native_bf16():
        return False
    speedup = cpu_bf16_speedup()
    if speedup < BF16_MIN_SPEEDUP:
        logger.info("precision auto: this CPU has bf16 instructions, but a bf16 matmul ran at %.2fx fp32 "
                    "here, so training stays in fp32", speedup)
        return False
    return True


def resolve_precision(precision: str, device: str) -> Literal["fp32", "bf16", "fp16"]:
    """The concrete precision for ``device`` ("cpu", "cuda", "cuda:1", "mps" ...)."""
    import torch

    kind = device.split(":", 1)[0]
    if precision == "auto":
        if kind == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        if kind == "cpu" and cpu_bf16_pays():
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
