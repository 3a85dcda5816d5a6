"""int8 / binary embeddings: their storage, their scoring, and eval's table of operating points."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embedtune.errors import ConfigError
from embedtune.evaluation import evaluate_model
from embedtune.inference.quantize import (bytes_per_vector, dequantize_int8, int8_ranges, parse_quantize,
                                       quantize_binary, quantize_int8, scoring_space)
from embedtune.models import load_model
from tests.slices import write_beir_slice


def unit_rows(n: int, dim: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_bytes_per_vector() -> None:
    assert [bytes_per_vector(384, p) for p in ("float32", "int8", "binary")] == [1536, 384, 48]
    assert bytes_per_vector(100, "binary") == 13, "bits are rounded up to whole bytes"


def test_int8_codes_are_one_byte_and_within_half_a_step() -> None:
    docs = unit_rows(200, 64)
    ranges = int8_ranges(docs)
    codes = quantize_int8(docs, ranges)
    assert codes.dtype == np.int8 and codes.nbytes == 200 * 64
    step = (ranges[1] - ranges[0]) / 255
    assert (np.abs(dequantize_int8(codes, ranges) - docs) <= step / 2 + 1e-6).all()


def test_binary_scores_rank_by_hamming_distance() -> None:
    queries, docs = unit_rows(5, 100, 1), unit_rows(50, 100, 2)
    packed_q, packed_d = quantize_binary(queries), quantize_binary(docs)
    assert packed_d.shape == (50, 13) and packed_d.dtype == np.uint8
    hamming = np.unpackbits(packed_q[:, None, :] ^ packed_d[None, :, :], axis=2).sum(axis=2).astype(np.int64)
    q, d = scoring_space(queries, docs, "binary")
    assert np.array_equal(q @ d.T, 100 - 2 * hamming)


def test_unknown_quantization_is_one_clear_error() -> None:
    assert parse_quantize("int8,binary") == ["int8", "binary"]
    with pytest.raises(ConfigError) as exc:
        parse_quantize("int4")
    assert str(exc.value) == '--quantize: unknown quantization "int4" (choose from: int8, binary)'


@pytest.fixture(scope="module")
def slice_set(scifact_like: Path, tmp_path_factory: pytest.TempPathFactory):
    from embedtune.data.beir import load_beir

    folder = write_beir_slice(scifact_like, tmp_path_factory.mktemp("scifact"), train_qrels=1,
                              test_qrels=20, distractors=40)
    return load_beir(folder, "test")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory):
    from embedtune.evaluation import EmbeddingCache

    return EmbeddingCache(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def model():
    return load_model(None, max_seq_length=128)


def test_eval_reports_quality_next_to_bytes_per_vector(model, slice_set, cache) -> None:
    report = evaluate_model(model, slice_set, metrics=["ndcg@10", "recall@10"], dims=[128], cache=cache,
                            quantize=["int8", "binary"])
    points = {(p["dim"], p["precision"]): p for p in report.operating_points}
    assert list(points) == [(384, "float32"), (384, "int8"), (384, "binary"),
                            (128, "float32"), (128, "int8"), (128, "binary")]
    assert [p["bytes_per_vector"] for p in report.operating_points] == [1536, 384, 48, 512, 128, 16]
    assert points[(384, "float32")]["metrics"] == report.metrics == report.by_dim[384]
    assert points[(128, "float32")]["metrics"] == report.by_dim[128]
    full = report.metrics["ndcg@10"]
    assert abs(points[(384, "int8")]["metrics"]["ndcg@10"] - full) < 0.02, "int8 costs little"
    assert points[(128, "binary")]["metrics"]["ndcg@10"] < full, "16 bytes do cost quality"
    table = report.to_table()
    assert "bytes/vector" in table and "  128  binary               16" in table
    assert report.to_dict()["operating_points"][2] == {"dim": 384, "precision": "binary", "bytes_per_vector": 48,
                                                       "metrics": points[(384, "binary")]["metrics"]}


def test_eval_two_stage_reranks_the_top_n(model, slice_set, cache) -> None:
    """A CrossEncoder on MiniLM weights (random head): the path runs; its score is not meaningful."""
    import torch
    from sentence_transformers import CrossEncoder

    from embedtune.models import resolve_model

    torch.manual_seed(0)
    reranker = CrossEncoder(resolve_model(None), num_labels=1, max_length=96)
    report = evaluate_model(model, slice_set, metrics=["ndcg@10", "recall@5", "recall@10"], reranker=reranker,
                            reranker_name="random-head", rerank_top=5, cache=cache)
    two = report.two_stage
    assert two["cross_encoder"] == "random-head" and two["rerank_top"] == 5
    assert two["metrics"]["recall@5"] == pytest.approx(report.metrics["recall@5"]), \
        "reordering the top 5 keeps the same 5 documents"
    assert two["metrics"]["recall@10"] == pytest.approx(report.metrics["recall@10"])
    assert two["metrics"]["ndcg@10"] != pytest.approx(report.metrics["ndcg@10"]), "the order did change"
    assert "two-stage: top 5 reranked by random-head: ndcg@10" in report.to_table()
