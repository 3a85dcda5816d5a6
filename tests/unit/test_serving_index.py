"""Index building, reopening and two-stage search on a small slice of the SciFact-like fixture set."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("faiss")

from embedtune.errors import OutputExistsError  # noqa: E402
from embedtune.evaluation import EmbeddingCache  # noqa: E402
from embedtune.inference.search import encode_documents, encode_queries, exact_top_k  # noqa: E402
from embedtune.models import load_model  # noqa: E402
from embedtune.serving import IndexFolderError, SearchIndex, Searcher, build_index  # noqa: E402
from embedtune.serving.index import make_faiss_index  # noqa: E402
from tests.slices import write_beir_slice  # noqa: E402

MAX_LEN = 128


@pytest.fixture(scope="module")
def corpus_dir(scifact_like: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 judged SciFact-like test queries with their documents plus 40 distractors (~60 documents)."""
    return write_beir_slice(scifact_like, tmp_path_factory.mktemp("scifact"), train_qrels=1,
                            test_qrels=20, distractors=40)


@pytest.fixture(scope="module")
def model():
    return load_model(None, max_seq_length=MAX_LEN)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> EmbeddingCache:
    return EmbeddingCache(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def index_dir(corpus_dir: Path, cache: EmbeddingCache, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("idx") / "index"
    build_index(None, corpus_dir, out, max_seq_length=MAX_LEN, cache=cache)
    return out


@pytest.fixture(scope="module")
def queries(corpus_dir: Path) -> list[str]:
    with open(corpus_dir / "queries.jsonl", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f][:10]


@pytest.fixture(scope="module")
def vectors(index_dir: Path, model, queries: list[str], cache: EmbeddingCache) -> tuple[np.ndarray, np.ndarray]:
    """(query, document) embeddings, documents in the index's order (from the cache the index filled)."""
    return encode_queries(model, queries), encode_documents(model, SearchIndex(index_dir).texts, cache=cache)


def test_saved_flat_index_reopens_and_matches_exact_search(index_dir: Path, vectors) -> None:
    index = SearchIndex(index_dir)
    assert index.info.kind == "flat" and index.info.count == len(index) == len(index.texts)
    assert index.info.max_seq_length == MAX_LEN
    queries, documents = vectors
    scores, rows = index.search(queries, 5)
    exact_scores, exact_rows = exact_top_k(queries, documents, 5)
    assert np.allclose(scores, exact_scores, atol=1e-5)
    assert (rows[:, 0] == exact_rows[:, 0]).all()


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_indexes_find_what_the_exact_one_finds(index_dir: Path, vectors, kind: str) -> None:
    queries, documents = vectors
    approximate = make_faiss_index(documents, kind)
    _, rows = approximate.search(queries, 5)
    _, exact = SearchIndex(index_dir).search(queries, 5)
    overlap = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(rows, exact)])
    assert overlap >= 0.9, f"{kind} recall@5 against exact search: {overlap:.2f}"


def test_a_document_text_finds_itself_first(index_dir: Path, model) -> None:
    index = SearchIndex(index_dir)
    searcher = Searcher(index, model)
    hits = searcher.search([index.texts[7], index.texts[30]], top_k=3)
    assert [h[0].id for h in hits] == [index.doc_ids[7], index.doc_ids[30]]
    assert hits[0][0].score == pytest.approx(1.0, abs=1e-4) and hits[0][0].rerank_score is None


def test_rerank_reorders_the_dense_top_n_by_the_cross_encoder(index_dir: Path, model, queries: list[str],
                                                               tmp_path: Path) -> None:
    """A CrossEncoder on MiniLM weights has a random head: it exercises the path, it does not rank well."""
    import torch
    from sentence_transformers import CrossEncoder

    from embedtune.models import resolve_model
    from embedtune.serving import load_cross_encoder

    torch.manual_seed(0)
    CrossEncoder(resolve_model(None), num_labels=1, max_length=96).save(str(tmp_path / "ce"))
    reranker = load_cross_encoder(str(tmp_path / "ce"))
    index = SearchIndex(index_dir)
    dense = Searcher(index, model).search(queries[:2], top_k=8)
    reranked = Searcher(index, model, reranker=reranker, rerank_top=8).search(queries[:2], top_k=8)
    for before, after in zip(dense, reranked):
        assert {h.id for h in after} == {h.id for h in before}, "stage two only reorders the top N"
        ce = [h.rerank_score for h in after]
        assert ce == sorted(ce, reverse=True) and all(h.score == h.rerank_score for h in after)
        expected = reranker.predict([(queries[dense.index(before)], h.text) for h in before])
        assert sorted(ce, reverse=True) == pytest.approx(sorted(expected.tolist(), reverse=True), abs=1e-5)


def test_an_index_refuses_another_model(index_dir: Path) -> None:
    import torch

    other = load_model(None, max_seq_length=MAX_LEN)
    with torch.no_grad():  # another fine-tune of the same architecture
        next(other.parameters()).add_(1e-3)
    with pytest.raises(IndexFolderError) as exc:
        SearchIndex(index_dir).check_model(other, "short-model")
    assert str(exc.value) == (f'index "{index_dir}" was built with model sentence-transformers/all-MiniLM-L6-v2, '
                              "not short-model: its vectors mean nothing to this model; rebuild it with "
                              "`embedtune index --model`")


def test_opening_a_folder_that_is_no_index_says_so(tmp_path: Path) -> None:
    with pytest.raises(IndexFolderError) as exc:
        SearchIndex(tmp_path)
    assert str(exc.value) == (f'"{tmp_path}" is not an embedtune index (missing index.faiss, documents.jsonl, '
                              "index.json); build one with `embedtune index`")


def test_index_never_overwrites_a_folder_silently(corpus_dir: Path, index_dir: Path) -> None:
    with pytest.raises(OutputExistsError, match="pass --overwrite to replace it"):
        build_index(None, corpus_dir, index_dir)
    assert SearchIndex(index_dir).info.count > 0
