"""Scope decisions for `casenotes.text.context`: does a cue govern a target?

Given one parsed text (its tokens, sentences, cues and terminators, defined here as
`Parsed` and `Cue`), this module decides where each cue's scope starts and ends, which
cue categories outside a target reach into it, whether a cue inside a whole-segment
target governs its main content (only a short subject, reporting frame or tail lies
outside the cue's scope), and whether another person named by a cue acts on the client
("her partner threatened her"), which keeps the statement about the client.
"""

from __future__ import annotations

import bisect
import operator
from dataclasses import dataclass
from itertools import accumulate

from casenotes.text import context_rules as rules

_NOT_A_CLAUSE_YET = rules.REPORTING_WORDS | {"and", "or", "'s", "/", ",", "’s"}
_FRAME_FOLLOWERS = rules.CLIENT_SUBJECTS | {"that", "to", "her", "his", "their"}


@dataclass(frozen=True, slots=True)
class Cue:
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
class Parsed:
    """One tokenized text with its cues, terminators and sentences."""

    lower: list[str]
    is_punct: list[bool]
    token_start: list[int]
    token_end: list[int]
    sentence_of: list[int]
    sentence_bounds: list[tuple[int, int]]
    cues: list[Cue]
    stop_begins: dict[str, list[int]]  # per cue family, where its terminators begin
    stop_ends: dict[str, list[int]]  # ... and where they end
    stop_tokens: set[int]  # tokens inside a general terminator
    other_tokens: set[int]  # tokens inside a family/other-person cue
    threat_sentences: set[int]
    words_before: list[int]  # non-punctuation tokens before each token offset (one entry more than tokens)
    stops_before: list[int]  # ... and tokens inside a general terminator
    next_decisive: list[int]  # the first token at or after each one that `acts_on_client` stops at
    longest_cue: int
    reach: Reach | None = None


@dataclass(slots=True)
class Reach:
    """Per cue category, how far outside themselves its cues reach, so that whether a cue
    before a target reaches into it (or one after it reaches back) takes a bisection,
    not a look at every cue of the sentence."""

    forward: dict[str, tuple[list[int], list[int], list[Cue]]]  # cue ends, furthest scope end so far, cues
    backward: dict[str, tuple[list[int], list[int], list[Cue]]]  # cue starts, nearest scope start from here on
    widest: int | None  # the largest max scope of an OTHER cue (None: one is unlimited)

    @classmethod
    def of(cls, parsed: Parsed) -> Reach:
        forward: dict[str, list[tuple[int, int, Cue]]] = {}
        backward: dict[str, list[tuple[int, int, Cue]]] = {}
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

    def into(self, parsed: Parsed, first: int, stop: int) -> set[str]:
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

    def _other_reaches_forward(self, parsed: Parsed, cues: list[Cue], before: int, first: int,
                               stop: int) -> bool:
        for cue in reversed(cues[max(0, before - 1 - (first if self.widest is None else self.widest)) : before]):
            if _scope_end(parsed, cue, True) > first and not acts_on_client(parsed, cue, stop):
                return True
        return False

    def _other_reaches_back(self, parsed: Parsed, cues: list[Cue], after: int, stop: int) -> bool:
        for cue in cues[after : len(cues) if self.widest is None else after + 1 + self.widest]:
            if _scope_start(parsed, cue, True) < stop and not acts_on_client(parsed, cue, stop):
                return True
        return False


def _running(rows: list[tuple[int, int, Cue]], best, reverse: bool = False):
    """(keys, best reach over rows up to each, cues), rows given in the order to accumulate."""
    keys = [key for key, _, _ in rows]
    reach = list(accumulate((reach for _, reach, _ in rows), best))
    cues = [cue for _, _, cue in rows]
    if reverse:
        return keys[::-1], reach[::-1], cues[::-1]
    return keys, reach, cues


def _widest(cues) -> int | None:
    scopes = [cue.max_scope for cue in cues]
    return None if None in scopes else max(scopes, default=0)


@dataclass(slots=True)
class Target:
    """A whole-segment target [first, stop): its first and last word, and the prefix scans made
    from its first word so far (one for OTHER cues, one for the rest), shared by its cues."""

    first_word: int
    last_word: int
    scans: dict[bool, _PrefixScan]

    @classmethod
    def of(cls, parsed: Parsed, first: int, stop: int) -> Target:
        first_word = next((i for i in range(first, stop) if not parsed.is_punct[i]), -1)
        last_word = next((i for i in range(stop - 1, first - 1, -1) if not parsed.is_punct[i]), -1)
        return cls(first_word, last_word, {})

    def prefix_scan(self, parsed: Parsed, for_other: bool) -> _PrefixScan:
        if for_other not in self.scans:
            self.scans[for_other] = _PrefixScan(parsed, self.first_word, for_other)
        return self.scans[for_other]


def _scope_end(parsed: Parsed, cue: Cue, limited: bool) -> int:
    """Where a cue's forward scope ends: sentence end, a terminator, or its max scope."""
    end = parsed.sentence_bounds[parsed.sentence_of[cue.start]][1]
    begins = parsed.stop_begins[cue.family]
    at = bisect.bisect_left(begins, cue.end)
    if at < len(begins):
        end = min(end, begins[at])
    return min(end, cue.end + cue.max_scope) if limited and cue.max_scope is not None else end


def _scope_start(parsed: Parsed, cue: Cue, limited: bool) -> int:
    """Where a cue's backward scope starts: sentence start, a terminator, or its max scope."""
    start = parsed.sentence_bounds[parsed.sentence_of[cue.start]][0]
    ends = parsed.stop_ends[cue.family]
    at = bisect.bisect_right(ends, cue.start)
    if at:
        start = max(start, ends[at - 1])
    return max(start, cue.start - cue.max_scope) if limited and cue.max_scope is not None else start


def governs_target(parsed: Parsed, cue: Cue, target: Target) -> bool:
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


def _prefix_allows(parsed: Parsed, cue: Cue, target: Target, stop: int) -> bool:
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


def _in_sentence_of(parsed: Parsed, cue: Cue, start: int, stop: int) -> bool:
    """Are tokens [start, stop) all in the cue's sentence? (Sentence numbers only grow.)"""
    sentence = parsed.sentence_of[cue.start]
    return start >= stop or parsed.sentence_of[start] == sentence == parsed.sentence_of[stop - 1]


class _PrefixScan:
    """The reading of a target from its first word on that `_prefix_allows` needs, made once
    and taken as far as the cues ask: the unknown words before each token, up to the first
    token that rules a subject or reporting frame out (a terminator, a clause opener, ...)."""

    def __init__(self, parsed: Parsed, start: int, for_other: bool) -> None:
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


def _after_preposition(parsed: Parsed, start: int, stop: int) -> bool:
    i = stop - 1
    while i >= start and parsed.lower[i] in rules.POSSESSIVES:
        i -= 1
    return i >= start and parsed.lower[i] in rules.PREPOSITIONS


def _suffix_allows(parsed: Parsed, cue: Cue, start: int, stop: int) -> bool:
    """Is `[start, stop)` after the cue's scope only a short tail ("... per cl")?"""
    if not _in_sentence_of(parsed, cue, start, stop) or parsed.stops_before[stop] > parsed.stops_before[start]:
        return False
    return parsed.words_before[stop] - parsed.words_before[start] <= rules.MAX_SUFFIX_WORDS


def next_decisive(lower: list[str], is_punct: list[bool], stop_tokens: set[int]) -> list[int]:
    """For each token, the first one at or after it that is a terminator, a client object or an
    object "her" (one before punctuation or a word such as "with"); len(lower) when none is."""
    found = [len(lower)] * (len(lower) + 1)
    for i in range(len(lower) - 1, -1, -1):
        her_object = lower[i] == "her" and i + 1 < len(lower) and (
            is_punct[i + 1] or lower[i + 1] in rules.OBJECT_HER_FOLLOWERS)
        decisive = i in stop_tokens or lower[i] in rules.CLIENT_OBJECTS or her_object
        found[i] = i if decisive else found[i + 1]
    return found


def acts_on_client(parsed: Parsed, cue: Cue, stop: int) -> bool:
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
