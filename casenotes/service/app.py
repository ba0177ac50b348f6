"""`create_app(settings)`: the FastAPI app, with the pipeline, database and search index
built once in its lifespan and kept on `app.state.services`."""

from __future__ import annotations

import logging
import sys
import time
import traceback
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from casenotes.errors import CasenotesError, Conflict, InvalidInput, ModelError, NoteTooLarge, NotFound
from casenotes.pipeline import Pipeline
from casenotes.runtime.factory import build_pipeline
from casenotes.runtime.ingest import NoteIngestor
from casenotes.runtime.scoring_jobs import RevisionScorer
from casenotes.runtime.scoring_queue import ScoringQueue
from casenotes.runtime.search import SegmentIndex
from casenotes.runtime.webhooks import WebhookSender
from casenotes.runtime.workers import ScoringWorkers, queue_depth
from casenotes.service.auth import metrics_reader
from casenotes.service.limits import RequestGuard
from casenotes.service.metrics import Metrics
from casenotes.service.ratelimit import RateLimiter
from casenotes.service.schemas import ERROR_RESPONSES
from casenotes.service.settings import Settings
from casenotes.store import make_engine, make_sessionmaker, migrate
from casenotes.store.repository import SegmentChangeLog

__all__ = ["Services", "create_app"]

GIL_SWITCH_SECONDS = 0.001

log = logging.getLogger("casenotes.service")
_BODY_SLACK_BYTES = 64 * 1024
# After an erasure on PostgreSQL, tables that hold text written about a client are rewritten:
# a plain VACUUM frees a deleted row's space but can leave its bytes in the page until new rows
# overwrite them. The others hold ids, offsets and vectors (webhook deliveries: ids and statuses);
# a plain VACUUM is enough there.
_REWRITTEN_AFTER_ERASURE = ("note_revision", "plan_goal", "flag", "review")
_VACUUMED_AFTER_ERASURE = ("client", "note", "plan", "result", "segment", "webhook_delivery")
_ERASURE_LOCK_TIMEOUT = "5s"
_LOCK_NOT_AVAILABLE = "55P03"
_ERASURE_WAIT_SECONDS = 30
_NO_OLDER_SNAPSHOT = text(
    "SELECT pg_snapshot_xmin(pg_current_snapshot()) >= CAST(:next_id AS xid8) AND NOT EXISTS ("
    " SELECT FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    " AND age(backend_xmin) > age(CAST(:next_xid AS xid)))")


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    pipeline: Pipeline
    index: SegmentIndex
    ingestor: NoteIngestor
    metrics: Metrics
    rate_limiter: RateLimiter
    workers: ScoringWorkers
    webhooks: WebhookSender

    def start(self) -> None:
        """Start this process's scoring workers and webhook sender."""
        self.workers.start()
        if self.settings.send_webhooks:
            self.webhooks.start()

    def catch_up_index(self) -> int:
        """Apply the database's segment changes this worker's index has not applied yet, in
        order (when there are none, one read of the change log's primary key); how many."""
        return self.index.catch_up()

    def erase_traces(self) -> None:
        """After an erasure has committed, leave no erased text in the database's files: SQLite
        folds its write-ahead log into the (secure-delete) database file; PostgreSQL rewrites the
        tables that hold text and vacuums the others. (PostgreSQL's write-ahead log and backups
        are the operator's to clear: see the README.)"""
        if self.engine.dialect.name == "sqlite":
            connection = self.engine.raw_connection()
            try:
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                connection.close()
        elif self.engine.dialect.name == "postgresql":
            self._vacuum_after_erasure()

    def _vacuum_after_erasure(self) -> None:
        # VACUUM refuses to run inside a transaction block, hence AUTOCOMMIT.
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            _wait_until_no_snapshot_predates_now(connection)
            connection.execute(text(f"SET lock_timeout = '{_ERASURE_LOCK_TIMEOUT}'"))
            try:
                for table in _REWRITTEN_AFTER_ERASURE:
                    _vacuum(connection, f"VACUUM (FULL) {table}", table)
                _vacuum(connection, f"VACUUM (INDEX_CLEANUP ON) {', '.join(_VACUUMED_AFTER_ERASURE)}",
                        "the tables without text")
            finally:
                connection.execute(text("RESET lock_timeout"))

    def close(self) -> None:
        self.workers.stop()  # the jobs in hand finish first
        self.webhooks.stop()
        self.index.save()
        self.engine.dispose()


def _wait_until_no_snapshot_predates_now(connection: Connection) -> None:
    """Wait until no transaction that began before now is still open: until then VACUUM must keep
    the erased rows (that transaction may still see them), and even a rewrite copies them over.
    A transaction with an id anywhere on the server holds back every snapshot taken meanwhile,
    so this waits for those and for this database's older snapshots."""
    next_id = connection.execute(text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text")).scalar_one()
    deadline = time.monotonic() + _ERASURE_WAIT_SECONDS
    while not connection.execute(_NO_OLDER_SNAPSHOT, {"next_id": next_id,
                                                      "next_xid": str(int(next_id) % 2**32)}).scalar_one():
        if time.monotonic() > deadline:
            log.warning("erasure committed, but a transaction older than it is still open after %d s; "
                        "the erased rows stay in the table files until a later `VACUUM (FULL)`",
                        _ERASURE_WAIT_SECONDS)
            return
        time.sleep(0.05)


def _vacuum(connection: Connection, statement: str, what: str) -> None:
    """Run a VACUUM; one that waits too long for its lock is given up (and logged) rather than
    queueing every request that touches the table behind it."""
    try:
        connection.execute(text(statement))
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
            raise
        log.warning("erasure committed, but %s could not be vacuumed within %s; erased text may stay in "
                    "its free space until `VACUUM (FULL)` runs", what, _ERASURE_LOCK_TIMEOUT)


def build_services(settings: Settings, pipeline: Pipeline | None = None) -> Services:
    engine = make_engine(settings.resolved_database_url)
    if settings.auto_migrate:
        migrate(engine)
    sessions = make_sessionmaker(engine)
    if pipeline is None:
        pipeline = build_pipeline(settings.pipeline_spec())
    index = SegmentIndex(pipeline.encoder.dimension, settings.search_index_path, log=SegmentChangeLog(sessions))
    scoring = ScoringQueue(pipeline)  # requests that wait and jobs share one pass through the model
    workers = ScoringWorkers(settings.resolved_database_url, sessions, RevisionScorer(sessions, pipeline, index, scoring),
                             run_workers=settings.scoring_workers > 0, concurrency=max(1, settings.scoring_workers),
                             stalled_after_seconds=settings.worker_stalled_seconds)
    services = Services(settings, engine, sessions, pipeline, index,
                        NoteIngestor(sessions, pipeline, index, jobs=workers.queue, scoring=scoring),
                        Metrics(), RateLimiter(settings.rate_limit_per_minute, settings.redis_url), workers,
                        WebhookSender(sessions, allow=settings.webhook_allow))
    services.catch_up_index()
    return services


def create_app(settings: Settings | None = None, pipeline: Pipeline | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Scoring runs long stretches of Python (segmentation, context) in a worker thread;
        # a shorter GIL switch interval (5 ms by default) lets /healthz and other requests in
        # sooner, since each request needs the GIL a dozen times on its way through.
        sys.setswitchinterval(GIL_SWITCH_SECONDS)
        app.state.services = build_services(settings, pipeline)
        app.state.services.start()
        yield
        app.state.services.close()

    from casenotes.service.deps import refuse_unstorable_parameters

    app = FastAPI(title="casenotes", version=_version(), lifespan=lifespan,
                  description="Case-note intelligence: goal status, rubric levels and risk flags with citations.",
                  dependencies=[Depends(refuse_unstorable_parameters)])
    _add_middleware(app, settings)
    if settings.cors_origins:  # added last, so outermost: the guard's refusals carry CORS headers too
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=True,
                           allow_methods=["*"], allow_headers=["*"])
    _add_error_handlers(app)
    _add_routes(app)
    from casenotes.service.openapi import install as complete_openapi

    complete_openapi(app)  # the rubric and links in /openapi.json; every method in a 405's Allow
    return app


def _add_routes(app: FastAPI) -> None:
    from casenotes.service.api import router as api
    from casenotes.service.ui import mount_ui

    app.include_router(api)
    mount_ui(app)  # the review pages under /ui and their static files

    @app.get("/healthz", tags=["operations"])
    def healthz(request: Request) -> dict[str, str]:
        services: Services = request.app.state.services
        with services.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok", "model_version": services.pipeline.model_version,
                "rubric_version": services.pipeline.rubric.version}

    @app.get("/metrics", tags=["operations"], response_class=Response, dependencies=[Depends(metrics_reader)],
             responses={status: ERROR_RESPONSES[status] for status in (401, 403, 429)})
    def metrics(request: Request) -> Response:
        """Prometheus metrics, for `CASENOTES_METRICS_TOKEN` or an admin token as a bearer."""
        services: Services = request.app.state.services
        depth = queue_depth(services.sessions)
        services.metrics.queue(depth.pending, depth.failed, depth.oldest_pending_seconds)
        body, content_type = services.metrics.exposition()
        return Response(body, media_type=content_type)


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    """Request ids, metrics, and the body guard (authentication before a body is read, the size
    limit counted as the body streams in, a stalled body timed out): see `limits.py`."""
    body_limit = settings.max_note_chars * 4 + _BODY_SLACK_BYTES  # UTF-8 takes at most 4 bytes a character
    app.add_middleware(RequestGuard, body_limit=body_limit, stall_seconds=settings.body_stall_seconds)


def _add_error_handlers(app: FastAPI) -> None:
    app.add_middleware(UnexpectedErrors)
    statuses = [(NotFound, 404), (Conflict, 409), (NoteTooLarge, 413), (InvalidInput, 422), (ModelError, 503)]

    @app.exception_handler(CasenotesError)
    async def casenotes_error(request: Request, exc: CasenotesError) -> JSONResponse:
        status = next((code for kind, code in statuses if isinstance(exc, kind)), 500)
        log.info("refused %s %s: %s", request.method, request.url.path, type(exc).__name__)
        if status == 422:  # the same shape as a field error, so a client reads one kind of 422
            return JSONResponse(status_code=422, content={"detail": [
                {"loc": [], "msg": exc.reason, "type": "value_error"}]})
        return _error(status, exc.reason)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # The offending input is left out: it may be note text.
        return JSONResponse(status_code=422, content={"detail": [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()]})


def _error(status: int, reason: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": reason})


class UnexpectedErrors:
    """The answer to an exception no handler took: 500, or 503 with Retry-After when the
    database asks for a retry (a deadlock, a serialization failure, a lock wait given up).

    It is logged with the request id, the exception types and the traceback's frames, but no
    exception message: a database error's message can quote a row or the values it was given,
    which may be a note's text. (Raised on to the server instead, it would be logged whole.)"""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answered = False

        async def send_noting_start(message) -> None:
            nonlocal answered
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_noting_start)
        except Exception as exc:  # noqa: BLE001 (the last line of defence, by design)
            request_id = scope.get("state", {}).get("request_id", "")
            retry = _asks_for_retry(exc)
            log.log(logging.WARNING if retry else logging.ERROR, "%s %s failed, request %s: %s\n%s",
                    scope["method"], getattr(scope.get("route"), "path", "unmatched"), request_id,
                    _exception_types(exc), "".join(traceback.format_tb(exc.__traceback__)).rstrip())
            if answered:  # too late for another status; the server closes the connection
                return
            if retry:
                response = _error(503, "the database was busy; try again")
                response.headers["Retry-After"] = "1"
            else:
                response = _error(500, f"internal error; request id {request_id}")
            response.headers["X-Request-ID"] = request_id
            await response(scope, receive, send)


_RETRY_SQLSTATES = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available


def _asks_for_retry(exc: BaseException) -> bool:
    cause = getattr(exc, "orig", None)
    return (getattr(cause, "sqlstate", None) in _RETRY_SQLSTATES
            or getattr(cause, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED")))


def _exception_types(exc: BaseException) -> str:
    """`exc` and the exceptions it came from, by type (and SQLSTATE) only."""
    names = []
    while exc is not None and len(names) < 10:
        state = getattr(exc, "sqlstate", None) or getattr(getattr(exc, "orig", None), "sqlstate", None)
        names.append(f"{type(exc).__module__}.{type(exc).__qualname__}" + (f" [SQLSTATE {state}]" if state else ""))
        exc = exc.__cause__ or exc.__context__
    return " <- ".join(names)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("casenotes")
    except PackageNotFoundError:
        return "0"
