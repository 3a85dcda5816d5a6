"""The retrieval sets the tests train and score on, built inside the test session from the Python standard library.

Nothing is downloaded or read from outside this checkout and the running Python: every public
function, method and class of the standard library with a docstring is a candidate, read with
``ast`` (nothing is imported). Two BEIR folders come out, in the shapes the tests used to take
from the benchmark data:

``scifact-like`` (SciFact's shape): each document is a docstring, its first sentence as the title
(a paper's title) and the prose after it as the text (its abstract). A query (a claim) is one
sentence taken out of that prose, so the document no longer holds it and a model has to match
meaning, as in the inverse cloze task. One positive per query (grade 1), a train and a test split,
and about as many documents again that no query asks for.

``dbpedia-like`` (DBpedia-entity's shape, and a second domain): each document is a function's
source (docstring removed) titled by its qualified name; each test query (the function's first
docstring sentence) has a dozen graded judgments: its own function (2), functions of the same
class or module (1), and functions of other modules (0, judged not relevant).

The two sets share no document. The output depends only on the installed Python and ``SEED``;
building both takes a few seconds.
"""
from __future__ import annotations

import ast
import json
import os
import random
import re
import sysconfig
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCIFACT = "scifact-like"
DBPEDIA = "dbpedia-like"
SEED = 42

# scifact-like sizes: judged queries per split, and documents in all (the rest are unjudged).
SCIFACT_TRAIN_QUERIES = 300
SCIFACT_TEST_QUERIES = 100
SCIFACT_DOCUMENTS = 800
# dbpedia-like sizes: test queries, judgments of each grade per query, documents in all.
DBPEDIA_QUERIES = 50
DBPEDIA_RELATED = 5  # grade 1
DBPEDIA_UNRELATED = 6  # grade 0
DBPEDIA_DOCUMENTS = 400
CODE_LINES = 30  # a dbpedia-like document is at most the first 30 lines of its function

_EXCLUDED_DIRS = {"site-packages", "dist-packages", "test", "tests", "idlelib", "lib2to3", "turtledemo",
                  "ensurepip", "__phello__", "pydoc_data", "__pycache__", "tkinter"}
# A sentence ends at . ! or ? before a space (not after "e.g", "i.e", "etc" or a one-letter initial).
_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\betc)(?<!\b\w)[.!?](?=\s|$)")
_ROLE = re.compile(r":[\w:]+:`~?([^`]*)`")  # :func:`name` -> name


@dataclass(frozen=True)
class Entry:
    """One documented function, method or class."""

    module: str
    qualname: str
    kind: str  # "function", "method" or "class"
    summary: str  # the docstring's first sentence
    details: str  # the rest of its prose, whitespace collapsed ("" when there is none)
    code: str  # the source without the docstring

    @property
    def doc_id(self) -> str:
        return f"{self.module}:{self.qualname}"


def build_fixture_data(root: Path) -> Path:
    """Write ``root/scifact-like`` and ``root/dbpedia-like`` (BEIR folders); return ``root``."""
    entries = _unique(_collect(Path(sysconfig.get_paths()["stdlib"])))
    used = _write_scifact_like(root / SCIFACT, entries)
    _write_dbpedia_like(root / DBPEDIA, [e for e in entries if e.doc_id not in used])
    return root


def _write_scifact_like(folder: Path, entries: list[Entry]) -> set[str]:
    """Claims taken out of abstract-like docstrings; shorter prose fills the corpus. Returns the document ids."""
    rng = random.Random(SEED)
    abstracts = [e for e in entries if _prose(e, sentences=3, words=30)]
    shorter = [e for e in entries if _prose(e, sentences=2, words=20) and not _prose(e, sentences=3, words=30)]
    claims = {e.doc_id: _claim(e) for e in abstracts}
    counts = Counter(_normal(c) for c in claims.values() if c)
    askable = [e for e in abstracts if claims[e.doc_id] and counts[_normal(claims[e.doc_id])] == 1]
    rng.shuffle(askable)
    asked = askable[:min(SCIFACT_TRAIN_QUERIES + SCIFACT_TEST_QUERIES, len(askable) * 4 // 5)]
    num_train = len(asked) * SCIFACT_TRAIN_QUERIES // (SCIFACT_TRAIN_QUERIES + SCIFACT_TEST_QUERIES)
    if len(asked) - num_train < 50:
        raise RuntimeError(f"only {len(askable)} documented functions with abstract-like docstrings in this "
                           "Python's standard library; the fixture set needs more")
    # An asked document loses its claim sentence: the query is not in it, so a model has to match meaning.
    texts = {e.doc_id: e.details for e in abstracts + shorter}
    for entry in asked:
        texts[entry.doc_id] = " ".join(s for s in _split(entry.details) if s != claims[entry.doc_id])
    # The corpus starts with the abstracts (asked and not asked mixed), as the tests that read its
    # first documents want several sentences each; the shorter texts come after them.
    head = sorted(abstracts, key=lambda e: zlib.crc32(e.doc_id.encode()))
    tail = rng.sample(shorter, max(0, min(len(shorter), SCIFACT_DOCUMENTS - len(head))))
    documents = [{"_id": e.doc_id, "title": e.summary, "text": texts[e.doc_id]} for e in head + tail]
    queries = [{"_id": f"q{i}", "text": claims[e.doc_id]} for i, e in enumerate(asked)]
    rows = [(f"q{i}", e.doc_id, 1) for i, e in enumerate(asked)]
    _write_beir(folder, documents, queries, {"train": rows[:num_train], "test": rows[num_train:]})
    return {d["_id"] for d in documents}


def _claim(entry: Entry) -> str | None:
    """The longest sentence of the details (6-40 words) when at least two others remain: the query."""
    sentences = _split(entry.details)
    fitting = [s for s in sentences if 6 <= len(s.split()) <= 40 and sentences.count(s) == 1]
    if len(sentences) < 3 or not fitting:
        return None
    return max(fitting, key=lambda s: len(s.split()))


def _write_dbpedia_like(folder: Path, entries: list[Entry]) -> None:
    rng = random.Random(SEED)
    usable = [e for e in entries if e.kind != "class" and 4 <= len(e.summary.split()) <= 30
              and len(e.code.splitlines()) >= 3]
    by_module: dict[str, list[Entry]] = defaultdict(list)
    for entry in usable:
        by_module[entry.module].append(entry)
    # Queries come from modules with enough functions for the grade-1 judgments.
    big = sorted(m for m, members in by_module.items() if len(members) > DBPEDIA_RELATED)
    candidates = [e for m in big for e in by_module[m]]
    if len(candidates) < 2 * DBPEDIA_QUERIES:
        raise RuntimeError(f"only {len(candidates)} functions for the dbpedia-like fixture set; it needs more")
    asked = rng.sample(candidates, DBPEDIA_QUERIES)
    judged: dict[str, list[tuple[Entry, int]]] = {}
    for i, entry in enumerate(asked):
        siblings = [e for e in by_module[entry.module] if e is not entry]
        same_class = [e for e in siblings if e.qualname.split(".")[0] == entry.qualname.split(".")[0]]
        related = (same_class + rng.sample(siblings, len(siblings)))
        related = list(dict.fromkeys(related))[:DBPEDIA_RELATED]
        others = [e for e in rng.sample(usable, 4 * DBPEDIA_UNRELATED) if e.module != entry.module]
        judgments = [(entry, 2)] + [(e, 1) for e in related] + [(e, 0) for e in others[:DBPEDIA_UNRELATED]]
        rng.shuffle(judgments)
        judged[f"q{i}"] = judgments
    in_qrels = {e.doc_id: e for js in judged.values() for e, _ in js}
    rest = [e for e in usable if e.doc_id not in in_qrels]
    corpus = list(in_qrels.values()) + rng.sample(rest, max(0, min(len(rest), DBPEDIA_DOCUMENTS - len(in_qrels))))
    corpus.sort(key=lambda e: e.doc_id)
    documents = [{"_id": e.doc_id, "title": f"{e.module}.{e.qualname}", "text": e.code} for e in corpus]
    queries = [{"_id": q, "text": e.summary} for q, e in zip(judged, asked)]
    rows = [(q, e.doc_id, grade) for q, js in judged.items() for e, grade in js]
    _write_beir(folder, documents, queries, {"test": rows})


def _prose(entry: Entry, *, sentences: int, words: int) -> bool:
    """A 5-30 word first sentence (the title) before at least ``sentences`` sentences and ``words`` words of prose."""
    return (5 <= len(entry.summary.split()) <= 30 and len(entry.details.split()) >= words
            and len([s for s in _sentences(entry.details) if len(s.split()) >= 3]) >= sentences
            and _normal(entry.summary) not in _normal(entry.details))


def _unique(entries: list[Entry]) -> list[Entry]:
    """Entries sharing their id, query text, prose or code with no other: a copy would make a label wrong."""
    keys = (lambda e: e.doc_id, lambda e: _normal(e.summary), lambda e: _normal(e.details) or e.doc_id,
            lambda e: e.code)
    for key in keys:
        counts = Counter(key(e) for e in entries)
        entries = [e for e in entries if counts[key(e)] == 1]
    return entries


def _write_beir(folder: Path, documents: list[dict[str, Any]], queries: list[dict[str, Any]],
                qrels: dict[str, list[tuple[str, str, int]]]) -> None:
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in documents), encoding="utf-8")
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    for split, rows in qrels.items():
        text = "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in rows)
        (folder / "qrels" / f"{split}.tsv").write_text(text, encoding="utf-8")


def _collect(stdlib: Path) -> list[Entry]:
    entries = []
    for path in _python_files(stdlib):
        try:
            source = path.read_text(encoding="utf-8").replace("\r\n", "\n").replace("\r", "\n")
            tree = ast.parse(source)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            continue
        parts = path.relative_to(stdlib).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        entries += _entries(tree, source.split("\n"), module)
    return entries


def _python_files(stdlib: Path) -> list[Path]:
    """.py files of importable, non-test modules, sorted (site-packages and tests are never entered)."""
    files = []
    for directory, subdirs, names in os.walk(stdlib):
        subdirs[:] = sorted(d for d in subdirs if d not in _EXCLUDED_DIRS and d.isidentifier() and "test" not in d)
        files += [Path(directory) / n for n in names
                  if n.endswith(".py") and "test" not in n and n[:-3].isidentifier()]
    return sorted(files)


def _entries(tree: ast.Module, lines: list[str], module: str) -> list[Entry]:
    found = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            found.append(_entry(node, lines, module, node.name, "function"))
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            found.append(_entry(node, lines, module, node.name, "class"))
            found += [_entry(item, lines, module, f"{node.name}.{item.name}", "method") for item in node.body
                      if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and not item.name.startswith("_")]
    return [e for e in found if e is not None]


def _entry(node: ast.AST, lines: list[str], module: str, qualname: str, kind: str) -> Entry | None:
    docstring = ast.get_docstring(node, clean=True)
    doc = node.body[0]
    if not docstring or len(node.body) < 2 or doc.lineno == node.lineno or node.body[1].lineno == doc.end_lineno:
        return None  # no docstring, nothing else, or a docstring sharing a line with code
    paragraphs = [" ".join(_ROLE.sub(r"\1", p).replace("``", "").split()) for p in docstring.split("\n\n")
                  if _is_prose(p)]
    if not paragraphs:
        return None
    first = _SENTENCE_END.search(paragraphs[0])
    summary = paragraphs[0][:first.end()] if first else paragraphs[0]
    details = " ".join([paragraphs[0][len(summary):].strip(), *paragraphs[1:]]).strip()
    words = details.split()
    if len(words) > 160:  # an abstract's length: cut at the last sentence end within 160 words
        cut = " ".join(words[:160])
        ends = list(_SENTENCE_END.finditer(cut))
        details = cut[:ends[-1].end()] if ends else cut
    code_lines = [line for line in lines[node.lineno - 1:doc.lineno - 1] + lines[doc.end_lineno:node.end_lineno]
                  if line.strip()][:CODE_LINES]
    indent = len(code_lines[0]) - len(code_lines[0].lstrip())
    code = "\n".join(line[indent:] if line[:indent].isspace() else line.strip() for line in code_lines)
    return Entry(module, qualname, kind, summary, details, code)


def _is_prose(paragraph: str) -> bool:
    """A paragraph of sentences, not a doctest, a parameter list, a table or a code block."""
    lines = [line for line in paragraph.strip().split("\n") if line.strip()]
    if not lines or any(line.lstrip().startswith((">>>", "...", "-", "*", "+", "|", "=", ":")) for line in lines):
        return False
    if any(line.startswith(" ") for line in lines) or paragraph.rstrip().endswith(":"):
        return False
    text = " ".join(paragraph.split())
    letters = sum(c.isalpha() or c == " " for c in text)
    return len(text.split()) >= 4 and text[-1] in ".!?)" and letters > 0.85 * len(text)


def _sentences(text: str) -> list[str]:
    """Sentences as `embedtune pretrain` splits them (after every . ! or ?)."""
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def _split(text: str) -> list[str]:
    """Sentences, not cut after "e.g.", "i.e.", "etc." or an initial."""
    sentences, start = [], 0
    for end in _SENTENCE_END.finditer(text):
        sentences.append(text[start:end.end()].strip())
        start = end.end()
    return [s for s in sentences + [text[start:].strip()] if s]


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())
