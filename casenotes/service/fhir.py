"""A client's record as a FHIR R4 Bundle of type `collection`, built (and so validated) with the
R4B models of `fhir.resources`: R4B is R4 with a few new resources and changes elsewhere; the
resources here (Patient, Goal, Observation, DocumentReference, Flag, Bundle) are the same in both,
and `fhir.resources` ships R4B and R5 but no plain R4.

What goes in: a Patient known only by the client's persistent id; a Goal per plan goal, its
achievementStatus the goal's standing; an Observation per domain level read from a note (after
the Gravity Project's SDOH assessment pattern), derived from a DocumentReference for that note;
a Flag per flag that still stands (open or confirmed). No note text and no name: a
DocumentReference carries the note's ids, date and a link to `/v1/notes/{note_id}`, and what
a result rests on goes as character spans of that note's current text, in the extension
`CITATION_SPAN` (sub-extensions `document`, `start` and `end`, offsets in Unicode characters,
`end` exclusive, as the rest of the API cites). Every reference is to another entry's fullUrl,
a `urn:uuid:` derived from the client id, so the same record gives the same bundle.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from urllib.parse import quote

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.flag import Flag
from fhir.resources.R4B.goal import Goal
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient

from casenotes.schema import Goal as GoalSpec
from casenotes.store.goal_standing import GoalStanding
from casenotes.store.record_reads import DomainReading, FlagReading, NoteSummary, RecordData, Span

__all__ = ["CITATION_SPAN", "FHIR_BASE", "SDOH_CATEGORIES", "fhir_bundle"]

FHIR_BASE = "https://casenotes.example/fhir"
CITATION_SPAN = f"{FHIR_BASE}/StructureDefinition/citation-span"
FLAG_REVIEW = f"{FHIR_BASE}/StructureDefinition/flag-review-status"
FLAG_SEVERITY = f"{FHIR_BASE}/StructureDefinition/flag-severity"
GOAL_ACHIEVEMENT = "http://terminology.hl7.org/CodeSystem/goal-achievement"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
SDOH_CATEGORY = "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes"
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, FHIR_BASE)

# casenotes statuses are FHIR's goal-achievement codes; `not-addressed` never makes a standing.
ACHIEVEMENT_DISPLAY = {"improving": "Improving", "worsening": "Worsening", "no-change": "No Change",
                       "achieved": "Achieved"}
# The Gravity Project's SDOH category for each rubric domain; the rest are `sdoh-category-unspecified`.
SDOH_CATEGORIES = {
    "housing": ("housing-instability", "Housing Instability"),
    "employment": ("employment-status", "Employment Status"),
    "income": ("financial-insecurity", "Financial Insecurity"),
    "food": ("food-insecurity", "Food Insecurity"),
    "education": ("educational-attainment", "Educational Attainment"),
    "transportation": ("transportation-insecurity", "Transportation Insecurity"),
    "social_support": ("social-connection", "Social Connection"),
}
_UNSPECIFIED = ("sdoh-category-unspecified", "SDOH Category Unspecified")


def fhir_bundle(record: RecordData, *, api_base: str, domain_titles: Mapping[str, str],
                flag_titles: Mapping[str, str], exported_at: datetime) -> Bundle:
    """The record as a Bundle. `api_base` is the service's URL (the notes' links start with it);
    the titles name rubric domains and flag types for people reading the codes."""
    ids = _Ids(record.client_id)
    patient = Patient(id=ids.id("Patient"), identifier=[_identifier("client-id", record.client_id)])
    notes = [_document(note, ids, api_base) for note in record.notes]
    goals = [_goal(goal, standing, key, ids) for goal, standing, key in zip(record.goals, record.standings,
                                                                              record.goal_keys)]
    levels = [_observation(reading, ids, domain_titles.get(reading.domain, reading.domain))
              for reading in record.domains]
    flags = [_flag(flag, ids, flag_titles.get(flag.type, flag.type)) for flag in record.flags]
    resources = [patient, *notes, *goals, *levels, *flags]
    return Bundle(type="collection", timestamp=exported_at.isoformat(),
                  entry=[{"fullUrl": f"urn:uuid:{r.id}", "resource": r} for r in resources])


class _Ids:
    """Each resource's id: a UUID from the client id and what the resource stands for, so the
    same record gives the same ids (and FHIR's id rules need not fit the client's ids)."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id

    def id(self, *parts: object) -> str:
        return str(uuid.uuid5(_NAMESPACE, "/".join(map(str, (self.client_id, *parts)))))

    def ref(self, *parts: object) -> dict:
        return {"reference": f"urn:uuid:{self.id(*parts)}"}

    @property
    def patient(self) -> dict:
        return self.ref("Patient")

    def note(self, note_id: str) -> dict:
        return self.ref("DocumentReference", note_id)


def _document(note: NoteSummary, ids: _Ids, api_base: str) -> DocumentReference:
    kind = f"Case note ({note.note_format})" if note.note_format else "Case note"
    return DocumentReference(
        id=ids.id("DocumentReference", note.note_id), status="current",
        identifier=[_identifier("note-id", note.note_id)], type={"text": kind}, subject=ids.patient,
        context={"period": {"start": note.note_date.isoformat()}},
        content=[{"attachment": {"contentType": "text/plain",
                                 "url": f"{api_base.rstrip('/')}/v1/notes/{quote(note.note_id, safe=':@')}"}}])


def _goal(goal: GoalSpec, standing: GoalStanding, key: str, ids: _Ids) -> Goal:
    """The goal, where the client stands on it (no achievementStatus until a note speaks to it).
    `key` tells apart goals of the same id in two enrollments (see `RecordData.goal_keys`)."""
    fields: dict = {"lifecycleStatus": "completed" if standing.status == "achieved" else "active"}
    if standing.evidence is not None:
        fields["achievementStatus"] = {
            "coding": [{"system": GOAL_ACHIEVEMENT, "code": standing.status,
                        "display": ACHIEVEMENT_DISPLAY[standing.status]}]}
        fields["statusDate"] = standing.evidence.note_date.isoformat()
        fields["extension"] = _citations(standing.evidence.note_id, [(c.start, c.end) for c in
                                                                     standing.evidence.citations], ids)
    if goal.target_date:
        fields["target"] = [{"dueDate": goal.target_date.isoformat()}]
    return Goal(id=ids.id("Goal", key), identifier=[_identifier("goal-id", goal.goal_id)],
                description={"text": goal.text}, subject=ids.patient, **fields)


def _observation(reading: DomainReading, ids: _Ids, title: str) -> Observation:
    sdoh_code, sdoh_display = SDOH_CATEGORIES.get(reading.domain, _UNSPECIFIED)
    return Observation(
        id=ids.id("Observation", reading.result_id), identifier=[_identifier("result-id", str(reading.result_id))],
        status="corrected" if reading.review == "corrected" else "final",
        category=[{"coding": [{"system": OBSERVATION_CATEGORY, "code": "social-history", "display": "Social History"}]},
                  {"coding": [{"system": SDOH_CATEGORY, "code": sdoh_code, "display": sdoh_display}]}],
        code={"coding": [{"system": f"{FHIR_BASE}/CodeSystem/rubric-domain", "code": reading.domain,
                          "display": title}],
              "text": f"{title}: self-sufficiency level (1 in crisis to 5 thriving)"},
        subject=ids.patient, effectiveDateTime=reading.note_date.isoformat(), valueInteger=reading.level,
        derivedFrom=[ids.note(reading.note_id)], extension=_citations(reading.note_id, reading.spans, ids))


def _flag(flag: FlagReading, ids: _Ids, title: str) -> Flag:
    return Flag(
        id=ids.id("Flag", flag.flag_id), identifier=[_identifier("flag-id", str(flag.flag_id))], status="active",
        code={"coding": [{"system": f"{FHIR_BASE}/CodeSystem/flag-type", "code": flag.type, "display": title}],
              "text": title},
        subject=ids.patient, period={"start": flag.note_date.isoformat()},
        extension=[{"url": FLAG_REVIEW, "valueCode": flag.status}, {"url": FLAG_SEVERITY, "valueInteger": flag.severity},
                   *_citations(flag.note_id, flag.spans, ids)])


def _citations(note_id: str, spans: Sequence[Span], ids: _Ids) -> list[dict]:
    return [{"url": CITATION_SPAN, "extension": [{"url": "document", "valueReference": ids.note(note_id)},
                                                  {"url": "start", "valueInteger": start},
                                                  {"url": "end", "valueInteger": end}]}
            for start, end in spans]


def _identifier(kind: str, value: str) -> dict:
    return {"system": f"{FHIR_BASE}/sid/{kind}", "value": value}
