"""Cue lexicons for the direction of a statement and for the shape of a goal.

These are features, not decisions: the trained heads weigh them beside the
embeddings. Patterns are case-insensitive and word-bounded.
"""

from __future__ import annotations

import re

__all__ = [
    "DIRECTION_CUES",
    "agency",
    "change_marks",
    "change_polarity",
    "concerns_family",
    "content_words",
    "count_against_target",
    "cue_counts",
    "goal_action_done",
    "is_ongoing_goal",
    "reduces_problem",
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


# -- polarity: whether what rose or fell is a problem or a strength --------------------------
# A problem that rose is a setback and a strength that rose is progress: the same "increased"
# points two ways. These name the change and the kind of thing that changed; the heads weigh them.
_RISE = re.compile(
    r"\b(?:increas(?:e|ed|es|ing)|rose|risen|rising|went up|gone up|up (?:from|to)|higher|doubled|"
    r"tripled|escalat\w*|spik(?:e|ed|es|ing)|more (?:often|frequent\w*))\b", re.IGNORECASE)
_FALL = re.compile(
    r"\b(?:decreas(?:e|ed|es|ing)|fell|fallen|falling|dropped|went down|gone down|down (?:from|to)|"
    r"lower(?:ed)?|fewer|less (?:often|frequent\w*)|reduc(?:e|ed|es|ing|tion)|declin(?:e|ed|es|ing)|halved|"
    r"cut (?:down|back))\b", re.IGNORECASE)
_PROBLEM = re.compile(
    r"\b(?:aggress\w*|tantrums?|meltdowns?|outbursts?|self[- ]injur\w*|SIBs?|head[- ]?bang\w*|hitting|biting|"
    r"kicking|elop\w*|property destruction|disrupti\w*|refusals?|non-?complian\w*|incidents?|absen\w*|"
    r"tardies|tardy|truan\w*|suspensions?|write[- ]?ups?|use|using|drinking|drinks|cravings?|relaps\w*|"
    r"symptoms?|panic|anxiety|nightmares?|flashbacks?|hallucinat\w*|paranoi\w*|isolat\w*|debts?|arrears|"
    r"owe[sd]?|late fees?|no[- ]shows?|ER visits?|hospitali[sz]ations?|pain|falls|blood pressure|A1c|PHQ\S*|"
    r"GAD\S*|cigarettes|vaping|conflicts?|fights?|arguments?|crying|episodes?)\b", re.IGNORECASE)
_REDUCING_GOAL = re.compile(
    r"\b(?:reduc\w*|decreas\w*|lower|eliminat\w*|stop\w*|quit\w*|cease|avoid\w*|abstain\w*|abstinen\w*|"
    r"sobriety|sober|refrain\w*|prevent\w*|fewer|less|no more|zero|free (?:of|from)|stay out of|"
    r"no new)\b", re.IGNORECASE)


def reduces_problem(goal_text: str) -> bool:
    """A goal that aims to bring a problem down ("Reduce tantrums", "Remain abstinent"): for it a
    problem that fell, or a problem denied, is progress."""
    return bool(_REDUCING_GOAL.search(goal_text))


def change_marks(segment_text: str) -> list[float]:
    """Three values: the segment reports a rise, a fall, and names a problem."""
    return [bool(_RISE.search(segment_text)), bool(_FALL.search(segment_text)),
            bool(_PROBLEM.search(segment_text))]


def change_polarity(marks: list[float] | tuple[float, ...], problem_goal: bool) -> list[float]:
    """Six values from `change_marks`: a rise and a fall, each under a problem goal and under
    any other goal, and a rise and a fall of a problem the segment names (whatever the goal)."""
    rise, fall, problem = (bool(m) for m in marks)
    return [rise and problem_goal, fall and problem_goal, rise and not problem_goal, fall and not problem_goal,
            rise and problem, fall and problem]


# -- agency: who acted. The client's own steps count; what staff did or suggested does not. ----
_HEADER = r"^\W*(?:[A-Za-z]{1,12}\s*:\s*)?"
_STAFF = (r"(?:i|we|writer|this writer|this worker|worker|cm|case ?manager|staff|sw|social worker|clinician|"
          r"therapist|counsel?or|advocate|navigator|officer|po|rbt|bt|bcba|tech(?:nician)?|peer(?: specialist)?|"
          r"specialist|team|provider|nurse|rn|investigator|cps|school)")
_STAFF_SUBJECT = re.compile(_HEADER + _STAFF + r"\b(?!\s*:)", re.IGNORECASE)
_STAFF_VERB_FIRST = re.compile(
    _HEADER + r"(?:provided|referred|assisted|helped|scheduled|gave|drove|transported|faxed|called|"
    r"emailed|mailed|texted|completed (?:a |the )?referral|connected|linked|arranged|coordinated|"
    r"contacted|left (?:a )?(?:vm|voicemail|message)|reviewed|discussed|explained|educated|encouraged|"
    r"suggested|recommended|advised|reminded|prompted|modeled|praised|delivered|dropped off|set up|"
    r"obtained releases?)\b", re.IGNORECASE)
_SUGGESTION = re.compile(
    r"\b(?:encourag\w*|suggest\w*|recommend\w*|advis\w*|prompt\w*|remind\w*|educat\w*|explor\w*|"
    r"process(?:ed|ing)|offer\w*|prais\w*|model(?:ed|led|ing)|coach\w*|urged|will|plans? to|"
    r"planning to|going to|agreed to)\b", re.IGNORECASE)
_CLIENT_SUBJECT = re.compile(
    _HEADER + r"(?:cl|client|pt|patient|she|he|they|youth|member|participant|resident|consumer|student|"
    r"mother|father|mom|dad|parent|guest|individual|mr\.?|ms\.?|mrs\.?)\b(?!\s*:)", re.IGNORECASE)


def agency(segment_text: str) -> list[float]:
    """Four values: staff is the subject, the segment opens on a staff action with its subject
    dropped, it suggests or plans rather than reports, the client is the subject."""
    return [bool(_STAFF_SUBJECT.search(segment_text)), bool(_STAFF_VERB_FIRST.search(segment_text)),
            bool(_SUGGESTION.search(segment_text)), bool(_CLIENT_SUBJECT.search(segment_text))]


# -- counts against a goal's target: "8 elopements" against "2 or fewer a week" is a setback,
# "attended all 8 sessions" against "Attend 8 sessions" meets it. Dollars and hours are
# `target_ratio`'s; dates, times and money are not counts. ------------------------------------
_NUMBER_WORDS = {"no": 0, "zero": 0, "none": 0, "once": 1, "one": 1, "twice": 2, "two": 2, "three": 3, "four": 4,
                 "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
_NUMBER = r"(?<![\d/:$.,])(\d{1,4})(?![\d/:]|\.\d|,\d)"
_AT_MOST = re.compile(
    rf"(?:{_NUMBER}\s*(?:\w+\s+){{0,3}}?or (?:fewer|less)|no more than {_NUMBER}|at most {_NUMBER}|"
    rf"(?:fewer|less) than {_NUMBER}|(?:below|under) {_NUMBER})", re.IGNORECASE)
_AT_LEAST = re.compile(
    rf"(?:at least {_NUMBER}|{_NUMBER}\s*(?:\+|or more)|minimum of {_NUMBER}|all {_NUMBER})", re.IGNORECASE)
_COUNTED = re.compile(rf"{_NUMBER}\s+((?:[a-z-]+\s+){{0,2}}[a-z-]+)", re.IGNORECASE)
_OUT_OF = re.compile(rf"{_NUMBER}\s*(?:of|/|out of)\s*{_NUMBER}(?![\d/:])", re.IGNORECASE)
_PERCENT = re.compile(rf"{_NUMBER}\s*%")
_SEGMENT_COUNT = re.compile(
    rf"{_NUMBER}|\b(?:{'|'.join(_NUMBER_WORDS)})\b", re.IGNORECASE)
_UNITS = ("time", "session", "meeting", "class", "visit", "day", "appointment", "appt", "application", "interview",
          "credit", "module", "assignment", "trial", "incident", "episode", "referral", "odr", "absence", "tard",
          "shift", "drink", "night", "job", "group", "contact")


def _is_unit(word: str) -> bool:
    return word.lower().startswith(_UNITS)


def _first_number(match: re.Match[str]) -> int:
    return int(next(group for group in match.groups() if group is not None))


def _goal_targets(goal_text: str) -> tuple[int | None, int | None, float | None]:
    """The goal's upper limit on a count, its count to reach, and its share to reach (0-1)."""
    at_most = _AT_MOST.search(goal_text)
    upper = _first_number(at_most) if at_most else None
    if at_most and re.match(r"(?:fewer|less) than|below|under", at_most.group(0), re.IGNORECASE):
        upper = max(0, upper - 1)
    share = None
    if (out_of := _OUT_OF.search(goal_text)) and int(out_of.group(2)) > 0:
        share = int(out_of.group(1)) / int(out_of.group(2))
    elif percent := _PERCENT.search(goal_text):
        share = int(percent.group(1)) / 100
    lower = None
    if upper is None and share is None:
        at_least = _AT_LEAST.search(goal_text)
        counted = next((m for m in _COUNTED.finditer(goal_text) if any(map(_is_unit, m.group(2).split()))), None)
        lower = _first_number(at_least) if at_least else int(counted.group(1)) if counted else None
    return upper, lower, share


def _segment_counts(segment_text: str, goal_words: frozenset[str]) -> tuple[list[int], list[float]]:
    """Counts in the segment next to a word of the goal, and its shares ("3 of 4", "70%")."""
    out_of = list(_OUT_OF.finditer(segment_text))
    shares = [int(m.group(1)) / int(m.group(2)) for m in out_of if int(m.group(2)) > 0]
    shares += [int(m.group(1)) / 100 for m in _PERCENT.finditer(segment_text)]
    totals = {m.start(2) for m in out_of}  # "3 of 6": the count is 3, not 6
    counts = []
    goal_prefixes = _prefixes(goal_words)
    lowered = segment_text.lower()
    for match in _SEGMENT_COUNT.finditer(lowered):
        if match.start() in totals:
            continue
        value = int(match.group(1)) if match.group(1) else _NUMBER_WORDS[match.group(0)]
        near = _WORD.findall(lowered[max(0, match.start() - 30):match.end() + 30])
        if _prefixes(near) & goal_prefixes:
            counts.append(value)
    return counts, shares


_PERIODS = ("week", "month", "day", "year", "time", "hour", "hrs", "night")


def _prefixes(words) -> set[str]:
    """Four-letter prefixes of the words that name a thing counted ("meetings", "meeting" and
    "meet" agree; the misspelled and the inflected mostly do), leaving out spans of time."""
    return {w[:4] for w in words if len(w) >= 4 and not w.startswith(_PERIODS)}


def count_against_target(goal_text: str, segment_text: str) -> list[float]:
    """Four values: a count in the segment reaches the goal's count or share, falls short of it,
    goes over the goal's upper limit, stays within it. All 0 when the goal sets no count."""
    upper, lower, share = _goal_targets(goal_text)
    if upper is None and lower is None and share is None:
        return [0.0, 0.0, 0.0, 0.0]
    counts, shares = _segment_counts(segment_text, content_words(goal_text))
    if share is not None:
        reached, short = any(s >= share for s in shares), any(s < share for s in shares)
    elif lower is not None:
        reached, short = any(c >= lower for c in counts), any(c < lower for c in counts)
    else:
        reached = short = False
    over = upper is not None and any(c > upper for c in counts)
    within = upper is not None and any(c <= upper for c in counts)
    return [float(reached), float(short and not reached), float(over), float(within and not over)]
