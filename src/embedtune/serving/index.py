"""A FAISS index over a corpus, saved to disk with its document texts and the model that made it.

Small corpora get an exact flat index (inner product on unit vectors = cosine); above
``FLAT_LIMIT`` documents ``auto`` picks HNSW, whose search time grows roughly with log(n)
instead of n. IVF (clustered lists, ``nprobe`` of them searched) is there for corpora where
HNSW's graph does not fit in memory.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from embedtune._io import write_json_atomic
from embedtune._optional import require
from embedtune._owned import check_output_folder, staged_directory
from embedtune._writable import check_writable
from embedtune.data.reading import json_problem, read_jsonl, require_text
from embedtune.errors import ConfigError, EmbedtuneError

if TYPE_CHECKING:
    from types import ModuleType

    from sentence_transformers import SentenceTransformer

    from embedtune.inference.cache import EmbeddingCache

logger = logging.getLogger(__name__)

IndexKind = Literal["auto", "flat", "hnsw", "ivf"]
INDEX_KINDS: tuple[str, ...] = ("auto", "flat", "hnsw", "ivf")
FLAT_LIMIT = 100_000
HNSW_M = 32
INDEX_FILE, DOCS_FILE, META_FILE = "index.faiss", "documents.jsonl", "index.json"


class IndexFolderError(EmbedtuneError):
    """An index folder is missing, incomplete, or was built with another model."""


@dataclass
class IndexInfo:
    """What ``index.json`` records: enough to reopen the index and re-encode queries the same way."""

    model: str
    model_fingerprint: str
    kind: str
    dimension: int
    max_seq_length: int
    count: int
    data: str
    seconds: float
    embedtune_version: str

    def to_table(self, out: str | Path) -> str:
        return (f"indexed {self.count} documents from {self.data} with {self.model}: {self.kind} index, "
                f"{self.dimension} dims, in {self.seconds:.1f}s -> {out}")


def _faiss() -> ModuleType:
    return require("faiss", "faiss", "building or searching an index")


def choose_kind(kind: str, count: int) -> str:
    if kind not in INDEX_KINDS:
        raise ConfigError(f'unknown index kind "{kind}" (choose one of: {", ".join(INDEX_KINDS)})')
    return ("flat" if count <= FLAT_LIMIT else "hnsw") if kind == "auto" else kind


def make_faiss_index(vectors: np.ndarray, kind: str):
    """A filled FAISS index of unit ``vectors`` searched by inner product."""
    faiss = _faiss()
    dim = vectors.shape[1]
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
    else:
        # ~4·sqrt(n) lists, but at least 39 training points per list, FAISS's own floor.
        lists = max(1, min(int(4 * math.sqrt(len(vectors))), len(vectors) // 39))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
    index.add(vectors)
    return index


def build_index(model: str | None, data: str | Path, out: str | Path, *, kind: IndexKind = "auto",
                batch_size: int = 32, max_seq_length: int | None = None, cache: EmbeddingCache | None = None,
                show_progress: bool = False, overwrite: bool = False) -> IndexInfo:
    """Encode the corpus of ``data`` (a BEIR folder or a corpus .jsonl) and save a searchable index in ``out``."""
    from embedtune import __version__
    from embedtune.data.beir import corpus_file, read_corpus
    from embedtune.inference.cache import model_fingerprint
    from embedtune.inference.search import encode_documents
    from embedtune.models import display_name, load_model

    start = time.perf_counter()
    choose_kind(kind, 0)
    _faiss()  # before minutes of encoding, not after
    check_output_folder(out, overwrite=overwrite)
    check_writable(out)
    corpus_path = corpus_file(data)
    if not corpus_path.is_file():
        raise IndexFolderError(f'"{data}" holds no corpus: give a BEIR folder with corpus.jsonl or a .jsonl file')
    corpus = read_corpus(corpus_path)
    loaded = load_model(model, max_seq_length=max_seq_length)
    vectors = encode_documents(loaded, list(corpus.values()), batch_size=batch_size, cache=cache,
                               show_progress=show_progress)
    chosen = choose_kind(kind, len(vectors))
    index = make_faiss_index(vectors, chosen)
    info = IndexInfo(model=_portable_model_name(model), model_fingerprint=model_fingerprint(loaded), kind=chosen,
                     dimension=int(vectors.shape[1]), max_seq_length=int(loaded.max_seq_length or 0),
                     count=len(vectors), data=str(data), seconds=0.0,
                     embedtune_version=__version__)
    with staged_directory(out, overwrite=overwrite, command="embedtune index") as staging:
        _faiss().write_index(index, str(staging / INDEX_FILE))
        with open(staging / DOCS_FILE, "w", encoding="utf-8") as f:
            f.writelines(json.dumps({"_id": d, "text": t}, ensure_ascii=False) + "\n" for d, t in corpus.items())
        info.seconds = time.perf_counter() - start
        write_json_atomic(staging / META_FILE, asdict(info))
    logger.info("%s index of %d documents written to %s (%s)", chosen, len(vectors), out, display_name(model))
    return info


def _read_info(path: Path) -> IndexInfo:
    """index.json, or a one-line error when it is damaged (a copy cut short, an edit gone wrong)."""
    rebuild = "rebuild the index with `embedtune index`"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        what = json_problem(exc, line=True) if isinstance(exc, json.JSONDecodeError) else "not valid UTF-8"
        raise IndexFolderError(f"{path}: malformed JSON ({what}); {rebuild}") from None
    if not isinstance(data, dict):
        raise IndexFolderError(f"{path}: expected a JSON object, got {type(data).__name__}; {rebuild}")
    wanted = [f.name for f in fields(IndexInfo)]
    missing = [name for name in wanted if name not in data]
    unknown = [name for name in data if name not in wanted]
    if missing or unknown:
        problems = [f"{label}: {', '.join(names)}" for label, names in
                    (("missing fields", missing), ("unknown fields", unknown)) if names]
        raise IndexFolderError(f"{path}: not an index description of this embedtune ({'; '.join(problems)}); "
                               f"{rebuild}")
    return IndexInfo(**data)


def _portable_model_name(model: str | None) -> str:
    """The default's hub id, or a local folder as an absolute path (the index may be opened from elsewhere)."""
    from embedtune.models import display_name

    path = Path(str(model)).expanduser() if model else None
    return str(path.resolve()) if path is not None and path.is_dir() else display_name(model)


class SearchIndex:
    """An index folder opened for search: FAISS index, document ids and texts, and how it was built."""

    def __init__(self, directory: str | Path) -> None:
        directory = Path(directory)
        if not directory.is_dir():
            raise IndexFolderError(f'index folder "{directory}" not found; build one with `embedtune index`')
        missing = [f for f in (INDEX_FILE, DOCS_FILE, META_FILE) if not (directory / f).is_file()]
        if missing:
            raise IndexFolderError(f'"{directory}" is not an embedtune index (missing {", ".join(missing)}); '
                              f"build one with `embedtune index`")
        self.directory = directory
        self.info = _read_info(directory / META_FILE)
        try:
            self.faiss_index = _faiss().read_index(str(directory / INDEX_FILE))
        except RuntimeError:  # FAISS's own message is a multi-line C++ trace
            raise IndexFolderError(f"{directory / INDEX_FILE}: not a readable FAISS index (damaged or cut short); "
                                   "rebuild the index with `embedtune index`") from None
        self.doc_ids: list[str] = []
        self.texts: list[str] = []
        for number, doc in read_jsonl(directory / DOCS_FILE):
            self.doc_ids.append(require_text(directory / DOCS_FILE, number, doc, ("_id",)))
            self.texts.append(require_text(directory / DOCS_FILE, number, doc, ("text",)))

    def __len__(self) -> int:
        return len(self.doc_ids)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and row numbers of the ``k`` nearest documents per (unit) query row, best first."""
        k = min(k, len(self))
        if self.info.kind == "hnsw":
            self.faiss_index.hnsw.efSearch = max(64, 2 * k)
        elif self.info.kind == "ivf":
            self.faiss_index.nprobe = min(self.faiss_index.nlist, 16)
        scores, rows = self.faiss_index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, rows

    def check_model(self, model: SentenceTransformer, name: str) -> None:
        """Refuse to search with a model other than the one that encoded the documents."""
        from embedtune.inference.cache import model_fingerprint

        if model_fingerprint(model) != self.info.model_fingerprint:
            raise IndexFolderError(f'index "{self.directory}" was built with model {self.info.model}, not {name}: '
                              f"its vectors mean nothing to this model; rebuild it with `embedtune index --model`")
