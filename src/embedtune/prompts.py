"""Query and document prompts: the text some models expect before a query ("query: ") or a document.

sentence-transformers keeps them in ``model.prompts`` (saved in ``config_sentence_transformers.json``)
and ``encode_query`` / ``encode_document`` pick them by name. embedtune's own encoders, training
and the saved model all go through :func:`role_prompt`, so a text gets the same prompt wherever it
is encoded.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

Role = Literal["query", "document"]

# The names encode_query / encode_document look up, in sentence-transformers' order (6.2).
ROLE_PROMPT_NAMES: dict[str, tuple[str, ...]] = {"query": ("query",), "document": ("document", "passage", "corpus")}


def role_prompt(model: SentenceTransformer, role: Role) -> str | None:
    """The prompt ``model.encode_query`` (role "query") or ``model.encode_document`` would prepend.

    The first name present in ``model.prompts`` wins, even when its prompt is empty; only when
    none is present does ``default_prompt_name`` apply, as in sentence-transformers.
    """
    prompts = getattr(model, "prompts", None) or {}
    for name in ROLE_PROMPT_NAMES[role]:
        if name in prompts:
            return prompts[name] or None
    default = getattr(model, "default_prompt_name", None)
    return (prompts.get(default) or None) if default else None


def set_prompts(model: SentenceTransformer, query_prompt: str | None, document_prompt: str | None) -> None:
    """Store the prompts in ``model`` (``None`` leaves the model's own; ``""`` means no prompt).

    They are saved with the model, so ``encode_query`` / ``encode_document`` apply them after loading.
    """
    if query_prompt is not None:
        model.prompts["query"] = query_prompt
    if document_prompt is not None:
        model.prompts["document"] = document_prompt  # looked up before "passage" and "corpus"


def copy_prompts(source: SentenceTransformer, target: SentenceTransformer) -> None:
    """Give ``target`` exactly ``source``'s prompts (a model reloaded from the same base, e.g. for merging)."""
    target.prompts = dict(source.prompts)
    target.default_prompt_name = source.default_prompt_name


def column_prompts(model: SentenceTransformer, columns: list[str]) -> dict[str, str]:
    """Training-column prompts for sentence-transformers' trainer: the anchor is a query, the rest documents
    (a distillation ``label`` column holds numbers, not texts)."""
    out = {}
    for position, column in enumerate(c for c in columns if c != "label"):
        prompt = role_prompt(model, "query" if position == 0 else "document")
        if prompt:
            out[column] = prompt
    return out
