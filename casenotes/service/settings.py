"""Service settings, from the environment (`CASENOTES_*`) and a `.env` file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from casenotes.embed import DEFAULT_BACKEND
from casenotes.schema import DEFAULT_MAX_NOTE_CHARS

if TYPE_CHECKING:  # the factory loads on use: token commands start without it
    from casenotes.runtime.factory import PipelineSpec

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASENOTES_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("casenotes-data"), description="Where the SQLite database and search index live.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite in data_dir.")
    rubric: str = "self-sufficiency"
    rubric_dir: Path | None = None
    model_path: Path | None = Field(None, description="Trained heads JSON; default: the packaged model.")
    encoder: str = Field(DEFAULT_BACKEND, description="Embedding backend: torch, onnx-fp32, onnx-int8 or onnx-int8-mixed.")
    encoder_threads: int | None = Field(None, ge=1, description="Threads for the encoder and faiss in each worker; "
                                        "default: all cores (`serve --workers N` divides them among the workers).")
    max_note_chars: int = Field(DEFAULT_MAX_NOTE_CHARS, gt=0)
    cors_origins: list[str] = []
    auto_migrate: bool = Field(True, description="Bring the schema up to date at start-up.")
    rate_limit_per_minute: int = Field(0, ge=0, description="Requests per token per minute; 0: no limit.")
    redis_url: str | None = Field(None, description="Shares rate-limit counts across workers, e.g. redis://127.0.0.1:6379/0.")
    secure_cookies: bool = Field(True, description="Mark the UI session cookie Secure (HTTPS only).")
    body_stall_seconds: float = Field(10.0, gt=0, description="How long a request body may go without a byte "
                                      "arriving before the request is answered 408 and its connection closed.")
    ui_session_hours: float = Field(8, gt=0, le=24 * 30, description="How long a review-UI sign-in lasts.")
    metrics_token: SecretStr | None = Field(None, min_length=16, description="A bearer token that may read "
                                            "/metrics (for a Prometheus scraper); admin tokens may read it too.")

    respond_async: bool = Field(False, description="Answer note posts and revisions 202 and score them next, even "
                                "without `Prefer: respond-async` (`Prefer: wait` then asks for the scored answer).")
    scoring_workers: int = Field(2, ge=0, le=64, description="Scoring jobs this process works on at once; 0: none "
                                 "(`serve --no-worker`), for an API in front of `casenotes worker` processes.")
    worker_stalled_seconds: float = Field(30.0, gt=0, description="PostgreSQL: a scoring worker silent this long "
                                          "is gone, and its jobs in hand go back in the queue.")
    send_webhooks: bool = Field(True, description="Deliver queued webhook events from this process (each "
                                "delivery is leased, so any number of processes may send).")
    webhook_allow: list[str] = Field([], description="Webhook targets allowed although they resolve to a loopback, "
                                     "private or link-local address: host names, addresses or CIDR networks.")

    def pipeline_spec(self) -> PipelineSpec:
        """What the service and its workers build their pipeline from."""
        from casenotes.runtime.factory import PipelineSpec

        return PipelineSpec(model_path=str(self.model_path) if self.model_path else None, rubric=self.rubric,
                            rubric_dir=str(self.rubric_dir) if self.rubric_dir else None, encoder=self.encoder,
                            threads=self.encoder_threads, max_note_chars=self.max_note_chars)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'casenotes.db'}"

    @property
    def search_index_path(self) -> Path:
        return self.data_dir / "search" / "segments.faiss"
