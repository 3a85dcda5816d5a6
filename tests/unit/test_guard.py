"""The forgetting guard's parts that need no model: the weight mix, the choice rule, the query halves."""
from __future__ import annotations

import json

import pytest
import torch

from embedtune.data.types import RetrievalSet
from embedtune.errors import ConfigError
from embedtune.training.guard import MixScore, choose_mix, describe, interpolate_state, split_guard_queries


def states() -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    base = {"layer.weight": torch.randn(4, 3, generator=generator), "layer.bias": torch.randn(3, generator=generator),
            "embeddings.position_ids": torch.arange(6)}
    tuned = {"layer.weight": torch.randn(4, 3, generator=generator), "layer.bias": torch.randn(3, generator=generator),
             "embeddings.position_ids": torch.arange(6)}
    return base, tuned


def test_alpha_one_is_the_tuned_weights_zero_the_base_and_half_the_mean() -> None:
    base, tuned = states()
    for name in ("layer.weight", "layer.bias"):
        assert torch.equal(interpolate_state(base, tuned, 1.0)[name], tuned[name])
        assert torch.equal(interpolate_state(base, tuned, 0.0)[name], base[name])
        torch.testing.assert_close(interpolate_state(base, tuned, 0.5)[name], (base[name] + tuned[name]) / 2)
        torch.testing.assert_close(interpolate_state(base, tuned, 0.7)[name], 0.3 * base[name] + 0.7 * tuned[name])


def test_integer_buffers_are_copied_and_the_inputs_are_left_alone() -> None:
    base, tuned = states()
    before = {k: v.clone() for k, v in tuned.items()}
    mixed = interpolate_state(base, tuned, 0.5)
    assert torch.equal(mixed["embeddings.position_ids"], tuned["embeddings.position_ids"])
    assert mixed["embeddings.position_ids"].dtype == torch.int64
    mixed["layer.weight"].add_(1.0)
    assert all(torch.equal(tuned[k], before[k]) for k in tuned), "the tuned state must not change"


def test_a_tensor_missing_from_the_base_is_named() -> None:
    base, tuned = states()
    del base["layer.bias"]
    with pytest.raises(ValueError, match=r"lack 1 tensors of the tuned model \(first: layer.bias\)"):
        interpolate_state(base, tuned, 0.5)


GRID = [MixScore(alpha=0.9, domain_dev=0.70, guard_dev=0.45),   # best domain score, drops 0.05 on the guard
        MixScore(alpha=0.8, domain_dev=0.68, guard_dev=0.49),   # drop 0.01: qualifies at threshold 0.01
        MixScore(alpha=0.7, domain_dev=0.66, guard_dev=0.495),  # qualifies, worse on the domain
        MixScore(alpha=0.5, domain_dev=0.60, guard_dev=0.50)]


def test_drop_within_threshold_keeps_the_tuned_weights() -> None:
    choice = choose_mix(0.50, 0.495, [], threshold=0.01)
    assert (choice.alpha, choice.interpolated, choice.within_threshold) == (1.0, False, True)
    assert not choose_mix(0.50, 0.51, [], threshold=0.0).interpolated, "a gain is never a drop"
    assert not choose_mix(0.50, 0.50, [], threshold=0.0).interpolated, "equal is within a threshold of 0"


def test_best_domain_dev_among_the_mixes_within_the_threshold() -> None:
    choice = choose_mix(0.50, 0.44, GRID, threshold=0.01)
    assert (choice.alpha, choice.interpolated, choice.within_threshold) == (0.8, True, True)
    assert choose_mix(0.50, 0.44, GRID, threshold=0.055).alpha == 0.9, "a looser threshold lets 0.9 in"
    assert choose_mix(0.50, 0.44, GRID, threshold=0.0).alpha == 0.5, "only the mix with no drop qualifies"


def test_ties_on_domain_dev_go_to_the_better_guard_score_then_the_larger_alpha() -> None:
    grid = [MixScore(0.9, 0.70, 0.49), MixScore(0.8, 0.70, 0.495), MixScore(0.7, 0.70, 0.495)]
    assert choose_mix(0.50, 0.40, grid, threshold=0.01).alpha == 0.8


def test_no_mix_within_the_threshold_falls_back_to_the_smallest_alpha() -> None:
    grid = [MixScore(0.9, 0.70, 0.40), MixScore(0.6, 0.65, 0.42), MixScore(0.75, 0.69, 0.41)]
    choice = choose_mix(0.50, 0.38, grid, threshold=0.01)
    assert (choice.alpha, choice.interpolated, choice.within_threshold) == (0.6, True, False)


def test_the_decision_line_says_what_was_chosen() -> None:
    base, tuned = {"guard_dev": 0.50, "heldout": 0.52}, {"guard_dev": 0.44, "heldout": 0.47}
    choice = choose_mix(base["guard_dev"], tuned["guard_dev"], GRID, threshold=0.01)
    line = describe(choice, base, tuned, {"guard_dev": 0.49, "heldout": 0.51}, 0.01, GRID)
    assert line == ("guard-dev nDCG@10 0.5000 (base) -> 0.4400 (tuned), drop +0.0600 over threshold 0.0100: "
                    "interpolated, chose alpha 0.8 (domain dev 0.6800, guard-dev 0.4900, "
                    "guard held-out 0.5200 base -> 0.5100)")
    kept = describe(choose_mix(0.50, 0.495, [], 0.01), base, {"guard_dev": 0.495, "heldout": 0.5}, {}, 0.01, [])
    assert kept.endswith("drop +0.0050 within threshold 0.0100: no interpolation needed, kept the tuned weights")


def guard_set(num_queries: int) -> RetrievalSet:
    queries = {f"q{i}": f"question number {i}" for i in range(num_queries)}
    qrels = {q: {"d1": 1} for q in queries}
    qrels["unjudged-positive"] = {"d1": 0}  # graded 0: judged not relevant, never evaluable
    queries["unjudged-positive"] = "a query with no relevant document"
    return RetrievalSet(corpus={"d1": "a document"}, queries=queries, qrels=qrels, source="guard", split="test")


def test_guard_queries_split_into_disjoint_seeded_halves_of_evaluable_queries() -> None:
    dev, heldout = split_guard_queries(guard_set(20), seed=42)
    assert len(dev) == len(heldout) == 10
    assert set(dev) | set(heldout) == {f"q{i}" for i in range(20)} and not set(dev) & set(heldout)
    assert split_guard_queries(guard_set(20), seed=42) == (dev, heldout)
    assert split_guard_queries(guard_set(20), seed=7) != (dev, heldout)


def test_a_guard_with_one_evaluable_query_is_refused() -> None:
    with pytest.raises(ConfigError) as exc:
        split_guard_queries(guard_set(1), seed=42)
    assert str(exc.value) == ("guard_data: guard split test has 1 queries with a relevant document; the guard "
                              "needs at least 2 (one to choose the mix, one to report)")


def test_the_model_card_shows_the_decision_and_every_score() -> None:
    from embedtune.config import TrainConfig
    from embedtune.training.model_card import render_model_card
    from embedtune.training.train import TrainResult

    guard = {"metric": "ndcg@10", "data": "dbpedia-5k", "split": "test", "threshold": 0.01, "backend": "torch",
             "guard_dev_queries": 20, "heldout_queries": 20, "base": {"guard_dev": 0.5, "heldout": 0.52},
             "tuned": {"guard_dev": 0.44, "heldout": 0.47}, "chosen": {"guard_dev": 0.49, "heldout": 0.51},
             "alpha": 0.8, "interpolated": True, "within_threshold": True,
             "grid": [{"alpha": 0.8, "domain_dev": 0.68, "guard_dev": 0.49}], "decision": "DECISION", "seconds": 1.0}
    result = TrainResult(model_dir="runs/x", config=TrainConfig().to_dict(), data="scifact", before=None, after=None,
                         heldout_split=None, guard=guard)
    card = render_model_card(result, base_model="base", base_path="/base")
    assert ("Forgetting guard on `dbpedia-5k` split `test` (nDCG@10; 20 guard-dev queries took part in the "
            "choice, 20 held-out ones did not): DECISION.") in card
    assert "| base | 0.5000 | 0.5200 |\n| tuned | 0.4400 | 0.4700 |\n| saved: alpha 0.8 | 0.4900 | 0.5100 |" in card
    assert "| 0.8 | 0.6800 | 0.4900 |" in card
    assert "Forgetting guard" not in render_model_card(
        TrainResult(model_dir="runs/x", config=TrainConfig().to_dict(), data="scifact", before=None, after=None,
                    heldout_split=None), base_model="base", base_path="/base")


def test_a_merged_lora_model_mixes_with_the_base_weights_it_started_from() -> None:
    from embedtune.config import TrainConfig
    from embedtune.models import load_model
    from embedtune.training.guard import copy_state
    from embedtune.training.strategies import STRATEGIES, merge_lora

    model = load_model(None, max_seq_length=32)
    base_state = copy_state(model)
    model = STRATEGIES["lora"].prepare(model, TrainConfig(strategy="lora", lora_r=4))
    assert set(copy_state(model)) != set(base_state), "adapters add tensors until they are merged"
    merge_lora(model)
    tuned_state = copy_state(model)
    assert set(tuned_state) == set(base_state)
    model.load_state_dict(interpolate_state(base_state, tuned_state, 0.5))  # strict: every name must match



def _pretrained_folder(tmp_path, record: str | None):
    folder = tmp_path / "pretrained"
    folder.mkdir()
    (folder / "modules.json").write_text("[]", encoding="utf-8")
    if record is not None:
        (folder / "embedtune_pretrain.json").write_text(record, encoding="utf-8")
    return folder


def test_guard_base_is_what_a_pretrained_model_started_from(tmp_path) -> None:
    from embedtune.config import TrainConfig
    from embedtune.training.guard import guard_base_name

    default_start = _pretrained_folder(tmp_path, json.dumps({"config": {"model": None}}))
    assert guard_base_name(TrainConfig(model=str(default_start))) is None  # None: the default model
    assert guard_base_name(TrainConfig(model=str(default_start), guard_base="other")) == "other"


def test_guard_base_of_a_plain_model_folder_is_the_folder(tmp_path) -> None:
    from embedtune.config import TrainConfig
    from embedtune.training.guard import guard_base_name

    plain = _pretrained_folder(tmp_path, None)
    assert guard_base_name(TrainConfig(model=str(plain))) == str(plain)


def test_unreadable_pretrain_record_names_the_file_and_the_way_out(tmp_path) -> None:
    from embedtune.config import TrainConfig
    from embedtune.training.guard import guard_base_name

    broken = _pretrained_folder(tmp_path, "{not json")
    with pytest.raises(ConfigError, match=r"embedtune_pretrain.json: .*--guard-base"):
        guard_base_name(TrainConfig(model=str(broken)))


def test_guard_base_of_another_architecture_is_refused(monkeypatch) -> None:
    from embedtune.training import guard

    class Weights:
        def __init__(self, size: int) -> None:
            self.size = size

        def state_dict(self) -> dict[str, torch.Tensor]:
            return {"layer.weight": torch.zeros(self.size)}

    monkeypatch.setattr(guard, "load_model", lambda name: Weights(8))
    with pytest.raises(ConfigError, match="layer.weight.*same architecture"):
        guard.guard_base_state(Weights(4), "bigger", "start")
    assert guard.guard_base_state(Weights(4), "start", "start")["layer.weight"].shape == (4,)


class _OneWeight:
    """A stand-in model whose single weight is the mix: 0.0 the base, 1.0 the tuned model."""

    def __init__(self) -> None:
        self.w = torch.tensor([1.0])

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"w": self.w}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.w = state["w"].clone()


def _guard_run(monkeypatch: pytest.MonkeyPatch, forgetting: float, threshold: float = 0.01):
    """Guard nDCG@10 falls by ``forgetting`` times the weight of the tuned model; domain dev rises with it."""
    from types import SimpleNamespace

    from embedtune.training import guard as guard_module

    model, guard, domain = _OneWeight(), guard_set(20), guard_set(4)

    def fake_evaluate(m, data, **kwargs):
        w = float(m.w[0])
        if data is domain:
            return SimpleNamespace(metrics={"ndcg@10": 0.6 + 0.2 * w})
        return SimpleNamespace(per_query={q: {"ndcg@10": 0.5 - forgetting * w} for q in data.queries})

    monkeypatch.setattr(guard_module, "evaluate_model", fake_evaluate)
    return guard_module.apply_forgetting_guard({"w": torch.tensor([0.0])}, model, domain, guard,
                                               threshold=threshold), model


def test_when_the_grid_forgets_too_much_the_guard_steps_on_towards_the_base(monkeypatch) -> None:
    result, model = _guard_run(monkeypatch, forgetting=0.035)  # alpha 0.5 still drops 0.0175; 0.2 drops 0.007
    assert [m["alpha"] for m in result.grid] == [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]  # stopped at the first within
    assert (result.alpha, result.within_threshold) == (0.2, True)
    assert float(model.w[0]) == pytest.approx(0.2), "the model holds the chosen mix"


def test_the_extension_ends_at_its_floor_and_says_the_threshold_was_not_kept(monkeypatch) -> None:
    result, _ = _guard_run(monkeypatch, forgetting=0.5)  # even alpha 0.1 drops 0.05
    assert [m["alpha"] for m in result.grid][-1] == 0.1
    assert (result.alpha, result.within_threshold) == (0.1, False)
    assert "no mix stayed within it" in result.decision


def test_a_grid_mix_within_the_threshold_needs_no_extension(monkeypatch) -> None:
    result, _ = _guard_run(monkeypatch, forgetting=0.018)  # alpha 0.5 drops 0.009
    assert [m["alpha"] for m in result.grid] == [0.9, 0.8, 0.7, 0.6, 0.5]
    assert (result.alpha, result.within_threshold) == (0.5, True)
