"""``adapt_model``: unsupervised domain adaptation in one call.

generate pseudo-queries -> mine hard negatives for them -> train -> score base and tuned on
queries generated from held-out documents. The held-out documents are split off before
anything is trained or mined, by document (chunks of one file stay together), and are left out
of the mining corpus, so neither their queries nor their texts reach training.
"""
from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedtune import __version__
from embedtune._io import write_json_atomic, write_text_atomic
from embedtune._writable import check_writable
from embedtune.config import MineConfig, TrainConfig
from embedtune.data.types import RetrievalSet, TrainingPairs
from embedtune.errors import ConfigError, OutputExistsError
from embedtune.inference.cache import EmbeddingCache
from embedtune.generate.config import AdaptConfig, GenerateConfig
from embedtune.generate.corpus import Passage, read_passages
from embedtune.generate.offline import GeneratedPair
from embedtune.generate.pipeline import GenerationError, generate_pairs

logger = logging.getLogger(__name__)

REPORT_FILE = "embedtune_adapt.json"
# Defaults meant to fit the whole path into 30 minutes on 2 CPU cores for a 5,000-document corpus:
# training dominates (bench/results/speed_train.json: 6.3 pairs/s at length 256; a negative adds a
# passage per row), so at most 3,000 pairs, one epoch, three BM25 negatives (margin_kl learns from
# every document of a batch; on the dev set three negatives gained +0.0113 nDCG@10, one +0.0104).
ADAPT_MAX_PAIRS = 3000
ADAPT_EPOCHS = 1.0
ADAPT_MINE = {"method": "bm25", "num_negatives": 3}


@dataclass
class AdaptResult:
    """Each stage's account and the held-out scores before and after."""

    model_dir: str
    work_dir: str
    generation: dict[str, Any]
    split: dict[str, int]
    mining: dict[str, Any] | None
    train: dict[str, Any]
    heldout: dict[str, Any]
    guard: dict[str, Any] | None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"embedtune_version": __version__, **self.__dict__}

    def save(self, path: str | Path) -> None:
        write_json_atomic(path, self.to_dict())

    def to_table(self) -> str:
        from embedtune.evaluation.report import comparison_table

        gen = self.generation
        lines = [f"generated {gen['generated']} pairs from {gen['passages']} passages, kept {gen['kept']} "
                 f"({', '.join(f'{n} {m}' for m, n in gen['kept_by_method'].items())})",
                 f"held out {self.split['heldout_documents']} documents ({self.split['heldout_queries']} queries); "
                 f"{self.split['train_pairs']} pairs from the other {self.split['train_documents']} documents"]
        if self.mining:
            lines.append(f"mined {self.mining['rows_kept']} rows with {self.mining['config']['num_negatives']} "
                         f"{self.mining['config']['method']} negatives each")
        teacher = self.config.get("train", {}).get("teacher")
        listwise = self.config.get("train", {}).get("loss") == "margin_kl"
        lines.append(f"trained on {self.train['num_train_pairs']} rows in {self.train['train_seconds']:.0f}s"
                     + (f", learning the {teacher} teacher's margins" if teacher else "")
                     + (" and its ranking of each batch" if teacher and listwise else ""))
        lines.append(f"\nHeld-out generated queries ({self.heldout['queries']} queries, "
                     f"{self.heldout['documents']} documents):")
        lines.append(comparison_table(self.heldout["before"], self.heldout["after"], ("base", "adapted")))
        if self.guard:
            lines.append(f"\nforgetting guard ({self.guard['data']}): {self.guard['decision']}")
        lines.append("\n" + ", ".join(f"{k} {v:.0f}s" for k, v in self.stage_seconds.items()))
        return "\n".join(lines)


def work_dir_for(out: str | Path) -> Path:
    """Beside the model folder (which training refuses to share): generated and mined pairs."""
    out = Path(out)
    return out.with_name(out.name + ".adapt")


def adapt_model(docs: str | Path, out: str | Path, *, generate: GenerateConfig | None = None,
                mine: MineConfig | None = None, train: TrainConfig | None = None, adapt: AdaptConfig | None = None,
                overwrite: bool = False, show_progress: bool = False,
                cache: EmbeddingCache | None = None) -> AdaptResult:
    """Adapt ``train.model`` to the unlabelled corpus ``docs`` and save it in ``out``.

    ``mine.method`` and ``mine.num_negatives`` choose the hard negatives (``adapt.mine`` False:
    in-batch negatives only). With ``adapt.teacher`` (or ``adapt.cross_encoder``; by default
    ``hybrid``, BM25 fused with the model itself) the pairs get GPL pseudo-labels: training learns
    the teacher's (positive - negative) margins, so a generated query whose "negative" is in fact
    relevant teaches a small margin instead of a wrong hard one; with ``adapt.loss`` margin_kl (the
    default for teachers other than cross-encoders) also the teacher's ranking of every document in
    each batch (``embedtune.training.listwise``). The report is also written to
    ``out/embedtune_adapt.json``.
    """
    generate, mine = generate or GenerateConfig(max_pairs=ADAPT_MAX_PAIRS), mine or MineConfig(**ADAPT_MINE)
    train, adapt = train or TrainConfig(epochs=ADAPT_EPOCHS), adapt or AdaptConfig()
    if adapt.pseudo_label_teacher is not None:
        train = pseudo_label_config(train, adapt.pseudo_label_teacher, adapt.loss)
    out, work = Path(out), work_dir_for(out)
    if not generate.dedupe:  # mined rows find their generated positive by query text
        raise ConfigError("adapt needs dedupe on: a repeated query would also be a false in-batch negative")
    _check_out(out, overwrite)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    passages = read_passages(docs, chunk_size=generate.chunk_size, chunk_overlap=generate.chunk_overlap)
    generated = generate_pairs(passages, generate, out=work / "generated.jsonl", overwrite=True,
                               show_progress=show_progress)
    if generated.stopped:
        raise GenerationError(f"generation stopped early ({generated.stopped})")
    seconds["generate"], clock = time.perf_counter() - clock, time.perf_counter()

    heldout_groups = heldout_groups_of(passages, adapt.heldout_fraction, adapt.seed)
    group_of = {p.doc_id: p.group for p in passages}
    train_pairs = [p for p in generated.pairs if group_of[p.doc_id] not in heldout_groups]
    heldout_pairs = [p for p in generated.pairs if group_of[p.doc_id] in heldout_groups]
    if len(train_pairs) < train.batch_size or not heldout_pairs:
        raise GenerationError(f"{len(train_pairs)} training and {len(heldout_pairs)} held-out pairs after the split "
                              f"by document; adapt needs at least batch_size={train.batch_size} and 1: give a "
                              "larger corpus or change heldout_fraction")
    train_passages = [p for p in passages if p.group not in heldout_groups]
    heldout = heldout_set(heldout_pairs, passages, heldout_groups, adapt, source=str(docs))

    mining = None
    if adapt.mine:
        rows, mining = _mine(train_pairs, train_passages, mine, cache, show_progress)
    else:
        rows = TrainingPairs([p.query for p in train_pairs], [p.positive for p in train_pairs], source="generated")
    _save_rows(work / "train_rows.jsonl", rows)
    write_text_atomic(work / "heldout_pairs.jsonl",  # those the held-out queries are sampled from
                      "".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in heldout_pairs))
    seconds["mine"], clock = time.perf_counter() - clock, time.perf_counter()

    before = _score(train.model, train.max_seq_length, heldout, cache, show_progress, "base")
    from embedtune.training import train_model

    trained = train_model(rows, out, train, overwrite=overwrite, show_progress=show_progress, cache=cache)
    seconds["train"], clock = time.perf_counter() - clock, time.perf_counter()
    after = _score(str(out), None, heldout, cache, show_progress, "adapted")
    seconds["evaluate"] = time.perf_counter() - clock

    result = AdaptResult(
        model_dir=str(out), work_dir=str(work), generation=generated.summary(),
        split={"train_documents": len(train_passages), "heldout_documents": len(passages) - len(train_passages),
               "train_pairs": len(train_pairs), "heldout_queries": len(heldout.queries)},
        mining=mining, train={k: trained.to_dict()[k] for k in ("num_train_pairs", "train_seconds", "best_step",
                                                                  "dev_history", "precision")},
        heldout={"queries": len(heldout.queries), "documents": len(heldout.corpus), "before": before, "after": after},
        guard=trained.guard, stage_seconds={k: round(v, 1) for k, v in seconds.items()},
        config={"generate": generate.to_dict(), "mine": mine.to_dict() if adapt.mine else None,
                "train": train.to_dict(), "adapt": adapt.to_dict(), "docs": str(docs)},
    )
    result.save(out / REPORT_FILE)
    return result


def pseudo_label_config(train: TrainConfig, teacher: str, loss: str | None = None) -> TrainConfig:
    """``train`` switched to distilling ``teacher``'s pseudo-labels; the teacher is found (or a
    missing local path reported) now, before minutes of generation and mining.

    ``loss`` (or ``train.loss`` when it already names one) is margin_kl or margin_mse; unset,
    margin_kl for a bi-encoder or hybrid teacher and margin_mse for a cross-encoder, which cannot
    score a whole batch ahead of training. On SciFact train queries (a dev set; adapt saw no
    labels) margin_kl with three BM25 negatives gained +0.0113 nDCG@10 where MarginMSE with one
    gained +0.0079 (one run each)."""
    import dataclasses

    from embedtune.generate.config import PSEUDO_LABEL_LOSSES
    from embedtune.training.distill import check_listwise_teacher, teacher_kind

    if train.loss not in ("mnrl", *PSEUDO_LABEL_LOSSES):
        raise ConfigError(f"teacher: GPL pseudo-labels train with loss {' or '.join(PSEUDO_LABEL_LOSSES)}, "
                          f"not {train.loss}")
    kind = teacher_kind(teacher, train.teacher_kind)  # resolves a local model: a missing folder fails here
    if kind == "hybrid":
        from embedtune.training.hybrid_teacher import hybrid_dense_model

        hybrid_dense_model(teacher, train.model)  # "hybrid:" with no model fails here too
    chosen = loss or (train.loss if train.loss != "mnrl" else None)
    if chosen is None:
        chosen = "margin_mse" if kind == "cross-encoder" else "margin_kl"
    if chosen == "margin_kl":
        check_listwise_teacher(teacher, kind)
    return dataclasses.replace(train, loss=chosen, teacher=teacher)


def _check_out(out: Path, overwrite: bool) -> None:
    """Fail before generating, not after: a finished model in ``out`` needs ``overwrite``, and
    ``overwrite`` may only clear a folder holding nothing but embedtune's files."""
    from embedtune._owned import check_clearable, is_empty
    from embedtune.training.output_dir import RESULT_FILE

    if out.exists() and not out.is_dir():
        raise OutputExistsError(f'output "{out}" is a file; give a folder path')
    if overwrite and out.is_dir() and not is_empty(out):
        check_clearable(out)
    if not overwrite and (out / RESULT_FILE).is_file():
        raise OutputExistsError(f'"{out}" already holds a finished model; pass --overwrite to replace it '
                                "or choose another --out")
    check_writable(out)  # and its work folder beside it


def heldout_groups_of(passages: list[Passage], fraction: float, seed: int) -> set[str]:
    """Whole documents (groups of passages) holding about ``fraction`` of the passages; never all of them."""
    groups = sorted({p.group for p in passages})
    random.Random(seed).shuffle(groups)
    sizes: dict[str, int] = {}
    for p in passages:
        sizes[p.group] = sizes.get(p.group, 0) + 1
    target = max(1, round(fraction * len(passages)))
    chosen: set[str] = set()
    count = 0
    for group in groups[:-1]:  # one group always trains
        if count >= target:
            break
        chosen.add(group)
        count += sizes[group]
    return chosen


def heldout_set(pairs: list[GeneratedPair], passages: list[Passage], heldout_groups: set[str],
                config: AdaptConfig, source: str) -> RetrievalSet:
    """Held-out generated queries against their own positives and the other documents.

    Each query's positive goes into the corpus as the query saw it (for ICT: the passage without
    the sentence), in place of its document's full text; every positive of the same document is
    relevant, so an ICT query is not penalised for finding its document's title pair. Documents
    are sampled down to ``config.eval_corpus_size`` (all judged ones kept).
    """
    from embedtune.evaluation.evaluate import sample_corpus

    rng = random.Random(config.seed)
    chosen = sorted(rng.sample(range(len(pairs)), min(config.max_heldout_queries, len(pairs))))
    corpus = {p.doc_id: p.full_text for p in passages if p.group not in heldout_groups}
    entries: dict[tuple[str, str], str] = {}
    by_doc: dict[str, list[str]] = {}
    for i in chosen:
        pair = pairs[i]
        key = (pair.doc_id, pair.positive)
        if key not in entries:
            entries[key] = f"heldout-{len(entries)}"
            corpus[entries[key]] = pair.positive
            by_doc.setdefault(pair.doc_id, []).append(entries[key])
    queries = {f"q{i}": pairs[i].query for i in chosen}
    qrels = {f"q{i}": {entry: 1 for entry in by_doc[pairs[i].doc_id]} for i in chosen}
    data = RetrievalSet(corpus=corpus, queries=queries, qrels=qrels, source=f"{source} (generated, held out)",
                        split="heldout")
    return sample_corpus(data, config.eval_corpus_size, config.seed)


def _mine(pairs: list[GeneratedPair], passages: list[Passage], config: MineConfig, cache: EmbeddingCache | None,
          show_progress: bool) -> tuple[TrainingPairs, dict[str, Any]]:
    """Negatives from the training documents; each row keeps its generated positive (for ICT, the
    passage without the sentence), since mining sees documents whole."""
    from embedtune.mining import mine_hard_negatives

    positive_of = {p.query: p.positive for p in pairs}  # queries are unique after dedupe
    data = RetrievalSet(corpus={p.doc_id: p.full_text for p in passages},
                        queries={f"q{i}": p.query for i, p in enumerate(pairs)},
                        qrels={f"q{i}": {p.doc_id: 1} for i, p in enumerate(pairs)}, source="generated",
                        split="train")
    mined = mine_hard_negatives(data, config, cache=cache, show_progress=show_progress)
    rows = TrainingPairs(queries=[r.query for r in mined.rows], positives=[positive_of[r.query] for r in mined.rows],
                         negatives=[r.negatives for r in mined.rows], source="generated + mined")
    return rows, mined.summary()


def _save_rows(path: Path, rows: TrainingPairs) -> None:
    """The rows training saw, for inspection (and ``embedtune train --data`` reruns)."""
    lines = []
    for i, (query, positive) in enumerate(zip(rows.queries, rows.positives)):
        row = {"query": query, "positive": positive, **({"negatives": rows.negatives[i]} if rows.negatives else {})}
        lines.append(json.dumps(row, ensure_ascii=False) + "\n")
    write_text_atomic(path, "".join(lines))


def _score(model_name: str | None, max_seq_length: int | None, data: RetrievalSet, cache: EmbeddingCache | None,
           show_progress: bool, label: str) -> dict[str, float]:
    from embedtune.evaluation.evaluate import evaluate_model
    from embedtune.models import load_model

    logger.info("scoring the %s model on %d held-out generated queries", label, len(data.queries))
    model = load_model(model_name, max_seq_length=max_seq_length)
    return evaluate_model(model, data, cache=cache, show_progress=show_progress).metrics
