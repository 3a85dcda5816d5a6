"""Each export format loaded the way its user loads it, against the source model on SciFact-like documents."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embedtune.errors import OutputExistsError
from embedtune.export import NoAdapterError, export_model
from embedtune.models import load_model
from tests.slices import write_beir_slice

ROOT = Path(__file__).resolve().parents[2]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.fixture(scope="module")
def abstracts(scifact_like: Path) -> list[str]:
    with open(scifact_like / "corpus.jsonl", encoding="utf-8") as f:
        return [(d["title"] + " " + d["text"]).strip() for d in map(json.loads, f.readlines()[:12])]


@pytest.fixture(scope="module")
def source():
    return load_model(None)


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder shaped like `train --strategy lora` output: merged model plus adapter/, the adapter non-trivial."""
    import torch

    from embedtune.config import TrainConfig
    from embedtune.training.strategies import STRATEGIES

    out = tmp_path_factory.mktemp("lora-run")
    config = TrainConfig()
    model = STRATEGIES["lora"].prepare(load_model(None), config)
    torch.manual_seed(0)
    with torch.no_grad():  # peft starts B at zero (a no-op adapter); give it weights a training run would
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.02)
    model = STRATEGIES["lora"].finalize(model, out, config)
    model.save(str(out))
    return out


def test_st_export_loads_in_sentence_transformers_unchanged(source, abstracts, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    result = export_model(None, "st", tmp_path / "st")
    exported = SentenceTransformer(str(tmp_path / "st")).encode_document(abstracts)
    assert cosines(exported, source.encode_document(abstracts)).min() >= 0.999
    assert result.min_cosine >= 0.999 and "modules.json" in result.files


def test_onnx_export_runs_on_onnxruntime_without_torch(source, abstracts, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    result = export_model(None, "onnx", tmp_path / "onnx")
    assert result.min_cosine >= 0.999
    # What a user without torch runs: onnxruntime + tokenizers on the folder, in a fresh process.
    script = ("import json, sys; import numpy as np\n"
              "from embedtune.export.onnx_model import OnnxEmbedder\n"
              "texts = json.load(sys.stdin)\n"
              f"emb = OnnxEmbedder({str(tmp_path / 'onnx')!r}).encode(texts)\n"
              "assert 'torch' not in sys.modules, 'torch was imported'\n"
              "np.save(sys.argv[1], emb)\n")
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "emb.npy")], input=json.dumps(abstracts),
                          capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert proc.returncode == 0, proc.stderr[-2000:]
    exported = np.load(tmp_path / "emb.npy")
    assert exported.shape == (len(abstracts), 384)
    assert cosines(exported, source.encode_document(abstracts)).min() >= 0.999
    manifest = json.loads((tmp_path / "onnx" / "embedtune_export.json").read_text())
    assert manifest["output"] == "sentence_embedding" and manifest["file"] == "model.onnx"


@pytest.mark.slow
def test_onnx_int8_export_reports_its_ndcg_loss(scifact_like: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    data = write_beir_slice(scifact_like, tmp_path / "slice", train_qrels=1, test_qrels=40,
                            distractors=160)
    result = export_model(None, "onnx-int8", tmp_path / "int8", eval_data=str(data))
    assert result.files == ["embedtune_export.json", "model-int8.onnx", "tokenizer.json", "tokenizer_config.json"]
    loss = result.ndcg_at_10["source"] - result.ndcg_at_10["exported"]
    print(f"int8 export: min cosine {result.min_cosine:.4f}, nDCG@10 {result.ndcg_at_10['source']:.4f} -> "
          f"{result.ndcg_at_10['exported']:.4f} (loss {loss:+.4f}) on {result.ndcg_at_10['data']}")
    assert 0.9 < result.min_cosine < 0.9999, "int8 is close but not exact"
    assert abs(loss) < 0.05
    assert "nDCG@10 on" in result.to_table()


@pytest.mark.slow
def test_adapter_export_on_the_base_model_matches_the_merged_model(lora_run: Path, abstracts,
                                                                   tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    result = export_model(str(lora_run), "adapter", tmp_path / "adapter")
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "sentence-transformers/all-MiniLM-L6-v2", "no absolute path"
    base = load_model(config["base_model_name_or_path"])
    plain = base.encode_document(abstracts)
    base.load_adapter(str(tmp_path / "adapter"))
    merged = SentenceTransformer(str(lora_run)).encode_document(abstracts)
    assert cosines(base.encode_document(abstracts), merged).min() >= 0.999
    assert cosines(plain, merged).min() < 0.999, "the adapter changes the embeddings (the check can fail)"
    assert result.min_cosine >= 0.999


def test_adapter_export_of_a_model_without_one_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NoAdapterError) as exc:
        export_model(None, "adapter", tmp_path / "out")
    assert str(exc.value) == ('model "all-MiniLM-L6-v2" has no LoRA adapter (no adapter/adapter_config.json): '
                              "only `embedtune train --strategy lora` keeps one; export this model with "
                              "--format st or onnx")
    assert not (tmp_path / "out").exists()


def test_export_never_overwrites_a_folder_silently(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="pass --overwrite to replace it"):
        export_model(None, "st", tmp_path / "out")
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"
