"""The review UI in a real browser: Debian's Chromium driven by Playwright, against a live
`casenotes serve` loaded with `casenotes demo`.

The demo is scored once per set of inputs (demo notes, model, rubric, schema) and the data
directory it writes is kept in pytest's cache; each run copies it, so state changed here (a
dismissed flag, a correction) never leaks into the next run, and the suite stays within
a minute or so once the cache is warm (scoring the 57 demo notes takes one to three). Screenshots of every
page at 1280 and 390 px wide go to test-artifacts/ui/ (or $CASENOTES_UI_SHOTS).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.system.live import free_port, server_environment

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(os.environ.get("CASENOTES_UI_SHOTS", REPO / "test-artifacts" / "ui"))
PROGRAM_A, PROGRAM_B = "Rapid Re-Housing", "Behavioral Health"
CLIENT_A, CLIENT_B = "C-101", "C-301"          # demo clients of program A and program B
NOTE_A, NOTE_B = "N-101-03", "N-301-04"        # notes with overlapping citations of goals, domains and flags
WIDTHS = {"wide": (1280, 900), "narrow": (390, 844)}

playwright_api = pytest.importorskip("playwright.sync_api")


# -- the live server ---------------------------------------------------------------------------

@dataclass
class Live:
    base: str
    tokens: dict[str, str]      # role key -> token
    actors: dict[str, str]      # role key -> actor as the audit log names it

    def api(self, key: str = "admin") -> httpx.Client:
        return httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {self.tokens[key]}"}, timeout=60)


def _demo_inputs_digest() -> str:
    """What decides the demo's stored data: the demo notes, the model, the rubric and the schema
    (a newer schema migrates an older copy at start-up, as it would a real database)."""
    digest = hashlib.sha256()
    resources = REPO / "casenotes" / "resources"
    sources = [resources / "demo" / "demo.jsonl", *sorted((resources / "models").glob("*")),
               *sorted((resources / "rubrics").glob("*.yaml")),
               *sorted((REPO / "casenotes" / "store" / "migrations").rglob("*.py"))]
    for path in sources:
        if path.is_file():
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _clean_env(data_dir: Path) -> dict[str, str]:
    return server_environment(data_dir, CASENOTES_SECURE_COOKIES="false")


def _load_demo(data_dir: Path, cache_root: Path, work: Path) -> None:
    """`casenotes demo` into data_dir, or a copy of what it wrote before from the same inputs."""
    cached = cache_root / _demo_inputs_digest()
    if not (cached / "casenotes.db").exists():
        fresh = work / "demo-build"
        subprocess.run([str(Path(sys.executable).with_name("casenotes")), "demo"], env=_clean_env(fresh),
                       cwd=work, check=True, capture_output=True, timeout=900)
        staging = cache_root / f"{cached.name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(fresh, staging)
        shutil.rmtree(cached, ignore_errors=True)
        staging.rename(cached)
    shutil.copytree(cached, data_dir)


def _make_tokens(data_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    """What `casenotes token create` does, in-process (each CLI start costs seconds)."""
    from sqlalchemy import select

    from casenotes.store import make_engine, make_sessionmaker
    from casenotes.store.credentials import create_token
    from casenotes.store.tables import ApiToken

    wanted = {"admin": ("admin", None), "supervisor": ("supervisor", None), "analyst": ("analyst", None),
              "supervisor-a": ("supervisor", PROGRAM_A), "analyst-a": ("analyst", PROGRAM_A),
              "ingest": ("ingest", None)}
    engine = make_engine(f"sqlite:///{data_dir / 'casenotes.db'}")
    tokens, actors = {}, {}
    with make_sessionmaker(engine).begin() as session:
        for key, (role, program) in wanted.items():
            tokens[key] = create_token(session, role, program, name=f"ui-{key}")
            row = session.scalar(select(ApiToken).where(ApiToken.name == f"ui-{key}"))
            actors[key] = f"ui-{key}#{row.id}"
    engine.dispose()
    return tokens, actors


@pytest.fixture(scope="module")
def live(tmp_path_factory, request):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    work = tmp_path_factory.mktemp("ui")
    data_dir = work / "data"
    _load_demo(data_dir, request.config.cache.mkdir("casenotes-ui-demo"), work)
    tokens, actors = _make_tokens(data_dir)
    port = free_port()
    log = (work / "serve.log").open("wb")
    server = subprocess.Popen([str(Path(sys.executable).with_name("casenotes")), "serve", "--port", str(port)],
                              env=_clean_env(data_dir), cwd=work, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None:
                pytest.fail(f"casenotes serve exited: {(work / 'serve.log').read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("casenotes serve did not answer /healthz within 180 s")
            time.sleep(0.3)
        yield Live(base, tokens, actors)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


# -- the browser -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser(live):
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM,
                                     args=["--no-sandbox", "--disable-background-networking"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots():
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


def new_page(browser, width: str = "wide"):
    w, h = WIDTHS[width]
    context = browser.new_context(viewport={"width": w, "height": h})
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    page.js_errors = errors
    return page


def sign_in(browser, live: Live, key: str, width: str = "wide"):
    page = new_page(browser, width)
    page.goto(f"{live.base}/ui/login")
    page.get_by_label("Access token").fill(live.tokens[key])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/ui/flags")
    return page


def screenshot(page, shots: Path, name: str, width: str, most: int = 1800) -> None:
    """The top of the page (at most `most` px of it), as a small JPEG."""
    w = WIDTHS[width][0]
    h = min(most, page.evaluate("document.documentElement.scrollHeight"))
    page.screenshot(path=str(shots / f"{name}-{w}.jpg"), full_page=True, clip={"x": 0, "y": 0, "width": w, "height": h},
                    type="jpeg", quality=65)


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


# -- sign-in -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_ui_sign_in_rejects_a_bad_token_and_keeps_the_good_one_in_an_http_only_cookie(browser, live, shots):
    page = new_page(browser)
    page.goto(f"{live.base}/ui/flags")
    assert page.url.endswith("/ui/login")                 # no session: the sign-in page, not a JSON 401
    screenshot(page, shots, "sign-in", "wide")
    page.get_by_label("Access token").fill("cn_" + "x" * 43)
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text().startswith("That token is not valid")
    assert page.url.endswith("/ui/login") and not page.context.cookies()

    page.get_by_label("Access token").fill(live.tokens["ingest"])
    page.get_by_role("button", name="Sign in").click()
    assert "review pages are for" in page.get_by_role("alert").inner_text() and not page.context.cookies()

    page.get_by_label("Access token").fill(live.tokens["supervisor"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/ui/flags")
    [cookie] = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert live.tokens["supervisor"] not in page.url
    assert page.evaluate("document.cookie") == ""          # out of reach of page scripts

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/ui/login")
    assert not page.context.cookies()
    page.goto(f"{live.base}/ui/flags")
    assert page.url.endswith("/ui/login")
    assert not page.js_errors
    page.context.close()

    narrow = new_page(browser, "narrow")
    narrow.goto(f"{live.base}/ui/login")
    assert no_horizontal_scroll(narrow)
    screenshot(narrow, shots, "sign-in", "narrow")
    narrow.context.close()


# -- the flag queue ----------------------------------------------------------------------------

@pytest.mark.slow
def test_ui_queue_lists_the_demo_flags_most_severe_first(browser, live, shots):
    with live.api("supervisor") as api:
        flags = api.get("/v1/flags", params={"limit": 200}).json()["flags"]
    assert len(flags) >= 20                               # the demo raises a few dozen
    page = sign_in(browser, live, "supervisor")
    rows = page.locator("tr[data-flag-id]")
    assert [int(i) for i in rows.evaluate_all("rs => rs.map(r => r.dataset.flagId)")] == [f["flag_id"] for f in flags]
    for flag in flags[:5]:
        row = page.locator(f"#flag-{flag['flag_id']}")
        text = row.inner_text()
        assert flag["client_id"] in text and flag["note_id"] in text
        for citation in flag["citations"]:
            assert " ".join(citation["text"].split()) in " ".join(text.split())
    severities = [f["severity"] for f in flags]
    assert severities == sorted(severities, reverse=True)
    screenshot(page, shots, "queue", "wide")

    page.get_by_label("Flag type").select_option("crisis")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**type=crisis**")
    crisis = [f["flag_id"] for f in flags if f["type"] == "crisis"]
    assert [int(i) for i in page.locator("tr[data-flag-id]").evaluate_all("rs => rs.map(r => r.dataset.flagId)")] == crisis
    assert not page.js_errors
    page.context.close()

    narrow = sign_in(browser, live, "supervisor", "narrow")
    assert narrow.locator("tr[data-flag-id]").count() == len(flags)
    assert no_horizontal_scroll(narrow)
    screenshot(narrow, shots, "queue", "narrow")
    narrow.context.close()


@pytest.mark.slow
def test_ui_dismissing_a_flag_in_place_records_the_comment_and_clears_it_from_the_open_queue(browser, live):
    with live.api("supervisor") as api:
        flag = api.get("/v1/flags", params={"type": "disengagement"}).json()["flags"][0]
    comment = "Client was reached on 2/3; the missed visit was rescheduled, not disengagement."
    page = sign_in(browser, live, "supervisor")
    row = page.locator(f"#flag-{flag['flag_id']}")
    row.get_by_label("Comment").fill(comment)
    row.get_by_role("button", name="Dismiss").click()
    state = row.locator("[data-review-status]")
    state.wait_for(state="visible")
    assert "Dismissed" in state.inner_text() and comment in state.inner_text()
    assert page.locator("#flag-count strong").inner_text() == str(page.locator("tr.status-open").count())

    with live.api("supervisor") as api:
        open_ids = {f["flag_id"] for f in api.get("/v1/flags", params={"limit": 200}).json()["flags"]}
        dismissed = api.get("/v1/flags", params={"status": "dismissed", "limit": 200}).json()["flags"]
    assert flag["flag_id"] not in open_ids
    [recorded] = [f for f in dismissed if f["flag_id"] == flag["flag_id"]]
    assert recorded["comment"] == comment and recorded["reviewer"] == live.actors["supervisor"]

    page.reload()
    assert page.locator(f"#flag-{flag['flag_id']}").count() == 0
    page.get_by_label("Status").select_option("dismissed")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**status=dismissed**")
    assert comment in page.locator(f"#flag-{flag['flag_id']}").inner_text()
    assert not page.js_errors
    page.context.close()


@pytest.mark.slow
def test_ui_state_changes_need_the_csrf_token_and_a_same_site_request(live):
    with live.api("supervisor") as api:
        flag_id = api.get("/v1/flags").json()["flags"][-1]["flag_id"]
    with httpx.Client(base_url=live.base, follow_redirects=False) as browserish:
        assert browserish.post("/ui/login", data={"token": live.tokens["supervisor"]}).status_code == 303
        page = browserish.get("/ui/flags")
        assert page.status_code == 200 and page.headers["content-security-policy"].startswith("default-src 'self'")
        csrf = page.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        form = {"decision": "dismissed", "comment": "forged"}
        assert browserish.post(f"/ui/flags/{flag_id}/review", data=form).status_code == 403
        assert browserish.post(f"/ui/flags/{flag_id}/review", data={**form, "csrf_token": "0" * 64}).status_code == 403
        cross = browserish.post(f"/ui/flags/{flag_id}/review", data={**form, "csrf_token": csrf},
                                headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
        assert cross.status_code == 403
        assert browserish.post("/ui/logout").status_code == 403
        with live.api("supervisor") as api:
            assert flag_id in {f["flag_id"] for f in api.get("/v1/flags", params={"limit": 200}).json()["flags"]}
        # The same form from this site's page, without JavaScript: done, and back to the queue.
        done = browserish.post(f"/ui/flags/{flag_id}/review", data={"decision": "confirmed", "comment": "seen",
                                                                    "csrf_token": csrf, "back": "/ui/flags?type=legal"},
                               headers={"Sec-Fetch-Site": "same-origin", "Origin": live.base})
        assert done.status_code == 303 and done.headers["location"] == "/ui/flags?type=legal"
        elsewhere = browserish.post(f"/ui/flags/{flag_id}/review", data={"decision": "confirmed", "csrf_token": csrf,
                                                                         "back": "//evil.example/"})
        assert elsewhere.headers["location"] == "/ui/flags"      # never sent off the site
    with live.api("supervisor") as api:
        confirmed = api.get("/v1/flags", params={"status": "confirmed", "limit": 200}).json()["flags"]
    assert flag_id in {f["flag_id"] for f in confirmed}
    anonymous = httpx.post(f"{live.base}/ui/flags/{flag_id}/review", data={"decision": "dismissed"})
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/ui/login"


# -- the note view -----------------------------------------------------------------------------

def _results(note: dict) -> list[tuple[str, dict]]:
    return ([(f"goal-{g['result_id']}", g) for g in note["goals"]]
            + [(f"domain-{d['result_id']}", d) for d in note["domains"]]
            + [(f"flag-{f['flag_id']}", f) for f in note["flags"]])


@pytest.mark.slow
def test_ui_note_view_highlights_exactly_the_characters_of_every_citation(browser, live, shots):
    with live.api("analyst") as api:
        notes = {note_id: api.get(f"/v1/notes/{note_id}").json() for note_id in (NOTE_A, NOTE_B)}
    page = sign_in(browser, live, "analyst")
    for note_id, note in notes.items():
        text = note["text"]
        page.goto(f"{live.base}/ui/notes/{note_id}")
        assert page.locator("#note-text").text_content() == text
        cited = 0
        for key, result in _results(note):
            for i, citation in enumerate(result["citations"]):
                runs = page.locator(f'#note-text [data-cites~="{key}-{i}"]')
                joined = "".join(runs.evaluate_all("els => els.map(e => e.textContent)"))
                assert joined == text[citation["start"]:citation["end"]], (note_id, key, i)
                cited += 1
            card = page.locator(f"#card-{key}")
            shown = card.inner_text()
            assert note["model_version"] in shown and note["rubric_version"] in shown
            assert f"{round(result['confidence'] * 100):.0f}%" in shown
        assert cited >= 5, note_id

        # Choosing a result marks exactly its runs and scrolls the first of them into view.
        for key, result in _results(note):
            if not result["citations"]:
                continue
            button = page.locator(f'.js-show[data-show="{key}"]')
            button.focus()
            page.keyboard.press("Enter")
            assert button.get_attribute("aria-pressed") == "true"
            active = page.locator("#note-text .hl.is-active").evaluate_all("els => els.map(e => e.dataset.cites)")
            mine = page.locator(f'#note-text [data-results~="{key}"]').evaluate_all("els => els.map(e => e.dataset.cites)")
            assert active == mine and active
            page.wait_for_function("""key => {
                const r = document.querySelector(`#note-text [data-results~="${key}"]`).getBoundingClientRect();
                return r.top >= 0 && r.bottom <= window.innerHeight; }""", arg=key)
        page.keyboard.press("Escape")
        assert page.locator("#note-text .hl.is-active").count() == 0
    assert not page.js_errors

    page.goto(f"{live.base}/ui/notes/{NOTE_A}")
    screenshot(page, shots, "note", "wide")
    page.context.close()
    narrow = sign_in(browser, live, "analyst", "narrow")
    narrow.goto(f"{live.base}/ui/notes/{NOTE_A}")
    assert no_horizontal_scroll(narrow)
    screenshot(narrow, shots, "note", "narrow")
    narrow.context.close()


@pytest.mark.slow
def test_ui_analyst_accepts_and_corrects_results_in_place(browser, live):
    with live.api("analyst") as api:
        note = api.get(f"/v1/notes/{NOTE_B}").json()
    goal = next(g for g in note["goals"] if g["status"] != "worsening")
    domain = note["domains"][0]
    page = sign_in(browser, live, "analyst")
    page.goto(f"{live.base}/ui/notes/{NOTE_B}")

    card = page.locator(f"#card-goal-{goal['result_id']}")
    card.get_by_text("Correct this status").click()
    card.get_by_label("Correct status to").select_option("worsening")
    card.get_by_label("Comment").fill("Shelter discharge outweighs the new appointment.")
    card.get_by_role("button", name="Save correction").click()
    card.locator("[data-review-status]").wait_for(state="visible")
    assert "Corrected" in card.locator("[data-review-status]").inner_text()
    assert "Worsening" in card.locator("[data-review-status]").inner_text()

    domain_card = page.locator(f"#card-domain-{domain['result_id']}")
    domain_card.get_by_role("button", name="Accept as scored").click()
    domain_card.locator("[data-review-status]").wait_for(state="visible")
    assert "Accepted" in domain_card.locator("[data-review-status]").inner_text()

    with live.api("analyst") as api:
        after = api.get(f"/v1/notes/{NOTE_B}").json()
    reviewed_goal = next(g for g in after["goals"] if g["result_id"] == goal["result_id"])["review"]
    assert (reviewed_goal["decision"], reviewed_goal["status"]) == ("corrected", "worsening")
    assert reviewed_goal["comment"] == "Shelter discharge outweighs the new appointment."
    assert reviewed_goal["reviewer"] == live.actors["analyst"]
    reviewed_domain = next(d for d in after["domains"] if d["result_id"] == domain["result_id"])["review"]
    assert reviewed_domain["decision"] == "accepted" and reviewed_domain["level"] is None
    page.reload()
    assert "Corrected" in page.locator(f"#card-goal-{goal['result_id']}").inner_text()
    assert not page.js_errors
    page.context.close()


# -- the client record, search, and who may see what -------------------------------------------

@pytest.mark.slow
def test_ui_client_record_charts_each_goal_and_sets_levels_side_by_side(browser, live, shots):
    with live.api("analyst") as api:
        record = api.get(f"/v1/clients/{CLIENT_A}/record").json()
    for width in WIDTHS:
        page = sign_in(browser, live, "analyst", width)
        page.goto(f"{live.base}/ui/clients/{CLIENT_A}")
        charts = page.locator("svg.chart")
        assert charts.count() == len(record["goals"])
        for i, goal in enumerate(record["goals"]):
            assert charts.nth(i).locator("a.point").count() == len(goal["timeline"])
            titles = charts.nth(i).locator("a.point title").all_text_contents()
            assert all(p["note_id"] in t for p, t in zip(goal["timeline"], titles))
        levels = page.locator("table.levels tbody tr")
        assert levels.count() == len(record["domains"])
        assert page.locator(".flag-list > li").count() == len(record["open_flags"])
        assert page.locator(".notes-table tbody tr").count() == len(record["notes"])
        assert no_horizontal_scroll(page)
        screenshot(page, shots, "record", width)
        assert not page.js_errors
        page.context.close()


@pytest.mark.slow
def test_ui_search_shows_each_hit_in_context_with_a_link_to_its_note(browser, live, shots):
    query = "missed appointments and could not be reached"
    with live.api("analyst") as api:
        hits = api.get("/v1/search", params={"q": query, "k": 10}).json()["hits"]
    assert hits
    for width in WIDTHS:
        page = sign_in(browser, live, "analyst", width)
        page.get_by_role("link", name="Search").click()
        page.get_by_label("Search for").fill(query)
        page.get_by_role("button", name="Search", exact=True).click()
        page.locator("ol.hits").wait_for()
        assert live.tokens["analyst"] not in page.url and "missed" not in page.url
        items = page.locator("ol.hits > li")
        assert items.count() == len(hits)
        for i, hit in enumerate(hits[:5]):
            assert items.nth(i).locator("mark").text_content() == hit["citation"]["text"]
            assert items.nth(i).get_by_role("link", name=f"Note {hit['note_id']}").get_attribute("href") \
                == f"/ui/notes/{hit['note_id']}"
        assert no_horizontal_scroll(page)
        screenshot(page, shots, "search", width)
        page.context.close()


@pytest.mark.slow
def test_ui_a_supervisor_of_one_program_cannot_open_another_programs_client_or_note(browser, live):
    page = sign_in(browser, live, "supervisor-a")
    with live.api("supervisor-a") as api:
        mine = {f["program"] for f in api.get("/v1/flags", params={"limit": 200}).json()["flags"]}
    assert mine == {PROGRAM_A}
    assert {p for p in page.locator(".c-client .muted").all_text_contents()} == {PROGRAM_A}

    for path, unknown in ((f"/ui/clients/{CLIENT_B}", "/ui/clients/C-000"), (f"/ui/notes/{NOTE_B}", "/ui/notes/N-000")):
        response = page.goto(live.base + path)
        assert response.status == 404
        assert page.get_by_role("heading", level=1).inner_text() == "Not found"
        other = page.locator("main").inner_text().replace(path.rsplit("/", 1)[1], "ID")
        page.goto(live.base + unknown)
        assert page.locator("main").inner_text().replace(unknown.rsplit("/", 1)[1], "ID") == other
        assert PROGRAM_B not in other

    assert page.goto(f"{live.base}/ui/clients/{CLIENT_A}").status == 200
    page.goto(f"{live.base}/ui/clients")
    assert page.locator(".clients-table tbody tr").count() == 1
    page.context.close()


@pytest.mark.slow
def test_ui_every_page_that_shows_a_note_or_a_record_writes_the_audit_row(browser, live):
    page = sign_in(browser, live, "analyst-a")
    page.goto(f"{live.base}/ui/clients/{CLIENT_A}")
    page.goto(f"{live.base}/ui/notes/{NOTE_A}")
    page.context.close()
    with live.api("admin") as api:
        entries = api.get("/v1/audit", params={"client_id": CLIENT_A, "limit": 1000}).json()["entries"]
    mine = {(e["action"], e["object_type"], e["object_id"]) for e in entries if e["actor"] == live.actors["analyst-a"]}
    assert {("read", "record", CLIENT_A), ("read", "note", NOTE_A)} <= mine
    assert any(e["object_type"] == "flag" for e in entries if e["actor"] == live.actors["analyst-a"])  # the queue
