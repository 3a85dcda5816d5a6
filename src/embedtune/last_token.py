"""Last-token pooling wants the text to end in the end-of-sequence token.

Decoder embedding models (Qwen3-Embedding, models trained from a decoder LLM) pool the hidden
state of the final token; that token has attended to the whole text only in a causal model, and
their recipes end every input with EOS so the pooled state is always "the end of a text". Newer
tokenizers append it themselves (Qwen3-Embedding's does); a decoder LLM's own tokenizer does not,
and then the pooled token is whatever word came last. Before training such a model, embedtune
makes its tokenizer append EOS. The tokenizer is saved with the model, so plain
sentence-transformers, our encoders and every export then tokenise alike.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)


def pooling_modes(model: SentenceTransformer) -> tuple[str, ...]:
    """The pooling modes of the model's Pooling module (empty when it has none after the transformer)."""
    modules = list(model)
    mode = modules[1].get_config_dict().get("pooling_mode") if len(modules) > 1 and hasattr(
        modules[1], "get_config_dict") else None
    if mode is None:
        return ()
    return (mode,) if isinstance(mode, str) else tuple(mode)


def ends_with_eos(model: SentenceTransformer) -> bool:
    """Whether the model's tokenizer ends a text with its EOS token."""
    features = model.preprocess(["probe"])
    real = features["input_ids"][0][features["attention_mask"][0].bool()]
    return len(real) > 0 and int(real[-1]) == model.tokenizer.eos_token_id


def append_eos_for_last_token(model: SentenceTransformer) -> bool:
    """Make a last-token-pooling model's tokenizer append EOS if it does not already; True if changed."""
    tokenizer = model.tokenizer
    eos, eos_id = getattr(tokenizer, "eos_token", None), getattr(tokenizer, "eos_token_id", None)
    if "lasttoken" not in pooling_modes(model) or eos is None or eos_id is None or ends_with_eos(model):
        return False
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        logger.warning("last-token pooling without EOS: this tokenizer (%s) cannot be told to append %s",
                       type(tokenizer).__name__, eos)
        return False
    existing = backend.post_processor
    backend.post_processor = _with_eos(backend, eos, eos_id)
    if not ends_with_eos(model) or not _reloads_with_eos(tokenizer):
        backend.post_processor = existing
        logger.warning("last-token pooling without EOS: %s rebuilds its template on load, so %s is not "
                       "appended (the saved model must tokenise as it was trained)", type(tokenizer).__name__, eos)
        return False
    logger.info("last-token pooling: the tokenizer now ends every text with %s (saved with the model)", eos)
    return True


def _reloads_with_eos(tokenizer: object) -> bool:
    """Whether the tokenizer, saved and loaded again as sentence-transformers will, still appends EOS
    (some tokenizer classes rebuild their template from their own settings on load)."""
    import tempfile

    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory(prefix="embedtune-tokenizer-") as folder:
        tokenizer.save_pretrained(folder)
        reloaded = AutoTokenizer.from_pretrained(folder)
    ids = reloaded("probe")["input_ids"]
    return bool(ids) and ids[-1] == reloaded.eos_token_id


def _with_eos(backend: object, eos: str, eos_id: int) -> object:
    """The tokenizer's post-processor with ``eos`` appended after each sequence.

    A template (``[CLS] $A [SEP]``, ``<s> $A``) gets the token at its end; a tokenizer with no
    template (none, or byte-level offset trimming only) gets ``$A eos``. Templates do not compose
    in a ``processors.Sequence`` (tokenizers 0.22 panics), so the template is rebuilt.
    """
    import json

    from tokenizers import processors

    spec = json.loads(backend.to_str()).get("post_processor") or {}
    special = [(eos, eos_id)]
    if spec.get("type") != "TemplateProcessing":
        return processors.TemplateProcessing(single=f"$A:0 {eos}:0", pair=f"$A:0 {eos}:0 $B:1 {eos}:1",
                                             special_tokens=special)

    def piece(item: dict) -> str:
        if "Sequence" in item:
            return f"${item['Sequence']['id']}:{item['Sequence']['type_id']}"
        return f"{item['SpecialToken']['id']}:{item['SpecialToken']['type_id']}"

    def appended(template: list[dict]) -> str:
        """EOS after the last piece of each segment (type id): ``[CLS] $A [SEP]`` -> ``[CLS] $A [SEP] eos``."""
        out = []
        for position, item in enumerate(template):
            out.append(piece(item))
            following = template[position + 1] if position + 1 < len(template) else None
            if following is None or _type_id(following) != _type_id(item):
                out.append(f"{eos}:{_type_id(item)}")
        return " ".join(out)

    for token in spec.get("special_tokens", {}).values():
        special.append((token["tokens"][0], token["ids"][0]))
    return processors.TemplateProcessing(single=appended(spec["single"]), pair=appended(spec["pair"]),
                                         special_tokens=special)


def _type_id(item: dict) -> int:
    return next(iter(item.values()))["type_id"]
