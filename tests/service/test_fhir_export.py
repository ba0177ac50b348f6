"""GET /v1/clients/{id}/fhir on the scripted fake pipeline: the Bundle parses as FHIR R4(B) with
`fhir.resources`; every reference resolves to an entry of the bundle; goals carry their standing,
levels their note and spans; no note text and no name anywhere; flags that stand; the same
scope, audit and erasure rules as the record."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B.bundle import Bundle

from casenotes.service.fhir import CITATION_SPAN, GOAL_ACHIEVEMENT, SDOH_CATEGORY
from tests.service.conftest import PROGRAM_A, PROGRAM_B
from tests.service.scripted_pipeline import ScriptedPipeline

GOALS = [{"goal_id": "G1", "text": "Sign a lease for a 2BR unit", "domain": "housing", "target_date": "2026-06-30"},
         {"goal_id": "G2", "text": "Obtain employment of at least 25 hrs/week", "domain": "employment"},
         {"goal_id": "G3", "text": "Enroll in a GED class", "domain": "education"}]
NAME = ("Marisol", "Quintanilla")
AUTHOR = "Thaddeus Brightwater"
NOTES = [  # words no bundle may hold: the client's name, the author's, and each note's own
    ("N-F1", "2026-01-05", "Cl Marisol Quintanilla viewed two units near Wexcombe Park and applied. [G1=improving] "
                           "[housing:2]"),
    ("N-F2", "2026-02-05", "Ms Quintanilla said the Wexcombe landlord refused her; back at the shelter. "
                           "Cl disclosed SI with a plan to overdose. [G1=worsening] [housing:1] [mental_health:1]"),
    ("N-F3", "2026-03-05", "Cl started at the Farrowdale grocery, 20 hrs/wk. [G2=achieved] [employment:4]"),
]
DISTINCTIVE = [*NAME, AUTHOR, "Wexcombe", "Farrowdale", "overdose", "shelter", "grocery"]


@pytest.fixture
def pipeline(fake_pipeline):
    return ScriptedPipeline(fake_pipeline)


def client_with_notes(client, tokens, client_id: str = "C-F", program: str = PROGRAM_A) -> None:
    admin = tokens("admin")
    assert client.put(f"/v1/clients/{client_id}", json={"program": program}, headers=admin).status_code == 201
    assert client.put(f"/v1/clients/{client_id}/plan", json={"goals": GOALS}, headers=admin).status_code == 201
    for note_id, note_date, text in NOTES:
        answer = client.post(f"/v1/clients/{client_id}/notes", headers=admin, json={
            "note_id": f"{client_id}-{note_id}", "note_date": note_date, "note_format": "DAP", "author": AUTHOR,
            "text": text})
        assert answer.status_code == 201, answer.text


def fhir(client, headers, client_id: str = "C-F"):
    return client.get(f"/v1/clients/{client_id}/fhir", headers=headers)


def by_type(bundle: Bundle) -> dict[str, list]:
    found: dict[str, list] = {}
    for entry in bundle.entry:
        found.setdefault(entry.resource.get_resource_type(), []).append(entry.resource)
    return found


def references(value) -> list[str]:
    """Every `reference` in a resource's JSON, however deep (extensions included)."""
    if isinstance(value, dict):
        own = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return own + [r for v in value.values() for r in references(v)]
    if isinstance(value, list):
        return [r for v in value for r in references(v)]
    return []


def test_fhir_export_parses_as_a_bundle_whose_references_all_resolve_inside_it(client, tokens):
    client_with_notes(client, tokens)
    answer = fhir(client, tokens("analyst"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+json")
    body = answer.json()
    bundle = Bundle.model_validate(body)
    assert bundle.type == "collection"
    full_urls = [e.fullUrl for e in bundle.entry]
    assert len(set(full_urls)) == len(full_urls)
    found = by_type(bundle)
    assert {k: len(v) for k, v in found.items() if k in ("Patient", "Goal", "DocumentReference")} == {
        "Patient": 1, "Goal": 3, "DocumentReference": 3}
    assert found["Observation"] and found["Flag"]

    refs = references(body)
    assert refs and set(refs) <= set(full_urls)
    kind = {e.fullUrl: e.resource.get_resource_type() for e in bundle.entry}
    for resource in found["Goal"] + found["Observation"] + found["Flag"] + found["DocumentReference"]:
        assert kind[resource.subject.reference] == "Patient"
    for observation in found["Observation"]:
        assert [kind[r.reference] for r in observation.derivedFrom] == ["DocumentReference"]

    # The same record exports as the same bundle (ids are derived, not drawn).
    again = fhir(client, tokens("analyst")).json()
    assert [e["fullUrl"] for e in again["entry"]] == full_urls


def test_fhir_export_holds_no_note_text_and_no_name(client, tokens):
    client_with_notes(client, tokens)
    text = fhir(client, tokens("supervisor")).text
    absent = [word for word in DISTINCTIVE if word.lower() in text.lower()]
    assert absent == []
    [patient] = by_type(Bundle.model_validate_json(text))["Patient"]
    assert patient.name is None and [(i.value) for i in patient.identifier] == ["C-F"]


def test_fhir_export_goals_carry_their_standing(client, tokens):
    client_with_notes(client, tokens)
    bundle = Bundle.model_validate(fhir(client, tokens("analyst")).json())
    goals = {g.identifier[0].value: g for g in by_type(bundle)["Goal"]}
    achievement = {k: g.achievementStatus.coding[0] if g.achievementStatus else None for k, g in goals.items()}
    assert achievement["G1"].system == GOAL_ACHIEVEMENT and achievement["G1"].code == "worsening"  # not N-F3's silence
    assert achievement["G2"].code == "achieved" and achievement["G3"] is None
    assert {k: g.lifecycleStatus for k, g in goals.items()} == {"G1": "active", "G2": "completed", "G3": "active"}
    assert str(goals["G1"].statusDate) == "2026-02-05" and str(goals["G1"].target[0].dueDate) == "2026-06-30"
    assert goals["G1"].description.text == GOALS[0]["text"]
    [span] = [e for e in goals["G1"].extension if e.url == CITATION_SPAN]
    start, end = (next(x.valueInteger for x in span.extension if x.url == part) for part in ("start", "end"))
    assert NOTES[1][2][start:end] == "[G1=worsening]"


def test_fhir_export_observations_follow_the_sdoh_assessment_pattern_and_cite_their_note(client, tokens):
    client_with_notes(client, tokens)
    admin = tokens("admin")
    bundle = Bundle.model_validate(fhir(client, admin).json())
    documents = {f"urn:uuid:{d.id}": d for d in by_type(bundle)["DocumentReference"]}
    for observation in by_type(bundle)["Observation"]:
        assert observation.category[0].coding[0].code == "social-history"
        assert observation.category[1].coding[0].system == SDOH_CATEGORY
        assert observation.code.text and 1 <= observation.valueInteger <= 5
        document = documents[observation.derivedFrom[0].reference]
        note_id = document.identifier[0].value
        assert str(observation.effectiveDateTime) == str(document.context.period.start)
        assert document.content[0].attachment.url.endswith(f"/v1/notes/{note_id}")
        note = client.get(f"/v1/notes/{note_id}", headers=admin).json()
        level = next(d for d in note["domains"] if d["domain"] == observation.code.coding[0].code)
        assert observation.valueInteger == level["level"]
        spans = [{x.url: x.valueInteger for x in e.extension if x.url != "document"}
                 for e in observation.extension or [] if e.url == CITATION_SPAN]
        assert spans == [{"start": c["start"], "end": c["end"]} for c in level["citations"]]


def test_fhir_export_lists_open_and_confirmed_flags_not_dismissed_ones(client, tokens):
    client_with_notes(client, tokens)
    supervisor = tokens("supervisor")
    flags = client.get("/v1/flags", params={"status": "any", "limit": 200}, headers=supervisor).json()["flags"]
    assert len(flags) >= 2, "the note about overdose should raise more than one flag"
    confirmed, dismissed = flags[0]["flag_id"], flags[1]["flag_id"]
    for flag_id, decision in ((confirmed, "confirmed"), (dismissed, "dismissed")):
        assert client.post(f"/v1/flags/{flag_id}/review", headers=supervisor,
                           json={"decision": decision}).status_code == 200
    exported = {f.identifier[0].value: f for f in by_type(Bundle.model_validate(fhir(client, supervisor).json()))["Flag"]}
    assert set(exported) == {str(f["flag_id"]) for f in flags} - {str(dismissed)}
    assert all(f.status == "active" for f in exported.values())
    review = {k: next(e.valueCode for e in f.extension if e.url.endswith("flag-review-status"))
              for k, f in exported.items()}
    assert review[str(confirmed)] == "confirmed" and set(review.values()) <= {"open", "confirmed"}


def test_fhir_export_keeps_to_the_callers_program_and_is_audited_as_a_read_of_the_record(client, tokens):
    client_with_notes(client, tokens)
    assert fhir(client, tokens("supervisor", PROGRAM_B)).status_code == 404
    assert fhir(client, tokens("analyst", PROGRAM_B)).status_code == 404
    assert fhir(client, tokens("ingest")).status_code == 403
    assert fhir(client, {}).status_code == 401
    assert fhir(client, tokens("supervisor", PROGRAM_A)).status_code == 200
    assert fhir(client, tokens("analyst", PROGRAM_B), client_id="C-NONE").status_code == 404
    entries = client.get("/v1/audit", params={"client_id": "C-F"}, headers=tokens("admin")).json()["entries"]
    assert [(e["action"], e["object_type"], e["object_id"]) for e in entries if e["action"] == "read-fhir"] == [
        ("read-fhir", "record", "C-F")]


def test_fhir_export_of_an_erased_client_is_404(client, tokens):
    client_with_notes(client, tokens)
    assert fhir(client, tokens("admin")).status_code == 200
    assert client.delete("/v1/clients/C-F", headers=tokens("admin")).status_code == 204
    answer = fhir(client, tokens("admin"))
    assert answer.status_code == 404 and json.loads(answer.text)["detail"]
