"""The forgetting guard: after training, check a general-domain set and, if it dropped, mix weights back.

Fine-tuning on one domain can cost retrieval quality elsewhere (catastrophic forgetting). The
guard scores the base and the tuned model on a general labelled set (any BEIR folder); when
nDCG@10 there fell by more than a threshold, it interpolates every floating-point weight between
the two, θ = (1 − α)·θ_base + α·θ_tuned (WiSE-FT, Wortsman et al. 2022), and keeps the mix that
scores best on the *domain* dev split among those whose guard drop is within the threshold. If
no mix of the grid is, it steps on towards the base (α 0.4, 0.3, … 0.1) and stops at the first
that is.

The guard usually has a single labelled split, and a mix chosen on some queries flatters itself
when scored on the same ones. So its queries are split, seeded, into a guard-dev half that takes
part in the choice and a held-out half that is only reported.
"""
from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedtune.data.split import split_by_query
from embedtune.data.types import RetrievalSet
from embedtune.errors import ConfigError
from embedtune.inference.cache import EmbeddingCache
from embedtune.evaluation.evaluate import evaluate_model
from embedtune.models import display_name, load_model, resolve_model
from embedtune.training.pretrain import RESULT_FILE as PRETRAIN_RESULT

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

    from embedtune.config import TrainConfig

logger = logging.getLogger(__name__)

DEFAULT_ALPHAS: tuple[float, ...] = (0.9, 0.8, 0.7, 0.6, 0.5)
# When no mix of the grid stays within the threshold, the guard steps on towards the base by this
# much, down to this floor, and stops at the first mix that does: a model that forgot more than the
# grid can undo still gets the most tuning that keeps the promise.
EXTENSION_STEP = 0.1
EXTENSION_FLOOR = 0.1
METRIC = "ndcg@10"
# Scores are means of per-query floats; a mix equal to the base must not fail a threshold of 0 by rounding.
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class MixScore:
    """One point of the grid: the weight of the tuned model and its two dev scores."""

    alpha: float
    domain_dev: float
    guard_dev: float


@dataclass(frozen=True)
class MixChoice:
    """What :func:`choose_mix` decided: ``alpha`` 1.0 means the tuned weights are kept as they are."""

    alpha: float
    interpolated: bool
    within_threshold: bool


@dataclass
class GuardResult:
    """What the guard measured and chose; ``to_dict`` is what ``TrainResult.guard`` holds."""

    data: str
    split: str
    threshold: float
    backend: str
    guard_dev_queries: int
    heldout_queries: int
    base: dict[str, float]  # {"guard_dev": nDCG@10, "heldout": nDCG@10}
    tuned: dict[str, float]
    chosen: dict[str, float]
    alpha: float
    interpolated: bool
    within_threshold: bool
    grid: list[dict[str, float]] = field(default_factory=list)
    decision: str = ""
    seconds: float = 0.0
    base_model: str = ""  # what "base" is: the starting model, or what a pretrained start came from

    def to_dict(self) -> dict[str, Any]:
        return {"metric": METRIC, **self.__dict__}


def needs_interpolation(base_guard: float, tuned_guard: float, threshold: float) -> bool:
    """True when the tuned model lost more than ``threshold`` nDCG@10 on guard-dev."""
    return base_guard - tuned_guard > threshold + _TOLERANCE


def choose_mix(base_guard: float, tuned_guard: float, grid: Sequence[MixScore], threshold: float) -> MixChoice:
    """The rule that picks the weights to keep.

    - tuned within ``threshold`` of the base on guard-dev: keep the tuned weights (``alpha`` 1.0);
    - otherwise, among the mixes whose guard-dev drop is within ``threshold``, the best domain dev
      score (ties: the better guard-dev score, then the larger ``alpha``, i.e. more of the tuning);
    - if no mix qualifies, the smallest ``alpha`` in the grid: the one closest to the base.
    """
    if not needs_interpolation(base_guard, tuned_guard, threshold):
        return MixChoice(alpha=1.0, interpolated=False, within_threshold=True)
    if not grid:
        raise ValueError("the tuned model dropped on the guard set but no mix was scored")
    qualifying = [m for m in grid if not needs_interpolation(base_guard, m.guard_dev, threshold)]
    if qualifying:
        best = max(qualifying, key=lambda m: (m.domain_dev, m.guard_dev, m.alpha))
        return MixChoice(alpha=best.alpha, interpolated=True, within_threshold=True)
    return MixChoice(alpha=min(m.alpha for m in grid), interpolated=True, within_threshold=False)


def interpolate_state(base: Mapping[str, torch.Tensor], tuned: Mapping[str, torch.Tensor],
                      alpha: float) -> dict[str, torch.Tensor]:
    """(1 − alpha)·base + alpha·tuned for every floating-point tensor; other tensors (ids) from tuned.

    The result lives on the tuned tensors' devices and dtypes; neither input is changed. Both
    must be state dicts of the same architecture (a LoRA run's merged model is one).
    """
    missing = sorted(set(tuned) - set(base))
    if missing:
        raise ValueError(f"the base weights lack {len(missing)} tensors of the tuned model "
                         f"(first: {missing[0]}); the guard needs the same architecture on both sides")
    mixed: dict[str, torch.Tensor] = {}
    for name, tuned_tensor in tuned.items():
        if not tuned_tensor.is_floating_point():
            mixed[name] = tuned_tensor.clone()
            continue
        # torch.lerp is exact at both ends: alpha 1 returns the tuned tensor, alpha 0 the base.
        mixed[name] = base[name].to(device=tuned_tensor.device, dtype=tuned_tensor.dtype).lerp(tuned_tensor, alpha)
    return mixed


def copy_state(model: SentenceTransformer) -> dict[str, torch.Tensor]:
    """A CPU copy of every weight and buffer, detached from the model.

    Holding it costs one more copy of the model in RAM (about 90 MB for all-MiniLM-L6-v2, 440 MB
    for a base-size model): fine for the small models this is for, to be measured for large ones.
    """
    return {name: tensor.detach().to("cpu", copy=True) for name, tensor in model.state_dict().items()}


def guard_base_name(config: TrainConfig) -> str | None:
    """The model forgetting is measured against: ``config.guard_base``, else the starting model, or
    what that was pretrained from.

    A model made by ``embedtune pretrain`` has already moved away from the general model (TSDAE on
    a domain corpus can cost general retrieval by itself), so measuring from it would hide that part
    of the forgetting; its ``embedtune_pretrain.json`` names the model it started from.
    """
    if config.guard_base is not None:
        return config.guard_base
    start = resolve_model(config.model)
    record = Path(start) / PRETRAIN_RESULT if Path(start).is_dir() else None
    if record is None or not record.is_file():
        return config.model
    try:
        return json.loads(record.read_text(encoding="utf-8"))["config"]["model"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{record}: cannot read the model it was pretrained from ({exc}); "
                          "name the guard's base with --guard-base") from None


def guard_base_state(model: SentenceTransformer, name: str | None, start: str | None) -> dict[str, torch.Tensor]:
    """The weights of ``name`` (from :func:`guard_base_name`), which the guard scores as "base" and
    mixes back in, checked against the shapes of ``model``, loaded from ``start``."""
    if name == start:
        return copy_state(model)
    logger.info("forgetting guard: measuring against %s, not the starting model %s",
                display_name(name), display_name(start))
    state = copy_state(load_model(name))
    ours = {key: tuple(t.shape) for key, t in model.state_dict().items()}
    theirs = {key: tuple(t.shape) for key, t in state.items()}
    if ours != theirs:
        differ = sorted(set(ours) ^ set(theirs)) or [k for k in ours if ours[k] != theirs[k]]
        raise ConfigError(f"guard_base: {display_name(name)} differs from {display_name(start)} "
                          f"({len(differ)} weights, first: {differ[0]}); the guard mixes weights, so it needs "
                          "the same architecture on both sides")
    return state


def extension_alphas(smallest: float) -> list[float]:
    """The mixes tried past the grid, nearest the tuned model first: steps of EXTENSION_STEP below
    ``smallest``, down to EXTENSION_FLOOR."""
    steps = math.floor(round((smallest - EXTENSION_FLOOR) / EXTENSION_STEP, 6))
    return [round(smallest - EXTENSION_STEP * i, 6) for i in range(1, steps + 1)]


def split_guard_queries(guard: RetrievalSet, seed: int) -> tuple[list[str], list[str]]:
    """Guard-dev and held-out query ids: the evaluable queries split in half, seeded, by query text."""
    evaluable = guard.evaluable_query_ids()
    if len(evaluable) < 2:
        raise ConfigError(f"guard_data: {guard.source} split {guard.split} has {len(evaluable)} queries with a "
                          "relevant document; the guard needs at least 2 (one to choose the mix, one to report)")
    held_out, dev = split_by_query(guard.restrict_queries(evaluable, guard.split), 0.5, seed)
    return list(dev.queries), list(held_out.queries)


def apply_forgetting_guard(base_state: Mapping[str, torch.Tensor], model: SentenceTransformer,
                           domain_dev: RetrievalSet, guard: RetrievalSet, *, threshold: float,
                           alphas: Sequence[float] = DEFAULT_ALPHAS, backend: str = "torch",
                           cache: EmbeddingCache | None = None, show_progress: bool = False,
                           seed: int = 42, base_model: str = "") -> GuardResult:
    """Score ``model`` (tuned) against ``base_state`` on ``guard``; mix weights in place if it dropped.

    ``domain_dev`` is the dev split training picked its checkpoint on (already sampled to the dev
    corpus size). On return ``model`` holds the chosen weights. Mixes are scored without the
    embedding cache: their weights exist only here, so cached entries would never be read again.
    """
    start = time.perf_counter()
    guard_dev_ids, heldout_ids = split_guard_queries(guard, seed)
    tuned_state = copy_state(model)
    evaluable = guard.restrict_queries(guard_dev_ids + heldout_ids, guard.split)

    def guard_scores(use_cache: bool) -> dict[str, float]:
        # One encoding of the guard corpus serves both halves: they share it and differ only in queries.
        per_query = evaluate_model(model, evaluable, metrics=(METRIC,), backend=backend,
                                   cache=cache if use_cache else None, show_progress=show_progress).per_query
        return {"guard_dev": _mean(per_query, guard_dev_ids), "heldout": _mean(per_query, heldout_ids)}

    logger.info("forgetting guard: scoring the base and the tuned model on %s split %s "
                "(%d guard-dev, %d held-out queries)", guard.source, guard.split, len(guard_dev_ids), len(heldout_ids))
    model.load_state_dict(base_state)
    base = guard_scores(use_cache=True)
    model.load_state_dict(tuned_state)
    tuned = guard_scores(use_cache=True)

    grid: list[MixScore] = []
    heldout_of: dict[float, float] = {1.0: tuned["heldout"]}

    def score_mix(alpha: float) -> MixScore:
        model.load_state_dict(interpolate_state(base_state, tuned_state, alpha))
        scores = guard_scores(use_cache=False)
        domain = evaluate_model(model, domain_dev, metrics=(METRIC,), backend=backend).metrics[METRIC]
        grid.append(MixScore(alpha=alpha, domain_dev=domain, guard_dev=scores["guard_dev"]))
        heldout_of[alpha] = scores["heldout"]
        logger.info("forgetting guard: alpha %g: domain dev %.4f, guard-dev %.4f", alpha, domain, scores["guard_dev"])
        return grid[-1]

    if needs_interpolation(base["guard_dev"], tuned["guard_dev"], threshold):
        for alpha in alphas:
            score_mix(alpha)
        if all(needs_interpolation(base["guard_dev"], m.guard_dev, threshold) for m in grid):
            for alpha in extension_alphas(min(alphas)):
                if not needs_interpolation(base["guard_dev"], score_mix(alpha).guard_dev, threshold):
                    break
    choice = choose_mix(base["guard_dev"], tuned["guard_dev"], grid, threshold)
    chosen_guard_dev = tuned["guard_dev"] if choice.alpha == 1.0 else \
        next(m.guard_dev for m in grid if m.alpha == choice.alpha)
    model.load_state_dict(tuned_state if choice.alpha == 1.0 else
                          interpolate_state(base_state, tuned_state, choice.alpha))
    chosen = {"guard_dev": chosen_guard_dev, "heldout": heldout_of[choice.alpha]}
    decision = describe(choice, base, tuned, chosen, threshold, grid)
    (logger.info if choice.within_threshold else logger.warning)("forgetting guard: %s", decision)
    return GuardResult(
        data=guard.source, split=guard.split, threshold=threshold, backend=backend,
        guard_dev_queries=len(guard_dev_ids), heldout_queries=len(heldout_ids),
        base=base, tuned=tuned, chosen=chosen, alpha=choice.alpha, interpolated=choice.interpolated,
        within_threshold=choice.within_threshold,
        grid=[{"alpha": m.alpha, "domain_dev": m.domain_dev, "guard_dev": m.guard_dev} for m in grid],
        decision=decision, seconds=round(time.perf_counter() - start, 2), base_model=base_model,
    )


def describe(choice: MixChoice, base: Mapping[str, float], tuned: Mapping[str, float],
             chosen: Mapping[str, float], threshold: float, grid: Sequence[MixScore]) -> str:
    """The one line a user reads: what dropped, by how much, and which weights were kept."""
    drop = base["guard_dev"] - tuned["guard_dev"]
    change = (f"guard-dev nDCG@10 {base['guard_dev']:.4f} (base) -> {tuned['guard_dev']:.4f} (tuned), "
              f"drop {drop:+.4f}")
    if not choice.interpolated:
        return f"{change} within threshold {threshold:.4f}: no interpolation needed, kept the tuned weights"
    domain = next(m.domain_dev for m in grid if m.alpha == choice.alpha)
    mix = (f"alpha {choice.alpha:g} (domain dev {domain:.4f}, guard-dev {chosen['guard_dev']:.4f}, "
           f"guard held-out {base['heldout']:.4f} base -> {chosen['heldout']:.4f})")
    if choice.within_threshold:
        return f"{change} over threshold {threshold:.4f}: interpolated, chose {mix}"
    return (f"{change} over threshold {threshold:.4f}: no mix stayed within it; fell back to the smallest "
            f"{mix}")


def _mean(per_query: Mapping[str, Mapping[str, float]], query_ids: Sequence[str]) -> float:
    # evaluate_run scores every query with a positive judgment, and both halves hold only such queries
    return math.fsum(per_query[q][METRIC] for q in query_ids) / len(query_ids)
