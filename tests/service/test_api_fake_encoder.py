"""The record path end to end (API, ingest, store, segmentation, context, decisions) on the
fake word-hash encoder: quick enough for `make test-fast`, and loading no real model. What the
readings say is not checked here; that they are stored whole, cited exactly and erased is."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.service.conftest import PROGRAM_A

NOTE = ("S: Cl reports she signed the lease for the 2BR on Poplar Ave. "
        "O: Cl arrived on time; denies SI/HI.\n"
        "A: Housing goal met.\n"
        "P: CM to help with the utility deposit next week.")
GOALS = [{"goal_id": "G1", "text": "Sign a lease for a 2BR unit", "domain": "housing"},
         {"goal_id": "G2", "text": "Obtain employment of at least 25 hrs/week", "domain": "employment"}]


@pytest.fixture
def fake_client(settings, fake_pipeline):
    from casenotes.service.app import create_app

    with TestClient(create_app(settings, pipeline=fake_pipeline)) as client:
        yield client


@pytest.fixture
def admin(fake_client):
    from casenotes.store.credentials import make_token

    return {"Authorization": f"Bearer {make_token(fake_client.app.state.services.sessions, 'admin', None, 'fake')}"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_api_on_the_fake_encoder_stores_cites_exactly_and_erases(fake_client, admin):
    assert fake_client.put("/v1/clients/C-FAKE", json={"program": PROGRAM_A}, headers=admin).status_code == 201
    assert fake_client.put("/v1/clients/C-FAKE/plan", json={"goals": GOALS}, headers=admin).status_code == 201
    posted = fake_client.post("/v1/clients/C-FAKE/notes", headers=admin, json={
        "note_id": "N-FAKE-1", "note_date": "2026-03-02", "note_format": "SOAP", "text": NOTE})
    assert posted.status_code == 201, posted.text

    note = fake_client.get("/v1/notes/N-FAKE-1", headers=admin).json()
    assert note["text"] == NOTE
    assert "fake-word-hash" in note["model_version"]
    assert [goal["goal_id"] for goal in note["goals"]] == ["G1", "G2"]
    cited = [c for result in note["goals"] + note["domains"] + note["flags"] for c in result["citations"]]
    assert cited and all(NOTE[c["start"]:c["end"]] == c["text"] for c in cited)

    assert fake_client.delete("/v1/clients/C-FAKE", headers=admin).status_code == 204
    assert fake_client.get("/v1/notes/N-FAKE-1", headers=admin).status_code == 404
