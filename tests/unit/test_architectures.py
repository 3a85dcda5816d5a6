"""Every architecture users bring, through train (full and LoRA), eval, export and serve.

Tiny random-weight models of BERT, MPNet, XLM-RoBERTa, ModernBERT and the decoders Qwen3 (last-token
pooling, left padding) and Gemma3 are built from transformers configs inside the test. Each must
train, score, export to ONNX (fp32 and int8) and serve, and every embedtune encoder must give the
embeddings plain ``SentenceTransformer(path).encode`` gives (a wrong pooling, padding side or
prompt shows up as a low cosine).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.tiny_models import ARCHITECTURES, tiny_model

TEXTS = ["How do I reset my password?", "ok", "def read_config(path): return yaml.safe_load(open(path))",
         "The Treaty of Westphalia ended the Thirty Years' War in 1648. " * 6]
PROMPTS = {"query": "query: ", "document": "passage: "}
EXACT = 0.9999  # fp32 paths
INT8 = 0.99  # dynamic int8 weights on a random tiny model


def _min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float((a * b).sum(axis=1).min())


def _pairs(path: Path) -> Path:
    path.write_text("".join(json.dumps({"query": f"question {i} on topic {i % 5}",
                                        "positive": f"answer {i} about topic {i % 5}"}) + "\n" for i in range(40)),
                    encoding="utf-8")
    return path


def _beir(folder: Path) -> Path:
    folder.mkdir()
    (folder / "qrels").mkdir()
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": f"d{i}", "title": "", "text": f"answer {i}"})
                                                 + "\n" for i in range(12)), encoding="utf-8")
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": f"q{i}", "text": f"question {i}"}) + "\n"
                                                  for i in range(6)), encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n"
                                               + "".join(f"q{i}\td{i}\t1\n" for i in range(6)), encoding="utf-8")
    return folder


@pytest.fixture(scope="module", params=list(ARCHITECTURES))
def model_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp(request.param) / "model", request.param, prompts=PROMPTS)


@pytest.mark.parametrize("backend", ["torch", "onnx", "onnx-int8"])
def test_fast_encoders_match_plain_sentence_transformers(model_dir: Path, backend: str, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    from embedtune.inference import FastEncoder

    model = SentenceTransformer(str(model_dir), device="cpu")
    encoder = FastEncoder(model, backend, export_dir=tmp_path / "onnx")  # type: ignore[arg-type]
    assert encoder.backend == backend, "no architecture falls back to sentence-transformers"
    for role, reference in (("query", model.encode_query), ("document", model.encode_document)):
        cosine = _min_cosine(encoder.encode(TEXTS, role), reference(TEXTS, convert_to_numpy=True))
        assert cosine >= (INT8 if backend == "onnx-int8" else EXACT), (role, cosine)


@pytest.mark.parametrize("fmt", ["onnx", "onnx-int8"])
def test_the_export_loaded_back_matches_the_model(model_dir: Path, fmt: str, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    from embedtune.export import export_model
    from embedtune.export.onnx_model import OnnxEmbedder

    result = export_model(str(model_dir), fmt, tmp_path / "export")
    model = SentenceTransformer(str(model_dir), device="cpu")
    loaded = OnnxEmbedder(tmp_path / "export")
    cosine = _min_cosine(loaded.encode(TEXTS, "query"), model.encode_query(TEXTS, convert_to_numpy=True))
    threshold = INT8 if fmt == "onnx-int8" else EXACT
    assert cosine >= threshold and result.min_cosine >= threshold, (cosine, result.min_cosine)


@pytest.mark.parametrize("strategy", ["full", "lora"])
def test_trains_scores_and_serves(model_dir: Path, strategy: str, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from sentence_transformers import SentenceTransformer

    from embedtune.config import TrainConfig
    from embedtune.data.beir import load_beir
    from embedtune.evaluation.evaluate import evaluate_model
    from embedtune.serving.server import create_app
    from embedtune.training import train_model

    out = tmp_path / "trained"
    result = train_model(_pairs(tmp_path / "pairs.jsonl"), out,
                         TrainConfig(model=str(model_dir), strategy=strategy, epochs=1, batch_size=8,
                                     max_seq_length=32, recipe="fixed"), show_progress=False)
    assert result.num_train_pairs > 0
    trained = SentenceTransformer(str(out), device="cpu")
    assert trained.prompts["query"] == PROMPTS["query"], "the model's own prompts are kept"
    if strategy == "lora":
        adapter = json.loads((out / "adapter" / "adapter_config.json").read_text(encoding="utf-8"))
        assert adapter["target_modules"], "adapters on the model's own layer names"

    report = evaluate_model(trained, load_beir(_beir(tmp_path / "beir"), "test"), metrics=("ndcg@10",))
    assert 0.0 <= report.metrics["ndcg@10"] <= 1.0

    with TestClient(create_app(trained, model_name="tiny")) as client:
        response = client.post("/v1/embeddings", json={"input": TEXTS[:2], "model": "tiny"})
    assert response.status_code == 200, response.text
    served = np.array([row["embedding"] for row in response.json()["data"]], dtype=np.float32)
    assert _min_cosine(served, trained.encode_document(TEXTS[:2], convert_to_numpy=True)) >= EXACT


def test_lora_targets_the_attention_of_every_architecture(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    from embedtune.training.lora_targets import resolve_lora_targets

    attention = {"bert": {"query", "key", "value"}, "mpnet": {"q", "k", "v", "o"},
                 "xlm-roberta": {"query", "key", "value"}, "modernbert": {"Wqkv", "Wo"},
                 "qwen3": {"q_proj", "k_proj", "v_proj", "o_proj"}, "gemma3": {"q_proj", "k_proj", "v_proj", "o_proj"}}
    for architecture, names in attention.items():
        model = SentenceTransformer(str(tiny_model(tmp_path / architecture, architecture)), device="cpu")
        targets = resolve_lora_targets(model.transformers_model, None)
        assert names <= set(targets.target_modules), (architecture, targets)
        assert all(not path.startswith("pooler") or path in targets.exclude_modules
                   for paths in [targets.exclude_modules] for path in paths)
        if architecture == "bert":
            assert targets.exclude_modules == ["pooler.dense"], "the pooler head gets no adapter"


def test_a_lora_target_that_matches_nothing_names_the_models_layers(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    from embedtune.errors import ConfigError
    from embedtune.training.lora_targets import resolve_lora_targets

    model = SentenceTransformer(str(tiny_model(tmp_path / "m", "mpnet")), device="cpu")
    with pytest.raises(ConfigError, match=r"query matches no linear layer.*named: dense, k, o, q, v"):
        resolve_lora_targets(model.transformers_model, ["query", "q"])


def test_last_token_training_appends_eos_and_the_saved_model_keeps_it(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    from embedtune.config import TrainConfig
    from embedtune.last_token import ends_with_eos
    from embedtune.training import train_model

    base = SentenceTransformer(str(tiny_model(tmp_path / "qwen3", "qwen3")), device="cpu")
    assert not ends_with_eos(base), "a decoder LLM's tokenizer adds no EOS by itself"
    out = tmp_path / "trained"
    train_model(_pairs(tmp_path / "pairs.jsonl"), out,
                TrainConfig(model=str(tmp_path / "qwen3"), epochs=1, batch_size=8, max_seq_length=32,
                            recipe="fixed"), show_progress=False)
    trained = SentenceTransformer(str(out), device="cpu")
    assert ends_with_eos(trained)
    assert trained.tokenizer.padding_side == "left"


@pytest.mark.parametrize("pooling", ["mean", "cls", "max", "lasttoken", "weightedmean", "mean_sqrt_len_tokens"])
def test_every_pooling_mode_on_the_fast_path(pooling: str, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    from embedtune.inference import FastEncoder

    model = SentenceTransformer(str(tiny_model(tmp_path / "m", "bert", pooling=pooling)), device="cpu")
    reference = model.encode_document(TEXTS, convert_to_numpy=True)
    for backend in ("torch", "onnx"):
        encoder = FastEncoder(model, backend, export_dir=tmp_path / "onnx")  # type: ignore[arg-type]
        assert encoder.backend == backend
        assert _min_cosine(encoder.encode(TEXTS), reference) >= EXACT, (pooling, backend)


def test_gradient_checkpointing_trains_to_the_same_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Recomputing activations changes memory, not the result."""
    from safetensors.numpy import load_file
    from sentence_transformers import SentenceTransformer

    enabled = []
    name = next(n for n in ("activation_checkpointing_enable", "gradient_checkpointing_enable")
                if hasattr(SentenceTransformer, n))
    original = getattr(SentenceTransformer, name)

    def record(self: SentenceTransformer, *args: object, **kwargs: object) -> None:
        enabled.append(True)
        original(self, *args, **kwargs)

    monkeypatch.setattr(SentenceTransformer, name, record)

    from embedtune.config import TrainConfig
    from embedtune.training import train_model

    model = tiny_model(tmp_path / "m", "bert")
    pairs = _pairs(tmp_path / "pairs.jsonl")
    weights = []
    for checkpointing in (False, True):
        out = tmp_path / f"run-{checkpointing}"
        train_model(pairs, out, TrainConfig(model=str(model), epochs=1, batch_size=8, max_seq_length=32, recipe="fixed",
                                            precision="fp32", gradient_checkpointing=checkpointing),
                    show_progress=False)
        weights.append(load_file(str(out / "model.safetensors")))
    assert enabled == [True], "only the second run recomputes activations"
    assert weights[0].keys() == weights[1].keys()
    assert all(np.allclose(weights[0][k], weights[1][k], atol=1e-5) for k in weights[0])
