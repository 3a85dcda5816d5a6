"""``run_demo``: the whole pipeline offline — build data, score the base model, LoRA-tune, score again."""
from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from embedtune import __version__
from embedtune._io import write_json_atomic
from embedtune.config import TrainConfig
from embedtune.demo.codesearch import build_codesearch_folder
from embedtune.errors import OutputExistsError

logger = logging.getLogger(__name__)

RESULTS = "results.json"

# Sized so the demo ends in a few minutes on 2 CPU cores: 1,200 functions, code cut to 128
# tokens (the signature and the first lines carry most of what a docstring describes), two
# LoRA epochs.
DEMO_CONFIG = TrainConfig(strategy="lora", epochs=2, max_seq_length=128, dev_corpus_size=600,
                          eval_split="test")
DEMO_FUNCTIONS = 1200


@dataclass(frozen=True)
class DemoResult:
    before: dict[str, float]
    after: dict[str, float]
    model_dir: str
    results_path: str
    seconds: float


def run_demo(out: str | Path = "embedtune-demo", *, overwrite: bool = False, show_progress: bool = False,
             config: TrainConfig = DEMO_CONFIG, max_functions: int = DEMO_FUNCTIONS) -> DemoResult:
    """Run the offline code-search demo in ``out`` and write ``out/results.json``."""
    from embedtune.training import train_model

    out = Path(out)
    start = time.perf_counter()
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise OutputExistsError(f'"{out}" already holds a demo run; pass --overwrite to run it again '
                                    "or choose another --out")
        shutil.rmtree(out)
    stats = build_codesearch_folder(out / "data", max_functions=max_functions, seed=config.seed)
    logger.info("code-search set: %d functions (%d train, %d test) from %d standard-library files",
                stats.num_functions, stats.num_train, stats.num_test, stats.files_scanned)
    result = train_model(out / "data", out / "model", config, show_progress=show_progress)
    if result.before is None or result.after is None:
        raise RuntimeError("the demo data has a test split, so before/after scores must exist")
    seconds = time.perf_counter() - start
    results_path = out / RESULTS
    write_json_atomic(results_path, {
        "before": result.before, "after": result.after, "model": str((out / "model").resolve()),
        "dataset": stats.to_dict(), "config": config.to_dict(), "seconds": round(seconds, 1),
        "embedtune_version": __version__,
    })
    return DemoResult(before=result.before, after=result.after, model_dir=str(out / "model"),
                      results_path=str(results_path), seconds=seconds)
