"""The `casenotes` command: a few lines over library calls; errors become messages here."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer

from casenotes.errors import CasenotesError

app = typer.Typer(help="casenotes: score case notes against plan goals, a rubric and risk flags.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

ModelOption = typer.Option(None, "--model", help="Trained heads JSON (default: the packaged model).")
RubricOption = typer.Option("self-sufficiency", "--rubric", help="Rubric name or YAML path.")


@contextmanager
def clear_errors() -> Iterator[None]:
    try:
        yield
    except CasenotesError as exc:
        typer.echo(f"casenotes: {exc}", err=True)
        raise typer.Exit(2) from None
    except FileNotFoundError as exc:
        typer.echo(f"casenotes: no such file: {exc.filename}", err=True)
        raise typer.Exit(2) from None


def _pipeline(model: Optional[Path], rubric: str):  # noqa: ANN202
    from casenotes.pipeline import Pipeline

    return Pipeline.load(model_path=str(model) if model else None, rubric=rubric)


@app.command()
def predict(input_path: Path = typer.Argument(..., metavar="IN.jsonl", help="Notes in the shared format."),
            out: Path = typer.Option(..., "--out", help="Where to write predictions (JSONL)."),
            model: Optional[Path] = ModelOption, rubric: str = RubricOption,
            batch_size: int = typer.Option(32, help="Notes embedded together.")) -> None:
    """Score every note of IN.jsonl (labels, if present, are ignored) and write predictions."""
    from casenotes.dataset import iter_cases, prediction_json, write_jsonl

    with clear_errors():
        cases = list(iter_cases(input_path))
        pipeline = _pipeline(model, rubric)
        rows = []
        for start in range(0, len(cases), batch_size):
            batch = cases[start:start + batch_size]
            results = pipeline.score_many([(c.note, c.plan) for c in batch])
            rows += [prediction_json(c.id, r) for c, r in zip(batch, results)]
        write_jsonl(out, rows)
    typer.echo(f"wrote {len(rows)} predictions to {out}", err=True)


@app.command()
def batch(input_path: Path = typer.Argument(..., metavar="IN.jsonl", help="Notes in the shared format."),
          out: Path = typer.Option(..., "--out", help="Predictions (JSONL), appended; a rerun resumes."),
          workers: int = typer.Option(1, "--workers", min=1, help="Worker processes, one thread each."),
          batch_notes: int = typer.Option(32, "--batch-notes", min=1, help="Notes embedded together."),
          model: Optional[Path] = ModelOption, rubric: str = RubricOption) -> None:
    """Score a large file with a progress bar; after an interruption, rerun to finish it."""
    from tqdm import tqdm

    from casenotes.batch import run_batch

    with clear_errors(), tqdm(unit="note", desc="scoring", file=sys.stderr) as bar:
        summary = run_batch(input_path, out, workers=workers, batch_notes=batch_notes,
                            model_path=str(model) if model else None, rubric=rubric,
                            on_progress=bar.update, total=lambda n: setattr(bar, "total", n))
    typer.echo(f"scored {summary.scored} notes; {summary.skipped} were already in {out}", err=True)


@app.command()
def backfill(input_path: Path = typer.Argument(..., metavar="IN.jsonl", help="Notes in the shared format."),
             database_url: str = typer.Option(..., "--database-url", help="The record to write to (SQLAlchemy URL)."),
             actors: int = typer.Option(2, "--actors", min=1, help="Ray actors, each with its own pipeline."),
             batch_notes: int = typer.Option(16, "--batch-notes", min=1),
             ray_address: Optional[str] = typer.Option(None, "--ray-address", help="A Ray cluster (default: local)."),
             model: Optional[Path] = ModelOption, rubric: str = RubricOption) -> None:
    """Score a history of notes into the record on Ray Data; idempotent per note_id."""
    from casenotes.backfill import backfill as run

    with clear_errors():
        summary = run(input_path, database_url, actors=actors, batch_notes=batch_notes,
                      model_path=str(model) if model else None, rubric=rubric, ray_address=ray_address)
    typer.echo(f"stored {summary.created} notes; {summary.existing} were there already; "
               f"{summary.conflicts} conflicted with a stored text", err=True)


@app.command("eval")
def evaluate(gold_path: Path = typer.Argument(..., metavar="GOLD.jsonl", help="A labeled file."),
             report: Optional[Path] = typer.Option(None, "--report", help="Write REPORT.md and plots here."),
             model: Optional[Path] = ModelOption, rubric: str = RubricOption,
             predictions: Optional[Path] = typer.Option(None, "--predictions",
                                                        help="Also write the pipeline's predictions.")) -> None:
    """Shared metrics for the pipeline and two baselines on GOLD.jsonl, in one run."""
    from casenotes.dataset import write_jsonl
    from casenotes.harness import confusion_table, per_type_table, read_gold, run_eval, summary_table, writer_table

    with clear_errors():
        gold, cases = read_gold(gold_path)
        run = run_eval(_pipeline(model, rubric), gold, cases)
        typer.echo(f"{gold_path}: {len(cases)} notes; model {run.model_version}; rubric {run.rubric}\n")
        typer.echo(summary_table(run) + "\n\n" + writer_table(run) + "\n\n" + per_type_table(run) + "\n\n" + confusion_table(run.metrics["casenotes"]))
        if predictions:
            write_jsonl(predictions, run.predictions["casenotes"])
        if report:
            from casenotes.report import write_report

            typer.echo(f"\nreport: {write_report(run, str(gold_path), report)}")


@app.command()
def train(train_paths: list[Path] = typer.Option([Path("eval/data/train.jsonl"), Path("eval/data/dev.jsonl")],
                                               "--data", help="Labeled files to learn from (never the test split)."),
          out: Path = typer.Option(Path("models/casenotes-heads.json"), "--out", help="Model file to write."),
          version: str = typer.Option("casenotes-heads-0.1.0", help="Version recorded in the model."),
          folds: int = typer.Option(5, help="Client folds for tuning thresholds and calibration."),
          out_of_fold: Optional[Path] = typer.Option(None, "--oof", help="Write out-of-fold predictions here."),
          rubric: str = RubricOption) -> None:
    """Fit the heads; tune thresholds and calibrate on out-of-fold outputs (folds by client)."""
    from casenotes.embed import default_encoder
    from casenotes.harness import read_gold
    from casenotes.pipeline import Pipeline
    from casenotes.rubric import load_rubric
    from casenotes.train import train_model

    with clear_errors():
        gold, cases = [], []
        for path in train_paths:
            more_gold, more_cases = read_gold(path)
            gold += more_gold
            cases += more_cases
        pipeline = Pipeline(encoder=default_encoder(), rubric=load_rubric(rubric), model=None)
        report = train_model(pipeline, cases, gold, version, folds=folds,
                             sources={"data": ", ".join(str(p) for p in train_paths)})
        report.model.save(out)
        if out_of_fold:
            from casenotes.dataset import write_jsonl

            write_jsonl(out_of_fold, report.out_of_fold)
    headline = {k: round(v, 3) for k, v in report.cross_validated.items() if isinstance(v, float)}
    typer.echo(json.dumps({"model": str(out), "examples": report.examples, "cross_validated": headline,
                           "thresholds": report.model.to_json()["thresholds"]}, indent=1))


@app.command()
def segment(note_file: Path = typer.Argument(..., help="A plain-text note.")) -> None:
    """Print the segments of a note with their offsets, section and context."""
    from casenotes.context import ContextAnalyzer
    from casenotes.segment import Segmenter

    with clear_errors():
        text = note_file.read_text(encoding="utf-8")
        segments = Segmenter().segment(text)
        contexts = ContextAnalyzer().assess_spans(text, [(s.start, s.end) for s in segments])
        for s, c in zip(segments, contexts):
            marks = [k for k in ("negated", "hypothetical", "historical", "other_experiencer") if getattr(c, k)]
            typer.echo(f"{s.start:>6}-{s.end:<6} {s.section or '-':<12} {','.join(marks) or '-':<24} {s.text!r}")


def _register_service_commands() -> None:
    from casenotes.cli_service import register

    register(app)


_register_service_commands()


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
