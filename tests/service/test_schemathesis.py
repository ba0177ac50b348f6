"""Schemathesis against the service's own OpenAPI schema, in-process, with an admin token:
no 5xx, and every answer is one the schema declares (status code, content type, body).

The app runs its real lifespan (database migrated, the session's real pipeline, the search
index) on SQLite and on PostgreSQL. A few clients, plans and notes are stored first, and a
share of the generated requests aim their path ids at stored objects, so reads, reviews,
revisions and the erasure meet real rows and not only 404s.

Each operation gets schemathesis' coverage cases (boundary values such as the shortest and
longest strings and the smallest and largest integers, optional fields left out, and their
negations) and then a bounded number of Hypothesis examples, positive and negative.
Failures are collected rather than raised, so a failing example does not end an
operation's run and hide the next finding.

schemathesis' own pytest integration (`from_fixture(...).parametrize()`) does not run under
pytest 9 (it sets `Function._nodeid`), so the strategies are driven here; the checks are
schemathesis' own. CASENOTES_SCHEMATHESIS_EXAMPLES=200 makes a deeper, randomised run.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance, not_a_server_error, response_schema_conformance, status_code_conformance,
)
from schemathesis.core.failures import FailureGroup
from schemathesis.python import asgi

from tests.service.conftest import PROGRAM_A

pytestmark = pytest.mark.slow

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MAX_EXAMPLES = int(os.environ.get("CASENOTES_SCHEMATHESIS_EXAMPLES", "30"))  # per operation
DERANDOMIZE = "CASENOTES_SCHEMATHESIS_EXAMPLES" not in os.environ  # the suite's run is repeatable
REPO = Path(__file__).resolve().parents[2]

CLIENT = "st-client-1"
DOOMED = "st-client-doomed"  # the client generated DELETEs erase
GOALS = [
    {"goal_id": "G1", "text": "Sign a lease for a 2BR unit using RRH rental assistance by 11/30/25",
     "domain": "housing", "target_date": "2025-11-30"},
    {"goal_id": "G2", "text": "Obtain employment of at least 25 hrs/week by 1/31/26", "domain": "employment"},
]
NOTE_TEXT = ("Home visit w/ cl at the shelter. Cl viewed the 2BR at 418 Poplar Ave and turned in the "
             "application; landlord to call back Fri. Cl started a part-time job at the grocery, 20 hrs/wk. "
             "Cl says she is behind on rent at the old place and got an eviction notice last week. "
             "Cl denies SI/HI. CM to call the landlord Monday.")


def _seed(app, headers: dict[str, str]) -> dict[str, list]:
    """Store two clients with plans and notes over HTTP; the ids worth aiming at, by path parameter."""
    with asgi.get_client(app) as http:
        for client_id in (CLIENT, DOOMED):
            answer = http.put(f"/v1/clients/{client_id}", json={"program": PROGRAM_A}, headers=headers)
            assert answer.status_code == 201, answer.text
            answer = http.put(f"/v1/clients/{client_id}/plan", json={"goals": GOALS}, headers=headers)
            assert answer.status_code == 201, answer.text
        stored = []
        for note_id, client_id in (("st-note-1", CLIENT), ("st-note-2", CLIENT), ("st-note-doomed", DOOMED)):
            answer = http.post(f"/v1/clients/{client_id}/notes", headers=headers,
                               json={"note_id": note_id, "note_date": "2025-10-02", "note_format": "narrative",
                                     "author": "J. Rivera", "text": NOTE_TEXT})
            assert answer.status_code == 201, answer.text
            stored.append(answer.json())
    results = [r["result_id"] for note in stored[:2] for r in note["goals"] + note["domains"]]
    flags = [f["flag_id"] for note in stored[:2] for f in note["flags"]]
    assert results and flags, "the seed notes should yield results and at least one flag"
    return {"client_id": [CLIENT], "note_id": ["st-note-1", "st-note-2"],
            "result_id": results[:2] + results[-2:], "flag_id": flags[:3]}


def _aimed(operation, known: dict[str, list]) -> list[dict[str, object]]:  # noqa: ANN001
    """Path parameters naming stored objects (for DELETE: the client it may erase)."""
    names = [p.name for p in operation.path_parameters]
    if not names:
        return []
    if operation.method.upper() == "DELETE":
        return [{"client_id": DOOMED}]
    if not all(known.get(name) for name in names):
        return []
    longest = max(len(known[name]) for name in names)
    return [{name: known[name][i % len(known[name])] for name in names} for i in range(longest)]


def _strategy(operation, known: dict[str, list]):  # noqa: ANN001, ANN202
    """Positive and negative cases, with generated path ids or stored ones."""
    strategies = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        for fixed in [None, *_aimed(operation, known)]:
            try:
                strategies.append(operation.as_strategy(generation_mode=mode, path_parameters=fixed))
            except Exception:  # noqa: BLE001 - e.g. nothing to negate in an operation without inputs
                if mode is GenerationMode.POSITIVE:
                    raise
    return st.one_of(strategies)


def _coverage_cases(schema, operation) -> list:  # noqa: ANN001
    return list(schema.iter_coverage_cases(operation, generation_modes=list(GenerationMode),
                                           generation_config=schema.config.generation_for(operation=operation)))


def _unhandled(exc: BaseException) -> str:
    """The exception (with the request that raised it) and the service's own frames it passed through."""
    ours = (str(REPO / "casenotes"), str(REPO / "service"))
    frames = [f"  {frame.filename}:{frame.lineno} in {frame.name}"
              for frame in traceback.extract_tb(exc.__traceback__) if frame.filename.startswith(ours)]
    return "".join(traceback.format_exception_only(exc)) + "\n".join(frames)


@pytest.fixture
def api(app):
    """(schema, admin headers, stored ids) for an app whose lifespan schemathesis' ASGI client started."""
    from casenotes.service.admin import make_token

    # Loading the schema through the ASGI client starts the app's lifespan (the real
    # pipeline, the database migrated); it runs until shutdown_lifespans() below.
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    try:
        headers = {"Authorization": f"Bearer {make_token(app.state.services.sessions, 'admin', None, 'schemathesis')}"}
        yield schema, headers, _seed(app, headers)
    finally:
        asgi.shutdown_lifespans()


def test_no_server_errors_and_no_schema_violations(api):
    schema, headers, known = api
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14
    found: dict[tuple[str, str, str, int], list] = {}  # (operation, code, title, status) -> [count, report]
    sent = 0

    def exercise(operation, case) -> None:  # noqa: ANN001
        nonlocal sent
        sent += 1
        try:
            response = case.call(headers=headers)
        except Exception as exc:  # noqa: BLE001 - the in-process app raised: a 500 over HTTP
            found.setdefault((operation.label, "5xx", f"unhandled {type(exc).__name__}", 500),
                             [0, _unhandled(exc)])[0] += 1
            return
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                found.setdefault((operation.label, failure.code, failure.title, response.status_code),
                                 [0, str(group)])[0] += 1

    for operation in operations:
        for case in _coverage_cases(schema, operation):
            exercise(operation, case)

        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=DERANDOMIZE,
                  suppress_health_check=list(HealthCheck))
        @given(case=_strategy(operation, known))
        def fuzz(case) -> None:  # noqa: ANN001
            exercise(operation, case)

        fuzz()

    assert sent > len(operations) * MAX_EXAMPLES // 2
    assert not found, f"{len(found)} distinct failures in {sent} requests:\n\n" + "\n\n".join(
        f"== {label}: {code} {title}, status {status} ({count}x)\n{report}"
        for (label, code, title, status), (count, report) in sorted(found.items()))
