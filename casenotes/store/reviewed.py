"""The one rule for what a reviewed result says: the latest review is the reviewer's verdict. A
correction gives the status, level or citations it names, and the machine's value stands for
whatever it leaves out; an acceptance (even after an earlier correction) stands by the machine's
value. The record, the goal standing, the FHIR export and `export-labels` all read results so."""

from __future__ import annotations

from casenotes.store.tables import Result, Review

__all__ = ["final_review", "reviewed_level", "reviewed_spans", "reviewed_status"]


def final_review(result: Result) -> Review | None:
    return result.reviews[-1] if result.reviews else None


def reviewed_status(result: Result) -> str | None:
    review = final_review(result)
    return review.status if review is not None and review.status else result.status


def reviewed_level(result: Result) -> int | None:
    review = final_review(result)
    return review.level if review is not None and review.level else result.level


def reviewed_spans(result: Result) -> list[list[int]]:
    """[[start, end], ...] of the note's text that the result rests on."""
    review = final_review(result)
    return review.citations if review is not None and review.citations is not None else result.citations
