"""The review UI's note view, without a server: highlighted text keeps every character and
marks each citation exactly. The UI in a real browser against a live server is in
tests/system/test_ui.py."""

from __future__ import annotations


def test_ui_highlighted_text_keeps_every_character_and_marks_each_citation_exactly():
    """Offsets split the escaped text into runs; no character is lost, added or re-coded."""
    from html.parser import HTMLParser
    from types import SimpleNamespace

    from casenotes.service.ui.note_view import highlighted_text, note_items

    text = 'D: Cl said "<b>no</b>" & left.\r\nA: risk\u00e9 elevated 😀. P: f/u.'
    cite = lambda s, e: SimpleNamespace(start=s, end=e, text=text[s:e])  # noqa: E731
    note = SimpleNamespace(
        goals=[SimpleNamespace(result_id=1, goal_id="G1", status="worsening", review=None,
                               citations=[cite(3, 30), cite(33, 45)])],
        domains=[SimpleNamespace(result_id=2, domain="safety", level=2, review=None, citations=[cite(10, 40)])],
        flags=[SimpleNamespace(flag_id=3, type="safety", severity=5, status="open", citations=[cite(33, 50)])])
    from casenotes.rubric import load_rubric

    items = note_items(note, {"G1": "Stay safe"}, load_rubric())
    html = str(highlighted_text(text, items))

    class Runs(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.all, self.by_cite, self.open = [], {}, None

        def handle_starttag(self, tag, attrs):
            self.open = dict(attrs)["data-cites"].split()

        def handle_endtag(self, tag):
            self.open = None

        def handle_data(self, data):
            self.all.append(data)
            for key in self.open or ():
                self.by_cite[key] = self.by_cite.get(key, "") + data

    runs = Runs()
    runs.feed(html)
    assert "".join(runs.all) == text and "<b>" not in html and "&#13;" in html
    expected = {"goal-1-0": (3, 30), "goal-1-1": (33, 45), "domain-2-0": (10, 40), "flag-3-0": (33, 50)}
    assert {k: v for k, v in runs.by_cite.items()} == {k: text[s:e] for k, (s, e) in expected.items()}
