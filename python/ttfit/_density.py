"""The density estimator: a squared tensor train ``p = ψ² ρ_μ`` (``ttfit density``)."""

import json
import numbers

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _ttfit
from ._estimator import _seed

_DENSITY_PARAMS = tuple(_ttfit.DENSITY_HYPERPARAMETERS)


class TTDensity(DensityMixin, BaseEstimator):
    """Density estimation with a squared functional tensor train.

    The model is ``p(x) = ψ(x)² ρ_μ(x)`` with ``ψ`` a functional TT in orthonormal bases of
    ``L²(μ)`` (``μ``: the bases' reference measure; for Legendre features on the domain box,
    uniform, so that ``p`` is a density on the box and 0 outside it) and ``‖Ψ‖_F = 1``, which
    makes ``∫ p = 1`` exactly. ``ψ`` is fitted to samples by forward KL (maximum likelihood)
    on the unit sphere with natural momentum and the Fisher metric by default. This is
    ``ttfit density`` with the same settings and the same computation; the model file it
    writes is read by ``ttfit predict`` (densities) and ``ttfit sample --model`` (draws).

    Parameters
    ----------
    rank : int or list of int, default=2
        TT rank of ``ψ`` (one value, or the ``d - 1`` bond ranks; ``--rank``).
    basis : str, default="legendre:8"
        Basis of every variable: ``legendre:N``, ``fourier:M``, ``piecewise:PxK`` on the
        domain box; ``hermite:N`` on the whole line (densities relative to ``N(mean, std²)``;
        :meth:`sample` needs a bounded domain).
    optimizer : str, default="ngd-nesterov-fisher"
        ``rgd``, ``ngd-fisher``, ``ngd``, ``ngd-hb-fisher``, ``ngd-nesterov-fisher``,
        ``ngd-hb``, ``ngd-nesterov`` (``-fisher``: the Fisher metric; otherwise the empirical
        Gram plus the normalization curvature).
    max_iter : int, default=100
        Iterations.
    tol : float, default=1e-10
        Stop when the training negative log-likelihood changes by less than this (relative)
        three iterations in a row (``--rel-tol``; 0 never stops early).
    validation_fraction : float, default=0.2
        Fraction of the samples held out; the iterate with the best held-out likelihood is
        returned (``--validation``). 0 or None: no validation, the last iterate.
    domain : list of (lo, hi), default=None
        Domain box (default: the sample range widened by 1 % per side). Samples outside it
        are an error.
    random_state : int, RandomState, Generator or None, default=0
        Seed of the validation split and the start point.
    callback : callable, default=None
        Called as ``callback(record)`` after the start and every iteration with a dict
        (``iteration``, ``seconds``, ``train_nll``, ``validation_nll``, ``norm_error``,
        ``step_size``); an exception it raises (or Ctrl-C) stops the fit and propagates.

    Attributes
    ----------
    model_ : ttfit.Model
        The fitted density (``model_.kind == "density"``; ``model_.to_bytes()`` is the
        model file of ``ttfit density``).
    tt_ : ttfit.TensorTrain
        The coefficient tensor train of ``ψ`` (unit Frobenius norm).
    ranks_ : list of int
        TT ranks of ``ψ``.
    history_ : dict of numpy arrays
        Per iteration (0 = start): ``iteration``, ``seconds``, ``train_nll``,
        ``validation_nll`` (``nan`` without validation), ``norm_error`` (``‖Ψ‖_F - 1``),
        ``step_size``.
    n_iter_ : int
        Iterations run.
    best_iteration_ : int
        The iteration whose iterate was returned.
    stop_reason_ : str
        Why the fit stopped.
    training_info_ : dict
        The metadata of the model file (``train_error``, ``validation_error``: mean negative
        log-likelihoods in nats of the returned iterate).
    n_features_in_ : int
        Number of variables.
    """

    def __init__(
        self,
        rank=2,
        basis="legendre:8",
        optimizer="ngd-nesterov-fisher",
        max_iter=100,
        tol=1e-10,
        validation_fraction=0.2,
        domain=None,
        random_state=0,
        callback=None,
    ):
        self.rank = rank
        self.basis = basis
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.tol = tol
        self.validation_fraction = validation_fraction
        self.domain = domain
        self.random_state = random_state
        self.callback = callback

    def fit(self, X, y=None):
        """Fit the density to the samples ``X`` (``n_samples x n_features``, rows are draws).
        ``y`` is ignored. Returns self."""
        X = validate_data(self, X, dtype=np.float64)
        if X.shape[0] < 2:
            raise ValueError(
                f"n_samples={X.shape[0]}: a density fit needs at least 2 samples (the domain "
                "box is inferred from their range)"
            )
        if self.callback is not None and not callable(self.callback):
            raise ValueError(f"invalid callback: {self.callback!r} is not callable")
        params = {
            k: v for k, v in self.get_params(deep=False).items()
            if k in _DENSITY_PARAMS and v is not None
        }
        params["random_state"] = _seed(self.random_state)
        params["validation_fraction"] = float(self.validation_fraction or 0.0)
        model, history, stop = _ttfit.fit_density(X, params=params, callback=self.callback)
        self.model_ = model
        self.tt_ = model.tt
        self.ranks_ = list(model.ranks)
        self.history_ = history
        self.n_iter_ = int(history["iteration"][-1])
        self.stop_reason_ = stop
        self.training_info_ = json.loads(model.training_json or "{}")
        settings = (self.training_info_.get("settings") or {}).get("density", {})
        self.best_iteration_ = int(settings.get("returned_iteration", self.n_iter_))
        return self

    def score_samples(self, X):
        """Log-density ``log p(x)`` of every row (Lebesgue, exactly normalized; ``-inf``
        outside the domain box), the ``log_density`` column of ``ttfit predict``."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        _density, log_density, _outside = self.model_.density(X)
        return log_density

    def score(self, X, y=None):
        """Mean log-likelihood of the rows of ``X`` (the per-sample average, as
        ``GaussianMixture.score``; ``KernelDensity.score`` returns the sum)."""
        return float(np.mean(self.score_samples(X)))

    def sample(self, n_samples=1, random_state=None):
        """``n_samples`` exact draws (``n_samples x n_features``) by conditional sampling
        through the TT marginals. An integer ``random_state`` gives the draws of
        ``ttfit sample --model <model file> --n n_samples --seed random_state``."""
        check_is_fitted(self)
        if not isinstance(n_samples, numbers.Integral) or n_samples < 1:
            raise ValueError(f"invalid n_samples: need a positive integer, got {n_samples!r}")
        return self.model_.sample(int(n_samples), seed=_seed(random_state))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.target_tags.required = False
        return tags
