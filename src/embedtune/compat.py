"""Every use of another library's private API, in one place, with the versions it was checked against.

Why one module: a private name can change in any release. Here each use has a public-looking
function, a note of what it relies on, and ``CHECKED``: the range of versions the tests ran it on
(the floors job at the low end, the development install at the high end). ``tests/unit/test_compat.py``
fails when an installed version is outside its range or a private name is gone, so an upgrade
says where to look instead of breaking a user's run.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

# distribution -> (oldest, newest) release the private uses below were checked on (inclusive, major.minor)
CHECKED: dict[str, tuple[str, str]] = {
    "torch": ("2.6", "2.13"),
    "transformers": ("5.0", "5.23"),
}


def cpu_has_native_bf16_kernels() -> bool:
    """oneDNN runs bf16 matmuls in hardware (AVX512-BF16 or AMX) rather than by emulation.

    Private: ``torch.ops.mkldnn._is_mkldnn_bf16_supported`` (torch has no public query for it).
    """
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def insert_module(model: Any, position: int, module: Any) -> None:
    """Insert ``module`` into a sentence-transformers model (an ``nn.Sequential``) at ``position``.

    Private: rebuilds ``_modules`` with keys "0".."n"; ``nn.Sequential.insert`` needs those keys
    already, and a model loaded from a modules.json may name its modules otherwise.
    """
    modules = list(model._modules.values())
    modules.insert(position, module)
    model._modules = OrderedDict((str(i), m) for i, m in enumerate(modules))


def forget_peft_config(backbone: Any) -> None:
    """After merging every LoRA layer by hand, make transformers treat ``backbone`` as adapter-free.

    Private: transformers' ``_hf_peft_config_loaded`` flag, which ``save_pretrained`` and
    ``active_adapters`` read; left set, a merged model would save as an adapter.
    """
    backbone._hf_peft_config_loaded = False
    if hasattr(backbone, "peft_config"):
        del backbone.peft_config
