"""Errors raised by casenotes, each with a stable code in its message.

    CasenotesError
    ├── InvalidInput        a note, plan or eval line that cannot be scored
    │   ├── NoteTooLarge    text longer than the configured limit
    │   └── InvalidPlan     unknown domain, duplicate goal id, ...
    ├── RubricError         a rubric file that does not validate
    ├── ModelError          a trained artifact that is missing or does not match
    ├── NotFound            no such client, note, flag or result (in the caller's programs)
    └── Conflict            a write that contradicts what is stored (same note id, other text)

Messages name the field, line or domain at fault and never quote note text.
"""

from __future__ import annotations

__all__ = [
    "CasenotesError",
    "Conflict",
    "InvalidInput",
    "InvalidPlan",
    "ModelError",
    "NotFound",
    "NoteTooLarge",
    "RubricError",
]


class CasenotesError(Exception):
    """Base of every error casenotes raises on purpose."""

    code = "E000"

    def __init__(self, message: str):
        super().__init__(f"[{self.code}] {message}")
        self.reason = message


class InvalidInput(CasenotesError, ValueError):
    code = "E001"


class NoteTooLarge(InvalidInput):
    code = "E002"


class InvalidPlan(InvalidInput):
    code = "E003"


class RubricError(CasenotesError, ValueError):
    code = "E010"


class ModelError(CasenotesError):
    code = "E020"


class NotFound(CasenotesError, LookupError):
    code = "E030"


class Conflict(CasenotesError):
    code = "E031"
