"""--recipe auto's last look: a run whose dev score still rose at its last evaluation trains on, and the
weights the dev split prefers are the ones published."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from embedtune.training.extension import StopWhenNotBetter, joined_history, still_rising

METRIC = "eval_dev_ndcg@10"


def _trainer(scores: list[float], best_step: int | None, metric: str = "dev_ndcg@10") -> SimpleNamespace:
    history = [{"loss": 1.0, "step": 5}] + [{METRIC: s, "step": 10 * (i + 1), "epoch": float(i + 1)}
                                              for i, s in enumerate(scores)]
    state = SimpleNamespace(log_history=history, best_model_checkpoint=None if best_step is None
                            else f"/runs/x/checkpoints/checkpoint-{best_step}")
    return SimpleNamespace(state=state, args=SimpleNamespace(metric_for_best_model=metric))


def test_a_run_still_rises_only_when_its_best_checkpoint_is_its_last_evaluation() -> None:
    assert still_rising(_trainer([0.5, 0.6, 0.7], best_step=30))
    assert still_rising(_trainer([0.5, 0.6, 0.7], best_step=30, metric=METRIC))
    assert not still_rising(_trainer([0.5, 0.7, 0.6], best_step=20)), "dev peaked at epoch 2"
    assert not still_rising(_trainer([], best_step=None)), "no dev evaluation: nothing to go on"


def _evaluate(callback: StopWhenNotBetter, score: float) -> bool:
    control = SimpleNamespace(should_training_stop=False)
    callback.on_evaluate(None, None, control, metrics={METRIC: score})
    return control.should_training_stop


def test_the_extension_stops_at_the_first_evaluation_that_does_not_beat_the_best_so_far() -> None:
    callback = StopWhenNotBetter(0.70, "dev_ndcg@10")
    assert not _evaluate(callback, 0.72)
    assert not _evaluate(callback, 0.75)
    assert _evaluate(callback, 0.74), "below the extension's own best"
    assert _evaluate(StopWhenNotBetter(0.70, METRIC), 0.70), "equal to the run's best is not better"


def test_a_resumed_extension_that_had_stopped_stops_again() -> None:
    callback = StopWhenNotBetter(0.70, "dev_ndcg@10")
    state = SimpleNamespace(log_history=[{METRIC: 0.72, "step": 4}, {METRIC: 0.71, "step": 8}])
    control = SimpleNamespace(should_training_stop=False)
    callback.on_train_begin(None, state, control)
    callback.on_step_end(None, state, control)
    assert control.should_training_stop
    going_on = StopWhenNotBetter(0.70, "dev_ndcg@10")
    going_on.on_train_begin(None, SimpleNamespace(log_history=[{METRIC: 0.72, "step": 4}]), control)
    assert going_on.best == 0.72 and not going_on.stopped


def test_the_joined_history_counts_the_extensions_steps_and_epochs_on() -> None:
    run = [{"loss": 1.0, "step": 10, "epoch": 1.0}, {METRIC: 0.7, "step": 30, "epoch": 3.0}]
    extension = SimpleNamespace(state=SimpleNamespace(log_history=[{METRIC: 0.72, "step": 10, "epoch": 1.0}]))
    joined = joined_history(run, extension)
    assert joined[:2] == run
    assert joined[2] == {METRIC: 0.72, "step": 40, "epoch": 4.0, "extension": True}


@pytest.mark.parametrize("outcome", ["kept", "not kept"])
def test_a_rising_run_trains_on_and_publishes_the_better_weights(tmp_path, monkeypatch, outcome) -> None:
    """End to end on a tiny model: the extension runs after the final run (forced: 9 dev queries say little),
    its account is saved, the history goes on past the run's last step, and the published weights are the
    extension's best where it scored higher on dev, the run's own where it did not (forced either way)."""
    import torch
    from safetensors.torch import load_file

    from embedtune.training import extension
    from tests.unit.test_recipe import train_on_pairs

    monkeypatch.setattr("embedtune.training.probes.MIN_DEV_QUERIES", 5)
    monkeypatch.setattr("embedtune.training.fit.still_rising", lambda trainer: True)
    before: dict[str, torch.Tensor] = {}
    real_extend, real_run = extension.extend_run, extension.run_training

    def extend_and_remember(model, *args, **kwargs):
        before.update({k: v.detach().clone() for k, v in model.state_dict().items()})
        return real_extend(model, *args, **kwargs)

    def run_and_force(trainer, resume):
        real_run(trainer, resume)
        trainer.state.best_metric = 2.0 if outcome == "kept" else -1.0

    monkeypatch.setattr("embedtune.training.fit.extend_run", extend_and_remember)
    monkeypatch.setattr("embedtune.training.extension.run_training", run_and_force)
    out = tmp_path / "run"
    result = train_on_pairs(tmp_path, epochs=2, extend_epochs=2)
    extended = result.recipe["extended"]
    assert extended["kept"] == (outcome == "kept") and extended["seconds"] > 0
    assert extended["learning_rate"] == pytest.approx(result.config["learning_rate"] * extension.LR_SCALE)
    steps = [e["step"] for e in result.dev_history]
    assert len(steps) >= 3 and steps == sorted(steps), "the extension's evaluations follow the run's"
    assert [e.get("extension", False) for e in result.dev_history][:2] == [False, False]
    assert result.train_seconds >= extended["seconds"]
    saved = load_file(str(out / "model.safetensors"))
    pairs = [(saved[k], before[f"0.model.{k}"]) for k in saved if f"0.model.{k}" in before]
    assert len(pairs) == len(saved), "every saved weight has its counterpart from before the extension"
    same = all(torch.equal(a, b) for a, b in pairs)
    assert same == (outcome == "not kept"), "the published weights are the better ones on dev"
    assert "trained on for" in (out / "report.html").read_text(encoding="utf-8")
    assert not (out / "recipe").exists()


def test_an_extension_cut_off_midway_resumes_from_its_own_checkpoint(tmp_path, monkeypatch) -> None:
    """A kill after the extension's first checkpoint: the rerun finds the run finished and resumes the
    extension where it stopped, not from its start."""
    from transformers import TrainerCallback

    from embedtune.config import TrainConfig
    from embedtune.inference.cache import EmbeddingCache
    from embedtune.interrupts import Interrupted
    from embedtune.training import extension, train_model
    from tests.tiny_models import tiny_bert
    from tests.unit.test_recipe import _pairs_file

    class KillAfterSave(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            raise Interrupted(15)

    monkeypatch.setattr("embedtune.training.probes.MIN_DEV_QUERIES", 5)
    monkeypatch.setattr("embedtune.training.fit.still_rising", lambda trainer: True)
    monkeypatch.setattr("embedtune.training.extension.StopWhenNotBetter._judge", lambda self, score: None)
    real_run = extension.run_training
    resumed: list[object] = []

    def killed(trainer, resume):
        trainer.add_callback(KillAfterSave())
        real_run(trainer, resume)

    def recorded(trainer, resume):
        resumed.append(resume)
        real_run(trainer, resume)

    config = TrainConfig(model=str(tiny_bert(tmp_path / "tiny")), epochs=2, extend_epochs=2, batch_size=8,
                         max_seq_length=32, save_every_minutes=0)
    data, out, cache = _pairs_file(tmp_path / "pairs.jsonl"), tmp_path / "run", EmbeddingCache(tmp_path / "cache")
    monkeypatch.setattr("embedtune.training.extension.run_training", killed)
    with pytest.raises(Interrupted):
        train_model(data, out, config, show_progress=False, cache=cache)
    saved = sorted((out / "recipe" / "extension" / "checkpoints").glob("checkpoint-*"))
    assert saved, "the extension had saved a checkpoint before the kill"
    monkeypatch.setattr("embedtune.training.extension.run_training", recorded)
    result = train_model(data, out, config, show_progress=False, cache=cache)
    assert resumed and resumed[0] is not None and resumed[0].name == saved[-1].name
    assert result.recipe["extended"]["epochs_run"] == 2
