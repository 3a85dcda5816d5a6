"""Bad input through the CLI: one line on stderr, exit 1, no traceback unless EMBEDTUNE_DEBUG=1.

Every case fails before a model is loaded, so each run costs an interpreter start, not a model load.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from embedtune.cli.app import cli

HINT = "(set EMBEDTUNE_DEBUG=1 for the traceback)"


def embedtune(*args: str | Path, debug: bool = False) -> subprocess.CompletedProcess:
    # No GPU in sight, so the qlora case gives the CPU message on any machine.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EMBEDTUNE_DEBUG": "1" if debug else "", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run([sys.executable, "-m", "embedtune.cli.app", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=120)


def write_beir(folder: Path, corpus: str = '{"_id": "d1", "text": "T cells fight infection."}\n') -> Path:
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(corpus, encoding="utf-8")
    (folder / "queries.jsonl").write_text('{"_id": "q1", "text": "what do T cells do"}\n', encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n", encoding="utf-8")
    return folder


def bad_input_cases(tmp: Path) -> dict[str, tuple[list, str]]:
    """Name -> (arguments, the error after "embedtune: error: ")."""
    malformed = write_beir(tmp / "malformed", corpus='{"_id": "d1", "text": "x"}\n{"_id": "d2", "text": "y"\n')
    good = write_beir(tmp / "good")
    pairs = tmp / "pairs.jsonl"
    pairs.write_text('{"query": "q1", "positive": "p1"}\n{"query": "q2", "pos": "p2", "negative": "n2"}\n',
                     encoding="utf-8")
    config = tmp / "train.yaml"
    config.write_text("epochs: 1\nlearning_rat: 2.0e-5\n", encoding="utf-8")
    good_pairs = tmp / "good_pairs.jsonl"
    good_pairs.write_text("".join(f'{{"query": "question {i}", "positive": "answer {i}"}}\n' for i in range(3)),
                          encoding="utf-8")
    bad_yaml = tmp / "bad.yaml"
    bad_yaml.write_text("epochs: 1\n  strategy: lora\n", encoding="utf-8")
    return {
        "eval missing folder": (["eval", "--data", tmp / "scifcat"],
                                f"{tmp}/scifcat: data folder not found "
                                "(expected a BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv)"),
        "eval malformed json": (["eval", "--data", malformed],
                                f"{malformed}/corpus.jsonl line 2: malformed JSON (Expecting ',' delimiter at column 26)"),
        "eval unknown split": (["eval", "--data", good, "--split", "nope"],
                               f'{good}/qrels/nope.tsv: split "nope" not found (available splits: test)'),
        "train bad pairs": (["train", "--data", pairs, "--out", tmp / "out"],
                            f"{pairs} line 2: row has 1 negatives but line 1 has 0; give every row the same number"),
        # the data loads (and logs a line) before the model; --quiet leaves only the error
        "eval missing model": (["eval", "--data", good, "--model", tmp / "runs" / "nope", "--quiet"],
                               f'model path "{tmp}/runs/nope" does not exist'),
        "train unknown key": (["train", "--data", "x", "--out", tmp / "out", "--config", config],
                              f'{config}: unknown key "learning_rat"; did you mean "learning_rate"?'),
        "train bad yaml": (["train", "--data", "x", "--out", tmp / "out", "--config", bad_yaml],
                           f"{bad_yaml} line 2: invalid YAML (mapping values are not allowed here)"),
        "mine output exists": (["mine", "--data", good, "--out", pairs],
                               f'"{pairs}" already exists; pass --overwrite to replace it or choose another --out'),
        "mine tiny corpus": (["mine", "--data", good, "--split", "test", "--method", "bm25", "--out",
                              tmp / "out", "--quiet"],
                             "the corpus has 1 document, too few to skip the top 0 and take 5 negatives besides "
                             "the positive; lower range_min or num_negatives"),
        # refused before the (missing) data is read
        "train qlora on cpu": (["train", "--data", tmp / "scifcat", "--out", tmp / "out", "--strategy", "qlora"],
                               "qlora needs a CUDA GPU and bitsandbytes (found: no CUDA device); "
                               "use --strategy lora on CPU"),
        "train bad matryoshka dims": (["train", "--data", good, "--out", tmp / "out", "--matryoshka-dims", "384,-64"],
                                      "flags: matryoshka_dims must be positive, got -64"),
        # the guard is read before the model loads, so a wrong path costs seconds, not a training run
        "train missing guard data": (["train", "--data", good_pairs, "--out", tmp / "out", "--guard-data",
                                      tmp / "dbpedia", "--quiet"],
                                     f"guard_data: {tmp}/dbpedia: data folder not found "
                                     "(expected a BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv)"),
        "train unknown guard split": (["train", "--data", good_pairs, "--out", tmp / "out", "--guard-data", good,
                                       "--guard-split", "dev", "--quiet"],
                                      f'guard_data: {good}/qrels/dev.tsv: split "dev" not found (available splits: test)'),
        "train bad guard alphas": (["train", "--data", good_pairs, "--out", tmp / "out", "--guard-data", good,
                                    "--guard-alphas", "0.8,1.2"],
                                   "flags: guard_alphas must be in (0, 1] (the tuned model's weight in the mix), got 1.2"),
        "eval bad dims": (["eval", "--data", good, "--dims", "256,half"],
                          '--dims must be whole numbers such as 384,256,128, got "half"'),
        # the corpus is read before the model loads
        "pretrain missing corpus": (["pretrain", "--corpus", tmp / "abstracts.jsonl", "--out", tmp / "out"],
                                    f"{tmp}/abstracts.jsonl: corpus not found (give a BEIR folder, or a .jsonl "
                                    "or .txt file)"),
        "pretrain corpus without text": (["pretrain", "--corpus", pairs, "--out", tmp / "out"],
                                         f'{pairs} line 1: missing field "text" (fields seen: "query", "positive")'),
    }


CASE_NAMES = ["eval missing folder", "eval malformed json", "eval unknown split", "train bad pairs",
              "eval missing model", "train unknown key", "train bad yaml", "mine output exists", "mine tiny corpus",
              "train qlora on cpu", "train bad matryoshka dims", "train missing guard data", "train unknown guard split",
              "train bad guard alphas", "eval bad dims", "pretrain missing corpus", "pretrain corpus without text"]


def test_every_case_is_parametrized(tmp_path: Path) -> None:
    assert list(bad_input_cases(tmp_path)) == CASE_NAMES


@pytest.mark.parametrize("case", CASE_NAMES)
def test_bad_input_is_one_line_and_exit_1(tmp_path: Path, case: str) -> None:
    args, message = bad_input_cases(tmp_path)[case]
    proc = embedtune(*args)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.splitlines() == [f"embedtune: error: {message}", HINT]
    assert proc.stdout == ""
    assert not (tmp_path / "out").exists(), "a rejected run must not create its output folder"


@pytest.mark.parametrize("case", ["eval malformed json", "train unknown key"])
def test_debug_shows_the_traceback(tmp_path: Path, case: str) -> None:
    args, message = bad_input_cases(tmp_path)[case]
    proc = embedtune(*args, debug=True)
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1].endswith(f"Error: {message}")
    assert HINT not in proc.stderr


def test_guard_data_falls_back_to_the_environment(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"query": "q1", "positive": "p1"}\n{"query": "q2", "positive": "p2"}\n', encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EMBEDTUNE_DEBUG": "", "EMBEDTUNE_GUARD_DATA": str(tmp_path / "gone")}
    proc = subprocess.run([sys.executable, "-m", "embedtune.cli.app", "train", "--data", str(pairs), "--out",
                           str(tmp_path / "out"), "--quiet"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == (f"embedtune: error: guard_data: {tmp_path}/gone: data folder not found "
                                           "(expected a BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv)")
    assert not (tmp_path / "out").exists()


def test_click_usage_errors_keep_exit_2(tmp_path: Path) -> None:
    proc = embedtune("train", "--data", tmp_path, "--out", tmp_path / "out", "--strategy", "dora")
    assert proc.returncode == 2
    assert "Invalid value for '--strategy': 'dora' is not one of 'full', 'lora', 'qlora'." in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", [None, *sorted(cli.commands)])
def test_help_mentions_every_option(command: str | None) -> None:
    proc = embedtune(*([command] if command else []), "--help")
    assert proc.returncode == 0, proc.stderr
    group_or_command = cli if command is None else cli.commands[command]
    for param in group_or_command.params:
        if isinstance(param, click.Argument):  # positional: shown by its metavar (MODEL), not its name
            assert param.make_metavar(click.Context(group_or_command)) in proc.stdout
            continue
        for opt in [*param.opts, *param.secondary_opts]:
            assert opt in proc.stdout, f"{command or 'embedtune'} --help does not mention {opt}"
    if command is None:
        for name in cli.commands:
            assert f"  {name} " in proc.stdout, f"embedtune --help does not list {name}"


def test_importing_the_cli_does_not_import_torch() -> None:
    code = ("import sys, embedtune.cli.app; "
            "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers', 'datasets') if m in sys.modules]; "
            "assert not heavy, heavy")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
