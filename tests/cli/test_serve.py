"""The real server on localhost, called with a real HTTP client: answers, batching, auth, limits, spec."""
from __future__ import annotations

import asyncio
import base64
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("faiss")

from embedtune.models import load_model  # noqa: E402
from tests.slices import write_beir_slice  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
KEY = "test-key-123"
AUTH = {"Authorization": f"Bearer {KEY}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def embedtune_env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT / "src"), "EMBEDTUNE_API_KEY": ""}


@pytest.fixture(scope="module")
def index_dir(scifact_like: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`embedtune index` (the CLI) over ~30 documents of the SciFact-like fixture set."""
    data = write_beir_slice(scifact_like, tmp_path_factory.mktemp("data"), train_qrels=1,
                            test_qrels=10, distractors=20)
    out = tmp_path_factory.mktemp("idx") / "index"
    proc = subprocess.run([sys.executable, "-m", "embedtune.cli.app", "index", "--data", str(data), "--out", str(out),
                           "--no-cache", "-q"], env=embedtune_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "flat index, 384 dims" in proc.stdout
    return out


@pytest.fixture(scope="module")
def server(index_dir: Path):
    """`embedtune serve` in its own process; yields its base URL; stopped (by its pid) at the end."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "embedtune.cli.app", "serve", "--model", "all-MiniLM-L6-v2", "--index", str(index_dir),
         "--port", str(port), "--max-batch-size", "8", "--max-input-chars", "2000", "--max-request-bytes", "20000",
         "--max-top-k", "20", "--batch-wait-ms", "20", "-q"],
        env={**embedtune_env(), "EMBEDTUNE_API_KEY": KEY}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited: {proc.stdout.read()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail("server did not answer /health within 240 s")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def model():
    return load_model(None)


def test_health_needs_no_key_and_says_what_is_served(server: str) -> None:
    body = httpx.get(f"{server}/health").json()
    assert body["status"] == "ok" and body["dimension"] == 384
    assert body["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert body["index"]["kind"] == "flat" and body["index"]["documents"] >= 20


def test_embeddings_are_openai_shaped_and_equal_the_model_s(server: str, model) -> None:
    texts = ["Vitamin D and respiratory infections", "How do T cells recognise antigens?"]
    response = httpx.post(f"{server}/v1/embeddings", json={"input": texts, "model": "anything"}, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list" and [d["index"] for d in body["data"]] == [0, 1]
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 0
    served = np.array([d["embedding"] for d in body["data"]], dtype=np.float32)
    assert np.abs(served - model.encode_document(texts)).max() < 1e-4


def test_base64_and_dimensions(server: str, model) -> None:
    body = httpx.post(f"{server}/v1/embeddings", headers=AUTH,
                      json={"input": "one text", "encoding_format": "base64", "dimensions": 64}).json()
    vector = np.frombuffer(base64.b64decode(body["data"][0]["embedding"]), dtype="<f4")
    full = model.encode_document(["one text"])[0]
    assert vector.shape == (64,) and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    assert np.abs(vector - full[:64] / np.linalg.norm(full[:64])).max() < 1e-4


def test_concurrent_requests_share_batches_and_each_gets_its_own_answer(server: str, model) -> None:
    texts = [f"Question number {i} about protein folding and heat shock" for i in range(12)]
    before = httpx.get(f"{server}/health").json()["batching"]

    async def call_all() -> list[dict]:
        async with httpx.AsyncClient(base_url=server, headers=AUTH, timeout=60) as client:
            responses = await asyncio.gather(*(client.post("/v1/embeddings", json={"input": t}) for t in texts))
        assert all(r.status_code == 200 for r in responses)
        return [r.json() for r in responses]

    bodies = asyncio.run(call_all())
    served = np.array([b["data"][0]["embedding"] for b in bodies], dtype=np.float32)
    assert np.abs(served - model.encode_document(texts)).max() < 1e-4, "each request got its own embedding"
    after = httpx.get(f"{server}/health").json()["batching"]
    assert after["requests"] - before["requests"] == 12
    assert after["batches"] - before["batches"] < 12, "concurrent requests were encoded together"
    assert after["largest_batch"] > 1


def test_search_finds_a_document_from_its_own_text(server: str, index_dir: Path) -> None:
    import json

    first = json.loads((index_dir / "documents.jsonl").read_text(encoding="utf-8").splitlines()[3])
    body = httpx.post(f"{server}/search", json={"query": first["text"][:500], "top_k": 3}, headers=AUTH).json()
    assert body["results"][0]["id"] == first["_id"] and len(body["results"]) == 3 and body["reranked"] is False


@pytest.mark.parametrize(("headers", "message"), [
    ({}, "missing API key: send the header 'Authorization: Bearer KEY'"),
    ({"Authorization": "Bearer wrong"}, "wrong API key"),
])
def test_a_missing_or_wrong_key_is_401(server: str, headers: dict, message: str) -> None:
    for path, payload in [("/v1/embeddings", {"input": "x"}), ("/search", {"query": "x"})]:
        response = httpx.post(f"{server}{path}", json=payload, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["message"] == message


@pytest.mark.parametrize(("path", "payload", "status", "message"), [
    ("/v1/embeddings", {"input": [f"t{i}" for i in range(9)]}, 400,
     "input: 9 texts is over this server's limit of 8 per request (--max-batch-size); split the request"),
    ("/v1/embeddings", {"input": ["ok", "x" * 2001]}, 400,
     "input[1]: 2001 characters is over this server's limit of 2000 (--max-input-chars)"),
    ("/v1/embeddings", {"input": []}, 400, "input: the list is empty; send at least one text"),
    ("/v1/embeddings", {"input": [[101, 2023]]}, 400,
     "input: token-id arrays are not supported; send the texts themselves"),
    ("/v1/embeddings", {"text": "x"}, 400, "input: Field required"),
    ("/v1/embeddings", {"input": "x", "dimensions": 512}, 400, "dimensions: 512 is larger than the model's 384"),
    ("/search", {"query": "x", "top_k": 21}, 400, "top_k: 21 is over this server's limit of 20 (--max-top-k)"),
    ("/search", {"query": "x", "rerank": True}, 400,
     "rerank: this server has no cross-encoder (start it with --rerank MODEL)"),
])
def test_bad_requests_get_a_clear_4xx(server: str, path: str, payload: dict, status: int, message: str) -> None:
    response = httpx.post(f"{server}{path}", json=payload, headers=AUTH)
    assert response.status_code == status
    assert response.json()["error"]["message"] == message


def test_unknown_paths_and_methods_answer_in_the_same_error_shape(server: str) -> None:
    assert httpx.get(f"{server}/v2/nothing").json() == {
        "error": {"message": "Not Found", "type": "invalid_request_error", "code": None}}
    wrong_method = httpx.get(f"{server}/v1/embeddings", headers=AUTH)
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["message"] == "Method Not Allowed"


def test_an_oversized_body_is_413_declared_or_streamed(server: str) -> None:
    big = '{"input": "' + "word " * 5000 + '"}'
    declared = httpx.post(f"{server}/v1/embeddings", content=big, headers={**AUTH, "Content-Type": "application/json"})
    assert declared.status_code == 413
    assert declared.json()["error"]["message"] == (
        f"request body of {len(big)} bytes is over this server's limit of 20000 (--max-request-bytes); "
        "send fewer or shorter texts per request")
    streamed = httpx.post(f"{server}/v1/embeddings", content=(big[i:i + 4096].encode() for i in range(0, len(big), 4096)),
                          headers={**AUTH, "Content-Type": "application/json"})
    assert streamed.status_code == 413 and "--max-request-bytes" in streamed.json()["error"]["message"]


def test_the_openapi_spec_lists_the_endpoints_and_the_bearer_scheme(server: str) -> None:
    spec = httpx.get(f"{server}/openapi.json").json()
    assert {"/v1/embeddings", "/search", "/health"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "EmbeddingRequest" in spec["components"]["schemas"]


def test_search_without_an_index_is_404(model) -> None:
    from fastapi.testclient import TestClient

    from embedtune.serving.server import create_app

    with TestClient(create_app(model, model_name="m")) as client:
        response = client.post("/search", json={"query": "x"})
    assert response.status_code == 404
    assert response.json()["error"]["message"] == (
        "this server has no index: start it with --index DIR (built by `embedtune index`)")


@pytest.mark.slow
def test_serve_refuses_an_index_built_with_another_model(index_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    import torch

    model = load_model(None)
    with torch.no_grad():  # another fine-tune of the same architecture
        next(model.parameters()).add_(1e-3)
    model.save(str(tmp_path / "other"))
    proc = subprocess.run([sys.executable, "-m", "embedtune.cli.app", "serve", str(tmp_path / "other"), "--index",
                           str(index_dir), "--port", str(free_port()), "-q"], env=embedtune_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("embedtune: error:")]
    assert errors == [f'embedtune: error: index "{index_dir}" was built with model sentence-transformers/'
                      f"all-MiniLM-L6-v2, not {tmp_path / 'other'}: its vectors mean nothing to this model; "
                      "rebuild it with `embedtune index --model`"]


@pytest.mark.slow
def test_search_command_prints_hits_as_json(index_dir: Path) -> None:
    import json

    doc = json.loads((index_dir / "documents.jsonl").read_text(encoding="utf-8").splitlines()[5])
    proc = subprocess.run([sys.executable, "-m", "embedtune.cli.app", "search", str(index_dir), doc["text"][:400],
                           "--top-k", "2", "--json"], env=embedtune_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    hits = json.loads(proc.stdout)
    assert len(hits) == 2 and hits[0]["id"] == doc["_id"] and hits[0]["score"] >= hits[1]["score"]
    assert set(hits[0]) == {"id", "score", "text", "dense_score", "rerank_score"}


def test_cli_errors_for_export_index_and_serve_are_one_line(tmp_path: Path) -> None:
    cases = [
        (["export", "all-MiniLM-L6-v2", "--format", "adapter", "--out", str(tmp_path / "a")],
         'model "all-MiniLM-L6-v2" has no LoRA adapter (no adapter/adapter_config.json): only `embedtune train '
         "--strategy lora` keeps one; export this model with --format st or onnx"),
        (["search", str(tmp_path), "query"],
         f'"{tmp_path}" is not an embedtune index (missing index.faiss, documents.jsonl, index.json); '
         "build one with `embedtune index`"),
        (["serve", "--model", "all-MiniLM-L6-v2", "--rerank", "some-cross-encoder"],
         "--rerank reranks /search results, which need --index DIR"),
    ]
    for args, message in cases:
        proc = subprocess.run([sys.executable, "-m", "embedtune.cli.app", *args], env=embedtune_env(),
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1, args
        assert proc.stderr.splitlines() == [f"embedtune: error: {message}", "(set EMBEDTUNE_DEBUG=1 for the traceback)"]
