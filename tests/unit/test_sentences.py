"""The one sentence rule every caller shares (pre-training, offline generation, the code-search demo)."""
from __future__ import annotations

import pytest

from embedtune.sentences import first_sentence, split_sentences


@pytest.mark.parametrize(("text", "expected"), [
    ("Short one. T cells fight infection! Do B cells help?",
     ["Short one.", "T cells fight infection!", "Do B cells help?"]),
    # Abbreviations, with or without an opening bracket before them, do not end a sentence.
    ("Return the value, e.g. a string. Next.", ["Return the value, e.g. a string.", "Next."]),
    ("See Fig. 3 (cf. Smith et al. 2020) here. Then more.", ["See Fig. 3 (cf. Smith et al. 2020) here.", "Then more."]),
    ("Finds modules, ie. those listed by name.", ["Finds modules, ie. those listed by name."]),
    # A lower-case next word continues the sentence; dotted names and decimals never split.
    ("Given the path to a .pyc. file, return os.path.join of 3.5 parts.",
     ["Given the path to a .pyc. file, return os.path.join of 3.5 parts."]),
    # Closing quotes and brackets stay with the sentence they close.
    ('He said "stop." Then (it ended.) Done', ['He said "stop."', "Then (it ended.)", "Done"]),
    # Punctuation with no word before it (a quoted "." in a grammar, a usage line's ...) is not an end.
    ('version = digit "." digit. Next', ['version = digit "." digit.', "Next"]),
    ("disable bp [bp ...] Disables them.", ["disable bp [bp ...] Disables them."]),
    ("no end at all", ["no end at all"]),
    ("   ", []),
])
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_first_sentence_is_the_first_split_or_the_whole_text() -> None:
    assert first_sentence("Return the value, e.g. a string. Raises on error.") == "Return the value, e.g. a string."
    assert first_sentence("  a fragment without an end ") == "a fragment without an end"
    assert first_sentence("") == ""


def test_whitespace_inside_a_sentence_is_kept() -> None:
    assert split_sentences("One  line\nwraps here. Two.") == ["One  line\nwraps here.", "Two."]
