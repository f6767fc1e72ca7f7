"""TTRegressor behaviour: learning, callbacks, the GIL, interrupts, comparisons, weights."""

import _thread
import threading
import time

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import ttfit


def test_learns_borehole(borehole):
    X, y, Xt, yt = borehole
    est = ttfit.TTRegressor(rank=3, basis="legendre:4", max_iter=30).fit(X, y)
    # borehole is smooth: a rank-3 TT of cubics (~250 coefficients) from 400 samples explains
    # all but ~1e-6 of the test variance (measured 0.9999994); a wrong fit is far below
    assert est.score(Xt, yt) > 0.9999
    h = est.history_
    assert set(h) >= {"iteration", "seconds", "train_loss", "train_error", "test_error"}
    assert len(h["iteration"]) == est.n_iter_ + 1
    assert h["train_error"][-1] < h["train_error"][0]
    assert est.ranks_ == [1] + [3] * 7 + [1] and est.n_features_in_ == 8
    assert est.stop_reason_ == "iteration limit" and est.n_iter_ == 30
    assert est.training_info_["optimizer"] == "ngd-nesterov"
    assert est.training_info_["iterations"] == est.n_iter_


def test_rank_continuation_grows_to_the_rank(borehole):
    X, y, Xt, yt = borehole
    kw = dict(rank=3, basis="legendre:4", max_iter=30, start="additive")
    fixed = ttfit.TTRegressor(**kw).fit(X, y)
    grown = ttfit.TTRegressor(rank_continuation=True, **kw).fit(X, y)
    # the fit starts at rank 2 and ends at the requested rank 3 on every bond, as accurate as
    # the fixed-rank fit of test_learns_borehole (a continuation that lost the fit is far below)
    assert grown.ranks_ == [1] + [3] * 7 + [1]
    assert grown.training_info_["optimizer"].endswith("+rc")
    assert grown.score(Xt, yt) > 0.9999
    # the same computation as `ttfit fit --rank-continuation 0.1`
    explicit = ttfit.TTRegressor(rank_continuation=0.1, **kw).fit(X, y)
    np.testing.assert_array_equal(explicit.predict(Xt), grown.predict(Xt))
    off = ttfit.TTRegressor(rank_continuation=False, **kw).fit(X, y)
    np.testing.assert_array_equal(off.predict(Xt), fixed.predict(Xt))


def test_callback_sees_every_record(borehole):
    X, y, _, _ = borehole
    seen = []
    est = ttfit.TTRegressor(rank=2, basis="legendre:4", max_iter=6, callback=seen.append)
    est.fit(X, y)
    assert [r["iteration"] for r in seen] == list(range(est.n_iter_ + 1))
    np.testing.assert_array_equal([r["train_loss"] for r in seen], est.history_["train_loss"])


def test_callback_exception_stops_the_fit(borehole):
    X, y, _, _ = borehole
    seen = []

    def stop_at_3(record):
        seen.append(record["iteration"])
        if record["iteration"] == 3:
            raise StopIteration("enough")

    with pytest.raises(StopIteration, match="enough"):
        ttfit.TTRegressor(max_iter=50, tol=0.0, callback=stop_at_3).fit(X, y)
    assert seen == [0, 1, 2, 3]


def _long_fit():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (3000, 6))
    y = np.sin(3 * X).sum(1)
    return ttfit.TTRegressor(rank=4, basis="legendre:8", max_iter=100000, tol=0.0), X, y


def test_gil_is_released_during_fit():
    """A Python thread keeps running while another thread fits."""
    est, X, y = _long_fit()
    est.set_params(time_limit=1.0)
    worker = threading.Thread(target=est.fit, args=(X, y))
    stamps = []
    worker.start()
    while worker.is_alive():
        stamps.append(time.perf_counter())
        time.sleep(0.001)
    worker.join()
    assert est.n_iter_ > 1  # the fit ran for about a second
    gaps = np.diff(stamps)
    # with the GIL held the loop would stall for the whole fit; released, it wakes every ~1 ms
    # (a generous bound for a loaded machine; the GIL switch interval alone is 5 ms)
    assert len(stamps) > 50 and gaps.max() < 0.25


def test_ctrl_c_interrupts_a_fit():
    est, X, y = _long_fit()
    est.set_params(time_limit=20.0)  # if the interrupt were ignored, the test fails, not hangs
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    timer.cancel()
    assert time.perf_counter() - t0 < 15  # stopped at the next iteration, not at the limit


def test_compare_returns_histories(borehole):
    X, y, Xt, yt = borehole
    seen = set()
    runs = ttfit.compare(
        X, y, ["als", "rgd", "ngd-nesterov"], X_test=Xt, y_test=yt, rank=2,
        basis="legendre:4", max_iter=4, beta=0.5, callback=lambda r: seen.add(r["optimizer"]),
    )
    assert list(runs) == ["als", "rgd", "ngd-nesterov"] and seen == set(runs)
    starts = set()
    for name, h in runs.items():
        assert h["stop"] == "iteration limit"
        assert isinstance(h["test_error"], np.ndarray) and len(h["test_error"]) == 5
        assert np.all(np.isfinite(h["test_error"]))
        starts.add(h["train_loss"][0])
    assert len(starts) == 1  # the same start point for every optimizer
    # a comparison run and a single fit with the same settings agree
    est = ttfit.TTRegressor(rank=2, basis="legendre:4", max_iter=4, optimizer="als").fit(X, y)
    np.testing.assert_array_equal(runs["als"]["train_loss"], est.history_["train_loss"])


def test_weights_equal_repeats_on_determined_data():
    """Weight k and k copies of a row give the same fit up to rounding when the data determine
    the model (the sklearn check on 15 rows is ill-posed, see test_sklearn_checks.py)."""
    rng = np.random.RandomState(0)
    X = rng.rand(300, 3)
    y = np.sin(X.sum(1))
    w = rng.randint(1, 4, size=300)
    Xr, yr = np.repeat(X, w, axis=0), np.repeat(y, w)
    kw = dict(rank=2, basis="legendre:4", max_iter=10, domain=[(-0.1, 1.1)] * 3)
    Xt = rng.rand(50, 3)
    a = ttfit.TTRegressor(**kw).fit(X, y, sample_weight=w.astype(float)).predict(Xt)
    b = ttfit.TTRegressor(**kw).fit(Xr, yr).predict(Xt)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    c = ttfit.TTRegressor(**kw).fit(X, y).predict(Xt)
    assert np.max(np.abs(a - c)) > 1e-8  # the weights do change the fit


def test_pipeline_and_grid_search(borehole):
    X, y, Xt, yt = borehole
    grid = GridSearchCV(
        make_pipeline(StandardScaler(), ttfit.TTRegressor(basis="legendre:4", max_iter=5)),
        {"ttregressor__rank": [1, 2]}, cv=2,
    ).fit(X, y)
    assert grid.best_params_["ttregressor__rank"] in (1, 2)
    assert grid.score(Xt, yt) > 0.9


def test_any_memory_layout_gives_the_same_predictions(borehole):
    """Inputs are read in place whatever their strides (C, Fortran, sliced views)."""
    X, y, Xt, _ = borehole
    est = ttfit.TTRegressor(rank=2, basis="legendre:4", max_iter=5).fit(X, y)
    ref = est.predict(np.ascontiguousarray(Xt))
    np.testing.assert_array_equal(est.predict(np.asfortranarray(Xt)), ref)
    wide = np.zeros((Xt.shape[0] * 2, Xt.shape[1] * 3))
    wide[::2, ::3] = Xt
    view = wide[::2, ::3]
    assert not view.flags.c_contiguous and not view.flags.f_contiguous
    np.testing.assert_array_equal(est.model_.predict(view)[0], ref)
    # the fit does not depend on the layout either
    est_f = ttfit.TTRegressor(rank=2, basis="legendre:4", max_iter=5).fit(np.asfortranarray(X), y)
    np.testing.assert_array_equal(est_f.predict(Xt), ref)
