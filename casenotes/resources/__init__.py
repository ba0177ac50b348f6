"""What ships inside the package beside the code: the rubrics (`rubrics/`), the trained models
and their card (`models/`) and the fictional demo data (`demo/`).

Read through `importlib.resources`, so a checkout and an installed wheel find the same files."""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

__all__ = ["resource"]


def resource(*parts: str) -> Traversable:
    """A file or folder shipped here: `resource("models", "casenotes-heads.json")`."""
    return files(__name__).joinpath(*parts)
