"""Trained heads survive the JSON round trip and match scikit-learn's probabilities."""

import numpy as np
from sklearn.linear_model import LogisticRegression

from casenotes.reading.heads import LinearHead, fit_calibrator, fit_head


def test_heads_softmax_matches_sklearn_after_json_round_trip():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6))
    y = np.array(["a", "b", "c"])[(x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 1)]
    head = LinearHead.from_json(fit_head(x, y, regularization=0.5).to_json())
    scaled = (x - x.mean(axis=0)) / x.std(axis=0)
    reference = LogisticRegression(C=0.5, max_iter=2000, class_weight="balanced").fit(scaled, y)
    np.testing.assert_allclose(head.predict_proba(x), reference.predict_proba(scaled), atol=1e-4)


def test_heads_binary_head_scores_the_positive_class_second():
    x = np.array([[0.0], [0.1], [0.9], [1.0]] * 10)
    y = np.array(["0", "0", "1", "1"] * 10)
    probabilities = fit_head(x, y).predict_proba(np.array([[0.0], [1.0]]))
    assert probabilities[0, 1] < 0.5 < probabilities[1, 1]


def test_heads_one_vs_rest_handles_a_class_never_seen():
    x = np.random.default_rng(1).normal(size=(50, 3))
    y = np.column_stack([(x[:, 0] > 0).astype(int), np.zeros(50, dtype=int)])
    probabilities = fit_head(x, y, kind="one-vs-rest", classes=["seen", "unseen"]).predict_proba(x)
    assert probabilities[:, 1].max() < 0.01


def test_heads_calibrator_is_monotone_and_bounded():
    raw = np.linspace(0, 1, 200)
    right = raw > 0.6
    calibrator = fit_calibrator(raw.tolist(), right.tolist())
    values = [calibrator(v) for v in (0.0, 0.3, 0.61, 0.9, 1.0)]
    assert values == sorted(values) and all(0.0 <= v <= 1.0 for v in values)


def test_a_head_fitted_on_one_label_gives_that_label_over_all_its_classes():
    features = np.random.default_rng(0).normal(size=(6, 3))
    head = fit_head(features, ["0"] * 6, classes=("0", "1"))
    probs = head.predict_proba(features)
    assert head.classes == ("0", "1")
    assert (probs[:, 0] > 0.99).all() and np.allclose(probs.sum(axis=1), 1.0)
