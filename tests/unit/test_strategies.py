"""The strategy registry, and QLoRA's refusal of hardware it cannot use (its GPU path is untested here)."""
from __future__ import annotations

import importlib.util

import pytest
import torch

from embedtune import config
from embedtune.errors import ConfigError
from embedtune.training.strategies import STRATEGIES


def test_every_strategy_the_config_accepts_is_registered() -> None:
    assert list(STRATEGIES) == list(config.STRATEGIES)


@pytest.mark.parametrize("name", ["full", "lora"])
def test_cpu_strategies_need_nothing(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    STRATEGIES[name].check()


def test_qlora_without_cuda_says_to_use_lora(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError) as exc:
        STRATEGIES["qlora"].check()
    assert str(exc.value) == ("qlora needs a CUDA GPU and bitsandbytes (found: no CUDA device); "
                              "use --strategy lora on CPU")


def test_qlora_on_a_gpu_without_bitsandbytes_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "bitsandbytes" else real_find_spec(name, *a))
    with pytest.raises(ConfigError) as exc:
        STRATEGIES["qlora"].check()
    assert str(exc.value) == ("qlora needs a CUDA GPU and bitsandbytes (found: a CUDA device but no bitsandbytes); "
                              "pip install bitsandbytes, or use --strategy lora")
