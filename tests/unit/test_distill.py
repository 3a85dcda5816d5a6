"""Distillation: teacher kinds, cached teacher margins, the label columns, and a short margin_mse run."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embedtune.config import TrainConfig
from embedtune.data.types import TrainingPairs
from embedtune.errors import ConfigError
from embedtune.inference.cache import EmbeddingCache
from embedtune.models import load_model
from embedtune.training import train_model
from embedtune.training.distill import distillation_columns, teacher_kind, teacher_margins

QUERIES = ["what lowers blood pressure", "which gene causes cystic fibrosis", "how do vaccines work"]
POSITIVES = ["Diuretics and ACE inhibitors lower blood pressure in adults.",
             "Mutations in the CFTR gene cause cystic fibrosis.",
             "Vaccines train the immune system to recognise a pathogen."]
NEGATIVES = [["The stock market fell sharply on Monday."],
             ["Football is played by two teams of eleven players."],
             ["Paris is the capital of France."]]


@pytest.fixture()
def triplets() -> TrainingPairs:
    return TrainingPairs(queries=list(QUERIES), positives=list(POSITIVES), negatives=[list(n) for n in NEGATIVES],
                         source="triplets")


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cross-encoder on the MiniLM weights: its head is random (none with trained weights installs
    offline), which is enough to exercise the scoring path."""
    return make_cross_encoder(tmp_path_factory.mktemp("cross-encoder"))


def make_cross_encoder(folder: Path) -> Path:
    """Save a MiniLM cross-encoder with a seeded random head into ``folder``."""
    import torch
    from sentence_transformers import CrossEncoder

    from embedtune.models import resolve_model

    torch.manual_seed(0)
    CrossEncoder(resolve_model(None), num_labels=1, max_length=64).save(str(folder))
    return folder


def test_teacher_kind_is_told_by_architecture_or_hub_organisation(cross_encoder_dir: Path) -> None:
    assert teacher_kind(str(cross_encoder_dir)) == "cross-encoder"
    assert teacher_kind(None) == "bi-encoder"  # the default all-MiniLM-L6-v2
    assert teacher_kind("cross-encoder/ms-marco-MiniLM-L6-v2") == "cross-encoder"
    assert teacher_kind("BAAI/bge-base-en-v1.5") == "bi-encoder"
    assert teacher_kind(str(cross_encoder_dir), "bi-encoder") == "bi-encoder"


def test_bi_encoder_margins_are_cosine_differences_and_cached(triplets: TrainingPairs, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    cache = EmbeddingCache(tmp_path)
    margins = teacher_margins("all-MiniLM-L6-v2", "auto", triplets, cache=cache)
    model = load_model(None)
    q = model.encode(QUERIES, normalize_embeddings=True)
    p = model.encode(POSITIVES, normalize_embeddings=True)
    n = model.encode([row[0] for row in NEGATIVES], normalize_embeddings=True)
    expected = (q * p).sum(1) - (q * n).sum(1)
    assert margins.shape == (3, 1)
    np.testing.assert_allclose(margins[:, 0], expected, atol=1e-4)
    assert (margins > 0).all()  # the positives are the relevant ones, even for this small teacher

    import embedtune.training.distill as distill

    monkeypatch.setattr(distill, "_bi_encoder_scores", lambda *a, **k: pytest.fail("scored the rows again"))
    np.testing.assert_array_equal(teacher_margins("all-MiniLM-L6-v2", "auto", triplets, cache=cache), margins)


def test_bf16_teacher_margins_are_close_to_fp32_and_cached_apart(triplets: TrainingPairs, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cache = EmbeddingCache(tmp_path)
    exact = teacher_margins("all-MiniLM-L6-v2", "auto", triplets, cache=cache)
    fast = teacher_margins("all-MiniLM-L6-v2", "auto", triplets, cache=cache, precision="bf16")
    assert not np.array_equal(fast, exact), "the bf16 call must not be served the fp32 entry"
    np.testing.assert_allclose(fast, exact, atol=0.02)

    import embedtune.training.distill as distill

    monkeypatch.setattr(distill, "_bi_encoder_scores", lambda *a, **k: pytest.fail("scored the rows again"))
    np.testing.assert_array_equal(teacher_margins("all-MiniLM-L6-v2", "auto", triplets, cache=cache,
                                                  precision="bf16"), fast)


def test_teacher_precision_follows_a_bf16_run_unless_set() -> None:
    from embedtune.training.distill import teacher_precision_for

    auto = TrainConfig(loss="margin_mse", teacher="t")
    assert [teacher_precision_for(auto, p) for p in ("bf16", "fp32", "fp16")] == ["bf16", "fp32", "fp32"]
    assert teacher_precision_for(TrainConfig(loss="margin_mse", teacher="t", teacher_precision="fp32"), "bf16") == "fp32"
    with pytest.raises(ConfigError, match='unknown teacher_precision "fp8"'):
        TrainConfig(loss="margin_mse", teacher="t", teacher_precision="fp8")


def test_cross_encoder_margins_use_its_activation(triplets: TrainingPairs, cross_encoder_dir: Path) -> None:
    margins = teacher_margins(str(cross_encoder_dir), "auto", triplets, max_seq_length=64)
    assert margins.shape == (3, 1)
    assert np.isfinite(margins).all() and (np.abs(margins) <= 1).all()  # sigmoid scores: margins within [-1, 1]
    fast = teacher_margins(str(cross_encoder_dir), "auto", triplets, max_seq_length=64, precision="bf16")
    np.testing.assert_allclose(fast, margins, atol=0.02)


def test_margin_mse_needs_negatives_and_a_teacher(triplets: TrainingPairs) -> None:
    with pytest.raises(ConfigError, match=r"loss margin_mse distils a teacher model: set teacher \(--teacher\)"):
        TrainConfig(loss="margin_mse")
    pairs = TrainingPairs(queries=list(QUERIES), positives=list(POSITIVES), negatives=[], source="pairs.jsonl")
    config = TrainConfig(loss="margin_mse", teacher="all-MiniLM-L6-v2")
    with pytest.raises(ConfigError, match="these training rows have no negatives: run `embedtune mine` first"):
        distillation_columns(pairs, config, None, None, False)
    columns = distillation_columns(triplets, config, None, None, False)
    assert list(columns) == ["anchor", "positive", "negative_1", "label"]
    assert len(columns["label"]) == 3 and len(columns["label"][0]) == 1


def test_embedding_mse_needs_a_teacher_of_the_students_size(triplets: TrainingPairs, tmp_path: Path) -> None:
    from sentence_transformers.sentence_transformer.modules import Dense

    small = load_model(None)
    small.append(Dense(384, 128))
    small.save(str(tmp_path / "small"))
    config = TrainConfig(loss="embedding_mse", teacher=str(tmp_path / "small"))
    with pytest.raises(ConfigError, match="gives 128 dimensions, the student 384; use --loss margin_mse"):
        distillation_columns(triplets, config, load_model(None), None, False)
    same = distillation_columns(triplets, TrainConfig(loss="embedding_mse", teacher="all-MiniLM-L6-v2"),
                                load_model(None), None, False)
    assert len(same["text"]) == 9 and len(same["label"][0]) == 384


def test_matryoshka_is_refused_with_a_distillation_loss() -> None:
    with pytest.raises(ConfigError, match="matryoshka_dims works with the contrastive losses"):
        TrainConfig(loss="margin_mse", teacher="x", matryoshka_dims=[384, 128])


def write_triplet_file(folder: Path) -> Path:
    """12 distinct (query, positive, negative) rows as a JSONL triplet file in ``folder``."""
    rows = [{"query": q, "positive": p, "negative": n[0]} for q, p, n in zip(QUERIES, POSITIVES, NEGATIVES)] * 4
    rows = [{k: f"{v} ({i})" for k, v in row.items()} for i, row in enumerate(rows)]  # distinct rows
    data = folder / "triplets.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return data


def test_a_short_margin_mse_run_trains_and_records_its_teacher(tmp_path: Path) -> None:
    data = write_triplet_file(tmp_path)
    config = TrainConfig(loss="margin_mse", teacher="all-MiniLM-L6-v2", epochs=1, batch_size=4,
                         max_seq_length=32, dev_fraction=0.25, eval_split=None)
    result = train_model(data, tmp_path / "out", config, show_progress=False,
                         cache=EmbeddingCache(tmp_path / "cache"))
    assert result.loss_history and all(np.isfinite(e["loss"]) for e in result.loss_history)
    assert result.config["teacher"] == "all-MiniLM-L6-v2" and result.config["loss"] == "margin_mse"
    assert (tmp_path / "out" / "model.safetensors").exists()
    assert list((tmp_path / "cache").glob("teacher-margins-*.npy"))
