"""margin_kl: the pair scorer, the loss's arithmetic, its columns and refusals, and a short run."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from embedtune.config import TrainConfig
from embedtune.data.types import TrainingPairs
from embedtune.errors import ConfigError
from embedtune.inference.cache import EmbeddingCache
from embedtune.inference.search import make_encoder
from embedtune.models import load_model
from embedtune.training import train_model
from embedtune.training.distill import listwise_columns
from embedtune.training.hybrid_teacher import hybrid_scorer, hybrid_scores, row_texts
from embedtune.training.listwise import listwise_margin_loss
from tests.unit.test_distill import NEGATIVES, POSITIVES, QUERIES, make_cross_encoder, write_triplet_file



def triplets() -> TrainingPairs:
    return TrainingPairs(queries=list(QUERIES), positives=list(POSITIVES), negatives=[list(n) for n in NEGATIVES],
                         source="triplets")


@pytest.fixture(scope="module")
def encoder():
    return make_encoder(load_model(None, max_seq_length=64), "torch", batch_size=8)


def test_the_scorer_scores_any_pair_as_the_rows_fused_scores_do(encoder) -> None:
    rows = [[q, p, *n] for q, p, n in zip(QUERIES, POSITIVES, NEGATIVES)]
    queries, docs = row_texts(rows)
    scorer = hybrid_scorer(queries, docs, encoder)
    full = scorer.scores(range(len(queries)), range(len(docs)))
    assert full.shape == (3, 6)
    ids = scorer.row_ids(rows)
    assert ids == [[0, 0, 1], [1, 2, 3], [2, 4, 5]]  # documents numbered as first seen, row by row
    np.testing.assert_allclose(hybrid_scores(rows, encoder), [full[q, d] for q, *d in ids], atol=1e-6)
    # an off-row pair carries the lexical term too: "cystic fibrosis" against the CFTR document
    dense = encoder.model.encode([QUERIES[1], POSITIVES[1]], normalize_embeddings=True)
    assert full[1, 2] > float(dense[0] @ dense[1]) + 0.01


def test_the_loss_is_zero_when_the_student_scores_as_the_teacher() -> None:
    torch.manual_seed(0)
    teacher = torch.randn(4, 8)
    assert float(listwise_margin_loss(teacher.clone(), teacher)) == pytest.approx(0.0, abs=1e-6)
    shifted = teacher + torch.randn(4, 1)  # a per-query offset: same softmax, same margins
    assert float(listwise_margin_loss(shifted, teacher)) == pytest.approx(0.0, abs=1e-5)
    assert float(listwise_margin_loss(torch.randn(4, 8), teacher)) > 0.1


def test_the_margin_term_reads_each_rows_own_documents() -> None:
    """Columns are positives of rows 0..3, then their negatives: row i's own are columns i and 4 + i."""
    teacher = torch.zeros(4, 8)
    student = torch.zeros(4, 8)
    student[2, 6] = 0.5  # row 2's own negative: its margin is now -0.5 against the teacher's 0
    margin_only = listwise_margin_loss(student, teacher, margin_weight=1.0) - listwise_margin_loss(
        student, teacher, margin_weight=0.0)
    assert float(margin_only) == pytest.approx(0.25 / 4)  # squared error 0.25, averaged over 4 rows x 1 negative
    student[2, 6], student[2, 7] = 0.0, 0.5  # another row's negative: the margins are untouched
    assert float(listwise_margin_loss(student, teacher, margin_weight=1.0)) == pytest.approx(
        float(listwise_margin_loss(student, teacher, margin_weight=0.0)))


def test_columns_label_rows_with_ids_and_refuse_what_cannot_work(tmp_path: Path) -> None:
    config = TrainConfig(loss="margin_kl", teacher="hybrid", max_seq_length=64)
    columns, scorer = listwise_columns(triplets(), config, show_progress=False)
    assert list(columns) == ["anchor", "positive", "negative_1", "label"]
    assert columns["label"] == [[0, 0, 1], [1, 2, 3], [2, 4, 5]]
    assert scorer.lexical is not None  # the hybrid teacher keeps BM25
    _, dense = listwise_columns(triplets(), TrainConfig(loss="margin_kl", teacher="all-MiniLM-L6-v2",
                                                        max_seq_length=64), show_progress=False)
    assert dense.lexical is None  # a bi-encoder teacher: its cosines alone
    vectors = load_model(None, max_seq_length=64).encode([QUERIES[0], *POSITIVES], normalize_embeddings=True)
    np.testing.assert_allclose(dense.scores([0], [0, 2, 4])[0], vectors[1:] @ vectors[0], atol=1e-4)
    no_negatives = TrainingPairs(queries=list(QUERIES), positives=list(POSITIVES), negatives=[], source="p")
    with pytest.raises(ConfigError, match="these training rows have no negatives"):
        listwise_columns(no_negatives, config, show_progress=False)
    cross = make_cross_encoder(tmp_path / "ce")
    with pytest.raises(ConfigError, match="cross-encoder teacher .* cannot do ahead of training"):
        listwise_columns(triplets(), TrainConfig(loss="margin_kl", teacher=str(cross)), show_progress=False)
    with pytest.raises(ConfigError, match="loss margin_kl distils a teacher model"):
        TrainConfig(loss="margin_kl")
    with pytest.raises(ConfigError, match="matryoshka_dims works with the contrastive losses"):
        TrainConfig(loss="margin_kl", teacher="hybrid", matryoshka_dims=[384, 128])


def test_the_teachers_document_embeddings_are_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A resumed margin_kl run finds its teacher's document embeddings instead of encoding them again."""
    from embedtune.inference.encoder import FastEncoder

    config = TrainConfig(loss="margin_kl", teacher="hybrid", max_seq_length=64)
    cache = EmbeddingCache(tmp_path)
    _, first = listwise_columns(triplets(), config, show_progress=False, cache=cache)
    encode = FastEncoder.encode

    def queries_only(self, texts, role="document", **kwargs):
        assert role != "document", "encoded the teacher's documents again"
        return encode(self, texts, role, **kwargs)

    monkeypatch.setattr(FastEncoder, "encode", queries_only)
    _, second = listwise_columns(triplets(), config, show_progress=False, cache=cache)
    np.testing.assert_array_equal(second.d_vectors, first.d_vectors)
    np.testing.assert_array_equal(second.lexical_scales, first.lexical_scales)


def test_a_short_margin_kl_run_trains(tmp_path: Path) -> None:
    data = write_triplet_file(tmp_path)
    config = TrainConfig(loss="margin_kl", teacher="hybrid", epochs=1, batch_size=4, max_seq_length=32,
                         dev_fraction=0.25, eval_split=None)
    result = train_model(data, tmp_path / "out", config, show_progress=False, cache=EmbeddingCache(tmp_path / "c"))
    assert result.loss_history and all(np.isfinite(e["loss"]) for e in result.loss_history)
    assert result.config["loss"] == "margin_kl" and (tmp_path / "out" / "model.safetensors").exists()
    with pytest.raises(ConfigError, match="loss margin_kl trains on one data set"):
        train_model([data, data], tmp_path / "two", config, show_progress=False)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(f'{{"query": "q{i}", "positive": "p{i}"}}\n' for i in range(12)), encoding="utf-8")
    with pytest.raises(ConfigError, match="these training rows have no negatives"):
        train_model(pairs, tmp_path / "no-negatives", config, show_progress=False)
    assert not (tmp_path / "no-negatives").exists(), "refused before the output folder was opened"
