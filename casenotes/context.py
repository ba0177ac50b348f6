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

Labelling is linear in the text's length on any text (a note of 100,000 "no"s
included): cue reach is looked up per category, and the scans of a target's
prefix, suffix and objects are shared between its cues.
"""

from __future__ import annotations

import bisect
import operator
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from typing import Sequence

from casenotes import context_rules as rules
from casenotes.errors import InvalidInput
from casenotes.schema import ContextLabels
from casenotes.segment import bounded_pieces

__all__ = ["ContextAnalyzer", "assess", "sentence_starts"]

# Possessive quantifiers and a match only at the start of a run keep both linear.
_SENTENCE_END = re.compile(r"(?<![.!?])[.!?]++[\"')\]]*+\s++(?=\S)")
_LINE_BREAK = re.compile(r"\n[^\S\n]*+(?=\S)")
_NOT_A_CLAUSE_YET = rules.REPORTING_WORDS | {"and", "or", "'s", "/", ",", "’s"}
_FRAME_FOLLOWERS = rules.CLIENT_SUBJECTS | {"that", "to", "her", "his", "their"}
_START = operator.attrgetter("start")
# One Matcher call holds the GIL throughout: seconds over a note of 100,000 "!". Token patterns
# are matched over windows of about this many tokens, cut where no pattern can match across.
_MATCH_WINDOW = 2_000
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
    words_before: list[int]  # non-punctuation tokens before each token offset (one entry more than tokens)
    stops_before: list[int]  # ... and tokens inside a general terminator
    next_decisive: list[int]  # the first token at or after each one that `_acts_on_client` stops at
    longest_cue: int
    reach: _Reach | None = None


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
        found = [(self.rule_of[key], b, e) for key, b, e in [*self.phrases(tokens), *self._pattern_matches(tokens)]]
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
        lower = [token.lower_ for token in tokens]
        is_punct = [token.is_punct for token in tokens]
        stop_tokens = {i for b, e in general for i in range(b, e)}
        parsed = _Parsed(
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
            next_decisive=_next_decisive(lower, is_punct, stop_tokens),
            longest_cue=max((cue.end - cue.start for cue in cues), default=1),
        )
        parsed.reach = _Reach.of(parsed)
        return parsed

    def _pattern_matches(self, tokens) -> list[tuple[int, int, int]]:  # noqa: ANN001 - a Doc
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


def _match_windows(tokens) -> list[tuple[int, int]]:  # noqa: ANN001 - a Doc
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
    found = parsed.reach.into(parsed, first, stop)
    # Cues that overlap the target: those in its sentences that end after its first token.
    at = bisect.bisect_left(parsed.cues, max(low, first - parsed.longest_cue + 1), key=_START)
    target = _Target.of(parsed, first, stop)
    for cue in parsed.cues[at : bisect.bisect_left(parsed.cues, stop, key=_START)]:
        if cue.end > first and cue.category not in found and _governs_target(parsed, cue, target):
            if cue.category != "OTHER" or not _acts_on_client(parsed, cue, stop):
                found.add(cue.category)
    if any(sentence in parsed.threat_sentences for sentence in sentences):
        found.discard("HYPOTHETICAL")
    if "HYPOTHETICAL" in found:
        found.discard("HISTORICAL_DATE")
    labels = {rules.LABEL_OF_CATEGORY[category] for category in found} - {None}
    return ContextLabels(**{label: True for label in labels})


@dataclass(slots=True)
class _Reach:
    """Per cue category, how far outside themselves its cues reach, so that whether a cue
    before a target reaches into it (or one after it reaches back) takes a bisection,
    not a look at every cue of the sentence."""

    forward: dict[str, tuple[list[int], list[int], list[_Cue]]]  # cue ends, furthest scope end so far, cues
    backward: dict[str, tuple[list[int], list[int], list[_Cue]]]  # cue starts, nearest scope start from here on
    widest: int | None  # the largest max scope of an OTHER cue (None: one is unlimited)

    @classmethod
    def of(cls, parsed: _Parsed) -> _Reach:
        forward: dict[str, list[tuple[int, int, _Cue]]] = {}
        backward: dict[str, list[tuple[int, int, _Cue]]] = {}
        for cue in parsed.cues:
            if cue.direction != "backward":
                forward.setdefault(cue.category, []).append((cue.end, _scope_end(parsed, cue, True), cue))
            if cue.direction != "forward":
                backward.setdefault(cue.category, []).append((cue.start, _scope_start(parsed, cue, True), cue))
        return cls(
            forward={category: _running(sorted(rows, key=operator.itemgetter(0)), max)
                     for category, rows in forward.items()},
            backward={category: _running(rows[::-1], min, reverse=True) for category, rows in backward.items()},
            widest=_widest(cue for cue in parsed.cues if cue.category == "OTHER"),
        )

    def into(self, parsed: _Parsed, first: int, stop: int) -> set[str]:
        """Categories of the cues outside the target [first, stop) whose scope reaches into it."""
        found = set()
        for category, (ends, furthest, cues) in self.forward.items():
            before = bisect.bisect_right(ends, first)
            if before and furthest[before - 1] > first:
                if category != "OTHER" or self._other_reaches_forward(parsed, cues, before, first, stop):
                    found.add(category)
        for category, (starts, nearest, cues) in self.backward.items():
            after = bisect.bisect_left(starts, stop)
            if after < len(starts) and nearest[after] < stop:
                if category != "OTHER" or self._other_reaches_back(parsed, cues, after, stop):
                    found.add(category)
        return found

    # An OTHER cue counts only when the other person does not act on the client, so its cues are
    # looked at one by one; their max scope bounds how far from the target to look.

    def _other_reaches_forward(self, parsed: _Parsed, cues: list[_Cue], before: int, first: int,
                               stop: int) -> bool:
        for cue in reversed(cues[max(0, before - 1 - (first if self.widest is None else self.widest)) : before]):
            if _scope_end(parsed, cue, True) > first and not _acts_on_client(parsed, cue, stop):
                return True
        return False

    def _other_reaches_back(self, parsed: _Parsed, cues: list[_Cue], after: int, stop: int) -> bool:
        for cue in cues[after : len(cues) if self.widest is None else after + 1 + self.widest]:
            if _scope_start(parsed, cue, True) < stop and not _acts_on_client(parsed, cue, stop):
                return True
        return False


def _running(rows: list[tuple[int, int, _Cue]], best, reverse: bool = False):  # noqa: ANN001, ANN202
    """(keys, best reach over rows up to each, cues), rows given in the order to accumulate."""
    keys = [key for key, _, _ in rows]
    reach = list(accumulate((reach for _, reach, _ in rows), best))
    cues = [cue for _, _, cue in rows]
    if reverse:
        return keys[::-1], reach[::-1], cues[::-1]
    return keys, reach, cues


def _widest(cues) -> int | None:  # noqa: ANN001 - an iterable of _Cue
    scopes = [cue.max_scope for cue in cues]
    return None if None in scopes else max(scopes, default=0)


@dataclass(slots=True)
class _Target:
    """A whole-segment target [first, stop): its first and last word, and the prefix scans made
    from its first word so far (one for OTHER cues, one for the rest), shared by its cues."""

    first_word: int
    last_word: int
    scans: dict[bool, _PrefixScan]

    @classmethod
    def of(cls, parsed: _Parsed, first: int, stop: int) -> _Target:
        first_word = next((i for i in range(first, stop) if not parsed.is_punct[i]), -1)
        last_word = next((i for i in range(stop - 1, first - 1, -1) if not parsed.is_punct[i]), -1)
        return cls(first_word, last_word, {})

    def prefix_scan(self, parsed: _Parsed, for_other: bool) -> _PrefixScan:
        if for_other not in self.scans:
            self.scans[for_other] = _PrefixScan(parsed, self.first_word, for_other)
        return self.scans[for_other]


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


def _governs_target(parsed: _Parsed, cue: _Cue, target: _Target) -> bool:
    """A cue inside a whole-segment target: does it govern the target's main content?"""
    if target.first_word < 0:
        return False
    if cue.category.endswith("_PHRASE") and cue.start > target.first_word:
        return False
    covered_start = _scope_start(parsed, cue, False) if cue.direction != "forward" else cue.start
    covered_end = _scope_end(parsed, cue, False) if cue.direction != "backward" else cue.end
    if covered_start > target.first_word and not _prefix_allows(parsed, cue, target, covered_start):
        return False
    return covered_end > target.last_word or _suffix_allows(parsed, cue, covered_end, target.last_word + 1)


def _prefix_allows(parsed: _Parsed, cue: _Cue, target: _Target, stop: int) -> bool:
    """Is `[target.first_word, stop)` only a subject or a reporting frame before the cue?"""
    start = target.first_word
    if not _in_sentence_of(parsed, cue, start, stop):
        return False
    unknown = target.prefix_scan(parsed, cue.category == "OTHER").unknown_before(stop)
    if unknown is None:
        return False
    if cue.category == "OTHER" and _after_preposition(parsed, start, stop):
        return False
    return unknown <= rules.MAX_UNKNOWN_PREFIX_WORDS


def _in_sentence_of(parsed: _Parsed, cue: _Cue, start: int, stop: int) -> bool:
    """Are tokens [start, stop) all in the cue's sentence? (Sentence numbers only grow.)"""
    sentence = parsed.sentence_of[cue.start]
    return start >= stop or parsed.sentence_of[start] == sentence == parsed.sentence_of[stop - 1]


class _PrefixScan:
    """The reading of a target from its first word on that `_prefix_allows` needs, made once
    and taken as far as the cues ask: the unknown words before each token, up to the first
    token that rules a subject or reporting frame out (a terminator, a clause opener, ...)."""

    def __init__(self, parsed: _Parsed, start: int, for_other: bool) -> None:
        self.parsed, self.start, self.for_other = parsed, start, for_other
        self.unknown_at = [0]  # unknown words in [start, start + k)
        self.failed_at: int | None = None
        self.unknown, self.started, self.skip_to_comma = 0, False, False

    def unknown_before(self, stop: int) -> int | None:
        """Unknown words in [start, stop); None when a token there rules the prefix out."""
        while self.failed_at is None and self.start + len(self.unknown_at) - 1 < stop:
            if self._read(self.start + len(self.unknown_at) - 1):
                self.unknown_at.append(self.unknown)
            else:
                self.failed_at = self.start + len(self.unknown_at) - 1
        if self.failed_at is not None and stop > self.failed_at:
            return None
        return self.unknown_at[stop - self.start]

    def _read(self, i: int) -> bool:
        """Take token i into the prefix; False when it rules the prefix out."""
        parsed, lower = self.parsed, self.parsed.lower
        word = lower[i]
        if i in parsed.stop_tokens:
            return False
        if self.skip_to_comma:
            self.skip_to_comma = word != ","
            return True
        if word in rules.CLAUSE_OPENERS or ((self.started or self.unknown) and word in {",", "and", "or"}):
            return False
        if word == "per":
            self.skip_to_comma = True
            return True
        following = lower[i + 1] if i + 1 < len(lower) else ""
        if word == "that" or (word in rules.REPORTING_WORDS and following in _FRAME_FOLLOWERS):
            self.unknown, self.started = 0, False
            return True
        if word in rules.CLIENT_SUBJECTS and (following not in _NOT_A_CLAUSE_YET or following == "and"):
            if self.for_other:  # the client acts, or acts with them ("Cl and her brother")
                return False
            self.started = following != "and"
        elif not (parsed.is_punct[i] or word in rules.SUBJECT_FRAME_WORDS or word in rules.CLIENT_SUBJECTS
                  or i in parsed.other_tokens):
            self.unknown += 1
        return True


def _after_preposition(parsed: _Parsed, start: int, stop: int) -> bool:
    i = stop - 1
    while i >= start and parsed.lower[i] in rules.POSSESSIVES:
        i -= 1
    return i >= start and parsed.lower[i] in rules.PREPOSITIONS


def _suffix_allows(parsed: _Parsed, cue: _Cue, start: int, stop: int) -> bool:
    """Is `[start, stop)` after the cue's scope only a short tail ("... per cl")?"""
    if not _in_sentence_of(parsed, cue, start, stop) or parsed.stops_before[stop] > parsed.stops_before[start]:
        return False
    return parsed.words_before[stop] - parsed.words_before[start] <= rules.MAX_SUFFIX_WORDS


def _next_decisive(lower: list[str], is_punct: list[bool], stop_tokens: set[int]) -> list[int]:
    """For each token, the first one at or after it that is a terminator, a client object or an
    object "her" (one before punctuation or a word such as "with"); len(lower) when none is."""
    found = [len(lower)] * (len(lower) + 1)
    for i in range(len(lower) - 1, -1, -1):
        her_object = lower[i] == "her" and i + 1 < len(lower) and (
            is_punct[i + 1] or lower[i + 1] in rules.OBJECT_HER_FOLLOWERS)
        decisive = i in stop_tokens or lower[i] in rules.CLIENT_OBJECTS or her_object
        found[i] = i if decisive else found[i + 1]
    return found


def _acts_on_client(parsed: _Parsed, cue: _Cue, stop: int) -> bool:
    """Does the other person act on the client ("her partner threatened her")?
    The first terminator or client object after the cue, within the target and sentence, decides;
    a "her" that ends the target is an object too."""
    end = min(stop, parsed.sentence_bounds[parsed.sentence_of[cue.start]][1])
    if cue.end >= end:
        return False
    decisive = parsed.next_decisive[cue.end]
    if decisive < end - 1:
        return decisive not in parsed.stop_tokens
    last = end - 1
    return last not in parsed.stop_tokens and (parsed.lower[last] in rules.CLIENT_OBJECTS or parsed.lower[last] == "her")
