"""casenotes: reads case notes on arrival and scores them against a client's plan and a rubric.

    from casenotes import Goal, Pipeline, Plan

    pipeline = Pipeline.load()          # the packaged model, rubric and goal reader
    result = pipeline.score("Cl signed a lease today.",
                            Plan(goals=(Goal(goal_id="G1", text="Sign a lease", domain="housing"),)))

The names below are the public surface; everything else may move between releases.
Each is imported on first use, so that `import casenotes` (and so every command that needs
no model, such as `casenotes token create`) loads neither pydantic, spaCy nor an encoder.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from casenotes.errors import (
        CasenotesError,
        Conflict,
        InvalidInput,
        InvalidPlan,
        ModelError,
        NoteTooLarge,
        NotFound,
        RubricError,
    )
    from casenotes.pipeline import Pipeline
    from casenotes.schema import (
        DOMAINS,
        FLAG_TYPES,
        STATUSES,
        Citation,
        ContextLabels,
        DomainResult,
        Flag,
        Goal,
        GoalResult,
        Note,
        NoteResult,
        Plan,
        Segment,
    )

__version__ = "0.1.0"

__all__ = [
    "CasenotesError",
    "Citation",
    "Conflict",
    "ContextLabels",
    "DOMAINS",
    "DomainResult",
    "FLAG_TYPES",
    "Flag",
    "Goal",
    "GoalResult",
    "InvalidInput",
    "InvalidPlan",
    "ModelError",
    "NotFound",
    "Note",
    "NoteResult",
    "NoteTooLarge",
    "Pipeline",
    "Plan",
    "RubricError",
    "STATUSES",
    "Segment",
]


# Where the public names live, lightest first; each module's own __all__ says what it holds.
_HOMES = ("casenotes.errors", "casenotes.schema", "casenotes.pipeline")


def __getattr__(name: str) -> Any:
    """Each public name is imported from its home on first use."""
    if name in __all__:
        for home in _HOMES:
            module = importlib.import_module(home)
            if name in module.__all__:
                return getattr(module, name)
    raise AttributeError(f"module 'casenotes' has no attribute {name!r}")
