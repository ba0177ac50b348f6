"""The `casenotes` command: a few lines over library calls; errors become messages here."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer

from casenotes.errors import CasenotesError, InvalidInput

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


def _pipeline(model: Optional[Path], rubric: str):
    from casenotes.runtime.factory import PipelineSpec, build_pipeline

    return build_pipeline(PipelineSpec(model_path=str(model) if model else None, rubric=rubric))


@app.command()
def predict(input_path: Path = typer.Argument(..., metavar="IN.jsonl", help="Notes in the shared format."),
            out: Path = typer.Option(..., "--out", help="Where to write predictions (JSONL)."),
            model: Optional[Path] = ModelOption, rubric: str = RubricOption,
            batch_size: int = typer.Option(32, help="Notes embedded together.")) -> None:
    """Score every note of IN.jsonl (labels, if present, are ignored) and write predictions."""
    from casenotes.shared_format import iter_cases, prediction_json, write_jsonl

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

    from casenotes.runtime.batch import run_batch

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
    from casenotes.runtime.backfill import backfill as run

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
    from casenotes.shared_format import write_jsonl
    from casenotes.training.harness import confusion_table, per_type_table, read_gold, run_eval, summary_table, writer_table

    with clear_errors():
        gold, cases = read_gold(gold_path)
        run = run_eval(_pipeline(model, rubric), gold, cases)
        typer.echo(f"{gold_path}: {len(cases)} notes; model {run.model_version}; rubric {run.rubric}\n")
        tables = (summary_table(run), writer_table(run), per_type_table(run), confusion_table(run.metrics["casenotes"]))
        typer.echo("\n\n".join(tables))
        if predictions:
            write_jsonl(predictions, run.predictions["casenotes"])
        if report:
            from casenotes.training.report import write_report

            typer.echo(f"\nreport: {write_report(run, str(gold_path), report)}")


@app.command()
def train(train_paths: list[Path] = typer.Option([Path("eval/data/by-writer/train.jsonl")],
                                               "--data", help="Labeled files to learn from (never the test split)."),
          tune_paths: list[Path] = typer.Option([], "--tune",
                                               help="Labeled files, by writers the training never read, to fit "
                                                    "how the goal reader and the heads are combined (the dev split)."),
          out: Path = typer.Option(Path("casenotes/resources/models/casenotes-heads.json"), "--out", help="Model file to write."),
          reader: Optional[Path] = typer.Option(None, "--goal-reader",
                                                help="A goal-reader folder to combine with the heads (needs --tune)."),
          train_reader: bool = typer.Option(False, "--train-reader",
                                            help="Fine-tune the goal reader on --data first, into --goal-reader."),
          reader_epochs: int = typer.Option(2, help="Epochs of goal-reader fine-tuning."),
          reader_folds: int = typer.Option(0, "--reader-folds",
                                           help="Fit the combining head on --data itself, read by this many "
                                                "goal readers each fine-tuned without one fold of writers "
                                                "(instead of on --tune)."),
          fold_reader_dir: Optional[Path] = typer.Option(None, "--fold-readers",
                                                         help="Keep the fold readers in this folder and reuse "
                                                              "those trained on the same notes and settings "
                                                              "(default: a temporary folder)."),
          version: str = typer.Option("casenotes-heads-0.3.0", help="Version recorded in the model."),
          folds: int = typer.Option(5, help="Writer folds for tuning thresholds and calibration."),
          out_of_fold: Optional[Path] = typer.Option(None, "--oof", help="Write out-of-fold predictions here."),
          rubric: str = RubricOption) -> None:
    """Fit the heads; tune thresholds and calibrate on out-of-fold outputs (folds by writer).
    With a goal reader and --tune, also fit the head that combines the two."""
    from casenotes.embed.encoder import default_encoder
    from casenotes.pipeline import Pipeline
    from casenotes.rubric import load_rubric
    from casenotes.training.harness import read_gold
    from casenotes.training.train import train_model

    def read_all(paths: list[Path]) -> tuple[list, list]:
        gold, cases = [], []
        for path in paths:
            more_gold, more_cases = read_gold(path)
            gold += more_gold
            cases += more_cases
        return gold, cases

    with clear_errors():
        if reader_folds < 0 or reader_folds == 1:
            raise InvalidInput(f"--reader-folds must be 0 (off) or at least 2, not {reader_folds}")
        if fold_reader_dir is not None and fold_reader_dir.exists() and not fold_reader_dir.is_dir():
            raise InvalidInput(f"--fold-readers must name a folder; {fold_reader_dir} is a file")
        if (reader or train_reader) and not (tune_paths or reader_folds):
            raise InvalidInput("a goal reader is combined with the heads on --tune notes or on out-of-fold "
                               "readings of --data: name the dev split or --reader-folds")
        gold, cases = read_all(train_paths)
        tune = read_all(tune_paths) if tune_paths else None
        encoder = default_encoder()
        goal_reader = _goal_reader(reader, train_reader, train_paths, reader_epochs, encoder)
        pipeline = Pipeline(encoder=encoder, rubric=load_rubric(rubric), model=None, goal_reader=goal_reader)
        sources = {"data": ", ".join(str(p) for p in train_paths), "tune": ", ".join(str(p) for p in tune_paths)}
        with tempfile.TemporaryDirectory(prefix="casenotes-reader-folds-") as scratch:
            fold_dir = fold_reader_dir or Path(scratch)
            fold_readers = (_fold_readers(train_paths, fold_dir, reader_folds, reader_epochs, encoder)
                            if goal_reader is not None and reader_folds else None)
            report = train_model(pipeline, cases, gold, version, folds=folds, sources=sources,
                                 tune=(tune[1], tune[0]) if tune else None, fold_readers=fold_readers)
        report.model.save(out)
        if out_of_fold:
            from casenotes.shared_format import write_jsonl

            write_jsonl(out_of_fold, report.out_of_fold)
    headline = {k: round(v, 3) for k, v in report.cross_validated.items() if isinstance(v, float)}
    typer.echo(json.dumps({"model": str(out), "examples": report.examples, "cross_validated": headline,
                           "thresholds": report.model.to_json()["thresholds"]}, indent=1))


def _goal_reader(folder: Optional[Path], train_first: bool, train_paths: list[Path], epochs: int, encoder):
    """The goal reader to combine with the heads: fine-tuned now when asked, else read from `folder`."""
    if not (folder or train_first):
        return None
    from casenotes.reading.goal_reader import GoalReader, default_artifact_dir

    folder = folder or default_artifact_dir()
    if train_first:
        from casenotes.training.goal_reader import train_goal_reader

        train_goal_reader([str(p) for p in train_paths], folder, _reader_settings(epochs),
                          log=lambda line: typer.echo(line, err=True))
    return GoalReader(folder, threads=getattr(encoder, "threads", None))


def _fold_readers(train_paths: list[Path], scratch: Path, folds: int, epochs: int, encoder):
    """Goal readers fine-tuned each without one fold of writers, in `scratch` (never shipped)."""
    from casenotes.reading.goal_reader import GoalReader
    from casenotes.training.goal_reader import train_fold_readers

    folders = train_fold_readers([str(p) for p in train_paths], scratch, folds, _reader_settings(epochs),
                                 log=lambda line: typer.echo(line, err=True))
    return [GoalReader(folder, threads=getattr(encoder, "threads", None)) for folder in folders]


def _reader_settings(epochs: int):
    from casenotes.training.goal_reader import TrainSettings

    return TrainSettings(style="bare", epochs=epochs, negatives_per_positive=2, int8=True)


@app.command("learning-curve")
def learning_curve(train_path: Path = typer.Option(Path("eval/data/by-writer/train.jsonl"), "--data",
                                                   help="Labeled notes to train on (never the test split)."),
                   eval_path: Path = typer.Option(Path("eval/data/by-writer/dev.jsonl"), "--eval",
                                                  help="Labeled notes to score each trained model on."),
                   fractions: str = typer.Option("0.25,0.5,1.0", "--fractions",
                                                 help="Shares of the training notes, separated by commas."),
                   out: Path = typer.Option(..., "--out", help="Where to write the table (Markdown)."),
                   seed: int = typer.Option(0, "--seed", help="Picks which clients each share holds."),
                   folds: int = typer.Option(5, help="Writer folds for tuning thresholds and calibration."),
                   rubric: str = RubricOption) -> None:
    """Train the heads on growing shares of --data (nested, the same share of every writer,
    whole clients) and score each on --eval: does more data still help?"""
    from casenotes.embed.encoder import default_encoder
    from casenotes.rubric import load_rubric
    from casenotes.training.harness import read_gold
    from casenotes.training.learning_curve import curve_table, parse_fractions, run_learning_curve

    with clear_errors():
        shares = parse_fractions(fractions)
        train, evaluation = read_gold(train_path), read_gold(eval_path)
        curve = run_learning_curve(train, evaluation, encoder=default_encoder(), rubric=load_rubric(rubric),
                                   fractions=shares, seed=seed, folds=folds,
                                   log=lambda line: typer.echo(line, err=True))
        text = (f"# Learning curve\n\nTrained on shares of {train_path} ({len(train[1])} notes; seed {seed}); "
                f"scored on {eval_path} ({curve.eval_notes} notes).\n\n{curve_table(curve)}\n")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    typer.echo(text)
    typer.echo(f"wrote {out}", err=True)


@app.command()
def segment(note_file: Path = typer.Argument(..., help="A plain-text note.")) -> None:
    """Print the segments of a note with their offsets, section and context."""
    from casenotes.text.context import ContextAnalyzer
    from casenotes.text.segment import Segmenter

    with clear_errors():
        text = note_file.read_text(encoding="utf-8")
        segments = Segmenter().segment(text)
        contexts = ContextAnalyzer().assess_spans(text, [(s.start, s.end) for s in segments])
        for s, c in zip(segments, contexts):
            marks = [k for k in ("negated", "hypothetical", "historical", "other_experiencer") if getattr(c, k)]
            typer.echo(f"{s.start:>6}-{s.end:<6} {s.section or '-':<12} {','.join(marks) or '-':<24} {s.text!r}")


def _register_service_commands() -> None:
    from casenotes.cli.service_commands import register

    register(app)


_register_service_commands()


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
