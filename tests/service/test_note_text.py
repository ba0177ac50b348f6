"""A note to be stored must hold a visible character: an empty note, or one of only
whitespace, control characters or invisible format characters (zero-width space and
joiners, word joiner, byte-order mark, soft hyphen, direction marks), is a 422 on POST and
on PUT, and nothing is stored. The pipeline itself still gives such a note a defined result."""

from __future__ import annotations

import pytest

from casenotes.errors import InvalidInput
from casenotes.pipeline import check_note_text
from tests.service.conftest import PROGRAM_A

BLANK = {
    "empty": "",
    "spaces": "   ",
    "newline and tab": "\n\t",
    "control characters": "\x01\x02",
    "zero-width space": "\u200b",
    "byte-order mark and joiners": "\ufeff\u200c\u200d\u2060",
    "soft hyphen and direction marks": "\u00ad\u200e\u200f",
    "unicode spaces and separators": "\u00a0\u2003\u3000\u2028\u2029\x85",
    "all of them": " \r\n\x0b\x0c\x1f\x7f\u200b\u00a0 ",
}
VISIBLE = {
    "one letter": "x",
    "a word among invisibles": "\u200b\u00a0Cl seen\x01",
    "a combining mark": "\u0301",
    "an emoji": "\U0001f600",
}
REASON = "note text is empty or holds only whitespace, control or invisible format characters"
PLAN = {"goals": [{"goal_id": "G1", "text": "Move into permanent housing by June 30", "domain": "housing"}]}
NOTE = "D: Cl signed a lease for a 1BR on Elm St today. P: f/u on deposit."


@pytest.fixture
def pipeline(fake_pipeline):
    """The fake one: no test here checks what a note says, so none loads the real model."""
    return fake_pipeline


def test_note_text_blank_is_refused_only_when_it_is_to_be_stored():
    for label, text in BLANK.items():
        with pytest.raises(InvalidInput, match="only whitespace, control or invisible format"):
            check_note_text(text, allow_blank=False)
        assert check_note_text(text) == text, label  # the pipeline scores it (to nothing)
    for label, text in VISIBLE.items():
        assert check_note_text(text, allow_blank=False) == text, label


def _note(text: str, note_id: str = "N-1") -> dict:
    return {"note_id": note_id, "note_date": "2026-03-14", "note_format": "DAP", "text": text}


def _refused(response) -> bool:
    return response.status_code == 422 and response.json()["detail"][0]["msg"] == REASON


@pytest.mark.parametrize("text", BLANK.values(), ids=BLANK.keys())
def test_note_text_blank_note_is_422_on_post_and_put_and_nothing_is_stored(client, tokens, text):
    ingest = tokens("ingest")
    assert client.put("/v1/clients/C-1", json={"program": PROGRAM_A}, headers=ingest).status_code == 201
    assert client.put("/v1/clients/C-1/plan", json=PLAN, headers=ingest).status_code == 201
    assert client.post("/v1/clients/C-1/notes", json=_note(NOTE), headers=ingest).status_code == 201

    assert _refused(client.post("/v1/clients/C-1/notes", json=_note(text, "N-2"), headers=ingest))
    assert client.get("/v1/notes/N-2", headers=tokens("analyst")).status_code == 404

    revision = {k: v for k, v in _note(text).items() if k != "note_id"}
    assert _refused(client.put("/v1/notes/N-1", json=revision, headers=ingest))
    stored = client.get("/v1/notes/N-1", headers=tokens("analyst")).json()
    assert stored["text"] == NOTE and stored["revision"] == 1


@pytest.mark.parametrize("text", VISIBLE.values(), ids=VISIBLE.keys())
def test_note_text_a_visible_character_is_enough_to_store_a_note(client, tokens, text):
    ingest = tokens("ingest")
    assert client.put("/v1/clients/C-1", json={"program": PROGRAM_A}, headers=ingest).status_code == 201
    assert client.put("/v1/clients/C-1/plan", json=PLAN, headers=ingest).status_code == 201
    assert client.post("/v1/clients/C-1/notes", json=_note(text), headers=ingest).status_code == 201
