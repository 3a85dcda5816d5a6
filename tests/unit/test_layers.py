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


def test_no_package_imports_another_packages_private_names() -> None:
    """A name (or module) starting with ``_`` is its package's own: another package importing it
    could break on any change inside. The top-level ``embedtune._*`` helpers are shared by design."""
    import ast

    root = ROOT / "src" / "embedtune"
    offences = []
    for path in root.rglob("*.py"):
        parts = path.relative_to(root).parts
        package = parts[0] if len(parts) > 1 else None
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("embedtune.")):
                continue
            target = node.module.split(".")
            if len(target) < 3 or target[1] == package:  # a top-level module, or its own package
                continue
            names = [target[-1], *(alias.name for alias in node.names)]
            if any(name.startswith("_") for name in names):
                offences.append(f"{path.relative_to(root)}:{node.lineno} imports {node.module}: {names}")
    assert not offences, "\n".join(offences)
