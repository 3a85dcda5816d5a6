"""The hybrid (BM25 + dense) distillation teacher: naming, the fused scores, margins through distill."""
from __future__ import annotations

import numpy as np
import pytest

from embedtune.data.types import TrainingPairs
from embedtune.errors import ConfigError
from embedtune.inference.cache import EmbeddingCache
from embedtune.inference.search import make_encoder
from embedtune.models import load_model
from embedtune.training.distill import teacher_kind, teacher_margins
from embedtune.training.hybrid_teacher import hybrid_dense_model, hybrid_scores, is_hybrid

QUERY = "CFTR mutation chloride channel"
# Both documents are about the same disease; only the first shares the query's rare terms.
LEXICAL = "The CFTR mutation disrupts the chloride channel in epithelial cells."
OTHER = "Cystic fibrosis is an inherited disease of the lungs and the digestive system."
FILLER = ["The stock market fell sharply on Monday.", "Paris is the capital of France.",
          "Vaccines train the immune system to recognise a pathogen.", "Football has two teams of eleven."]


def test_hybrid_names() -> None:
    assert is_hybrid("hybrid") and is_hybrid("hybrid:BAAI/bge-small-en-v1.5")
    assert not is_hybrid("hybrid-model") and not is_hybrid(None) and not is_hybrid("all-MiniLM-L6-v2")
    assert hybrid_dense_model("hybrid", "my/student") == "my/student"
    assert hybrid_dense_model("hybrid:other/model", "my/student") == "other/model"
    with pytest.raises(ConfigError, match='names no dense model'):
        hybrid_dense_model("hybrid:", None)
    assert teacher_kind("hybrid") == "hybrid" and teacher_kind("hybrid:x", "bi-encoder") == "hybrid"


@pytest.fixture(scope="module")
def encoder():
    return make_encoder(load_model(None, max_seq_length=64), "torch", batch_size=8)


def test_weight_zero_is_the_dense_cosine(encoder) -> None:
    rows = [[QUERY, LEXICAL, OTHER, *FILLER]]
    fused = hybrid_scores(rows, encoder, weight=0.0)
    vectors = encoder.model.encode([QUERY, LEXICAL, OTHER, *FILLER], normalize_embeddings=True)
    np.testing.assert_allclose(fused[0], vectors[1:] @ vectors[0], atol=1e-4)


def test_bm25_raises_the_document_that_shares_the_query_terms(encoder) -> None:
    rows = [[QUERY, LEXICAL, OTHER, *FILLER]]
    dense = hybrid_scores(rows, encoder, weight=0.0)[0]
    fused = hybrid_scores(rows, encoder, weight=0.3)[0]
    assert fused[0] - fused[1] > dense[0] - dense[1] + 0.01  # the lexical match widened the margin
    np.testing.assert_allclose(fused[2:], dense[2:], atol=1e-6)  # no query term: BM25 adds nothing
    with pytest.raises(ConfigError, match="BM25 weight"):
        hybrid_scores(rows, encoder, weight=1.0)


def test_hybrid_margins_through_distill_are_cached(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = TrainingPairs(queries=[QUERY, "capital of France"], positives=[LEXICAL, FILLER[1]],
                          negatives=[[OTHER], [FILLER[0]]], source="t")
    cache = EmbeddingCache(tmp_path)
    margins = teacher_margins("hybrid", "auto", pairs, cache=cache, max_seq_length=64)
    assert margins.shape == (2, 1) and (margins > 0).all()

    import embedtune.training.distill as distill

    monkeypatch.setattr(distill, "_hybrid_scores", lambda *a, **k: pytest.fail("scored the rows again"))
    np.testing.assert_array_equal(teacher_margins("hybrid", "auto", pairs, cache=cache, max_seq_length=64,
                                                  student="all-MiniLM-L6-v2"), margins)
