"""Knowledge distillation: a stronger teacher's scores or embeddings become the training labels.

Two ways, chosen with the loss:
- ``margin_mse`` (MarginMSE, Hofstätter et al.): for each (query, positive, negative) row the
  student learns the teacher's score *margin* ``s(q, p) - s(q, n)``. Any teacher that scores a
  pair works: a cross-encoder (scores through its own activation, e.g. a sigmoid, so margins stay
  on the scale of the student's cosine) or a bi-encoder (cosine of its embeddings). Needs hard
  negatives (``embedtune mine``, or a triplet file).
- ``embedding_mse``: the student's embedding of every training text is pulled onto the
  bi-encoder teacher's embedding of it (MSELoss); the teacher must have the student's size.

Teacher scores are computed once, before training, and kept in the embedding cache keyed by the
teacher's weights, the precision and the exact rows, so a resumed or repeated run does not score
them again. A bf16 training run scores its teacher in bf16 too (``teacher_precision`` auto): the
student learns the labels through bf16 arithmetic anyway, and a teacher several times the
student's size otherwise takes longer to score the rows than the student takes to train on them.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from embedtune.errors import ConfigError
from embedtune.inference.precision import training_encoder_backend
from embedtune.models import display_name
from embedtune.training.hybrid_teacher import (HYBRID, LEXICAL_WEIGHT, POOL_DEPTH, PairScorer, dense_scorer,
                                              hybrid_dense_model, hybrid_scorer, is_hybrid, row_texts)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from embedtune.data.types import TrainingPairs
    from embedtune.inference.cache import EmbeddingCache

logger = logging.getLogger(__name__)

TeacherKind = Literal["cross-encoder", "bi-encoder", "hybrid"]
TEACHER_KINDS: tuple[str, ...] = ("auto", "cross-encoder", "bi-encoder")


def teacher_kind(name: str, kind: str = "auto") -> TeacherKind:
    """``kind`` itself unless ``auto``: ``hybrid`` / ``hybrid:MODEL`` is BM25 fused with a dense model
    (``embedtune.training.hybrid_teacher``); a local folder tells by its architecture (a sequence
    classifier is a cross-encoder), a hub id by its ``cross-encoder/`` organisation."""
    if is_hybrid(name):
        return "hybrid"
    if kind != "auto":
        return kind  # type: ignore[return-value]
    from embedtune.models import resolve_model

    config = Path(resolve_model(name)) / "config.json"
    if config.is_file():
        architectures = json.loads(config.read_text(encoding="utf-8")).get("architectures") or []
        classifier = any(str(a).endswith("ForSequenceClassification") for a in architectures)
        return "cross-encoder" if classifier else "bi-encoder"
    return "cross-encoder" if str(name).startswith("cross-encoder/") else "bi-encoder"


def distillation_columns(pairs: TrainingPairs, config: Any, student: SentenceTransformer,
                         cache: EmbeddingCache | None, show_progress: bool,
                         precision: str = "fp32") -> dict[str, list]:
    """The training columns for a distillation loss: texts plus the teacher's ``label``.

    ``precision`` is the training run's; ``config.teacher_precision`` auto follows it.
    """
    teacher_precision = teacher_precision_for(config, precision)
    if config.loss == "margin_mse":
        return _margin_columns(pairs, config, cache, show_progress, teacher_precision)
    return _embedding_columns(pairs, config, student, show_progress, teacher_precision)


def check_distillation_rows(pairs: TrainingPairs, loss: str) -> None:
    """The margin losses learn (positive - negative) margins, so rows without negatives cannot train them;
    ``train_model`` calls this before the output folder is opened, so a corrected rerun needs no --overwrite."""
    from embedtune.loss_registry import loss_spec

    if loss_spec(loss).needs_negatives and not pairs.num_negatives:
        also = " as well as its ranking of the batch" if loss == "margin_kl" else ""
        instead = "" if loss == "margin_kl" else ", or use --loss embedding_mse"
        raise ConfigError(f"loss {loss} learns the teacher's score margin between a positive and a hard negative{also}, "
                          f"and these training rows have no negatives: run `embedtune mine` first (or give a "
                          f"triplet file){instead}")


def check_listwise_teacher(teacher: str, kind: TeacherKind) -> None:
    """margin_kl needs the teacher's score for pairs that only meet in a training batch: a
    cross-encoder would have to run inside the training loop for that, so it is refused."""
    if kind == "cross-encoder":
        raise ConfigError(f'loss margin_kl scores every query of a batch against every document of it, which the '
                          f'cross-encoder teacher "{teacher}" cannot do ahead of training (it is a cross-encoder: use '
                          "--loss margin_mse with it, or a bi-encoder or the hybrid teacher)")


def _scoring_name(teacher: str, kind: TeacherKind, student: str | None) -> str:
    """The name a teacher scores under: ``hybrid:MODEL`` spelled out for the hybrid teacher (one
    name per default model), the teacher itself otherwise."""
    if kind == "hybrid":
        return f"{HYBRID}:{display_name(hybrid_dense_model(teacher, student))}"
    return teacher


def _rows(pairs: TrainingPairs) -> list[list[str]]:
    """Each training row as ``[query, positive, negatives...]``."""
    return [[q, p, *negs] for q, p, negs in zip(pairs.queries, pairs.positives, pairs.negatives)]


def teacher_precision_for(config: Any, training_precision: str) -> str:
    """fp32 or bf16: ``config.teacher_precision`` unless auto, which is bf16 only for a bf16 run."""
    if config.teacher_precision != "auto":
        return config.teacher_precision
    return "bf16" if training_precision == "bf16" else "fp32"


def _margin_columns(pairs: TrainingPairs, config: Any, cache: EmbeddingCache | None,
                    show_progress: bool, precision: str) -> dict[str, list]:
    check_distillation_rows(pairs, config.loss)
    margins = teacher_margins(config.teacher, config.teacher_kind, pairs, batch_size=config.teacher_batch_size,
                              max_seq_length=config.max_seq_length, cache=cache, show_progress=show_progress,
                              precision=precision, student=config.model)
    columns: dict[str, list] = pairs.to_columns()
    columns["label"] = margins.tolist()
    return columns


def teacher_margins(teacher: str, kind: str, pairs: TrainingPairs, *, batch_size: int = 32,
                    max_seq_length: int | None = None, cache: EmbeddingCache | None = None,
                    show_progress: bool = False, precision: str = "fp32", student: str | None = None) -> np.ndarray:
    """``(rows, negatives)`` margins ``s(q, p) - s(q, n_i)`` under the teacher (in ``precision``: fp32
    or bf16), cached. ``student`` is the model a ``hybrid`` teacher fuses with BM25."""
    resolved = teacher_kind(teacher, kind)
    teacher = _scoring_name(teacher, resolved, student)
    rows = _rows(pairs)
    flat = ["\x1f".join(row) for row in rows]
    path = None
    if cache is not None:
        role = "teacher-margins" if precision == "fp32" else f"teacher-margins-{precision}"
        path = cache.path_for(_teacher_key(teacher, resolved), flat, role)
        if (cached := cache.load(path)) is not None and cached.shape == (len(rows), pairs.num_negatives):
            logger.info("loaded %d teacher margins from the cache (%s)", len(rows), path.name)
            return cached
    logger.info("scoring %d training rows with the %s teacher %s (%s)", len(rows), resolved, teacher, precision)
    if resolved == "cross-encoder":
        scores = _cross_encoder_scores(teacher, rows, batch_size, max_seq_length, show_progress, precision)
    elif resolved == "hybrid":
        scores = _hybrid_scores(teacher, rows, batch_size, max_seq_length, show_progress, precision)
    else:
        scores = _bi_encoder_scores(teacher, rows, batch_size, max_seq_length, show_progress, precision)
    margins = (scores[:, :1] - scores[:, 1:]).astype(np.float32)
    if path is not None:
        cache.save(path, margins)
    return margins


def _teacher_key(teacher: str, kind: str) -> str:
    """The teacher's weights (through the model fingerprint) when it is local; else its id."""
    import hashlib

    from embedtune.models import resolve_model

    if kind == "hybrid":  # keyed by its dense model's weights and the fusion's settings
        return _teacher_key(hybrid_dense_model(teacher, None), f"hybrid-{LEXICAL_WEIGHT}-{POOL_DEPTH}")
    target = Path(resolve_model(teacher))
    weights = sorted(target.glob("*.safetensors")) + sorted(target.glob("*.bin"))
    digest = hashlib.sha256(f"{kind}:{teacher}".encode())
    for path in weights:
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _cross_encoder_scores(teacher: str, rows: list[list[str]], batch_size: int, max_seq_length: int | None,
                          show_progress: bool, precision: str = "fp32") -> np.ndarray:
    """Every (query, document) of every row scored by the cross-encoder, through its activation."""
    from sentence_transformers import CrossEncoder

    from embedtune.models import resolve_model

    try:
        model = CrossEncoder(resolve_model(teacher), max_length=max_seq_length)
    except OSError as exc:
        raise ConfigError(f'cannot load teacher "{teacher}" as a cross-encoder ({str(exc).splitlines()[0]})') from exc
    width = len(rows[0]) - 1
    pairs = [(row[0], doc) for row in rows for doc in row[1:]]
    import torch

    with torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        predicted = model.predict(pairs, batch_size=batch_size, show_progress_bar=show_progress,
                                  convert_to_tensor=True)
    scores = predicted.float().cpu().numpy()
    if scores.ndim != 1:
        raise ConfigError(f'teacher "{teacher}" gives {scores.shape[-1]} scores per pair; a distillation '
                          "teacher must give one relevance score")
    return scores.reshape(len(rows), width)


def _bi_encoder_scores(teacher: str, rows: list[list[str]], batch_size: int, max_seq_length: int | None,
                       show_progress: bool, precision: str = "fp32") -> np.ndarray:
    """Cosine of the teacher's query and document embeddings (each unique text encoded once)."""
    return _teacher_scorer(teacher, "bi-encoder", rows, batch_size, max_seq_length, show_progress,
                           precision).row_scores(rows)


def _hybrid_scores(teacher: str, rows: list[list[str]], batch_size: int, max_seq_length: int | None,
                   show_progress: bool, precision: str = "fp32") -> np.ndarray:
    """BM25 fused with the dense model named after ``hybrid:``, over the rows' own documents."""
    return _teacher_scorer(teacher, "hybrid", rows, batch_size, max_seq_length, show_progress,
                           precision).row_scores(rows)


def _teacher_scorer(teacher: str, kind: TeacherKind, rows: list[list[str]], batch_size: int,
                    max_seq_length: int | None, show_progress: bool, precision: str,
                    cache: EmbeddingCache | None = None) -> PairScorer:
    """A bi-encoder or hybrid teacher ready to score any (query, document) of the rows.

    ``teacher`` is a model name for a bi-encoder and ``hybrid:MODEL`` for the hybrid teacher."""
    from embedtune.inference.search import make_encoder
    from embedtune.models import load_model

    name = hybrid_dense_model(teacher, None) if kind == "hybrid" else teacher
    model = load_model(name, max_seq_length=max_seq_length)
    encoder = make_encoder(model, training_encoder_backend(precision), batch_size=batch_size)
    queries, docs = row_texts(rows)
    if kind == "hybrid":
        return hybrid_scorer(queries, docs, encoder, show_progress=show_progress, cache=cache)
    return dense_scorer(queries, docs, encoder, show_progress=show_progress, cache=cache)


def listwise_columns(pairs: TrainingPairs, config: Any, show_progress: bool, precision: str = "fp32",
                     cache: EmbeddingCache | None = None) -> tuple[dict[str, list], PairScorer]:
    """The training columns for ``margin_kl``, and the teacher that scores its batches.

    Each row's ``label`` is ``[query id, positive id, negative ids...]`` into the scorer, since the
    loss needs the teacher's score for every query of a batch against every document of it, and
    which rows meet in a batch is only known during training (so bi-encoder and hybrid teachers
    only: ``check_listwise_teacher``). The teacher's document embeddings go in ``cache``, so a
    resumed run does not encode them again.
    """
    check_distillation_rows(pairs, config.loss)
    kind = teacher_kind(config.teacher, config.teacher_kind)
    check_listwise_teacher(config.teacher, kind)
    teacher = _scoring_name(config.teacher, kind, config.model)
    rows = _rows(pairs)
    logger.info("preparing the %s teacher %s for %d training rows (%s)", kind, teacher, len(rows),
                teacher_precision_for(config, precision))
    scorer = _teacher_scorer(teacher, kind, rows, config.teacher_batch_size, config.max_seq_length, show_progress,
                             teacher_precision_for(config, precision), cache)
    columns: dict[str, list] = pairs.to_columns()
    columns["label"] = scorer.row_ids(rows)
    return columns, scorer


def _embedding_columns(pairs: TrainingPairs, config: Any, student: SentenceTransformer,
                       show_progress: bool, precision: str) -> dict[str, list]:
    """Every distinct training text with the teacher's embedding of it as the label.

    Queries and documents go in one column, the trainer's first, so the student encodes every text
    with its query prompt, and the teacher does the same: the student copies the teacher's space.
    """
    from embedtune.inference.search import encode_queries, make_encoder
    from embedtune.models import load_model

    if (kind := teacher_kind(config.teacher, config.teacher_kind)) != "bi-encoder":
        raise ConfigError(f'loss embedding_mse copies a bi-encoder\'s embeddings, and teacher "{config.teacher}" '
                          f"is a {kind} teacher: use --loss margin_mse with it")
    teacher = load_model(config.teacher, max_seq_length=config.max_seq_length)
    size, student_size = teacher.get_embedding_dimension(), student.get_embedding_dimension()
    if size != student_size:
        raise ConfigError(f'loss embedding_mse needs a teacher of the student\'s size: teacher "{config.teacher}" '
                          f"gives {size} dimensions, the student {student_size}; use --loss margin_mse, which "
                          "compares scores and works with any teacher")
    texts = list(dict.fromkeys([*pairs.queries, *pairs.positives, *(n for row in pairs.negatives for n in row)]))
    logger.info("encoding %d training texts with the teacher %s", len(texts), config.teacher)
    encoder = make_encoder(teacher, training_encoder_backend(precision), batch_size=config.teacher_batch_size)
    vectors = encode_queries(teacher, texts, encoder=encoder,
                             show_progress=show_progress)
    return {"text": texts, "label": vectors.tolist()}
