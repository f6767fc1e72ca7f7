"""ttfit.TensorTrain and ttfit.TangentSpace against dense numpy references."""

import numpy as np
import pytest

import ttfit


def dense(tt):
    """The full tensor from the cores by numpy contractions (independent of Rust's to_dense)."""
    out = np.ones((1, 1))
    for core in tt.cores:
        r0, n, r1 = core.shape
        out = (out @ core.reshape(r0, n * r1)).reshape(-1, r1)
    return out.reshape(tt.mode_sizes)


@pytest.fixture
def x():
    return ttfit.TensorTrain.random([3, 4, 3, 2], [2, 3, 2], seed=11)


def test_cores_are_read_only_views(x):
    cores = x.cores
    assert [c.shape for c in cores] == [(1, 3, 2), (2, 4, 3), (3, 3, 2), (2, 2, 1)]
    assert not cores[1].flags.writeable
    assert cores[1].base is not None  # a view of the Rust memory, no copy
    assert x.ranks == [1, 2, 3, 2, 1] and x.mode_sizes == [3, 4, 3, 2] and x.order == 4


def test_evaluate_norm_dot_match_dense(x):
    full = dense(x)
    np.testing.assert_allclose(x.full(), full, rtol=1e-13, atol=1e-15)
    idx = np.array([[0, 1, 2, 1], [2, 3, 0, 0], [1, 0, 1, 1]])
    np.testing.assert_allclose(x.evaluate(idx), full[tuple(idx.T)], rtol=1e-13)
    assert x.evaluate([2, 3, 0, 0]) == pytest.approx(full[2, 3, 0, 0], rel=1e-13)
    y = ttfit.TensorTrain.random([3, 4, 3, 2], [1, 2, 2], seed=5)
    assert x.norm() == pytest.approx(np.linalg.norm(full), rel=1e-12)
    assert x.dot(y) == pytest.approx(np.sum(full * dense(y)), rel=1e-12)
    np.testing.assert_allclose(dense(x + y), full + dense(y), atol=1e-13)
    np.testing.assert_allclose(dense(x - 2.0 * y), full - 2 * dense(y), atol=1e-13)


def test_evaluate_features_is_the_contraction(x):
    rng = np.random.default_rng(2)
    feats = [rng.standard_normal((7, n)) for n in x.mode_sizes]
    expect = np.einsum("abcd,sa,sb,sc,sd->s", dense(x), *feats)
    np.testing.assert_allclose(x.evaluate_features(feats), expect, rtol=1e-12)


def test_round_and_tt_svd(x):
    doubled = x + x  # ranks 4, 6, 4: rounding recovers ranks 2, 3, 2
    r = doubled.round(rel_tol=1e-12)
    assert r.ranks == x.ranks
    np.testing.assert_allclose(dense(r), 2 * dense(x), atol=1e-12)
    capped = doubled.round(max_rank=1)
    assert max(capped.ranks) == 1
    # quasi-optimality: the error is at most sqrt(d - 1) times the best rank-1 error per bond
    assert np.linalg.norm(dense(capped) - 2 * dense(x)) <= np.sqrt(3) * np.linalg.norm(2 * dense(x))
    t = ttfit.TensorTrain.from_dense(dense(x), rel_tol=1e-12)
    assert t.ranks == x.ranks
    np.testing.assert_allclose(dense(t), dense(x), atol=1e-12)


def test_tangent_space_against_dense_basis(x):
    ts = ttfit.TangentSpace(x)
    D = ts.dim
    r, n = x.ranks, x.mode_sizes
    assert D == sum(r[k] * n[k] * r[k + 1] for k in range(4)) - sum(q * q for q in r[1:-1])
    # the basis E_X from the TTs of the coordinate vectors: orthonormal
    E = np.stack([dense(ts.to_tt(np.eye(D)[j])).ravel() for j in range(D)], axis=1)
    np.testing.assert_allclose(E.T @ E, np.eye(D), atol=1e-12)
    # projection of a TT of other ranks = E E^T vec(Z), computed densely
    z = ttfit.TensorTrain.random(n, [2, 2, 2], seed=3)
    c = ts.project(z)
    np.testing.assert_allclose(c, E.T @ dense(z).ravel(), atol=1e-12)
    # X lies in its own tangent space
    np.testing.assert_allclose(E @ ts.project(x), dense(x).ravel(), atol=1e-12)
    # the sample Jacobian is E^T applied to the rank-one feature tensors
    rng = np.random.default_rng(4)
    feats = [rng.standard_normal((5, m)) for m in n]
    J = ts.jacobian(feats)
    rank_one = np.einsum("sa,sb,sc,sd->sabcd", *feats).reshape(5, -1)
    np.testing.assert_allclose(J, rank_one @ E, atol=1e-12)


def test_retraction_is_second_order(x):
    ts = ttfit.TangentSpace(x)
    rng = np.random.default_rng(6)
    c = rng.standard_normal(ts.dim)
    c /= np.linalg.norm(c)
    np.testing.assert_allclose(dense(ts.retract(c, t=0.0)), dense(x), atol=1e-12)
    xi = dense(ts.to_tt(c))
    errs = []
    for t in (1e-1, 1e-2):
        y = ts.retract(c, t=t)
        assert y.ranks == x.ranks
        errs.append(np.linalg.norm(dense(y) - dense(x) - t * xi))
    # ||R_X(t xi) - (X + t xi)|| = O(t^2): a tenfold smaller t shrinks it ~100 times
    assert errs[1] < errs[0] / 30


def test_transport_to_the_same_point_is_identity(x):
    ts = ttfit.TangentSpace(x)
    c = np.random.default_rng(1).standard_normal(ts.dim)
    np.testing.assert_allclose(ts.transport(ts, c), c, atol=1e-12)
    other = ttfit.TangentSpace(ts.retract(c, t=0.1))
    moved = other.transport(ts, c)
    assert np.linalg.norm(moved) <= np.linalg.norm(c) * (1 + 1e-12)  # a projection
