"""`embedtune generate` and `embedtune adapt` from the command line: output, and one-line errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from embedtune.cli._errors import run_with_clean_errors
from embedtune.cli.app import cli
from tests.cli.test_cli_errors import HINT

DOCS = "".join(json.dumps({"_id": f"d{i}", "title": f"Protein {i} folding in yeast cells",
                           "text": f"Protein {i} folds with chaperone {i}. Misfolded protein {i} aggregates in "
                                   f"old yeast cells. Heat shock raises chaperone {i} levels within minutes."}) + "\n"
               for i in range(6))


def embedtune(*args: str | Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EMBEDTUNE_DEBUG": "", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run([sys.executable, "-m", "embedtune.cli.app", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=300)


@pytest.fixture()
def docs(tmp_path: Path) -> Path:
    path = tmp_path / "docs.jsonl"
    path.write_text(DOCS, encoding="utf-8")
    return path


def test_generate_writes_pairs_and_a_json_summary(docs: Path, tmp_path: Path) -> None:
    out = tmp_path / "pairs.jsonl"
    proc = embedtune("generate", "--data", docs, "--out", out, "--min-passage-words", "5", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert summary["kept"] == len(rows) > 0 and summary["out"] == str(out)
    assert {r["method"] for r in rows} == {"ict", "title"}


def test_a_missing_doc2query_model_is_one_line(docs: Path, tmp_path: Path) -> None:
    proc = embedtune("generate", "--data", docs, "--out", tmp_path / "p.jsonl", "--method", "doc2query",
                     "--doc2query-model", "doc2query/msmarco-t5-base-v1", "--quiet")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith('embedtune: error: cannot load doc2query model "doc2query/msmarco-t5-base-v1": it is '
                               "neither a local seq2seq model folder nor reachable on the Hugging Face Hub (")
    assert lines[1:] == [HINT]


def cases(tmp: Path, docs: Path) -> dict[str, tuple[list, str]]:
    existing = tmp / "exists.jsonl"
    existing.write_text("{}\n", encoding="utf-8")
    finished = tmp / "model"
    finished.mkdir()
    (finished / "embedtune_train.json").write_text("{}", encoding="utf-8")
    return {
        "llm without url": (["generate", "--data", docs, "--out", tmp / "p.jsonl", "--method", "llm"],
                            "flags: method llm needs llm_url and llm_model (--llm-url, --llm-model)"),
        "output exists": (["generate", "--data", docs, "--out", existing],
                          f'"{existing}" already exists; pass --overwrite to replace it or choose another --out'),
        "missing corpus": (["generate", "--data", tmp / "nope", "--out", tmp / "p.jsonl"],
                           f"{tmp}/nope: not found (give a BEIR folder, a corpus .jsonl/.csv file, or a folder of "
                           ".txt/.md files)"),
        "adapt cross-encoder": (["adapt", docs, "--out", tmp / "m", "--cross-encoder", tmp / "no-such-ce"],
                                f'model path "{tmp}/no-such-ce" does not exist'),
        "adapt cross-encoder no-mine": (["adapt", docs, "--out", tmp / "m", "--cross-encoder", "ce", "--no-mine"],
                                        "flags: cross_encoder: GPL pseudo-labels score mined hard negatives; "
                                        "drop --no-mine"),
        "adapt finished model": (["adapt", docs, "--out", finished],
                                 f'"{finished}" already holds a finished model; pass --overwrite to replace it or '
                                 "choose another --out"),
    }


@pytest.mark.parametrize("name", ["llm without url", "output exists", "missing corpus", "adapt cross-encoder",
                                  "adapt cross-encoder no-mine", "adapt finished model"])
def test_bad_input_is_one_line(name: str, docs: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("EMBEDTUNE_DEBUG", raising=False)
    args, message = cases(tmp_path, docs)[name]
    assert run_with_clean_errors(cli, [*map(str, args), "--quiet"]) == 1
    assert capsys.readouterr().err.splitlines() == [f"embedtune: error: {message}", HINT]
