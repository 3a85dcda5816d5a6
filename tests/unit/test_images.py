"""Images through every command, on a tiny random CLIP built from a config (embedtune.demo.shapes) and
drawn shapes: data checks, encoding, train (full, LoRA, --freeze), eval both ways, mining, export, serve."""
from __future__ import annotations

import base64
import io
import json
import random
from pathlib import Path

import numpy as np
import pytest

from embedtune.config import MineConfig, TrainConfig
from embedtune.data.beir import load_beir
from embedtune.data.images import image_path, is_image_ref, load_image
from embedtune.data.pairs import load_pairs
from embedtune.demo.shapes import build_shapes_folder, build_tiny_clip, combinations, draw
from embedtune.errors import ConfigError, DataError, OnnxUnavailableError
from embedtune.inference import FastEncoder
from embedtune.models import load_model

TINY = TrainConfig(epochs=1, batch_size=16, learning_rate=2e-3, recipe="fixed", dev_corpus_size=100,
                   eval_split="test")


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clip") / "tiny-clip"
    build_tiny_clip(folder, seed=0)
    return folder


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shapes")
    build_shapes_folder(folder, train_images=160, seed=0)
    return folder


def _pairs_file(folder: Path, count: int = 40, *, extra: str = "") -> Path:
    rng = random.Random(0)
    (folder / "pictures").mkdir(parents=True, exist_ok=True)
    lines = []
    for i, combination in enumerate(rng.choice(combinations()) for _ in range(count)):
        draw(combination, rng).save(folder / "pictures" / f"{i}.png")
        lines.append(json.dumps({"text": combination.caption, "image": f"pictures/{i}.png"}))
    path = folder / "pairs.jsonl"
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def test_image_pairs_read_as_caption_queries_with_checked_image_positives(tmp_path: Path) -> None:
    pairs = load_pairs(_pairs_file(tmp_path))
    assert len(pairs) == 40 and all(is_image_ref(p) for p in pairs.positives)
    assert not any(is_image_ref(q) for q in pairs.queries)
    assert image_path(pairs.positives[3]) == (tmp_path / "pictures" / "3.png").resolve()
    assert load_image(pairs.positives[0]).size == (32, 32)


@pytest.mark.parametrize(("row", "content", "problem"), [
    ({"text": "a caption", "image": "pictures/none.png"}, None, r'image "pictures/none.png" not found'),
    ({"text": "a caption", "image": "notes.txt"}, b"plain words", r'"notes.txt" is not an image file'),
    ({"text": "a caption", "image": "cut.png"}, "truncated", r'image "cut.png" is damaged'),
    ({"text": "a caption", "image": ""}, None, r'field "image" must be a non-empty string'),
    ({"image": "pictures/0.png"}, None, r'missing field "query" or "anchor" or "question" or "text" or "caption"'),
])
def test_a_bad_image_row_is_one_line_naming_the_file_and_line(tmp_path: Path, row: dict, content: object,
                                                              problem: str) -> None:
    if content == "truncated":
        buffer = io.BytesIO()
        draw(combinations()[0], random.Random(0)).save(buffer, format="PNG")
        content = buffer.getvalue()[:60]
    if isinstance(content, bytes):
        (tmp_path / row["image"]).write_bytes(content)
    path = _pairs_file(tmp_path, count=3, extra=json.dumps(row) + "\n")
    with pytest.raises(DataError, match=rf"pairs.jsonl line 4: {problem}"):
        load_pairs(path)


def test_a_beir_folder_with_image_documents_reads_and_reverses(shapes: Path) -> None:
    test = load_beir(shapes, "test")
    assert test.has_images and all(is_image_ref(d) for d in test.corpus.values())
    assert len(test.corpus) == len(combinations()) + 160 and len(test.queries) == 24
    reverse = test.swapped()
    assert len(reverse.queries) == 24 and set(reverse.corpus) == set(test.queries)
    assert all(is_image_ref(q) for q in reverse.queries.values())


def test_images_encode_as_sentence_transformers_encodes_them(clip_dir: Path, tmp_path: Path) -> None:
    model = load_model(str(clip_dir))
    pairs = load_pairs(_pairs_file(tmp_path, count=6))
    mixed = [pairs.queries[0], pairs.positives[0], pairs.queries[1], pairs.positives[1]]
    ours = FastEncoder(model, "torch").encode(mixed, "document")
    expected_images = model.encode([load_image(pairs.positives[0]), load_image(pairs.positives[1])])
    expected_texts = model.encode([pairs.queries[0], pairs.queries[1]])
    np.testing.assert_allclose(ours[[1, 3]], expected_images, atol=1e-5)
    np.testing.assert_allclose(ours[[0, 2]], expected_texts, atol=1e-5)


def test_a_text_only_model_refuses_images_by_name(tmp_path: Path) -> None:
    pairs = load_pairs(_pairs_file(tmp_path, count=2))
    with pytest.raises(ConfigError, match="the data holds images but the model reads text only"):
        FastEncoder(load_model(None), "torch").encode(pairs.positives, "document")


def test_train_full_scores_before_and_after_and_saves_a_model_that_reads_images(clip_dir: Path, shapes: Path,
                                                                                 tmp_path: Path) -> None:
    from embedtune.evaluation.evaluate import evaluate_path
    from embedtune.training import train_model

    config = TrainConfig(**{**TINY.to_dict(), "model": str(clip_dir)})
    result = train_model(shapes, tmp_path / "model", config, show_progress=False)
    assert result.before is not None and result.after is not None
    assert result.after != result.before  # training moved the model
    tuned = load_model(str(tmp_path / "model"))
    assert "image" in tuned.modalities
    reverse = evaluate_path(str(tmp_path / "model"), str(shapes), "test", reverse=True)
    assert reverse.num_queries == 24 and reverse.num_documents == 24
    assert 0.0 <= reverse.metrics["ndcg@10"] <= 1.0


def test_lora_with_freeze_vision_leaves_the_image_tower_as_it_was(clip_dir: Path, tmp_path: Path) -> None:
    from embedtune.training import train_model

    data = _pairs_file(tmp_path / "data", count=64)
    config = TrainConfig(**{**TINY.to_dict(), "model": str(clip_dir), "strategy": "lora", "freeze": "vision",
                            "eval_split": None, "learning_rate": 1e-2})
    train_model(data, tmp_path / "model", config, show_progress=False)
    base = load_model(str(clip_dir)).state_dict()
    tuned = load_model(str(tmp_path / "model")).state_dict()
    vision = [k for k in base if "vision_model" in k or "visual_projection" in k]
    text = [k for k in base if "text_model" in k and "layers" in k and k.endswith("q_proj.weight")]
    assert vision and text
    assert all(np.array_equal(base[k].numpy(), tuned[k].numpy()) for k in vision)
    assert any(not np.array_equal(base[k].numpy(), tuned[k].numpy()) for k in text)


def test_freeze_on_a_text_model_is_refused_by_name() -> None:
    from embedtune.training.strategies import STRATEGIES

    with pytest.raises(ConfigError, match="--freeze vision: this model has no vision tower"):
        STRATEGIES["full"].prepare(load_model(None), TrainConfig(freeze="vision"))


def test_dense_mining_finds_image_negatives_and_bm25_is_refused(clip_dir: Path, shapes: Path) -> None:
    from embedtune.mining import mine_hard_negatives
    from embedtune.mining.mine import MiningError

    train = load_beir(shapes, "train")
    base = {"model": str(clip_dir), "num_negatives": 2, "range_max": 40, "relative_margin": None}
    mined = mine_hard_negatives(train, MineConfig(**base, method="dense"))
    assert mined.rows and all(is_image_ref(n) for row in mined.rows for n in row.negatives)
    # another drawing of the row's own caption is a labelled positive, never a negative
    for row in mined.rows[:20]:
        query_id = next(q for q, text in train.queries.items() if text == row.query)
        assert not {train.corpus[d] for d in train.positives(query_id)} & set(row.negatives)
    for method in ("bm25", "hybrid"):
        with pytest.raises(MiningError, match=f"--method {method} needs text"):
            mine_hard_negatives(train, MineConfig(**base, method=method))


def test_export_st_reads_images_and_onnx_refuses_an_image_text_model(clip_dir: Path, tmp_path: Path) -> None:
    from embedtune.export import export_model

    export_model(str(clip_dir), "st", tmp_path / "st")
    image = draw(combinations()[5], random.Random(1))
    np.testing.assert_allclose(load_model(str(tmp_path / "st")).encode([image]),
                               load_model(str(clip_dir)).encode([image]), atol=1e-6)
    with pytest.raises(OnnxUnavailableError, match="an image-text model"):
        export_model(str(clip_dir), "onnx", tmp_path / "onnx")


def test_serve_embeds_base64_images_beside_texts(clip_dir: Path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from embedtune.serving.server import create_app

    model = load_model(str(clip_dir))
    image = draw(combinations()[7], random.Random(2))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    encoded = base64.b64encode(buffer.getvalue()).decode()
    with TestClient(create_app(model, model_name="clip")) as client:
        reply = client.post("/v1/embeddings", json={"input": ["a small red circle at the center", {"image": encoded}]})
        assert reply.status_code == 200, reply.text
        vectors = np.array([row["embedding"] for row in reply.json()["data"]], dtype=np.float32)
        expected = model.encode([image], normalize_embeddings=True)[0]
        np.testing.assert_allclose(vectors[1], expected, atol=1e-5)
        data_url = client.post("/v1/embeddings", json={"input": [{"image": "data:image/png;base64," + encoded}]})
        np.testing.assert_allclose(np.array(data_url.json()["data"][0]["embedding"]), expected, atol=1e-5)
        bad = client.post("/v1/embeddings", json={"input": [{"image": "bm90IGFuIGltYWdl"}]})
        assert bad.status_code == 400 and "input[0].image: not a base64-encoded image" in bad.json()["error"]["message"]
    with TestClient(create_app(load_model(None), model_name="minilm")) as client:
        refused = client.post("/v1/embeddings", json={"input": [{"image": encoded}]})
        assert refused.status_code == 400 and "this model reads text only" in refused.json()["error"]["message"]


def test_an_image_url_is_downloaded_once_into_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import functools
    import http.server
    import threading

    monkeypatch.setenv("EMBEDTUNE_CACHE_DIR", str(tmp_path / "cache"))
    served = tmp_path / "served"
    served.mkdir()
    draw(combinations()[0], random.Random(0)).save(served / "shape.png")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        path = tmp_path / "pairs.jsonl"
        path.write_text(json.dumps({"text": "a shape", "image": f"{base}/shape.png"}) + "\n", encoding="utf-8")
        ref = load_pairs(path).positives[0]
        assert image_path(ref).parent == tmp_path / "cache" / "images"
        assert load_image(ref).size == (32, 32)
        path.write_text(json.dumps({"text": "a shape", "image": f"{base}/missing.png"}) + "\n", encoding="utf-8")
        with pytest.raises(DataError, match=r'line 1: image URL ".*/missing.png" could not be downloaded'):
            load_pairs(path)
    finally:
        server.shutdown()


def test_an_image_index_finds_images_shows_their_paths_and_refuses_a_reranker(clip_dir: Path, shapes: Path,
                                                                             tmp_path: Path) -> None:
    pytest.importorskip("faiss")
    from embedtune.serving.index import build_index
    from embedtune.serving.search import open_searcher, search_index

    build_index(str(clip_dir), shapes, tmp_path / "index")
    hits = search_index(tmp_path / "index", "a small red circle at the top left", top_k=3)
    assert len(hits) == 3 and all(h.text.startswith("image: ") and Path(h.text[7:]).is_file() for h in hits)
    with pytest.raises(ConfigError, match="holds images and a cross-encoder reads text only"):
        open_searcher(tmp_path / "index", rerank="any-cross-encoder")
