"""Pickling goes through the model-file bytes and restores identical predictions."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone

import ttfit


def test_regressor_pickle_round_trip(borehole):
    X, y, Xt, _ = borehole
    est = ttfit.TTRegressor(rank=2, basis="legendre:4", max_iter=5).fit(X, y)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict(Xt), est.predict(Xt))
    assert back.get_params() == est.get_params()
    assert back.ranks_ == est.ranks_
    for k, v in est.history_.items():
        np.testing.assert_array_equal(back.history_[k], v)
    # an unfitted clone pickles too
    pickle.loads(pickle.dumps(clone(est)))


def test_model_pickles_as_model_file_bytes(borehole):
    X, y, Xt, _ = borehole
    model = ttfit.TTRegressor(rank=2, basis="legendre:4", max_iter=3).fit(X, y).model_
    ctor, args = model.__reduce__()
    assert ctor == ttfit.Model.from_bytes
    text = args[0].decode()
    assert f'"format": "{ttfit.MODEL_FORMAT}"' in text
    back = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(back.predict(Xt)[0], model.predict(Xt)[0])


def test_tensor_train_pickle():
    tt = ttfit.TensorTrain.random([3, 4, 5], [2, 3], seed=1)
    back = pickle.loads(pickle.dumps(tt))
    for a, b in zip(tt.cores, back.cores):
        np.testing.assert_array_equal(a, b)


def test_corrupt_bytes_raise_value_error():
    with pytest.raises(ValueError, match="not valid JSON|ends early"):
        ttfit.Model.from_bytes(b'{"format": "ttfit-model", ')
    with pytest.raises(ValueError, match="not a ttfit model file"):
        ttfit.Model.from_bytes(b"{}")
    with pytest.raises(ValueError, match="<model bytes>"):
        ttfit.Model.from_bytes(b"[1, 2")
