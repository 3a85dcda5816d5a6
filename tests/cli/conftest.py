from __future__ import annotations

from pathlib import Path

import pytest

from tests.slices import SHARED_DATA, write_beir_slice


@pytest.fixture(scope="session")
def scifact_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 train and 30 test judgments of SciFact with 150 distractor abstracts."""
    if not (SHARED_DATA / "scifact").is_dir():
        pytest.skip("../shared/data/scifact is not available")
    return write_beir_slice(SHARED_DATA / "scifact", tmp_path_factory.mktemp("scifact-slice"),
                            train_qrels=120, test_qrels=30, distractors=150)
