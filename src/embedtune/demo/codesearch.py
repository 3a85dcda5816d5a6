"""An offline code-search dataset built from the Python standard library on this machine.

Each public function becomes one document (its source without the docstring) and one query (the
first sentence of that docstring). It needs no download and no model, so demos and tests of the
whole pipeline run anywhere, on a domain (code) that general text-embedding models handle badly
enough for fine-tuning to show a gain.
"""
from __future__ import annotations

import ast
import hashlib
import json
import logging
import os
import sys
import sysconfig
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from embedtune import __version__
from embedtune._io import write_json_atomic, write_text_atomic
from embedtune.errors import ConfigError, DataError, OutputExistsError
from embedtune.sentences import first_sentence

logger = logging.getLogger(__name__)

# Folders that hold tests, demos, vendored wheels or generated data rather than library code.
EXCLUDED_DIRS = frozenset({
    "site-packages", "dist-packages", "test", "tests", "idlelib", "lib2to3", "turtledemo",
    "ensurepip", "__phello__", "pydoc_data", "__pycache__",
})
MIN_QUERY_WORDS = 4
MAX_QUERY_WORDS = 40
MIN_BODY_STATEMENTS = 2
MIN_BODY_CODE_LINES = 3
OUTPUT_FILES = ("corpus.jsonl", "queries.jsonl", "qrels/train.tsv", "qrels/test.tsv", "build_info.json")



@dataclass(frozen=True)
class CodeSearchStats:
    """What a build produced, so a caller can report it or check it in a test."""

    num_functions: int
    num_train: int
    num_test: int
    files_scanned: int
    files_skipped: int
    seconds: float

    def to_dict(self) -> dict[str, int | float]:
        return asdict(self)


@dataclass(frozen=True)
class _Function:
    doc_id: str
    query: str
    code: str  # de-docstringed and dedented, without the header line
    header: str

    @property
    def document(self) -> str:
        return f"{self.header}\n{self.code}"


def build_codesearch_folder(out_dir: str | Path, *, max_functions: int = 1200, test_fraction: float = 0.2,
                            seed: int = 42, overwrite: bool = False) -> CodeSearchStats:
    """Write a BEIR folder (corpus, queries, qrels/train.tsv, qrels/test.tsv) of stdlib functions.

    Each query has exactly one positive, its own function, and every function lands in exactly
    one split, so test scores measure retrieval of code never seen in training. The result
    depends only on the installed Python, ``max_functions``, ``test_fraction`` and ``seed``.
    Existing output files are replaced only with ``overwrite=True``.
    """
    if isinstance(max_functions, bool) or not isinstance(max_functions, int) or max_functions < 2:
        raise ConfigError("max_functions must be an integer of at least 2 (one per split), "
                          f"got {max_functions!r}")
    if not 0.0 < test_fraction < 1.0:
        raise ConfigError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction!r}")
    out_dir = Path(out_dir)
    existing = [name for name in OUTPUT_FILES if (out_dir / name).exists()]
    if existing and not overwrite:
        raise OutputExistsError(f"{out_dir} already holds {', '.join(existing)}; "
                                "pass overwrite=True or choose another folder")

    started = time.perf_counter()
    stdlib_dir = Path(sysconfig.get_paths()["stdlib"])
    functions, files_scanned, files_skipped = _collect_functions(stdlib_dir)
    if len(functions) < 2:
        raise DataError(stdlib_dir, f"only {len(functions)} usable functions found; need at least 2 "
                                    "(is this a complete Python installation?)")

    # Each function's place in the sample and the split comes from a hash of its id and the seed, so a
    # function that appears, disappears or changes in another Python version (or under another rule for
    # its query) moves only itself, not every function drawn after it.
    functions = sorted(functions, key=lambda f: _rank(f.doc_id, seed, "sample"))[:max_functions]
    num_test = min(max(1, round(test_fraction * len(functions))), len(functions) - 1)
    test_ids = {f.doc_id for f in sorted(functions, key=lambda f: _rank(f.doc_id, seed, "test"))[:num_test]}
    functions.sort(key=lambda f: f.doc_id)

    _write_folder(out_dir, functions, test_ids)
    build_info = {
        "embedtune_version": __version__,
        "python_version": sys.version.split()[0],
        "stdlib_dir": str(stdlib_dir),
        "max_functions": max_functions,
        "test_fraction": test_fraction,
        "seed": seed,
        "num_functions": len(functions),
        "num_train": len(functions) - num_test,
        "num_test": num_test,
    }
    write_json_atomic(out_dir / "build_info.json", build_info)

    stats = CodeSearchStats(num_functions=len(functions), num_train=len(functions) - num_test,
                            num_test=num_test, files_scanned=files_scanned, files_skipped=files_skipped,
                            seconds=round(time.perf_counter() - started, 3))
    logger.info("code search folder %s: %d functions (%d train, %d test) from %d files (%d skipped) "
                "in %.1f s",
                out_dir, stats.num_functions, stats.num_train, stats.num_test, stats.files_scanned,
                stats.files_skipped, stats.seconds)
    return stats


def _rank(doc_id: str, seed: int, purpose: str) -> str:
    """A stable pseudo-random sort key (the same on every machine and Python, unlike ``hash``)."""
    return hashlib.sha256(f"{seed}:{purpose}:{doc_id}".encode()).hexdigest()


def _write_folder(out_dir: Path, functions: list[_Function], test_ids: set[str]) -> None:
    corpus = "".join(json.dumps({"_id": f.doc_id, "title": "", "text": f.document}, ensure_ascii=False) + "\n"
                     for f in functions)
    queries = "".join(json.dumps({"_id": _query_id(f), "text": f.query}, ensure_ascii=False) + "\n"
                      for f in functions)
    header = "query-id\tcorpus-id\tscore\n"
    rows = {f.doc_id: f"{_query_id(f)}\t{f.doc_id}\t1\n" for f in functions}
    train = header + "".join(row for doc_id, row in rows.items() if doc_id not in test_ids)
    test = header + "".join(row for doc_id, row in rows.items() if doc_id in test_ids)
    write_text_atomic(out_dir / "corpus.jsonl", corpus)
    write_text_atomic(out_dir / "queries.jsonl", queries)
    write_text_atomic(out_dir / "qrels" / "train.tsv", train)
    write_text_atomic(out_dir / "qrels" / "test.tsv", test)


def _query_id(function: _Function) -> str:
    return f"q:{function.doc_id}"


def _collect_functions(stdlib_dir: Path) -> tuple[list[_Function], int, int]:
    """Every usable function under ``stdlib_dir``, after dropping ambiguous ones.

    A query shared by two functions, or code shared by two functions, would make one of the
    labels wrong, so every copy is dropped rather than keeping an arbitrary one.
    """
    found: list[_Function] = []
    dropped: Counter[str] = Counter()
    files_scanned = files_skipped = 0
    for path in _python_files(stdlib_dir):
        relative = path.relative_to(stdlib_dir).as_posix()
        tree, lines = _parse(path)
        if tree is None:
            files_skipped += 1
            continue
        files_scanned += 1
        found.extend(_functions_in_module(tree, lines, relative, dropped))

    kept = found
    for reason, key in (("duplicate id", lambda f: f.doc_id),
                        ("duplicate query", lambda f: f.query.casefold()),
                        ("duplicate code", lambda f: f.code)):
        counts = Counter(key(f) for f in kept)
        before = len(kept)
        kept = [f for f in kept if counts[key(f)] == 1]
        dropped[reason] += before - len(kept)
    logger.info("%d candidate functions from %d files (%d files unreadable); dropped: %s", len(kept),
                files_scanned, files_skipped,
                ", ".join(f"{n} {reason}" for reason, n in sorted(dropped.items()) if n) or "none")
    return kept, files_scanned, files_skipped


def _python_files(stdlib_dir: Path) -> list[Path]:
    """.py files of importable, non-test modules, in sorted order so every build sees the same list."""
    files: list[Path] = []
    for root, dirs, names in os.walk(stdlib_dir):
        dirs[:] = sorted(d for d in dirs if d not in EXCLUDED_DIRS and d.isidentifier() and "test" not in d)
        for name in sorted(names):
            if name.endswith(".py") and "test" not in name and name[:-3].isidentifier():
                files.append(Path(root) / name)
    return sorted(files)


def _parse(path: Path) -> tuple[ast.Module | None, list[str]]:
    """The syntax tree and lines of ``path``, or None for a file that is not UTF-8 or not valid Python."""
    try:
        source = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        logger.debug("skipping %s: %s", path, exc)
        return None, []
    # ast line numbers count only \n, \r\n and \r, unlike str.splitlines (which also splits on \f).
    source = source.replace("\r\n", "\n").replace("\r", "\n")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences in old modules are not our concern
            tree = ast.parse(source, filename=str(path))
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        logger.debug("skipping %s: %s", path, exc)
        return None, []
    return tree, source.split("\n")


def _functions_in_module(tree: ast.Module, lines: list[str], relative: str,
                         dropped: Counter[str]) -> list[_Function]:
    module_parts = relative[:-3].split("/")
    if module_parts[-1] == "__init__":
        module_parts.pop()
    module = ".".join(module_parts)
    defs: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            defs.append((node.name, node))
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            defs.extend((f"{node.name}.{item.name}", item) for item in node.body
                        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
                        and not item.name.startswith("_"))

    functions: list[_Function] = []
    for qualname, node in defs:
        function = _function_from_def(node, lines, f"{module}:{qualname}", f"# {relative}: {qualname}",
                                      dropped)
        if function is not None:
            functions.append(function)
    return functions


def _function_from_def(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str], doc_id: str,
                       header: str, dropped: Counter[str]) -> _Function | None:
    """One function as (query, code), or None (counted in ``dropped``) when it makes a poor pair."""
    docstring = ast.get_docstring(node, clean=True)
    if not docstring:
        dropped["no docstring"] += 1
        return None
    query = _first_sentence(docstring)
    if not MIN_QUERY_WORDS <= len(query.split()) <= MAX_QUERY_WORDS:
        dropped["query length"] += 1
        return None
    code = _source_without_docstring(node, lines)
    if code is None:
        dropped["docstring shares a line with code"] += 1
        return None
    body = node.body[1:]
    code_lines = sum(1 for line in lines[body[0].lineno - 1:node.end_lineno]
                     if line.strip() and not line.lstrip().startswith("#")) if body else 0
    if len(body) < MIN_BODY_STATEMENTS and code_lines < MIN_BODY_CODE_LINES:
        dropped["body too short"] += 1
        return None
    # The query must not be recoverable by string matching (e.g. an error message repeating it).
    if " ".join(query.casefold().split()) in " ".join(code.casefold().split()):
        dropped["query text in code"] += 1
        return None
    return _Function(doc_id=doc_id, query=query, code=code, header=header)


def _first_sentence(docstring: str) -> str:
    """The first sentence of the first paragraph, whitespace collapsed.

    The first line alone is often half a sentence, because docstrings wrap at 72-79 columns.
    """
    return first_sentence(" ".join(docstring.strip().split("\n\n", 1)[0].split()))


def _source_without_docstring(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> str | None:
    """The function's source (from ``def``, decorators excluded) without its docstring lines, dedented.

    Same text as ``ast.get_source_segment(source, node, padded=True)``, cut from lines split once:
    that function re-splits the whole file character by character on every call, which costs
    seconds on large modules. None when the docstring shares a line with code, since dropping
    whole lines would then drop code too.
    """
    doc = node.body[0]
    end_lineno = node.end_lineno or node.lineno
    first, last = doc.lineno - 1, (doc.end_lineno or doc.lineno) - 1
    if (doc.lineno == node.lineno or lines[first].encode()[:doc.col_offset].strip()
            or (len(node.body) > 1 and node.body[1].lineno == doc.end_lineno)):
        return None
    segment = lines[node.lineno - 1:end_lineno]
    segment[-1] = segment[-1].encode()[:node.end_col_offset].decode()  # drop a trailing comment
    start = node.lineno - 1
    after = last - start + 1
    while after < len(segment) and not segment[after].strip():  # the blank line that set the docstring apart
        after += 1
    kept = segment[:first - start] + segment[after:]
    # Strip the def line's own indentation rather than use textwrap.dedent: a multi-line string
    # starting at column 0 inside a method would stop dedent from removing anything, leaving code
    # that no longer parses.
    indent = segment[0][:len(segment[0]) - len(segment[0].lstrip())]
    return "\n".join(line[len(indent):] if line.startswith(indent) else line for line in kept).rstrip()
