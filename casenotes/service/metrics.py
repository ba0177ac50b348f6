"""Prometheus metrics: requests, latency, notes scored, flags raised, the scoring queue. No labels carry
identifiers or text, only methods, route templates, statuses and flag types.

Under several worker processes (`casenotes serve --workers N` sets PROMETHEUS_MULTIPROC_DIR)
each worker writes its samples to that directory and /metrics sums them all, whichever
worker answers."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.shared = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = None if self.shared else CollectorRegistry()
        self.requests = Counter("casenotes_http_requests", "HTTP requests served.",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("casenotes_http_request_seconds", "Time to serve a request.", ["route"],
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
                                 registry=self.registry)
        self.notes_scored = Counter("casenotes_notes_scored", "Notes scored and stored (revisions included).",
                                    registry=self.registry)
        # Read from the database at each scrape, so every worker reports the same figures.
        self.jobs_pending = Gauge("casenotes_scoring_jobs_pending", "Notes waiting for a scoring job.",
                                  registry=self.registry, multiprocess_mode="mostrecent")
        self.jobs_failed = Gauge("casenotes_scoring_jobs_failed", "Notes dead-lettered after their retries.",
                                 registry=self.registry, multiprocess_mode="mostrecent")
        self.oldest_pending = Gauge("casenotes_scoring_oldest_pending_seconds",
                                    "How long the oldest note waiting for scoring has waited.",
                                    registry=self.registry, multiprocess_mode="mostrecent")
        self.flags_raised = Counter("casenotes_flags_raised", "Risk flags raised on stored notes.", ["type"],
                                    registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def scored(self, flag_types: list[str]) -> None:
        self.notes_scored.inc()
        for flag_type in flag_types:
            self.flags_raised.labels(flag_type).inc()

    def queue(self, pending: int, failed: int, oldest_pending_seconds: float) -> None:
        self.jobs_pending.set(pending)
        self.jobs_failed.set(failed)
        self.oldest_pending.set(oldest_pending_seconds)

    def exposition(self) -> tuple[bytes, str]:
        if not self.shared:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
