"""Bad input through the API (issue 13), on SQLite and PostgreSQL: a template with empty
fields, a one-word note, a one-word goal, a goal in another language and a plan of 30 goals
are stored and scored; a plan over the goal cap and a note over the length limit are refused
with a reason, and nothing of them is stored."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from casenotes.schema import DEFAULT_MAX_NOTE_CHARS, STATUSES
from tests.reading.test_bad_input_reading import HOUSING_NOTE, THIRTY_GOALS, visit_notes
from tests.service.test_api import make_client, post_note

MAX_GOALS = 100  # a plan's goal cap (PlanIn in casenotes/service/schemas.py)
SOAP_TEMPLATE = "Subjective:\nObjective:\nAssessment:\nPlan:\nRisk: SI/HI:\nMSE: Mood: Affect:"


@pytest.fixture
def settings(settings):
    """The service at its default note limit, the same as its pipeline's: the shared fixture's
    20,000 would limit request bodies only, since the session pipeline is built with the default."""
    return settings.model_copy(update={"max_note_chars": DEFAULT_MAX_NOTE_CHARS})


def plan_of(goals: list[tuple[str, str]]) -> dict:
    return {"goals": [{"goal_id": f"G{i:02d}", "text": text, "domain": domain}
                      for i, (text, domain) in enumerate(goals, start=1)]}


def assert_well_formed(body: dict, text: str, goal_ids: list[str]) -> None:
    assert [g["goal_id"] for g in body["goals"]] == goal_ids
    assert all(g["status"] in STATUSES for g in body["goals"])
    for found in body["goals"] + body["domains"] + body["flags"]:
        for citation in found["citations"]:
            assert text[citation["start"]:citation["end"]] == citation["text"]


def stored_note_ids(client, headers, client_id: str = "C-1") -> list[str]:
    return [n["note_id"] for n in client.get(f"/v1/clients/{client_id}/record", headers=headers).json()["notes"]]


def test_api_template_note_is_stored_and_addresses_no_goal(client, tokens):
    make_client(client, tokens("ingest"))
    response = client.post("/v1/clients/C-1/notes", headers=tokens("ingest"), json={
        "note_id": "N-template", "note_date": "2026-03-14", "note_format": "SOAP", "text": SOAP_TEMPLATE})
    assert response.status_code == 201
    body = response.json()
    assert [(g["status"], g["citations"]) for g in body["goals"]] == [("not-addressed", [])] * 2
    assert body["domains"] == [] and body["flags"] == []
    record = client.get("/v1/clients/C-1/record", headers=tokens("supervisor")).json()
    assert record["open_flags"] == []


def test_api_one_word_note_is_stored_and_addresses_no_goal(client, tokens):
    make_client(client, tokens("ingest"))
    response = post_note(client, tokens("ingest"), note_id="N-cancelled", text="Cancelled.")
    assert response.status_code == 201
    assert {g["status"] for g in response.json()["goals"]} == {"not-addressed"}
    assert stored_note_ids(client, tokens("analyst")) == ["N-cancelled"]


@pytest.mark.parametrize("goal", [
    "Housing",
    # The reader is English only: a Spanish goal is stored as written and read with English
    # components; no status is promised for it.
    "Conseguir una vivienda estable y pagar el depósito antes de junio",
], ids=["one-word", "spanish"])
def test_api_goal_of_one_word_or_another_language_is_stored_and_scored(client, tokens, goal):
    make_client(client, tokens("ingest"), plan=plan_of([(goal, "housing")]))
    plan = client.get("/v1/clients/C-1/record", headers=tokens("analyst")).json()["plan"]
    assert [g["text"] for g in plan["goals"]] == [goal]
    response = post_note(client, tokens("ingest"), text=HOUSING_NOTE)
    assert response.status_code == 201
    assert_well_formed(response.json(), HOUSING_NOTE, ["G01"])


def test_api_plan_of_thirty_goals_scores_each_in_plan_order(client, tokens):
    make_client(client, tokens("ingest"), plan=plan_of(THIRTY_GOALS))
    response = post_note(client, tokens("ingest"), text=HOUSING_NOTE)
    assert response.status_code == 201
    goal_ids = [f"G{i:02d}" for i in range(1, 31)]
    assert_well_formed(response.json(), HOUSING_NOTE, goal_ids)
    record = client.get("/v1/clients/C-1/record", headers=tokens("analyst")).json()
    assert [g["goal_id"] for g in record["goals"]] == goal_ids


def test_api_plan_over_the_goal_cap_is_422_and_the_plan_in_force_stays(client, tokens):
    at_cap = plan_of([(f"Apply to job lead {n}", "employment") for n in range(1, MAX_GOALS + 1)])
    make_client(client, tokens("ingest"), plan=at_cap)
    over = plan_of([(f"Apply to job lead {n}", "employment") for n in range(1, MAX_GOALS + 2)])
    response = client.put("/v1/clients/C-1/plan", json=over, headers=tokens("ingest"))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert any(d["loc"][-1] == "goals" and str(MAX_GOALS) in d["msg"] for d in detail)
    plan = client.get("/v1/clients/C-1/record", headers=tokens("analyst")).json()["plan"]
    assert (plan["version"], len(plan["goals"])) == (1, MAX_GOALS)


def test_api_note_at_the_length_limit_is_stored_with_exact_citations(client, tokens):
    make_client(client, tokens("ingest"))
    text = visit_notes(DEFAULT_MAX_NOTE_CHARS)
    response = post_note(client, tokens("ingest"), note_id="N-long", text=text)
    assert response.status_code == 201
    assert_well_formed(response.json(), text, ["G1", "G2"])
    assert client.get("/v1/notes/N-long", headers=tokens("analyst")).json()["text"] == text


def test_api_note_one_character_over_the_limit_is_413_and_not_stored(client, tokens):
    make_client(client, tokens("ingest"))
    response = post_note(client, tokens("ingest"), note_id="N-over", text=visit_notes(DEFAULT_MAX_NOTE_CHARS + 1))
    assert response.status_code == 413
    assert response.json()["detail"].endswith(f"the limit is {DEFAULT_MAX_NOTE_CHARS}")
    assert "drop-in" not in response.text
    assert client.get("/v1/notes/N-over", headers=tokens("analyst")).status_code == 404
    assert stored_note_ids(client, tokens("analyst")) == []


@contextmanager
def service_limited_to(settings, pipeline, max_note_chars: int):
    """A service configured for shorter notes, built as `build_services` builds one: its
    pipeline holds the same limit. Yields the client and an ingest token's headers."""
    from casenotes.pipeline import Pipeline
    from casenotes.service.app import create_app
    from casenotes.store.credentials import make_token

    limited = Pipeline(encoder=pipeline.encoder, rubric=pipeline.rubric, model=pipeline.model,
                       segmenter=pipeline.segmenter, context=pipeline.context, max_note_chars=max_note_chars)
    app = create_app(settings.model_copy(update={"max_note_chars": max_note_chars}), pipeline=limited)
    with TestClient(app) as client:
        token = make_token(client.app.state.services.sessions, "ingest", None, "limited-ingest")
        yield client, {"Authorization": f"Bearer {token}"}


def test_api_long_note_on_a_service_with_a_lower_limit_is_413_and_not_stored(settings, pipeline):
    with service_limited_to(settings, pipeline, 20_000) as (client, headers):
        make_client(client, headers)
        response = post_note(client, headers, note_id="N-long", text=visit_notes(DEFAULT_MAX_NOTE_CHARS))
        assert response.status_code == 413
        assert response.json()["detail"] == "note text has 100000 characters; the limit is 20000"
        assert client.get("/v1/notes/N-long", headers=headers).status_code == 404
