"""Expands case-note shorthand before text is embedded.

The embedding model never saw `cl`, `appt` or `SI/HI`; spelling them out brings
"Cl signed a lease" next to "the client moved into an apartment". Only the
embedding input changes: offsets always refer to the original note.
"""

from __future__ import annotations

import re

__all__ = ["expand_shorthand"]

_EXPANSIONS = {
    "cl": "client", "clt": "client", "pt": "client", "cm": "case manager",
    "appt": "appointment", "appts": "appointments", "apt": "apartment",
    "f/u": "follow up", "w/": "with", "w/o": "without", "b/c": "because",
    "si/hi": "suicidal or homicidal ideation", "si": "suicidal ideation",
    "hi": "homicidal ideation", "dv": "domestic violence", "ipv": "intimate partner violence",
    "po": "probation officer", "ed": "emergency department", "er": "emergency room",
    "ua": "urine drug screen", "uas": "urine drug screens", "mat": "medication for addiction treatment",
    "iop": "intensive outpatient program", "od": "overdose", "od'd": "overdosed",
    "snap": "SNAP food stamps", "ebt": "EBT food benefits", "tanf": "TANF cash assistance",
    "ssi": "SSI disability income", "ssdi": "SSDI disability income",
    "hcv": "housing choice voucher", "pha": "public housing authority",
    "ged": "GED high school equivalency", "cps": "child protective services",
    "aps": "adult protective services", "ihss": "in-home supportive services",
    "hx": "history", "h/o": "history of", "dx": "diagnosis", "rx": "prescription",
    "meds": "medications", "vm": "voicemail", "txt": "text", "tx": "treatment",
    "wk": "week", "wks": "weeks", "mo": "month", "mos": "months", "yr": "year", "yrs": "years",
    "hrs": "hours", "bf": "boyfriend", "gf": "girlfriend", "ncns": "no call no show",
    "sx": "symptoms", "psych": "psychiatric", "x2": "twice", "x3": "three times",
    "psh": "permanent supportive housing", "rrh": "rapid re-housing", "ce": "coordinated entry",
    "liheap": "LIHEAP energy bill assistance", "ccap": "CCAP childcare assistance",
    "ui": "unemployment insurance", "chip": "CHIP children's health insurance",
    "fqhc": "community health clinic", "pcp": "primary care doctor", "aa": "Alcoholics Anonymous",
    "na": "Narcotics Anonymous", "cdl": "commercial driver's license", "dmv": "DMV driver's license office",
    "ssa": "Social Security office", "dcfs": "child protective services",
    "1br": "one-bedroom apartment", "2br": "two-bedroom apartment", "dss": "social services office",
}
# The lookahead on first characters spares `re` trying every alternative at every position
# of a long run of punctuation (seconds, with the GIL held, on a note of 100,000 "!").
_PATTERN = re.compile(
    r"(?<![\w/])(?=[" + "".join(sorted({re.escape(k[0]) for k in _EXPANSIONS})) + "])"
    r"(?:" + "|".join(re.escape(k) for k in sorted(_EXPANSIONS, key=len, reverse=True)) + r")(?![\w/])",
    re.IGNORECASE,
)
# Short forms that are also ordinary words ("hi", "Ed", "mo") count only in capitals.
_CAPITALS_ONLY = {"si", "hi", "po", "ed", "er", "od", "mo", "ce", "na", "ui", "aa", "chip"}


def _replace(match: re.Match[str]) -> str:
    word = match.group(0)
    if word.lower() in _CAPITALS_ONLY and not word.isupper():
        return word
    return _EXPANSIONS[word.lower()]


def expand_shorthand(text: str) -> str:
    """`text` with known case-note abbreviations spelled out (for embedding only)."""
    return _PATTERN.sub(_replace, text)
