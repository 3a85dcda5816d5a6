"""``run_demo``: the whole pipeline offline — build data, score the base model, LoRA-tune, score again."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from embedtune import __version__
from embedtune._io import claim, write_json_atomic
from embedtune._owned import clear_owned_folder, create_owned_folder, is_empty, made_by
from embedtune.config import TrainConfig
from embedtune.demo.codesearch import build_codesearch_folder
from embedtune.errors import OutputExistsError

logger = logging.getLogger(__name__)

RESULTS = "results.json"
COMMAND = "embedtune demo"

# Sized so the demo ends in a few minutes on 2 CPU cores: 1,200 functions, code cut to 128
# tokens (the signature and the first lines carry most of what a docstring describes), two
# LoRA epochs.
# recipe "fixed": the demo's promise is a few minutes; the recipe search (issue 26) is measured on the
# same code-search data by bench/default_recipe.py instead.
DEMO_CONFIG = TrainConfig(strategy="lora", epochs=2, max_seq_length=128, dev_corpus_size=600,
                          eval_split="test", recipe="fixed")
DEMO_FUNCTIONS = 1200
# The image demo (--images) trains a tiny random CLIP from scratch, so it needs many steps at a high rate:
# full fine-tuning, 2,000 drawings, 10 epochs at 2e-3 (bench/clip_probe.py measured plain
# sentence-transformers at these settings). Dev captions pick the checkpoint as in any run.
IMAGE_DEMO_CONFIG = TrainConfig(strategy="full", epochs=10, learning_rate=2e-3, batch_size=64, eval_split="test",
                                recipe="fixed", evals_per_epoch=1, dev_corpus_size=500)
IMAGE_DEMO_TRAIN_IMAGES = 2000


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
    out = Path(out)
    start = time.perf_counter()
    _prepare_out(out, overwrite)
    claim(out, "data", "model")
    stats = build_codesearch_folder(out / "data", max_functions=max_functions, seed=config.seed)
    logger.info("code-search set: %d functions (%d train, %d test) from %d standard-library files",
                stats.num_functions, stats.num_train, stats.num_test, stats.files_scanned)
    return _train_and_record(out, config, config.model, stats.to_dict(), start, show_progress)


def run_image_demo(out: str | Path = "embedtune-demo-images", *, overwrite: bool = False,
                   show_progress: bool = False, config: TrainConfig = IMAGE_DEMO_CONFIG,
                   train_images: int = IMAGE_DEMO_TRAIN_IMAGES) -> DemoResult:
    """Run the offline image demo in ``out``: drawn shapes and captions, a tiny random CLIP built from a
    config (``embedtune.demo.shapes``), scored on held-out captions before and after training."""
    from dataclasses import replace

    from embedtune.demo.shapes import build_shapes_folder, build_tiny_clip

    out = Path(out)
    start = time.perf_counter()
    _prepare_out(out, overwrite)
    claim(out, "data", "base-model", "model")
    stats = build_shapes_folder(out / "data", train_images=train_images, seed=config.seed)
    logger.info("shapes set: %d training images of %d captions; test: %d held-out captions over %d images",
                stats.train_images, stats.train_captions, stats.test_captions, stats.test_images)
    build_tiny_clip(out / "base-model", seed=config.seed)
    config = replace(config, model=str(out / "base-model"))
    return _train_and_record(out, config, "tiny random CLIP (built from a config)", stats.to_dict(), start,
                             show_progress)


def _train_and_record(out: Path, config: TrainConfig, model_name: str | None, dataset: dict, start: float,
                      show_progress: bool) -> DemoResult:
    """Train on ``out/data`` into ``out/model`` and write ``out/results.json`` with the before/after scores."""
    from embedtune.training import train_model

    result = train_model(out / "data", out / "model", config, show_progress=show_progress)
    if result.before is None or result.after is None:
        raise RuntimeError("the demo data has a test split, so before/after scores must exist")
    seconds = time.perf_counter() - start
    results_path = out / RESULTS
    write_json_atomic(results_path, {
        "before": result.before, "after": result.after, "model": str((out / "model").resolve()),
        "base_model": model_name, "dataset": dataset, "config": config.to_dict(), "seconds": round(seconds, 1),
        "embedtune_version": __version__,
    })
    return DemoResult(before=result.before, after=result.after, model_dir=str(out / "model"),
                      results_path=str(results_path), seconds=seconds)


def _prepare_out(out: Path, overwrite: bool) -> None:
    """Make ``out`` the demo's folder; an earlier demo there is replaced only with ``overwrite``."""
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f'output "{out}" is a file; give a folder path')
    if out.is_dir() and not is_empty(out):
        if overwrite:
            clear_owned_folder(out)  # refuses a folder holding anything the demo did not write
        elif made_by(out) == COMMAND:
            raise OutputExistsError(f'"{out}" already holds a demo run; pass --overwrite to run it again '
                                    "or choose another --out")
        else:
            raise OutputExistsError(f'"{out}" is not empty and is not a demo run; choose another --out')
    create_owned_folder(out, COMMAND)
