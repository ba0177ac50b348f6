"""The service's commands: serve, demo, token, index, export-labels, db. Each is a few lines
over `service.admin`; the web framework is imported only when one of them runs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
index_app = typer.Typer(help="The semantic search index.", no_args_is_help=True)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)


def _clear_errors():
    from casenotes.cli.main import clear_errors

    return clear_errors()


def _services():
    from casenotes.service.app import build_services
    from casenotes.service.settings import Settings

    return build_services(Settings())


def _sessions():
    from casenotes.service.settings import Settings
    from casenotes.store import make_engine, make_sessionmaker, migrate

    settings = Settings()
    engine = make_engine(settings.resolved_database_url)
    if settings.auto_migrate:
        migrate(engine)
    return make_sessionmaker(engine)


def serve(host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
          port: int = typer.Option(8000, help="Port to listen on."),
          workers: int = typer.Option(1, help="Worker processes."),
          no_worker: bool = typer.Option(False, "--no-worker", help="Score no accepted notes in this process "
                                         "(PostgreSQL, with `casenotes worker` processes elsewhere).")) -> None:
    """Run the API (and the review UI) with the settings from CASENOTES_* and .env."""
    import os
    import tempfile

    import uvicorn

    from casenotes.service.access_log import log_config

    if no_worker:
        os.environ["CASENOTES_SCORING_WORKERS"] = "0"
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="casenotes-metrics-")
    if workers > 1 and "CASENOTES_ENCODER_THREADS" not in os.environ:
        # Workers that each take every core fight over them; a core or more each is faster.
        os.environ["CASENOTES_ENCODER_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
    # The access log, in every worker, without query strings: they can hold search text.
    uvicorn.run("casenotes.service.main:app", host=host, port=port, workers=workers, log_level="info",
                log_config=log_config())


def demo(path: Optional[Path] = typer.Option(None, "--file", help="A shared-format file (default: the demo set).")
         ) -> None:
    """Load fictional clients, plans and notes, so the record and flag queue are populated at once."""
    from casenotes.service.admin import DEMO_PATH, load_cases

    with _clear_errors():
        services = _services()
        try:
            created, existing = load_cases(services, path or DEMO_PATH)
        finally:
            services.close()
    typer.echo(f"demo: {created} notes scored and stored, {existing} already there", err=True)


@token_app.command("create")
def token_create(role: str = typer.Option(..., help="ingest, supervisor, analyst or admin."),
                 program: Optional[str] = typer.Option(None, help="Limit the token to one program."),
                 name: Optional[str] = typer.Option(None, help="Who or what holds it (shown in the audit log).")
                 ) -> None:
    """Make a token and print it once, alone on standard output; only its hash is kept."""
    from casenotes.store.credentials import make_token

    with _clear_errors():
        typer.echo(make_token(_sessions(), role, program, name))


@index_app.command("rebuild")
def index_rebuild() -> None:
    """Rebuild the search index from the segments in the database."""
    from casenotes.service.admin import rebuild_index

    services = _services()
    try:
        count = rebuild_index(services)
    finally:
        services.close()
    typer.echo(f"search index rebuilt: {count} segments", err=True)


def export_labels(out: Path = typer.Option(..., "--out", help="Where to write the labeled JSONL.")) -> None:
    """Write reviewed notes (corrections applied) in the shared eval format, for retraining."""
    from casenotes.service.admin import export_labels as export

    with _clear_errors():
        written = export(_sessions(), out)
    typer.echo(f"wrote {written} labeled notes to {out}", err=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database named in the settings to the newest schema."""
    _sessions()
    typer.echo("database schema is current", err=True)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(demo)
    app.command("export-labels")(export_labels)
    app.add_typer(token_app, name="token")
    app.add_typer(index_app, name="index")
    app.add_typer(db_app, name="db")
    from casenotes.cli.job_commands import register as register_job_commands

    register_job_commands(app)
