"""ConText for case notes: is a statement negated, hypothetical, historical or about someone else?

ConText (Harkema et al. 2009; pyConText, medspaCy) on `spacy.blank("en")` tokens:
cues (`context_rules`) open a scope forward, backward or both ways, up to the
sentence end, a termination cue or the cue's max scope; a target in the scope
takes the cue's category. Pseudo-cues ("no change", "was denied") hide the cues
inside them. Case-note rules on top:
- Targets are often whole segments, so a cue inside the target counts when it
  governs the rest: only a short subject or reporting frame precedes it ("Cl
  reports she did not"), and its scope reaches the target's end unterminated
  ("Cl has not used since Friday but missed her appt" is not negated). A cue in
  an "if"/"because" clause governs that clause only.
- Someone acting on the client ("her partner threatened her") is about the
  client; so is a family word after a preposition ("lives with her mother").
- A threat ("if it doesn't stop I'll hurt him") is present, not hypothetical.
- A past date ("in 2019") is historical unless a future cue also governs.
- Negated means the statement's own words are negated: "no longer homeless",
  "hasn't used in 30 days", "no missed appts", "declined services" are
  negated=True by rule; whether that is good news is the direction model's call.
- Diagnostic hedging ("possible", "likely") is matched but maps to no label.
Sentences end at ., ! or ? before a space and a non-lower-case letter (not after
an abbreviation such as "Dr.") and at every line break.
"""

from __future__ import annotations

import bisect
import operator
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

from casenotes import context_rules as rules
from casenotes.errors import InvalidInput
from casenotes.schema import ContextLabels

__all__ = ["ContextAnalyzer", "assess", "sentence_starts"]

# Possessive quantifiers and a match only at the start of a run keep both linear.
_SENTENCE_END = re.compile(r"(?<![.!?])[.!?]++[\"')\]]*+\s++(?=\S)")
_LINE_BREAK = re.compile(r"\n[^\S\n]*+(?=\S)")
# spaCy's tokenizer is quadratic on long runs without spaces ("!?!?..."): cut them.
_LONG_RUN = re.compile(r"\S{100,}")
_RUN_PIECE = 32
_NOT_A_CLAUSE_YET = rules.REPORTING_WORDS | {"and", "or", "'s", "/", ",", "’s"}
_FRAME_FOLLOWERS = rules.CLIENT_SUBJECTS | {"that", "to", "her", "his", "their"}
_START = operator.attrgetter("start")
_FAMILIES = ("NEGATED", "HYPOTHETICAL", "HISTORICAL", "OTHER", "POSSIBLE")


def sentence_starts(text: str) -> list[int]:
    """Character offsets where the sentences of `text` start, in order."""
    starts = {0}
    for match in _SENTENCE_END.finditer(text):
        before = text[max(0, match.start() - 12) : match.start()]
        word = before.split()[-1].lower().strip("([\"'") if before and not before[-1].isspace() else ""
        if text[match.end()].islower() or word in rules.ABBREVIATIONS or len(word) == 1:
            continue
        starts.add(match.end())
    starts.update(match.end() for match in _LINE_BREAK.finditer(text))
    return sorted(starts)


@dataclass(frozen=True, slots=True)
class _Cue:
    start: int
    end: int
    category: str
    direction: str
    max_scope: int | None

    @property
    def family(self) -> str:
        """NEGATED_PHRASE and NEGATED share terminators and pseudo-cues, and so on."""
        return self.category.partition("_")[0]


@dataclass(slots=True)
class _Parsed:
    """One tokenized text with its cues, terminators and sentences."""

    lower: list[str]
    is_punct: list[bool]
    token_start: list[int]
    token_end: list[int]
    sentence_of: list[int]
    sentence_bounds: list[tuple[int, int]]
    cues: list[_Cue]
    stop_begins: dict[str, list[int]]  # per cue family, where its terminators begin
    stop_ends: dict[str, list[int]]  # ... and where they end
    stop_tokens: set[int]  # tokens inside a general terminator
    other_tokens: set[int]  # tokens inside a family/other-person cue
    threat_sentences: set[int]


class _Compiled:
    """The spaCy tokenizer and matchers built from `context_rules`."""

    def __init__(self) -> None:
        import spacy
        from spacy.matcher import Matcher, PhraseMatcher

        self.nlp = spacy.blank("en")
        self.phrases = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        self.patterns = Matcher(self.nlp.vocab)
        self.rule_of: dict[int, tuple[str, str, int | None]] = {}
        for index, (category, direction, scope, phrases) in enumerate(rules.CUE_GROUPS):
            self.phrases.add(f"cue{index}", list(self.nlp.tokenizer.pipe(phrases)))
            self.rule_of[self.nlp.vocab.strings[f"cue{index}"]] = (category, direction, scope)
        for name, (category, direction, scope, patterns) in rules.TOKEN_PATTERNS.items():
            self.patterns.add(name, patterns, greedy="LONGEST")
            self.rule_of[self.nlp.vocab.strings[name]] = (category, direction, scope)

    def parse(self, text: str) -> _Parsed:
        from spacy.tokens import Doc

        words, offsets = self._words(text)
        tokens = Doc(self.nlp.vocab, words=words) if words else Doc(self.nlp.vocab)
        starts = sentence_starts(text)
        sentence_of = [bisect.bisect_right(starts, offset) - 1 for offset in offsets]
        found = [(self.rule_of[key], b, e) for key, b, e in [*self.phrases(tokens), *self.patterns(tokens)]]
        stops: dict[str, list[tuple[int, int]]] = {}
        pseudo: list[tuple[str, int, int]] = []
        candidates: list[_Cue] = []
        for (category, direction, scope), begin, end in found:
            kind, _, only = category.partition(":")
            if kind == "TERMINATE":
                stops.setdefault(only or "ALL", []).append((begin, end))
            elif kind == "PSEUDO":
                pseudo.append((only, begin, end))
            elif category in rules.LABEL_OF_CATEGORY or category == "THREAT":
                candidates.append(_Cue(begin, end, category, direction, scope))
        cues = _keep_cues(candidates, pseudo)
        general = stops.get("ALL", [])
        merged = {family: sorted(general + stops.get(family, [])) for family in _FAMILIES}
        return _Parsed(
            lower=[token.lower_ for token in tokens],
            is_punct=[token.is_punct for token in tokens],
            token_start=offsets,
            token_end=[offset + len(word) for offset, word in zip(offsets, words)],
            sentence_of=sentence_of,
            sentence_bounds=_sentence_bounds(sentence_of),
            cues=[cue for cue in cues if cue.category != "THREAT"],
            stop_begins={family: [b for b, _ in spans] for family, spans in merged.items()},
            stop_ends={family: sorted(e for _, e in spans) for family, spans in merged.items()},
            stop_tokens={i for b, e in general for i in range(b, e)},
            other_tokens={i for cue in cues if cue.category == "OTHER" for i in range(cue.start, cue.end)},
            threat_sentences={sentence_of[cue.start] for cue in cues if cue.category == "THREAT"},
        )

    def _words(self, text: str) -> tuple[list[str], list[int]]:
        """The non-space tokens of `text` and their character offsets."""
        pieces, last = [], 0
        for run in _LONG_RUN.finditer(text):
            pieces.append((text[last : run.start()], last))
            pieces += [(text[i : min(i + _RUN_PIECE, run.end())], i) for i in range(run.start(), run.end(), _RUN_PIECE)]
            last = run.end()
        pieces.append((text[last:], last))
        found = [(t.text, t.idx + at) for piece, at in pieces if piece for t in self.nlp.tokenizer(piece) if not t.is_space]
        return [word for word, _ in found], [offset for _, offset in found]


def _keep_cues(candidates: list[_Cue], pseudo: list[tuple[str, int, int]]) -> list[_Cue]:
    """Drop cues inside a pseudo-cue of their family; of overlapping cues of one label keep the longest."""
    hidden = {(only, i) for only, b, e in pseudo for i in range(b, e)}
    taken: set[tuple[str, int]] = set()
    kept: list[_Cue] = []
    for cue in sorted(candidates, key=lambda cue: (cue.start - cue.end, cue.start)):
        span = range(cue.start, cue.end)
        if all(("", i) in hidden or (cue.family, i) in hidden for i in span):
            continue
        label = rules.LABEL_OF_CATEGORY.get(cue.category) or cue.category
        if any((label, i) in taken for i in span):
            continue
        taken.update((label, i) for i in span)
        kept.append(cue)
    return sorted(kept, key=lambda cue: cue.start)


def _sentence_bounds(sentence_of: list[int]) -> list[tuple[int, int]]:
    """Each sentence's [first, end) token range."""
    bounds = [[0, 0] for _ in range(sentence_of[-1] + 1 if sentence_of else 0)]
    for index in range(len(sentence_of) - 1, -1, -1):
        bounds[sentence_of[index]][0] = index
    for index, sentence in enumerate(sentence_of):
        bounds[sentence][1] = index + 1
    return [(first, end) for first, end in bounds]


class ContextAnalyzer:
    """Holds the compiled ConText rules; build one and reuse it (thread-safe to share)."""

    def __init__(self) -> None:
        self._compiled: _Compiled | None = None
        self._lock = threading.Lock()

    def _rules(self) -> _Compiled:
        if self._compiled is None:
            with self._lock:
                if self._compiled is None:
                    self._compiled = _Compiled()
        return self._compiled

    def assess(self, text: str, start: int, end: int) -> ContextLabels:
        """Context labels of `text[start:end]`, judged within the sentence(s) around it."""
        _check_span(text, start, end)
        starts = sentence_starts(text)
        first = starts[bisect.bisect_right(starts, start) - 1]
        after = bisect.bisect_right(starts, max(start, end - 1))
        last = starts[after] if after < len(starts) else len(text)
        parsed = self._rules().parse(text[first:last])
        return _labels(parsed, start - first, end - first)

    def assess_spans(self, text: str, spans: Sequence[tuple[int, int]]) -> list[ContextLabels]:
        """Context labels of many spans of one text, tokenizing it once."""
        for start, end in spans:
            _check_span(text, start, end)
        if not spans:
            return []
        parsed = self._rules().parse(text)
        return [_labels(parsed, start, end) for start, end in spans]


def _check_span(text: str, start: int, end: int) -> None:
    if not isinstance(text, str):
        raise InvalidInput("context: text must be a string")
    for name, value in (("start", start), ("end", end)):
        try:
            operator.index(value)
        except TypeError:
            raise InvalidInput(f"context: {name} must be an integer offset") from None
    if not 0 <= start < end <= len(text):
        raise InvalidInput(f"context: span [{start}, {end}) is not a non-empty span of a text of length {len(text)}")


@lru_cache(maxsize=1)
def _default_analyzer() -> ContextAnalyzer:
    return ContextAnalyzer()


def assess(text: str, start: int, end: int) -> ContextLabels:
    """Context labels of the target `text[start:end]` (see `ContextAnalyzer.assess`)."""
    return _default_analyzer().assess(text, start, end)


# --- scopes -------------------------------------------------------------------


def _labels(parsed: _Parsed, start: int, end: int) -> ContextLabels:
    first = bisect.bisect_right(parsed.token_end, start)
    stop = bisect.bisect_left(parsed.token_start, end)
    if first >= stop:
        return ContextLabels()
    sentences = range(parsed.sentence_of[first], parsed.sentence_of[stop - 1] + 1)
    low = parsed.sentence_bounds[sentences[0]][0]
    high = parsed.sentence_bounds[sentences[-1]][1]
    at = bisect.bisect_left(parsed.cues, low, key=_START)
    window = parsed.cues[at : bisect.bisect_left(parsed.cues, high, key=_START)]
    found = {cue.category for cue in window if _modifies(parsed, cue, first, stop)}
    if any(sentence in parsed.threat_sentences for sentence in sentences):
        found.discard("HYPOTHETICAL")
    if "HYPOTHETICAL" in found:
        found.discard("HISTORICAL_DATE")
    labels = {rules.LABEL_OF_CATEGORY[category] for category in found} - {None}
    return ContextLabels(**{label: True for label in labels})


def _modifies(parsed: _Parsed, cue: _Cue, first: int, stop: int) -> bool:
    if cue.end <= first:
        hit = cue.direction != "backward" and _scope_end(parsed, cue, True) > first
    elif cue.start >= stop:
        hit = cue.direction != "forward" and _scope_start(parsed, cue, True) < stop
    else:
        hit = _governs_target(parsed, cue, first, stop)
    if hit and cue.category == "OTHER":
        return not _acts_on_client(parsed, cue, stop)
    return hit


def _scope_end(parsed: _Parsed, cue: _Cue, limited: bool) -> int:
    """Where a cue's forward scope ends: sentence end, a terminator, or its max scope."""
    end = parsed.sentence_bounds[parsed.sentence_of[cue.start]][1]
    begins = parsed.stop_begins[cue.family]
    at = bisect.bisect_left(begins, cue.end)
    if at < len(begins):
        end = min(end, begins[at])
    return min(end, cue.end + cue.max_scope) if limited and cue.max_scope is not None else end


def _scope_start(parsed: _Parsed, cue: _Cue, limited: bool) -> int:
    """Where a cue's backward scope starts: sentence start, a terminator, or its max scope."""
    start = parsed.sentence_bounds[parsed.sentence_of[cue.start]][0]
    ends = parsed.stop_ends[cue.family]
    at = bisect.bisect_right(ends, cue.start)
    if at:
        start = max(start, ends[at - 1])
    return max(start, cue.start - cue.max_scope) if limited and cue.max_scope is not None else start


def _governs_target(parsed: _Parsed, cue: _Cue, first: int, stop: int) -> bool:
    """A cue inside a whole-segment target: does it govern the target's main content?"""
    words = [i for i in range(first, stop) if not parsed.is_punct[i]]
    if not words:
        return False
    if cue.category.endswith("_PHRASE") and cue.start > words[0]:
        return False
    covered_start = _scope_start(parsed, cue, False) if cue.direction != "forward" else cue.start
    covered_end = _scope_end(parsed, cue, False) if cue.direction != "backward" else cue.end
    if covered_start > words[0] and not _prefix_allows(parsed, cue, words[0], covered_start):
        return False
    return covered_end > words[-1] or _suffix_allows(parsed, cue, covered_end, words[-1] + 1)


def _prefix_allows(parsed: _Parsed, cue: _Cue, start: int, stop: int) -> bool:
    """Is `[start, stop)` only a subject or a reporting frame before the cue?"""
    unknown, started, skip_to_comma = 0, False, False
    lower = parsed.lower
    for i in range(start, stop):
        word = lower[i]
        if parsed.sentence_of[i] != parsed.sentence_of[cue.start] or i in parsed.stop_tokens:
            return False
        if skip_to_comma:
            skip_to_comma = word != ","
            continue
        if word in rules.CLAUSE_OPENERS or ((started or unknown) and word in {",", "and", "or"}):
            return False
        if word == "per":
            skip_to_comma = True
            continue
        following = lower[i + 1] if i + 1 < len(lower) else ""
        if word == "that" or (word in rules.REPORTING_WORDS and following in _FRAME_FOLLOWERS):
            unknown, started = 0, False
            continue
        if word in rules.CLIENT_SUBJECTS and (following not in _NOT_A_CLAUSE_YET or following == "and"):
            if cue.category == "OTHER":  # the client acts, or acts with them ("Cl and her brother")
                return False
            started = following != "and"
        elif not (parsed.is_punct[i] or word in rules.SUBJECT_FRAME_WORDS or word in rules.CLIENT_SUBJECTS
                  or i in parsed.other_tokens):
            unknown += 1
    if cue.category == "OTHER" and _after_preposition(parsed, start, stop):
        return False
    return unknown <= rules.MAX_UNKNOWN_PREFIX_WORDS


def _after_preposition(parsed: _Parsed, start: int, stop: int) -> bool:
    i = stop - 1
    while i >= start and parsed.lower[i] in rules.POSSESSIVES:
        i -= 1
    return i >= start and parsed.lower[i] in rules.PREPOSITIONS


def _suffix_allows(parsed: _Parsed, cue: _Cue, start: int, stop: int) -> bool:
    """Is `[start, stop)` after the cue's scope only a short tail ("... per cl")?"""
    tail = range(start, stop)
    if any(parsed.sentence_of[i] != parsed.sentence_of[cue.start] or i in parsed.stop_tokens for i in tail):
        return False
    return sum(not parsed.is_punct[i] for i in tail) <= rules.MAX_SUFFIX_WORDS


def _acts_on_client(parsed: _Parsed, cue: _Cue, stop: int) -> bool:
    """Does the other person act on the client ("her partner threatened her")?"""
    lower = parsed.lower
    end = min(stop, parsed.sentence_bounds[parsed.sentence_of[cue.start]][1])
    for i in range(cue.end, end):
        if i in parsed.stop_tokens:
            return False
        if lower[i] in rules.CLIENT_OBJECTS:
            return True
        if lower[i] == "her":
            following = lower[i + 1] if i + 1 < end else None
            if following is None or parsed.is_punct[i + 1] or following in rules.OBJECT_HER_FOLLOWERS:
                return True
    return False
