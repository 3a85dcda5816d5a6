"""One name per concept across commands: --data for input data, --model for a model, --json FILE."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedtune.cli.app import cli
from tests.cli.test_generate_cli import DOCS, embedtune
from tests.tiny_models import tiny_bert


def test_every_command_that_reads_data_takes_data_and_every_model_reader_takes_model() -> None:
    for name, command in cli.commands.items():
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        if name in ("eval", "train", "mine", "index", "generate", "pretrain", "adapt"):
            assert "--data" in options, name
        if name in ("eval", "train", "mine", "index", "pretrain", "adapt", "export", "serve", "generate"):
            assert "--model" in options, name
        json_options = [p for p in command.params if "--json" in getattr(p, "opts", [])]
        for option in json_options:
            assert not option.is_flag, f"{name} --json takes a FILE ('-' or nothing: stdout)"


def test_the_old_corpus_spelling_still_works_with_a_note(tmp_path: Path) -> None:
    docs = tmp_path / "docs.jsonl"
    docs.write_text(DOCS, encoding="utf-8")
    new = embedtune("generate", "--data", docs, "--out", tmp_path / "a.jsonl", "--min-passage-words", "5", "-q")
    old = embedtune("generate", "--corpus", docs, "--out", tmp_path / "b.jsonl", "--min-passage-words", "5", "-q")
    assert new.returncode == old.returncode == 0, old.stderr
    assert (tmp_path / "a.jsonl").read_text(encoding="utf-8") == (tmp_path / "b.jsonl").read_text(encoding="utf-8")
    assert "--corpus is now --data" in old.stderr and "--corpus" not in new.stderr


@pytest.mark.parametrize("form", ["option", "positional"])
def test_export_takes_the_model_either_way_and_json_goes_to_a_file_or_stdout(tmp_path: Path, form: str) -> None:
    model = tiny_bert(tmp_path / "tiny")
    given = ["--model", str(model)] if form == "option" else [str(model)]
    to_file = embedtune("export", *given, "--format", "st", "--out", tmp_path / "st", "--json", tmp_path / "r.json",
                        "-q")
    assert to_file.returncode == 0, to_file.stderr
    assert "smallest cosine" in to_file.stdout, "with a FILE the table still prints"
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["format"] == "st"
    if form == "positional":  # JSON on stdout does not depend on how the model was named: checked once
        return
    to_stdout = embedtune("export", *given, "--format", "st", "--out", tmp_path / "st2", "--json")
    assert to_stdout.returncode == 0, to_stdout.stderr
    assert json.loads(to_stdout.stdout)["min_cosine"] > 0.9999


def test_an_unwritable_json_file_is_refused_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    proc = embedtune("export", "--model", tmp_path / "missing", "--format", "st", "--out", tmp_path / "st",
                     "--json", tmp_path / "a-file" / "r.json")
    assert proc.returncode == 1
    assert proc.stderr.startswith("embedtune: error: ") and "--json" in proc.stderr.splitlines()[0]
