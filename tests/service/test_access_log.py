"""Search text stays out of the logs: `POST /v1/search` is the same search as `GET` with the
query in the body, and uvicorn's access log never prints a query string, on any path (against
a real `casenotes serve`: tests/system/test_access_log.py).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.service.conftest import PROGRAM_A, PROGRAM_B
from tests.service.test_api import make_client, post_note

CANARY = "Quartermaine7731"           # one word, so the URL-encoded query holds it as it is
QUERY = f"signed a lease with {CANARY}"


@pytest.fixture
def pipeline(fake_pipeline):
    """The fake one: no test here checks what a note says, so none loads the real model."""
    return fake_pipeline


# -- POST /v1/search ---------------------------------------------------------------------------

def _search_rows(client, tokens) -> list[dict]:
    entries = client.get("/v1/audit", params={"limit": 1000}, headers=tokens("admin")).json()["entries"]
    return [e for e in entries if e["action"] == "search"]


def test_search_by_post_finds_what_search_by_get_finds_and_is_audited_alike(client, tokens):
    make_client(client, tokens("ingest"))
    post_note(client, tokens("ingest"))
    make_client(client, tokens("ingest"), client_id="C-2", program=PROGRAM_B)
    post_note(client, tokens("ingest"), "N-2", "D: Cl signed a lease on a studio near the clinic.", client_id="C-2")
    analyst = tokens("analyst")
    for params in ({"q": "signed a lease", "k": 5}, {"q": "signed a lease", "k": 5, "client_id": "C-2"}):
        by_get = client.get("/v1/search", params=params, headers=analyst)
        audited = len(_search_rows(client, tokens))
        by_post = client.post("/v1/search", json=params, headers=analyst)
        assert by_get.status_code == by_post.status_code == 200
        assert by_post.json() == by_get.json() and by_post.json()["hits"]
        assert len(_search_rows(client, tokens)) - audited == len(by_post.json()["hits"])
    scoped = client.post("/v1/search", json={"q": "signed a lease"}, headers=tokens("analyst", PROGRAM_A)).json()
    assert {h["client_id"] for h in scoped["hits"]} == {"C-1"}
    other_program = client.post("/v1/search", json={"q": "lease", "client_id": "C-2"},
                                headers=tokens("analyst", PROGRAM_A))
    assert other_program.status_code == 404


@pytest.mark.parametrize("body, field", [({"q": ""}, "q"), ({"q": "a\u0000b"}, "q"), ({"q": "lease", "k": 0}, "k"),
                                         ({"q": "lease", "k": 51}, "k"), ({"q": "lease", "colour": "red"}, "colour"),
                                         ({"q": "lease", "client_id": "../x"}, "client_id"), ({}, "q")])
def test_search_by_post_refuses_a_bad_body_naming_the_field(client, tokens, body, field):
    response = client.post("/v1/search", json=body, headers=tokens("analyst"))
    assert response.status_code == 422
    assert any(error["loc"][-1] == field for error in response.json()["detail"])


def test_search_by_post_is_for_analysts(client, tokens):
    assert client.post("/v1/search", json={"q": "lease"}, headers=tokens("supervisor")).status_code == 403
    assert client.post("/v1/search", json={"q": "lease"}).status_code == 401


# -- the access log ----------------------------------------------------------------------------

@pytest.mark.parametrize("configure", [
    # `serve --workers N` hands uvicorn this configuration, which each worker process applies
    "logging.config.dictConfig(access_log.log_config())",
    # `uvicorn casenotes.service.main:app`: uvicorn's own configuration, then main.py installs the filter
    "logging.config.dictConfig(LOGGING_CONFIG); access_log.install(); access_log.install()",
])
def test_the_access_logger_drops_query_strings_however_the_server_starts(configure):
    script = textwrap.dedent(f"""
        import logging.config
        from uvicorn.config import LOGGING_CONFIG
        from casenotes.service import access_log
        {configure}
        logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET",
                                                 "/v1/search?q={CANARY}", "1.1", 200)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    output = done.stdout + done.stderr
    assert output.count('"GET /v1/search HTTP/1.1" 200') == 1 and CANARY not in output
