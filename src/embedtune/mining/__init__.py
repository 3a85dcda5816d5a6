"""Hard-negative mining: BM25, dense and hybrid candidates with false-negative filters."""
from __future__ import annotations

from embedtune.mining.mine import MinedRow, MiningError, MiningResult, mine_hard_negatives

__all__ = ["MinedRow", "MiningError", "MiningResult", "mine_hard_negatives"]
