"""Would a dev-chosen mix of base and tuned weights (WiSE-FT without a guard set) help? Dev split only.

Rebuilds a finished `embedtune train` run's own dev split (same settings and seed; the alpha 1.0 row must
equal the run's best dev nDCG@10) and scores (1 - a)·base + a·tuned on it. The test split is never read.
Usage: python bench/mix_probe.py RUN_DIR DATA_DIR BASE_MODEL OUT.json
"""
import json, sys, time
from pathlib import Path
from embedtune.config import TrainConfig
from embedtune.training.run_data import prepare_run_data
from embedtune.evaluation.evaluate import evaluate_model, sample_corpus
from embedtune.training.guard import copy_state, interpolate_state
from embedtune.models import load_model

run_dir, data_dir, base_name = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
cfg = json.loads((run_dir / "embedtune_train.json").read_text())["config"]
cfg["model"] = base_name
config = TrainConfig(**{k: v for k, v in cfg.items() if k in TrainConfig().to_dict()})
run = prepare_run_data(data_dir, config)
dev = sample_corpus(run.first.dev, config.dev_corpus_size, config.seed)
base = copy_state(load_model(base_name))
model = load_model(str(run_dir))
tuned = copy_state(model)
rows = []
for a in [1.0, 0.9, 0.8, 0.7, 0.6, 0.5]:
    t = time.time()
    model.load_state_dict(interpolate_state(base, tuned, a))
    s = evaluate_model(model, dev, metrics=("ndcg@10",), show_progress=False).metrics["ndcg@10"]
    rows.append({"alpha": a, "dev_ndcg@10": round(s, 4), "seconds": round(time.time() - t, 1)})
    print(rows[-1], flush=True)
Path(sys.argv[4]).write_text(json.dumps(rows, indent=1))
