"""The HTTP API: OpenAI-compatible ``POST /v1/embeddings``, ``POST /search`` over a saved index, ``/health``.

The model (and the index) load once, before the server accepts connections; concurrent
requests share encoding batches (``MicroBatcher``). Every rejected request gets a 4xx answer
shaped like OpenAI's, ``{"error": {"message", "type", "code"}}``, whose message says what to change.
The OpenAPI spec is at ``/openapi.json`` (browsable at ``/docs``).
"""
from __future__ import annotations

import base64
import errno
import hmac
import logging
import os
import socket
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from embedtune import __version__
from embedtune._optional import optional_imports, require
from embedtune.serving.batcher import MicroBatcher

with optional_imports("serve", "embedtune serve"):  # pydantic and starlette come with fastapi
    from fastapi import Depends, FastAPI, HTTPException, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
    from pydantic import BaseModel, Field
    from starlette.exceptions import HTTPException as StarletteHTTPException

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from embedtune.inference.lean import LeanEncoder
    from embedtune.serving.search import Searcher

logger = logging.getLogger(__name__)

API_KEY_ENV = "EMBEDTUNE_API_KEY"


@dataclass
class ServerSettings:
    """Limits and options of one server; each limit names the flag that raises it in its error."""

    max_batch_size: int = 256        # texts per request (--max-batch-size)
    max_input_chars: int = 20_000    # characters per text (--max-input-chars)
    max_request_bytes: int = 4_000_000  # request body (--max-request-bytes)
    max_top_k: int = 100             # hits per search (--max-top-k)
    batch_wait_ms: float = 5.0       # how long a request waits for others to share its batch
    max_batch_texts: int = 64        # texts per shared encoding batch
    api_key: str | None = None


@dataclass(frozen=True)
class ServedModel:
    """What the HTTP app needs of a model, whichever library encodes with it: a sentence-transformers
    model (PyTorch loaded) or a :class:`~embedtune.inference.lean.LeanEncoder` (no PyTorch)."""

    encoder: Any  # .encode(texts, "query" | "document") -> one row per text
    dimension: int
    reads_images: bool
    count_tokens: Callable[[list[str]], int]  # OpenAI's usage.prompt_tokens


def served_sentence_transformer(model: SentenceTransformer, backend: str = "torch",
                                searcher: Searcher | None = None) -> ServedModel:
    """A loaded sentence-transformers model, encoding with ``backend`` (the searcher's encoder when given)."""
    from embedtune.inference.model_parts import reads_images
    from embedtune.inference.search import make_encoder

    return ServedModel(encoder=searcher.encoder if searcher is not None else make_encoder(model, backend),
                       dimension=model.get_embedding_dimension() or 0, reads_images=reads_images(model),
                       count_tokens=lambda texts: _count_tokens(model, texts))


def served_lean(encoder: LeanEncoder) -> ServedModel:
    """An OpenVINO export folder encoded without PyTorch; its width is read off one encoded text."""
    return ServedModel(encoder=encoder, dimension=int(encoder.encode(["dimension"]).shape[1]), reads_images=False,
                       count_tokens=encoder.count_tokens)


class ImageInput(BaseModel):
    """An image among the inputs (an embedtune extension, for image-text models such as CLIP)."""

    image: str = Field(..., description="The image file's bytes (PNG, JPEG, ...) in base64, or as a data: URL.")


class EmbeddingRequest(BaseModel):
    """OpenAI's embeddings request; ``input_type`` (an embedtune extension) picks the query or document prompt."""

    input: str | list[str | ImageInput] | list[int] | list[list[int]] = Field(
        ..., description='A text or a list of texts; for an image-text model, items may also be '
                         '{"image": "<base64>"} (token-id arrays are not accepted).')
    model: str | None = Field(None, description="Ignored: this server serves one model, named in the reply.")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1, description="Keep the first N dimensions (Matryoshka), re-normalised.")
    user: str | None = None
    input_type: Literal["query", "document"] = Field(
        "document", description="Which of the model's prompts to apply (models such as e5 have two).")


class EmbeddingData(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingData]
    model: str
    usage: Usage


class SearchRequest(BaseModel):
    query: str = Field(..., min_length=1)
    top_k: int = Field(10, ge=1)
    rerank: bool | None = Field(None, description="Rerank with the server's cross-encoder (default: when it has one).")


class SearchHit(BaseModel):
    id: str
    score: float
    text: str
    dense_score: float
    rerank_score: float | None = None


class SearchResponse(BaseModel):
    query: str
    results: list[SearchHit]
    reranked: bool


class ErrorBody(BaseModel):
    message: str
    type: str
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


def api_error(status: int, message: str, code: str, kind: str = "invalid_request_error") -> HTTPException:
    return HTTPException(status, detail={"message": message, "type": kind, "code": code})


class BodySizeLimit:
    """Answer 413 to a body over ``limit`` bytes, declared (Content-Length) or streamed, before parsing it."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(scope, receive, send, int(declared))
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                await self._reject(scope, receive, send, len(body))
                return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope: dict, receive: Any, send: Any, size: int) -> None:
        response = JSONResponse(status_code=413, content={"error": {
            "message": f"request body of {size} bytes is over this server's limit of {self.limit} "
                       f"(--max-request-bytes); send fewer or shorter texts per request",
            "type": "invalid_request_error", "code": "request_too_large"}})
        await response(scope, receive, send)


def create_app(model: SentenceTransformer | ServedModel, *, model_name: str, searcher: Searcher | None = None,
               settings: ServerSettings | None = None, backend: str = "torch") -> FastAPI:
    """The FastAPI app serving an already-loaded ``model`` (and ``searcher``, for ``/search``).

    ``backend`` applies to a sentence-transformers model; a :class:`ServedModel` brings its own encoder.
    """
    from embedtune.inference.search import normalised, truncate

    settings = settings or ServerSettings()
    served = model if isinstance(model, ServedModel) else served_sentence_transformer(model, backend, searcher)
    dimension = served.dimension

    def encode(texts: list[Any], role: str) -> np.ndarray:
        return normalised(served.encoder.encode(texts, role))

    batcher = MicroBatcher(encode, max_texts=settings.max_batch_texts, wait_s=settings.batch_wait_ms / 1000)

    @asynccontextmanager
    async def lifespan(_: FastAPI):  # noqa: ANN202
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="embedtune", version=__version__, lifespan=lifespan,
                  description=f"Embeddings from {model_name}" + (
                      f" and search over {len(searcher.index)} documents" if searcher else ""),
                  responses={401: {"model": ErrorResponse}, 400: {"model": ErrorResponse}})
    app.add_middleware(BodySizeLimit, limit=settings.max_request_bytes)
    bearer = HTTPBearer(auto_error=False, description=f"Needed when the server has an API key (--api-key or "
                                                      f"{API_KEY_ENV}).")

    def check_key(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if settings.api_key is None:
            return
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode(), settings.api_key.encode()):
            raise HTTPException(401, headers={"WWW-Authenticate": "Bearer"}, detail={
                "message": "missing API key: send the header 'Authorization: Bearer KEY'" if credentials is None
                else "wrong API key", "type": "authentication_error", "code": "invalid_api_key"})

    @app.exception_handler(StarletteHTTPException)  # ours, and the router's 404/405
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, dict) else {
            "message": str(exc.detail), "type": "invalid_request_error", "code": None}
        return JSONResponse({"error": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        return JSONResponse(status_code=400, content={"error": {
            "message": f"{where}: {first.get('msg', 'invalid value')}", "type": "invalid_request_error",
            "code": "invalid_value"}})

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness and what is served; no API key needed, so load balancers can probe it."""
        return {"status": "ok", "model": model_name, "dimension": dimension, "version": __version__,
                "index": None if searcher is None else {"documents": len(searcher.index),
                                                        "kind": searcher.index.info.kind,
                                                        "reranker": searcher.reranker is not None},
                "batching": vars(batcher.stats)}

    @app.post("/v1/embeddings", response_model=EmbeddingResponse, dependencies=[Depends(check_key)])
    async def embeddings(request: EmbeddingRequest) -> EmbeddingResponse:
        """OpenAI-compatible: ``{"input": "text" | ["text", ...]}`` → one embedding per text (or image)."""
        texts = _checked_texts(request.input, settings, images=served.reads_images)
        if request.dimensions is not None and dimension and request.dimensions > dimension:
            raise api_error(400, f"dimensions: {request.dimensions} is larger than the model's {dimension}",
                            "invalid_dimensions")
        vectors = await batcher.submit(texts, request.input_type)
        if request.dimensions is not None and request.dimensions < vectors.shape[1]:
            vectors = truncate(vectors, request.dimensions)
        tokens = served.count_tokens([t for t in texts if isinstance(t, str)])
        data = [EmbeddingData(index=i, embedding=_encode_vector(v, request.encoding_format))
                for i, v in enumerate(vectors)]
        return EmbeddingResponse(data=data, model=model_name, usage=Usage(prompt_tokens=tokens, total_tokens=tokens))

    @app.post("/search", response_model=SearchResponse, dependencies=[Depends(check_key)],
              responses={404: {"model": ErrorResponse}})
    async def search(request: SearchRequest) -> SearchResponse:
        """The ``top_k`` documents of the index for ``query`` (dense, then reranked when asked)."""
        if searcher is None:
            raise api_error(404, "this server has no index: start it with --index DIR (built by `embedtune index`)",
                            "no_index")
        if request.top_k > settings.max_top_k:
            raise api_error(400, f"top_k: {request.top_k} is over this server's limit of {settings.max_top_k} "
                                 f"(--max-top-k)", "top_k_too_large")
        if request.rerank and searcher.reranker is None:
            raise api_error(400, "rerank: this server has no cross-encoder (start it with --rerank MODEL)",
                            "no_reranker")
        _checked_texts(request.query, settings)
        vector = await batcher.submit([request.query], "query")
        hits = await batcher.run_in_worker(
            lambda: searcher.search_vectors([request.query], vector, request.top_k, rerank=request.rerank)[0])
        reranked = searcher.reranker is not None if request.rerank is None else request.rerank
        return SearchResponse(query=request.query, results=[SearchHit(**h.to_dict()) for h in hits],
                              reranked=reranked)

    return app


def _checked_texts(value: Any, settings: ServerSettings, images: bool = False) -> list[Any]:
    """The request's texts (and decoded images, for a model that reads them), each checked."""
    texts = [value] if isinstance(value, str) else list(value)
    if not texts:
        raise api_error(400, "input: the list is empty; send at least one text", "empty_input")
    if not all(isinstance(t, (str, ImageInput)) for t in texts):
        raise api_error(400, "input: token-id arrays are not supported; send the texts themselves",
                        "unsupported_input")
    if len(texts) > settings.max_batch_size:
        raise api_error(400, f"input: {len(texts)} texts is over this server's limit of {settings.max_batch_size} "
                             f"per request (--max-batch-size); split the request", "too_many_inputs")
    for i, text in enumerate(texts):
        where = "input" if isinstance(value, str) else f"input[{i}]"
        if isinstance(text, ImageInput):
            texts[i] = _decoded_image(text.image, where, images)
            continue
        if not text.strip():
            raise api_error(400, f"{where}: the text is empty", "empty_input")
        if len(text) > settings.max_input_chars:
            raise api_error(400, f"{where}: {len(text)} characters is over this server's limit of "
                                 f"{settings.max_input_chars} (--max-input-chars)", "input_too_long")
    return texts


def _decoded_image(data: str, where: str, images: bool) -> Any:
    """A base64 (or data: URL) image as a decoded image, or a 400 naming the item."""
    import binascii

    from embedtune.data.images import decode_image

    if not images:
        raise api_error(400, f"{where}: this model reads text only; images need an image-text model (CLIP-style)",
                        "unsupported_input")
    try:
        return decode_image(base64.b64decode(data.split(",", 1)[1] if data.startswith("data:") else data,
                                             validate=True))
    except (binascii.Error, ValueError) as exc:
        raise api_error(400, f"{where}.image: not a base64-encoded image ({exc})", "invalid_image") from None


def _count_tokens(model: SentenceTransformer, texts: list[str]) -> int:
    """Tokens the model actually read (after truncation), OpenAI's ``usage.prompt_tokens`` (images count none)."""
    if not texts:
        return 0
    ids = model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"]
    return sum(len(row) for row in ids)


def _encode_vector(vector: np.ndarray, encoding_format: str) -> list[float] | str:
    """``float``: a JSON list; ``base64``: little-endian float32 bytes, as OpenAI's clients decode them."""
    if encoding_format == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return vector.tolist()


def serve(model: str, *, index: str | None = None, host: str = "127.0.0.1", port: int = 8000,
          api_key: str | None = None, rerank: str | None = None, rerank_top: int = 50, backend: str = "torch",
          settings: ServerSettings | None = None, threads: int | None = None, log_level: str = "info") -> None:
    """Load ``model`` (and ``index``) once and serve them over HTTP until interrupted (``embedtune serve``).

    ``threads`` caps torch's intra-op threads: on a machine whose cores are busy with other work,
    several threads that wait for each other at every layer can be far slower than one.
    A ``lean-*`` backend serves an OpenVINO export folder without importing PyTorch at all.
    """
    from embedtune.inference.lean import LEAN_BACKENDS

    uvicorn = require("uvicorn", "serve", "embedtune serve")
    settings = settings or ServerSettings()
    settings.api_key = api_key or os.environ.get(API_KEY_ENV) or None
    _check_flags(model, index=index, rerank=rerank, backend=backend)
    check_port_free(host, port)  # a busy port fails in a second, not after the model loads
    if backend in LEAN_BACKENDS:
        app = _lean_app(model, int8=LEAN_BACKENDS[backend], settings=settings, threads=threads)
    else:
        app = _torch_app(model, index=index, rerank=rerank, rerank_top=rerank_top, backend=backend,
                         settings=settings, threads=threads)
    if settings.api_key is None and host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning("serving on %s without an API key: anyone who can reach it can use it", host)
    uvicorn.run(app, host=host, port=port, log_level=log_level)


def _check_flags(model: str, *, index: str | None, rerank: str | None, backend: str) -> None:
    """The flag combinations ``serve`` refuses, each in one line, before anything loads.

    A ``lean-*`` backend has no ``/search``: an index records the fingerprint of the PyTorch weights
    that built it, and checking a model against it needs those weights loaded, which it avoids.
    """
    from embedtune.errors import ConfigError
    from embedtune.inference.lean import LEAN_BACKENDS

    if rerank and not index:
        raise ConfigError("--rerank reranks /search results, which need --index DIR")
    if backend in LEAN_BACKENDS and index:
        raise ConfigError(f"--backend {backend} serves /v1/embeddings only: --index needs the PyTorch model to "
                          f"check the index against; use --backend {backend.removeprefix('lean-')} for /search")
    if backend in LEAN_BACKENDS and (model is None or not Path(model).is_dir()):
        raise ConfigError(f'--backend {backend} serves a local export folder, not "{model}": write one with '
                          f"`embedtune export --model MODEL --format {backend.removeprefix('lean-')} --out FOLDER`")
    if backend == "openvino-int8" and not index and not _ships_int8(model):
        raise ConfigError("--backend openvino-int8 calibrates on the documents it serves, which need --index DIR "
                          "(or serve an `embedtune export --format openvino-int8` folder, or use --backend "
                          "openvino or onnx-int8)")


def _torch_app(model: str, *, index: str | None, rerank: str | None, rerank_top: int, backend: str,
               settings: ServerSettings, threads: int | None) -> FastAPI:
    """The app over a sentence-transformers model (and the index and cross-encoder, when given)."""
    import torch

    from embedtune.inference.search import make_encoder
    from embedtune.models import display_name, load_model
    from embedtune.serving.search import Searcher, load_cross_encoder

    opened = None
    if index:
        from embedtune.serving.index import SearchIndex

        opened = SearchIndex(index)  # before the model loads, too
    if threads:
        torch.set_num_threads(threads)
    loaded = load_model(model)
    searcher = None
    if opened is not None:
        opened.check_model(loaded, model)
        searcher = Searcher(opened, loaded, reranker=load_cross_encoder(rerank) if rerank else None,
                            rerank_top=rerank_top, encoder=make_encoder(loaded, backend, corpus=opened.texts))
    return create_app(loaded, model_name=display_name(model), searcher=searcher, settings=settings, backend=backend)


def _lean_app(model: str, *, int8: bool, settings: ServerSettings, threads: int | None) -> FastAPI:
    """The app over a :class:`~embedtune.inference.lean.LeanEncoder`: ``/v1/embeddings`` and ``/health``."""
    from embedtune.inference.lean import LeanEncoder
    from embedtune.models import display_name

    return create_app(served_lean(LeanEncoder(model, int8=int8, threads=threads)), model_name=display_name(model),
                      settings=settings)


def _ships_int8(model: str) -> bool:
    """Whether ``model`` is a local folder carrying its own calibrated int8 OpenVINO model."""
    from embedtune.inference.openvino_backend import shipped_in

    return shipped_in(model, int8=True) is not None


def check_port_free(host: str, port: int) -> None:
    """Bind ``host:port`` as uvicorn will, and let go: a port in use is a one-line error.

    Only a program that takes the port in the seconds the model loads gets past this (uvicorn then
    reports it as before); handing the bound socket to uvicorn would close that gap but silence
    uvicorn's "running on" line.
    """
    from embedtune.errors import ConfigError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a port in TIME_WAIT is free
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"port {port} on {host} is already in use; stop the program listening there "
                                  "or choose another --port") from None
            raise ConfigError(f"cannot listen on {host} port {port} ({exc.strerror}); check --host and --port") \
                from None
