"""Cue lexicons for the direction of a statement and for the shape of a goal.

These are features, not decisions: the trained heads weigh them beside the
embeddings. Patterns are case-insensitive and word-bounded.
"""

from __future__ import annotations

import re

__all__ = [
    "DIRECTION_CUES",
    "concerns_family",
    "content_words",
    "cue_counts",
    "goal_action_done",
    "is_ongoing_goal",
    "target_ratio",
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


# What completing a goal's leading verb looks like in a note.
_DONE_FORMS = {
    "obtain": r"obtained|got|received|approved|hired|secured|issued|awarded|started",
    "get": r"got|received|obtained|approved|hired|started",
    "find": r"found|got|hired|secured|signed",
    "secure": r"secured|signed|got|obtained|approved|moved in",
    "move": r"moved|got (?:the|her|his|their) keys|move-in|moved in",
    "sign": r"signed",
    "submit": r"submitted|filed|turned in|sent|faxed|mailed|uploaded|applied|completed",
    "apply": r"applied|submitted|filed|turned in",
    "complete": r"completed|finished|graduated|passed|done|submitted",
    "finish": r"finished|completed|graduated",
    "pass": r"passed",
    "enroll": r"enrolled|started|registered|signed up|approved",
    "start": r"started|began|enrolled",
    "reinstate": r"reinstated|restored|renewed|approved|active",
    "restore": r"restored|reinstated|back on",
    "renew": r"renewed|recertified|approved",
    "recertify": r"recertified|renewed|approved",
    "resolve": r"resolved|cleared|paid|dismissed|recalled|approved",
    "clear": r"cleared|recalled|dismissed|resolved|quashed|lifted",
    "pay": r"paid",
    "save": r"saved|savings",
    "open": r"opened",
    "establish": r"established|saw|started|set up|assigned",
    "reunify": r"reunified|returned home|came home|trial home visit",
    "earn": r"earned|passed|received",
    "reduce": r"reduced|down to|cut",
    "maintain": r"maintained|kept|still",
    "attend": r"attended|went to|made it to|kept",
}
_DONE_PATTERNS = {verb: re.compile(rf"\b(?:{forms})\b", re.IGNORECASE) for verb, forms in _DONE_FORMS.items()}
_FAMILY = re.compile(r"\b(?:child|children|kids?|son|daughter|baby|infant|toddler|family|sons|daughters|youth)\b",
                     re.IGNORECASE)
# Hours start only where a run of digits starts, and take their digits whole: tried at every
# digit of a long run, the pattern was quadratic (16,000 digits took 11 s). The same matches.
_AMOUNT = re.compile(r"\$\s?(\d[\d,]*(?:\.\d+)?)|(?<!\d)(\d++(?:\.\d+)?+)\s*(?:hrs?|hours)\b", re.IGNORECASE)


def goal_action_done(goal_text: str, segment_text: str) -> bool:
    """Does the segment report the goal's leading verb as done ("Submit ..." -> "submitted")?"""
    words = _WORD.findall(goal_text.lower())
    verb = next((w for w in words[:3] if w in _DONE_FORMS), None)
    if verb is None:
        return False
    return bool(_DONE_PATTERNS[verb].search(segment_text))


def concerns_family(goal_text: str) -> bool:
    """A goal about the client's children or family: their news is the client's evidence."""
    return bool(_FAMILY.search(goal_text))


def _amounts(text: str) -> tuple[list[float], list[float]]:
    dollars, hours = [], []
    for match in _AMOUNT.finditer(text):
        if match.group(1):
            dollars.append(float(match.group(1).replace(",", "")))
        else:
            hours.append(float(match.group(2)))
    return dollars, hours


def target_ratio(goal_text: str, segment_text: str) -> float:
    """Largest amount in the segment over the goal's target, in the same unit ($ or hours);
    0 when either has none. Below 1 the target is not met yet."""
    goal_dollars, goal_hours = _amounts(goal_text)
    if not (goal_dollars or goal_hours):
        return 0.0
    seg_dollars, seg_hours = _amounts(segment_text)
    for target, found in ((goal_dollars, seg_dollars), (goal_hours, seg_hours)):
        if target and found and max(target) > 0:
            return min(2.0, max(found) / max(target))
    return 0.0
