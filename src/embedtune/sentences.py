"""One rule for where a sentence ends, shared by every caller that splits text into sentences.

Pre-training (TSDAE sentences, MLM chunks), offline query generation (the inverse cloze task
takes a sentence as the query) and the code-search demo (a docstring's first sentence is the
query) used to split the same text three different ways; now they agree.

A sentence ends at ``.``, ``!`` or ``?`` (and any closing quotes or brackets right after it)
followed by whitespace or the end of the text, unless

- the word before the ``.`` is a common abbreviation ("e.g.", "i.e.", "etc.", "et al.", "Fig.",
  "vs.", ...), which would otherwise cut "Return the value, e.g. a string." into a fragment; or
- the next word starts with a lower-case letter, which a new sentence does not do in prose
  ("approx. five", "p. 12 of", a name the list above misses); or
- the word before holds no letter or digit: a quoted ``"."`` in a grammar or the ``...`` of a
  usage line is not the end of a sentence.

Decimal numbers and dotted names ("3.5", "os.path.join") never split, because no whitespace
follows their dots. The rule is deliberately simple (no language model, no download): it is
used to pick training text, where a rare wrong cut costs one odd example, not a wrong answer.
"""
from __future__ import annotations

import re

# Compared case-insensitively with the word before a final "." (without that "."); leading
# brackets or quotes are stripped first, so "(e.g." and "(Fig." count.
ABBREVIATIONS = frozenset({
    "e.g", "i.e", "eg", "ie", "etc", "al", "vs", "cf", "approx", "ca", "resp", "viz", "a.k.a",
    "fig", "figs", "eq", "eqs", "ref", "refs", "no", "nos", "vol", "pp",
    "dr", "mr", "mrs", "ms", "prof", "st", "jr", "sr",
})

_CANDIDATE_END = re.compile(r"[.!?][\"'\u201d\u2019)\]]*(?=\s|$)")
_WORD_BEFORE = re.compile(r"(\S+)$")
_NEXT_CHARACTER = re.compile(r"\s*(\S)")
_OPENING = "([{\"'\u201c\u2018"


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, stripped, in order; none empty.

    Whitespace inside a sentence is kept as it was (callers that want it collapsed do so first).
    """
    sentences: list[str] = []
    start = 0
    for match in _CANDIDATE_END.finditer(text):
        if not _ends_sentence(text, match):
            continue
        sentence = text[start:match.end()].strip()
        if sentence:
            sentences.append(sentence)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def first_sentence(text: str) -> str:
    """The first sentence of ``text`` (all of it, stripped, when it has no sentence end)."""
    sentences = split_sentences(text)
    return sentences[0] if sentences else ""


def _ends_sentence(text: str, match: re.Match[str]) -> bool:
    next_character = _NEXT_CHARACTER.match(text, match.end())
    if next_character and next_character.group(1).islower():
        return False
    found = _WORD_BEFORE.search(text, 0, match.start())
    word = found.group(1).lstrip(_OPENING) if found else ""
    if not any(character.isalnum() for character in word):
        return False
    return text[match.start()] != "." or word.casefold() not in ABBREVIATIONS
