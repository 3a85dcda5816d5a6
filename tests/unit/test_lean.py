"""Encoding an OpenVINO export without PyTorch: the same tokens, pooling and embeddings as the torch path."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embedtune.errors import ConfigError
from embedtune.inference.lean import Head, LeanEncoder, pool

pytest.importorskip("openvino")
pytest.importorskip("nncf")

TEXTS = ["  Leading and trailing spaces  ", "word " * 400, "Ünïcödé — dashes, “quotes”", "", "x",
         "Line one.\nLine two\twith a tab", "Vitamin D deficiency and respiratory infections"]


@pytest.fixture(scope="module")
def exported(scifact_like: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An `embedtune export --format openvino-int8` folder of all-MiniLM-L6-v2 (fp32 and int8 graphs)."""
    from embedtune.export import export_model
    from tests.slices import write_beir_slice

    root = tmp_path_factory.mktemp("lean")
    data = write_beir_slice(scifact_like, root / "slice", train_qrels=1, test_qrels=12, distractors=24)
    export_model(None, "openvino-int8", root / "ov", calibration_data=str(data))
    return root / "ov"


def test_the_tokens_are_sentence_transformers_own(exported: Path) -> None:
    from sentence_transformers import SentenceTransformer

    from embedtune.inference.batching import tokenize

    model = SentenceTransformer(str(exported))
    lean = LeanEncoder(exported, int8=False)
    expected = tokenize(model, TEXTS)
    got = lean.tokenize(TEXTS)
    assert [ids.tolist() for ids in got.input_ids] == [ids.tolist() for ids in expected.input_ids]
    assert max(len(ids) for ids in got.input_ids) == model.max_seq_length, "long texts are truncated alike"


def test_fp32_embeddings_are_the_models_and_int8_the_int8_backends(exported: Path) -> None:
    from sentence_transformers import SentenceTransformer

    from embedtune.inference import FastEncoder

    model = SentenceTransformer(str(exported))
    fp32 = LeanEncoder(exported, int8=False).encode(TEXTS, "document")
    assert np.abs(fp32 - model.encode_document(TEXTS, convert_to_numpy=True)).max() < 1e-5
    int8 = LeanEncoder(exported, int8=True)
    torch_path = FastEncoder(model, "openvino-int8")  # the folder ships its int8 graph: that one runs
    assert np.abs(int8.encode(TEXTS, "query") - torch_path.encode(TEXTS, "query")).max() < 1e-5
    assert any(key.endswith("I8 u8") or "i8" in key.lower() for key in int8.runner.kernels()), int8.runner.kernels()


def test_prompts_are_applied_per_role(exported: Path, tmp_path: Path) -> None:
    import shutil

    from sentence_transformers import SentenceTransformer

    from embedtune.inference.batching import tokenize
    from embedtune.prompts import role_prompt

    folder = tmp_path / "prompted"
    shutil.copytree(exported, folder)
    config_path = folder / "config_sentence_transformers.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["prompts"] = {"query": "query: ", "document": "passage: "}
    config_path.write_text(json.dumps(config), encoding="utf-8")
    model, lean = SentenceTransformer(str(folder)), LeanEncoder(folder, int8=False)
    for role in ("query", "document"):
        assert lean.prompt(role) == role_prompt(model, role)
        expected = tokenize(model, TEXTS, prompt=role_prompt(model, role))
        assert [i.tolist() for i in lean.tokenize(TEXTS, role).input_ids] == [i.tolist() for i in expected.input_ids]


@pytest.mark.parametrize("mode", ["cls", "max", "mean", "mean_sqrt_len_tokens", "lasttoken"])
@pytest.mark.parametrize("left_padded", [False, True])
def test_pooling_matches_sentence_transformers(mode: str, left_padded: bool) -> None:
    import torch
    from sentence_transformers.sentence_transformer.modules import Pooling

    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(4, 7, 8)).astype(np.float32)
    lengths = [7, 5, 2, 1]
    mask = np.zeros((4, 7), dtype=np.int64)
    for row, length in enumerate(lengths):
        if left_padded:
            mask[row, 7 - length:] = 1
        else:
            mask[row, :length] = 1
    expected = Pooling(8, pooling_mode=mode)({"token_embeddings": torch.from_numpy(hidden),
                                             "attention_mask": torch.from_numpy(mask)})["sentence_embedding"]
    got = pool(hidden, mask, Head((mode,), None, normalize=False))
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5, atol=1e-5)


# The last line of a script run by _python: which heavy libraries the process imported.
PRINT_HEAVY = "import sys; print([m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules])"


def _python(script: str) -> list[str]:
    """Run ``script`` in a fresh interpreter; its stdout lines (it must succeed)."""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout.strip().splitlines()


def test_encoding_imports_no_pytorch(exported: Path) -> None:
    lines = _python("from embedtune.inference.lean import LeanEncoder\n"
                    f"print(LeanEncoder({str(exported)!r}).encode(['one text', 'two']).shape)\n" + PRINT_HEAVY)
    assert lines[-2:] == ["(2, 384)", "[]"]


def test_a_folder_it_cannot_encode_is_one_clear_error(exported: Path, tmp_path: Path) -> None:
    import shutil

    with pytest.raises(ConfigError, match="no openvino/openvino_model_qint8_quantized.xml"):
        LeanEncoder(_without_int8(exported, tmp_path), int8=True)
    folder = tmp_path / "weighted"
    shutil.copytree(exported, folder)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"embedding_dimension": 384,
                                                                "pooling_mode": "weightedmean"}))
    with pytest.raises(ConfigError, match="pooling weightedmean"):
        LeanEncoder(folder, int8=False)
    with pytest.raises(ConfigError, match="modules.json: missing"):
        LeanEncoder(tmp_path, int8=False)


def _without_int8(exported: Path, tmp_path: Path) -> Path:
    import shutil

    folder = tmp_path / "fp32-only"
    shutil.copytree(exported, folder)
    for path in (folder / "openvino").glob("openvino_model_qint8_quantized.*"):
        path.unlink()
    return folder


def test_encoders_freed_after_encoding_never_hang_the_process(exported: Path) -> None:
    """OpenVinoRunner.map once used OpenVINO's AsyncInferQueue, whose Python callback on a stream thread
    deadlocked against the compiled model's destructor (3 of 3 processes hung within 15 rounds)."""
    script = ("import gc; from embedtune.inference.lean import LeanEncoder\n"
              "for _ in range(15):\n"
              f"    LeanEncoder({str(exported)!r}, int8=False).encode(['one text', 'two'] * 8)\n"
              "    gc.collect()\n"
              "print('freed')")
    try:
        run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired:
        pytest.fail("the process hung freeing OpenVINO encoders")
    assert run.returncode == 0 and run.stdout.strip() == "freed", run.stderr[-2000:]


def test_the_server_serves_an_export_without_pytorch_as_the_model_would(exported: Path) -> None:
    """`embedtune serve FOLDER --backend lean-openvino`: same vectors and token counts as the PyTorch
    server, and neither PyTorch nor sentence-transformers is imported in the serving process."""
    from embedtune.models import load_model
    from embedtune.serving.server import _count_tokens

    texts = ["what does vitamin D do", "T cells fight infection " * 200]
    lines = _python("import json\n"
                    "from fastapi.testclient import TestClient\n"
                    "from embedtune.inference.lean import LeanEncoder\n"
                    "from embedtune.serving.server import create_app, served_lean\n"
                    f"app = create_app(served_lean(LeanEncoder({str(exported)!r}, int8=False)), model_name='ov')\n"
                    "with TestClient(app) as client:\n"
                    f"    reply = client.post('/v1/embeddings', json={{'input': {texts!r}, 'input_type': 'query'}})\n"
                    "    print(json.dumps({'reply': reply.json(), 'health': client.get('/health').json()}))\n"
                    + PRINT_HEAVY)
    assert lines[-1] == "[]"
    served = json.loads(lines[-2])
    assert served["health"]["dimension"] == 384 and served["health"]["model"] == "ov"
    model = load_model(None)
    vectors = np.array([d["embedding"] for d in served["reply"]["data"]], dtype=np.float32)
    np.testing.assert_allclose(vectors, model.encode_query(texts, normalize_embeddings=True), atol=1e-4)
    assert served["reply"]["usage"]["prompt_tokens"] == _count_tokens(model, texts)
