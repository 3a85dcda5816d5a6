"""Matryoshka training with self-distillation: the truncated embeddings learn the full size's ranking.

MatryoshkaLoss (sentence-transformers) applies the contrastive loss at every truncated size on
its own, so each size only learns which document is the labelled positive. The full-size
embedding also knows how the *other* documents in the batch rank; ``MatryoshkaSelfDistillLoss``
adds, for each truncated size, the KL divergence from the full size's in-batch softmax (held
fixed) to the truncated one's - the "similarity preservation" idea of Matryoshka-Adaptor
(Yoon et al., 2024) applied during training. The full-size embedding is computed once and shared:
the extra cost is a few (batch x documents) matrix products.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# MultipleNegativesRankingLoss's default scale on the cosine: the same temperature for both sides of the KL.
SCALE = 20.0


class MatryoshkaSelfDistillLoss(nn.Module):
    """``matryoshka_loss`` plus ``weight`` x sum over truncated sizes of KL(full-size ranking || truncated ranking).

    Works with losses that run the model's forward pass themselves (mnrl, gist); the first input column
    is the query, the others (positive, negatives) are the documents it is ranked against, as in MNRL.
    """

    def __init__(self, model: SentenceTransformer, matryoshka_loss: nn.Module, dims: list[int], weight: float) -> None:
        super().__init__()
        self.model = model
        self.matryoshka_loss = matryoshka_loss
        self.weight = weight
        self.full_dim = model.get_embedding_dimension()
        self.truncated_dims = sorted((d for d in dims if self.full_dim is None or d < self.full_dim), reverse=True)

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor) -> Tensor:
        captured: list[Tensor] = []
        original_forward = self.model.forward

        def capturing_forward(features: dict[str, Tensor], *args: Any, **kwargs: Any) -> dict[str, Tensor]:
            output = original_forward(features, *args, **kwargs)
            captured.append(output["sentence_embedding"])  # MatryoshkaLoss replaces the dict entry, not this tensor
            return output

        self.model.forward = capturing_forward  # type: ignore[method-assign]
        try:
            loss = self.matryoshka_loss(sentence_features, labels)
        finally:
            self.model.forward = original_forward  # type: ignore[method-assign]
        if self.weight and len(captured) >= 2:
            loss = loss + self.weight * ranking_kl(captured[0], torch.cat(captured[1:]), self.truncated_dims)
        return loss

    @property
    def citation(self) -> str:
        return ("Matryoshka-Adaptor: Unsupervised and Supervised Tuning for Smaller Embedding Dimensions "
                "(Yoon et al., 2024), https://arxiv.org/abs/2407.20243")


def ranking_kl(queries: Tensor, documents: Tensor, dims: list[int]) -> Tensor:
    """Sum over ``dims`` of KL(full size || cut to dim) between each query's softmax over the documents.

    The full-size ranking is the fixed target (detached): it teaches the truncated sizes, and is
    itself trained only by the contrastive loss."""
    teacher = F.log_softmax(SCALE * _cosine(queries, documents, queries.shape[-1]).detach(), dim=-1)
    total = queries.new_zeros((), dtype=torch.float32)
    for dim in dims:
        student = F.log_softmax(SCALE * _cosine(queries, documents, dim), dim=-1)
        total = total + F.kl_div(student, teacher, log_target=True, reduction="batchmean")
    return total


def _cosine(queries: Tensor, documents: Tensor, dim: int) -> Tensor:
    """Cosine similarity of every query with every document, both cut to their first ``dim`` values."""
    q = F.normalize(queries[..., :dim].float(), dim=-1)
    d = F.normalize(documents[..., :dim].float(), dim=-1)
    return q @ d.T
