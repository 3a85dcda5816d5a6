"""--recipe auto: the dev split picks, the simplest candidate wins ties within the bootstrap spread."""
from __future__ import annotations

import random

import pytest

from embedtune.training.continuation import stalled
from embedtune.training.recipe import (Candidate, ProbeOutcome, negative_candidates, paired_interval, pick,
                                       runner_up, search_recipe)


def _per_query(mean: float, noise: float, n: int = 200, seed: int = 0) -> dict[str, float]:
    rng = random.Random(seed)
    return {f"q{i}": min(1.0, max(0.0, mean + rng.uniform(-noise, noise))) for i in range(n)}


def _outcome(per_query: dict[str, float], guard: float | None = None) -> ProbeOutcome:
    return ProbeOutcome(per_query=per_query, checkpoint="ckpt", guard_dev=guard)


SIMPLE = Candidate("in-batch negatives", "none")
MINED = Candidate("hybrid negatives, filtered", "hybrid", True, simplicity=1)
UNFILTERED = Candidate("hybrid negatives, unfiltered", "hybrid", False, simplicity=2)


def test_a_clearly_better_candidate_wins_over_a_simpler_one() -> None:
    base = _per_query(0.60, 0.2)
    better = {q: min(1.0, v + 0.05) for q, v in base.items()}
    winner, scores = pick([(SIMPLE, _outcome(base)), (MINED, _outcome(better))], None, 0.01, seed=1)
    assert winner == MINED
    simple = next(s for s in scores if s.name == SIMPLE.name)
    assert simple.diff_high < 0, "the simple candidate is clearly worse"


def test_within_the_spread_the_simplest_candidate_wins() -> None:
    base = _per_query(0.60, 0.3, seed=1)
    noisy = {q: min(1.0, max(0.0, v + random.Random(q).uniform(-0.2, 0.21))) for q, v in base.items()}
    assert sum(noisy.values()) > sum(base.values()), "the mined candidate is ahead on the mean"
    winner, scores = pick([(SIMPLE, _outcome(base)), (MINED, _outcome(noisy))], None, 0.01, seed=1)
    assert winner == SIMPLE
    simple = next(s for s in scores if s.name == SIMPLE.name)
    assert simple.diff_low < 0 <= simple.diff_high


def test_an_interval_just_short_of_zero_is_not_within_the_spread(monkeypatch) -> None:
    """The rule reads the unrounded bound: one that rounds to -0.0000 in the table has not reached 0."""
    monkeypatch.setattr("embedtune.training.recipe.paired_interval",
                        lambda candidate, best, seed: (-0.03, -4e-6) if candidate is not best else (0.0, 0.0))
    simple, mined = _per_query(0.50, 0.2), _per_query(0.60, 0.2)
    winner, scores = pick([(SIMPLE, _outcome(simple)), (MINED, _outcome(mined))], None, 0.01, seed=1)
    assert winner == MINED
    assert next(s for s in scores if s.name == SIMPLE.name).diff_high == 0.0


def test_a_candidate_that_forgets_past_the_guard_threshold_is_not_picked() -> None:
    base = _per_query(0.60, 0.2)
    better = {q: min(1.0, v + 0.10) for q, v in base.items()}
    winner, scores = pick([(SIMPLE, _outcome(base, guard=0.50)), (UNFILTERED, _outcome(better, guard=0.48))],
                          guard_base=0.50, guard_threshold=0.01, seed=1)
    assert winner == SIMPLE
    assert not next(s for s in scores if s.name == UNFILTERED.name).eligible


def test_the_search_tries_the_stage_winner_at_twice_the_learning_rate() -> None:
    probed: list[Candidate] = []
    means = {SIMPLE.name: 0.50, MINED.name: 0.70, UNFILTERED.name: 0.55}

    def probe(candidate: Candidate) -> ProbeOutcome:
        probed.append(candidate)
        mean = means.get(candidate.name, 0.80)
        return _outcome({f"q{i}": mean + (0.01 if i % 2 else -0.01) for i in range(100)})

    winner, choice = search_recipe([SIMPLE, MINED, UNFILTERED], probe, vary_learning_rate=True)
    assert [c.name for c in probed][-1] == "hybrid negatives, filtered, lr x2"
    assert probed[-1].lr_scale == 2.0 and probed[-1].negatives == "hybrid" and probed[-1].filtered
    assert winner.name == choice.chosen == "hybrid negatives, filtered, lr x2"
    assert [c.name for c in choice.candidates] == [c.name for c in probed]
    assert "dev nDCG@10 0.8000" in choice.to_table()


def _search_with_faster_at(faster_shift: float) -> str:
    """The chosen name when the lr x2 run's dev scores are the winner's, shifted by ``faster_shift``."""
    winner_scores = _per_query(0.60, 0.3, seed=3)

    def probe(candidate: Candidate) -> ProbeOutcome:
        if candidate.lr_scale > 1:
            return _outcome({q: v + faster_shift for q, v in winner_scores.items()})
        return _outcome(winner_scores if candidate == MINED else {q: v - 0.2 for q, v in winner_scores.items()})

    winner, choice = search_recipe([MINED, SIMPLE], probe, vary_learning_rate=True)
    assert winner.name == choice.chosen
    return choice.chosen


def test_the_learning_rate_goes_to_the_higher_dev_mean_even_within_the_spread() -> None:
    """No learning rate is the simpler one: a small dev edge is enough, a small dev loss is not."""
    assert _search_with_faster_at(+0.002) == "hybrid negatives, filtered, lr x2"
    assert _search_with_faster_at(-0.002) == "hybrid negatives, filtered"


def _score(name: str, negatives: str, filtered: bool, dev: float, within: bool, lr: float = 1.0,
           eligible: bool = True) -> dict:
    return {"name": name, "negatives": negatives, "filtered": filtered, "lr_scale": lr, "dev_ndcg": dev,
            "within_spread": within, "eligible": eligible}


def test_the_runner_up_is_the_best_other_recipe_within_the_spread() -> None:
    scores = [_score(MINED.name, "hybrid", True, 0.7883, True), _score(SIMPLE.name, "none", True, 0.7905, True),
              _score(UNFILTERED.name, "hybrid", False, 0.7521, False),
              _score("hybrid negatives, filtered, lr x2", "hybrid", True, 0.7922, True, lr=2.0)]
    runner = runner_up(scores, MINED)
    assert runner is not None and (runner.name, runner.negatives, runner.lr_scale) == (SIMPLE.name, "none", 1.0), \
        "the chosen recipe at another learning rate is not another recipe, however high its dev score"
    assert runner_up(scores[1:3], SIMPLE) is None, "outside the spread: nothing to continue"
    scores[1]["eligible"] = False
    assert runner_up(scores, MINED) is None, "a candidate that forgot past the guard is never continued"
    assert runner_up([{**scores[0], "within_spread": False}, scores[2]], SIMPLE) is None, \
        "a choice saved before the flag existed continues nothing"


def test_pick_marks_who_is_within_the_spread() -> None:
    base = _per_query(0.60, 0.3, seed=1)
    noisy = {q: min(1.0, max(0.0, v + random.Random(q).uniform(-0.2, 0.21))) for q, v in base.items()}
    far = {q: max(0.0, v - 0.3) for q, v in base.items()}
    _, scores = pick([(SIMPLE, _outcome(base)), (MINED, _outcome(noisy)), (UNFILTERED, _outcome(far))], None,
                     0.01, seed=1)
    assert [s.within_spread for s in scores] == [True, True, False]


def test_a_run_stalled_when_its_best_step_is_the_candidates_first_epoch() -> None:
    assert stalled(27, "/out/recipe/hybrid/checkpoints/checkpoint-27")
    assert not stalled(54, "/out/recipe/hybrid/checkpoints/checkpoint-27")
    assert not stalled(None, "/out/recipe/hybrid/checkpoints/checkpoint-27")
    assert not stalled(27, "")


def test_paired_interval_of_identical_scores_is_zero() -> None:
    scores = _per_query(0.5, 0.3)
    assert paired_interval(scores, scores, seed=0) == (0.0, 0.0)


def test_candidates_follow_the_users_settings() -> None:
    default, *others = negative_candidates("auto", can_mine=True, given_negatives=False)
    assert (default.negatives, default.filtered, default.simplicity) == ("hybrid", True, 0), \
        "mined, filtered negatives are the default a candidate must clearly beat"
    assert [(c.negatives, c.filtered) for c in others] == [("none", True), ("hybrid", False)]
    assert [c.negatives for c in negative_candidates("auto", can_mine=False, given_negatives=False)] == ["none"]
    assert [c.negatives for c in negative_candidates("bm25", can_mine=True, given_negatives=False)] == \
        ["bm25", "bm25"]
    assert [c.negatives for c in negative_candidates("none", can_mine=True, given_negatives=False)] == ["none"]
    assert [c.negatives for c in negative_candidates("auto", can_mine=True, given_negatives=True)] == ["given"]


def _pairs_file(path, count: int = 90):
    import json

    topics = ["enzymes", "volcanoes", "tariffs", "sonnets", "glaciers", "vaccines", "compilers", "orchids", "comets"]
    path.write_text("".join(json.dumps({"query": f"what does note {i} say about {topics[i % 9]}",
                                        "positive": f"Note {i}: {topics[i % 9]} grow by {i * 7} units a year."})
                            + "\n" for i in range(count)), encoding="utf-8")
    return path


def train_on_pairs(tmp_path, **settings):
    """A tiny BERT trained on ``_pairs_file`` into ``tmp_path / "run"``: batches of 8, 32 tokens, ``settings``."""
    from embedtune.config import TrainConfig
    from embedtune.inference.cache import EmbeddingCache
    from embedtune.training import train_model
    from tests.tiny_models import tiny_bert

    return train_model(_pairs_file(tmp_path / "pairs.jsonl"), tmp_path / "run",
                       TrainConfig(model=str(tiny_bert(tmp_path / "tiny")), batch_size=8, max_seq_length=32,
                                   **settings),
                       show_progress=False, cache=EmbeddingCache(tmp_path / "cache"))


def test_the_default_run_searches_on_dev_then_finishes_the_winner(tmp_path, monkeypatch) -> None:
    """A pair file with no corpus: negatives come from the other rows' positives; every candidate's dev
    score and spread is saved; the final run continues the winner's first epoch (no second start)."""
    import json

    monkeypatch.setattr("embedtune.training.probes.MIN_DEV_QUERIES", 5)  # 9 dev queries: a search in seconds

    out = tmp_path / "run"
    result = train_on_pairs(tmp_path, epochs=3, extend_epochs=0)
    recipe = result.recipe
    names = [c["name"] for c in recipe["candidates"]] + list(recipe["extra"].get("skipped", {}))
    assert {"in-batch negatives", "hybrid negatives, filtered", "hybrid negatives, unfiltered"} <= set(names)
    assert any(n.endswith("lr x2") for n in names)
    assert recipe["chosen"] in names and recipe["dev_queries"] == 9
    assert all(c["dev_spread"] > 0 for c in recipe["candidates"])
    mining = {c["name"]: c["mining_seconds"] for c in recipe["candidates"]}
    assert mining["hybrid negatives, filtered"] > 0 and mining["in-batch negatives"] == 0, \
        "mining time is counted apart, in the candidate that mined"
    assert all(c["mining_seconds"] <= c["seconds"] for c in recipe["candidates"])
    chosen = next(c for c in recipe["candidates"] if c["name"] == recipe["chosen"])
    assert result.config["learning_rate"] == 5e-5 * chosen["lr_scale"]
    steps = [e["step"] for e in result.dev_history]
    assert len(steps) == 3 and steps == [steps[0], 2 * steps[0], 3 * steps[0]], \
        "epoch 1 is the winning candidate's own; epochs 2 and 3 continue it"
    assert json.loads((out / "embedtune_train.json").read_text())["recipe"]["chosen"] == recipe["chosen"]
    assert not (out / "recipe").exists() and not (out / "checkpoints").exists()


def test_recipe_fixed_takes_the_settings_as_given(tmp_path) -> None:
    result = train_on_pairs(tmp_path, epochs=1, recipe="fixed", negatives="bm25", num_negatives=1)
    assert result.recipe is None
    assert 0 < result.num_train_pairs <= 81


def test_too_small_a_dev_split_takes_the_simplest_recipe_without_a_search(tmp_path) -> None:
    result = train_on_pairs(tmp_path, epochs=1)
    assert result.recipe is None and result.num_train_pairs == 81


def test_a_search_cut_off_midway_does_not_run_finished_candidates_again(tmp_path, monkeypatch) -> None:
    from embedtune.config import TrainConfig
    from embedtune.inference.cache import EmbeddingCache
    from embedtune.interrupts import Interrupted
    from embedtune.training import probes, train_model
    from tests.tiny_models import tiny_bert

    monkeypatch.setattr("embedtune.training.probes.MIN_DEV_QUERIES", 5)
    model = tiny_bert(tmp_path / "tiny")
    config = TrainConfig(model=str(model), epochs=3, batch_size=8, max_seq_length=32)
    data, out, cache = _pairs_file(tmp_path / "pairs.jsonl"), tmp_path / "run", EmbeddingCache(tmp_path / "cache")
    started: list[str] = []
    real_build = probes.choose_recipe.__globals__["run_training"]

    def count_then_stop(trainer, resume):
        started.append(str(trainer.args.output_dir))
        if len(started) == 2:
            raise Interrupted(15)  # SIGTERM during the second candidate
        real_build(trainer, resume)

    monkeypatch.setattr("embedtune.training.probes.run_training", count_then_stop)
    try:
        train_model(data, out, config, show_progress=False, cache=cache)
    except Interrupted:
        pass
    first = started[0]
    rerun: list[str] = []

    def record(trainer, resume):
        rerun.append(str(trainer.args.output_dir))
        real_build(trainer, resume)

    monkeypatch.setattr("embedtune.training.probes.run_training", record)
    result = train_model(data, out, config, show_progress=False, cache=cache)
    assert result.recipe is not None and (out / "model.safetensors").is_file()
    assert rerun and first not in rerun, "the finished candidate was not trained again"
    assert started[1] in rerun, "the candidate cut off midway ran again"


@pytest.mark.parametrize("winner", ["runner-up", "first choice"])
def test_a_stalled_choice_continues_the_runner_up_and_publishes_the_better(tmp_path, monkeypatch, winner) -> None:
    """The second look, end to end: the runner-up resumes from its own first epoch; the run with the higher
    best dev score is the model published (forced either way here), and the account says which and why."""
    from embedtune.training import continuation, publishing

    monkeypatch.setattr("embedtune.training.probes.MIN_DEV_QUERIES", 5)
    monkeypatch.setattr("embedtune.training.fit.stalled", lambda best_step, checkpoint: True)
    # 9 dev queries tell no tiny-model recipe apart; the runner-up's own rule is tested above
    monkeypatch.setattr("embedtune.training.continuation.runner_up",
                        lambda candidates, chosen: SIMPLE if chosen.negatives != "none" else MINED)
    real_continue, real_publish = continuation.continue_runner_up, publishing.publish_run
    runs, published = [], []

    def continue_and_force(*args, **kwargs):
        runner = real_continue(*args, **kwargs)
        runner.trainer.state.best_metric = 2.0 if winner == "runner-up" else -1.0
        runs.append(runner)
        return runner

    def publish(model, *args, **kwargs):
        published.append(model)
        return real_publish(model, *args, **kwargs)

    monkeypatch.setattr("embedtune.training.fit.continue_runner_up", continue_and_force)
    monkeypatch.setattr("embedtune.training.publishing.publish_run", publish)
    out = tmp_path / "run"
    result = train_on_pairs(tmp_path, epochs=3, extend_epochs=0)
    continued = result.recipe["continued"]
    first, runner = continued["first_choice"], continued["runner_up"]
    assert first != runner and runner == runs[0].candidate.name
    kept = runner if winner == "runner-up" else first
    assert continued["kept"] == result.recipe["chosen"] == kept
    assert (published[0] is runs[0].model) == (winner == "runner-up"), "the kept run's weights are published"
    probe_dev = {c["name"]: c["dev_ndcg"] for c in result.recipe["candidates"]}
    assert round(result.dev_history[0]["eval_dev_ndcg@10"], 4) == probe_dev[kept], \
        "the published history starts at the kept candidate's own first epoch"
    steps = [e["step"] for e in result.dev_history]
    assert len(steps) == 3 and steps[1:] == [2 * steps[0], 3 * steps[0]], "three epochs, the first a probe's"
    assert continued["seconds"] > 0 and result.train_seconds >= continued["seconds"]
    assert f"kept <b>{kept}</b>" in (out / "report.html").read_text(encoding="utf-8")
    assert not (out / "recipe").exists()
