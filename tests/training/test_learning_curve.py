"""The learning curve: nested, writer-stratified, client-whole samples, and a table per fraction."""

import json
from collections import Counter, defaultdict
from datetime import date, timedelta

import pytest
from typer.testing import CliRunner

from casenotes.cli.main import app
from casenotes.errors import InvalidInput
from casenotes.schema import Note, Plan
from casenotes.shared_format import LabeledCase
from casenotes.training.learning_curve import parse_fractions, sample_indices
from tests.conftest import DATA

FRACTIONS = (0.1, 0.25, 0.5, 0.75, 1.0)
# writer -> notes of each of its clients; one writer has a single note, one a single client
SHAPE = {"alder": [7, 6, 8, 5, 7, 7], "birch": [6, 8], "cedar": [3], "dogwood": [1], "elm": [8, 7, 7, 6, 5]}


def synthetic_cases() -> list[LabeledCase]:
    """Notes interleaved across writers and clients, as a file would hold them; dates run
    backwards through the file so the oldest note of a client is its last line."""
    cases, start = [], date(2025, 1, 1)
    for writer, sizes in SHAPE.items():
        for c, size in enumerate(sizes):
            for n in range(size):
                note = Note(text="Synthetic note.", note_id=f"{writer}-{c}-{n}", client_id=f"{writer}-c{c}",
                            note_date=start + timedelta(days=size - n))
                cases.append(LabeledCase(id=note.note_id, note=note, plan=Plan(goals=()), labels=None, writer=writer))
    cases.sort(key=lambda case: (case.id.split("-")[2], case.id))
    return cases


def by_writer(cases, keep):
    kept = defaultdict(list)
    for i in keep:
        kept[cases[i].writer].append(cases[i])
    return kept


def test_the_sample_is_the_same_for_the_same_seed_and_moves_with_the_seed():
    cases = synthetic_cases()
    for fraction in FRACTIONS:
        assert sample_indices(cases, fraction, seed=3) == sample_indices(list(cases), fraction, seed=3)
    assert any(sample_indices(cases, 0.5, seed=s) != sample_indices(cases, 0.5, seed=0) for s in range(1, 6))


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_every_writer_keeps_its_share_within_one_note(seed):
    cases = synthetic_cases()
    totals = Counter(c.writer for c in cases)
    for fraction in FRACTIONS:
        kept = by_writer(cases, sample_indices(cases, fraction, seed))
        assert set(kept) == set(SHAPE)
        for writer, notes in kept.items():
            assert len(notes) >= 1
            assert abs(len(notes) - fraction * totals[writer]) <= 1, (writer, fraction)
    assert sample_indices(cases, 1.0, seed) == list(range(len(cases)))


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_a_smaller_sample_lies_inside_a_larger_one(seed):
    cases = synthetic_cases()
    samples = [set(sample_indices(cases, f, seed)) for f in FRACTIONS]
    for smaller, larger in zip(samples, samples[1:]):
        assert smaller <= larger


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_clients_are_taken_whole_but_the_last_of_each_writer_keeps_its_oldest_notes(seed):
    cases = synthetic_cases()
    client_notes = defaultdict(list)
    for case in cases:
        client_notes[case.note.client_id].append(case)
    for fraction in FRACTIONS:
        for writer, notes in by_writer(cases, sample_indices(cases, fraction, seed)).items():
            taken = defaultdict(list)
            for case in notes:
                taken[case.note.client_id].append(case)
            cut = [client for client, kept in taken.items() if len(kept) < len(client_notes[client])]
            assert len(cut) <= 1, (writer, fraction)
            for client in cut:
                oldest = sorted(client_notes[client], key=lambda c: c.note.note_date)[:len(taken[client])]
                assert {c.id for c in taken[client]} == {c.id for c in oldest}


def test_fractions_are_read_sorted_and_checked():
    assert parse_fractions("1.0, 0.25,0.5,0.25") == (0.25, 0.5, 1.0)
    for bad in ["0,0.5", "0.5,1.5", "half", ""]:
        with pytest.raises(InvalidInput):
            parse_fractions(bad)


def test_cli_learning_curve_refuses_bad_fractions_before_reading(tmp_path):
    result = CliRunner().invoke(app, ["learning-curve", "--data", str(tmp_path / "none.jsonl"),
                                      "--eval", str(tmp_path / "none.jsonl"), "--fractions", "0.5,2",
                                      "--out", str(tmp_path / "curve.md")])
    assert result.exit_code == 2
    assert "at most 1" in result.output
    assert not (tmp_path / "curve.md").exists()


def first_notes(path, writers: int, clients: int, notes: int) -> list[str]:
    """The first `notes` lines of the first `clients` clients of the first `writers` writers."""
    picked, seen = [], defaultdict(lambda: defaultdict(int))
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        by_client = seen[row["writer"]]
        if len(seen) > writers or (row["client_id"] not in by_client and len(by_client) >= clients):
            continue
        if by_client[row["client_id"]] < notes:
            by_client[row["client_id"]] += 1
            picked.append(line)
    return picked


@pytest.mark.model
def test_cli_learning_curve_writes_one_row_per_fraction_and_the_baselines(tmp_path):
    train, dev, out = tmp_path / "train.jsonl", tmp_path / "dev.jsonl", tmp_path / "curve.md"
    train.write_text("\n".join(first_notes(DATA / "by-writer" / "train.jsonl", 3, 2, 2)) + "\n")
    dev.write_text("\n".join(first_notes(DATA / "by-writer" / "dev.jsonl", 2, 1, 2)) + "\n")
    result = CliRunner().invoke(app, ["learning-curve", "--data", str(train), "--eval", str(dev),
                                      "--fractions", "0.5,1.0", "--folds", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [line for line in out.read_text().splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| fraction | training notes | training writers | goal-status macro-F1 | worsening F1")
    assert [r.split(" | ")[:3] for r in rows[1:3]] == [["| 50%", "6", "3"], ["| 100%", "12", "3"]]
    assert [r.split(" | ")[0] for r in rows[3:]] == ["| baseline: keyword", "| baseline: embedding"]
    assert "scored on" in out.read_text() and "(4 notes)" in out.read_text()
    assert rows[1] in result.output
