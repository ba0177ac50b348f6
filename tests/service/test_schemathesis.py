"""Schemathesis against the service's own OpenAPI schema, in-process, as `schemathesis run
--checks all` runs it against a server: every phase (coverage, fuzzing, stateful) and every
check (no 5xx; status codes, content types, bodies and headers the schema declares; schema-valid
requests accepted and schema-invalid ones refused; 405 with an `Allow` listing the path's
methods; no use of an erased client; a created object found again), with an admin token.

The app runs its real lifespan (database migrated, the session's real pipeline, the search
index) on SQLite and on PostgreSQL. Clients with plans and notes are stored first, and again
before the stateful phase (the earlier phases may erase or rewrite them), so the lists (flags,
search, audit) have ids to hand on: the stateful phase follows the document's links from them
(record → note → review, record → plan → note, record → erasure → the erased record, which
must be 404), and the test checks it did.

schemathesis' own pytest integration (`from_fixture(...).parametrize()`) does not run under
pytest 9, so its engine is driven here, as its CLI drives it. CASENOTES_SCHEMATHESIS_EXAMPLES
(default 30: examples per operation, steps per stateful scenario, and a third of the stateful
scenarios) sets the depth; setting it also makes the run random rather than seeded.
"""

from __future__ import annotations

import os
import re
import sys
from collections import Counter
from dataclasses import dataclass, field

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from schemathesis.python import asgi

from tests.service.conftest import PROGRAM_A

# Every check `--checks all` enables; max_response_time needs a limit, and timing is not this test's.
CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "response_headers_conformance", "positive_data_acceptance",
          "negative_data_rejection", "use_after_free", "ensure_resource_availability", "missing_required_header",
          "ignored_auth", "object_level_authorization", "unsupported_method", "allow_header_conformance"]
EXAMPLES = int(os.environ.get("CASENOTES_SCHEMATHESIS_EXAMPLES", "30"))
SEED = None if "CASENOTES_SCHEMATHESIS_EXAMPLES" in os.environ else 1
PHASES = {"COVERAGE", "FUZZING", "STATEFUL_TESTING"}
# The link the use-after-free check rests on: a client erased (204), then its record read.
ERASED_RECORD = "DELETE /v1/clients/{client_id} -> [204] GetErasedRecord -> GET /v1/clients/{client_id}/record"

GOALS = [
    {"goal_id": "G1", "text": "Sign a lease for a 2BR unit using RRH rental assistance by 11/30/25",
     "domain": "housing", "target_date": "2025-11-30"},
    {"goal_id": "G2", "text": "Obtain employment of at least 25 hrs/week by 1/31/26", "domain": "employment"},
]
NOTE_TEXT = ("Home visit w/ cl at the shelter. Cl viewed the 2BR at 418 Poplar Ave and turned in the "
             "application; landlord to call back Fri. Cl started a part-time job at the grocery, 20 hrs/wk. "
             "Cl says she is behind on rent at the old place and got an eviction notice last week. "
             "Cl denies SI/HI. CM to call the landlord Monday.")


def _seed(app, headers: dict[str, str], prefix: str) -> None:
    """Two new clients with plans and two notes each, over HTTP; the notes raise flags."""
    with asgi.get_client(app) as http:
        for client_id in (f"{prefix}-client-1", f"{prefix}-client-2"):
            answer = http.put(f"/v1/clients/{client_id}", json={"program": PROGRAM_A}, headers=headers)
            assert answer.status_code == 201, answer.text
            answer = http.put(f"/v1/clients/{client_id}/plan", json={"goals": GOALS}, headers=headers)
            assert answer.status_code == 201, answer.text
            for n in (1, 2):
                answer = http.post(f"/v1/clients/{client_id}/notes", headers=headers, json={
                    "note_id": f"{client_id}-note-{n}", "note_date": f"2025-10-0{n}", "note_format": "narrative",
                    "author": "J. Rivera", "text": NOTE_TEXT})
                assert answer.status_code == 201, answer.text
                assert answer.json()["flags"], "the seed notes should raise flags, for the queue to link from"


@dataclass
class Run:
    failures: dict[tuple[str, str, str], list] = field(default_factory=dict)  # (operation, check, title) -> [n, text]
    links: set[str] = field(default_factory=set)      # links the stateful phase followed
    phases: set[str] = field(default_factory=set)
    statuses: Counter = field(default_factory=Counter)

    def record(self, event: events.ScenarioFinished) -> None:
        self.phases.add(event.phase.name)
        recorder = event.recorder
        self.links |= {case.transition.id for case in recorder.cases.values()
                       if case.transition is not None and case.is_transition_applied}
        self.statuses.update(i.response.status_code for i in recorder.interactions.values() if i.response)
        for checks in recorder.checks.values():
            for check in checks:
                if check.failure_info is not None:
                    failure = check.failure_info.failure
                    self.failures.setdefault((recorder.label, check.name, failure.title),
                                             [0, f"{failure.message}\n{check.failure_info.code_sample}"])[0] += 1

    def report(self) -> str:
        return "\n\n".join(f"== {label}: {check} - {title} ({count}x)\n{text[:1500]}"
                           for (label, check, title), (count, text) in sorted(self.failures.items()))


def _run(app, headers: dict[str, str], run: Run, *, stateful: bool, round_: int = 0) -> None:
    """The examples, coverage and fuzzing phases, or one round of the stateful phase (each
    seeded round with a seed of its own, so that rounds explore different paths)."""
    config = SchemathesisConfig.from_dict({
        "headers": headers, "continue-on-failure": True,
        **({"seed": SEED + round_} if SEED is not None else {}),
        "generation": {"max-examples": EXAMPLES},
        "checks": {name: {"enabled": True} for name in CHECKS},
        "phases": {**{phase: {"enabled": not stateful} for phase in ("examples", "coverage", "fuzzing")},
                   # More scenarios than examples: an erasure must come early enough in one for the
                   # erased record to be read after it, and the run to check use-after-free.
                   "stateful": {"enabled": stateful, "max-steps": EXAMPLES,
                                "generation": {"max-examples": 3 * EXAMPLES}}},
    })
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            run.record(event)
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            message = event.info.message if isinstance(event, events.NonFatalError) else repr(event.exception)
            run.failures.setdefault((getattr(event, "label", "engine"), "engine", type(event).__name__),
                                    [0, message])[0] += 1


@pytest.fixture
def api(app):
    """(app, admin headers) with the app's lifespan started by schemathesis' ASGI client."""
    from casenotes.store.credentials import make_token

    with asgi.get_client(app):  # starts the lifespan (the real pipeline, the database migrated)
        pass
    try:
        yield app, {"Authorization": f"Bearer {make_token(app.state.services.sessions, 'admin', None, 'st')}"}
    finally:
        asgi.shutdown_lifespans()


@pytest.mark.slow
def test_the_service_keeps_to_its_schema_in_every_phase_and_check(api):
    app, headers = api
    run = Run()
    _seed(app, headers, "st")
    _run(app, headers, run, stateful=False)
    # A round may never read a record after erasing its client: up to five rounds, each on
    # fresh clients and with a seed of its own (one seed replays the same paths every round).
    for round_ in range(5):
        _seed(app, headers, f"st-round-{round_}")
        _run(app, headers, run, stateful=True, round_=round_)
        if ERASED_RECORD in run.links:
            break
    assert not run.failures, f"{len(run.failures)} distinct failures:\n\n{run.report()}"
    assert run.phases >= PHASES, f"phases run: {sorted(run.phases)}"
    assert sum(run.statuses.values()) > 14 * EXAMPLES, f"too few requests: {run.statuses}"
    assert run.statuses[200] + run.statuses[201] + run.statuses[204] > 100, f"too few answers met data: {run.statuses}"
    assert len(run.links) >= 10 and ERASED_RECORD in run.links, f"links followed: {sorted(run.links)}"


# -- each disagreement the outside probe found, on its own ------------------------------------

def _schema(client) -> dict:
    return client.get("/openapi.json").json()


def _body_schema(schema: dict, name: str) -> dict:
    return schema["components"]["schemas"][name]


def test_any_cursor_the_schema_allows_is_answered(client, tokens):
    """The probe's cursor `0` matched the schema and got 422; now the pattern is the cursor's form,
    and every cursor of that form pages on (one past the last id or day too, on PostgreSQL, and a
    confidence past 1 or as small as a float gets). The three-part form of before confidence is refused."""
    cursor = next(p for p in _schema(client)["paths"]["/v1/flags"]["get"]["parameters"] if p["name"] == "cursor")
    pattern = cursor["schema"]["anyOf"][0]["pattern"]
    assert not re.fullmatch(pattern, "0")
    for value in ("0_0_0_0", "3_4599075939470750515_739000_17", "4_1_739000_17",
                  "9999_9999999999999999999_9999999_9999999999"):
        assert re.fullmatch(pattern, value)
        assert client.get("/v1/flags", params={"cursor": value}, headers=tokens("supervisor")).status_code == 200
    for refused in ("0", "3_739000_17"):
        assert not re.fullmatch(pattern, refused)
        assert client.get("/v1/flags", params={"cursor": refused}, headers=tokens("supervisor")).status_code == 422


def test_the_schema_names_the_one_rubric_a_plan_may_name(client, tokens):
    rubric = _body_schema(_schema(client), "PlanIn")["properties"]["rubric"]
    assert rubric["enum"] == [client.app.state.services.pipeline.rubric.name]
    client.put("/v1/clients/C-1", json={"program": PROGRAM_A}, headers=tokens("ingest"))
    other = client.put("/v1/clients/C-1/plan", json={"goals": [], "rubric": "another"}, headers=tokens("ingest"))
    assert other.status_code == 422


def test_the_schema_states_the_review_rule_and_misfits_are_conflicts(client, tokens):
    """An acceptance has no status or level and a correction has one: in the schema, so a
    request the schema allows is never a 422. What depends on the result (its kind, its
    note's length) is a conflict with it."""
    shapes = _body_schema(_schema(client), "ResultReviewIn")["anyOf"]
    assert [shape["properties"]["decision"]["const"] for shape in shapes] == ["accepted", "corrected", "corrected"]
    client.put("/v1/clients/C-1", json={"program": PROGRAM_A}, headers=tokens("ingest"))
    client.put("/v1/clients/C-1/plan", json={"goals": GOALS}, headers=tokens("ingest"))
    note = client.post("/v1/clients/C-1/notes", headers=tokens("ingest"), json={
        "note_id": "N-1", "note_date": "2025-10-02", "text": NOTE_TEXT}).json()
    goal, domain = note["goals"][0]["result_id"], note["domains"][0]["result_id"]
    analyst = tokens("analyst")

    def review(result_id: int, body: dict) -> int:
        return client.post(f"/v1/results/{result_id}/review", json=body, headers=analyst).status_code

    assert review(goal, {"decision": "accepted", "level": 2}) == 422      # outside every shape
    assert review(goal, {"decision": "corrected"}) == 422
    assert review(goal, {"decision": "corrected", "level": 2}) == 409     # a level for a goal result
    assert review(domain, {"decision": "corrected", "status": "improving"}) == 409
    for span in ([5, 5], [9, 3], [0, len(NOTE_TEXT) + 1]):
        assert review(goal, {"decision": "accepted", "citations": [span]}) == 409
    assert review(goal, {"decision": "accepted", "citations": [[0, len(NOTE_TEXT)]]}) == 201
    assert review(domain, {"decision": "corrected", "level": 3.0}) == 201  # a whole number is an integer


@pytest.mark.parametrize("body, field", [
    ({"note_date": 0}, "note_date"), ({"note_date": "0"}, "note_date"), ({"note_date": 1700000000}, "note_date"),
    ({"note_date": "20251002"}, "note_date"), ({"note_date": "2025-13-02"}, "note_date"),
    ({"author": "J.\x00Rivera"}, "author"), ({"text": "Cl called.\x00"}, "text"),
    ({"text": " \t\n\u200b"}, "text"),
])
def test_what_the_schema_calls_invalid_is_refused(client, tokens, body, field):
    """Numbers are not dates (`"note_date": 0` was stored as 1970-01-01), NUL is refused, a note holds
    a visible character; and the schema says each of these, so the refusal is no surprise."""
    client.put("/v1/clients/C-1", json={"program": PROGRAM_A}, headers=tokens("ingest"))
    note = {"note_id": "N-1", "note_date": "2025-10-02", "text": NOTE_TEXT, **body}
    response = client.post("/v1/clients/C-1/notes", json=note, headers=tokens("ingest"))
    assert response.status_code == 422
    assert client.get("/v1/notes/N-1", headers=tokens("admin")).status_code == 404
    schema = _body_schema(_schema(client), "NoteIn")["properties"][field]
    if field == "note_date":
        assert (schema["type"], schema["format"]) == ("string", "date")
    else:
        declared = schema.get("pattern") or next(s["pattern"] for s in schema.get("anyOf", []) if "pattern" in s)
        assert not re.fullmatch(declared, note[field])


@pytest.mark.parametrize("value", ["3", True])
def test_integers_are_json_numbers(client, tokens, value):
    client.put("/v1/clients/C-1", json={"program": PROGRAM_A}, headers=tokens("ingest"))
    response = client.post("/v1/search", json={"q": "lease", "k": value}, headers=tokens("analyst"))
    assert response.status_code == 422


def test_the_note_text_pattern_is_the_services_rule_on_every_character():
    """The pattern in the schema and check_note_text agree on every code point alone, so no
    note the schema allows is refused as blank, and no note it forbids is stored."""
    from casenotes.errors import InvalidInput
    from casenotes.pipeline import check_note_text
    from casenotes.service.schemas import NOTE_TEXT_PATTERN

    pattern = re.compile(NOTE_TEXT_PATTERN)
    disagree = []
    for point in range(sys.maxunicode + 1):
        if 0xD800 <= point <= 0xDFFF or point == 0:  # refused by every field, for another reason
            continue
        character = chr(point)
        try:
            check_note_text(character, allow_blank=False)
            stored = True
        except InvalidInput:
            stored = False
        if stored != bool(pattern.fullmatch(character)):
            disagree.append(f"U+{point:04X}")
    assert not disagree, f"schema and service disagree on {len(disagree)} characters: {disagree[:20]}"


def test_a_405_allows_every_method_of_the_path(client, tokens):
    for path, methods in (("/v1/clients/C-1", "DELETE, PUT"), ("/v1/notes/N-1", "GET, HEAD, PUT"),
                          ("/v1/flags", "GET, HEAD")):
        response = client.options(path, headers=tokens("admin"))
        assert response.status_code == 405 and response.headers["allow"] == methods, path


def test_the_schema_links_a_client_to_its_plan_notes_record_and_erasure(client):
    schema = _schema(client)
    operation_ids = {op["operationId"] for ops in schema["paths"].values() for op in ops.values()}
    created = schema["paths"]["/v1/clients/{client_id}"]["put"]["responses"]["201"]["links"]
    assert {"PutPlan", "PostNote", "GetRecord", "DeleteClient"} <= set(created)
    erased = schema["paths"]["/v1/clients/{client_id}"]["delete"]["responses"]["204"]["links"]
    assert erased["GetErasedRecord"]["parameters"] == {"path.client_id": "$request.path.client_id"}
    every_link = [link for ops in schema["paths"].values() for op in ops.values()
                  for answer in op["responses"].values() for link in answer.get("links", {}).values()]
    assert len(every_link) > 40 and all(link["operationId"] in operation_ids for link in every_link)
