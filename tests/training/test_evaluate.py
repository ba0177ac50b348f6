"""The harness's metrics agree with ../shared/tools/eval_check.py on the same predictions."""

import random

import pytest

from casenotes.schema import DOMAINS, FLAG_TYPES, STATUSES
from casenotes.training.metrics import score_predictions, spans_hit

SCALARS = ["cases", "missing_predictions", "goal_status_macro_f1", "goal_status_accuracy",
           "citation_precision", "citation_recall", "citation_f1", "domain_f1", "domain_level_mae",
           "domain_level_within1", "flag_precision", "flag_recall", "flag_f1"]


def random_spans(rng, text):
    spans = []
    for _ in range(rng.randint(0, 3)):
        start = rng.randrange(0, max(1, len(text)))
        spans.append([start, min(len(text), start + rng.randint(1, 120))])
    return spans


def random_prediction(rng, case):
    text = case["note_text"]
    gold = case["labels"]
    goals = {}
    for goal_id, label in gold["goals"].items():
        if rng.random() < 0.5:  # often right, to exercise hits as well as misses
            spans = [[text.find(q), text.find(q) + len(q)] for q in label["evidence"]]
            goals[goal_id] = {"status": label["status"], "confidence": 0.9, "citations": spans}
        elif rng.random() < 0.8:
            goals[goal_id] = {"status": rng.choice(STATUSES), "confidence": 0.5,
                              "citations": random_spans(rng, text)}
    domains = {d: {"level": rng.randint(1, 5), "citations": random_spans(rng, text)}
               for d in rng.sample(DOMAINS, rng.randint(0, 4))}
    for domain, label in gold.get("domains", {}).items():
        if rng.random() < 0.5:
            domains[domain] = {"level": label["level"], "citations": [[text.find(label["evidence"][0]),
                                                                       text.find(label["evidence"][0]) + 5]]}
    flags = [{"type": t, "citations": random_spans(rng, text)} for t in rng.sample(FLAG_TYPES, rng.randint(0, 2))]
    return {"id": case["id"], "goals": goals, "domains": domains, "flags": flags}


@pytest.mark.parametrize("seed", range(5))
def test_evaluate_agrees_with_eval_check_on_random_predictions(eval_check, test_split, seed):
    rng = random.Random(seed)
    predictions = [random_prediction(rng, c) for c in test_split if rng.random() > 0.05]
    ours = score_predictions(test_split, predictions)
    theirs = eval_check.score(test_split, predictions)
    for key in SCALARS:
        assert ours[key] == pytest.approx(theirs[key]), key
    assert ours["flag_recall_by_type"] == pytest.approx(theirs["flag_recall_by_type"])
    for status in STATUSES:
        assert ours["per_status"][status] == pytest.approx(theirs["per_status"][status])


@pytest.mark.parametrize("a, b, expected", [
    ((0, 10), (5, 10), True), ((0, 10), (6, 30), False), ((0, 10), (0, 0), False), ((10, 20), (0, 15), True),
])
def test_evaluate_span_hit_rule(a, b, expected):
    assert spans_hit(a, b) is expected


def perfect_prediction(case):
    text = case["note_text"]
    span = lambda quote: [text.find(quote), text.find(quote) + len(quote)]  # noqa: E731
    labels = case["labels"]
    return {"id": case["id"],
            "goals": {g: {"status": label["status"], "citations": [span(q) for q in label["evidence"]]}
                      for g, label in labels["goals"].items()},
            "domains": {d: {"level": label["level"], "citations": [span(q) for q in label["evidence"]]}
                        for d, label in labels.get("domains", {}).items()},
            "flags": [{"type": f["type"], "citations": [span(q) for q in f["evidence"]]} for f in labels.get("flags", [])]}


def test_evaluate_metrics_by_writer_score_each_writer_alone(test_split):
    from casenotes.training.harness import UNNAMED_WRITER, metrics_by_writer

    cases = [dict(case, writer="steady" if i % 2 else "other") for i, case in enumerate(test_split[:20])]
    cases[0] = {k: v for k, v in cases[0].items() if k != "writer"}
    predictions = [perfect_prediction(c) if c.get("writer") == "steady" else
                   {"id": c["id"], "goals": {g: {"status": "worsening" if label["status"] != "worsening" else "achieved",
                                                 "citations": []} for g, label in c["labels"]["goals"].items()},
                    "domains": {}, "flags": []}
                   for c in cases]
    by_writer = metrics_by_writer(cases, {"casenotes": predictions})
    assert set(by_writer) == {"steady", "other", UNNAMED_WRITER}
    assert sum(m["casenotes"]["cases"] for m in by_writer.values()) == len(cases)
    assert by_writer["steady"]["casenotes"]["goal_status_macro_f1"] == pytest.approx(1.0)
    assert by_writer["other"]["casenotes"]["goal_status_accuracy"] == 0.0
