"""Stored rows turned into response bodies; citation texts are cut from the note text here."""

from __future__ import annotations

from datetime import date

from casenotes.runtime.ingest import PendingRevision
from casenotes.schema import confidence_band
from casenotes.service.schemas import (
    AuditOut,
    CitationOut,
    DomainResultOut,
    FlagOut,
    GoalResultOut,
    NoteOut,
    NoteResultOut,
    QueueFlagOut,
    ReviewOut,
    RevisionOut,
)
from casenotes.service.schemas_record import (
    ClientOut,
    DomainLevelsOut,
    EnrollmentOut,
    GoalOut,
    GoalStandingOut,
    GoalTimelineOut,
    LevelPoint,
    NoteSummaryOut,
    PlanOut,
    RecordOut,
    TimelinePoint,
    TrendOut,
)
from casenotes.store.goal_standing import GoalReading, GoalStanding
from casenotes.store.record_reads import goal_standings, notes_of
from casenotes.store.repository import Repository
from casenotes.store.reviewed import reviewed_level, reviewed_status
from casenotes.store.tables import Client, Enrollment, FlagRow, Note, NoteRevision, Plan, Result, Review


def citations(text: str, spans: list) -> list[CitationOut]:
    return [CitationOut(start=s, end=e, text=text[s:e]) for s, e in spans]


def review_out(review: Review | None) -> ReviewOut | None:
    if review is None:
        return None
    return ReviewOut(review_id=review.id, decision=review.decision, status=review.status, level=review.level,
                     comment=review.comment, reviewer=review.reviewer, created_at=review.created_at)


def _latest_review(result: Result) -> ReviewOut | None:
    return review_out(result.reviews[-1] if result.reviews else None)


def goal_out(result: Result, text: str) -> GoalResultOut:
    return GoalResultOut(result_id=result.id, goal_id=result.goal_id, status=result.status, score=result.score,
                         confidence=result.confidence, citations=citations(text, result.citations),
                         review=_latest_review(result))


def domain_out(result: Result, text: str) -> DomainResultOut:
    return DomainResultOut(result_id=result.id, domain=result.domain, level=result.level,
                           confidence=result.confidence, citations=citations(text, result.citations),
                           review=_latest_review(result))


def flag_out(flag: FlagRow, text: str) -> FlagOut:
    return FlagOut(flag_id=flag.id, type=flag.type, severity=flag.severity, confidence=flag.confidence,
                   confidence_band=confidence_band(flag.confidence), status=flag.status,
                   citations=citations(text, flag.citations), reviewer=flag.reviewer, comment=flag.comment)


def queue_flag_out(flag: FlagRow) -> QueueFlagOut:
    revision = flag.revision
    note = revision.note
    return QueueFlagOut(**flag_out(flag, revision.text).model_dump(), note_id=note.note_id,
                        note_date=flag.note_date, client_id=note.client.client_id, program=note.enrollment.program)


def note_result_out(repo: Repository, note: Note) -> NoteResultOut:
    revision = repo.current_revision(note)
    return NoteResultOut(**_result_fields(repo, note, revision))


def pending_result_out(note_id: str, pending: PendingRevision) -> NoteResultOut:
    """The answer to a note accepted just now: stored, to be scored next, no results yet."""
    return NoteResultOut(note_id=note_id, client_id=pending.client_id, note_date=pending.note_date,
                         revision=pending.revision, sha256=pending.sha256, plan_version=pending.plan_version,
                         status="pending", error=None, model_version=None, rubric_name=None, rubric_version=None,
                         rubric_hash=None, goals=[], domains=[], flags=[])


def note_out(repo: Repository, note: Note) -> NoteOut:
    revision = repo.current_revision(note)
    history = [RevisionOut(revision=r.revision, sha256=r.sha256, created_at=r.created_at, status=r.scoring_state,
                           model_version=r.model_version) for r in repo.revisions(note)]
    return NoteOut(**_result_fields(repo, note, revision), note_format=note.note_format, author=note.author,
                   text=revision.text, revisions=history)


def _result_fields(repo: Repository, note: Note, revision: NoteRevision) -> dict:
    plan = repo.plan_by_pk(revision.plan_pk)
    text = revision.text
    return dict(
        note_id=note.note_id, client_id=note.client.client_id, note_date=note.note_date,
        revision=revision.revision, sha256=revision.sha256, plan_version=plan.version if plan else None,
        status=revision.scoring_state, error=revision.scoring_error,
        model_version=revision.model_version, rubric_name=revision.rubric_name,
        rubric_version=revision.rubric_version, rubric_hash=revision.rubric_hash,
        goals=[goal_out(r, text) for r in revision.results if r.kind == "goal"],
        domains=[domain_out(r, text) for r in revision.results if r.kind == "domain"],
        flags=[flag_out(f, text) for f in revision.flags],
    )


def enrollment_out(enrollment: Enrollment) -> EnrollmentOut:
    return EnrollmentOut(enrollment_id=enrollment.id, program=enrollment.program, start_date=enrollment.start_date,
                         end_date=enrollment.end_date, status=enrollment.status)


def client_out(client: Client, enrollments: list[Enrollment], program: str | None = None) -> ClientOut:
    """`program`: the one the answer is about; by default the only program among `enrollments`, if one."""
    programs = {e.program for e in enrollments}
    if program is None and len(programs) == 1:
        program = programs.pop()
    return ClientOut(client_id=client.client_id, program=program, created_at=client.created_at,
                     enrollments=[enrollment_out(e) for e in enrollments])


def plan_out(client: Client, plan: Plan, enrollment: Enrollment) -> PlanOut:
    return PlanOut(client_id=client.client_id, program=enrollment.program, enrollment_id=enrollment.id,
                   version=plan.version, rubric=plan.rubric, created_at=plan.created_at,
                   goals=[GoalOut(goal_id=g.goal_id, text=g.text, domain=g.domain, target_date=g.target_date)
                          for g in plan.goals])


def record_out(repo: Repository, client: Client, programs: str | None = None, as_of: date | None = None) -> RecordOut:
    """The record a reader scoped to `programs` may see (None: the whole person). `as_of` (default
    today) is the day the goal standings' days since evidence count to."""
    history = repo.current_revisions(client, programs)
    plans = repo.enrollment_plans(client, programs)
    newest = max(plans, key=lambda pair: pair[1].version, default=None)
    return RecordOut(
        client=client_out(client, repo.enrollments(client, programs), programs),
        plan=plan_out(client, newest[1], newest[0]) if newest else None,
        plans=[plan_out(client, plan, enrollment) for enrollment, plan in plans],
        goals=[timeline for enrollment, plan in plans
               for timeline in _goal_timelines(enrollment, plan, notes_of(history, enrollment.id), as_of or date.today())],
        domains=_domain_levels(history),
        open_flags=[queue_flag_out(f) for _, revision in reversed(history) for f in revision.flags
                    if f.status == "open"],
        notes=[NoteSummaryOut(note_id=note.note_id, program=note.enrollment.program, note_date=note.note_date,
                              note_format=note.note_format,
                              author=note.author, revision=revision.revision,
                              open_flags=sum(f.status == "open" for f in revision.flags))
               for note, revision in history],
    )


def _goal_timelines(enrollment: Enrollment, plan: Plan, history: list[tuple[Note, NoteRevision]],
                    as_of: date) -> list[GoalTimelineOut]:
    """The plan's goals, each read from `history`, the notes of the plan's enrollment."""
    timelines = []
    for goal, standing in zip(plan.goals, goal_standings(plan.goals, history, as_of)):
        points = [TimelinePoint(note_id=note.note_id, note_date=note.note_date, result_id=r.id,
                                status=reviewed_status(r), score=r.score, confidence=r.confidence)
                  for note, revision in history for r in revision.results
                  if r.kind == "goal" and r.goal_id == goal.goal_id]
        timelines.append(GoalTimelineOut(goal_id=goal.goal_id, program=enrollment.program, text=goal.text,
                                         domain=goal.domain,
                                         target_date=goal.target_date, standing=standing_out(standing),
                                         timeline=points))
    return timelines


def standing_out(standing: GoalStanding) -> GoalStandingOut:
    return GoalStandingOut(
        status=standing.status, machine_status=standing.machine_status, **_evidence_fields(standing.evidence),
        trend=TrendOut(statuses=list(standing.trend.statuses), summary=standing.trend.summary),
        as_of=standing.as_of, days_since_evidence=standing.days_since_evidence)


def _evidence_fields(evidence: GoalReading | None) -> dict:
    if evidence is None:
        return dict(review=None, note_id=None, note_date=None, result_id=None, citations=[])
    return dict(review=evidence.review, note_id=evidence.note_id, note_date=evidence.note_date,
                result_id=evidence.result_id,
                citations=[CitationOut(start=c.start, end=c.end, text=c.text) for c in evidence.citations])


def _domain_levels(history: list[tuple[Note, NoteRevision]]) -> list[DomainLevelsOut]:
    seen: dict[str, list[LevelPoint]] = {}
    for note, revision in history:
        for r in revision.results:
            if r.kind == "domain":
                seen.setdefault(r.domain, []).append(LevelPoint(
                    note_id=note.note_id, note_date=note.note_date, result_id=r.id,
                    level=reviewed_level(r), confidence=r.confidence))
    return [DomainLevelsOut(domain=d, baseline=points[0], latest=points[-1]) for d, points in seen.items()]


def audit_out(entry) -> AuditOut:
    return AuditOut(audit_id=entry.id, at=entry.at, actor=entry.actor, role=entry.role, action=entry.action,
                    object_type=entry.object_type, object_id=entry.object_id, client_id=entry.client_id,
                    request_id=entry.request_id)
