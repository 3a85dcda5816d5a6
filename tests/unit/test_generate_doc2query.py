"""doc2query through a tiny randomly initialised T5 saved locally: no doc2query weights install offline,
so this checks the code path (loading, sampling, progress, resume), not the queries' quality."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedtune.errors import ModelNotFoundError
from embedtune.generate import GenerateConfig, Passage, generate_pairs
from embedtune.generate.pipeline import progress_path

PASSAGES = [Passage(f"d{i}", f"passage {i} about cells proteins and genes in mice and men", "") for i in range(5)]


@pytest.fixture(scope="module")
def tiny_t5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration

    from embedtune.models import resolve_model

    folder = tmp_path_factory.mktemp("tiny-t5")
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(None))  # any tokenizer will do for a random model
    config = T5Config(vocab_size=tokenizer.vocab_size, d_model=16, d_ff=32, d_kv=8, num_layers=1, num_heads=2,
                      decoder_start_token_id=tokenizer.pad_token_id, pad_token_id=tokenizer.pad_token_id,
                      eos_token_id=tokenizer.sep_token_id)
    T5ForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_doc2query_samples_queries_per_passage_and_resumes(tiny_t5: Path, tmp_path: Path, monkeypatch) -> None:
    from embedtune.generate import doc2query

    monkeypatch.setattr(doc2query, "MAX_QUERY_TOKENS", 8)  # a random model never stops early; keep it short
    out = tmp_path / "pairs.jsonl"
    config = GenerateConfig(method="doc2query", doc2query_model=str(tiny_t5), queries_per_doc=2, batch_size=2,
                            round_trip="none", min_query_words=1, min_passage_words=1, dedupe=False)
    result = generate_pairs(PASSAGES, config, out=out)
    done = [json.loads(line) for line in progress_path(out).read_text().splitlines()[1:]]
    assert [d["doc_id"] for d in done] == [p.doc_id for p in PASSAGES]
    assert all(len(d["queries"]) <= 2 for d in done)
    assert result.generated == sum(len(d["queries"]) for d in done) and not result.stopped
    assert {p.method for p in result.pairs} <= {"doc2query"}
    again = generate_pairs(PASSAGES, config, out=out)  # everything done: nothing generated anew
    assert again.generated == result.generated
    assert progress_path(out).read_text().count("\n") == len(PASSAGES) + 1


def test_a_missing_doc2query_model_is_one_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = GenerateConfig(method="doc2query", doc2query_model="doc2query/msmarco-t5-base-v1")
    with pytest.raises(ModelNotFoundError, match='^cannot load doc2query model "doc2query/msmarco-t5-base-v1": it is '
                                                 "neither a local seq2seq model folder nor reachable on the Hugging "
                                                 "Face Hub"):
        generate_pairs(PASSAGES, config, out=tmp_path / "pairs.jsonl")
