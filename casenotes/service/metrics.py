"""Prometheus metrics: requests, latency, notes scored, flags raised. No labels carry
identifiers or text, only methods, route templates, statuses and flag types.

Under several worker processes (`casenotes serve --workers N` sets PROMETHEUS_MULTIPROC_DIR)
each worker writes its samples to that directory and /metrics sums them all, whichever
worker answers."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
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
        self.flags_raised = Counter("casenotes_flags_raised", "Risk flags raised on stored notes.", ["type"],
                                    registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def scored(self, flag_types: list[str]) -> None:
        self.notes_scored.inc()
        for flag_type in flag_types:
            self.flags_raised.labels(flag_type).inc()

    def exposition(self) -> tuple[bytes, str]:
        if not self.shared:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
