"""TTDensity: exact normalization by quadrature, sampling moments, scoring, pickling, errors."""

import pickle

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import ttfit

BOX = [(0.0, 1.0), (0.0, 1.0)]


def banana(n, seed):
    """Samples on [0, 1]^2 with a curved ridge: x1 ~ Beta(2, 2), x2 | x1 ~ N(x1^2, 0.1^2)
    mapped into the box (rejection of the few outside)."""
    rng = np.random.default_rng(seed)
    out = np.empty((0, 2))
    while len(out) < n:
        a = rng.beta(2, 2, n)
        b = a**2 + 0.1 * rng.standard_normal(n) + 0.1
        keep = (b > 0) & (b < 1)
        out = np.vstack([out, np.c_[a, b][keep]])
    return out[:n]


def gauss_legendre_box(m, box):
    """Tensor Gauss-Legendre nodes and weights on a 2-d box (exact for degree < 2m)."""
    z, w = np.polynomial.legendre.leggauss(m)
    (a, b), (c, d) = box
    x = 0.5 * (b - a) * (z + 1) + a
    y = 0.5 * (d - c) * (z + 1) + c
    X, Y = np.meshgrid(x, y, indexing="ij")
    W = np.outer(0.5 * (b - a) * w, 0.5 * (d - c) * w)
    return np.c_[X.ravel(), Y.ravel()], W.ravel()


@pytest.fixture(scope="module")
def fitted():
    X = banana(3000, 0)
    est = ttfit.TTDensity(rank=3, basis="legendre:6", max_iter=40, domain=BOX).fit(X)
    return est, X


def test_density_integrates_to_one(fitted):
    est, X = fitted
    # p = psi^2 on the box, psi a polynomial of degree 5 per variable: p has degree 10, and
    # 8 Gauss-Legendre nodes per variable integrate it exactly; 30 nodes agree
    for m in (8, 30):
        nodes, w = gauss_legendre_box(m, BOX)
        total = np.sum(w * np.exp(est.score_samples(nodes)))
        assert total == pytest.approx(1.0, abs=1e-12)
    assert abs(est.history_["norm_error"][-1]) < 1e-12
    # a learned density, not the uniform start: the held-out likelihood improved
    h = est.history_
    assert h["validation_nll"][est.best_iteration_] < h["validation_nll"][0] - 0.3
    # outside the box the density is 0
    assert est.score_samples(np.array([[1.5, 0.5], [0.5, -0.1]])).tolist() == [-np.inf] * 2


def test_samples_match_the_density_moments(fitted):
    est, X = fitted
    nodes, w = gauss_legendre_box(30, BOX)
    p = w * np.exp(est.score_samples(nodes))
    mean = p @ nodes
    cov = (nodes - mean).T @ (p[:, None] * (nodes - mean))
    n = 20000
    S = est.sample(n, random_state=1)
    assert S.shape == (n, 2) and np.all((S >= 0) & (S <= 1))
    se = np.sqrt(np.diag(cov) / n)
    # sample means within 4 standard errors of the exact means (fixed seed: deterministic)
    assert np.all(np.abs(S.mean(0) - mean) < 4 * se), (S.mean(0), mean, se)
    np.testing.assert_allclose(np.cov(S.T), cov, rtol=0.05, atol=2e-4)
    corr = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
    assert np.corrcoef(S.T)[0, 1] == pytest.approx(corr, abs=0.02)
    # the density's moments are those of the data it was fitted to, up to the model's bias:
    # a degree-5 psi of rank 3 smooths the narrow ridge (std 0.1), measured correlation 0.74
    # against the data's 0.88 (the uniform start has 0); means and variances agree closely
    np.testing.assert_allclose(mean, X.mean(0), atol=0.01)
    np.testing.assert_allclose(np.diag(cov), np.var(X, 0), rtol=0.1)
    assert 0.6 < corr < np.corrcoef(X.T)[0, 1]


def test_score_is_the_mean_log_likelihood(fitted):
    est, X = fitted
    assert est.score(X[:100]) == pytest.approx(np.mean(est.score_samples(X[:100])), rel=1e-14)
    d, logd, outside = est.model_.density(X[:10])
    np.testing.assert_allclose(np.log(d), logd, rtol=1e-14)
    assert outside == 0
    # the recorded training NLL is the mean -log p of the training part
    assert -est.score(X) == pytest.approx(est.training_info_["train_error"], abs=0.05)


def test_sampling_is_seeded(fitted):
    est, _ = fitted
    np.testing.assert_array_equal(est.sample(5, random_state=3), est.sample(5, random_state=3))
    assert not np.array_equal(est.sample(5, random_state=3), est.sample(5, random_state=4))


def test_pickle_round_trip(fitted):
    est, X = fitted
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.score_samples(X[:50]), est.score_samples(X[:50]))
    np.testing.assert_array_equal(back.sample(10, random_state=2), est.sample(10, random_state=2))
    assert back.model_.kind == "density"
    assert b'"model": "density"' in est.model_.to_bytes()


def test_without_validation_the_last_iterate():
    X = banana(500, 3)
    est = ttfit.TTDensity(rank=2, basis="legendre:4", max_iter=5, validation_fraction=0).fit(X)
    assert np.all(np.isnan(est.history_["validation_nll"]))
    assert est.best_iteration_ == est.n_iter_
    assert est.training_info_["n_train"] == 500


def test_errors():
    X = banana(200, 4)
    with pytest.raises(NotFittedError):
        ttfit.TTDensity().score_samples(X)
    with pytest.raises(ValueError, match="row 1: x1 = 0.* lies outside the domain"):
        ttfit.TTDensity(domain=[(0.5, 1.0), (0.0, 1.0)], max_iter=2).fit(
            np.vstack([[0.1, 0.5], X])
        )
    with pytest.raises(ValueError, match="not a density optimizer"):
        ttfit.TTDensity(optimizer="als").fit(X)
    with pytest.raises(ValueError, match="NaN"):
        ttfit.TTDensity().fit(np.vstack([X, [np.nan, 0.5]]))
    with pytest.raises(ValueError, match="validation_fraction"):
        ttfit.TTDensity(validation_fraction=1.5).fit(X)
    with pytest.raises(ValueError, match="rank"):
        ttfit.TTDensity(rank=[2, 2]).fit(X)
    with pytest.raises(ValueError, match="domain"):
        ttfit.TTDensity(domain=[(0, 1)]).fit(X)
    with pytest.raises(ValueError, match="unknown name 'beta'"):
        ttfit._ttfit.fit_density(X, params={"beta": 0.5})
    # the library checks what scikit-learn's validation would catch first
    bad = X.copy()
    bad[7, 1] = np.inf
    with pytest.raises(ValueError, match="row 8.*x2 = inf is not finite"):
        ttfit._ttfit.fit_density(bad)
    with pytest.raises(ValueError, match="0 rows"):
        ttfit._ttfit.fit_density(np.zeros((0, 2)))
    est = ttfit.TTDensity(rank=2, basis="legendre:3", max_iter=2).fit(X)
    with pytest.raises(ValueError, match="n_samples"):
        est.sample(0)
    with pytest.raises(ValueError, match="2 features"):
        est.score_samples(X[:, :1])
    with pytest.raises(ValueError, match="needs a classifier model"):
        est.model_.predict_proba(X)
    with pytest.raises(ValueError, match="bounded|interval|hermite"):
        ttfit.TTDensity(basis="hermite:4", max_iter=2).fit(X).sample(3)
