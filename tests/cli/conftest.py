from __future__ import annotations

from pathlib import Path

import pytest

from tests.slices import scifact_slice_or_skip


@pytest.fixture(scope="session")
def scifact_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 train and 30 test judgments of SciFact with 150 distractor abstracts."""
    return scifact_slice_or_skip(tmp_path_factory, "scifact-slice", train_qrels=120, test_qrels=30, distractors=150)


@pytest.fixture(scope="session")
def scifact_tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """48 train and 20 test judgments of SciFact with 40 distractors: a training of a few steps."""
    return scifact_slice_or_skip(tmp_path_factory, "scifact-tiny", train_qrels=48, test_qrels=20, distractors=40)
