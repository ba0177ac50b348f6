"""Cue lexicons for the direction of a statement and for the shape of a goal.

These are features, not decisions: the trained heads weigh them beside the
embeddings. Patterns are case-insensitive and word-bounded.
"""

from __future__ import annotations

import re

__all__ = [
    "DIRECTION_CUES",
    "content_words",
    "cue_counts",
    "is_ongoing_goal",
]

DIRECTION_CUES: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern, re.IGNORECASE)
    for name, pattern in {
        "achieved": (
            r"\b(?:completed|graduated|finished|obtained|received (?:her|his|their)?\s*"
            r"(?:keys|certificate|diploma|license|id|card)|got (?:the|her|his) keys|moved in(?:to)?|"
            r"signed (?:a|the|her|his) lease|approved|awarded|passed|hired|started (?:work|the job|her new job|his new job)|"
            r"goal (?:met|achieved|complete)|achieved|now has (?:a|her|his)|paid (?:off|in full)|"
            r"reunified|closed out|issued|enrolled|earned)\b"
        ),
        "improving": (
            r"\b(?:submitted|applied|turned in|attended|went to|showed up|kept (?:her|his|the) appt|"
            r"scheduled|started|began|enrolled|signed up|registered|completed \w+ of|"
            r"clean|sober|negative (?:ua|uda|drug screen)|improv\w*|progress\w*|increased|better|"
            r"reduced|down to|saved|paid|interview\w*|call(?:ed)? back|follow(?:ed)? through|"
            r"picked up|compliant|adherent|taking (?:her|his) meds|resumed|restarted|reconnected|"
            r"gathered|obtained|secured|received|got)\b"
        ),
        "worsening": (
            r"\b(?:lost|relaps\w*|used|missed|no[- ]show\w*|fired|laid off|let go|evict\w*|"
            r"denied|terminated|cut off|sanction\w*|arrest\w*|violat\w*|worse\w*|declin\w*|"
            r"dropped out|quit|behind on|late on|owes|overdue|shut ?off|positive (?:ua|uda|for)|"
            r"hospitali[sz]ed|setback|stopped taking|ran out|kicked out|barrier|fell|struggl\w*|"
            r"increased (?:use|drinking)|unable)\b"
        ),
        "no_change": (
            r"\b(?:still|waiting|pending|no update|no change|no progress|not yet|has(?:n't| not) yet|"
            r"remains?|continu\w*|same as|on hold|waitlist\w*|awaiting|ongoing|in process)\b"
        ),
    }.items()
}

_ONGOING_GOAL = re.compile(
    r"\b(?:weekly|daily|monthly|each|every|per (?:week|month|day)|\d+\s*x\s*/?\s*(?:wk|week|month)|"
    r"maintain\w*|continue\w*|comply|compliance|remain\w*|stay\w*|keep\w*|attend\w*|"
    r"consistently|ongoing|regularly|sobriety|abstinen\w*)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z0-9$]+(?:'[a-z]+)?")
_STOPWORDS = frozenset(
    "a an the and or of to for in on at by with from as is are was were be been being "
    "this that these those it its his her their she he they them cl client pt will would "
    "can could should may might must has have had do does did not no yes by into per "
    "about than then so if but also all any each every least more most other some such "
    "only own same too very just now up out over under again further once".split()
)


def cue_counts(text: str) -> dict[str, int]:
    """How many cues of each direction the text contains."""
    return {name: len(pattern.findall(text)) for name, pattern in DIRECTION_CUES.items()}


def is_ongoing_goal(goal_text: str) -> bool:
    """An ongoing goal ("attend 3 AA meetings weekly") is never achieved by one note."""
    return bool(_ONGOING_GOAL.search(goal_text))


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> frozenset[str]:
    """Crude stems of the words that carry meaning, for lexical overlap."""
    return frozenset(_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOPWORDS and len(w) > 2)
