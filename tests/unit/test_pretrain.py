"""Domain-adaptive pre-training: corpus reading, sentence splitting, TSDAE noise, and tiny real runs."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from embedtune.config import PretrainConfig, build_config
from embedtune.data.corpus import load_documents
from embedtune.errors import ConfigError, DataError, OutputExistsError
from embedtune.training import pretrain as pretrain_module
from embedtune.training.pretrain import DECODER_FILE, RESULT_FILE, corpus_texts, delete_words, pretrain_model


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from embedtune.models import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model(None))


@pytest.fixture(scope="module")
def scifact_docs(scifact_like: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 12 documents of the SciFact-like set as a raw-text JSONL corpus (title + text, no ids)."""
    with open(scifact_like / "corpus.jsonl", encoding="utf-8") as f:
        rows = [json.loads(next(f)) for _ in range(12)]
    path = tmp_path_factory.mktemp("corpus") / "abstracts.jsonl"
    path.write_text("".join(json.dumps({"title": r["title"], "text": r["text"]}) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def test_documents_from_a_beir_folder_a_jsonl_and_a_text_file(tmp_path: Path) -> None:
    (tmp_path / "beir").mkdir()
    (tmp_path / "beir" / "corpus.jsonl").write_text('{"_id": "d1", "title": "Cells", "text": "T cells."}\n'
                                                    '{"_id": "d2", "text": "B cells."}\n', encoding="utf-8")
    (tmp_path / "raw.jsonl").write_text('{"title": "Cells", "text": "T cells."}\n{"text": "B cells."}\n',
                                        encoding="utf-8")
    (tmp_path / "raw.txt").write_text("Cells T cells.\n\nB cells.\n", encoding="utf-8")
    for name in ("beir", "raw.jsonl", "raw.txt"):
        assert load_documents(tmp_path / name) == ["Cells T cells.", "B cells."], name
    assert load_documents(tmp_path / "raw.txt", max_docs=1) == ["Cells T cells."]


@pytest.mark.parametrize("name, content, message", [
    ("raw.jsonl", '{"body": "x"}\n', 'raw.jsonl line 1: missing field "text" (fields seen: "body")'),
    ("raw.csv", "text\nx\n", 'raw.csv: unsupported corpus file type ".csv" (use .jsonl, .txt or a BEIR folder)'),
    ("raw.txt", "\n\n", "raw.txt: the corpus is empty"),
    ("missing.txt", None, "missing.txt: corpus not found (give a BEIR folder, or a .jsonl or .txt file)"),
    ("folder", "", "folder: folder has no corpus.jsonl (give a BEIR folder, or a .jsonl or .txt file)"),
])
def test_bad_corpora_are_one_line_errors(tmp_path: Path, name: str, content: str | None, message: str) -> None:
    path = tmp_path / name
    if name == "folder":
        path.mkdir()
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_documents(path)
    assert str(info.value) == f"{tmp_path}/{message}"


def test_sentences_are_split_cut_to_the_token_limit_and_short_ones_skipped(tokenizer) -> None:
    texts, skipped = corpus_texts(["Short one. T cells fight infection! Do B cells help?"], tokenizer,
                                  max_tokens=20, pack=False, min_words=3)
    assert texts == ["T cells fight infection!", "Do B cells help?"] and skipped == 1  # "Short one."
    long = " ".join(f"word{i}" for i in range(60)) + "."  # "word12" is two tokens: word ##12
    pieces, _ = corpus_texts([long], tokenizer, max_tokens=21, pack=False, min_words=1)
    assert len(pieces) > 1
    assert all(len(tokenizer(p, add_special_tokens=False)["input_ids"]) <= 21 for p in pieces)
    assert " ".join(pieces) == long, "cutting lost, repeated or split words"


def test_mlm_packs_consecutive_sentences_up_to_the_limit(tokenizer) -> None:
    doc = " ".join(f"Sentence number {i} is here." for i in range(20))
    texts, skipped = corpus_texts([doc, "Another document."], tokenizer, max_tokens=30, pack=True, min_words=3)
    assert skipped == 0
    assert texts[-1] == "Another document.", "chunks never span documents"
    lengths = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts[:-1]]
    assert max(lengths) <= 30 and min(lengths[:-1]) > 30 - 8, lengths  # each full chunk is nearly full
    assert " ".join(texts[:-1]) == doc


def test_deletion_noise_drops_about_the_ratio_and_keeps_a_word() -> None:
    text = " ".join(f"w{i}" for i in range(2000))
    noisy = delete_words(text, 0.6, random.Random(0)).split()
    assert 0.55 < 1 - len(noisy) / 2000 < 0.65
    assert noisy == [w for w in text.split() if w in set(noisy)], "the kept words keep their order"
    assert delete_words(text, 0.6, random.Random(0)) == " ".join(noisy), "the seed fixes the noise"
    assert all(len(delete_words("one two", 0.99, random.Random(s)).split()) >= 1 for s in range(50))


def test_config_rejects_an_unknown_method_with_the_choices() -> None:
    with pytest.raises(ConfigError, match=r'^flags: unknown pretrain method "simcse" \(choose one of: tsdae, mlm\)$'):
        build_config(PretrainConfig, {"method": "simcse"}, source="flags")
    assert PretrainConfig(method="mlm").to_dict()["learning_rate"] == 5e-5
    assert PretrainConfig().to_dict()["learning_rate"] == 3e-5


def _embed(path: str, texts: list[str]) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device="cpu").encode(texts)


TINY = {"max_seq_length": 48, "batch_size": 4, "max_steps": 2, "save_steps": 2, "precision": "fp32"}


def test_tsdae_run_saves_a_changed_model_that_records_how_and_resumes(scifact_docs: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from embedtune.models import resolve_model

    config = PretrainConfig(method="tsdae", **{**TINY, "max_steps": 3})
    out = tmp_path / "tsdae"
    # Interrupt right after the step-2 checkpoint: it must hold the decoder's own weights too.
    real_saver = pretrain_module._decoder_saver

    def saver_then_interrupt(parameters):
        callback = real_saver(parameters)
        save = callback.on_save

        def on_save(*args, **kwargs):
            save(*args, **kwargs)
            raise KeyboardInterrupt

        callback.on_save = on_save
        return callback

    monkeypatch.setattr(pretrain_module, "_decoder_saver", saver_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        pretrain_model(scifact_docs, out, config, show_progress=False)
    assert (out / "checkpoints" / "checkpoint-2" / DECODER_FILE).is_file()
    monkeypatch.undo()

    result = pretrain_model(scifact_docs, out, config, show_progress=False)
    assert result.resumed_from == "checkpoint-2" and result.num_steps == 3
    assert [e["step"] for e in result.loss_history] == [1, 2, 3]
    assert result.num_documents == 12 and result.num_texts >= 3 * 12, "each document gave several sentences"
    saved = json.loads((out / RESULT_FILE).read_text(encoding="utf-8"))
    assert saved["pretrained"] is True and saved["method"] == "tsdae" and saved["corpus"] == str(scifact_docs)
    assert "domain-adapted with TSDAE" in (out / "README.md").read_text(encoding="utf-8")
    assert not (out / "checkpoints").exists()

    texts = ["T cells regulate immunity.", "A randomized trial of aspirin."]
    tuned, base = _embed(str(out), texts), _embed(resolve_model(None), texts)
    assert tuned.shape == (2, 384)
    assert np.allclose(np.linalg.norm(tuned, axis=1), 1.0, atol=1e-5), "the Normalize module is kept"
    assert np.abs(tuned - base).max() > 1e-4, "pre-training changed nothing"

    with pytest.raises(OutputExistsError, match="already holds a finished model; pass --overwrite"):
        pretrain_model(scifact_docs, out, config, show_progress=False)


def test_mlm_run_trains_the_transformer_and_keeps_the_pooling(scifact_docs: Path, tmp_path: Path) -> None:
    from embedtune.models import resolve_model

    out = tmp_path / "mlm"
    # two steps: the first is the warm-up's, at learning rate 0
    result = pretrain_model(scifact_docs, out, PretrainConfig(method="mlm", **TINY), show_progress=False)
    assert result.num_steps == 2 and result.loss_history
    from sentence_transformers import SentenceTransformer

    tuned = SentenceTransformer(str(out), device="cpu")
    base = SentenceTransformer(resolve_model(None), device="cpu")
    assert [repr(tuned[i]) for i in (1, 2)] == [repr(base[i]) for i in (1, 2)], "pooling and normalize are kept"
    texts = ["T cells regulate immunity."]
    assert np.abs(tuned.encode(texts) - base.encode(texts)).max() > 1e-4
