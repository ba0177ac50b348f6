"""Expands case-note shorthand before text is embedded.

The embedding model never saw `cl`, `appt` or `SI/HI`; spelling them out brings
"Cl signed a lease" next to "the client moved into an apartment". Only the
embedding input changes: offsets always refer to the original note.
"""

from __future__ import annotations

import re

from casenotes.text.lexicon import CAPITALS_ONLY, EXPANSIONS

__all__ = ["expand_shorthand"]

# The lookahead on first characters spares `re` trying every alternative at every position
# of a long run of punctuation (seconds, with the GIL held, on a note of 100,000 "!").
_PATTERN = re.compile(
    r"(?<![\w/])(?=[" + "".join(sorted({re.escape(k[0]) for k in EXPANSIONS})) + "])"
    r"(?:" + "|".join(re.escape(k) for k in sorted(EXPANSIONS, key=len, reverse=True)) + r")(?![\w/])",
    re.IGNORECASE,
)


def _replace(match: re.Match[str]) -> str:
    word = match.group(0)
    if word.lower() in CAPITALS_ONLY and not word.isupper():
        return word
    return EXPANSIONS[word.lower()]


def expand_shorthand(text: str) -> str:
    """`text` with known case-note abbreviations spelled out (for embedding only)."""
    return _PATTERN.sub(_replace, text)
