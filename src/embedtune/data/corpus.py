"""Raw (unlabelled) corpora for domain-adaptive pre-training: a BEIR folder, a JSONL or a text file."""
from __future__ import annotations

import logging
from pathlib import Path

from embedtune.data.reading import read_jsonl, read_lines, require_text
from embedtune.data.beir import read_corpus
from embedtune.errors import DataError

logger = logging.getLogger(__name__)


def load_documents(path: str | Path, max_docs: int | None = None) -> list[str]:
    """The documents of ``path``, in file order, at most the first ``max_docs``.

    A folder is read as a BEIR folder (only ``corpus.jsonl``: no labels are needed); a
    ``.jsonl`` file needs a ``text`` field per line (a ``title`` goes before it, as in BEIR);
    a ``.txt`` file holds one document per non-blank line.
    """
    path = Path(path)
    if path.is_dir():
        if not (path / "corpus.jsonl").is_file():
            raise DataError(path, "folder has no corpus.jsonl (give a BEIR folder, or a .jsonl or .txt file)")
        documents = list(read_corpus(path / "corpus.jsonl").values())
    elif not path.exists():
        raise DataError(path, "corpus not found (give a BEIR folder, or a .jsonl or .txt file)")
    elif path.suffix.lower() == ".jsonl":
        documents = [_jsonl_document(path, number, row) for number, row in read_jsonl(path)]
    elif path.suffix.lower() == ".txt":
        documents = [text.strip() for _, text in read_lines(path)]
    else:
        raise DataError(path, f'unsupported corpus file type "{path.suffix}" (use .jsonl, .txt or a BEIR folder)')
    if not documents:
        raise DataError(path, "the corpus is empty")
    if max_docs is not None and max_docs < len(documents):
        logger.info("using the first %d of %d documents", max_docs, len(documents))
        documents = documents[:max_docs]
    return documents


def _jsonl_document(path: Path, number: int, row: dict) -> str:
    text = require_text(path, number, row, ("text",))
    title = row.get("title") or ""
    if not isinstance(title, str):
        raise DataError(path, f'field "title" must be a string, got {type(title).__name__}', number)
    return f"{title.strip()} {text.strip()}".strip()
