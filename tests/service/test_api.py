"""The API as a case management system, a supervisor and an analyst use it, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import threading
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from casenotes.schema import confidence_band
from casenotes.store.tables import FlagRow
from tests.service.conftest import PROGRAM_A

PLAN = {"goals": [
    {"goal_id": "G1", "text": "Move into permanent housing by June 30", "domain": "housing"},
    {"goal_id": "G2", "text": "Obtain a job of 20+ hours a week", "domain": "employment"},
], "rubric": "self-sufficiency"}
NOTE_TEXT = ("D: Met cl at the office. Cl signed a lease for a 1BR apartment on Elm St today. "
             "Cl received a 3-day eviction notice at the motel last week but has now moved out.\n"
             "A: Housing secured. P: f/u on job applications next week.")
CRISIS_TEXT = "D: Cl was taken to the ER by ambulance after an overdose on Saturday. Cl missed 2 appts this week."


def make_client(client, headers, client_id="C-1", program=PROGRAM_A, plan=PLAN):
    assert client.put(f"/v1/clients/{client_id}", json={"program": program}, headers=headers).status_code in (200, 201)
    assert client.put(f"/v1/clients/{client_id}/plan", json=plan, headers=headers).status_code == 201


def post_note(client, headers, note_id="N-1", text=NOTE_TEXT, client_id="C-1", note_date="2026-03-14"):
    return client.post(f"/v1/clients/{client_id}/notes", headers=headers,
                       json={"note_id": note_id, "note_date": note_date, "note_format": "DAP", "text": text})


def test_api_scores_a_note_on_arrival_with_exact_citations(client, tokens):
    make_client(client, tokens("ingest"))
    response = post_note(client, tokens("ingest"))
    assert response.status_code == 201
    body = response.json()
    assert {g["goal_id"] for g in body["goals"]} == {"G1", "G2"}
    housing = next(g for g in body["goals"] if g["goal_id"] == "G1")
    # Which status the reader gives is the reading's business (tests/test_pipeline.py pins it);
    # here: the note speaks to the goal, and the answer carries cited words and a confidence.
    assert housing["status"] != "not-addressed"
    assert housing["citations"] and 0 <= housing["confidence"] <= 1
    for result in body["goals"] + body["domains"] + body["flags"]:
        for citation in result["citations"]:
            assert NOTE_TEXT[citation["start"]:citation["end"]] == citation["text"]
    assert body["model_version"] and body["rubric_version"] and len(body["rubric_hash"]) == 64
    assert body["plan_version"] == 1 and body["revision"] == 1


def test_api_same_note_again_returns_the_stored_result_and_scores_nothing(client, tokens):
    make_client(client, tokens("ingest"))
    first = post_note(client, tokens("ingest"))
    again = post_note(client, tokens("ingest"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    metrics = client.get("/metrics", headers=tokens("admin")).text
    assert "casenotes_notes_scored_total 1.0" in metrics


def test_api_same_note_id_with_other_text_is_a_conflict(client, tokens):
    make_client(client, tokens("ingest"))
    post_note(client, tokens("ingest"))
    response = post_note(client, tokens("ingest"), text=NOTE_TEXT + " Edited.")
    assert response.status_code == 409
    assert "Edited" not in response.text and "lease" not in response.text


def test_api_concurrent_posts_of_one_note_create_one_note(client, tokens):
    make_client(client, tokens("ingest"))
    statuses: list[int] = []

    def send() -> None:
        statuses.append(post_note(client, tokens("ingest"), note_id="N-race").status_code)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 200, 200, 201]
    record = client.get("/v1/clients/C-1/record", headers=tokens("analyst")).json()
    assert [n["note_id"] for n in record["notes"]] == ["N-race"]


def test_api_revision_rescores_and_keeps_history(client, tokens):
    make_client(client, tokens("ingest"))
    post_note(client, tokens("ingest"))
    revised = "D: Cl lost her job at the warehouse on Monday. Cl is still in the motel."
    response = client.put("/v1/notes/N-1", headers=tokens("ingest"),
                          json={"note_date": "2026-03-14", "note_format": "DAP", "text": revised})
    assert response.status_code == 200
    assert response.json()["revision"] == 2
    note = client.get("/v1/notes/N-1", headers=tokens("analyst")).json()
    assert note["text"] == revised
    assert [r["revision"] for r in note["revisions"]] == [1, 2]
    assert note["revisions"][0]["sha256"] != note["revisions"][1]["sha256"]
    for result in note["goals"] + note["domains"] + note["flags"]:
        for citation in result["citations"]:
            assert revised[citation["start"]:citation["end"]] == citation["text"]


def test_api_record_has_timeline_baseline_latest_and_open_flags(client, tokens):
    make_client(client, tokens("ingest"))
    post_note(client, tokens("ingest"), "N-1", "D: Cl is staying in a shelter bed at Harbor House. Cl applied for 2 jobs.",
              note_date="2026-01-10")
    post_note(client, tokens("ingest"), "N-2", NOTE_TEXT, note_date="2026-02-10")
    post_note(client, tokens("ingest"), "N-3", CRISIS_TEXT, note_date="2026-03-10")
    record = client.get("/v1/clients/C-1/record", headers=tokens("supervisor")).json()
    assert record["client"] == {**record["client"], "client_id": "C-1", "program": PROGRAM_A}
    assert [g["goal_id"] for g in record["goals"]] == ["G1", "G2"]
    timeline = record["goals"][0]["timeline"]
    assert [p["note_id"] for p in timeline] == ["N-1", "N-2", "N-3"]
    housing = next(d for d in record["domains"] if d["domain"] == "housing")
    assert housing["baseline"]["note_id"] == "N-1" and housing["baseline"]["level"] <= 2
    assert housing["latest"]["note_date"] >= housing["baseline"]["note_date"]
    assert {"crisis", "disengagement"} <= {f["type"] for f in record["open_flags"]}
    assert [n["note_id"] for n in record["notes"]] == ["N-1", "N-2", "N-3"]


def queue_in_pages(client, headers, limit: int) -> list[int]:
    """Every flag id of the open queue, read page by page through `next_cursor`."""
    pages, cursor = [], None
    while True:
        page = client.get("/v1/flags", params={"limit": limit, **({"cursor": cursor} if cursor else {})},
                          headers=headers).json()
        pages += [f["flag_id"] for f in page["flags"]]
        cursor = page["next_cursor"]
        if not cursor:
            return pages


def test_api_flag_queue_is_most_severe_first_and_pages(client, tokens):
    make_client(client, tokens("ingest"))
    post_note(client, tokens("ingest"), "N-1", CRISIS_TEXT, note_date="2026-03-01")
    post_note(client, tokens("ingest"), "N-2", "D: Cl disclosed SI with a plan. Cl missed 3 appts and her phone is disconnected.",
              note_date="2026-03-05")
    everything = client.get("/v1/flags?limit=200", headers=tokens("supervisor")).json()["flags"]
    queue_order = sorted(everything, key=lambda f: (f["severity"], f["confidence"], f["note_date"], f["flag_id"]),
                         reverse=True)
    assert len(everything) >= 3 and everything == queue_order
    assert all(f["confidence_band"] == confidence_band(f["confidence"]) for f in everything)
    assert queue_in_pages(client, tokens("supervisor"), limit=1) == [f["flag_id"] for f in everything]


TIED_CONFIDENCE = 0.1 + 0.2     # 0.30000000000000004: a cursor that rounded it to 0.3 would lose the tie


def queue_with_set_confidences(client, tokens) -> tuple[list[int], dict[int, float]]:
    """Ten or more real flags, then their severity, confidence and note date set by hand; the
    queue order they must come in, and each flag's confidence."""
    make_client(client, tokens("ingest"))
    for number in range(1, 6):                        # two flags or more a note
        post_note(client, tokens("ingest"), f"N-{number}", CRISIS_TEXT, note_date=f"2026-03-0{number}")
    places = [(5, 0.02, "2026-01-01"),            # most severe: first, however unsure
              (4, 0.98, "2026-01-01"),
              (4, TIED_CONFIDENCE, "2026-02-01"),  # three tied on severity, confidence and date
              (4, TIED_CONFIDENCE, "2026-02-01"),
              (4, TIED_CONFIDENCE, "2026-02-01"),
              (4, TIED_CONFIDENCE, "2025-12-01"),  # tied on confidence, older
              (4, 0.3, "2026-03-01"),              # a hair less confident than the tie, though newer
              (4, 0.02, "2026-03-01")]
    with client.app.state.services.sessions.begin() as session:
        flags = session.scalars(select(FlagRow).order_by(FlagRow.id)).all()
        assert len(flags) > len(places)
        rest = [(1, 0.5, "2026-01-01")] * (len(flags) - len(places))
        for flag, (severity, confidence, note_date) in zip(flags, places + rest):
            flag.severity, flag.confidence, flag.note_date = severity, confidence, date.fromisoformat(note_date)
        ids = [flag.id for flag in flags]
        confidences = {flag.id: flag.confidence for flag in flags}
    expected = [ids[0], ids[1], ids[4], ids[3], ids[2], ids[5], ids[6], ids[7], *reversed(ids[8:])]
    return expected, confidences


def test_api_flag_queue_orders_by_severity_then_confidence_and_pages_exactly_over_ties(client, tokens):
    expected, confidences = queue_with_set_confidences(client, tokens)
    everything = client.get("/v1/flags?limit=200", headers=tokens("supervisor")).json()["flags"]
    assert [f["flag_id"] for f in everything] == expected
    assert [f["confidence"] for f in everything] == [confidences[i] for i in expected]
    for limit in (1, 2, 3, 5):
        assert queue_in_pages(client, tokens("supervisor"), limit) == expected


def test_api_flag_shows_its_confidence_band(client, tokens):
    expected, _ = queue_with_set_confidences(client, tokens)
    flags = {f["flag_id"]: f for f in client.get("/v1/flags?limit=200", headers=tokens("supervisor")).json()["flags"]}
    assert [flags[i]["confidence_band"] for i in expected[:8]] == ["low", "high"] + ["low"] * 6
    assert {flags[i]["confidence_band"] for i in expected[8:]} == {"medium"}
    note = client.get(f"/v1/notes/{flags[expected[0]]['note_id']}", headers=tokens("supervisor")).json()
    assert {f["flag_id"]: f["confidence_band"] for f in note["flags"]}[expected[0]] == "low"


@pytest.mark.parametrize(("confidence", "band"), [
    (1.0, "high"), (0.7, "high"), (0.6951, "high"), (0.69, "medium"), (0.4, "medium"), (0.39, "low"), (0.0, "low"),
])
def test_confidence_band_agrees_with_the_whole_percent_shown(confidence, band):
    assert confidence_band(confidence) == band


def test_ui_queue_shows_each_flags_confidence_band_in_queue_order(client, tokens):
    expected, _ = queue_with_set_confidences(client, tokens)
    token = tokens("supervisor")["Authorization"].removeprefix("Bearer ")
    assert client.post("/ui/login", data={"token": token}, follow_redirects=False).status_code == 303
    html = client.get("/ui/flags").text
    assert [int(i) for i in re.findall(r'data-flag-id="(\d+)"', html)] == expected
    rows = {int(i): row for i, row in re.findall(r'<tr [^>]*data-flag-id="(\d+)"(.*?)</tr>', html, re.S)}
    assert 'class="confidence confidence-low"' in rows[expected[0]] and "Low confidence (2%)" in rows[expected[0]]
    assert 'class="confidence confidence-high"' in rows[expected[1]] and "High confidence (98%)" in rows[expected[1]]
    assert 'class="confidence confidence-medium"' in rows[expected[-1]] and "Medium confidence (50%)" in rows[expected[-1]]


def test_a_cursor_from_before_the_confidence_order_is_refused(client, tokens):
    make_client(client, tokens("ingest"))
    post_note(client, tokens("ingest"), "N-1", CRISIS_TEXT)
    old_cursor = "4_739000_17"                        # severity_days_id, as issued before
    api = client.get("/v1/flags", params={"cursor": old_cursor}, headers=tokens("supervisor"))
    assert api.status_code == 422 and api.json()["detail"][0]["loc"] == ["query", "cursor"]
    token = tokens("supervisor")["Authorization"].removeprefix("Bearer ")
    client.post("/ui/login", data={"token": token}, follow_redirects=False)
    page = client.get("/ui/flags", params={"cursor": old_cursor})
    assert page.status_code == 400 and "start again from the first page" in page.text


def test_api_dismissed_flag_leaves_the_open_queue_with_its_comment(client, tokens):
    make_client(client, tokens("ingest"))
    post_note(client, tokens("ingest"), "N-1", CRISIS_TEXT)
    flag = client.get("/v1/flags", headers=tokens("supervisor")).json()["flags"][0]
    response = client.post(f"/v1/flags/{flag['flag_id']}/review", headers=tokens("supervisor"),
                           json={"decision": "dismissed", "comment": "Known; safety plan in place."})
    assert response.status_code == 200 and response.json()["status"] == "dismissed"
    open_ids = [f["flag_id"] for f in client.get("/v1/flags", headers=tokens("supervisor")).json()["flags"]]
    assert flag["flag_id"] not in open_ids
    dismissed = client.get("/v1/flags?status=dismissed", headers=tokens("supervisor")).json()["flags"]
    assert [(f["flag_id"], f["comment"]) for f in dismissed] == [(flag["flag_id"], "Known; safety plan in place.")]
    assert dismissed[0]["reviewer"].startswith("supervisor-all")


def test_api_corrections_are_kept_and_exported_as_labels(client, tokens, tmp_path, eval_check):
    from casenotes.service.admin import export_labels

    make_client(client, tokens("ingest"))
    body = post_note(client, tokens("ingest")).json()
    first, second = body["goals"]
    lease = NOTE_TEXT.index("Cl signed a lease")
    corrected = client.post(f"/v1/results/{first['result_id']}/review", headers=tokens("analyst"), json={
        "decision": "corrected", "status": "achieved", "citations": [[lease, lease + 55]], "comment": "lease = housed"})
    assert corrected.status_code == 201 and corrected.json()["status"] == "achieved"
    accepted = client.post(f"/v1/results/{second['result_id']}/review", headers=tokens("analyst"),
                           json={"decision": "accepted"})
    assert accepted.status_code == 201
    out = tmp_path / "labels.jsonl"
    assert export_labels(client.app.state.services.sessions, out).written == 1
    case = json.loads(out.read_text())
    assert case["labels"]["goals"]["G1"] == {"status": "achieved", "evidence": [NOTE_TEXT[lease:lease + 55]]}
    assert case["labels"]["goals"]["G2"]["status"] == second["status"]
    assert eval_check.validate([case]) == []


def test_api_result_review_refuses_a_level_for_a_goal(client, tokens):
    make_client(client, tokens("ingest"))
    goal = post_note(client, tokens("ingest")).json()["goals"][0]
    response = client.post(f"/v1/results/{goal['result_id']}/review", headers=tokens("analyst"),
                           json={"decision": "corrected", "level": 3})
    assert response.status_code == 409 and "with a status" in response.text  # it does not fit this result


def test_api_search_finds_the_segment_and_erasure_removes_everything(client, tokens):
    make_client(client, tokens("ingest"))
    post_note(client, tokens("ingest"))
    make_client(client, tokens("ingest"), client_id="C-2")
    post_note(client, tokens("ingest"), "N-2", "D: Cl started a forklift training course at the community college.",
              client_id="C-2")
    hits = client.get("/v1/search", params={"q": "signed an apartment lease", "k": 3},
                      headers=tokens("analyst")).json()["hits"]
    assert hits[0]["note_id"] == "N-1" and "lease" in hits[0]["citation"]["text"]
    assert NOTE_TEXT[hits[0]["citation"]["start"]:hits[0]["citation"]["end"]] == hits[0]["citation"]["text"]
    only_c2 = client.get("/v1/search", params={"q": "lease", "client_id": "C-2"}, headers=tokens("analyst")).json()
    assert {h["client_id"] for h in only_c2["hits"]} == {"C-2"}

    assert client.delete("/v1/clients/C-1", headers=tokens("admin")).status_code == 204
    admin = tokens("admin")
    assert client.get("/v1/clients/C-1/record", headers=admin).status_code == 404
    assert client.get("/v1/notes/N-1", headers=admin).status_code == 404
    assert all(f["client_id"] != "C-1" for f in client.get("/v1/flags?status=any", headers=admin).json()["flags"])
    after = client.get("/v1/search", params={"q": "signed an apartment lease", "k": 50}, headers=admin).json()["hits"]
    assert after and all(h["client_id"] == "C-2" for h in after)
    assert len(client.app.state.services.index) == len(after)


def test_api_erasure_leaves_no_note_text_in_the_sqlite_file(client, tokens, settings):
    if not settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("a file-level check of the embedded database")
    make_client(client, tokens("ingest"))
    post_note(client, tokens("ingest"), text="D: Cl Zebulon-Quartermaine signed a lease on Elm St.")
    assert client.delete("/v1/clients/C-1", headers=tokens("admin")).status_code == 204
    database = settings.resolved_database_url.split("///", 1)[1]
    stored = b"".join(Path(p).read_bytes() for p in (database, database + "-wal") if Path(p).exists())
    assert b"Zebulon-Quartermaine" not in stored


def test_api_reads_are_audited_without_note_text(client, tokens):
    make_client(client, tokens("ingest"))
    post_note(client, tokens("ingest"))
    client.get("/v1/notes/N-1", headers={**tokens("analyst"), "X-Request-ID": "req-42"})
    client.get("/v1/clients/C-1/record", headers=tokens("supervisor"))
    entries = client.get("/v1/audit?client_id=C-1", headers=tokens("admin")).json()["entries"]
    reads = {(e["actor"].split("#")[0], e["action"], e["object_type"], e["object_id"]) for e in entries}
    assert ("analyst-all", "read", "note", "N-1") in reads
    assert ("supervisor-all", "read", "record", "C-1") in reads
    assert any(e["request_id"] == "req-42" for e in entries)
    assert "lease" not in json.dumps(entries)


def test_api_audit_log_is_append_only(client, tokens):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    make_client(client, tokens("ingest"))
    with pytest.raises(DBAPIError):
        with client.app.state.services.engine.begin() as connection:
            connection.execute(text("DELETE FROM audit_log"))


@pytest.mark.parametrize("body, field", [
    ({"note_date": "2026-03-14", "text": "x"}, "note_id"),
    ({"note_id": "N-1", "note_date": "14/03/2026", "text": "x"}, "note_date"),
    ({"note_id": "N-1", "note_date": "2026-03-14", "text": "x", "colour": "red"}, "colour"),
    ({"note_id": "N 1", "note_date": "2026-03-14", "text": "x"}, "note_id"),
    ({"note_id": "N-1", "note_date": "2026-03-14", "text": "bad \ud800 surrogate"}, "text"),
    ({"note_id": "N-1", "note_date": "2026-03-14", "text": "nul \x00 byte"}, "text"),
])
def test_api_invalid_fields_are_422_naming_the_field(client, tokens, body, field):
    make_client(client, tokens("ingest"))
    response = client.post("/v1/clients/C-1/notes", headers={**tokens("ingest"), "Content-Type": "application/json"},
                           content=json.dumps(body))
    assert response.status_code == 422
    assert any(field in detail["loc"] for detail in response.json()["detail"])
    assert "surrogate" not in response.text.replace("unpaired surrogate", "")


def test_api_plan_with_unknown_domain_is_422_and_with_duplicate_goals_409(client, tokens):
    make_client(client, tokens("ingest"))
    unknown = {"goals": [{"goal_id": "G1", "text": "Find housing", "domain": "astrology"}]}
    duplicate = {"goals": [{"goal_id": "G1", "text": "Find housing", "domain": "housing"},
                           {"goal_id": "G1", "text": "Find work", "domain": "employment"}]}
    assert client.put("/v1/clients/C-1/plan", json=unknown, headers=tokens("ingest")).status_code == 422
    response = client.put("/v1/clients/C-1/plan", json=duplicate, headers=tokens("ingest"))
    assert response.status_code == 409 and "G1" in response.text  # a schema cannot say it: not a 422


def test_api_note_over_the_limit_is_413_and_nothing_is_lost(client, tokens, settings):
    make_client(client, tokens("ingest"))
    assert post_note(client, tokens("ingest")).status_code == 201
    response = post_note(client, tokens("ingest"), note_id="N-big", text="Cl attended. " * settings.max_note_chars)
    assert response.status_code == 413
    assert client.get("/v1/notes/N-1", headers=tokens("analyst")).status_code == 200
    assert client.get("/v1/notes/N-big", headers=tokens("analyst")).status_code == 404


def test_api_empty_plan_has_a_defined_result(client, tokens):
    make_client(client, tokens("ingest"), plan={"goals": []})
    response = post_note(client, tokens("ingest"), text="D: Cl came in to sign forms.")
    assert response.status_code == 201
    assert response.json()["goals"] == [] and response.json()["flags"] == []


@pytest.mark.parametrize("method, path", [
    ("get", "/v1/clients/nobody/record"), ("get", "/v1/notes/nothing"), ("post", "/v1/flags/999/review"),
    ("post", "/v1/results/999/review"),
])
def test_api_unknown_objects_are_404(client, tokens, method, path):
    body = {"decision": "confirmed"} if "flags" in path else {"decision": "accepted"}
    response = getattr(client, method)(path, headers=tokens("admin"), **({"json": body} if method == "post" else {}))
    assert response.status_code == 404


def test_api_missing_or_bad_token_is_401(client):
    assert client.get("/v1/flags").status_code == 401
    assert client.get("/v1/flags", headers={"Authorization": "Bearer cn_not-a-token"}).status_code == 401


def test_api_health_and_metrics(client, tokens):
    assert client.get("/healthz").json()["status"] == "ok"
    client.get("/v1/flags", headers=tokens("supervisor"))
    metrics = client.get("/metrics", headers=tokens("admin")).text
    assert 'casenotes_http_requests_total{method="GET",route="/v1/flags",status="200"}' in metrics


def test_api_metrics_need_the_metrics_token_or_an_admin_token(settings, pipeline):
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from casenotes.service.app import create_app
    from casenotes.store.credentials import make_token

    scraper = "scraper-" + "s" * 24
    with_token = settings.model_copy(update={"metrics_token": SecretStr(scraper)})
    with TestClient(create_app(with_token, pipeline=pipeline)) as client:
        sessions = client.app.state.services.sessions
        analyst, admin = (make_token(sessions, role, None, role) for role in ("analyst", "admin"))
        statuses = {label: client.get("/metrics", headers=headers).status_code for label, headers in {
            "no token": {}, "a wrong token": {"Authorization": "Bearer " + "s" * 32},
            "the metrics token cut short": {"Authorization": f"Bearer {scraper[:-1]}"},
            "an analyst token": {"Authorization": f"Bearer {analyst}"},
            "the metrics token": {"Authorization": f"Bearer {scraper}"},
            "an admin token": {"Authorization": f"Bearer {admin}"}}.items()}
    assert statuses == {"no token": 401, "a wrong token": 401, "the metrics token cut short": 401,
                        "an analyst token": 403, "the metrics token": 200, "an admin token": 200}


def test_api_rate_limit_answers_429_with_retry_after(settings, pipeline):
    from fastapi.testclient import TestClient

    from casenotes.service.app import create_app
    from casenotes.store.credentials import make_token

    limited = settings.model_copy(update={"rate_limit_per_minute": 3})
    with TestClient(create_app(limited, pipeline=pipeline)) as client:
        token = make_token(client.app.state.services.sessions, "analyst", None, "busy")
        statuses = [client.get("/v1/flags", headers={"Authorization": f"Bearer {token}"}) for _ in range(5)]
    assert [r.status_code for r in statuses][:3] == [200, 200, 200]
    assert statuses[-1].status_code == 429 and int(statuses[-1].headers["Retry-After"]) >= 1


def test_api_writes_with_the_session_cookie_need_the_csrf_header(client, tokens):
    from casenotes.service.auth import SESSION_COOKIE, csrf_token

    make_client(client, tokens("ingest"))
    post_note(client, tokens("ingest"), "N-1", CRISIS_TEXT)
    signed_in = client.post("/ui/login", data={"token": tokens("supervisor")["Authorization"].removeprefix("Bearer ")},
                            follow_redirects=False)
    token = signed_in.cookies[SESSION_COOKIE]  # the session id the UI's pages use
    client.cookies.set(SESSION_COOKIE, token)
    flag = client.get("/v1/flags").json()["flags"][0]
    review = {"decision": "confirmed", "comment": "seen"}
    assert client.post(f"/v1/flags/{flag['flag_id']}/review", json=review).status_code == 403
    forged = client.post(f"/v1/flags/{flag['flag_id']}/review", json=review, headers={"X-CSRF-Token": "0" * 64})
    assert forged.status_code == 403
    allowed = client.post(f"/v1/flags/{flag['flag_id']}/review", json=review,
                          headers={"X-CSRF-Token": csrf_token(token)})
    assert allowed.status_code == 200 and allowed.json()["status"] == "confirmed"
