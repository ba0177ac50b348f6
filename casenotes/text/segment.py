"""Split a case note into sentence and clause segments with exact character offsets.

Built on `spacy.blank("en")`: the tokenizer learns case-note shorthand (`cl.`,
`appt.`, `w/`, `f/u`, `SI/HI`) so it stays whole, and one pipeline component,
`casenotes_units`, finds where units begin: line breaks, bullets, section headers
of DAP/SOAP/BIRP/GIRP notes, and sentence-final punctuation. Each unit is then
split into clauses at semicolons and contrastive conjunctions.

Every segment satisfies `text[segment.start:segment.end] == segment.text`.
Segmentation is linear in the note's length on any text: see `BoundedTokenizer`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

import numpy as np
import spacy
from spacy.attrs import SENT_START
from spacy.language import Language
from spacy.tokens import Doc, Token

from casenotes.schema import Segment
from casenotes.text.lexicon import (
    CLIENT_NOUNS,
    FIRST_PERSON,
    PERIOD_SHORTHAND,
    SLASHED_SHORTHAND,
    STAFF_NOUN,
    THIRD_PERSON,
    TITLES,
)

__all__ = [
    "LONGEST_RUN", "SECTION_HEADERS", "BoundedTokenizer", "Segmenter", "bounded_pieces", "is_unfilled_field",
    "sentence_starts",
]

# spaCy splits the affixes off a whitespace-free run one at a time, rescanning the
# rest each time: quadratic in the run's length (16,000 "!" took 74 s). Runs longer
# than LONGEST_RUN are cut into pieces of RUN_PIECE characters.
LONGEST_RUN = 100
RUN_PIECE = 32
_LONG_RUN = re.compile(rf"\S{{{LONGEST_RUN + 1},}}")

# Header word (lower case) -> canonical section name.
SECTION_HEADERS = {
    "d": "data", "data": "data",
    "s": "subjective", "subjective": "subjective",
    "o": "objective", "objective": "objective",
    "a": "assessment", "assessment": "assessment",
    "p": "plan", "plan": "plan", "next steps": "plan", "follow up": "plan",
    "follow-up": "plan", "f/u": "plan", "plan/next steps": "plan",
    "b": "behavior", "behavior": "behavior", "behaviour": "behavior",
    "i": "intervention", "intervention": "intervention", "interventions": "intervention",
    "r": "response", "response": "response",
    "g": "goal", "goal": "goal", "goals": "goal",
}
_ONE_LETTER_HEADERS = {h for h in SECTION_HEADERS if len(h) == 1}

_SENTENCE_END = {".", "!", "?", "...", "?!", "!!", "…"}
_CLOSERS = {'"', "'", "”", "’", ")", "]", "»"}
_BULLET_MARKERS = {"-", "*", "•", "·", "–", "—", "+", ">", "o"}
_CLAUSE_CONJUNCTIONS = {"but", "however", "although", "though", "whereas", "yet"}
_CLAUSE_SUBJECTS = CLIENT_NOUNS | THIRD_PERSON | {STAFF_NOUN}
_SUBJECTS = _CLAUSE_SUBJECTS | FIRST_PERSON | {"her", "his"}
_MIN_CLAUSE_WORDS = 3
_CALENDAR_WORDS = {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "mon", "tue", "tues", "wed", "thu", "thurs", "fri", "sat", "sun",
    "january", "february", "march", "april", "may", "june", "july", "august",
    "september", "october", "november", "december",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
}


@dataclass(frozen=True)
class _Unit:
    """A run of tokens [first, last] that forms one sentence or bullet."""

    first: int
    last: int
    section: str | None
    is_bullet: bool


def bounded_pieces(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) pieces that cover `text` in order, none holding a whitespace-free
    run longer than LONGEST_RUN: the stretches between long runs, and each long run in
    pieces of RUN_PIECE characters."""
    last = 0
    for run in _LONG_RUN.finditer(text):
        if last < run.start():
            yield last, run.start()
        for start in range(run.start(), run.end(), RUN_PIECE):
            yield start, min(start + RUN_PIECE, run.end())
        last = run.end()
    if last < len(text):
        yield last, len(text)


class BoundedTokenizer:
    """A spaCy tokenizer that is linear in the text's length on any text.

    Text without a whitespace-free run longer than LONGEST_RUN goes to `inner` whole,
    so ordinary notes tokenize exactly as before. Otherwise each of `bounded_pieces`
    is tokenized on its own and the Doc is rebuilt from their words and spaces, with
    the text reproduced exactly.
    """

    def __init__(self, inner: Callable[[str], Doc]) -> None:
        self.inner = inner
        self.vocab = inner.vocab

    def __call__(self, text: str) -> Doc:
        if not _LONG_RUN.search(text):
            return self.inner(text)
        words: list[str] = []
        spaces: list[bool] = []
        for start, end in bounded_pieces(text):
            if text[start] == " " and start > 0 and not text[start - 1].isspace():
                # spaCy gives one space right after a word to that word, as its trailing space.
                spaces[-1] = True
                start += 1
                if start == end:
                    continue
            for token in self.inner(text[start:end]):
                words.append(token.text)
                spaces.append(bool(token.whitespace_))
        return Doc(self.vocab, words=words, spaces=spaces)


def _build_nlp() -> Language:
    nlp = spacy.blank("en")
    nlp.max_length = 2_000_000
    for form in TITLES + PERIOD_SHORTHAND + SLASHED_SHORTHAND:
        nlp.tokenizer.add_special_case(form, [{"ORTH": form}])
    nlp.tokenizer = BoundedTokenizer(nlp.tokenizer)
    nlp.add_pipe("casenotes_units")
    return nlp


def _is_line_start(doc: Doc, i: int) -> bool:
    previous = doc[i - 1] if i > 0 else None
    return previous is None or ("\n" in previous.text and previous.is_space) or "\n" in previous.whitespace_


def _previous_word(doc: Doc, i: int) -> Token | None:
    j = i - 1
    while j >= 0 and doc[j].is_space:
        j -= 1
    return doc[j] if j >= 0 else None


def _header_length(doc: Doc, i: int, at_line_start: bool) -> int:
    """Tokens a section header starting at token i spans (word(s) plus ':'), else 0."""
    for words in (3, 2, 1):
        colon = i + words
        if colon >= len(doc) or doc[colon].text != ":":
            continue
        phrase = doc[i:colon].text.lower()
        if phrase not in SECTION_HEADERS:
            continue
        if phrase in _ONE_LETTER_HEADERS and not (at_line_start or doc[i].text.isupper()):
            continue
        return words + 1
    return 0


def _ends_sentence(doc: Doc, i: int) -> bool:
    """Does a sentence end right before token i? Closing quotes stay with their sentence."""
    current = doc[i]
    if current.text in _CLOSERS:
        return False
    j = i - 1
    while j >= 0 and (doc[j].is_space or doc[j].text in _CLOSERS):
        j -= 1
    if j < 0:
        return False
    previous = doc[j]
    if previous.text in _SENTENCE_END or (j < i - 1 and previous.text.endswith((".", "!", "?"))):
        return True
    if previous.text in TITLES or not previous.text.endswith("."):
        return False
    # An abbreviation such as "appt." or "p.m." ends a sentence only before a
    # capital that is not a day or month name ("appt. Monday").
    return current.text[:1].isupper() and current.lower_.rstrip(".") not in _CALENDAR_WORDS


def _continues_wrapped_line(doc: Doc, i: int) -> bool:
    """A hard-wrapped line: the previous line has no final punctuation, this one starts lower case."""
    previous = _previous_word(doc, i)
    return (
        previous is not None
        and previous.text not in _SENTENCE_END
        and previous.text != ":"
        and doc[i].text[:1].islower()
    )


@Language.component("casenotes_units")
def mark_units(doc: Doc) -> Doc:
    """Set `is_sent_start` and record each unit's section and bullet status on the Doc."""
    units: list[_Unit] = []
    section: str | None = None
    unit_start: int | None = None
    unit_is_bullet = False
    unit_has_word = False
    i = 0
    while i < len(doc):
        token = doc[i]
        if token.is_space:
            i += 1
            continue
        at_line_start = _is_line_start(doc, i) and not _continues_wrapped_line(doc, i)
        # Punctuation after a unit that is punctuation only ("keys!! !!!") stays in that
        # unit, so a run of "!" is one segment and not one segment each.
        joins_punctuation = unit_start is not None and not unit_has_word and token.is_punct
        at_boundary = unit_start is None or at_line_start or (not joins_punctuation and _ends_sentence(doc, i))
        if at_boundary:
            header = _header_length(doc, i, at_line_start or unit_start is None)
            if header:
                _close(units, unit_start, i, section, unit_is_bullet, doc)
                section = SECTION_HEADERS[doc[i : i + header - 1].text.lower()]
                unit_start = None
                i += header
                continue
            starts_bullet = at_line_start or (unit_start is None and unit_is_bullet)
            if at_line_start and token.text in _BULLET_MARKERS or _is_numbered_bullet(doc, i, starts_bullet):
                _close(units, unit_start, i, section, unit_is_bullet, doc)
                unit_start, unit_is_bullet = None, True
                i += 2 if doc[i].text[:1].isdigit() and doc[i + 1].text in {".", ")"} else 1
                continue
            if unit_start is not None:
                _close(units, unit_start, i, section, unit_is_bullet, doc)
                unit_start, unit_is_bullet = None, False
        if unit_start is None:
            unit_start, unit_has_word = i, False
        unit_has_word = unit_has_word or not token.is_punct
        i += 1
    _close(units, unit_start, len(doc), section, unit_is_bullet, doc)
    _set_sentence_starts(doc, [unit.first for unit in units])
    doc.user_data["casenotes_units"] = units
    return doc


def _set_sentence_starts(doc: Doc, firsts: list[int]) -> None:
    """Sentence starts set in one pass: each `token.is_sent_start = ...` rescans the Doc."""
    starts = np.full(len(doc), -1, dtype=np.int64)  # -1: not a sentence start
    starts[firsts] = 1
    if len(doc):
        starts[0] = 1
    doc.from_array([SENT_START], starts.astype(np.uint64))


def _is_numbered_bullet(doc: Doc, i: int, at_line_start: bool) -> bool:
    return (
        at_line_start
        and i + 1 < len(doc)
        and doc[i].text.isdigit()
        and len(doc[i].text) <= 2
        and doc[i + 1].text in {".", ")"}
        and doc[i + 1].whitespace_ != ""
    )


def _close(units: list[_Unit], first: int | None, stop: int, section: str | None,
           is_bullet: bool, doc: Doc) -> None:
    if first is None:
        return
    last = stop - 1
    while last >= first and doc[last].is_space:
        last -= 1
    if last >= first:
        units.append(_Unit(first, last, section, is_bullet))


class Segmenter:
    """Turns note text into `Segment`s. Build once; `segment` is safe to call repeatedly."""

    def __init__(self) -> None:
        self.nlp = _build_nlp()

    def segment(self, text: str) -> list[Segment]:
        doc = self.nlp(text)
        segments: list[Segment] = []
        for unit in doc.user_data["casenotes_units"]:
            for first, last in _clauses(doc, unit.first, unit.last):
                segment = _segment_from_tokens(text, doc, first, last, unit)
                if segment.text and not is_unfilled_field(segment.text):
                    segments.append(segment)
        return segments

    def sentence_starts(self, text: str) -> list[int]:
        """Character offsets where the units of `text` (sentences, bullets, lines) start, in order."""
        doc = self.nlp(text)
        return sorted({0, *(doc[unit.first].idx for unit in doc.user_data["casenotes_units"])})


@lru_cache(maxsize=1)
def _shared_segmenter() -> Segmenter:
    return Segmenter()


def sentence_starts(text: str) -> list[int]:
    """Where the units of `text` start, by a segmenter shared by every caller in the process."""
    return _shared_segmenter().sentence_starts(text)


def is_unfilled_field(text: str) -> bool:
    """A template's field labels with nothing filled in ("Risk: SI/HI:", "Eviction notice:"):
    they state nothing about the client, so they are not segments to read."""
    return text.rstrip().endswith(":")


def _clauses(doc: Doc, first: int, last: int) -> list[tuple[int, int]]:
    """Split tokens [first, last] at ';' and contrastive conjunctions when both sides are clauses."""
    # words_before[k]: words among tokens [first, first + k), so each count below is O(1).
    words_before = [0, *accumulate(not (t.is_punct or t.is_space) for t in doc[first : last + 1])]

    def word_count(start: int, end: int) -> int:  # words among tokens [start, end]
        return words_before[end + 1 - first] - words_before[start - first]

    cuts: list[tuple[int, int]] = []  # (end of left clause, start of right clause), inclusive
    for i in range(first + 1, last):
        token = doc[i]
        if token.text == ";":
            cuts.append((i - 1, i + 1))
        elif token.lower_ in _CLAUSE_CONJUNCTIONS and doc[i - 1].text == ",":
            cuts.append((i - 2, i))
        elif token.lower_ == "but":
            cuts.append((i - 1, i))
        elif token.lower_ == "and" and doc[i - 1].text == "," and doc[i + 1].lower_ in _SUBJECTS:
            cuts.append((i - 2, i))
        elif token.text == "," and doc[i + 1].lower_ in _CLAUSE_SUBJECTS:
            cuts.append((i - 1, i + 1))  # "Her brother was arrested, cl upset about it."
    pieces, start = [], first
    for left_end, right_start in cuts:
        if word_count(start, left_end) >= _MIN_CLAUSE_WORDS and word_count(right_start, last) >= _MIN_CLAUSE_WORDS:
            pieces.append((start, left_end))
            start = right_start
    pieces.append((start, last))
    return pieces


def _segment_from_tokens(text: str, doc: Doc, first: int, last: int, unit: _Unit) -> Segment:
    start = doc[first].idx
    end = doc[last].idx + len(doc[last].text)
    piece = text[start:end]
    stripped_left = len(piece) - len(piece.lstrip())
    start += stripped_left
    end = start + len(piece.strip())
    return Segment(start=start, end=end, text=text[start:end], section=unit.section,
                   is_bullet=unit.is_bullet)
