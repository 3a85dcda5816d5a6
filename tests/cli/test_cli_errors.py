"""Bad input through the CLI: one line on stderr, exit 1 (2 for usage errors), no traceback, nothing left behind.

The cases are the table in ``tests/cli/error_cases.py`` (also rendered into docs/errors.md). Each runs
in a subprocess whose current folder, home, caches and temporary folder all lie inside the
case's temporary folder, so a snapshot of that one folder before and after sees anything the
failed command wrote, wherever it would have written it by default. Cases fail before a model
loads where the input allows, so most cost an interpreter start (under a second), not a model load.
"""
from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from embedtune.cli.app import cli
from tests.cli.error_cases import CASES, PAIRS, ErrorCase

ROOT = Path(__file__).resolve().parents[2]
FAULTS = Path(__file__).with_name("faults.py")
HINT = "(set EMBEDTUNE_DEBUG=1 for the traceback)"
BY_NAME = {case.name: case for case in CASES}
SANDBOX = ".sandbox"  # home, caches and TMPDIR of the subprocess, inside the snapshot
TORCH_CACHE = f"{SANDBOX}/tmp/torchinductor_"


def fill(text: str, tmp: Path, port: int | None = None) -> str:
    return text.replace("{tmp}", str(tmp)).replace("{port}", str(port))


def materialise(case: ErrorCase, tmp: Path) -> None:
    for name in ("home", "cache", "tmp"):
        (tmp / SANDBOX / name).mkdir(parents=True)
    for relative, content in case.files.items():
        path = tmp / relative
        if relative.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(fill(content, tmp), encoding="utf-8")


def snapshot(tmp: Path) -> dict[str, tuple]:
    """Every entry under ``tmp`` (hidden ones too): kind, size, modification time and mode.

    A folder's size and time change when an entry is made and removed again (a staging folder, a
    library's temporary file), which leaves nothing behind, so folders are compared by existence
    and mode. Torch makes its compile cache folder in TMPDIR when sentence-transformers imports it
    (``torch._dynamo``, at import, whatever the command): not embedtune's doing, so not counted.
    """
    entries = {}
    for path in sorted(tmp.rglob("*")):
        name = str(path.relative_to(tmp))
        if name.startswith(TORCH_CACHE):
            continue
        st = path.lstat()
        kind = "link" if path.is_symlink() else "dir" if path.is_dir() else "file"
        entries[name] = (kind, st.st_mode) if kind == "dir" else (kind, st.st_size, st.st_mtime_ns, st.st_mode)
    return entries


def environment(tmp: Path, debug: bool = False) -> dict[str, str]:
    sandbox = tmp / SANDBOX
    return {**os.environ, "HF_HUB_OFFLINE": "1", "EMBEDTUNE_DEBUG": "1" if debug else "",
            # no GPU in sight, so the qlora case gives the CPU message on any machine
            "CUDA_VISIBLE_DEVICES": "",
            "HOME": str(sandbox / "home"), "XDG_CACHE_HOME": str(sandbox / "cache"),
            "EMBEDTUNE_CACHE_DIR": str(sandbox / "cache" / "embedtune"), "HF_HOME": str(sandbox / "cache" / "hf"),
            "TMPDIR": str(sandbox / "tmp"), "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def run_case(case: ErrorCase, tmp: Path, port: int | None = None, debug: bool = False) -> subprocess.CompletedProcess:
    args = [fill(a, tmp, port) for a in case.args]
    if case.fault == "no-space" or (case.fault == "read-only" and os.geteuid() == 0):
        command = [sys.executable, str(FAULTS), case.fault, str(tmp / "locked"), *args]
    else:
        command = [sys.executable, "-m", "embedtune.cli.app", *args]
    return subprocess.run(command, check=False, capture_output=True, text=True, cwd=tmp,
                          env=environment(tmp, debug), timeout=300)


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that another socket listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[None]:
    """Gives the folder "locked" (0555 in a read-only case run as a user other than root) its write
    permission back afterwards, so pytest can delete it. Root writes into a 0555 folder anyway, so
    as root the case runs under faults.py, which refuses writes there as the kernel would."""
    yield
    locked = tmp_path / "locked"
    if locked.is_dir():
        locked.chmod(0o755)  # so pytest can delete the folder


def parametrized(cases: list[ErrorCase]) -> list:
    return [pytest.param(c, id=c.name, marks=[pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else [])
            for c in cases]


def test_the_catalogue_covers_every_command() -> None:
    assert len(CASES) >= 30
    assert len(BY_NAME) == len(CASES), "case names must be unique"
    commands = {"train", "eval", "mine", "generate", "adapt", "export", "index", "search", "serve", "pretrain"}
    assert commands <= {case.command for case in CASES}
    assert all(case.command in cli.commands for case in CASES)


@pytest.mark.parametrize("case", parametrized(CASES))
def test_bad_input_fails_with_one_line(tmp_path: Path, case: ErrorCase, request: pytest.FixtureRequest) -> None:
    port = request.getfixturevalue("busy_port") if case.port_in_use else None
    materialise(case, tmp_path)
    if case.fault == "read-only":
        request.getfixturevalue("read_only")
        if os.geteuid() != 0:
            (tmp_path / "locked").chmod(0o555)
    before = snapshot(tmp_path)
    proc = run_case(case, tmp_path, port)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == case.exit_code, proc.stderr
    lines = proc.stderr.splitlines()
    if case.exit_code == 2:  # a usage error (click's): the same one line, pointing at the command's --help
        assert lines == [f"embedtune: error: {fill(case.message, tmp_path, port)} "
                         f"(see 'embedtune {case.command} --help')"], proc.stderr
    else:
        assert lines == [f"embedtune: error: {fill(case.message, tmp_path, port)}", HINT]
    assert proc.stdout == ""
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if before.get(k) != v} == {}, "the failed command wrote files"
    assert sorted(set(before) - set(after)) == [], "the failed command deleted files"


@pytest.mark.parametrize("name", ["eval malformed json", "train unknown key"])
def test_debug_shows_the_traceback(tmp_path: Path, name: str) -> None:
    case = BY_NAME[name]
    materialise(case, tmp_path)
    proc = run_case(case, tmp_path, debug=True)
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1].endswith(f"Error: {fill(case.message, tmp_path)}")
    assert HINT not in proc.stderr


def test_guard_data_falls_back_to_the_environment(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(PAIRS, encoding="utf-8")
    env = {**environment(tmp_path), "EMBEDTUNE_GUARD_DATA": str(tmp_path / "gone")}
    proc = subprocess.run([sys.executable, "-m", "embedtune.cli.app", "train", "--data", str(pairs), "--out",
                           str(tmp_path / "out"), "--batch-size", "2", "--quiet"], check=False,
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == (f"embedtune: error: guard_data: {tmp_path}/gone: data folder not found "
                                           "(expected a BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv)")
    assert not (tmp_path / "out").exists()


def test_the_docs_list_the_catalogue() -> None:
    spec = importlib.util.spec_from_file_location("error_catalogue", ROOT / "scripts" / "error_catalogue.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    current = script.TARGET.read_text(encoding="utf-8")
    stale = script.updated(current) != current  # a bool, so a failure prints the fix, not two pages
    assert not stale, ("docs/errors.md's error catalogue differs from tests/cli/error_cases.py: "
                       "run python scripts/error_catalogue.py")


@pytest.mark.parametrize("command", [None, *sorted(cli.commands)])
def test_help_mentions_every_option(command: str | None) -> None:
    proc = subprocess.run([sys.executable, "-m", "embedtune.cli.app", *([command] if command else []), "--help"],
                          check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    group_or_command = cli if command is None else cli.commands[command]
    for param in group_or_command.params:
        if getattr(param, "hidden", False):  # an old spelling kept for one release (--corpus): not advertised
            continue
        if param.param_type_name == "argument":  # positional: shown by its metavar (MODEL), not its name
            assert param.make_metavar(click.Context(group_or_command)).upper() in proc.stdout
            continue
        for opt in [*param.opts, *param.secondary_opts]:
            assert opt in proc.stdout, f"{command or 'embedtune'} --help does not mention {opt}"
    if command is None:
        for name in cli.commands:
            assert f" {name} " in proc.stdout, f"embedtune --help does not list {name}"


def test_importing_the_cli_does_not_import_torch() -> None:
    code = ("import sys, embedtune.cli.app; "
            "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers', 'datasets') if m in sys.modules]; "
            "assert not heavy, heavy")
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_help_groups_the_options_and_shows_every_default_one_way() -> None:
    """train's forty-odd options come in sections; a default reads "[default: X]" whether click or we wrote it."""
    proc = subprocess.run([sys.executable, "-m", "embedtune.cli.app", "train", "--help"], check=False,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    panels = [line.split("─ ", 1)[1].split(" ─", 1)[0] for line in proc.stdout.splitlines() if line.startswith("╭─ ")]
    assert panels[:5] == ["Inputs", "Model", "Training", "Output", "Advanced"], panels
    text = " ".join(proc.stdout.replace("│", " ").split())
    assert "[default: 3]" in text and "[default: auto]" in text  # --epochs (ours), --recipe (ours)
    assert re.search(r"\[(?!default:|required|env var:|x>=|0<=|\w+\|)[^\]]*\]\.", text) is None, \
        "a default typed as [X] instead of [default: X]"
