"""The scikit-learn estimator and the optimizer comparison (thin wrappers of ``ttfit._ttfit``)."""

import json
import numbers

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_is_fitted,
    validate_data,
)

from . import _ttfit

# Hyperparameters handed to the Rust side; `callback` stays in Python.
_RUST_PARAMS = tuple(_ttfit.HYPERPARAMETERS)


def _seed(random_state):
    """An integer seed: ints pass through, ``None`` draws one from numpy's global generator,
    a ``RandomState``/``Generator`` draws one from itself."""
    if random_state is None:
        return int(np.random.randint(0, 2**31 - 1))
    if isinstance(random_state, numbers.Integral):
        if random_state < 0:
            raise ValueError(f"invalid random_state: must be >= 0, got {random_state}")
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**31 - 1))
    raise ValueError(
        f"invalid random_state: {random_state!r}; give an int, None, or a numpy generator"
    )


def _rust_params(params):
    """The hyperparameter dict for ``_ttfit.fit``: library names, ``None`` dropped (library
    default), ``random_state`` turned into a seed."""
    out = {k: v for k, v in params.items() if k in _RUST_PARAMS and v is not None}
    out["random_state"] = _seed(params.get("random_state"))
    return out


class TTRegressor(RegressorMixin, BaseEstimator):
    """Functional tensor-train regressor ``v(x) = A_1(x_1) ... A_d(x_d)``.

    Each input is mapped to its domain (inferred from the training inputs with a small margin,
    or given) and expanded in an orthonormal basis; the coefficients form a tensor train of the
    given rank, fitted by least squares with one of ttfit's optimizers (natural gradient with
    Nesterov momentum by default). The parameters mirror the ``ttfit fit`` options; ``None``
    keeps the library default.

    Parameters
    ----------
    rank : int or list of int, default=4
        TT rank of every bond, or the ``d - 1`` bond ranks (``--rank``).
    basis : str, default="legendre:8"
        Basis of every input: ``legendre:N``, ``hermite:N``, ``fourier:M``, ``piecewise:PxK``
        (``--basis``).
    optimizer : str, default="ngd-nesterov"
        ``als``, ``rgd``, ``rcg``, ``gd``, ``ngd``, ``ngd-hb``, ``ngd-nesterov`` (``-pop``
        variants too); see :func:`ttfit.optimizer_names`.
    max_iter : int, default=100
        Maximal number of iterations (ALS: sweeps).
    tol : float, default=None
        Relative decrease of the training loss below which an iteration counts as stalled
        (library default 1e-10; five stalled iterations stop the fit; 0 disables).
    time_limit : float, default=None
        Optimizer time budget in seconds.
    target_loss : float, default=None
        Stop once the training loss is at or below this value.
    validation_fraction : float, default=None
        Fraction of the training rows held out for validation (``--validation``). ``None``
        holds out nothing, as scikit-learn estimators do unless asked; ``ttfit fit`` with
        fixed ``--rank`` and ``--basis`` holds out 0.2 with patience 10 by default, so pass
        ``validation_fraction=0.2, n_iter_no_change=10`` for the command line's computation.
    n_iter_no_change : int, default=None
        Early stopping: iterations without validation improvement (``--patience``; needs
        ``validation_fraction``). The best iterate is kept.
    batch_size : int, default=None
        Mini-batch size of the natural-gradient optimizers (default: full batch).
    solver : str, default=None
        Gram solver of the natural gradient (``cholesky[:shift]``, ``eigen[:cutoff]``, ``qr``,
        ``lsqr[:damp]``, ``block[:shift]``).
    beta : float, default=None
        Momentum factor of ``ngd-hb`` / ``ngd-nesterov``, in ``[0, 1)``.
    damping : str, default=None
        Levenberg–Marquardt damping of the natural-gradient step (``--damping``): ``"lm"``,
        ``"lm:TAU"`` or ``"off"`` (library default ``"lm"``).
    start : {"additive", "random"}, default=None
        Start point (library default: the additive/ANOVA start).
    rank_continuation : bool or float, default=None
        Rank continuation (``--rank-continuation``): start at ranks ``min(r, 2)`` and add one
        to every bond below ``rank`` (a greedy rank-one correction of the residual) whenever a
        step gains less than this fraction of the training loss. ``True`` uses the library
        default 0.1; ``None`` or ``False`` fits at the given ranks from the start. Least
        squares only; not with the adaptive learner.
    domain : list of (lo, hi), default=None
        Input domain per variable for the uniform-measure bases (default: inferred).
    domain_margin : float, default=None
        Relative widening of inferred domains (library default 0.01).
    random_state : int, RandomState, Generator or None, default=0
        Seed of the start point, the validation split and the mini-batches.
    n_jobs : int, default=None
        Worker threads (default: all cores; the results do not depend on it).
    callback : callable, default=None
        Called as ``callback(record)`` after the start point and every iteration, with a dict
        (``iteration``, ``seconds``, ``train_loss``, ``train_error``, ``validation_error``,
        ``test_error``, ``step_size``). An exception raised by the callback stops the fit and
        propagates; so does Ctrl-C (``KeyboardInterrupt``).

    Attributes
    ----------
    model_ : ttfit.Model
        The fitted model (its ``to_bytes()`` is the JSON model file of ``ttfit fit``).
    tt_ : ttfit.TensorTrain
        The coefficient tensor train.
    ranks_ : list of int
        TT ranks ``[1, r_1, ..., r_{d-1}, 1]``.
    history_ : dict of numpy arrays
        Per iteration (0 = start point): ``iteration``, ``seconds``, ``train_loss``,
        ``train_error``, ``validation_error``, ``test_error`` (``nan`` when not tracked),
        ``step_size``, ``restarted``.
    n_iter_ : int
        Iterations run.
    stop_reason_ : str
        Why the fit stopped.
    training_info_ : dict
        The metadata written into the model file.
    n_features_in_ : int
        Number of inputs seen in ``fit``.
    feature_names_in_ : ndarray of str
        Input names, when ``X`` had string column names (e.g. a pandas DataFrame).
    """

    def __init__(
        self,
        rank=4,
        basis="legendre:8",
        optimizer="ngd-nesterov",
        max_iter=100,
        tol=None,
        time_limit=None,
        target_loss=None,
        validation_fraction=None,
        n_iter_no_change=None,
        batch_size=None,
        solver=None,
        beta=None,
        damping=None,
        start=None,
        rank_continuation=None,
        domain=None,
        domain_margin=None,
        random_state=0,
        n_jobs=None,
        callback=None,
    ):
        self.rank = rank
        self.basis = basis
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.tol = tol
        self.time_limit = time_limit
        self.target_loss = target_loss
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.batch_size = batch_size
        self.solver = solver
        self.beta = beta
        self.damping = damping
        self.start = start
        self.rank_continuation = rank_continuation
        self.domain = domain
        self.domain_margin = domain_margin
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.callback = callback

    def fit(self, X, y, sample_weight=None):
        """Fit the model to inputs ``X`` (``n_samples x n_features``) and targets ``y``.

        ``sample_weight`` (non-negative, positive sum) weights the squared errors. Returns self.
        """
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        if self.callback is not None and not callable(self.callback):
            raise ValueError(f"invalid callback: {self.callback!r} is not callable")
        params = _rust_params(self.get_params(deep=False))
        model, history, stop = _ttfit.fit(
            X, y, sample_weight=sample_weight, params=params, callback=self.callback
        )
        self.model_ = model
        self.tt_ = model.tt
        self.ranks_ = list(model.ranks)
        self.history_ = history
        self.n_iter_ = int(history["iteration"][-1])
        self.stop_reason_ = stop
        self.training_info_ = json.loads(model.training_json or "{}")
        return self

    def predict(self, X):
        """Predictions ``v(x)`` for the rows of ``X``. Rows outside the training domain are
        extrapolated (polynomial / periodic continuation of the basis)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        values, _outside = self.model_.predict(X)
        return values

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.target_tags.single_output = True
        tags.target_tags.multi_output = False
        return tags


def _as_inputs(X, name):
    return check_array(X, dtype=np.float64, input_name=name)


def _as_targets(y, name, n):
    y = check_array(y, dtype=np.float64, ensure_2d=False, input_name=name)
    if y.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {y.shape}")
    if y.shape[0] != n:
        raise ValueError(f"{name} has {y.shape[0]} values for {n} input rows")
    return y


def compare(
    X,
    y,
    optimizers=("als", "rgd", "rcg", "ngd", "ngd-hb", "ngd-nesterov"),
    *,
    X_test=None,
    y_test=None,
    sample_weight=None,
    callback=None,
    **hyperparameters,
):
    """Run several optimizers on the same data from the same start point (``ttfit compare``).

    ``hyperparameters`` are those of :class:`TTRegressor` (except ``optimizer``); options that
    an optimizer does not have (e.g. ``beta`` for ``als``) are ignored for it. Returns
    ``{optimizer: history}`` where ``history`` is a dict of numpy arrays (``iteration``,
    ``seconds``, ``train_loss``, ``train_error``, ``validation_error``, ``test_error``,
    ``step_size``, ``restarted``) plus ``stop`` (why it stopped), or ``{"error": message}`` for
    an optimizer that failed (one failing optimizer does not stop the comparison).
    ``callback(record)`` sees every iteration of every run, with ``record["optimizer"]``.
    """
    if isinstance(optimizers, str):
        optimizers = [o.strip() for o in optimizers.split(",")]
    unknown = set(hyperparameters) - (set(_RUST_PARAMS) - {"optimizer"})
    if unknown:
        raise ValueError(
            f"invalid hyperparameter: unknown name(s) {sorted(unknown)}; "
            f"known: {', '.join(p for p in _RUST_PARAMS if p != 'optimizer')}"
        )
    hyperparameters.setdefault("random_state", 0)
    X = _as_inputs(X, "X")
    y = _as_targets(y, "y", X.shape[0])
    if (X_test is None) != (y_test is None):
        raise ValueError("give both X_test and y_test, or neither")
    if X_test is not None:
        X_test = _as_inputs(X_test, "X_test")
        y_test = _as_targets(y_test, "y_test", X_test.shape[0])
        if X_test.shape[1] != X.shape[1]:
            raise ValueError(
                f"X_test has {X_test.shape[1]} columns but X has {X.shape[1]}"
            )
    if sample_weight is not None:
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
    if callback is not None and not callable(callback):
        raise ValueError(f"invalid callback: {callback!r} is not callable")
    return _ttfit.compare(
        X,
        y,
        list(optimizers),
        sample_weight=sample_weight,
        params=_rust_params(hyperparameters),
        callback=callback,
        x_test=X_test,
        y_test=y_test,
    )
