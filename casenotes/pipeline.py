"""`Pipeline`: one object, built once, that reads notes against plans and a rubric.

note -> segments -> context -> embeddings -> rubric and goal similarity
     -> trained heads -> goal statuses, domain levels, flags (with citations)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from casenotes.embed.encoder import CachedEncoder, Encoder, default_encoder
from casenotes.errors import InvalidInput, ModelError, NoteTooLarge
from casenotes.reading.features import (
    GOAL_SHAPE_COUNTS,
    AnalysedNote,
    GoalView,
    RubricLexicon,
    direction_features,
    goal_shape,
    level_features,
    relevance_features,
    segment_features,
)
from casenotes.reading.heads import in_order
from casenotes.reading.match import RubricAnchors, cosine_matrix
from casenotes.reading.model import NoteHeads, Thresholds, TrainedModel, load_model
from casenotes.reading.score import (
    DIRECTIONS,
    DomainEvidence,
    FlagEvidence,
    GoalEvidence,
    decide_domains,
    decide_flags,
    decide_goal,
    feature_signature,
    speaks_of_current_state,
)
from casenotes.schema import DEFAULT_MAX_NOTE_CHARS, DOMAINS, Note, NoteResult, Plan, ScoredNote
from casenotes.text.cues import concerns_family, content_words, is_ongoing_goal, reduces_problem
from casenotes.text.segment import Segmenter
from casenotes.text.shorthand import expand_shorthand

__all__ = ["DEFAULT_MAX_NOTE_CHARS", "HeadOutputs", "Pipeline", "check_note_text"]

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Control, format and separator characters; every whitespace character is one of them.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
_LEVELS = ("1", "2", "3", "4", "5")  # the level head's classes


@dataclass(frozen=True)
class HeadOutputs:
    goals: list[tuple[GoalView, GoalEvidence]]
    domains: DomainEvidence
    flags: FlagEvidence


def check_note_text(text: object, max_chars: int = DEFAULT_MAX_NOTE_CHARS, *, allow_blank: bool = True) -> str:
    """The text if it can be scored; otherwise `InvalidInput` saying why (never quoting it).
    A note to be stored (`allow_blank=False`) must hold a visible character: one that is not
    whitespace, a control character or an invisible format character (zero-width space and
    joiners, word joiner, byte-order mark, soft hyphen, direction marks)."""
    if not isinstance(text, str):
        raise InvalidInput("note text must be a string")
    if len(text) > max_chars:
        raise NoteTooLarge(f"note text has {len(text)} characters; the limit is {max_chars}")
    surrogate = _LONE_SURROGATE.search(text)
    if surrogate:
        raise InvalidInput(f"note text has an unpaired surrogate code point at offset {surrogate.start()}")
    if not allow_blank and not _has_visible_character(text):
        raise InvalidInput("note text is empty or holds only whitespace, control or invisible format characters")
    return text


def _has_visible_character(text: str) -> bool:
    return any(unicodedata.category(c) not in _INVISIBLE_CATEGORIES for c in text)


class Pipeline:
    """Scores notes. Thread-compatible for reads; build one per process and reuse it."""

    def __init__(self, *, encoder: Encoder, rubric, model: TrainedModel | None,
                 segmenter: Segmenter | None = None, context=None,
                 max_note_chars: int = DEFAULT_MAX_NOTE_CHARS, goal_reader=None) -> None:
        from casenotes.text.context import ContextAnalyzer

        _check_model_matches(model)
        _check_reader_matches(model, goal_reader)
        self.goal_reader = goal_reader  # casenotes.reading.goal_reader.GoalReader, or None
        self.encoder = encoder if isinstance(encoder, CachedEncoder) else CachedEncoder(encoder)
        self.rubric = rubric
        self.model = model
        self.segmenter = segmenter or Segmenter()
        self.context = context or ContextAnalyzer()
        self.max_note_chars = max_note_chars
        self.lexicon = RubricLexicon.from_rubric(rubric)
        self.anchors = RubricAnchors(rubric, self.encoder)

    @classmethod
    def load(cls, model_path: str | None = None, rubric: str = "self-sufficiency",
             rubric_dir: str | None = None, encoder: Encoder | None = None,
             max_note_chars: int = DEFAULT_MAX_NOTE_CHARS) -> Pipeline:
        from casenotes.rubric import load_rubric

        model = load_model(model_path)
        encoder = encoder or default_encoder()
        return cls(encoder=encoder, rubric=load_rubric(rubric, rubric_dir), model=model,
                   max_note_chars=max_note_chars, goal_reader=_reader_for(model, encoder))

    @property
    def model_version(self) -> str:
        model = self.model.version if self.model else "untrained"
        sha = self.model.metadata.get("sha256", "") if self.model else ""
        version = f"{model}+{sha}/{self.encoder.name}" if sha else f"{model}/{self.encoder.name}"
        return f"{version}/{self.goal_reader.version}" if self._reads_goals(self.model) else version

    def _reads_goals(self, model: TrainedModel | None) -> bool:
        return self.goal_reader is not None and model is not None and model.reader_status is not None

    # -- analysis: everything that does not need the trained heads ---------------------

    def analyse_many(self, texts: Sequence[str]) -> list[AnalysedNote]:
        """Segments, context, embeddings and rubric similarity, with one encoder pass for all notes."""
        texts = [check_note_text(t, self.max_note_chars) for t in texts]
        segmented = [self.segmenter.segment(t) for t in texts]
        contexts = [_with_plan_as_hypothetical(segs, self.context.assess_spans(t, [(s.start, s.end) for s in segs]))
                    for t, segs in zip(texts, segmented)]
        flat = [_embedding_input(s.text) for segs in segmented for s in segs]
        vectors = self.encoder.inner.encode(flat) if flat else np.zeros((0, self.encoder.dimension), np.float32)
        notes, offset = [], 0
        for text, segs, ctx in zip(texts, segmented, contexts):
            note_vectors = vectors[offset: offset + len(segs)]
            offset += len(segs)
            notes.append(AnalysedNote(text=text, segments=segs, contexts=list(ctx), vectors=note_vectors,
                                      anchors=self.anchors.score(note_vectors), lexicon=self.lexicon))
        return notes

    def goal_views(self, plan: Plan) -> list[GoalView]:
        vectors = self.encoder.encode([_embedding_input(g.text) for g in plan.goals])
        return [GoalView(goal=g, vector=v, words=content_words(g.text), ongoing=is_ongoing_goal(g.text),
                         family=concerns_family(g.text), reduces_problem=reduces_problem(g.text))
                for g, v in zip(plan.goals, vectors)]

    # -- scoring ------------------------------------------------------------------------

    def score(self, note: Note | str, plan: Plan) -> NoteResult:
        return self.score_many([(note, plan)])[0]

    def score_many(self, items: Sequence[tuple[Note | str, Plan]]) -> list[NoteResult]:
        return [scored.result for scored in self.read_many(items)]

    def read_many(self, items: Sequence[tuple[Note | str, Plan]]) -> list[ScoredNote]:
        """`score_many`, keeping each note's segment contexts and embeddings."""
        notes = [Note(text=n) if isinstance(n, str) else n for n, _ in items]
        analysed = self.analyse_many([n.text for n in notes])
        return [ScoredNote(self._result(note, plan, analysis), analysis.contexts, analysis.vectors)
                for note, (_, plan), analysis in zip(notes, items, analysed)]

    def embed_query(self, text: str) -> np.ndarray:
        """A search query as a unit vector in the segments' space."""
        return self.encoder.inner.encode([_embedding_input(check_note_text(text, self.max_note_chars))])[0]

    def _result(self, note: Note, plan: Plan, analysis: AnalysedNote) -> NoteResult:
        model = self._require_model()
        return self.decide(note, analysis, self.head_outputs(analysis, plan), NoteHeads.of(model),
                           model.thresholds, model.calibrators)

    def head_outputs(self, analysis: AnalysedNote, plan: Plan, model: TrainedModel | None = None,
                     goal_reader=None) -> HeadOutputs:
        """Every trained head's output for one note and plan: what the decisions are made from.
        `goal_reader` reads in place of the pipeline's own (training reads with fold readers)."""
        model = model or self._require_model()
        goal_reader = goal_reader or self.goal_reader
        segment_matrix = segment_features(analysis)
        views = self.goal_views(plan)
        levels = np.zeros((len(DOMAINS), len(analysis.segments), len(_LEVELS)))
        if analysis.segments:  # a level never seen in training keeps probability 0
            for k in range(len(DOMAINS)):
                levels[k] = in_order(model.level.predict_proba(level_features(analysis, k)), model.level.classes,
                                     _LEVELS)
        domain_probs = model.domain.predict_proba(segment_matrix)
        domains = DomainEvidence(
            probs=domain_probs, levels=levels,
            usable=np.array([speaks_of_current_state(c) for c in analysis.contexts], dtype=bool),
            keyword_hits=analysis.keyword_hits, anchor=analysis.anchors.by_domain,
            plan_domains=frozenset(DOMAINS.index(g.domain) for g in plan.goals),
        )
        flags = FlagEvidence.build(model.flag.predict_proba(segment_matrix), analysis.flag_cue_hits,
                                   analysis.contexts, analysis.segments)
        goals = [(view, self._goal_evidence(analysis, view, model, domain_probs)) for view in views]
        if goal_reader is not None:
            goals = _with_reading(goal_reader, analysis, goals, model.thresholds.relevance)
        return HeadOutputs(goals=goals, domains=domains, flags=flags)

    def decide(self, note: Note, analysis: AnalysedNote, outputs: HeadOutputs, note_heads: NoteHeads,
               thresholds: Thresholds, calibrators: dict) -> NoteResult:
        goals = [decide_goal(view.goal.goal_id, evidence, analysis.segments, note_heads.status, thresholds,
                             calibrators.get("goal"), note_heads.reader_status) for view, evidence in outputs.goals]
        domains = decide_domains(outputs.domains, analysis.segments, note_heads.domain_note, thresholds,
                                 calibrators.get("domain"))
        flags = decide_flags(outputs.flags, analysis.segments, note_heads.flag_note, thresholds,
                             {f.type: f.severity for f in self.rubric.flags}, calibrators.get("flag"))
        return NoteResult(
            note_id=note.note_id, goals=tuple(goals), domains=tuple(domains), flags=tuple(flags),
            segments=tuple(analysis.segments), model_version=self.model_version,
            rubric_name=self.rubric.name, rubric_version=self.rubric.version,
            rubric_hash=self.rubric.content_hash,
        )

    def _goal_evidence(self, analysis: AnalysedNote, view: GoalView, model: TrainedModel,
                       domain_probs: np.ndarray) -> GoalEvidence:
        cosines = cosine_matrix(analysis.vectors, view.vector[None, :])[:, 0]
        relevance = model.relevance.predict_proba(relevance_features(analysis, view, cosines))
        direction = model.direction.predict_proba(direction_features(analysis, view, cosines))
        shape = goal_shape(analysis, view)
        return GoalEvidence(
            relevance=relevance[:, 1] if relevance.size else np.zeros(0),
            direction=in_order(direction, model.direction.classes, DIRECTIONS),
            asserted=np.array([_asserted_for(view, c) for c in analysis.contexts], dtype=bool),
            action_done=shape[:, 0], short_of_target=shape[:, 3],
            in_plan=np.array([s.section == "plan" for s in analysis.segments], dtype=bool),
            in_domain=domain_probs[:, view.domain_index] if domain_probs.size else np.zeros(0),
            ongoing=view.ongoing, family=view.family, counts=shape[:, GOAL_SHAPE_COUNTS],
        )

    def _require_model(self) -> TrainedModel:
        if self.model is None:
            raise ModelError("this pipeline has no trained heads; run `casenotes train`")
        return self.model


def _check_model_matches(model: TrainedModel | None) -> None:
    expected = feature_signature()
    if model is not None and model.metadata.get("features") != expected:
        raise ModelError(f"the model {model.version} was trained for features "
                         f"{model.metadata.get('features')!r}, this code computes {expected!r}; run `casenotes train`")


def _with_reading(goal_reader, analysis: AnalysedNote, goals: list[tuple[GoalView, GoalEvidence]],
                  relevant: float) -> list[tuple[GoalView, GoalEvidence]]:
    """The goal reader's probabilities beside the heads' evidence: it reads, per goal, only the
    segments nearest the goal by embedding (its artifact's `prefilter_k`) and those the
    relevance head finds `relevant`, so a plain sentence the embedding ranks third is read."""
    views = [view for view, _ in goals]
    k = goal_reader.config.prefilter_k
    candidates = None
    if k and len(analysis.segments) > k:
        similarity = cosine_matrix(analysis.vectors, np.array([v.vector for v in views]))
        candidates = [sorted({int(i) for i in np.argsort(-similarity[:, g], kind="stable")[:k]}
                             | {int(i) for i in np.flatnonzero(evidence.relevance >= relevant)})
                      for g, (_, evidence) in enumerate(goals)]
    probs = goal_reader.read_note(analysis.segments, [v.goal.text for v in views], candidates)
    return [(view, replace(evidence, reader=p, reader_gated=~evidence.asserted))
            for (view, evidence), p in zip(goals, probs)]


def _check_reader_matches(model: TrainedModel | None, goal_reader) -> None:
    if model is None or goal_reader is None or model.reader_status is None:
        return
    if model.goal_reader != goal_reader.version:
        raise ModelError(f"the model {model.version} was fitted to the goal reader {model.goal_reader}, "
                         f"not {goal_reader.version}; run `casenotes train`")


def _reader_for(model: TrainedModel, encoder):
    """The packaged goal reader when the model was fitted to one (and it is not switched off)."""
    if model.reader_status is None:
        return None
    from casenotes.reading.goal_reader import load_goal_reader

    return load_goal_reader(encoder=encoder)


def _asserted_for(view: GoalView, context) -> bool:
    """News about the client's children counts for a goal that concerns them, and for a goal
    that brings a problem down the client's present denial of the problem is evidence
    ("denies any alcohol use since last contact")."""
    if view.family and context.other_experiencer:
        return not (context.negated or context.hypothetical or context.historical)
    if view.reduces_problem and context.negated:
        return not (context.hypothetical or context.historical or context.other_experiencer)
    return context.asserted


def _with_plan_as_hypothetical(segments, contexts):
    """What a Plan section says is intended, not done."""
    return [c.model_copy(update={"hypothetical": True}) if s.section == "plan" else c
            for s, c in zip(segments, contexts)]


def _embedding_input(text: str) -> str:
    return expand_shorthand(_CONTROL.sub(" ", text))
