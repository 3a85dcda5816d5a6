"""Would a dev-chosen weight mix help? Dev split only: the test split is never read.

Two mixes of a finished `embedtune train` run's weights, each scored on the run's own dev split
(rebuilt with the same settings and seed; the unmixed row must equal the run's best dev nDCG@10):

- ``--alphas``: (1 - a)·base + a·tuned (WiSE-FT without a guard set);
- ``--average CKPT ...``: the uniform average of the tuned weights and earlier checkpoints of the same
  run (checkpoint averaging), each prefix of the list: tuned, tuned+CKPT1, tuned+CKPT1+CKPT2, ...

Usage: python bench/mix_probe.py RUN_DIR DATA_DIR BASE_MODEL OUT.json [--average CKPT ...]
"""
import argparse
import json
import time
from pathlib import Path

from embedtune.config import TrainConfig
from embedtune.evaluation.evaluate import evaluate_model, sample_corpus
from embedtune.models import load_model
from embedtune.training.guard import copy_state, interpolate_state
from embedtune.training.run_data import prepare_run_data

ALPHAS = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("run_dir", "data_dir", "base_model", "out"):
        parser.add_argument(name)
    parser.add_argument("--average", nargs="+", default=None, help="earlier checkpoints of the same run")
    args = parser.parse_args()
    run_dir = Path(args.run_dir)
    cfg = json.loads((run_dir / "embedtune_train.json").read_text())["config"]
    cfg["model"] = args.base_model
    config = TrainConfig(**{k: v for k, v in cfg.items() if k in TrainConfig().to_dict()})
    dev = sample_corpus(prepare_run_data(args.data_dir, config).first.dev, config.dev_corpus_size, config.seed)
    model = load_model(str(run_dir))
    tuned = copy_state(model)
    if args.average:
        members = [tuned] + [copy_state(load_model(c)) for c in args.average]
        mixes = [({"averaged": ["tuned", *args.average[:k - 1]]}, average_states(members[:k]))
                 for k in range(1, len(members) + 1)]
    else:
        base = copy_state(load_model(args.base_model))
        mixes = [({"alpha": a}, interpolate_state(base, tuned, a)) for a in ALPHAS]
    rows = []
    for label, state in mixes:
        start = time.time()
        model.load_state_dict(state)
        score = evaluate_model(model, dev, metrics=("ndcg@10",), show_progress=False).metrics["ndcg@10"]
        rows.append({**label, "dev_ndcg@10": round(score, 4), "seconds": round(time.time() - start, 1)})
        print(rows[-1], flush=True)
    Path(args.out).write_text(json.dumps(rows, indent=1))


def average_states(states: list[dict]) -> dict:
    """The uniform average of state dicts of one architecture (integer buffers taken from the first)."""
    first = states[0]
    return {k: sum(s[k] for s in states) / len(states) if first[k].is_floating_point() else first[k]
            for k in first}


if __name__ == "__main__":
    main()
