"""Offline pair generation, corpus readers and quality filters, on slices of the SciFact-like fixture set."""
from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path

import pytest

from embedtune.data.pairs import load_pairs
from embedtune.errors import ConfigError, DataError, OutputExistsError
from embedtune.generate import GenerateConfig, GenerationError, generate_pairs, read_passages
from embedtune.generate.corpus import Passage, chunk_words
from embedtune.generate.filters import dedupe, length_filter, normalise_query, round_trip
from embedtune.generate.offline import GeneratedPair, ict_pairs, title_pair
from embedtune.sentences import split_sentences
from tests.slices import write_corpus_only


@pytest.fixture(scope="module")
def scifact_docs(scifact_like: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 80 documents of the SciFact-like set as a BEIR corpus.jsonl (no queries, no labels)."""
    return write_corpus_only(scifact_like, tmp_path_factory.mktemp("scifact-docs"), documents=80)


def test_beir_corpus_keeps_titles_apart_and_full_text_matches_beir(scifact_docs: Path) -> None:
    from embedtune.data.beir import read_corpus

    passages = read_passages(scifact_docs)
    beir = read_corpus(scifact_docs / "corpus.jsonl")
    assert [p.doc_id for p in passages] == list(beir)
    assert all(p.title and p.text for p in passages)
    assert [p.full_text for p in passages] == [" ".join(t.split()) for t in beir.values()]


def test_jsonl_csv_and_text_folders(tmp_path: Path) -> None:
    (tmp_path / "docs.jsonl").write_text('{"id": 7, "text": "Alpha beta."}\n{"id": "x", "title": "T", "text": "Gamma."}\n')
    assert [(p.doc_id, p.title, p.text) for p in read_passages(tmp_path / "docs.jsonl")] == [
        ("7", "", "Alpha beta."), ("x", "T", "Gamma.")]
    (tmp_path / "docs.csv").write_text('id,title,text\na,Head,"Multi\nline body"\nb,,Second\n')
    assert [(p.doc_id, p.title, p.text) for p in read_passages(tmp_path / "docs.csv")] == [
        ("a", "Head", "Multi line body"), ("b", "", "Second")]
    folder = tmp_path / "notes"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "guide.md").write_text("intro words here\n# Install\n" + " ".join(f"w{i}" for i in range(10))
                                             + "\n## Use it\nrun the tool\n")
    (folder / "plain.txt").write_text(" ".join(f"t{i}" for i in range(7)))
    passages = read_passages(folder, chunk_size=4, chunk_overlap=1)
    assert [(p.doc_id, p.title, p.text, p.group) for p in passages] == [
        ("plain.txt#0", "", "t0 t1 t2 t3", "plain.txt"), ("plain.txt#1", "", "t3 t4 t5 t6", "plain.txt"),
        ("sub/guide.md#0", "", "intro words here", "sub/guide.md"),
        ("sub/guide.md#1", "Install", "w0 w1 w2 w3", "sub/guide.md"),
        ("sub/guide.md#2", "Install", "w3 w4 w5 w6", "sub/guide.md"),
        ("sub/guide.md#3", "Install", "w6 w7 w8 w9", "sub/guide.md"),
        ("sub/guide.md#4", "Use it", "run the tool", "sub/guide.md")]


def test_chunks_cover_every_word_without_slivers() -> None:
    words = [str(i) for i in range(11)]
    chunks = chunk_words(words, 5, 2)
    assert chunks == [words[0:5], words[3:8], words[6:11]]
    assert chunk_words(words[:3], 5, 2) == [words[:3]]
    assert chunk_words([], 5, 2) == []


@pytest.mark.parametrize("content, suffix, message", [
    ('{"_id": "a", "body2": "x"}\n', ".jsonl", 'line 1: missing field "text" (fields seen: "_id", "body2")'),
    ('{"_id": "a", "text": "x"}\n{"_id": "a", "text": "y"}\n', ".jsonl", 'line 2: duplicate id "a" (first seen on line 1)'),
    ('{"text": "x"}\n', ".jsonl", 'line 1: missing field "_id" or "id" or "doc_id" (fields seen: "text")'),
    ("id,body2\na,x\n", ".csv", "line 1: no text column (need one of: text, passage, content, body; header: id, body2)"),
    ("x", ".pdf", 'unsupported file type ".pdf" (use .jsonl, .csv, .tsv, .txt, .md or a folder)'),
])
def test_bad_corpus_files_name_the_file_line_and_fix(tmp_path: Path, content: str, suffix: str, message: str) -> None:
    path = tmp_path / f"docs{suffix}"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_passages(path)
    assert str(caught.value) == (f"{path} {message}" if message.startswith("line") else f"{path}: {message}")


def test_a_folder_without_texts_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no corpus.jsonl and no .txt or .md files in the folder"):
        read_passages(tmp_path)


PASSAGE = Passage("d1", "Zebrafish regrow fins. Regrowth needs a blastema of dedifferentiated cells. "
                        "Retinoic acid signalling controls the blastema size. It is a small fish.", "Fin regeneration")


def test_ict_removes_the_sentence_unless_kept() -> None:
    removed = ict_pairs(PASSAGE, 2, 0.0, random.Random(1), min_words=4, max_words=64)
    assert len(removed) == 2 and len({p.query for p in removed}) == 2
    for pair in removed:
        assert pair.query in split_sentences(PASSAGE.text) and pair.query not in pair.positive
        assert pair.positive.startswith("Fin regeneration ") and pair.method == "ict" and pair.doc_id == "d1"
        assert len(pair.positive.split()) == len(PASSAGE.full_text.split()) - len(pair.query.split())
    kept = ict_pairs(PASSAGE, 1, 1.0, random.Random(1), min_words=4, max_words=64)
    assert kept[0].positive == PASSAGE.full_text
    assert ict_pairs(PASSAGE, 9, 0.0, random.Random(1), min_words=5, max_words=64) == \
        ict_pairs(PASSAGE, 9, 0.0, random.Random(1), min_words=5, max_words=64), "seeded"
    assert all(len(p.query.split()) >= 5 for p in ict_pairs(PASSAGE, 9, 0.0, random.Random(1), min_words=5,
                                                             max_words=64))
    assert ict_pairs(Passage("d2", "One sentence only here."), 1, 0.0, random.Random(1), min_words=1,
                     max_words=64) == []


def test_title_pairs_need_a_title_and_a_text() -> None:
    assert title_pair(PASSAGE) == [GeneratedPair("Fin regeneration", PASSAGE.text, "d1", "title")]
    assert title_pair(Passage("d2", "text only")) == []


def test_length_and_dedupe_filters_count_why() -> None:
    pairs = [GeneratedPair("What is a blastema?", "a b c d", "d1", "llm"),
             GeneratedPair("what is a  BLASTEMA", "a b c d", "d2", "llm"),
             GeneratedPair("short", "a b c d", "d1", "llm"),
             GeneratedPair("fine query words", "a b", "d1", "llm"),
             GeneratedPair("same as passage", "Same as passage.", "d3", "llm")]
    dropped: Counter = Counter()
    kept = length_filter(pairs, min_query_words=2, max_query_words=5, min_passage_words=3, dropped=dropped)
    kept = dedupe(kept, dropped)
    assert [p.doc_id for p in kept] == ["d1"]
    assert dropped == {"duplicate query": 1, "query shorter than 2 words": 1, "positive shorter than 3 words": 1,
                       "query is its whole positive": 1}
    assert normalise_query(" What's  THIS? ") == "what s this"


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]{4,}", text.lower()))


def test_round_trip_drops_a_query_whose_passage_does_not_come_back(scifact_docs: Path) -> None:
    from embedtune.models import load_model

    passages = read_passages(scifact_docs)[:20]
    # The passage whose text holds the most of its title's words: a title query its passage answers
    # (a SciFact title always shares its abstract's terms; a docstring's first sentence not always).
    first = max(passages, key=lambda p: len(words(p.title) & words(p.text)) / max(1, len(words(p.title))))
    second = next(p for p in passages if p is not first)
    model = load_model(None, max_seq_length=64)
    good = GeneratedPair(first.title, first.text, first.doc_id, "title")
    # the first passage's title presented as a query for the second passage: BM25 finds the first instead
    wrong = GeneratedPair(first.title + " (mislabelled)", second.text, second.doc_id, "title")
    for method in ("bm25", "dense"):
        dropped: Counter = Counter()
        kept = round_trip([good, wrong], passages, method=method, k=1, dropped=dropped, model=model)
        assert kept == [good], method
        assert dropped == {f"round trip: its passage is not in the {method} top 1": 1}


def test_generate_writes_a_pairs_file_that_train_reads(scifact_docs: Path, tmp_path: Path) -> None:
    out = tmp_path / "pairs.jsonl"
    config = GenerateConfig(ict_keep_probability=0.0)
    result = generate_pairs(scifact_docs, config, out=out)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(result.pairs) == result.generated - sum(result.dropped.values())
    assert {r["method"] for r in rows} == {"ict", "title"} and set(rows[0]) == {"query", "positive", "doc_id", "method"}
    assert all(r["query"] not in r["positive"] for r in rows), "ict with keep probability 0 removes the sentence"
    assert len({r["query"] for r in rows}) == len(rows)
    pairs = load_pairs(out)
    assert len(pairs) == len(rows) and pairs.queries[0] == rows[0]["query"]
    with pytest.raises(OutputExistsError, match="already exists; pass --overwrite"):
        generate_pairs(scifact_docs, config, out=out)
    sampled = generate_pairs(scifact_docs, GenerateConfig(method="title", max_pairs=10), out=out, overwrite=True)
    assert len(sampled.pairs) == 10 and sum(sampled.dropped.values()) == sampled.generated - 10
    assert sampled.dropped["over max_pairs=10 (random sample)"] > 60


def test_nothing_kept_is_an_error(scifact_docs: Path) -> None:
    with pytest.raises(GenerationError, match=r"no pair survived .* dropped: 80 query shorter than 300 words\); "
                                              "loosen the length bounds"):
        generate_pairs(scifact_docs, GenerateConfig(method="title", min_query_words=300, max_query_words=400))


@pytest.mark.parametrize("values, message", [
    ({"method": "llm"}, "method llm needs llm_url and llm_model (--llm-url, --llm-model)"),
    ({"llm_url": "http://x"}, 'llm_url/llm_model are set but method is "offline"; use --method llm'),
    ({"method": "doc2query"}, "method doc2query needs doc2query_model (--doc2query-model NAME)"),
    ({"chunk_overlap": 200}, "chunk_overlap must be in [0, chunk_size=200), got 200"),
    ({"method": "t5"}, 'unknown generation method "t5" (choose one of: offline, ict, title, llm, doc2query)'),
])
def test_config_errors(values: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        GenerateConfig(**values)
    assert str(caught.value) == message
