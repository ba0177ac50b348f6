"""Scoring workers and jobs: `casenotes worker` scores notes accepted with `Prefer:
respond-async` from the configured PostgreSQL, on this machine or any other that reaches it;
`casenotes jobs` lists what waits or failed and retries the dead letters."""

from __future__ import annotations

import typer

jobs_app = typer.Typer(help="Scoring jobs: list them, retry the failed ones.", no_args_is_help=True)


def _clear_errors():
    from casenotes.cli.main import clear_errors

    return clear_errors()


def worker(concurrency: int = typer.Option(16, min=1, max=64, help="Jobs worked on at once (scored together in "
                                           "one encoder pass when they arrive together).")) -> None:
    """Score accepted notes from the configured PostgreSQL until SIGINT/SIGTERM; the jobs in hand finish first."""
    from sqlalchemy.engine import make_url

    from casenotes.cli.service_commands import _sessions
    from casenotes.runtime.factory import build_pipeline
    from casenotes.runtime.procrastinate_queue import WorkerSettings, run_worker, worker_app
    from casenotes.runtime.scoring_jobs import RevisionScorer
    from casenotes.service.settings import Settings

    with _clear_errors():
        settings = Settings()
        url = settings.resolved_database_url
        if not url.startswith("postgresql"):
            raise typer.BadParameter("needs PostgreSQL (CASENOTES_DATABASE_URL=postgresql+psycopg://...): on SQLite "
                                     "`casenotes serve` scores accepted notes in its own process", param_hint="database")
        worker_settings = WorkerSettings.stalled_after(settings.worker_stalled_seconds)
        app = worker_app(url, RevisionScorer(_sessions(), build_pipeline(settings.pipeline_spec())), worker_settings)
        typer.echo(f"scoring worker: {concurrency} at once, on {make_url(url).render_as_string(hide_password=True)}")
        run_worker(app, concurrency=concurrency, stalled_after_seconds=worker_settings.stalled_after_seconds)


@jobs_app.command("list")
def jobs_list(state: str = typer.Option("failed", help="failed or pending."),
              limit: int = typer.Option(100, min=1)) -> None:
    """Notes waiting for scoring, or dead-lettered, oldest first (ids and reasons, never note text)."""
    from casenotes.cli.service_commands import _sessions
    from casenotes.store.scoring_log import unscored_revisions

    with _clear_errors():
        if state not in ("failed", "pending"):
            raise typer.BadParameter("failed or pending", param_hint="--state")
        with _sessions()() as session:
            for note, revision in unscored_revisions(session, state, limit=limit):
                typer.echo(f"{note.note_id}\trevision {revision.revision}\t{revision.scoring_state}\t"
                           f"{revision.scoring_attempts} attempts\t{revision.scoring_error or ''}")


@jobs_app.command("retry")
def jobs_retry(note_ids: list[str] = typer.Argument(None, help="Notes to score again."),
               all_failed: bool = typer.Option(False, "--all-failed", help="Every dead-lettered note.")) -> None:
    """Score dead-lettered notes again, each with a new job."""
    from casenotes.cli.service_commands import _sessions
    from casenotes.runtime.ingest import retry_failed
    from casenotes.runtime.workers import job_queue
    from casenotes.service.settings import Settings
    from casenotes.store.scoring_log import unscored_revisions

    with _clear_errors():
        sessions = _sessions()
        if all_failed:
            with sessions() as session:
                note_ids = [note.note_id for note, _ in unscored_revisions(session, "failed", limit=100_000)]
        if not note_ids:
            raise typer.BadParameter("name notes to retry, or --all-failed", param_hint="NOTE_IDS")
        queue = job_queue(Settings().resolved_database_url, sessions)
        retried = [note_id for note_id in note_ids if retry_failed(sessions, queue, note_id)]
        typer.echo(f"{len(retried)} of {len(note_ids)} note(s) queued again"
                   + (f"; not failed: {', '.join(sorted(set(note_ids) - set(retried)))}" if len(retried) < len(note_ids)
                      else ""))


def register(app: typer.Typer) -> None:
    app.command()(worker)
    app.add_typer(jobs_app, name="jobs")
