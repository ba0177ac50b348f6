"""Which segments may raise a flag of each type: one rule table per flag type.

Every type shares the context gating (a hypothetical, historical or someone else's statement
raises nothing; a negated one neither) and the goal-line rule. What differs by type is in
`RULES`, from the label conventions of the shared eval-format.md:

- safety: a resolution or a protection continuing silences it ("APS closed the case",
  "protective order extended"); what an intimate partner does (drives by, threatens) is the
  client's safety, not someone else's.
- crisis: a confession of use without a crisis sign ("admitted he relapsed") is no crisis.
- housing_loss: a resolution silences it ("eviction case dismissed").
- legal: a resolution silences it ("warrant recalled"); an old warrant found now is a flag
  however old it is.
- disengagement: it is said with negations ("no answer", "did not show"), so a negated segment
  whose own cue matches still raises it, unless what is negated is the missing itself
  ("has not missed any appts").

A flag type with no entry gets the shared gating alone: a new type is one rubric entry and,
at most, one line here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from casenotes.reading.flag_rules import is_confession_without_crisis, is_plan_goal_line, is_resolution
from casenotes.schema import ContextLabels

__all__ = ["RULES", "FlagRules", "flag_is_gated", "resolves", "rule_gates"]

_NOTHING_MISSED = re.compile(
    r"\b(?:no|not|never|without|n't|zero|0)\b(?:\s+\w+){0,3}?\s+(?:missed|miss|no[- ]?shows?|absences?)\b",
    re.IGNORECASE)
_WARRANT_FOUND_NOW = re.compile(
    r"\b(?:active|outstanding|open|new(?:ly)?|found|came back|showed|discovered|turned up|flagged)\b"
    r".{0,60}\bwarrants?\b|\bwarrants?\b.{0,40}\b(?:active|outstanding|still open|found)\b",
    re.IGNORECASE)
_INTIMATE_PARTNER = re.compile(
    r"\b(?:ex|ex-(?:boyfriend|girlfriend|husband|wife|partner)|boyfriend|girlfriend|bf|gf|partner|husband|"
    r"wife|spouse|abuser|baby'?s? (?:father|dad|mother|mom))\b",
    re.IGNORECASE)

Silencer = Callable[[str], bool]                                   # segment text -> no flag
ContextException = Callable[[ContextLabels, str, bool], ContextLabels]  # (context, text, cue hit) -> context
NegationRule = Callable[[ContextLabels, str, bool], bool]          # (context, text, cue hit) -> gated


def _negated(context: ContextLabels, text: str, cue_hit: bool) -> bool:
    return context.negated


def _negated_unless_own_cue(context: ContextLabels, text: str, cue_hit: bool) -> bool:
    return bool(_NOTHING_MISSED.search(text)) or (context.negated and not cue_hit)


def _warrant_found_now(context: ContextLabels, text: str, cue_hit: bool) -> ContextLabels:
    if context.historical and cue_hit and _WARRANT_FOUND_NOW.search(text):
        return context.model_copy(update={"historical": False})
    return context


def _intimate_partner(context: ContextLabels, text: str, cue_hit: bool) -> ContextLabels:
    if context.other_experiencer and _INTIMATE_PARTNER.search(text):
        return context.model_copy(update={"other_experiencer": False})
    return context


@dataclass(frozen=True)
class FlagRules:
    """What one flag type adds to the shared gating."""

    resolved_by: tuple[str, ...] = ()  # kinds of resolution (flag_rules.RESOLUTION_KINDS) that silence it
    silencers: tuple[Silencer, ...] = ()
    context_exceptions: tuple[ContextException, ...] = ()
    negation: NegationRule = _negated


RULES: dict[str, FlagRules] = {
    "safety": FlagRules(resolved_by=("closure", "protection"), context_exceptions=(_intimate_partner,)),
    "crisis": FlagRules(silencers=(is_confession_without_crisis,)),
    "housing_loss": FlagRules(resolved_by=("closure",)),
    "legal": FlagRules(resolved_by=("closure",), context_exceptions=(_warrant_found_now,)),
    "disengagement": FlagRules(negation=_negated_unless_own_cue),
}


def rule_gates(flag_type: str, text: str, section: str | None = None) -> bool:
    """Does a goal line, a resolution of the type or one of its silencers silence this segment?"""
    if is_plan_goal_line(text, section) or resolves(flag_type, text):
        return True
    return any(silences(text) for silences in RULES.get(flag_type, FlagRules()).silencers)


def resolves(flag_type: str, text: str) -> bool:
    """Does the segment resolve a risk of `flag_type`, by a kind of resolution its rules name?"""
    return is_resolution(RULES.get(flag_type, FlagRules()).resolved_by, flag_type, text)


def flag_is_gated(flag_type: str, context: ContextLabels, text: str, cue_hit: bool,
                  section: str | None = None) -> bool:
    """May this segment not raise a flag of `flag_type`? The goal-line rule and the type's
    silencers, then the context gating with the type's exceptions and negation rule."""
    if rule_gates(flag_type, text, section):
        return True
    rules = RULES.get(flag_type, FlagRules())
    for exception in rules.context_exceptions:
        context = exception(context, text, cue_hit)
    if context.hypothetical or context.historical or context.other_experiencer:
        return True
    return rules.negation(context, text, cue_hit)
