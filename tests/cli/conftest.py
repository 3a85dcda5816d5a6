from __future__ import annotations

from pathlib import Path

import pytest

from tests.slices import scifact_like_slice


@pytest.fixture(scope="session")
def scifact_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 train and 30 test judgments of the SciFact-like fixture set with 150 distractor documents."""
    return scifact_like_slice(tmp_path_factory, "scifact-slice", train_qrels=120, test_qrels=30, distractors=150)


@pytest.fixture(scope="session")
def scifact_tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """48 train and 20 test judgments of the SciFact-like fixture set with 40 distractors: a few training steps."""
    return scifact_like_slice(tmp_path_factory, "scifact-tiny", train_qrels=48, test_qrels=20, distractors=40)
