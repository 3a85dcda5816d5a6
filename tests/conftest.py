from __future__ import annotations

from pathlib import Path

import pytest

# tests/conftest.py -> parents[1] is the repo; the benchmark data lives beside it in ../shared/data.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only benchmark folders (scifact, dbpedia-5k); tests that need them skip without them."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is not available")
    return SHARED_DATA
