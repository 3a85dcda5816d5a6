"""Evaluating the same model twice must not re-encode; any change to weights or texts must."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from embedtune.data import RetrievalSet
from embedtune.evaluation import EmbeddingCache, evaluate_model
from embedtune.inference.cache import model_fingerprint
from embedtune.models import load_model

CORPUS = {f"d{i}": f"document number {i} about topic {i % 5}" for i in range(30)}
DATA = RetrievalSet(corpus=CORPUS, queries={"q1": "topic 3", "q2": "number 7"},
                    qrels={"q1": {"d3": 1}, "q2": {"d7": 1}}, source="inline", split="test")


@pytest.fixture(scope="module")
def model():
    return load_model(None, max_seq_length=32)


def count_document_encodes(model, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of the document batches handed to any encoding backend."""
    from embedtune.inference import FastEncoder

    calls: list[int] = []
    original = FastEncoder.encode

    def counting(self, texts, role="document", **kwargs):
        if role == "document":
            calls.append(len(texts))
        return original(self, texts, role, **kwargs)

    monkeypatch.setattr(FastEncoder, "encode", counting)
    return calls


def test_second_evaluation_reads_the_cache(model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_document_encodes(model, monkeypatch)
    cache = EmbeddingCache(tmp_path)
    first = evaluate_model(model, DATA, cache=cache)
    second = evaluate_model(model, DATA, cache=cache)
    assert calls == [30], "the corpus is encoded once, then read from disk"
    assert second.metrics == first.metrics
    assert len(list(tmp_path.glob("documents-*.npy"))) == 1


def test_changed_texts_or_weights_miss_the_cache(model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_document_encodes(model, monkeypatch)
    cache = EmbeddingCache(tmp_path)
    evaluate_model(model, DATA, cache=cache)
    edited = RetrievalSet(corpus={**CORPUS, "d0": "a different first document"}, queries=DATA.queries,
                          qrels=DATA.qrels)
    evaluate_model(model, edited, cache=cache)
    before = model_fingerprint(model)
    weight = next(model.parameters())
    saved = weight.detach().clone()
    with torch.no_grad():
        weight.add_(1e-3)
    try:
        assert model_fingerprint(model) != before
        evaluate_model(model, DATA, cache=cache)
    finally:
        with torch.no_grad():
            weight.copy_(saved)
    assert calls == [30, 30, 30]
    assert model_fingerprint(model) == before


def test_approximate_embeddings_never_share_an_exact_cache_entry(model, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_document_encodes(model, monkeypatch)
    cache = EmbeddingCache(tmp_path)
    evaluate_model(model, DATA, cache=cache, backend="torch")
    evaluate_model(model, DATA, cache=cache, backend="sentence-transformers")  # exact: same entry
    evaluate_model(model, DATA, cache=cache, backend="torch-bf16")  # approximate: its own entry
    assert calls == [30, 30]
    names = [p.name for p in tmp_path.glob("documents-*.npy")]
    assert len(names) == 2 and sum(n.startswith("documents-torch-bf16-") for n in names) == 1


def test_the_fingerprint_follows_the_tokenisation(tmp_path: Path) -> None:
    """Embeddings of texts cut at 48 tokens must not be served to the same weights at 256, nor to a
    tokenizer that now ends texts with EOS."""
    from sentence_transformers import SentenceTransformer

    from embedtune.inference.cache import model_fingerprint
    from embedtune.last_token import append_eos_for_last_token
    from tests.tiny_models import tiny_model

    model = SentenceTransformer(str(tiny_model(tmp_path / "qwen3", "qwen3")), device="cpu")
    first = model_fingerprint(model)
    model.max_seq_length = 48
    shorter = model_fingerprint(model)
    assert shorter != first
    assert append_eos_for_last_token(model)
    assert model_fingerprint(model) not in (first, shorter)
