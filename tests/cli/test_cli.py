"""The `casenotes` command: help everywhere, clear messages naming the bad line, harness agreement."""

import json

import pytest
from typer.testing import CliRunner

from casenotes.cli.main import app
from casenotes.training.metrics import score_predictions

runner = CliRunner()
COMMANDS = ["predict", "eval", "train", "segment", "serve", "demo", "export-labels", "token create",
            "token list", "token revoke", "token ensure", "index rebuild", "db upgrade"]


@pytest.mark.parametrize("command", COMMANDS)
def test_cli_every_command_has_help(command):
    result = runner.invoke(app, [*command.split(), "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


@pytest.mark.parametrize("line, message", [
    ("{not json", "line 2: not valid JSON"),
    (json.dumps({"id": "x", "note_text": "hi"}), "line 2: missing field 'goals'"),
    (json.dumps({"id": "x", "note_text": "hi", "goals": [{"goal_id": "G1", "text": "t", "domain": "pets"}]}),
     "line 2: goal 'G1': domain"),
])
def test_cli_predict_names_the_bad_line(tmp_path, line, message):
    good = {"id": "ok", "note_text": "Cl is well.", "goals": []}
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(good) + "\n" + line + "\n")
    result = runner.invoke(app, ["predict", str(source), "--out", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "out.jsonl").exists()


def test_cli_predict_missing_file_is_a_message(tmp_path):
    result = runner.invoke(app, ["predict", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2 and "no such file" in result.output


@pytest.mark.model
def test_cli_predictions_score_the_same_as_eval_check(tmp_path, test_split, eval_check):
    sample = test_split[:12]
    source = tmp_path / "gold.jsonl"
    source.write_text("".join(json.dumps(c) + "\n" for c in sample))
    out = tmp_path / "pred.jsonl"
    result = runner.invoke(app, ["predict", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    predictions = [json.loads(line) for line in out.read_text().splitlines()]
    assert [p["id"] for p in predictions] == [c["id"] for c in sample]
    ours, theirs = score_predictions(sample, predictions), eval_check.score(sample, predictions)
    for key in ("goal_status_macro_f1", "citation_f1", "domain_f1", "domain_level_within1",
                "flag_precision", "flag_recall"):
        assert ours[key] == pytest.approx(theirs[key]), key
