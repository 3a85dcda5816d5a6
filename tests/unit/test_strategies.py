"""The strategy registry, and QLoRA's refusal of hardware it cannot use (its GPU path is untested here)."""
from __future__ import annotations

import sys

import pytest
import torch

from embedtune import config
from embedtune.errors import ConfigError, MissingDependencyError
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
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # import fails as if not installed
    with pytest.raises(MissingDependencyError) as exc:
        STRATEGIES["qlora"].check()
    assert str(exc.value) == ("--strategy qlora needs bitsandbytes, which is not installed: "
                              "pip install 'embedtune[qlora]', or use --strategy lora")


def test_lora_under_bf16_autocast_is_unchanged_without_peft_input_casts() -> None:
    """bf16 -> fp32 -> bf16 is exact, so skipping peft's cast must give bit-identical outputs and gradients.

    (With branch dropout the mask's 1/(1-p) scaling rounds in bf16 instead of fp32: same within 1%.)
    """
    from embedtune.config import TrainConfig
    from embedtune.models import load_model
    from embedtune.training.strategies import keep_adapter_inputs_in_compute_dtype

    model = STRATEGIES["lora"].prepare(load_model(None, max_seq_length=32), TrainConfig(strategy="lora", lora_dropout=0.0))
    model.train()
    features = model.tokenize(["a short query", "a somewhat longer passage about adapters"])

    def run() -> tuple[torch.Tensor, list[torch.Tensor]]:
        model.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(dict(features))["sentence_embedding"]
        out.float().sum().backward()
        return out.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]

    torch.manual_seed(0)
    before, grads_before = run()
    assert keep_adapter_inputs_in_compute_dtype(model) == 36  # q, k, v, 3 dense in each of 6 blocks; not the pooler
    torch.manual_seed(0)
    after, grads_after = run()
    assert torch.equal(before, after)
    assert len(grads_before) == len(grads_after) == 72  # A and B of the 36 layers in use
    assert all(torch.equal(a, b) for a, b in zip(grads_before, grads_after))
