"""embedtune.compat's private uses still exist, on versions inside the range they were checked on."""
from __future__ import annotations

from importlib.metadata import version

import pytest
import torch
from packaging.version import Version

from embedtune.compat import CHECKED, cpu_has_native_bf16_kernels, forget_peft_config, insert_module


@pytest.mark.parametrize("distribution", sorted(CHECKED))
def test_the_installed_version_was_checked(distribution: str) -> None:
    oldest, newest = CHECKED[distribution]
    installed = Version(Version(version(distribution)).base_version)
    minor = Version(f"{installed.major}.{installed.minor}")
    assert Version(oldest) <= minor <= Version(newest), (
        f"{distribution} {installed} is outside the {oldest}-{newest} range embedtune.compat was checked on: "
        "run the tests (and .ci/floors) on it, then widen CHECKED")


def test_the_private_names_exist() -> None:
    assert hasattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported")
    assert isinstance(cpu_has_native_bf16_kernels(), bool)


def test_insert_module_renumbers_a_sentence_transformer(tmp_path) -> None:
    from sentence_transformers import SentenceTransformer

    from tests.tiny_models import tiny_bert

    model = SentenceTransformer(str(tiny_bert(tmp_path / "tiny")), device="cpu")
    before = [type(m).__name__ for m in model]
    extra = torch.nn.Identity()
    insert_module(model, 1, extra)
    assert list(model._modules) == [str(i) for i in range(len(before) + 1)]
    assert model[1] is extra and [type(m).__name__ for m in model][2:] == before[1:]


def test_forget_peft_config_leaves_a_plain_model(tmp_path) -> None:
    from peft import LoraConfig
    from transformers import AutoModel

    from tests.tiny_models import tiny_bert

    backbone = AutoModel.from_pretrained(str(tiny_bert(tmp_path / "tiny")))
    backbone.add_adapter(LoraConfig(r=2, target_modules=["query"]))
    assert backbone._hf_peft_config_loaded, "transformers no longer sets the flag forget_peft_config clears"
    forget_peft_config(backbone)
    assert not backbone._hf_peft_config_loaded and not hasattr(backbone, "peft_config")
