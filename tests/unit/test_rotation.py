"""The Matryoshka rotation: full-size scores untouched, truncated ones improved, and every encoder applies it."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embedtune.data.beir import load_beir
from embedtune.evaluation import evaluate_model
from embedtune.inference import FastEncoder, unsupported_reason
from embedtune.models import load_model
from embedtune.training.rotation import _Rows, add_rotation, fit_and_add_rotation, rotation_path
from tests.slices import scifact_like_slice

TEXTS = ["what do T cells do", "Aspirin lowered the risk of a second stroke in the trial.",
         "protein folding in yeast", "Short.", ("A much longer sentence about cerebral white matter in newborns, "
                                                "measured in vivo by diffusion tensor imaging, to see how the brain "
                                                "develops.")]


def random_rotation(dim: int, seed: int = 0) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, dim)))
    return q.astype(np.float32)


@pytest.fixture(scope="module")
def rotated():
    """The default model with a random rotation added, and the rotation."""
    model = load_model(None, max_seq_length=64)
    matrix = random_rotation(384)
    add_rotation(model, matrix)
    return model, matrix


def test_the_rotation_is_a_dense_module_that_changes_no_full_size_cosine(rotated) -> None:
    model, matrix = rotated
    plain = load_model(None, max_seq_length=64)
    assert [type(m).__name__ for m in model] == ["Transformer", "Pooling", "Dense", "Normalize"]
    before, after = plain.encode(TEXTS), model.encode(TEXTS)
    assert np.abs(after - before @ matrix).max() < 1e-5, "embedding @ matrix, still unit length"
    assert np.abs(after @ after.T - before @ before.T).max() < 1e-5, "full-size cosines unchanged"
    assert np.abs(after[:, :64] - before[:, :64]).max() > 1e-2, "what a truncation keeps does change"


def test_a_saved_rotated_model_loads_in_sentence_transformers_with_it(rotated, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    model, _ = rotated
    model.save(str(tmp_path))
    modules = json.loads((tmp_path / "modules.json").read_text())
    assert [m["path"] for m in modules] == ["", "1_Pooling", "2_Dense", "3_Normalize"]
    loaded = SentenceTransformer(str(tmp_path), device="cpu")
    assert np.abs(loaded.encode(TEXTS) - model.encode(TEXTS)).max() < 1e-6


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_the_fast_backends_apply_the_rotation(rotated, backend: str, tmp_path: Path) -> None:
    if backend == "onnx":
        pytest.importorskip("onnxruntime")
    model, _ = rotated
    assert unsupported_reason(model) is None, "a rotation keeps the model on the fast path"
    encoder = FastEncoder(model, backend, export_dir=tmp_path)
    assert encoder.backend == backend
    assert np.abs(encoder.encode(TEXTS) - model.encode_document(TEXTS)).max() < 1e-4


def test_an_onnx_export_carries_the_rotation(rotated, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from embedtune.export import export_model
    from embedtune.export.onnx_model import OnnxEmbedder

    model, _ = rotated
    model.save(str(tmp_path / "model"))
    result = export_model(str(tmp_path / "model"), "onnx", tmp_path / "onnx")
    assert result.min_cosine >= 0.999
    exported = OnnxEmbedder(tmp_path / "onnx").encode(TEXTS)
    assert np.abs(exported - model.encode_document(TEXTS)).max() < 1e-4


def test_the_fit_moves_the_signal_into_the_leading_dimensions() -> None:
    """Synthetic pairs whose match lives only in dimensions 32-63: cut to 16, they are noise until rotated."""
    rng = np.random.default_rng(0)
    n, dim = 512, 64
    signal = rng.standard_normal((n, 32)).astype(np.float32)
    queries = np.concatenate([rng.standard_normal((n, 32)) * 0.3, signal], axis=1).astype(np.float32)
    positives = np.concatenate([rng.standard_normal((n, 32)) * 0.3,
                                signal + 0.1 * rng.standard_normal((n, 32))], axis=1).astype(np.float32)
    rows = _Rows(queries=queries, positives=positives, negatives=np.zeros((n, 0, dim), dtype=np.float32))

    def top1_at_16(matrix: np.ndarray) -> float:
        q, d = (queries @ matrix)[:, :16], (positives @ matrix)[:, :16]
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        return float(((q @ d.T).argmax(1) == np.arange(n)).mean())

    path = list(rotation_path([rows], [16], steps=200, every=100))
    assert [step for step, _ in path] == [0, 100, 200]
    assert np.array_equal(path[0][1], np.eye(dim, dtype=np.float32)), "step 0 is no rotation"
    last = path[-1][1]
    assert np.abs(last @ last.T - np.eye(dim)).max() < 1e-4, "orthogonal, so full-size cosines are kept"
    assert top1_at_16(path[0][1]) < 0.1 and top1_at_16(last) > 0.5


@pytest.fixture(scope="module")
def scifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scifact_like_slice(tmp_path_factory, "rotation", train_qrels=120, test_qrels=40, distractors=200)


@pytest.mark.slow  # ~50 s of CPU (a training run); the rotation itself stays in the default run above
def test_dev_chooses_the_step_and_its_scores_are_what_eval_reports(scifact: Path) -> None:
    model = load_model(None, max_seq_length=64)
    train, dev = load_beir(scifact, "train"), load_beir(scifact, "test")
    unrotated = evaluate_model(model, dev, metrics=("ndcg@10",), dims=[128, 64]).by_dim
    choice = fit_and_add_rotation(model, [train.training_pairs()], [dev], [384, 128, 64], steps=100)
    assert choice.dims == [128, 64], "the full size is left out: a rotation cannot change it"
    assert choice.dev_by_step[0] == pytest.approx({d: unrotated[d]["ndcg@10"] for d in (128, 64)}, abs=1e-4)
    means = {step: sum(s.values()) / 2 for step, s in choice.dev_by_step.items()}
    assert choice.step == max(means, key=lambda s: (means[s], -s)), "the best dev mean, the earliest on a tie"
    names = [type(m).__name__ for m in model]
    after = evaluate_model(model, dev, metrics=("ndcg@10",), dims=[128, 64]).by_dim
    assert after[384]["ndcg@10"] == pytest.approx(unrotated[384]["ndcg@10"], abs=1e-4)
    if choice.kept:
        assert names == ["Transformer", "Pooling", "Dense", "Normalize"]
        assert {d: after[d]["ndcg@10"] for d in (128, 64)} == pytest.approx(choice.dev_by_step[choice.step],
                                                                             abs=1e-4)
    else:
        assert names == ["Transformer", "Pooling", "Normalize"]
    assert json.loads(json.dumps(choice.to_dict()))["step"] == choice.step


def test_an_adapter_export_of_a_rotated_model_says_the_adapter_cannot_carry_it(rotated, tmp_path: Path) -> None:
    from embedtune.export import NoAdapterError, export_model

    model, _ = rotated
    model.save(str(tmp_path / "model"))
    (tmp_path / "model" / "adapter").mkdir()
    (tmp_path / "model" / "adapter" / "adapter_config.json").write_text("{}")
    with pytest.raises(NoAdapterError, match="Matryoshka rotation .* which a LoRA adapter cannot carry"):
        export_model(str(tmp_path / "model"), "adapter", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_model_card_says_a_rotation_was_added_and_what_it_did_on_dev() -> None:
    from embedtune.config import TrainConfig
    from embedtune.training.model_card import render_model_card
    from embedtune.training.train import TrainResult

    def card(rotation: dict | None) -> str:
        result = TrainResult(model_dir="runs/x", config=TrainConfig(matryoshka_dims=[384, 128]).to_dict(),
                             data="scifact", before=None, after=None, heldout_split=None, matryoshka_rotation=rotation)
        return render_model_card(result, base_model="base", base_path="/base")

    curve = {"0": {"128": 0.81}, "50": {"128": 0.84}}
    assert "raised the truncated sizes' dev nDCG@10 (128: 0.8100 → 0.8400)" in card(
        {"kept": True, "step": 50, "dims": [128], "dev_ndcg@10_by_step": curve})
    assert "rotation of the embedding space" not in card({"kept": False, "step": 0, "dims": [128], "dev_ndcg@10_by_step": curve})
    assert "rotation of the embedding space" not in card(None)
