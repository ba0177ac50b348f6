"""The published OpenAPI document, completed with what FastAPI cannot derive from the routes:
the one rubric this service scores with, and links from each answer to the requests its ids
lead to (client → plan → note → record → erasure), so a client generator or a stateful
tester can follow them. Also the `Allow` header of a 405, which lists every method of the
path rather than those of the first route that matched it."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

__all__ = ["install"]

CLIENT = "/v1/clients/{client_id}"
PLAN = "/v1/clients/{client_id}/plan"
NOTES = "/v1/clients/{client_id}/notes"
RECORD = "/v1/clients/{client_id}/record"
ENROLLMENTS = "/v1/clients/{client_id}/enrollments"
NOTE = "/v1/notes/{note_id}"
FLAGS = "/v1/flags"
FLAG_REVIEW = "/v1/flags/{flag_id}/review"
RESULT_REVIEW = "/v1/results/{result_id}/review"
SEARCH = "/v1/search"
AUDIT = "/v1/audit"


def _client_links(client_id: str) -> dict[str, tuple[str, str, dict[str, str]]]:
    """What a client's id leads to: its enrollments, plan, notes, record, search, erasure."""
    return {
        "GetEnrollments": ("get", ENROLLMENTS, {"path.client_id": client_id}),
        "PutPlan": ("put", PLAN, {"path.client_id": client_id}),
        "PostNote": ("post", NOTES, {"path.client_id": client_id}),
        "GetRecord": ("get", RECORD, {"path.client_id": client_id}),
        "SearchClient": ("get", SEARCH, {"query.client_id": client_id}),
        "DeleteClient": ("delete", CLIENT, {"path.client_id": client_id}),
    }


def _note_links(at: str) -> dict[str, tuple[str, str, dict[str, str]]]:
    """What a note in an answer (at JSON pointer `at`) leads to: the note, its revision, its reviews."""
    return {
        "GetNote": ("get", NOTE, {"path.note_id": f"$response.body#{at}/note_id"}),
        "ReviseNote": ("put", NOTE, {"path.note_id": f"$response.body#{at}/note_id"}),
        "ReviewGoalResult": ("post", RESULT_REVIEW, {"path.result_id": f"$response.body#{at}/goals/0/result_id"}),
        "ReviewDomainResult": ("post", RESULT_REVIEW,
                               {"path.result_id": f"$response.body#{at}/domains/0/result_id"}),
        "ReviewFlag": ("post", FLAG_REVIEW, {"path.flag_id": f"$response.body#{at}/flags/0/flag_id"}),
    }


def _hit_links() -> dict[str, tuple[str, str, dict[str, str]]]:
    return {"GetNote": ("get", NOTE, {"path.note_id": "$response.body#/hits/0/note_id"}),
            "GetRecord": ("get", RECORD, {"path.client_id": "$response.body#/hits/0/client_id"})}


# Patterns forbid NUL; no pattern can name a surrogate (see casenotes.service.schemas), so this says it.
_TEXT_RULE = ("\n\nEvery string is Unicode text: one holding NUL (\\u0000) or an unpaired surrogate "
              "(\\ud800-\\udfff, which no UTF-8 text can carry) is refused with 422, in a body, a path or a query.")

# (method, path) of a source operation -> (its answers the links leave from, the links). A list's
# link follows its first item: OpenAPI runtime expressions are JSON pointers, without wildcards.
LINKS: dict[tuple[str, str], tuple[tuple[str, ...], dict[str, tuple[str, str, dict[str, str]]]]] = {
    ("put", CLIENT): (("200", "201"), _client_links("$response.body#/client_id")),
    ("put", PLAN): (("201",), _client_links("$response.body#/client_id")),
    ("post", NOTES): (("200", "201"), {**_note_links(""), **_client_links("$response.body#/client_id")}),
    ("put", NOTE): (("200",), {**_note_links(""), **_client_links("$response.body#/client_id")}),
    ("get", NOTE): (("200",), {**_note_links(""), **_client_links("$response.body#/client_id")}),
    ("get", RECORD): (("200",), {
        "GetNote": ("get", NOTE, {"path.note_id": "$response.body#/notes/0/note_id"}),
        "ReviewFlag": ("post", FLAG_REVIEW, {"path.flag_id": "$response.body#/open_flags/0/flag_id"}),
        **_client_links("$response.body#/client/client_id")}),
    ("get", FLAGS): (("200",), {
        "ReviewFlag": ("post", FLAG_REVIEW, {"path.flag_id": "$response.body#/flags/0/flag_id"}),
        "GetNote": ("get", NOTE, {"path.note_id": "$response.body#/flags/0/note_id"}),
        "GetRecord": ("get", RECORD, {"path.client_id": "$response.body#/flags/0/client_id"})}),
    ("post", FLAG_REVIEW): (("200",), {
        "GetNote": ("get", NOTE, {"path.note_id": "$response.body#/note_id"}),
        "GetRecord": ("get", RECORD, {"path.client_id": "$response.body#/client_id"})}),
    ("get", SEARCH): (("200",), _hit_links()),
    ("post", SEARCH): (("200",), _hit_links()),
    ("get", AUDIT): (("200",), {
        "GetRecord": ("get", RECORD, {"path.client_id": "$response.body#/entries/0/client_id"})}),
    # After an erasure the client's record must be gone (404). The one link from an erasure, so
    # that a stateful tester that erases a client goes on to check it is gone.
    ("delete", CLIENT): (("204",), {
        "GetErasedRecord": ("get", RECORD, {"path.client_id": "$request.path.client_id"})}),
}


def install(app: FastAPI) -> None:
    """Serve the completed OpenAPI document and answer 405 with the path's every method."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            services = getattr(app.state, "services", None)
            if services is not None:
                _name_the_rubric(schema, services.pipeline.rubric.name)
            else:  # the rubric is known once the lifespan has loaded it: build the document again then
                app.openapi_schema = None
            add_links(schema)
            schema["info"]["description"] = schema["info"].get("description", "") + _TEXT_RULE
            return schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_exception_handler(405, _method_not_allowed)


def _name_the_rubric(schema: dict[str, Any], rubric: str) -> None:
    """A plan names the rubric it is written against; this service scores with one."""
    plan = schema.get("components", {}).get("schemas", {}).get("PlanIn")
    if plan is not None and "rubric" in plan.get("properties", {}):
        plan["properties"]["rubric"] = {"type": "string", "enum": [rubric], "default": rubric, "title": "Rubric",
                                        "description": "The rubric the goals are written against: the one "
                                                       "this service scores with."}


def add_links(schema: dict[str, Any]) -> None:
    """Attach `LINKS` to the answers they leave from, naming targets by operationId."""
    paths = schema.get("paths", {})
    operation_ids = {(method, path): operation.get("operationId")
                     for path, operations in paths.items() for method, operation in operations.items()}
    for (method, path), (statuses, links) in LINKS.items():
        responses = paths.get(path, {}).get(method, {}).get("responses")
        if responses is None:
            continue
        resolved = {name: {"operationId": operation_ids[target], "parameters": parameters}
                    for name, (target_method, target_path, parameters) in links.items()
                    if (target := (target_method, target_path)) in operation_ids}
        for status in statuses:
            if status in responses and resolved:
                responses[status]["links"] = resolved


async def _method_not_allowed(request: Request, exc: HTTPException) -> JSONResponse:
    """Starlette's 405 names the methods of the first route whose path matched, but a path such as
    /v1/clients/{client_id} has one route for PUT and another for DELETE: list what the document
    says the path has (routes it does not describe, such as the review pages, keep Starlette's)."""
    methods = _documented_methods(request.app.openapi(), request.url.path)
    headers = {"Allow": ", ".join(sorted(methods))} if methods else dict(exc.headers or {})
    return JSONResponse({"detail": exc.detail}, status_code=405, headers=headers)


def _documented_methods(schema: dict[str, Any], path: str) -> set[str]:
    methods: set[str] = set()
    for template, operations in schema.get("paths", {}).items():
        if _template_pattern(template).fullmatch(path):
            methods |= {method.upper() for method in operations if method in _HTTP_METHODS}
    if "GET" in methods:
        methods.add("HEAD")  # Starlette answers HEAD wherever it answers GET
    return methods


@lru_cache(maxsize=256)
def _template_pattern(template: str) -> re.Pattern[str]:
    """/v1/notes/{note_id} -> a pattern matching /v1/notes/<one path segment>."""
    return re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)))


_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "options", "head", "trace"})
