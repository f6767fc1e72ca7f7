"""TTClassifier: learning a problem no linear model can, probabilities, labels, errors."""

import pickle

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import ttfit

SMALL = dict(rank=2, basis="legendre:4", max_iter=30)


def xor(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    return X, (X[:, 0] * X[:, 1] > 0).astype(int)


def quadrants(n, seed):
    """Three string classes from the signs of x1 and x2 (XOR-like: not linearly separable)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 3))
    q = (X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0)
    return X, np.array(["low", "mid", "mid", "high"])[q]


def test_xor_where_a_linear_model_cannot():
    X, y = xor(400, 0)
    Xt, yt = xor(2000, 1)
    linear = LogisticRegression().fit(X, y).score(Xt, yt)
    est = ttfit.TTClassifier(**SMALL).fit(X, y)
    acc = est.score(Xt, yt)
    # x1 x2 is a rank-1 product of degree-1 Legendre features: the logit c x1 x2 separates the
    # classes exactly (measured test accuracy ~0.99); a linear logit is at chance (~0.5)
    assert linear < 0.65
    assert acc > 0.95, acc
    assert est.training_info_["classification"]["loss"] == "logistic"
    assert est.training_info_["classification"]["train_accuracy"] == pytest.approx(
        est.score(X, y), abs=1e-12
    )
    assert est.history_["train_loss"][-1] < 0.5 * est.history_["train_loss"][0]
    np.testing.assert_array_equal(est.classes_, [0, 1])


def test_binary_probabilities_are_the_sigmoid_of_the_logit():
    X, y = xor(300, 2)
    est = ttfit.TTClassifier(**SMALL).fit(X, np.where(y == 1, "yes", "no"))
    Xt, _ = xor(100, 3)
    z = est.decision_function(Xt)
    p = est.predict_proba(Xt)
    assert z.shape == (100,) and p.shape == (100, 2)
    # separable data: the logits grow large (|z| ~ 1e3), exp(-z) overflows to the limit 0/1
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(p[:, 1], 1 / (1 + np.exp(-z)), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=0, atol=1e-15)
    # classes_ is sorted: "no" < "yes", and a positive logit means classes_[1]
    np.testing.assert_array_equal(est.classes_, ["no", "yes"])
    np.testing.assert_array_equal(est.predict(Xt), np.where(z > 0, "yes", "no"))
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(est.predict_log_proba(Xt), np.log(p), rtol=1e-12)


def test_softmax_string_labels():
    X, y = quadrants(600, 4)
    Xt, yt = quadrants(1000, 5)
    est = ttfit.TTClassifier(rank=2, basis="legendre:4", max_iter=40).fit(X, y)
    np.testing.assert_array_equal(est.classes_, ["high", "low", "mid"])
    assert est.training_info_["classification"]["loss"] == "softmax"
    assert est.training_info_["classification"]["classes"] == 3
    assert est.model_.kind == "classifier" and est.model_.n_classes == 3
    p = est.predict_proba(Xt)
    assert p.shape == (1000, 3) and np.all(p >= 0)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=0, atol=1e-14)
    z = est.decision_function(Xt)
    assert z.shape == (1000, 3)
    # softmax of the logits, computed here independently of the Rust side
    e = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(p, e / e.sum(1, keepdims=True), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(est.predict(Xt), est.classes_[np.argmax(z, 1)])
    # "mid" is the XOR part (opposite signs of x1 and x2), which a linear model misses:
    # measured test accuracy TT 0.975, LogisticRegression 0.817
    assert LogisticRegression().fit(X, y).score(Xt, yt) < 0.85
    assert est.score(Xt, yt) > 0.93


def test_weights_equal_repeats():
    X, y = xor(300, 6)
    w = np.random.default_rng(7).integers(1, 4, size=300)
    kw = dict(SMALL, max_iter=10, domain=[(-1.1, 1.1)] * 2)
    Xt, _ = xor(50, 8)
    a = ttfit.TTClassifier(**kw).fit(X, y, sample_weight=w.astype(float)).predict_proba(Xt)
    b = ttfit.TTClassifier(**kw).fit(np.repeat(X, w, 0), np.repeat(y, w)).predict_proba(Xt)
    np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)
    c = ttfit.TTClassifier(**kw).fit(X, y).predict_proba(Xt)
    assert np.max(np.abs(a - c)) > 1e-6  # the weights do change the fit


def test_pickle_round_trip():
    X, y = quadrants(200, 9)
    est = ttfit.TTClassifier(rank=2, basis="legendre:3", max_iter=5).fit(X, y)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(back.classes_, est.classes_)
    assert back.get_params() == est.get_params()
    m = pickle.loads(pickle.dumps(est.model_))
    assert m.kind == "classifier" and m.n_classes == 3


@pytest.mark.parametrize(
    "y, message",
    [
        (np.ones(40), "at least two classes; y has only one class, 1"),
        (np.r_[np.zeros(39), np.nan], "NaN"),
        (np.linspace(0, 1, 40), "Unknown label type"),
        (np.zeros((40, 2)), "y"),
    ],
)
def test_bad_labels(y, message):
    X = np.random.default_rng(0).uniform(-1, 1, (40, 2))
    with pytest.raises(ValueError, match=message):
        ttfit.TTClassifier(max_iter=2).fit(X, y)


def test_bad_input():
    X, y = xor(40, 10)
    est = ttfit.TTClassifier(rank=2, basis="legendre:3", max_iter=2)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        est.fit(X, y[:-1])
    with pytest.raises(ValueError, match="2D array"):
        est.fit(X[:, 0], y)
    w = np.where(y == 1, 0.0, 1.0)
    with pytest.raises(ValueError, match="two classes with positive sample_weight"):
        est.fit(X, y, sample_weight=w)
    with pytest.raises(TypeError, match="validation_fraction"):
        ttfit.TTClassifier(validation_fraction=0.2)  # not a classifier parameter
    with pytest.raises(ValueError, match="basis"):
        ttfit.TTClassifier(basis="legendre:0").fit(X, y)
    est.fit(X, y)
    with pytest.raises(ValueError, match="2 features"):
        est.predict_proba(X[:, :1])
    with pytest.raises(ValueError, match="needs a regression model.*predict_proba"):
        est.model_.predict(X)
    with pytest.raises(ValueError, match="needs a density model"):
        est.model_.sample(3)
    # the Rust entry point refuses what the estimator would not pass
    with pytest.raises(ValueError, match="label 2 is not a class"):
        ttfit._ttfit.fit_classifier(X, np.r_[y[:-1], 2].astype(float), 2)
    with pytest.raises(ValueError, match="at least two classes"):
        ttfit._ttfit.fit_classifier(X, np.zeros(40), 1)
    with pytest.raises(ValueError, match="last class index 2"):
        ttfit._ttfit.fit_classifier(X, y.astype(float), 3)
