"""``pretrain_model``: domain-adaptive pre-training on a raw corpus, before contrastive training.

Two unsupervised objectives, each needing only the domain's text:

- ``tsdae`` (Wang et al., 2021): about 60% of the words of each sentence are deleted, the
  damaged sentence is embedded, and a decoder must rebuild the original sentence from that one
  vector. The decoder is a copy of the encoder's own architecture, built from its config and
  loaded from the same local folder (so it works offline), with cross-attention to the sentence
  embedding and its weights tied to the encoder's. The paper pools with CLS; we keep the model's
  own pooling (mean, then normalize, for MiniLM), because ``embedtune train`` and every user of
  the saved model embed with that pooling: switching to CLS for pre-training would hand the
  contrastive stage an embedding its pooling layer was never trained to produce.
- ``mlm``: masked-language modelling on the model's transformer (BERT's 15% masking), through an
  ``AutoModelForMaskedLM`` head that shares the transformer's weights. Only the transformer
  learns; the pooling and normalize modules are kept unchanged in the saved folder.

The output is a standard sentence-transformers folder that ``embedtune train --model DIR``
fine-tunes; ``embedtune_pretrain.json`` and the model card in it record how it was made.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedtune import __version__
from embedtune._io import write_text_atomic
from embedtune._writable import check_writable
from embedtune.config import PretrainConfig
from embedtune.data.corpus import load_documents
from embedtune.errors import DataError, ModelNotFoundError
from embedtune.models import display_name, load_model, resolve_model
from embedtune.sentences import split_sentences
from embedtune.training.output_dir import CHECKPOINTS, finish, open_output_dir, precheck_output_dir, publish_model

logger = logging.getLogger(__name__)

RESULT_FILE = "embedtune_pretrain.json"  # written last, kept in the model folder: how the model was pretrained
DECODER_FILE = "tsdae_decoder.pt"  # the decoder-only TSDAE weights, saved in each checkpoint for resuming


@dataclass
class PretrainResult:
    """What a pre-training run used and produced."""

    model_dir: str
    method: str
    corpus: str
    base_model: str
    config: dict[str, Any]
    num_documents: int
    num_texts: int
    skipped_short: int
    num_steps: int
    train_seconds: float
    precision: str
    loss_history: list[dict[str, float]] = field(default_factory=list)
    resumed_from: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"embedtune_version": __version__, "pretrained": True, **self.__dict__}

    def to_table(self) -> str:
        losses = [e["loss"] for e in self.loss_history]
        rows = [("method", self.method), ("corpus", self.corpus), ("documents", str(self.num_documents)),
                ("training texts", str(self.num_texts)),
                (f"skipped (< {self.config['min_words']} words)", str(self.skipped_short)),
                ("optimiser steps", str(self.num_steps)),
                ("loss (first -> last log)", f"{losses[0]:.3f} -> {losses[-1]:.3f}" if losses else "not logged"),
                ("precision", self.precision), ("time", f"{self.train_seconds:.0f}s")]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def pretrain_model(corpus: str | Path, out: str | Path, config: PretrainConfig | None = None, *,
                   overwrite: bool = False, show_progress: bool = True) -> PretrainResult:
    """Adapt ``config.model`` to the text of ``corpus`` (TSDAE or MLM) and save it in ``out``.

    Rerunning the same call after an interruption resumes from the last checkpoint in ``out``.
    """
    config = config or PretrainConfig()
    out = Path(out)
    precheck_output_dir(out, overwrite=overwrite)
    check_writable(out)
    documents = load_documents(corpus, config.max_docs)
    from transformers import set_seed  # seconds of import: after the cheap checks

    set_seed(config.seed)
    model = load_model(config.model, max_seq_length=config.max_seq_length)
    max_tokens = model.max_seq_length - 2  # room for [CLS] and [SEP]
    texts, skipped = corpus_texts(documents, model.tokenizer, max_tokens, pack=config.method == "mlm",
                                  min_words=config.min_words)
    if len(texts) < 2:
        raise DataError(corpus, f"only {len(texts)} usable texts after splitting {len(documents)} documents into "
                                f"sentences of at least {config.min_words} words; give a larger corpus")
    logger.info("%s pre-training on %d texts from %d documents (%d short sentences skipped)",
                config.method, len(texts), len(documents), skipped)
    settings = {**config.to_dict(), "corpus": str(corpus)}
    resume = open_output_dir(out, settings, overwrite=overwrite, result_file=RESULT_FILE,
                             command="embedtune pretrain")

    from embedtune.inference.precision import resolve_precision

    precision = resolve_precision(config.precision, model.device.type)
    train = _train_tsdae if config.method == "tsdae" else _train_mlm
    start = time.perf_counter()
    state = train(model, texts, config, out / CHECKPOINTS, resume, show_progress, precision)
    train_seconds = time.perf_counter() - start
    publish_model(model, out)
    result = PretrainResult(
        model_dir=str(out), method=config.method, corpus=str(corpus), base_model=display_name(config.model),
        config=config.to_dict(), num_documents=len(documents), num_texts=len(texts), skipped_short=skipped,
        num_steps=state.global_step, train_seconds=round(train_seconds, 2), precision=precision,
        loss_history=[{"step": e["step"], "loss": e["loss"]} for e in state.log_history if "loss" in e],
        resumed_from=resume.name if resume else None)
    write_text_atomic(out / "README.md", render_pretrain_card(result, base_path=resolve_model(config.model)))
    finish(out, result.to_dict(), RESULT_FILE)
    return result


def corpus_texts(documents: list[str], tokenizer: Any, max_tokens: int, *, pack: bool,
                 min_words: int) -> tuple[list[str], int]:
    """Split documents into sentences of at most ``max_tokens`` tokens (longer ones are cut).

    With ``pack`` (MLM, which learns from context) consecutive sentences of a document are
    joined into chunks of up to ``max_tokens`` tokens; otherwise (TSDAE, a sentence objective)
    each sentence is a text and those under ``min_words`` words are skipped. Returns the texts
    and how many sentences were skipped.
    """
    sentences = [split_sentences(doc) for doc in documents]
    flat = [s for doc in sentences for s in doc]
    offsets = iter(tokenizer(flat, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"])
    texts: list[str] = []
    skipped = 0
    for doc in sentences:
        pieces = [piece for sentence in doc for piece in _cut(sentence, next(offsets), max_tokens)]
        if pack:
            texts.extend(_pack(pieces, max_tokens))
            continue
        for text, _ in pieces:
            if len(text.split()) < min_words:
                skipped += 1
            else:
                texts.append(text)
    return texts, skipped


def _cut(sentence: str, offsets: list[tuple[int, int]], max_tokens: int) -> Iterator[tuple[str, int]]:
    """(text, token count) windows of at most ``max_tokens`` tokens, cut between words where possible."""
    if len(offsets) <= max_tokens:
        if offsets:  # a sentence the tokenizer drops entirely (only control characters) gives nothing
            yield sentence, len(offsets)
        return
    start = 0
    while start < len(offsets):
        end = min(start + max_tokens, len(offsets))
        # Step back over word pieces ("##12") glued to the token before, so no word is split in two.
        while end < len(offsets) and end - 1 > start and offsets[end][0] == offsets[end - 1][1]:
            end -= 1
        if end < len(offsets) and offsets[end][0] == offsets[end - 1][1]:
            end = min(start + max_tokens, len(offsets))  # one word longer than the window: cut inside it
        yield sentence[offsets[start][0]:offsets[end - 1][1]], end - start
        start = end


def _pack(pieces: list[tuple[str, int]], max_tokens: int) -> list[str]:
    chunks: list[str] = []
    current: list[str] = []
    length = 0
    for text, count in pieces:
        if current and length + count > max_tokens:
            chunks.append(" ".join(current))
            current, length = [], 0
        current.append(text)
        length += count
    if current:
        chunks.append(" ".join(current))
    return chunks


def delete_words(text: str, ratio: float, rng: random.Random) -> str:
    """TSDAE's noise: drop each whitespace-separated word with probability ``ratio``, keeping at least one.

    Words are split on whitespace rather than with nltk's tokenizer (which needs downloaded
    data); punctuation stays attached to its word, which the paper's deletion noise does not
    depend on.
    """
    words = text.split()
    kept = [w for w in words if rng.random() >= ratio]
    return " ".join(kept) if kept else rng.choice(words)


def _training_arguments(config: PretrainConfig, checkpoints: Path, show_progress: bool, precision: str,
                        cuda: bool, num_texts: int) -> dict[str, Any]:
    """The Hugging Face training arguments both objectives share."""
    steps = config.max_steps or max(1, int(num_texts / config.batch_size * config.epochs))
    return {
        "output_dir": str(checkpoints), "num_train_epochs": config.epochs, "max_steps": config.max_steps or -1,
        "per_device_train_batch_size": config.batch_size, "learning_rate": config.resolved_learning_rate,
        "weight_decay": 0.0, "seed": config.seed, "data_seed": config.seed,
        "save_strategy": "steps", "save_steps": config.save_steps, "save_total_limit": 1,
        "logging_steps": max(1, min(50, steps // 20)), "report_to": [], "disable_tqdm": not show_progress,
        "use_cpu": not cuda, "bf16": precision == "bf16", "fp16": precision == "fp16", "dataloader_pin_memory": cuda,
    }


def _train_tsdae(model: Any, texts: list[str], config: PretrainConfig, checkpoints: Path, resume: Path | None,
                 show_progress: bool, precision: str) -> Any:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import DenoisingAutoEncoderLoss
    from transformers.trainer_callback import PrinterCallback
    from transformers.utils import logging as hf_logging

    from embedtune.training.checkpointing import CheckpointCallback, run_training
    from embedtune.training.progress_log import progress_callbacks

    rng = random.Random(config.seed)
    # One fixed damaged copy per sentence, so a resumed run sees the same data as an uninterrupted one.
    noisy = [delete_words(t, config.deletion_ratio, rng) for t in texts]
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the decoder's "newly initialised cross-attention" report is expected
    try:
        loss = DenoisingAutoEncoderLoss(model, tie_encoder_decoder=True)
    except (OSError, ValueError) as exc:  # the decoder is read from the encoder's own files
        source = model.transformers_model.config.name_or_path
        raise ModelNotFoundError(f'cannot build the TSDAE decoder from "{source}": {str(exc).splitlines()[0]} '
                                 "(it needs the model's files locally and a BERT-like architecture with a "
                                 "causal-LM head; --method mlm works for more models)") from None
    finally:
        hf_logging.set_verbosity(verbosity)
    decoder_only = _decoder_only_parameters(loss.decoder, model)
    if resume is not None:
        _load_decoder(decoder_only, resume)
    args = SentenceTransformerTrainingArguments(
        **_training_arguments(config, checkpoints, show_progress, precision, model.device.type == "cuda", len(texts)),
        lr_scheduler_type="constant")  # as the paper and sentence-transformers' TSDAE example
    trainer = SentenceTransformerTrainer(model=model, args=args, loss=loss,
                                         train_dataset=Dataset.from_dict({"noisy": noisy, "text": texts}),
                                         callbacks=[_decoder_saver(decoder_only), *progress_callbacks(show_progress),
                                                    CheckpointCallback(config.save_every_minutes)])
    trainer.remove_callback(PrinterCallback)  # stdout belongs to results (--json)
    run_training(trainer, resume)
    return trainer.state


def _decoder_only_parameters(decoder: Any, model: Any) -> dict[str, Any]:
    """The decoder's own weights (cross-attention, LM head): the rest is the encoder's, tied.

    A sentence-transformers checkpoint saves only the encoder, so these are saved beside it;
    without them a resumed run would restart the decoder from random weights.
    """
    shared = {id(p) for p in model.parameters()}
    return {n: p for n, p in decoder.named_parameters() if id(p) not in shared}


def _decoder_saver(parameters: dict[str, Any]) -> Any:
    """A trainer callback that writes the decoder-only weights into each checkpoint folder."""
    import torch
    from transformers import TrainerCallback

    class SaveDecoder(TrainerCallback):
        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                torch.save({n: p.detach().cpu() for n, p in parameters.items()}, folder / DECODER_FILE)

    return SaveDecoder()


def _load_decoder(parameters: dict[str, Any], checkpoint: Path) -> None:
    import torch

    path = checkpoint / DECODER_FILE
    if not path.is_file():
        logger.warning("%s has no %s: the TSDAE decoder restarts from its initial weights", checkpoint, DECODER_FILE)
        return
    saved = torch.load(path, map_location="cpu", weights_only=True)
    with torch.no_grad():
        for name, param in parameters.items():
            param.copy_(saved[name])


def _train_mlm(model: Any, texts: list[str], config: PretrainConfig, checkpoints: Path, resume: Path | None,
               show_progress: bool, precision: str) -> Any:
    from datasets import Dataset
    from transformers import AutoModelForMaskedLM, DataCollatorForLanguageModeling, Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    from embedtune.training.checkpointing import CheckpointCallback, run_training
    from embedtune.training.progress_log import progress_callbacks

    encoder = model.transformers_model
    mlm = AutoModelForMaskedLM.from_config(encoder.config)
    # The head works on the sentence-transformers model's own transformer: training it trains the
    # saved model, and the Pooling/Normalize modules around it stay as they are.
    setattr(mlm, mlm.base_model_prefix, encoder)
    mlm.tie_weights()
    mlm.to(model.device)
    tokenizer = model.tokenizer
    features = tokenizer(texts, truncation=True, max_length=model.max_seq_length)
    dataset = Dataset.from_dict({"input_ids": features["input_ids"], "attention_mask": features["attention_mask"]})
    args = TrainingArguments(
        **_training_arguments(config, checkpoints, show_progress, precision, model.device.type == "cuda", len(texts)),
        lr_scheduler_type="linear", warmup_steps=0.1)
    trainer = Trainer(model=mlm, args=args, train_dataset=dataset,
                      data_collator=DataCollatorForLanguageModeling(tokenizer, mlm_probability=config.mlm_probability),
                      callbacks=[*progress_callbacks(show_progress), CheckpointCallback(config.save_every_minutes)])
    trainer.remove_callback(PrinterCallback)
    run_training(trainer, resume)
    return trainer.state


def render_pretrain_card(result: PretrainResult, *, base_path: str) -> str:
    """The model card: what the model is (not yet contrastively trained) and how it was made.

    ``base_path`` only names the package that installed the base weights; no path of this machine
    is written (see ``model_card.portable``).
    """
    from embedtune.training.model_card import base_model_line, model_name, portable

    config = result.config
    base_model = model_name(result.base_model)
    objective = {"tsdae": "TSDAE (denoising auto-encoder: rebuild each sentence from the embedding of a copy "
                          f"with {config['deletion_ratio']:.0%} of its words deleted)",
                 "mlm": f"masked-language modelling ({config['mlm_probability']:.0%} of tokens masked)"}
    return "\n".join([
        "---", "library_name: sentence-transformers", f"base_model: {base_model}",
        "pipeline_tag: sentence-similarity", "tags: [sentence-transformers, feature-extraction, embedtune, "
        f"domain-adaptive-pretraining, {result.method}]", "---", "",
        f"# {base_model}, domain-adapted with {result.method.upper()}", "",
        f"Made with embedtune {__version__} `pretrain`: {objective[result.method]} on `{portable(result.corpus)}` "
        f"({result.num_documents} documents, {result.num_texts} training texts, {result.num_steps} steps).", "",
        "This is an intermediate model: it has seen the domain's text but no queries. Fine-tune it with",
        f"`embedtune train --model {portable(result.model_dir)} --data ...` before using it for retrieval.", "",
        base_model_line(result.base_model, base_path), "", "## Settings", "", "| setting | value |", "|---|---|",
        *[f"| {k} | {portable(str(v))} |" for k, v in config.items() if k != "model"], "",
        f"Pre-training took {result.train_seconds:.0f} s ({result.precision}).", ""])
