from __future__ import annotations

from pathlib import Path

import pytest

from tests.slices import SHARED_DATA, write_beir_slice


def _scifact_slice(factory: pytest.TempPathFactory, name: str, train: int, test: int, distractors: int) -> Path:
    if not (SHARED_DATA / "scifact").is_dir():
        pytest.skip("../shared/data/scifact is not available")
    return write_beir_slice(SHARED_DATA / "scifact", factory.mktemp(name), train_qrels=train, test_qrels=test,
                            distractors=distractors)


@pytest.fixture(scope="session")
def scifact_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 train and 30 test judgments of SciFact with 150 distractor abstracts."""
    return _scifact_slice(tmp_path_factory, "scifact-slice", 120, 30, 150)


@pytest.fixture(scope="session")
def scifact_tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """48 train and 20 test judgments of SciFact with 40 distractors: a training of a few steps."""
    return _scifact_slice(tmp_path_factory, "scifact-tiny", 48, 20, 40)
