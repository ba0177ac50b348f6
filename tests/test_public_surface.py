"""The public surface of `import casenotes`: what a caller may rely on, and that importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import casenotes

PUBLIC = [
    "Citation", "ContextLabels", "DOMAINS", "DomainResult", "FLAG_TYPES", "Flag", "Goal", "GoalResult", "InvalidInput",
    "InvalidPlan", "CasenotesError", "Conflict", "ModelError", "Note", "NoteResult", "NoteTooLarge", "NotFound",
    "Pipeline", "Plan", "RubricError", "STATUSES", "Segment",
]


def test_public_surface_is_pinned_and_sorted():
    assert casenotes.__all__ == sorted(PUBLIC)


def test_public_surface_every_name_resolves():
    for name in casenotes.__all__:
        assert getattr(casenotes, name) is not None, name


def test_public_surface_import_loads_no_model_code():
    probe = ("import sys, casenotes; heavy = [m for m in ('casenotes.pipeline', 'pydantic', 'spacy', 'torch', 'onnxruntime', "
             "'fastapi', 'sqlalchemy') if m in sys.modules]; print(heavy)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
