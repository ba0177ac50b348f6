"""Who may call what: every endpoint by every role, unscoped and scoped to each program,
on objects of each program, on SQLite and PostgreSQL.

Roles limit endpoints: ingest writes clients, plans and notes and reads the notes it
ingested; supervisors work the flag queue; analysts read results, review them and search;
admin does everything, the audit log and erasure included. A token scoped to a program
gets 404 for every object of another program, and lists (the flag queue, search) never
show another program's objects. No token, or a bad or revoked one, is 401; a role that
may not call an endpoint is 403 (before any lookup, so it says nothing of the object).

The world (two clients, one per program, each with a plan, a flagged note and a note to
revise) is built once per test: notes are scored by the real pipeline. Each matrix test
collects every wrong answer and fails once with the whole list.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.service.conftest import PROGRAM_A, PROGRAM_B

ROLES = ("ingest", "supervisor", "analyst", "admin")
SCOPES = (None, PROGRAM_A, PROGRAM_B)
PROGRAMS = (PROGRAM_A, PROGRAM_B)

PLAN = {"goals": [
    {"goal_id": "G1", "text": "Obtain stable permanent housing", "domain": "housing"},
    {"goal_id": "G2", "text": "Engage in mental health treatment", "domain": "mental_health"},
], "rubric": "self-sufficiency"}
FLAGGED_TEXT = ("D: Cl received a 3-day eviction notice today and was locked out of the unit. "
                "Cl disclosed SI with a plan to overdose.")
PLAIN_TEXT = "Met with cl at office. Cl reports applying for two jobs this week."
REVISED_TEXT = "Met with cl at office. Cl reports applying for three jobs this week and has an interview."
NOTE_DATE = "2026-03-14"


@dataclass
class Side:
    """One program's objects."""

    program: str
    client_id: str
    note_id: str            # ingested by the ingest token scoped to this program; carries the flag
    revise_note_id: str     # ingested by the unscoped ingest token; the one PUT /v1/notes revises
    flag_id: int
    goal_result_id: int
    domain_result_id: int


@dataclass
class World:
    sides: dict[str, Side]

    def __getitem__(self, program: str) -> Side:
        return self.sides[program]


def _key(program: str) -> str:
    return "A" if program == PROGRAM_A else "B"


def _who(role: str, scope: str | None) -> str:
    return f"{role}[{_key(scope) if scope else 'all'}]"


def build_world(client, tokens) -> World:
    """One client per program with a plan and two notes; the first note raises a flag and
    has goal and domain results. 4 notes scored in all."""
    admin = tokens("admin")
    sides = {}
    for program in PROGRAMS:
        k = _key(program)
        client_id, note_id, revise_note_id = f"C-{k}", f"N-{k}-1", f"N-{k}-2"
        assert client.put(f"/v1/clients/{client_id}", json={"program": program}, headers=admin).status_code == 201
        assert client.put(f"/v1/clients/{client_id}/plan", json=PLAN, headers=admin).status_code == 201
        flagged = client.post(f"/v1/clients/{client_id}/notes", headers=tokens("ingest", program), json={
            "note_id": note_id, "note_date": NOTE_DATE, "note_format": "DAP", "text": FLAGGED_TEXT})
        assert flagged.status_code == 201, flagged.text
        body = flagged.json()
        assert body["flags"], f"the flagged note raised no flag: {body}"
        assert body["goals"] and body["domains"], f"the flagged note has no goal or domain result: {body}"
        plain = client.post(f"/v1/clients/{client_id}/notes", headers=tokens("ingest"), json={
            "note_id": revise_note_id, "note_date": NOTE_DATE, "text": PLAIN_TEXT})
        assert plain.status_code == 201, plain.text
        sides[program] = Side(program=program, client_id=client_id, note_id=note_id, revise_note_id=revise_note_id,
                              flag_id=body["flags"][0]["flag_id"], goal_result_id=body["goals"][0]["result_id"],
                              domain_result_id=body["domains"][0]["result_id"])
    return World(sides)


# -- the endpoints ----------------------------------------------------------------------

@dataclass(frozen=True)
class Endpoint:
    name: str
    roles: frozenset[str]                  # who may call it (admin listed explicitly)
    request: Callable[[Side | None], tuple[str, str, dict | None]]
    ok: int                                # the status when allowed
    targeted: bool = True                  # acts on one program's object
    cross: int = 404                       # a scoped token on another program's object
    owner_scope: Callable[[Side], str | None] | None = None  # ingest reads only what this token ingested
    not_owner: int = 404                   # ... and so also writes and replays: what another token gets


WRITERS = frozenset({"ingest", "admin"})
ENDPOINTS = [
    Endpoint("PUT client", WRITERS, lambda s: ("PUT", f"/v1/clients/{s.client_id}", {"program": s.program}),
             ok=200, cross=403),  # writing into another program is forbidden outright
    Endpoint("PUT plan", WRITERS, lambda s: ("PUT", f"/v1/clients/{s.client_id}/plan", PLAN), ok=201),
    Endpoint("POST note (stored already)", WRITERS, lambda s: (
        "POST", f"/v1/clients/{s.client_id}/notes",
        {"note_id": s.note_id, "note_date": NOTE_DATE, "note_format": "DAP", "text": FLAGGED_TEXT}), ok=200,
             owner_scope=lambda s: s.program, not_owner=409),  # another token's note_id is taken
    Endpoint("PUT note (revise)", WRITERS, lambda s: (
        "PUT", f"/v1/notes/{s.revise_note_id}", {"note_date": NOTE_DATE, "text": REVISED_TEXT}), ok=200,
             owner_scope=lambda s: None),
    Endpoint("GET note", frozenset({"ingest", "supervisor", "analyst", "admin"}),
             lambda s: ("GET", f"/v1/notes/{s.note_id}", None), ok=200, owner_scope=lambda s: s.program),
    Endpoint("GET note ingested by unscoped ingest", frozenset({"ingest", "supervisor", "analyst", "admin"}),
             lambda s: ("GET", f"/v1/notes/{s.revise_note_id}", None), ok=200, owner_scope=lambda s: None),
    Endpoint("GET record", frozenset({"supervisor", "analyst", "admin"}),
             lambda s: ("GET", f"/v1/clients/{s.client_id}/record", None), ok=200),
    Endpoint("GET record as FHIR", frozenset({"supervisor", "analyst", "admin"}),
             lambda s: ("GET", f"/v1/clients/{s.client_id}/fhir", None), ok=200),
    Endpoint("GET flags", frozenset({"supervisor", "analyst", "admin"}),
             lambda s: ("GET", "/v1/flags?status=any", None), ok=200, targeted=False),
    Endpoint("POST flag review", frozenset({"supervisor", "admin"}), lambda s: (
        "POST", f"/v1/flags/{s.flag_id}/review", {"decision": "confirmed", "comment": "called the client"}),
             ok=200),
    Endpoint("POST goal result review (accept)", frozenset({"analyst", "admin"}),
             lambda s: ("POST", f"/v1/results/{s.goal_result_id}/review", {"decision": "accepted"}), ok=201),
    Endpoint("POST goal result review (correct)", frozenset({"analyst", "admin"}), lambda s: (
        "POST", f"/v1/results/{s.goal_result_id}/review", {"decision": "corrected", "status": "worsening"}),
             ok=201),
    Endpoint("POST domain result review (correct)", frozenset({"analyst", "admin"}), lambda s: (
        "POST", f"/v1/results/{s.domain_result_id}/review", {"decision": "corrected", "level": 2}), ok=201),
    Endpoint("GET search in a client", frozenset({"analyst", "admin"}),
             lambda s: ("GET", f"/v1/search?q=eviction&client_id={s.client_id}", None), ok=200),
    Endpoint("GET search", frozenset({"analyst", "admin"}),
             lambda s: ("GET", "/v1/search?q=eviction", None), ok=200, targeted=False),
    Endpoint("GET audit", frozenset({"admin"}), lambda s: ("GET", "/v1/audit", None), ok=200, targeted=False),
]
DELETE = Endpoint("DELETE client", frozenset({"admin"}),
                  lambda s: ("DELETE", f"/v1/clients/{s.client_id}", None), ok=204)


def expected_status(endpoint: Endpoint, role: str, scope: str | None, side: Side | None) -> int:
    if role not in endpoint.roles:
        return 403
    if endpoint.targeted and scope is not None and scope != side.program:
        return endpoint.cross
    if role == "ingest" and endpoint.owner_scope is not None and scope != endpoint.owner_scope(side):
        return endpoint.not_owner  # a note some other token ingested
    return endpoint.ok


def call(client, headers: dict[str, str], method: str, url: str, body: dict | None):
    return client.request(method, url, headers=headers, json=body)


def _describe(response) -> str:
    try:
        return str(response.json())[:200]
    except ValueError:
        return response.text[:200]


# -- the matrix -------------------------------------------------------------------------

def test_every_endpoint_by_role_and_program(client, tokens):
    world = build_world(client, tokens)
    failures: list[str] = []
    successes: dict[tuple[str, str], int] = {}

    def check(endpoint: Endpoint, role: str, scope: str | None, side: Side | None) -> None:
        method, url, body = endpoint.request(side)
        want = expected_status(endpoint, role, scope, side)
        response = call(client, tokens(role, scope), method, url, body)
        target = f" on {_key(side.program)}" if side else ""
        if response.status_code != want:
            failures.append(f"{endpoint.name} by {_who(role, scope)}{target}: {response.status_code}, "
                            f"want {want} ({_describe(response)})")
            return
        if want < 300 and side is not None:
            successes[(endpoint.name, side.program)] = successes.get((endpoint.name, side.program), 0) + 1
            problem = _wrong_body(endpoint, response.json(), side)
            if problem:
                failures.append(f"{endpoint.name} by {_who(role, scope)}{target}: {problem}")

    for endpoint in ENDPOINTS:
        for role in ROLES:
            for scope in SCOPES:
                if endpoint.targeted:
                    for program in PROGRAMS:
                        check(endpoint, role, scope, world[program])
                else:
                    check(endpoint, role, scope, None)

    # Erasure last: an allowed call erases a client made for it; a refused one aims at the
    # real client, which must survive.
    for role in ROLES:
        for scope in SCOPES:
            for program in PROGRAMS:
                side = world[program]
                want = expected_status(DELETE, role, scope, side)
                if want == 204:
                    victim = f"DEL-{role}-{_key(scope) if scope else 'all'}-{_key(program)}"
                    assert client.put(f"/v1/clients/{victim}", json={"program": program},
                                      headers=tokens("admin")).status_code == 201
                    side = Side(program, victim, "", "", 0, 0, 0)
                response = call(client, tokens(role, scope), *DELETE.request(side))
                if response.status_code != want:
                    failures.append(f"DELETE client by {_who(role, scope)} on {_key(program)}: "
                                    f"{response.status_code}, want {want} ({_describe(response)})")
                elif want == 204 and client.get(f"/v1/clients/{side.client_id}/record",
                                                headers=tokens("admin")).status_code != 404:
                    failures.append(f"DELETE client by {_who(role, scope)} on {_key(program)}: still there")

    # Refused writes changed nothing; allowed ones each did their one thing.
    admin = tokens("admin")
    for program in PROGRAMS:
        side = world[program]
        record = client.get(f"/v1/clients/{side.client_id}/record", headers=admin)
        if record.status_code != 200:
            failures.append(f"client {side.client_id} is gone after the matrix: {record.status_code}")
            continue
        record = record.json()
        if record["client"]["program"] != program:
            failures.append(f"client {side.client_id} moved to {record['client']['program']!r}")
        plans = 1 + successes.get(("PUT plan", program), 0)
        if record["plan"]["version"] != plans:
            failures.append(f"client {side.client_id} has plan version {record['plan']['version']}, want {plans}")
        revised = client.get(f"/v1/notes/{side.revise_note_id}", headers=admin).json()
        revisions = 1 + successes.get(("PUT note (revise)", program), 0)
        if len(revised["revisions"]) != revisions or revised["text"] != REVISED_TEXT:
            failures.append(f"note {side.revise_note_id} has {len(revised['revisions'])} revisions, want {revisions}")
        note = client.get(f"/v1/notes/{side.note_id}", headers=admin).json()
        flag = next((f for f in note["flags"] if f["flag_id"] == side.flag_id), None)
        if flag is None or flag["status"] != "confirmed" or not flag["reviewer"].startswith(("supervisor-", "admin-")):
            failures.append(f"flag {side.flag_id} after the reviews: {flag}")

    assert not failures, f"{len(failures)} wrong answers:\n" + "\n".join(failures)


def _wrong_body(endpoint: Endpoint, body: dict, side: Side) -> str | None:
    """The allowed answer is about the object asked for (never another program's)."""
    if endpoint.name == "PUT client" and (body["client_id"], body["program"]) != (side.client_id, side.program):
        return f"answered {body}"
    if endpoint.name.startswith("PUT plan") and body["client_id"] != side.client_id:
        return f"plan of {body['client_id']}"
    if endpoint.name.startswith(("GET note", "POST note", "PUT note")) and body["client_id"] != side.client_id:
        return f"note of {body['client_id']}"
    if endpoint.name == "GET record" and body["client"]["client_id"] != side.client_id:
        return f"record of {body['client']['client_id']}"
    if endpoint.name == "GET record as FHIR":
        patients = [e["resource"]["identifier"][0]["value"] for e in body["entry"]
                    if e["resource"]["resourceType"] == "Patient"]
        if patients != [side.client_id]:
            return f"FHIR record of {patients}"
    if endpoint.name == "POST flag review" and (body["flag_id"], body["program"]) != (side.flag_id, side.program):
        return f"answered {body}"
    if endpoint.name == "GET search in a client" and (
            not body["hits"] or {h["client_id"] for h in body["hits"]} != {side.client_id}):
        return f"hits of {sorted({h['client_id'] for h in body['hits']})}"
    return None


def test_scoped_lists_show_only_the_programs_objects(client, tokens):
    """The flag queue and search (no client_id) are filtered, not refused: a scoped token sees
    its program's flags and hits and never another program's; an unscoped one sees both."""
    world = build_world(client, tokens)
    failures: list[str] = []
    all_clients = {world[p].client_id for p in PROGRAMS}

    for role in ("supervisor", "analyst", "admin"):
        for scope in SCOPES:
            headers = tokens(role, scope)
            visible = {world[scope].client_id} if scope else all_clients
            for query in ("/v1/flags", "/v1/flags?status=any", "/v1/flags?type=safety&limit=200"):
                response = client.get(query, headers=headers)
                if response.status_code != 200:
                    failures.append(f"{query} by {_who(role, scope)}: {response.status_code}")
                    continue
                flags = response.json()["flags"]
                seen = {f["client_id"] for f in flags}
                programs = {f["program"] for f in flags}
                if seen != visible or programs != ({scope} if scope else set(PROGRAMS)):
                    failures.append(f"{query} by {_who(role, scope)}: clients {sorted(seen)} programs "
                                    f"{sorted(programs)}, want {sorted(visible)}")
                own = {world[p].flag_id for p in PROGRAMS if scope in (None, p)}
                if not own <= {f["flag_id"] for f in flags} and "type=" not in query:
                    failures.append(f"{query} by {_who(role, scope)}: misses flags {own}")
            if scope is not None:  # asking for the other program by name is no way round the scope
                other = PROGRAM_B if scope == PROGRAM_A else PROGRAM_A
                response = client.get("/v1/flags", params={"program": other, "status": "any"}, headers=headers)
                if response.status_code != 200 or response.json()["flags"]:
                    failures.append(f"/v1/flags?program=<other> by {_who(role, scope)}: {response.status_code} "
                                    f"{_describe(response)}")

    for role in ("analyst", "admin"):
        for scope in SCOPES:
            headers = tokens(role, scope)
            visible = {world[scope].client_id} if scope else all_clients
            for q in ("eviction notice locked out", "applying for jobs", "overdose"):
                response = client.get("/v1/search", params={"q": q, "k": 50}, headers=headers)
                if response.status_code != 200:
                    failures.append(f"search {q!r} by {_who(role, scope)}: {response.status_code}")
                    continue
                seen = {h["client_id"] for h in response.json()["hits"]}
                if seen != visible:
                    failures.append(f"search {q!r} by {_who(role, scope)}: hits of {sorted(seen)}, "
                                    f"want {sorted(visible)}")
                notes = {h["note_id"] for h in response.json()["hits"]}
                foreign = {world[p].note_id for p in PROGRAMS if scope not in (None, p)} \
                    | {world[p].revise_note_id for p in PROGRAMS if scope not in (None, p)}
                if notes & foreign:
                    failures.append(f"search {q!r} by {_who(role, scope)}: another program's notes {notes & foreign}")

    # A scoped supervisor's record shows only that client's flags; the other client's is 404.
    for program in PROGRAMS:
        other = PROGRAM_B if program == PROGRAM_A else PROGRAM_A
        headers = tokens("supervisor", program)
        record = client.get(f"/v1/clients/{world[program].client_id}/record", headers=headers).json()
        if {f["client_id"] for f in record["open_flags"]} != {world[program].client_id}:
            failures.append(f"record of {world[program].client_id}: open flags {record['open_flags']}")
        response = client.get(f"/v1/clients/{world[other].client_id}/record", headers=headers)
        if response.status_code != 404:
            failures.append(f"record of the other program's client: {response.status_code}")

    assert not failures, f"{len(failures)} wrong answers:\n" + "\n".join(failures)


# -- writes across programs -------------------------------------------------------------

@pytest.mark.parametrize("role", ["ingest", "admin"])
def test_a_scoped_writer_cannot_reach_into_another_program(client, tokens, role):
    """No notes are scored here: every refusal comes before the pipeline."""
    admin = tokens("admin")
    assert client.put("/v1/clients/C-A", json={"program": PROGRAM_A}, headers=admin).status_code == 201
    assert client.put("/v1/clients/C-B", json={"program": PROGRAM_B}, headers=admin).status_code == 201
    writer = tokens(role, PROGRAM_A)
    note = {"note_id": "N-X", "note_date": NOTE_DATE, "text": PLAIN_TEXT}

    # Its own program: create (201), then update (200).
    assert client.put("/v1/clients/C-A2", json={"program": PROGRAM_A}, headers=writer).status_code == 201
    assert client.put("/v1/clients/C-A2", json={"program": PROGRAM_A}, headers=writer).status_code == 200
    # A new client in another program: 403, and nothing is created.
    assert client.put("/v1/clients/C-B2", json={"program": PROGRAM_B}, headers=writer).status_code == 403
    assert client.get("/v1/clients/C-B2/record", headers=admin).status_code == 404
    # Moving its own client out of its program: 403.
    assert client.put("/v1/clients/C-A", json={"program": PROGRAM_B}, headers=writer).status_code == 403
    # A plan or a note for another program's client: 404, and nothing is stored.
    assert client.put("/v1/clients/C-B/plan", json=PLAN, headers=writer).status_code == 404
    assert client.post("/v1/clients/C-B/notes", json=note, headers=writer).status_code == 404
    assert client.get("/v1/notes/N-X", headers=admin).status_code == 404
    # A client that does not exist at all answers the same 404.
    assert client.put("/v1/clients/C-NONE/plan", json=PLAN, headers=writer).status_code == 404
    assert client.delete("/v1/clients/C-B", headers=tokens("admin", PROGRAM_A)).status_code == 404
    # Enrolling another program's client in its own program (one person, many programs): 201, and
    # the answer shows its own enrollment alone; B's enrollment is left as it was.
    enrolled = client.put("/v1/clients/C-B", json={"program": PROGRAM_A}, headers=writer)
    assert enrolled.status_code == 201
    assert [e["program"] for e in enrolled.json()["enrollments"]] == [PROGRAM_A]

    records = {c: client.get(f"/v1/clients/{c}/record", headers=admin).json() for c in ("C-A", "C-B")}
    assert records["C-A"]["client"]["program"] == PROGRAM_A
    assert [(e["program"], e["status"]) for e in records["C-B"]["client"]["enrollments"]] == [
        (PROGRAM_B, "active"), (PROGRAM_A, "active")]
    assert records["C-B"]["plan"] is None and records["C-B"]["notes"] == []


# -- authentication ---------------------------------------------------------------------

ALL_REQUESTS = [
    ("PUT", "/v1/clients/C-A", {"program": PROGRAM_A}),
    ("PUT", "/v1/clients/C-A/plan", PLAN),
    ("POST", "/v1/clients/C-A/notes", {"note_id": "N-1", "note_date": NOTE_DATE, "text": PLAIN_TEXT}),
    ("PUT", "/v1/notes/N-1", {"note_date": NOTE_DATE, "text": PLAIN_TEXT}),
    ("GET", "/v1/notes/N-1", None),
    ("GET", "/v1/clients/C-A/record", None),
    ("GET", "/v1/clients/C-A/fhir", None),
    ("GET", "/v1/flags", None),
    ("POST", "/v1/flags/1/review", {"decision": "dismissed"}),
    ("POST", "/v1/results/1/review", {"decision": "accepted"}),
    ("GET", "/v1/search?q=eviction", None),
    ("GET", "/v1/search?q=eviction&client_id=C-A", None),
    ("DELETE", "/v1/clients/C-A", None),
    ("GET", "/v1/audit", None),
]


def test_no_bad_or_revoked_token_is_401_everywhere(client, tokens):
    from sqlalchemy import update

    from casenotes.service.auth import SESSION_COOKIE
    from casenotes.store.credentials import make_token, token_digest
    from casenotes.store.tables import ApiToken

    admin = tokens("admin")
    assert client.put("/v1/clients/C-A", json={"program": PROGRAM_A}, headers=admin).status_code == 201
    sessions = client.app.state.services.sessions
    revoked = make_token(sessions, "admin", None, "revoked-admin")
    assert client.get("/v1/audit", headers={"Authorization": f"Bearer {revoked}"}).status_code == 200
    with sessions.begin() as session:
        session.execute(update(ApiToken).where(ApiToken.token_sha256 == token_digest(revoked)).values(revoked=True))
    valid = tokens("admin")["Authorization"].removeprefix("Bearer ")

    bad_credentials = {
        "no token": {},
        "empty bearer": {"Authorization": "Bearer "},
        "unknown token": {"Authorization": "Bearer cn_" + "x" * 43},
        "not a casenotes token": {"Authorization": "Bearer not-a-token"},
        "token with its prefix cut": {"Authorization": f"Bearer {valid.removeprefix('cn_')}"},
        "token one character short": {"Authorization": f"Bearer {valid[:-1]}"},
        "overlong token": {"Authorization": "Bearer cn_" + "x" * 300},
        "basic auth": {"Authorization": "Basic " + base64.b64encode(f"admin:{valid}".encode()).decode()},
        "token without scheme": {"Authorization": valid},
        "revoked token": {"Authorization": f"Bearer {revoked}"},
        "bad session cookie": {"Cookie": f"{SESSION_COOKIE}=cn_{'y' * 43}"},
        "revoked session cookie": {"Cookie": f"{SESSION_COOKIE}={revoked}"},
    }
    failures = []
    for method, url, body in ALL_REQUESTS:
        for label, headers in bad_credentials.items():
            response = client.request(method, url, headers=headers, json=body)
            if response.status_code != 401:
                failures.append(f"{method} {url} with {label}: {response.status_code}, want 401")
            elif response.headers.get("www-authenticate") != "Bearer":
                failures.append(f"{method} {url} with {label}: WWW-Authenticate {response.headers.get('www-authenticate')!r}")
    assert not failures, f"{len(failures)} wrong answers:\n" + "\n".join(failures)

    # A session cookie from signing in with the good token (the UI's way) is let in; nothing
    # above was refused for its URL.
    signed_in = client.post("/ui/login", data={"token": valid}, follow_redirects=False)
    client.cookies.clear()
    session_cookie = {"Cookie": f"{SESSION_COOKIE}={signed_in.cookies[SESSION_COOKIE]}"}
    assert client.get("/v1/clients/C-A/record", headers=session_cookie).status_code == 200
    assert client.get("/v1/clients/C-A/record", headers=admin).status_code == 200


def test_a_refused_role_learns_nothing_about_the_object(client, tokens):
    """403 comes before any lookup: the same answer for an object that exists, one of another
    program and one that does not, so a wrong role cannot probe for ids."""
    admin = tokens("admin")
    assert client.put("/v1/clients/C-A", json={"program": PROGRAM_A}, headers=admin).status_code == 201
    assert client.put("/v1/clients/C-B", json={"program": PROGRAM_B}, headers=admin).status_code == 201
    probes = [
        ("supervisor", "PUT", "/v1/clients/{c}/plan", PLAN),
        ("analyst", "DELETE", "/v1/clients/{c}", None),
        ("ingest", "GET", "/v1/clients/{c}/record", None),
        ("ingest", "GET", "/v1/clients/{c}/fhir", None),
        ("supervisor", "GET", "/v1/search?q=x&client_id={c}", None),
    ]
    for role, method, url, body in probes:
        answers = {c: client.request(method, url.format(c=c), headers=tokens(role, PROGRAM_A), json=body)
                   for c in ("C-A", "C-B", "C-NONE")}
        assert {c: r.status_code for c, r in answers.items()} == {"C-A": 403, "C-B": 403, "C-NONE": 403}, \
            (role, method, url)
        assert len({r.json()["detail"] for r in answers.values()}) == 1


# -- the audit log ----------------------------------------------------------------------

def test_the_audit_log_is_admins_only_and_records_each_access(client, tokens):
    admin = tokens("admin")
    assert client.put("/v1/clients/C-A", json={"program": PROGRAM_A}, headers=admin).status_code == 201
    assert client.get("/v1/clients/C-A/record", headers=tokens("analyst", PROGRAM_A)).status_code == 200
    for role in ("ingest", "supervisor", "analyst"):
        for scope in SCOPES:
            assert client.get("/v1/audit", headers=tokens(role, scope)).status_code == 403, (role, scope)
    entries = client.get("/v1/audit", params={"client_id": "C-A"}, headers=admin).json()["entries"]
    assert [(e["action"], e["object_type"], e["role"], e["actor"].split("#")[0]) for e in entries] == [
        ("read", "record", "analyst", "analyst-Rapid Re-Housing"), ("put", "client", "admin", "admin-all")]
    # Refused calls leave no audit row, and a refused role's attempt is not a read.
    assert client.get("/v1/clients/C-A/record", headers=tokens("ingest")).status_code == 403
    assert client.get("/v1/clients/C-A/record", headers=tokens("analyst", PROGRAM_B)).status_code == 404
    assert len(client.get("/v1/audit", params={"client_id": "C-A"}, headers=admin).json()["entries"]) == 2


def test_a_program_scoped_admin_sees_only_its_programs_audit_entries(client, tokens):
    """The audit log names clients and notes; a token scoped to program A gets 404 for
    everything of program B, so its audit log must not list B's clients either."""
    admin = tokens("admin")
    assert client.put("/v1/clients/C-A", json={"program": PROGRAM_A}, headers=admin).status_code == 201
    assert client.put("/v1/clients/C-B", json={"program": PROGRAM_B}, headers=admin).status_code == 201
    scoped = tokens("admin", PROGRAM_A)
    assert client.get("/v1/clients/C-B/record", headers=scoped).status_code == 404

    listed = {e["client_id"] for e in client.get("/v1/audit", headers=scoped).json()["entries"]}
    assert "C-A" in listed
    assert "C-B" not in listed, "a program-A admin token lists program B's clients in the audit log"
    assert client.get("/v1/audit", params={"client_id": "C-B"}, headers=scoped).status_code == 404


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_write_looks_its_token_up_once(client, tokens, monkeypatch):
    """The request guard checks the token before the body is read; the route reuses what it found."""
    from casenotes.service import auth, limits

    lookups, look_up = [], auth.principal_for

    def counted(session, token):
        lookups.append(token)
        return look_up(session, token)

    ingest = tokens("ingest")
    monkeypatch.setattr(auth, "principal_for", counted)
    monkeypatch.setattr(limits, "principal_for", counted)
    response = client.put("/v1/clients/C-ONCE", json={"program": "Rapid Re-Housing"}, headers=ingest)
    assert response.status_code == 201
    assert len(lookups) == 1
