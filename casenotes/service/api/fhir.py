"""A client's record as FHIR R4, for systems that speak it (see casenotes.service.fhir)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request, Response

from casenotes.service.api.common import NOT_FOUND, Reader
from casenotes.service.deps import ClientIdPath, RepositoryDep, ServicesDep, record_read
from casenotes.service.fhir import fhir_bundle
from casenotes.service.schemas import ERROR_RESPONSES
from casenotes.store.tables import utcnow

router = APIRouter(prefix="/v1", tags=["records"], responses=ERROR_RESPONSES)

FHIR_JSON = "application/fhir+json"
_BUNDLE = {200: {"description": "A FHIR R4 Bundle of type `collection`.", "content": {FHIR_JSON: {"schema": {
    "type": "object", "required": ["resourceType", "type"],
    "properties": {"resourceType": {"const": "Bundle"}, "type": {"const": "collection"},
                   "entry": {"type": "array", "items": {"type": "object"}}}}}}}}


# The route's response class is the plain Response, so the document lists FHIR JSON for the 200
# alone and the errors' JSON as for every other route.
@router.get("/clients/{client_id}/fhir", response_class=Response, responses={**_BUNDLE, **NOT_FOUND})
def get_fhir_record(client_id: ClientIdPath, principal: Reader, repo: RepositoryDep, services: ServicesDep,
                    request: Request) -> Response:
    """The client's record as a FHIR R4 Bundle: the Patient (by client id only), a Goal per plan goal with
    where the client stands on it, an Observation per domain level read from a note, a DocumentReference per
    note (a link, never its text) and a Flag per open or confirmed flag; citations as character spans. A
    program-scoped token gets its program's enrollments alone, an unscoped one the whole person."""
    client = repo.client(client_id, principal.program)
    record = repo.record_data(client, as_of=date.today(), programs=principal.program)
    rubric = services.pipeline.rubric
    bundle = fhir_bundle(record, api_base=str(request.base_url), exported_at=utcnow(),
                         domain_titles={d.id: d.title for d in rubric.domains},
                         flag_titles={f.type: f.title for f in rubric.flags})
    record_read(repo, request, principal, action="read-fhir", object_type="record", object_id=client_id,
                client_id=client_id, program=principal.program)
    repo.commit()
    return Response(bundle.model_dump_json(), media_type=FHIR_JSON)
