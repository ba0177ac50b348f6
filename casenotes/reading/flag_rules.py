"""Flag rules from the label conventions (the shared eval-format.md, beside the repository in ../shared) that context labels miss.

Each rule names segments that raise no flag of a type even where a cue of that type matches:

- `is_plan_goal_line`: a plan or goal line restates a goal; it is no report of an event
  ("Negated, hypothetical and future statements are not evidence of a change"). All types.
- `resolves`: a risk resolved, or a protective measure continuing ("APS closed the case",
  "the eviction was dismissed", "the protective order was extended"), is no new risk; flags
  are "what a supervisor must see soon". Safety, legal and housing_loss only.
- `is_confession_without_crisis`: crisis is "an acute medical or psychiatric event — overdose,
  ER visit, hospitalization, psychiatric hold"; a confession or report of use or relapse
  ("admitted he relapsed") is none of these unless a crisis sign is said too. Crisis only.

A resolution or a confession gates a type only when none of the type's rubric cues is left
once its own words are taken out: "Protective order granted after he choked her" still flags.
`casenotes.reading.flags.RULES` says which rule applies to which flag type.
"""

from __future__ import annotations

import re
from functools import cache

from casenotes.rubric import load_rubric

__all__ = ["RESOLUTION_KINDS", "is_confession_without_crisis", "is_plan_goal_line", "is_resolution"]

# "Goal 1:", "Objective 2a -", "Plan goal #3:", "Long-term goal:", "Treatment goals:", "- Goal A)".
_GOAL_LINE = re.compile(
    r"^\W*(?:(?:long|short)[- ]term |plan |treatment |service |ISP |IEP |annual |measurable |smart |client )?"
    r"(?:goal|objective)s?(?: ?#? ?\d+[a-z]?| [A-Z]\b| for (?:\w+ ){0,3}?\w+)?\s*[:.)\-–—]",
    re.IGNORECASE)

# One whole word, taken without backtracking: a long run of word characters stays linear.
_WORD = r"(?<![\w'-])[\w'-]++"
# Who closes or resolves a matter: an agency or an official ("APS", "the threat assessment team").
_ACTOR = (rf"(?:(?:(?-i:[A-Z]{{2,6}})|(?:the |her |his |their )?(?:{_WORD} ){{0,2}}"
          r"(?:team|committee|office|worker|investigator|agency|judge|court|prosecutor|DA|landlord|caseworker))\s+)?")
# What can be resolved: a case, a report, a charge, a warrant, an eviction, a lockout.
_MATTER = (r"(?:case|file|investigation|referral|report|allegations?|complaint|petition|charges?|warrants?|"
           r"citations?|tickets?|FTAs?|evictions?(?: case| filing| notice| proceedings?| hearing)?|lock[- ]?out|"
           r"notice to (?:quit|vacate)|unlawful detainer)")
_CLOSED = (r"(?:closed(?: out)?|dismissed|dropped|withdrawn|withdrew|rescinded|recalled|quashed|cleared|vacated|"
           r"resolved|expunged|sealed|cancell?ed|stopped|halted|averted|unfounded|unsubstantiated|"
           r"not substantiated|screened out|ruled out)")
_VERB_GAP = r"(?:\s+(?:was|were|has been|have been|had been|is|are|got|been|being|later|now|officially|\d\S*))*\s+"
_PROTECTIVE_ORDER = r"(?:(?:protective|restraining|no[- ]contact|stay[- ]away) order|order of protection|PFA|the order)"
_CONTINUES = (r"(?:extended|renewed|granted|made permanent|upheld|re-?issued|in place|in effect|"
              r"remains? in (?:place|effect)|still (?:active|in (?:place|effect)))")

_RESOLUTIONS = {
    "closure": re.compile(
        rf"\b(?:{_WORD}\s+){{0,2}}?{_MATTER}\b(?:\s+\w++){{0,2}}?{_VERB_GAP}{_CLOSED}\b"  # "the CPS case was closed"
        rf"|{_ACTOR}\b{_CLOSED}\s+(?:(?:the|her|his|their|its|a|an|all|both)\s+)?(?:{_WORD}\s+){{0,2}}?{_MATTER}\b"
        r"|\bcase (?:was )?closed\b",
        re.IGNORECASE),
    "protection": re.compile(
        rf"\b{_PROTECTIVE_ORDER}{_VERB_GAP}{_CONTINUES}\b"  # "the protective order was extended"
        rf"|\b{_CONTINUES}\s+(?:(?:the|her|his|their|a|an)\s+)?(?:{_WORD}\s+){{0,2}}?{_PROTECTIVE_ORDER}",
        re.IGNORECASE),
}
RESOLUTION_KINDS = tuple(_RESOLUTIONS)

# Not a hospital admission: "was admitted", "got admitted", "been admitted".
_NOT_PASSIVE = r"(?<!was )(?<!were )(?<!been )(?<!being )(?<!got )(?<!get )(?<!is )(?<!be )"
# A disclosure verb, then within a few words a use or a relapse: "admitted he relapsed",
# "reported using meth", "disclosed drinking over the weekend".
_USE_CONFESSION = re.compile(
    rf"{_NOT_PASSIVE}\b(?P<verb>admit(?:s|ted|ting)?|confess(?:es|ed|ing)?|disclos(?:es|ed|ing)|"
    r"acknowledg(?:es|ed|ing)|report(?:s|ed|ing)?|self[- ]reported|endors(?:es|ed|ing)|own(?:s|ed)? up|"
    r"came clean|told)\b"
    r"(?:\W++\w++){0,6}?\W++"
    r"(?:relaps\w*|lapse[ds]?|slip(?:ped)?|us(?:e|es|ed|ing)\b|drank|drinking|drunk|smok(?:e|ed|ing)|"
    r"got high|getting high|binge\w*|shot up|snort\w*)",
    re.IGNORECASE)
# "admitted" as a confession, not a hospital admission: "admitted that", "admitted she ...",
# "admitted to using", "admitted drinking".
_ADMITTED_AS_CONFESSION = re.compile(
    rf"{_NOT_PASSIVE}\b(?P<verb>admit(?:s|ted|ting)?)\s+(?:that|(?:he|she|they|I|we|it|cl|client)\b|to\s+\w+ing\b|"
    r"(?!during\b|following\b|pending\b|overnight\b)\w+ing\b)",
    re.IGNORECASE)


@cache
def _cue(flag_type: str) -> re.Pattern[str]:
    """The packaged rubric's cues for one flag type, as one pattern."""
    return load_rubric().flag(flag_type).any_cue


def _without(pattern: re.Pattern[str], text: str) -> str:
    """The text with the pattern's matches taken out."""
    return pattern.sub(" | ", text)


def _without_verbs(pattern: re.Pattern[str], text: str) -> str:
    """The text with the `verb` group of each match taken out, every other word kept."""
    return pattern.sub(lambda m: m.group(0).replace(m.group("verb"), " | ", 1), text)


def is_plan_goal_line(text: str, section: str | None = None) -> bool:
    """A goal restated: a segment in a note's goal section (GIRP "G:") or one that opens with a
    goal or objective label ("Goal 1:", "Long-term goal:", "Objective 2a -")."""
    return section == "goal" or bool(_GOAL_LINE.match(text))


def is_resolution(kinds: tuple[str, ...], flag_type: str, text: str) -> bool:
    """The segment holds a resolution of one of `kinds` ("closure": "APS closed the case",
    "eviction case dismissed", "warrant recalled"; "protection": "protective order extended")
    and says nothing else that would raise `flag_type`. A case opened, a notice received, a
    protective order filed against the client are no resolutions."""
    for kind in kinds:
        pattern = _RESOLUTIONS[kind]
        if pattern.search(text) and not _cue(flag_type).search(_without(pattern, text)):
            return True
    return False


def is_confession_without_crisis(text: str) -> bool:
    """A confession or report of use ("admitted he relapsed", "disclosed drinking") with no crisis
    sign left besides it: "relapsed and was found unresponsive" is still crisis."""
    if not (_USE_CONFESSION.search(text) or _ADMITTED_AS_CONFESSION.search(text)):
        return False
    rest = _without_verbs(_ADMITTED_AS_CONFESSION, _without_verbs(_USE_CONFESSION, text))
    return not _cue("crisis").search(rest)
