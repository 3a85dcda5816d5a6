"""A CLI command whose optional package is missing: one error line naming the extra, exit 1, no traceback."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_cli_serve_without_fastapi_is_one_line_and_exit_1(tmp_path: Path) -> None:
    """A ``fastapi`` package that fails to import, first on PYTHONPATH, stands in for one not installed."""
    shadow = tmp_path / "shadow" / "fastapi"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        'raise ModuleNotFoundError("No module named \'fastapi\'", name="fastapi")\n', encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EMBEDTUNE_DEBUG": "",
           "PYTHONPATH": os.pathsep.join([str(tmp_path / "shadow"), str(ROOT / "src")])}
    done = subprocess.run([sys.executable, "-m", "embedtune.cli.app", "serve", "no/such-model"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "embedtune: error: embedtune serve needs fastapi, which is not installed: "
        "pip install 'embedtune[serve]'",
        "(set EMBEDTUNE_DEBUG=1 for the traceback)"]
