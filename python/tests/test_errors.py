"""Bad input raises ValueError carrying a message that names what was wrong."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import ttfit


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (60, 3))
    return X, np.sin(X).sum(1)


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(basis="legendr:8"), "unknown feature family"),
        (dict(basis="legendre:0"), "basis"),
        (dict(optimizer="adam"), "optimizer"),
        (dict(rank=0), "rank"),
        (dict(rank=[2, 2, 2, 2]), "give one rank or d - 1 = 2 bond ranks, got 4"),
        (dict(rank=50), "larger than possible"),
        (dict(rank="four"), "rank"),
        (dict(max_iter=0), "max-iter"),
        (dict(validation_fraction=1.5), "validation"),
        (dict(n_iter_no_change=5), "early stopping needs a validation split"),
        (dict(time_limit=-1.0), "time_limit"),
        (dict(start="zeros"), "not a start"),
        (dict(rank_continuation=1.5), "stall tolerance must lie in"),
        (dict(rank_continuation="yes"), "rank_continuation"),
        (dict(solver="magic"), "solver"),
        (dict(optimizer="als", beta=0.5), "beta"),
        (dict(optimizer="rgd", batch_size=10), "natural-gradient"),
        (dict(domain=[(0.0, 1.0)]), "intervals for 3 input variables"),
        (dict(domain=[(1.0, 0.0)] * 3), "need finite lo < hi"),
        (dict(n_jobs=0), "threads"),
        (dict(random_state=-1), "random_state"),
        (dict(callback=42), "callback"),
        (dict(max_iter="many"), "max_iter"),
    ],
)
def test_bad_hyperparameters(data, params, message):
    X, y = data
    with pytest.raises(ValueError, match=message):
        ttfit.TTRegressor(**params).fit(X, y)


def test_bad_data(data):
    X, y = data
    est = ttfit.TTRegressor(max_iter=2)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.fit(bad, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        est.fit(X, y[:-1])
    with pytest.raises(ValueError, match="sample_weight"):
        est.fit(X, y, sample_weight=np.ones(5))
    with pytest.raises(ValueError, match="weight -1 must be finite and non-negative"):
        w = np.ones(len(y))
        w[7] = -1
        est.fit(X, y, sample_weight=w)
    # scikit-learn 1.9 rejects them itself; 1.6 leaves it to the library
    with pytest.raises(ValueError, match="non-zero|all sample weights are zero"):
        est.fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="all sample weights are zero"):
        ttfit._ttfit.fit(X, y, sample_weight=np.zeros(len(y)))


def test_predict_errors(data):
    X, y = data
    with pytest.raises(NotFittedError):
        ttfit.TTRegressor().predict(X)
    est = ttfit.TTRegressor(max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="3 features"):
        est.predict(X[:, :2])
    with pytest.raises(ValueError, match="3 input variables"):
        est.model_.predict(X[:, :2])
    with pytest.raises(ValueError, match="outside the model domain"):
        est.model_.predict(X * 10, outside="error")
    with pytest.raises(ValueError, match="outside"):
        est.model_.predict(X, outside="wrap")


def test_rust_level_errors_are_value_errors(data):
    X, y = data
    with pytest.raises(ValueError, match="unknown name 'learning_rate'"):
        ttfit._ttfit.fit(X, y, params={"learning_rate": 0.1})
    with pytest.raises(ValueError, match="60 rows but y has 59"):
        ttfit._ttfit.fit(X, y[:-1])
    bad = X.copy()
    bad[2, 0] = np.inf
    with pytest.raises(ValueError, match="row 2.*not finite"):
        ttfit._ttfit.fit(bad, y)
    with pytest.raises(ValueError, match="unknown name"):
        ttfit.compare(X, y, ["als"], learning_rate=0.1)
    with pytest.raises(ValueError, match="both X_test and y_test"):
        ttfit.compare(X, y, ["als"], X_test=X)
    with pytest.raises(ValueError, match="optimizer"):
        ttfit.compare(X, y, ["als", "sgd"])
    with pytest.raises(ValueError, match="function"):
        ttfit.sample_function("no-such-function", 10)


def test_tensor_errors():
    with pytest.raises(ValueError):
        ttfit.TensorTrain([np.ones((1, 2, 2)), np.ones((3, 2, 1))])
    tt = ttfit.TensorTrain.random([3, 3], [2])
    with pytest.raises(ValueError, match="non-negative"):
        tt.evaluate([[-1, 0]])
    with pytest.raises(ValueError):
        tt.evaluate([[5, 0]])
    with pytest.raises(ValueError, match="rel_tol"):
        tt.round(rel_tol=-1.0)
    with pytest.raises(ValueError, match="coordinates"):
        ttfit.TangentSpace(tt).retract(np.zeros(3))
