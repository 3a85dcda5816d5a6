"""The package stack in .importlinter holds: no package imports one above it, even inside a function."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_package_stack_is_one_way() -> None:
    pytest.importorskip("importlinter")
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint)], cwd=ROOT, check=False, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "Contracts: 1 kept, 0 broken." in proc.stdout


def test_no_two_modules_import_each_other_even_through_others() -> None:
    """No file-level circle (a imports b, and b reaches a), counting imports inside functions and
    under TYPE_CHECKING: a circle means neither module can be read, tested or moved alone."""
    grimp = pytest.importorskip("grimp")  # import-linter's import graph
    graph = grimp.build_graph("embedtune", cache_dir=None)
    circles = set()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            if chain:
                circles.add(" -> ".join((module, *chain)))
    assert not circles, "\n".join(sorted(circles))
