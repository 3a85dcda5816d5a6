"""The stdlib code-search folder loads as BEIR, keeps splits apart, hides the answer, and is reproducible."""
from __future__ import annotations

import ast
import json
from collections import Counter
from pathlib import Path

import pytest

from embedtune.data import load_beir
from embedtune.demo import CodeSearchStats, build_codesearch_folder
from embedtune.demo.codesearch import _functions_in_module, _parse
from embedtune.errors import ConfigError, OutputExistsError

FILES = ("corpus.jsonl", "queries.jsonl", "qrels/train.tsv", "qrels/test.tsv", "build_info.json")


def normalise(text: str) -> str:
    return " ".join(text.casefold().split())


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, CodeSearchStats]]:
    """Three builds of 200 functions: two with seed 42 and one with seed 7 (each walks the whole stdlib)."""
    root = tmp_path_factory.mktemp("codesearch")
    return {name: (root / name, build_codesearch_folder(root / name, max_functions=200, seed=seed))
            for name, seed in (("a", 42), ("b", 42), ("c", 7))}


def test_folder_loads_with_an_80_20_split_and_one_positive_per_query(builds) -> None:
    folder, stats = builds["a"]
    train, test = load_beir(folder, "train"), load_beir(folder, "test")
    assert (stats.num_functions, stats.num_train, stats.num_test) == (200, 160, 40)
    assert (len(train.queries), len(test.queries), len(train.corpus)) == (160, 40, 200)
    assert stats.files_scanned > 100 and stats.seconds > 0
    assert set(stats.to_dict()) == {"num_functions", "num_train", "num_test", "files_scanned",
                                    "files_skipped", "seconds"}
    for split in (train, test):
        for qid in split.queries:
            assert split.qrels[qid] == {qid.removeprefix("q:"): 1}


def test_no_function_is_in_both_splits(builds) -> None:
    folder, _ = builds["a"]
    train, test = load_beir(folder, "train"), load_beir(folder, "test")
    assert not set(train.queries) & set(test.queries)
    train_docs = {d for q in train.queries for d in train.positives(q)}
    test_docs = {d for q in test.queries for d in test.positives(q)}
    assert not train_docs & test_docs
    assert train_docs | test_docs == set(train.corpus)


def test_documents_are_code_that_hides_the_query(builds) -> None:
    folder, _ = builds["a"]
    corpus = [json.loads(line) for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    lines = (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    queries = {q["_id"]: q["text"] for q in map(json.loads, lines)}
    for doc in corpus:
        query = queries[f"q:{doc['_id']}"]
        assert doc["title"] == ""
        header, code = doc["text"].split("\n", 1)
        module, qualname = doc["_id"].split(":")
        assert header.startswith("# ") and header.endswith(f": {qualname}")
        assert code.lstrip().startswith(("def ", "async def ")), doc["_id"]
        ast.parse(code)  # still valid Python once the docstring is cut out
        assert normalise(query) not in normalise(doc["text"]), doc["_id"]
        assert 4 <= len(query.split()) <= 40
    assert len({normalise(q) for q in queries.values()}) == len(queries)


def test_same_seed_gives_identical_files_and_another_seed_another_split(builds) -> None:
    (a, _), (b, _), (c, _) = builds["a"], builds["b"], builds["c"]
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    test_a = set(load_beir(a, "test").queries)
    test_c = set(load_beir(c, "test").queries)
    assert len(test_c) == 40 and test_a != test_c


def test_methods_are_dedented_and_lose_their_docstring() -> None:
    source = '''
class JSONDecoder:
    @staticmethod
    def decode(s):
        """Return the Python representation of a JSON document.

        More text that must not leak.
        """

        obj = parse(s)
        return obj  # done

    def _private(self):
        """Private helpers are not part of the public API."""
        return 1
        return 2

    def short(self):
        """Has only a single statement in its body."""
        return 1

    def inline(self): """Docstring on the def line is skipped."""; a = 1; return a


def dumps(obj):
    """Serialize an object to a JSON formatted string."""
    text = str(obj)
    return text
'''
    dropped: Counter[str] = Counter()
    functions = _functions_in_module(ast.parse(source), source.split("\n"), "json/decoder.py", dropped)
    by_id = {f.doc_id: f for f in functions}
    assert set(by_id) == {"json.decoder:JSONDecoder.decode", "json.decoder:dumps"}
    decode = by_id["json.decoder:JSONDecoder.decode"]
    assert decode.query == "Return the Python representation of a JSON document."
    assert decode.document == ("# json/decoder.py: JSONDecoder.decode\n"
                               "def decode(s):\n    obj = parse(s)\n    return obj")
    assert dropped == Counter({"body too short": 1, "docstring shares a line with code": 1})
    package = _functions_in_module(ast.parse(source), source.split("\n"), "json/__init__.py", Counter())
    assert "json:dumps" in {f.doc_id for f in package}


@pytest.mark.parametrize("kwargs,message", [
    ({"test_fraction": 0.0}, "test_fraction must be between 0 and 1 (exclusive), got 0.0"),
    ({"test_fraction": 1.5}, "test_fraction must be between 0 and 1 (exclusive), got 1.5"),
    ({"max_functions": 1}, "max_functions must be an integer of at least 2 (one per split), got 1"),
])
def test_bad_settings_are_rejected_with_the_value_seen(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        build_codesearch_folder(tmp_path / "out", **kwargs)
    assert str(err.value) == message
    assert not (tmp_path / "out").exists()


def test_existing_output_is_not_overwritten_without_overwrite(tmp_path: Path) -> None:
    (tmp_path / "corpus.jsonl").write_text("keep me\n")
    with pytest.raises(OutputExistsError) as err:
        build_codesearch_folder(tmp_path)
    assert str(err.value) == (f"{tmp_path} already holds corpus.jsonl; "
                              "pass overwrite=True or choose another folder")
    assert (tmp_path / "corpus.jsonl").read_text() == "keep me\n"


def test_files_that_are_not_utf8_or_not_python_are_skipped_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "latin1.py").write_bytes('def f():\n    """Café au lait."""\n'.encode("latin-1"))
    (tmp_path / "broken.py").write_text("def f(:\n    pass\n")
    (tmp_path / "good.py").write_text("def f():\n    return 1\n")
    assert _parse(tmp_path / "latin1.py") == (None, [])
    assert _parse(tmp_path / "broken.py") == (None, [])
    tree, lines = _parse(tmp_path / "good.py")
    assert tree is not None and lines[1] == "    return 1"
