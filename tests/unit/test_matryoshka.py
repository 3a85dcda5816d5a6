"""Matryoshka: scores at truncated sizes (encoded once) and the loss that trains for them, on SciFact-like data."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from embedtune.config import TrainConfig
from embedtune.data import RetrievalSet
from embedtune.data.beir import load_beir
from embedtune.errors import ConfigError
from embedtune.evaluation import evaluate_model, evaluate_run
from embedtune.inference import FastEncoder
from embedtune.models import load_model
from embedtune.training import train_model
from embedtune.training.dev_evaluator import DevRetrievalEvaluator
from embedtune.training.losses import build_loss
from tests.slices import scifact_like_slice

METRICS = ("ndcg@10", "mrr@10", "recall@10", "recall@100")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scifact_like_slice(tmp_path_factory, "matryoshka", train_qrels=30, test_qrels=25, distractors=80)


@pytest.fixture(scope="module")
def scifact(folder: Path) -> RetrievalSet:
    return load_beir(folder, "test")


@pytest.fixture(scope="module")
def model():
    return load_model(None, max_seq_length=64)


def count_encodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    original = FastEncoder.encode

    def counting(self, texts, role="document", **kwargs):
        calls.append(role)
        return original(self, texts, role, **kwargs)

    monkeypatch.setattr(FastEncoder, "encode", counting)
    return calls


def oracle_scores(model, data: RetrievalSet, dims: list[int]) -> dict[int, dict[str, float]]:
    """Metrics from sentence-transformers' own embeddings, cut to each size and re-normalised by hand."""
    qids = data.evaluable_query_ids()
    doc_ids = list(data.corpus)
    queries = model.encode_query([data.queries[q] for q in qids], convert_to_numpy=True)
    documents = model.encode_document([data.corpus[d] for d in doc_ids], convert_to_numpy=True)
    out = {}
    for dim in dims:
        q, d = queries[:, :dim], documents[:, :dim]
        scores = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ (d / np.linalg.norm(d, axis=1, keepdims=True)).T
        run = {qid: dict(zip(doc_ids, map(float, scores[i]))) for i, qid in enumerate(qids)}
        out[dim] = evaluate_run({qid: data.qrels[qid] for qid in qids}, run, METRICS)[0]
    return out


def test_each_size_scores_like_truncating_by_hand_and_the_texts_are_encoded_once(
        model, scifact: RetrievalSet, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_encodes(monkeypatch)
    report = evaluate_model(model, scifact, metrics=METRICS, dims=[64, 256, 32], backend="sentence-transformers")
    assert sorted(calls) == ["document", "query"], "one encoding of the corpus and the queries for every size"
    assert list(report.by_dim) == [384, 256, 64, 32], "largest first, with the full size for reference"
    assert report.by_dim[384] == report.metrics
    oracle = oracle_scores(model, scifact, [256, 64, 32])
    for dim in (256, 64, 32):
        assert report.by_dim[dim] == pytest.approx(oracle[dim], abs=1e-9), dim
    assert report.by_dim[32]["ndcg@10"] != report.metrics["ndcg@10"], "32 of 384 dimensions rank differently"


def test_report_shows_one_column_per_size_and_keeps_its_json_keys(model, scifact: RetrievalSet) -> None:
    plain = evaluate_model(model, scifact, metrics=METRICS)
    report = evaluate_model(model, scifact, metrics=METRICS, dims=[128])
    assert plain.by_dim == {} and plain.to_dict()["by_dim"] == {}
    data = json.loads(json.dumps(report.to_dict()))
    assert set(data) == set(plain.to_dict())
    assert data["by_dim"] == {"384": report.metrics, "128": report.by_dim[128]}
    table = report.to_table().splitlines()
    assert table[0].split() == ["metric", "dim", "384", "dim", "128"]
    assert table[2].split() == ["ndcg@10", f"{report.metrics['ndcg@10']:.4f}", f"{report.by_dim[128]['ndcg@10']:.4f}"]


def test_a_size_above_the_model_s_fails_before_encoding(model, scifact: RetrievalSet,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_encodes(monkeypatch)
    with pytest.raises(ConfigError) as exc:
        evaluate_model(model, scifact, dims=[384, 512], model_name="sentence-transformers/all-MiniLM-L6-v2")
    assert str(exc.value) == ("dims: 512 is larger than the embedding dimension of "
                              "sentence-transformers/all-MiniLM-L6-v2 (384); use sizes up to 384")
    assert calls == []


def test_training_refuses_a_size_above_the_model_s_before_making_the_output(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        train_model(folder, tmp_path / "out", TrainConfig(matryoshka_dims=[768, 384], max_seq_length=32))
    assert str(exc.value) == ("matryoshka_dims: 768 is larger than the embedding dimension of "
                              "sentence-transformers/all-MiniLM-L6-v2 (384); use sizes up to 384")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("loss", ["mnrl", "cached_mnrl"])
def test_the_loss_is_wrapped_and_trains_every_size(model, loss: str) -> None:
    from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss

    assert not isinstance(build_loss(model, TrainConfig(loss=loss), distributed=False), MatryoshkaLoss)
    wrapped = build_loss(model, TrainConfig(loss=loss, mini_batch_size=2, matryoshka_dims=[64, 384]),
                         distributed=False)
    assert isinstance(wrapped, MatryoshkaLoss) and wrapped.matryoshka_dims == (384, 64)
    weighted = build_loss(model, TrainConfig(matryoshka_dims="64,384", matryoshka_weights="3,1"), distributed=False)
    assert weighted.matryoshka_dims == (384, 64) and weighted.matryoshka_weights == (1.0, 3.0), "weights follow sizes"
    assert wrapped.uses_gradient_cache == (loss == "cached_mnrl")

    # One real step on 3 pairs: a finite loss, and gradients that reach the transformer.
    features = [dict(model.preprocess(["what do T cells do", "aspirin trial", "protein folding"])),
                dict(model.preprocess(["T cells fight infection.", "Aspirin lowered risk.", "Folding is slow."]))]
    model.train()
    model.zero_grad()
    try:
        value = wrapped(features, None)
        value.backward()
    finally:
        model.eval()
    assert torch.isfinite(value)
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    model.zero_grad()


def test_dev_selection_averages_the_trained_sizes(model, scifact: RetrievalSet) -> None:
    """With Matryoshka sizes the checkpoint metric is the mean dev nDCG@10 over the full and truncated sizes."""
    plain = DevRetrievalEvaluator(scifact)(model)
    by_dims = DevRetrievalEvaluator(scifact, dims=[128, 64])(model)
    assert "dev_ndcg@10_dims_mean" not in plain and plain["dev_ndcg@10"] == by_dims["dev_ndcg@10"]
    truncated = evaluate_model(model, scifact, metrics=("ndcg@10",), dims=[128, 64]).by_dim
    assert by_dims["dev_ndcg@10@128"] == pytest.approx(truncated[128]["ndcg@10"])
    assert by_dims["dev_ndcg@10_dims_mean"] == pytest.approx(
        (truncated[384]["ndcg@10"] + truncated[128]["ndcg@10"] + truncated[64]["ndcg@10"]) / 3)
    assert by_dims["dev_ndcg@10_dims_mean"] != by_dims["dev_ndcg@10"]


@pytest.mark.parametrize(("settings", "metric"), [
    ({}, "eval_dev_ndcg@10"),
    ({"matryoshka_dims": [384, 128]}, "eval_dev_ndcg@10_dims_mean"),
    ({"matryoshka_dims": [384, 128], "select_on": "full"}, "eval_dev_ndcg@10"),
])
def test_matryoshka_runs_select_on_the_sizes_unless_told_otherwise(settings: dict, metric: str,
                                                                   scifact: RetrievalSet) -> None:
    assert DevRetrievalEvaluator(scifact, dims=TrainConfig(**settings).selection_dims).best_model_metric == metric


def test_the_model_card_shows_the_mean_over_sizes_that_chose_the_checkpoint() -> None:
    from embedtune.training.model_card import render_model_card
    from embedtune.training.train import TrainResult

    history = [{"step": 10, "eval_dev_ndcg@10": 0.80, "eval_dev_mrr@10": 0.7, "eval_dev_ndcg@10_dims_mean": 0.75},
               {"step": 20, "eval_dev_ndcg@10": 0.81, "eval_dev_mrr@10": 0.7, "eval_dev_ndcg@10_dims_mean": 0.74}]
    result = TrainResult(model_dir="runs/x", config=TrainConfig(matryoshka_dims=[384, 128]).to_dict(), data="scifact",
                         before=None, after=None, heldout_split=None, dev_history=history, best_step=10)
    card = render_model_card(result, base_model="base", base_path="/base")
    assert "the best one, by dev nDCG@10 averaged over the trained sizes, is the saved model" in card
    assert "| 10 (saved) | 0.8000 | 0.7000 | 0.7500 |\n| 20 | 0.8100 | 0.7000 | 0.7400 |" in card
