"""``--recipe auto``: the dev split picks the training recipe, not the user's reading of the README.

What wins differs by domain (mined hard negatives help on one set and hurt on another; the false-
negative filter costs points where labels are complete and saves them where they are not), so the
default run tries a few candidates and keeps the one the dev split prefers:

1. mined hard negatives with the false-negative filter (the default recipe); in-batch negatives only;
   mined negatives without the filter;
2. the stage's winner at twice the learning rate;
3. after the final run, only if its best dev score is still its first epoch: the best other recipe
   within the spread (``runner_up``) trained on too, the higher best dev score kept (``continuation``).

Each candidate is the *first epoch of the full run it stands for* (same schedule, same seed), so
the winner is not trained again from scratch: the final run resumes from its checkpoint, and the
search costs the other candidates' first epochs. A recipe (stage 1) is picked only when it is
clearly better than a simpler one: per-query dev nDCG@10 is bootstrapped (paired with the best
candidate), and the simplest recipe whose difference from the best is within that spread wins.
The learning rate (stage 2) has no simpler value (1x is only the value tried first), so the higher
one is kept when its dev mean is higher. With a forgetting guard, a candidate whose guard-dev score
dropped by more than the threshold is not eligible. Nothing here looks at the held-out split.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

BOOTSTRAP_ROUNDS = 1000
CONFIDENCE = 0.90  # two-sided interval of (candidate - best) that must reach 0 for "within the spread"
LR_FACTOR = 2.0


@dataclass(frozen=True)
class Candidate:
    """One recipe the search may pick; ``simplicity`` orders ties: lower is closer to the default recipe."""

    name: str
    negatives: str  # "none", "given" (the rows' own) or a mining method
    filtered: bool = True  # the false-negative filter, for mined negatives
    lr_scale: float = 1.0
    simplicity: int = 0


@dataclass
class ProbeOutcome:
    """What a candidate's first epoch scored on dev: per dev query nDCG@10, and the guard-dev mean."""

    per_query: dict[str, float]
    checkpoint: str
    guard_dev: float | None = None
    seconds: float = 0.0
    mining_seconds: float = 0.0  # of ``seconds``: mining its rows (0 when an earlier candidate mined them)


@dataclass
class CandidateScore:
    name: str
    negatives: str
    filtered: bool
    lr_scale: float
    dev_ndcg: float
    dev_spread: float  # bootstrap standard error of the candidate's own dev mean
    diff_low: float = 0.0  # CONFIDENCE interval of (candidate - best) over the dev queries
    diff_high: float = 0.0
    within_spread: bool = False  # the unrounded interval reaches 0: dev cannot tell it from the best
    guard_dev: float | None = None
    eligible: bool = True
    note: str = ""
    seconds: float = 0.0
    mining_seconds: float = 0.0


@dataclass
class RecipeChoice:
    """The search's outcome, as saved in ``embedtune_train.json`` and the report."""

    chosen: str
    candidates: list[CandidateScore]
    rule: str
    seconds: float
    dev_queries: int
    guard_base: float | None = None
    checkpoint: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_table(self) -> str:
        lines = [f"recipe chosen on {self.dev_queries} dev queries: {self.chosen} ({self.seconds:.0f}s of search)"]
        for c in self.candidates:
            mark = "*" if c.name == self.chosen else " "
            guard = f", guard-dev {c.guard_dev:.4f}" if c.guard_dev is not None else ""
            note = f"  [{c.note}]" if c.note else ""
            mining = f", {c.mining_seconds:.0f}s of it mining" if c.mining_seconds >= 0.5 else ""
            lines.append(f" {mark} {c.name:<28} dev nDCG@10 {c.dev_ndcg:.4f} ± {c.dev_spread:.4f}, vs best "
                         f"[{c.diff_low:+.4f}, {c.diff_high:+.4f}]{guard} ({c.seconds:.0f}s{mining}){note}")
        for name, reason in self.extra.get("skipped", {}).items():
            lines.append(f"   {name:<28} skipped: {reason}")
        return "\n".join(lines)


def negative_candidates(negatives: str, can_mine: bool, given_negatives: bool) -> list[Candidate]:
    """Stage 1: what the search varies about negatives (``negatives`` is the user's setting)."""
    if given_negatives:
        return [Candidate("given negatives", "given")]
    if negatives == "none" or not can_mine:
        return [Candidate("in-batch negatives", "none")]
    if negatives != "auto":
        return [Candidate(f"{negatives} negatives, filtered", negatives, True),
                Candidate(f"{negatives} negatives, unfiltered", negatives, False, simplicity=2)]
    return [Candidate("hybrid negatives, filtered", "hybrid", True),
            Candidate("in-batch negatives", "none", simplicity=1),
            Candidate("hybrid negatives, unfiltered", "hybrid", False, simplicity=2)]


def search_recipe(stage_one: Sequence[Candidate], probe: Callable[[Candidate], ProbeOutcome | str], *,
                  vary_learning_rate: bool, guard_base: float | None = None, guard_threshold: float = 0.01,
                  seed: int = 42) -> tuple[Candidate, RecipeChoice]:
    """Probe ``stage_one``, then its winner at ``LR_FACTOR`` times the learning rate; pick (see module).

    ``probe`` returns a string instead of an outcome when a candidate cannot run (e.g. mining left
    too few rows): it is reported as skipped, with that reason.
    """
    start = time.perf_counter()
    tried: list[tuple[Candidate, ProbeOutcome]] = []
    skipped: dict[str, str] = {}

    def attempt(candidate: Candidate) -> None:
        outcome = probe(candidate)
        if isinstance(outcome, str):
            logger.info("recipe: skipping %s: %s", candidate.name, outcome)
            skipped[candidate.name] = outcome
        else:
            tried.append((candidate, outcome))

    for candidate in stage_one:
        attempt(candidate)
    if not tried:
        raise ValueError(f"no recipe candidate could run: {skipped}")
    winner, scores = pick(tried, guard_base, guard_threshold, seed)
    if vary_learning_rate:
        faster = Candidate(f"{winner.name}, lr x{LR_FACTOR:g}", winner.negatives, winner.filtered,
                           winner.lr_scale * LR_FACTOR, simplicity=winner.simplicity + 10)
        attempt(faster)
        winner = pick_learning_rate(winner, faster, dict(tried), guard_base, guard_threshold)
        _, scores = pick(tried, guard_base, guard_threshold, seed)  # intervals against the new best
    outcome = dict((c.name, o) for c, o in tried)[winner.name]
    choice = RecipeChoice(
        chosen=winner.name, candidates=scores, seconds=round(time.perf_counter() - start, 1),
        dev_queries=len(tried[0][1].per_query), guard_base=guard_base, checkpoint=outcome.checkpoint,
        extra={"skipped": skipped} if skipped else {},
        rule=f"recipe: of the candidates whose paired bootstrap {CONFIDENCE:.0%} interval of dev nDCG@10 "
             "(candidate - best) reaches 0, the one closest to the default (mined, filtered); learning rate: "
             f"x{LR_FACTOR:g} when its dev nDCG@10 is higher" + (f"; guard-dev drop at most {guard_threshold}"
                                                                 if guard_base is not None else ""))
    logger.info("%s", choice.to_table())
    return winner, choice


def pick(tried: Sequence[tuple[Candidate, ProbeOutcome]], guard_base: float | None, guard_threshold: float,
         seed: int) -> tuple[Candidate, list[CandidateScore]]:
    """Of the eligible candidates within the bootstrap spread of the best one, the closest to the default."""
    scores = [_score(c, o, guard_base, guard_threshold, seed) for c, o in tried]
    eligible = [i for i, s in enumerate(scores) if s.eligible]
    if not eligible:  # every candidate forgot too much: keep the one that forgot least, and say so
        least = max(range(len(scores)), key=lambda i: scores[i].guard_dev or 0.0)
        scores[least].note += "; chosen although no candidate kept the guard within its threshold"
        return tried[least][0], scores
    best = max(eligible, key=lambda i: (_mean(tried[i][1].per_query), -tried[i][0].simplicity))
    best_scores = tried[best][1].per_query
    within = []
    for i in eligible:
        low, high = paired_interval(tried[i][1].per_query, best_scores, seed)
        scores[i].diff_low, scores[i].diff_high = round(low, 4), round(high, 4)
        if high >= 0.0:  # the unrounded bound: -0.000004 does not reach 0, though it is shown as -0.0000
            within.append(i)
            scores[i].within_spread = True
    chosen = min(within, key=lambda i: (tried[i][0].simplicity, -_mean(tried[i][1].per_query)))
    return tried[chosen][0], scores


def pick_learning_rate(recipe: Candidate, faster: Candidate, outcomes: dict[Candidate, ProbeOutcome],
                       guard_base: float | None, guard_threshold: float) -> Candidate:
    """``faster`` (the chosen recipe at a higher learning rate) if it ran, kept the guard and beat it on dev.

    Why not the spread rule: it protects a simpler recipe against a more complex one picked on noise, and
    neither learning rate is the simpler; the dev mean is the best guess of which trains further in the
    run's schedule (all three benchmark sets' dev scores were still rising at their last epoch).
    """
    outcome = outcomes.get(faster)
    if outcome is None:  # could not run: reported as skipped
        return recipe
    if _forgot_too_much(outcome, guard_base, guard_threshold):
        return recipe
    return faster if _mean(outcome.per_query) > _mean(outcomes[recipe].per_query) else recipe


def runner_up(candidates: Sequence[Mapping[str, Any]], chosen: Candidate) -> Candidate | None:
    """The best-scoring other recipe the dev split could not tell from the best (``RecipeChoice.candidates``
    as saved), or None: what a run continues when the chosen recipe stalls after its first epoch.

    "Other recipe" means other negatives or filter: the chosen recipe at another learning rate is the same
    bet on the training rows, and stalls for the same reason.
    """
    others = [c for c in candidates if c.get("within_spread") and c.get("eligible", True)
              and (c["negatives"], c["filtered"]) != (chosen.negatives, chosen.filtered)]
    if not others:
        return None
    best = max(others, key=lambda c: c["dev_ndcg"])
    return Candidate(best["name"], best["negatives"], best["filtered"], best["lr_scale"])


def paired_interval(candidate: dict[str, float], best: dict[str, float], seed: int,
                    rounds: int = BOOTSTRAP_ROUNDS) -> tuple[float, float]:
    """The ``CONFIDENCE`` interval of mean(candidate - best) over dev queries resampled with replacement."""
    queries = sorted(best)
    diffs = [candidate.get(q, 0.0) - best[q] for q in queries]
    if not diffs:
        return 0.0, 0.0
    rng = random.Random(seed)
    n = len(diffs)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(rounds))
    tail = (1 - CONFIDENCE) / 2
    return means[int(tail * rounds)], means[min(rounds - 1, int((1 - tail) * rounds))]


def bootstrap_error(per_query: dict[str, float], seed: int, rounds: int = BOOTSTRAP_ROUNDS) -> float:
    """Standard error of the dev mean, by resampling dev queries."""
    values = [per_query[q] for q in sorted(per_query)]
    if len(values) < 2:
        return 0.0
    rng = random.Random(seed)
    n = len(values)
    means = [sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(rounds)]
    centre = sum(means) / rounds
    return (sum((m - centre) ** 2 for m in means) / (rounds - 1)) ** 0.5


def _score(candidate: Candidate, outcome: ProbeOutcome, guard_base: float | None, threshold: float,
           seed: int) -> CandidateScore:
    eligible, note = True, ""
    if _forgot_too_much(outcome, guard_base, threshold):
        drop = guard_base - outcome.guard_dev  # type: ignore[operator]  # both set: _forgot_too_much checked
        eligible, note = False, f"guard-dev dropped {drop:.4f} > {threshold}"
    return CandidateScore(name=candidate.name, negatives=candidate.negatives, filtered=candidate.filtered,
                          lr_scale=candidate.lr_scale, dev_ndcg=round(_mean(outcome.per_query), 4),
                          dev_spread=round(bootstrap_error(outcome.per_query, seed), 4),
                          guard_dev=None if outcome.guard_dev is None else round(outcome.guard_dev, 4),
                          eligible=eligible, note=note, seconds=round(outcome.seconds, 1),
                          mining_seconds=round(outcome.mining_seconds, 2))


def _forgot_too_much(outcome: ProbeOutcome, guard_base: float | None, threshold: float) -> bool:
    """Its guard-dev score fell more than ``threshold`` below the base's (never without a guard)."""
    if guard_base is None or outcome.guard_dev is None:
        return False
    return guard_base - outcome.guard_dev > threshold


def _mean(per_query: dict[str, float]) -> float:
    return sum(per_query.values()) / len(per_query) if per_query else 0.0
