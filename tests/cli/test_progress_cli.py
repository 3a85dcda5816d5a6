"""Without a terminal the CLI logs progress lines instead of bars, and ``--quiet`` silences them."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What a command does: set up output as `embedtune ... [--quiet]` does, then advance a loop by one text.
SCRIPT = """
import sys
from embedtune.cli._options import setup_output
from embedtune.progress import ProgressLog
print(setup_output(quiet=sys.argv[1] == "quiet"))
ProgressLog("encoding", 2, unit="text").update(1)
"""


def run(mode: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "EMBEDTUNE_PROGRESS_INTERVAL": "0", "PYTHONPATH": str(ROOT / "src")}
    env.pop("TQDM_DISABLE", None)
    return subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, env=env,
                          timeout=60, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("mode", ["loud", "quiet"])
def test_a_pipe_gets_progress_lines_unless_quiet(mode: str) -> None:
    done = run(mode)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "False\n"  # stderr is a pipe here: no bars
    if mode == "quiet":
        assert done.stderr == ""
    else:
        line = r"\d\d:\d\d:\d\d INFO encoding: text 1/2 \(50\.0%\), [\d.]+ texts/s(, ETA \d+s)?\n"
        assert re.fullmatch(line, done.stderr), done.stderr
