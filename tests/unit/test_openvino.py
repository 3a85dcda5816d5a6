"""The OpenVINO backends and exports: fp32 parity with sentence-transformers, static int8 calibrated on the corpus."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embedtune.errors import ConfigError, EmbedtuneError
from embedtune.inference import FastEncoder
from embedtune.inference.openvino_backend import (
    FP32_FILE,
    INT8_FILE,
    MIN_CALIBRATION_TEXTS,
    calibration_sample,
)
from embedtune.models import load_model
from tests.slices import write_beir_slice

pytest.importorskip("openvino")
pytest.importorskip("nncf")


@pytest.fixture(scope="module")
def model():
    return load_model(None, max_seq_length=128)


@pytest.fixture(scope="module")
def documents(scifact_like: Path) -> list[str]:
    with open(scifact_like / "corpus.jsonl", encoding="utf-8") as f:
        return [(d["title"] + " " + d["text"]).strip() for d in map(json.loads, f.readlines()[:60])]


@pytest.fixture(scope="module")
def ov_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the module's OpenVINO files: the model is converted once."""
    return tmp_path_factory.mktemp("openvino")


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_openvino_reproduces_sentence_transformers(model, documents: list[str], ov_dir: Path) -> None:
    encoder = FastEncoder(model, "openvino", export_dir=ov_dir)
    fast = encoder.encode(documents[:40], "document")
    assert np.abs(fast - model.encode_document(documents[:40], convert_to_numpy=True)).max() < 1e-5
    assert (ov_dir / FP32_FILE).is_file() and (ov_dir / FP32_FILE).with_suffix(".bin").is_file()
    assert not list(ov_dir.glob(".export-*")), "no half-written export left behind"
    assert any(key.startswith("FullyConnected") for key in encoder.kernels()), encoder.kernels()


def test_openvino_int8_is_calibrated_on_the_corpus_it_serves(model, documents: list[str], ov_dir: Path) -> None:
    import openvino as ov

    encoder = FastEncoder(model, "openvino-int8", export_dir=ov_dir)
    encoder.use_corpus(documents)
    queries = encoder.encode(["vitamin d and infections", "gene expression in yeast"], "query")
    assert queries.shape == (2, 384), "two texts are too few to calibrate on: the corpus calibrated"
    quantized = list(ov_dir.glob(f"calibrated-*/{INT8_FILE}"))
    assert len(quantized) == 1
    ops = {op.get_type_name() for op in ov.Core().read_model(str(quantized[0])).get_ops()}
    assert "FakeQuantize" in ops, "activations and weights are quantized (static int8)"
    fast = encoder.encode(documents[:40], "document")
    similarity = cosines(fast, model.encode_document(documents[:40], convert_to_numpy=True))
    assert similarity.min() > 0.97 and np.abs(similarity - 1).max() > 1e-6, "close, but not fp32"

    FastEncoder(model, "openvino-int8", export_dir=ov_dir, calibration=documents[:40]).encode(documents[:2])
    assert len(list(ov_dir.glob(f"calibrated-*/{INT8_FILE}"))) == 2, "another corpus, another int8 model"


def test_too_few_texts_to_calibrate_is_one_clear_error(model, ov_dir: Path) -> None:
    with pytest.raises(ConfigError, match=f"3 given, at least {MIN_CALIBRATION_TEXTS} needed"):
        FastEncoder(model, "openvino-int8", export_dir=ov_dir).encode(["a", "b", "c"])
    sample = calibration_sample([f"text {i}" for i in range(1000)], size=10)
    assert sample == [f"text {i}" for i in range(0, 1000, 100)], "spread over the corpus, not its head"


def test_openvino_int8_export_is_a_sentence_transformers_folder(scifact_like: Path, tmp_path: Path,
                                                                capfd: pytest.CaptureFixture[str]) -> None:
    from sentence_transformers import SentenceTransformer

    from embedtune.export import export_model

    data = write_beir_slice(scifact_like, tmp_path / "slice", train_qrels=1, test_qrels=12, distractors=24)
    result = export_model(None, "openvino-int8", tmp_path / "ov", eval_data=str(data))
    assert capfd.readouterr().out == "", "stdout is the command's (`export --json -`): NNCF's progress goes to stderr"
    assert "openvino" in result.files and "modules.json" in result.files
    assert {INT8_FILE, FP32_FILE} <= {p.name for p in (tmp_path / "ov" / "openvino").iterdir()}
    # The probes include "ok" and a long repeated sentence, unlike the calibration documents: the
    # lowest probe cosine was 0.897-0.908 here, while the retrieval score did not move.
    assert 0.85 < result.min_cosine < 0.99999, "int8 is close (on probe texts unlike the corpus) but not exact"
    assert abs(result.ndcg_at_10["source"] - result.ndcg_at_10["exported"]) < 0.05
    # Loaded again, the exported int8 model is used as it is: no corpus needed.
    loaded = FastEncoder(SentenceTransformer(str(tmp_path / "ov")), "openvino-int8",
                         export_dir=tmp_path / "ov" / "openvino")
    assert loaded.encode(["one text"]).shape == (1, 384)
    # The folder as the model (`eval --model dist/ov --backend openvino-int8`): its own int8 model runs,
    # none is calibrated on the corpus at hand, and nothing is written into the folder.
    from embedtune.inference.search import make_encoder

    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "ov").rglob("*"))
    texts = [json.loads(line)["text"] for line in (data / "corpus.jsonl").read_text().splitlines()]
    as_model = make_encoder(SentenceTransformer(str(tmp_path / "ov")), "openvino-int8", corpus=texts)
    np.testing.assert_array_equal(as_model.encode(texts[:3]), loaded.encode(texts[:3]))
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "ov").rglob("*")) == before


def test_openvino_int8_export_without_documents_is_one_clear_error(tmp_path: Path) -> None:
    from embedtune.export import export_model

    with pytest.raises(EmbedtuneError, match="--format openvino-int8 calibrates on your documents"):
        export_model(None, "openvino-int8", tmp_path / "ov")
    assert not (tmp_path / "ov").exists()


def test_a_folder_ships_its_openvino_model_only_when_the_file_is_there(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from embedtune.inference.openvino_backend import shipped_in
    from embedtune.serving.server import _ships_int8

    (tmp_path / "openvino").mkdir()
    (tmp_path / "openvino" / FP32_FILE).write_text("<net/>")
    (tmp_path / "0_Transformer").mkdir()
    assert shipped_in(tmp_path, int8=False) == tmp_path / "openvino"
    assert shipped_in(tmp_path / "0_Transformer", int8=False) is None, "a folder beside, not a model's module"
    (tmp_path / "modules.json").write_text("[]")
    assert shipped_in(tmp_path / "0_Transformer", int8=False) == tmp_path / "openvino"  # modules in a subfolder
    assert shipped_in(tmp_path, int8=True) is None and not _ships_int8(str(tmp_path))
    (tmp_path / "openvino" / INT8_FILE).write_text("<net/>")
    assert shipped_in(tmp_path, int8=True) == tmp_path / "openvino" and _ships_int8(str(tmp_path))
    assert not _ships_int8("all-MiniLM-L6-v2")  # a hub id is not a folder
    monkeypatch.chdir(tmp_path)  # ... even where the working directory is a model folder with an int8 model
    assert shipped_in("all-MiniLM-L6-v2", int8=True) is None
