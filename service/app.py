"""`create_app(settings)`: the FastAPI app, with the pipeline, database and search index
built once in its lifespan and kept on `app.state.services`."""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from casenotes.errors import CasenotesError, Conflict, InvalidInput, ModelError, NotFound, NoteTooLarge
from casenotes.pipeline import Pipeline
from casenotes.search import SegmentIndex
from casenotes.store import make_engine, make_sessionmaker, migrate
from casenotes.store.ingest import NoteIngestor
from casenotes.store.repository import Repository
from casenotes.service.metrics import Metrics
from casenotes.service.ratelimit import RateLimiter
from casenotes.service.settings import Settings

__all__ = ["Services", "create_app"]

log = logging.getLogger("casenotes.service")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_BODY_SLACK_BYTES = 64 * 1024


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

    def catch_up_index(self) -> None:
        """Add segments other processes stored since this index last looked."""
        with self.sessions() as session:
            ids, vectors = Repository(session).segment_vectors(after_id=self.index.newest_id)
        self.index.add(ids, vectors)

    def erase_traces(self) -> None:
        """After an erasure, fold SQLite's write-ahead log into the (secure-delete) database file,
        so erased pages do not linger in the log."""
        if self.engine.dialect.name != "sqlite":
            return
        connection = self.engine.raw_connection()
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()

    def close(self) -> None:
        self.index.save()
        self.engine.dispose()


def build_services(settings: Settings, pipeline: Pipeline | None = None) -> Services:
    engine = make_engine(settings.resolved_database_url)
    if settings.auto_migrate:
        migrate(engine)
    sessions = make_sessionmaker(engine)
    if settings.encoder_threads:
        import faiss

        faiss.omp_set_num_threads(settings.encoder_threads)
    if pipeline is None:
        from casenotes.embed import make_encoder

        encoder = make_encoder(settings.encoder, threads=settings.encoder_threads)
        pipeline = Pipeline.load(model_path=str(settings.model_path) if settings.model_path else None,
                                 rubric=settings.rubric, encoder=encoder,
                                 rubric_dir=str(settings.rubric_dir) if settings.rubric_dir else None,
                                 max_note_chars=settings.max_note_chars)
    index = SegmentIndex(pipeline.encoder.dimension, settings.search_index_path)
    services = Services(settings, engine, sessions, pipeline, index, NoteIngestor(sessions, pipeline, index),
                        Metrics(), RateLimiter(settings.rate_limit_per_minute, settings.redis_url))
    services.catch_up_index()
    return services


def create_app(settings: Settings | None = None, pipeline: Pipeline | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        app.state.services = build_services(settings, pipeline)
        yield
        app.state.services.close()

    app = FastAPI(title="casenotes", version=_version(), lifespan=lifespan,
                  description="Case-note intelligence: goal status, rubric levels and risk flags with citations.")
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=True,
                           allow_methods=["*"], allow_headers=["*"])
    _add_middleware(app, settings)
    _add_error_handlers(app)
    _add_routes(app)
    return app


def _add_routes(app: FastAPI) -> None:
    from casenotes.service.routes_records import router as records
    from casenotes.service.routes_review import router as review
    from casenotes.service.ui import mount_ui

    app.include_router(records)
    app.include_router(review)
    mount_ui(app)  # the review pages under /ui and their static files

    @app.get("/healthz", tags=["operations"])
    def healthz(request: Request) -> dict[str, str]:
        services: Services = request.app.state.services
        with services.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok", "model_version": services.pipeline.model_version,
                "rubric_version": services.pipeline.rubric.version}

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def metrics(request: Request) -> Response:
        body, content_type = request.app.state.services.metrics.exposition()
        return Response(body, media_type=content_type)


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    body_limit = settings.max_note_chars * 4 + _BODY_SLACK_BYTES  # UTF-8 takes at most 4 bytes a character

    @app.middleware("http")
    async def request_context(request: Request, call_next):  # noqa: ANN001, ANN202
        offered = request.headers.get("x-request-id", "")
        request.state.request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > body_limit:
            response: Response = _error(413, f"request body over {body_limit} bytes")
        else:
            started = time.perf_counter()
            response = await call_next(request)
            route = request.scope.get("route")
            services = getattr(request.app.state, "services", None)
            if services is not None:
                services.metrics.observe(request.method, getattr(route, "path", "unmatched"),
                                         response.status_code, time.perf_counter() - started)
        response.headers["X-Request-ID"] = request.state.request_id
        return response


def _add_error_handlers(app: FastAPI) -> None:
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


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("casenotes")
    except PackageNotFoundError:
        return "0"
