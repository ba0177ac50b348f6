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
Sentences are the segmenter's units (`segment.sentence_starts`): one splitter for
the whole reading, so a cue's scope ends where a segment does.

Labelling is linear in the text's length on any text (a note of 100,000 "no"s
included): cue reach is looked up per category, and the scans of a target's
prefix, suffix and objects are shared between its cues.

This module parses a text and assembles the labels; `context_scope` decides which
cues govern a target.
"""

from __future__ import annotations

import bisect
import operator
import threading
from collections.abc import Sequence
from functools import lru_cache
from itertools import accumulate

from casenotes.errors import InvalidInput
from casenotes.schema import ContextLabels
from casenotes.text import context_rules as rules
from casenotes.text.context_scope import Cue, Parsed, Reach, Target, acts_on_client, governs_target, next_decisive
from casenotes.text.segment import bounded_pieces, sentence_starts

__all__ = ["ContextAnalyzer", "assess"]

_START = operator.attrgetter("start")
# One Matcher call holds the GIL throughout: seconds over a note of 100,000 "!". Token patterns
# are matched over windows of about this many tokens, cut where no pattern can match across.
_MATCH_WINDOW = 2_000
_FAMILIES = ("NEGATED", "HYPOTHETICAL", "HISTORICAL", "OTHER", "POSSIBLE")


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

    def parse(self, text: str) -> Parsed:
        from spacy.tokens import Doc

        words, offsets = self._words(text)
        tokens = Doc(self.nlp.vocab, words=words) if words else Doc(self.nlp.vocab)
        starts = sentence_starts(text)
        sentence_of = [bisect.bisect_right(starts, offset) - 1 for offset in offsets]
        found = [(self.rule_of[key], b, e) for key, b, e in [*self.phrases(tokens), *self._pattern_matches(tokens)]]
        stops: dict[str, list[tuple[int, int]]] = {}
        pseudo: list[tuple[str, int, int]] = []
        candidates: list[Cue] = []
        for (category, direction, scope), begin, end in found:
            kind, _, only = category.partition(":")
            if kind == "TERMINATE":
                stops.setdefault(only or "ALL", []).append((begin, end))
            elif kind == "PSEUDO":
                pseudo.append((only, begin, end))
            elif category in rules.LABEL_OF_CATEGORY or category == "THREAT":
                candidates.append(Cue(begin, end, category, direction, scope))
        cues = _keep_cues(candidates, pseudo)
        general = stops.get("ALL", [])
        merged = {family: sorted(general + stops.get(family, [])) for family in _FAMILIES}
        lower = [token.lower_ for token in tokens]
        is_punct = [token.is_punct for token in tokens]
        stop_tokens = {i for b, e in general for i in range(b, e)}
        parsed = Parsed(
            lower=lower,
            is_punct=is_punct,
            token_start=offsets,
            token_end=[offset + len(word) for offset, word in zip(offsets, words)],
            sentence_of=sentence_of,
            sentence_bounds=_sentence_bounds(sentence_of),
            cues=[cue for cue in cues if cue.category != "THREAT"],
            stop_begins={family: [b for b, _ in spans] for family, spans in merged.items()},
            stop_ends={family: sorted(e for _, e in spans) for family, spans in merged.items()},
            stop_tokens=stop_tokens,
            other_tokens={i for cue in cues if cue.category == "OTHER" for i in range(cue.start, cue.end)},
            threat_sentences={sentence_of[cue.start] for cue in cues if cue.category == "THREAT"},
            words_before=[0, *accumulate(not punct for punct in is_punct)],
            stops_before=[0, *accumulate(i in stop_tokens for i in range(len(lower)))],
            next_decisive=next_decisive(lower, is_punct, stop_tokens),
            longest_cue=max((cue.end - cue.start for cue in cues), default=1),
        )
        parsed.reach = Reach.of(parsed)
        return parsed

    def _pattern_matches(self, tokens) -> list[tuple[int, int, int]]:
        """The token patterns' matches, found window by window (see `_MATCH_WINDOW`)."""
        found = []
        for start, end in _match_windows(tokens):
            found += [(key, start + b, start + e) for key, b, e in self.patterns(tokens[start:end])]
        return found

    def _words(self, text: str) -> tuple[list[str], list[int]]:
        """The non-space tokens of `text` and their character offsets."""
        # spaCy's tokenizer is quadratic on long runs without spaces ("!?!?..."): `bounded_pieces` cuts them.
        found = [(t.text, t.idx + start) for start, end in bounded_pieces(text)
                 for t in self.nlp.tokenizer(text[start:end]) if not t.is_space]
        return [word for word, _ in found], [offset for _, offset in found]


def _match_windows(tokens) -> list[tuple[int, int]]:
    """[start, end) windows of at least `_MATCH_WINDOW` tokens (but the last), cut only between two
    punctuation tokens or beside a token with neither letters, digits nor punctuation (an emoji):
    no token pattern in `context_rules` has two punctuation tokens in a row or such a token, so no
    match crosses a cut, and longest-match filtering sees the same overlaps."""
    if len(tokens) <= _MATCH_WINDOW:
        return [(0, len(tokens))]
    punct = [token.is_punct for token in tokens]
    inert = [not p and not any(c.isalnum() for c in token.text) for p, token in zip(punct, tokens)]
    windows, start = [], 0
    for i in range(_MATCH_WINDOW, len(tokens)):
        if i - start >= _MATCH_WINDOW and ((punct[i - 1] and punct[i]) or inert[i - 1] or inert[i]):
            windows.append((start, i))
            start = i
    windows.append((start, len(tokens)))
    return windows


def _keep_cues(candidates: list[Cue], pseudo: list[tuple[str, int, int]]) -> list[Cue]:
    """Drop cues inside a pseudo-cue of their family; of overlapping cues of one label keep the longest."""
    hidden = {(only, i) for only, b, e in pseudo for i in range(b, e)}
    taken: set[tuple[str, int]] = set()
    kept: list[Cue] = []
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



def _labels(parsed: Parsed, start: int, end: int) -> ContextLabels:
    first = bisect.bisect_right(parsed.token_end, start)
    stop = bisect.bisect_left(parsed.token_start, end)
    if first >= stop:
        return ContextLabels()
    sentences = range(parsed.sentence_of[first], parsed.sentence_of[stop - 1] + 1)
    low = parsed.sentence_bounds[sentences[0]][0]
    found = parsed.reach.into(parsed, first, stop)
    # Cues that overlap the target: those in its sentences that end after its first token.
    at = bisect.bisect_left(parsed.cues, max(low, first - parsed.longest_cue + 1), key=_START)
    target = Target.of(parsed, first, stop)
    for cue in parsed.cues[at : bisect.bisect_left(parsed.cues, stop, key=_START)]:
        if cue.end > first and cue.category not in found and governs_target(parsed, cue, target):
            if cue.category != "OTHER" or not acts_on_client(parsed, cue, stop):
                found.add(cue.category)
    if any(sentence in parsed.threat_sentences for sentence in sentences):
        found.discard("HYPOTHETICAL")
    if "HYPOTHETICAL" in found:
        found.discard("HISTORICAL_DATE")
    labels = {rules.LABEL_OF_CATEGORY[category] for category in found} - {None}
    return ContextLabels(**{label: True for label in labels})
