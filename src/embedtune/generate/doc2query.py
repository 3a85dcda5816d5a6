"""Queries from a doc2query-style seq2seq model (e.g. doc2query/msmarco-t5-base-v1), sampled.

No such weights install offline; the model is loaded only when named, and a name that cannot be
loaded is a one-line error.
"""
from __future__ import annotations

import logging

from embedtune.errors import ModelNotFoundError
from embedtune.generate.config import GenerateConfig
from embedtune.generate.corpus import Passage
from embedtune.generate.progress import ProgressFile
from embedtune.progress import track

logger = logging.getLogger(__name__)

MAX_INPUT_TOKENS = 384
MAX_QUERY_TOKENS = 64


def load_doc2query(name: str):  # noqa: ANN201 - (tokenizer, model) from transformers
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        model = AutoModelForSeq2SeqLM.from_pretrained(name)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelNotFoundError(f'cannot load doc2query model "{name}": it is neither a local seq2seq model folder '
                                 f"nor reachable on the Hugging Face Hub ({first})") from None
    model.eval()
    return tokenizer, model


def generate_doc2query_queries(passages: list[Passage], config: GenerateConfig, progress: ProgressFile, *,
                               show_progress: bool = False) -> dict[str, list[str]]:
    """``config.queries_per_doc`` sampled queries per passage not already in ``progress``."""
    import torch

    tokenizer, model = load_doc2query(config.doc2query_model)
    torch.manual_seed(config.seed)
    todo = [p for p in passages if p.doc_id not in progress.done]
    try:
        for start in track(range(0, len(todo), config.batch_size), "doc2query", "batch",
                           show_bar=show_progress, logger=logger):
            batch = todo[start:start + config.batch_size]
            inputs = tokenizer([p.full_text for p in batch], max_length=MAX_INPUT_TOKENS, truncation=True,
                               padding=True, return_tensors="pt")
            with torch.inference_mode():
                # only ids and mask: some tokenizers add token_type_ids, which seq2seq models refuse
                outputs = model.generate(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                                         max_length=MAX_QUERY_TOKENS, do_sample=True, top_p=0.95, top_k=10,
                                         num_return_sequences=config.queries_per_doc)
            texts = tokenizer.batch_decode(outputs, skip_special_tokens=True)
            for i, passage in enumerate(batch):
                own = texts[i * config.queries_per_doc:(i + 1) * config.queries_per_doc]
                progress.record(passage.doc_id, [t.strip() for t in own if t.strip()])
    finally:
        progress.close()
    return progress.done
