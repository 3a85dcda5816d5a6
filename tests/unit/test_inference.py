"""Fast encoders against sentence-transformers' own ``encode`` on documents of the SciFact-like fixture set."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import transformers
from packaging import version

from embedtune.errors import ConfigError
from embedtune.inference import FastEncoder
from embedtune.inference.batching import Tokenized, ladder_width, token_budget_batches, tokenize
from embedtune.inference.encoder import CPU_MAX_TOKENS, ONNX_MAX_TOKENS, token_budget
from embedtune.inference.precision import resolve_precision
from embedtune.models import load_model


@pytest.fixture(scope="module")
def model():
    return load_model(None, max_seq_length=128)


@pytest.fixture(scope="module")
def abstracts(scifact_like: Path) -> list[str]:
    """40 texts of very different lengths: the titles alone, and the full texts of the first 20 documents
    of at least 100 words (abstract-sized, like SciFact's: cut at 128 tokens)."""
    texts = []
    with open(scifact_like / "corpus.jsonl", encoding="utf-8") as f:
        docs = [doc for doc in map(json.loads, f) if len(doc["text"].split()) >= 100][:20]
    for doc in docs:
        texts += [doc["title"], (doc["title"] + " " + doc["text"]).strip()]
    assert len(texts) == 40
    return texts


@pytest.fixture(scope="module")
def reference(model, abstracts: list[str]) -> np.ndarray:
    return model.encode_document(abstracts, convert_to_numpy=True, batch_size=32)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_token_budget_batches_cover_every_text_once_and_stay_in_budget(model, abstracts: list[str]) -> None:
    tokenized = tokenize(model, abstracts)
    batches = list(token_budget_batches(tokenized, max_tokens=600))
    seen = np.concatenate([b.index for b in batches])
    assert sorted(seen.tolist()) == list(range(len(abstracts)))
    assert all(b.padded_tokens <= 600 or len(b.index) == 1 for b in batches)
    padding = 1 - sum(b.tokens for b in batches) / sum(b.padded_tokens for b in batches)
    assert padding < 0.1, "length-sorted batches carry little padding"


def test_laddered_batches_run_on_few_widths_within_the_model_length() -> None:
    tokenized = Tokenized([np.arange(1, n + 1) for n in range(1, 257)], None)  # every length from 1 to 256
    exact = list(token_budget_batches(tokenized, max_tokens=600))
    laddered = list(token_budget_batches(tokenized, max_tokens=600, ladder_up_to=256))
    assert sorted(np.concatenate([b.index for b in laddered]).tolist()) == list(range(256))
    widths = {b.inputs["input_ids"].shape[1] for b in laddered}
    assert len(widths) <= 20 < len({b.inputs["input_ids"].shape[1] for b in exact})
    for batch in laddered:  # each row keeps its own tokens, the rest is masked padding, within the budget
        longest = int(batch.inputs["attention_mask"].sum(1).max())
        assert batch.inputs["input_ids"].shape[1] == ladder_width(longest, 256) <= 1.25 * longest
        assert batch.padded_tokens <= 600 or len(batch.index) == 1
        for row, i in enumerate(batch.index):
            assert batch.inputs["input_ids"][row, :i + 1].tolist() == list(range(1, i + 2))
    assert [ladder_width(n, 512) for n in (1, 9, 64, 65, 200, 257)] == [8, 16, 64, 80, 224, 320]
    assert ladder_width(70, 77) == 77 and ladder_width(77, 77) == 77, "never past the model's positions"


def test_cpu_batches_are_small_and_a_gpu_gets_batch_size_rows_of_full_length(model, monkeypatch) -> None:
    assert FastEncoder(model, "torch").max_tokens == token_budget(model, 32) == CPU_MAX_TOKENS
    assert token_budget(model, 2) == 2 * model.max_seq_length < CPU_MAX_TOKENS, "a small batch_size still counts"
    monkeypatch.setattr(type(model), "device", property(lambda self: "cuda:0"))
    assert token_budget(model, 32) == 32 * model.max_seq_length


def test_torch_backend_reproduces_sentence_transformers(model, abstracts, reference) -> None:
    fast = FastEncoder(model, "torch", max_tokens=2048).encode(abstracts, "document")
    assert fast.shape == reference.shape
    assert np.abs(fast - reference).max() < 1e-5


def test_onnx_backend_reproduces_sentence_transformers(model, abstracts, reference, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    encoder = FastEncoder(model, "onnx", export_dir=tmp_path, max_tokens=16384)
    assert encoder.max_tokens == ONNX_MAX_TOKENS < 16384, "ONNX Runtime keeps memory per batch size: smaller batches"
    fast = encoder.encode(abstracts, "document")
    assert np.abs(fast - reference).max() < 1e-5
    assert (tmp_path / "model.onnx").is_file() and not list(tmp_path.glob(".export-*")), "no half-written export"
    import onnx

    ops = {node.op_type for node in onnx.load(str(tmp_path / "model.onnx"), load_external_data=False).graph.node}
    # transformers < 5.9 traces attention in a shape ONNX Runtime's optimizer does not fuse (found by .ci/floors):
    # the export is exact either way, only slower there
    fused_attention = {"Attention"} if version.parse(transformers.__version__) >= version.parse("5.9") else set()
    assert {"SkipLayerNormalization", "BiasGelu"} | fused_attention <= ops, f"the export lost its fusions: {sorted(ops)}"


@pytest.mark.parametrize(("backend", "min_cosine"), [("torch-bf16", 0.999), ("onnx-int8", 0.98)])
def test_approximate_backends_stay_close(model, abstracts, reference, tmp_path: Path, backend: str,
                                         min_cosine: float) -> None:
    if backend.startswith("onnx"):
        pytest.importorskip("onnxruntime")
    fast = FastEncoder(model, backend, export_dir=tmp_path).encode(abstracts, "document")
    similarity = cosines(fast, reference)
    assert similarity.min() > min_cosine
    assert np.abs(fast - reference).max() > 1e-6, "approximate, so not bit-identical to fp32"


def test_unknown_backend_is_a_config_error(model) -> None:
    with pytest.raises(ConfigError, match='unknown encoding backend "onnx-fp8"'):
        FastEncoder(model, "onnx-fp8")  # type: ignore[arg-type]


def test_precision_resolution() -> None:
    assert resolve_precision("fp32", "cpu") == "fp32"
    assert resolve_precision("bf16", "cpu") == "bf16"
    assert resolve_precision("auto", "cpu") in ("bf16", "fp32")
    with pytest.raises(ConfigError, match="precision fp16 needs a GPU"):
        resolve_precision("fp16", "cpu")


def test_several_devices_encode_in_parallel_processes_with_the_same_result(model, abstracts, reference) -> None:
    encoder = FastEncoder(model, "torch", devices=["cpu", "cpu"])
    assert encoder.backend == "sentence-transformers", "one worker process per device"
    assert np.abs(encoder.encode(abstracts, "document") - reference).max() < 1e-5


def test_several_devices_need_an_exact_pytorch_backend(model) -> None:
    with pytest.raises(ConfigError, match='works with the torch and sentence-transformers backends, not "onnx-int8"'):
        FastEncoder(model, "onnx-int8", devices=["cpu", "cpu"])


def test_auto_precision_keeps_bf16_on_a_cpu_only_where_it_is_faster(monkeypatch) -> None:
    from embedtune.inference import precision

    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    monkeypatch.setattr(precision, "cpu_bf16_speedup", lambda: 0.52)  # bf16 instructions, slow kernels
    assert resolve_precision("auto", "cpu") == "fp32"
    monkeypatch.setattr(precision, "cpu_bf16_speedup", lambda: 2.2)
    assert resolve_precision("auto", "cpu") == "bf16"
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    assert resolve_precision("auto", "cpu") == "fp32"
    assert resolve_precision("bf16", "cpu") == "bf16", "asked for, bf16 is kept"


def test_the_bf16_speedup_is_measured_once() -> None:
    from embedtune.inference.precision import cpu_bf16_speedup

    first = cpu_bf16_speedup()
    assert first > 0 and cpu_bf16_speedup() == first
