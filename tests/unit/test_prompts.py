"""Query/document prompts: embedtune's encoders, cache and trainer apply exactly what sentence-transformers would."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embedtune.config import TrainConfig
from embedtune.data import RetrievalSet
from embedtune.data.types import TrainingPairs
from embedtune.evaluation import EmbeddingCache, evaluate_model
from embedtune.inference import FastEncoder
from embedtune.models import load_model
from embedtune.prompts import role_prompt, set_prompts

TEXTS = ["T cells fight infection.", "what do T cells do", "A randomized trial of aspirin in older adults."]


@pytest.fixture(scope="module")
def model():
    return load_model(None, max_seq_length=64)


@pytest.fixture()
def prompted(model, monkeypatch: pytest.MonkeyPatch):
    """Set the model's prompts (and default prompt name) for one test; restored afterwards."""
    def apply(prompts: dict[str, str], default: str | None = None):
        monkeypatch.setattr(model, "prompts", dict(prompts))
        monkeypatch.setattr(model, "default_prompt_name", default)
        return model
    return apply


# (prompts, default_prompt_name, the query prompt, the document prompt) as sentence-transformers 6.2 picks them
CASES = {
    "query and document": ({"query": "query: ", "document": "passage: "}, None, "query: ", "passage: "),
    "passage stands in for document": ({"query": "query: ", "passage": "passage: "}, None, "query: ", "passage: "),
    # how an e5-style saved config loads: the empty default "document" prompt hides "passage"
    "empty document hides passage": ({"query": "query: ", "document": "", "passage": "passage: "}, None,
                                     "query: ", None),
    "default applies when no role prompt exists": ({"retrieval": "search: "}, "retrieval", "search: ", "search: "),
    "an empty role prompt beats the default": ({"query": "", "document": "", "retrieval": "search: "}, "retrieval",
                                               None, None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_fast_encoder_applies_the_prompt_sentence_transformers_applies(prompted, case: str) -> None:
    prompts, default, query_prompt, document_prompt = CASES[case]
    model = prompted(prompts, default)
    assert (role_prompt(model, "query"), role_prompt(model, "document")) == (query_prompt, document_prompt)
    encoder = FastEncoder(model, "torch")
    for role, method, prompt in [("query", model.encode_query, query_prompt),
                                 ("document", model.encode_document, document_prompt)]:
        reference = method(TEXTS, convert_to_numpy=True)
        assert np.abs(encoder.encode(TEXTS, role) - reference).max() < 1e-5, role
        # and the prompt really is the text in front (MiniLM's mean pooling includes prompt tokens)
        by_hand = model.encode([(prompt or "") + t for t in TEXTS], prompt="", convert_to_numpy=True)
        assert np.abs(reference - by_hand).max() < 1e-5, role


def test_set_prompts_keeps_the_model_s_own_unless_told(prompted) -> None:
    model = prompted({"query": "query: ", "document": "passage: "})
    set_prompts(model, None, None)
    assert (role_prompt(model, "query"), role_prompt(model, "document")) == ("query: ", "passage: ")
    set_prompts(model, "Represent this question: ", "")
    assert (role_prompt(model, "query"), role_prompt(model, "document")) == ("Represent this question: ", None)


def test_documents_cached_without_a_prompt_are_not_served_with_one(prompted, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = {f"d{i}": text for i, text in enumerate(TEXTS * 4)}
    data = RetrievalSet(corpus=corpus, queries={"q1": "aspirin trial"}, qrels={"q1": {"d2": 1}})
    encoded: list[np.ndarray] = []
    original = FastEncoder.encode

    def recording(self, texts, role="document", **kwargs):
        out = original(self, texts, role, **kwargs)
        if role == "document":
            encoded.append(out)
        return out

    monkeypatch.setattr(FastEncoder, "encode", recording)
    cache = EmbeddingCache(tmp_path)
    evaluate_model(prompted({"query": "", "document": ""}), data, cache=cache)
    evaluate_model(prompted({"query": "", "document": "passage: "}), data, cache=cache)
    evaluate_model(prompted({"query": "", "document": "passage: "}), data, cache=cache)  # this one is cached
    assert len(encoded) == 2, "a new document prompt is a new cache entry; the same one is read back"
    assert np.abs(encoded[0] - encoded[1]).max() > 1e-3
    assert len(list(tmp_path.glob("documents-*.npy"))) == 2


def _trainer(model, tmp_path: Path):
    from embedtune.training.trainer_setup import build_trainer

    pairs = TrainingPairs(queries=[f"question {i}" for i in range(8)], positives=[f"answer {i}" for i in range(8)])
    dev = RetrievalSet(corpus={"d1": "answer 1", "d2": "answer 2"}, queries={"q1": "question 1"},
                       qrels={"q1": {"d1": 1}})
    trainer, _ = build_trainer(model, [pairs.to_columns()], len(pairs), [dev], TrainConfig(batch_size=4, max_seq_length=32),
                                tmp_path / "checkpoints", False, "fp32")
    return trainer


def test_training_batches_carry_the_prompts_the_saved_model_will_use(prompted, tmp_path: Path) -> None:
    model = prompted({"query": "query: ", "document": "passage: "})
    trainer = _trainer(model, tmp_path)
    assert trainer.args.prompts == {"anchor": "query: ", "positive": "passage: "}
    batch = trainer.data_collator([{"anchor": "question 1", "positive": "answer 1"}])
    expected_query = model.preprocess(["query: question 1"])["input_ids"]
    expected_document = model.preprocess(["passage: answer 1"])["input_ids"]
    assert batch["anchor_input_ids"].tolist() == expected_query.tolist()
    assert batch["positive_input_ids"].tolist() == expected_document.tolist()


def test_a_model_without_prompts_trains_without_them(prompted, tmp_path: Path) -> None:
    trainer = _trainer(prompted({"query": "", "document": ""}), tmp_path)
    assert trainer.args.prompts is None
