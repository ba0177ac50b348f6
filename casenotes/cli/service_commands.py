"""The service's commands: serve, demo, token, index, export-labels, db. Each is a few lines
over `service.admin`; the web framework is imported only when one of them runs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

token_app = typer.Typer(help="API tokens: make, list, revoke, or keep one in a file.", no_args_is_help=True)
index_app = typer.Typer(help="The semantic search index.", no_args_is_help=True)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)

LIFETIME_HELP = "Expire the token after this long: hours, days or weeks, such as 12h, 30d or 2w (default: never)."


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
                 name: Optional[str] = typer.Option(None, help="Who or what holds it (shown in the audit log)."),
                 expires_in: Optional[str] = typer.Option(None, "--expires-in", help=LIFETIME_HELP)) -> None:
    """Make a token and print it once, alone on standard output; only its hash is kept."""
    from casenotes.store.credentials import make_token

    lifetime = _lifetime(expires_in)
    with _clear_errors():
        typer.echo(make_token(_sessions(), role, program, name, lifetime))


@token_app.command("list")
def token_list() -> None:
    """Every token with its id, name, role, program, when it was made and expires, and whether it
    is active, revoked or expired (never the token or its hash)."""
    from casenotes.store.credentials import list_tokens

    with _clear_errors():
        tokens = list_tokens(_sessions())
    rows = [(str(t.id), t.name, t.role, t.program or "all", _minute(t.created_at),
             _minute(t.expires_at) if t.expires_at else "never", t.state) for t in tokens]
    typer.echo(_table(("id", "name", "role", "program", "created (UTC)", "expires (UTC)", "state"), rows))
    if not tokens:
        typer.echo("no tokens yet: `casenotes token create` makes one", err=True)


@token_app.command("revoke")
def token_revoke(token_id: int = typer.Argument(..., metavar="ID", help="The token's id (`casenotes token list`).")
                 ) -> None:
    """Stop a token working at once; review-UI sessions signed in with it end too."""
    from casenotes.store.credentials import revoke_token

    with _clear_errors():
        revoke_token(_sessions(), token_id)
    typer.echo(f"token {token_id} revoked", err=True)


@token_app.command("ensure")
def token_ensure(role: str = typer.Option(..., help="ingest, supervisor, analyst or admin."),
                 file: Path = typer.Option(..., "--file", help="Where the token is kept, readable by its owner alone."),
                 program: Optional[str] = typer.Option(None, help="Limit the token to one program."),
                 name: Optional[str] = typer.Option(None, help="Who or what holds it, if one is made."),
                 expires_in: Optional[str] = typer.Option(None, "--expires-in", help=LIFETIME_HELP)) -> None:
    """Print the token kept in --file if it still works for this role and program; otherwise make
    one, keep it there (mode 0600) and print it. A working token of another role there is revoked."""
    from casenotes.store.credentials import ensure_token

    lifetime = _lifetime(expires_in)
    with _clear_errors():
        token, made = ensure_token(_sessions(), file, role, name, program, lifetime)
    typer.echo(token)
    typer.echo(f"{'made a new' if made else 'reusing the'} {role} token kept in {file}", err=True)


def _lifetime(expires_in: str | None):
    from casenotes.errors import InvalidInput
    from casenotes.store.credentials import parse_lifetime

    try:
        return parse_lifetime(expires_in) if expires_in is not None else None
    except InvalidInput as exc:
        raise typer.BadParameter(exc.reason, param_hint="--expires-in") from None


def _minute(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in [header, *rows])


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


def export_labels(out: Path = typer.Option(..., "--out", help="Where to write the labeled JSONL."),
                  partial: bool = typer.Option(False, "--partial", help=(
                      "Also write notes only partly reviewed, with their reviewed goals alone: an unreviewed goal "
                      "is left out of the note's goals and its labels. In every note only reviewed domains and "
                      "confirmed flags are labeled; a note with no reviewed goal is never written.")),
                  ) -> None:
    """Write reviewed notes (corrections applied) in the shared eval format, for retraining, and say
    how many notes were skipped and why."""
    from casenotes.service.admin import UNREVIEWED_GOALS
    from casenotes.service.admin import export_labels as export

    with _clear_errors():
        summary = export(_sessions(), out, partial=partial)
    message = f"wrote {summary.written} labeled notes to {out}"
    if summary.skipped:
        reasons = ", ".join(f"{count} {reason}" for reason, count in summary.skipped.most_common())
        message += f"; skipped {summary.skipped.total()} notes: {reasons}"
    if summary.skipped[UNREVIEWED_GOALS]:
        message += " (--partial writes their reviewed goals)"
    typer.echo(message, err=True)


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
