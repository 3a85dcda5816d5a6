"""`adapt_model` end to end on 60 SciFact-like documents (no labels): what it trains on, and what it never sees."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedtune.config import MineConfig, TrainConfig
from embedtune.generate import AdaptConfig, GenerateConfig, read_passages
from embedtune.generate.adapt import REPORT_FILE, adapt_model, work_dir_for
from tests.slices import write_corpus_only


@pytest.fixture(scope="module")
def docs(scifact_like: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus_only(scifact_like, tmp_path_factory.mktemp("adapt-docs"), documents=60)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow  # ~50 s of CPU: three model loads, one short training run
def test_adapt_trains_on_generated_pairs_and_scores_held_out_documents_it_never_saw(docs: Path,
                                                                                    tmp_path: Path) -> None:
    out = tmp_path / "model"
    result = adapt_model(docs, out, generate=GenerateConfig(max_pairs=90), mine=MineConfig(method="bm25",
                                                                                            num_negatives=1),
                         train=TrainConfig(epochs=1, batch_size=8, max_seq_length=48, dev_corpus_size=50),
                         adapt=AdaptConfig(heldout_fraction=0.2, eval_corpus_size=40))
    assert (out / "modules.json").is_file() and (out / REPORT_FILE).is_file()
    saved = json.loads((out / REPORT_FILE).read_text(encoding="utf-8"))
    assert saved["heldout"]["before"]["ndcg@10"] == result.heldout["before"]["ndcg@10"]
    assert set(result.heldout["after"]) == set(result.heldout["before"])
    assert result.split["heldout_documents"] == 12 and result.split["train_documents"] == 48
    assert (result.config["train"]["loss"], result.config["train"]["teacher"]) == ("margin_kl", "hybrid")  # default
    assert "learning the hybrid teacher's margins and its ranking of each batch" in result.to_table()

    work = work_dir_for(out)
    heldout = read_jsonl(work / "heldout_pairs.jsonl")
    rows = read_jsonl(work / "train_rows.jsonl")
    assert heldout and rows and all(len(r["negatives"]) == 1 for r in rows)
    passages = {p.doc_id: p for p in read_passages(docs)}
    heldout_docs = {h["doc_id"] for h in heldout}
    assert len(heldout_docs) <= 12
    heldout_texts = {passages[d].full_text for d in heldout_docs} | {passages[d].text for d in heldout_docs}
    assert not {h["query"] for h in heldout} & {r["query"] for r in rows}, "no held-out query is trained on"
    doc_of = {g["query"]: g["doc_id"] for g in read_jsonl(work / "generated.jsonl")}
    assert not {doc_of[r["query"]] for r in rows} & heldout_docs, "no training query comes from a held-out document"
    seen = {r["positive"] for r in rows} | {n for r in rows for n in r["negatives"]}
    assert not seen & heldout_texts, "no held-out document is a positive or a negative"
    assert result.train["num_train_pairs"] < len(rows), "train carved its dev split from the rows"


@pytest.mark.slow  # ~60 s of CPU each: teacher scoring plus a short training run
@pytest.mark.parametrize("kind", ["cross-encoder", "hybrid"])
def test_adapt_with_a_teacher_trains_on_its_margins(docs: Path, tmp_path: Path, kind: str) -> None:
    """GPL: training learns the teacher's scores: MarginMSE for a cross-encoder, margin_kl for the hybrid."""
    from tests.unit.test_distill import make_cross_encoder

    teacher = str(make_cross_encoder(tmp_path / "ce")) if kind == "cross-encoder" else "hybrid"
    out = tmp_path / "model"
    result = adapt_model(docs, out, generate=GenerateConfig(max_pairs=60), mine=MineConfig(method="bm25",
                                                                                            num_negatives=1),
                         train=TrainConfig(epochs=1, batch_size=8, max_seq_length=48, dev_corpus_size=50),
                         adapt=AdaptConfig(heldout_fraction=0.2, eval_corpus_size=40, teacher=teacher))
    loss = "margin_mse" if kind == "cross-encoder" else "margin_kl"
    assert result.config["train"]["loss"] == loss and result.config["train"]["teacher"] == teacher
    training = json.loads((out / "embedtune_train.json").read_text(encoding="utf-8"))
    assert training["config"]["loss"] == loss
    assert result.heldout["after"] and (out / "modules.json").is_file()


def test_pseudo_labels_switch_training_to_distilling_the_teacher(tmp_path: Path) -> None:
    from embedtune.errors import ConfigError, ModelNotFoundError
    from embedtune.generate.adapt import pseudo_label_config
    from tests.unit.test_distill import make_cross_encoder

    switched = pseudo_label_config(TrainConfig(epochs=1), "all-MiniLM-L6-v2")
    assert (switched.loss, switched.teacher, switched.epochs) == ("margin_kl", "all-MiniLM-L6-v2", 1)
    assert pseudo_label_config(TrainConfig(), "all-MiniLM-L6-v2", "margin_mse").loss == "margin_mse"
    assert pseudo_label_config(TrainConfig(loss="margin_mse", teacher="x"), "all-MiniLM-L6-v2").loss == "margin_mse"
    cross = str(make_cross_encoder(tmp_path / "ce"))
    assert pseudo_label_config(TrainConfig(), cross).loss == "margin_mse"  # a cross-encoder cannot score batches
    with pytest.raises(ConfigError, match="is a cross-encoder: use --loss margin_mse with it"):
        pseudo_label_config(TrainConfig(), cross, "margin_kl")
    with pytest.raises(ConfigError, match='unknown adapt loss "mnrl"'):
        AdaptConfig(loss="mnrl")
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        pseudo_label_config(TrainConfig(), str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="not gist"):
        pseudo_label_config(TrainConfig(loss="gist", guide_model="all-MiniLM-L6-v2"), "all-MiniLM-L6-v2")
    with pytest.raises(ConfigError, match="^cross_encoder: .* drop --no-mine"):
        AdaptConfig(mine=False, cross_encoder="x")
    with pytest.raises(ConfigError, match="^teacher: .* drop --no-mine"):
        AdaptConfig(mine=False, teacher="hybrid")
    with pytest.raises(ConfigError, match="^cross_encoder: .* drop --no-mine"):  # "none" names no teacher
        AdaptConfig(mine=False, teacher="none", cross_encoder="x")
    with pytest.raises(ConfigError, match="the same setting"):
        AdaptConfig(teacher="hybrid", cross_encoder="x")
    assert AdaptConfig(teacher="hybrid").pseudo_label_teacher == "hybrid"
    assert AdaptConfig(cross_encoder="ce").pseudo_label_teacher == "ce"
    hybrid = pseudo_label_config(TrainConfig(epochs=1), "hybrid")  # nothing to resolve: BM25 + the student
    assert (hybrid.loss, hybrid.teacher) == ("margin_kl", "hybrid")
    with pytest.raises(ConfigError, match="names no dense model"):
        pseudo_label_config(TrainConfig(), "hybrid:")


def test_heldout_set_scores_a_query_against_its_own_positive_and_its_documents_other_pairs() -> None:
    from embedtune.generate import Passage
    from embedtune.generate.adapt import heldout_set
    from embedtune.generate.offline import GeneratedPair

    passages = [Passage(f"d{i}", f"text {i}", f"title {i}", group=f"d{i}") for i in range(6)]
    pairs = [GeneratedPair("ict query", "title 0 rest", "d0", "ict"), GeneratedPair("title 0", "text 0", "d0", "title"),
             GeneratedPair("title 1", "text 1", "d1", "title")]
    data = heldout_set(pairs, passages, {"d0", "d1"}, AdaptConfig(eval_corpus_size=100), source="docs")
    assert data.corpus == {"d2": "title 2 text 2", "d3": "title 3 text 3", "d4": "title 4 text 4",
                           "d5": "title 5 text 5", "heldout-0": "title 0 rest", "heldout-1": "text 0",
                           "heldout-2": "text 1"}, "held-out documents appear only as their pairs' positives"
    assert data.queries == {"q0": "ict query", "q1": "title 0", "q2": "title 1"}
    assert data.qrels == {"q0": {"heldout-0": 1, "heldout-1": 1}, "q1": {"heldout-0": 1, "heldout-1": 1},
                          "q2": {"heldout-2": 1}}
    small = heldout_set(pairs, passages, {"d0", "d1"}, AdaptConfig(eval_corpus_size=4, max_heldout_queries=1),
                        source="docs")
    assert len(small.queries) == 1 and len(small.corpus) == 4
    assert set(next(iter(small.qrels.values()))) <= set(small.corpus), "judged documents are always kept"


def test_heldout_split_keeps_the_chunks_of_a_file_together() -> None:
    from embedtune.generate import Passage
    from embedtune.generate.adapt import heldout_groups_of

    passages = [Passage(f"f{f}.md#{c}", "text", group=f"f{f}.md") for f in range(10) for c in range(f % 3 + 1)]
    held = heldout_groups_of(passages, 0.2, seed=3)
    assert held and held < {p.group for p in passages}
    held_passages = [p for p in passages if p.group in held]
    assert len(held_passages) >= round(0.2 * len(passages)), "about the fraction, counted in passages"
    assert heldout_groups_of(passages, 0.2, seed=3) == held, "seeded"
    assert len(heldout_groups_of(passages[:1], 0.9, seed=3)) == 0, "a single document always trains"
