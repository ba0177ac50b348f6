"""The JSON API under /v1, one router per resource. `router` includes them in the order the
OpenAPI document lists their operations: the records a case management system writes and
reads first (the record also as FHIR), then review, search and the audit log, then the
operations an admin runs: scoring jobs and webhooks."""

from fastapi import APIRouter

from casenotes.service.api import (
    audit,
    clients,
    enrollments,
    fhir,
    flags,
    jobs,
    notes,
    plans,
    records,
    results,
    search,
    webhooks,
)

__all__ = ["router"]

router = APIRouter()
for resource in (clients, enrollments, plans, notes, records, fhir, flags, results, search, audit, jobs, webhooks):
    router.include_router(resource.router)
