"""The scikit-learn classifier: TT logits fitted by cross-entropy (``ttfit fit --loss``)."""

import json

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _ttfit
from ._estimator import _rust_params


def _plain(label):
    """A numpy scalar label as the Python value (for messages: 1.0, 'a')."""
    return label.item() if isinstance(label, np.generic) else label


class TTClassifier(ClassifierMixin, BaseEstimator):
    """Functional tensor-train classifier: the TT value is a logit.

    With two classes in ``y`` it is the logistic model ``P(y = classes_[1] | x) = σ(v(x))``
    (``ttfit fit --loss logistic``); with ``C > 2`` classes the TT has one more, last, mode of
    size ``C`` and ``P(y = classes_[c] | x) = softmax_c v(x, c)`` (``--loss softmax``). The
    cross-entropy is minimized with the Hessian-weighted (Fisher-scoring) Gram of ttfit's
    natural-gradient optimizers. Labels may be any values (strings, ints): they are mapped to
    the indices of ``classes_`` (sorted, as ``np.unique`` gives them), which is what the model
    file stores and ``ttfit predict`` writes as ``y_label``.

    The hyperparameters are those of :class:`TTRegressor` except the validation split
    (``validation_fraction``, ``n_iter_no_change``): a classifier stops on its training loss.

    Parameters
    ----------
    rank : int or list of int, default=4
        TT rank of every bond, or the bond ranks (``d - 1`` of them; ``d`` with more than two
        classes, the last bond joining the class mode).
    basis : str, default="legendre:8"
        Basis of every input (``--basis``).
    optimizer : str, default="ngd-nesterov"
        See :func:`ttfit.optimizer_names`.
    max_iter : int, default=100
        Maximal number of iterations.
    tol : float, default=None
        Relative decrease of the training loss below which an iteration counts as stalled.
    time_limit : float, default=None
        Optimizer time budget in seconds.
    target_loss : float, default=None
        Stop once the training cross-entropy is at or below this value.
    batch_size, solver, beta, damping, start, domain, domain_margin, n_jobs
        As in :class:`TTRegressor` (``domain``: one interval per input; the class mode needs
        none).
    random_state : int, RandomState, Generator or None, default=0
        Seed of the start point and the mini-batches.
    callback : callable, default=None
        ``callback(record)`` after every iteration, as in :class:`TTRegressor`.

    Attributes
    ----------
    classes_ : ndarray
        The class labels; column ``c`` of :meth:`predict_proba` is ``classes_[c]``.
    model_ : ttfit.Model
        The fitted model (``model_.kind == "classifier"``; its bytes are the model file of
        ``ttfit fit --loss ...``, which ``ttfit predict`` reads).
    tt_ : ttfit.TensorTrain
        The coefficient tensor train.
    ranks_ : list of int
        TT ranks.
    history_ : dict of numpy arrays
        Per iteration: ``train_loss`` is the mean cross-entropy (see :class:`TTRegressor`).
    n_iter_ : int
        Iterations run.
    stop_reason_ : str
        Why the fit stopped.
    training_info_ : dict
        The metadata of the model file (``training_info_["classification"]`` has the training
        accuracy and log-loss).
    n_features_in_ : int
        Number of inputs seen in ``fit``.
    feature_names_in_ : ndarray of str
        Input names, when ``X`` had string column names.
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
        batch_size=None,
        solver=None,
        beta=None,
        damping=None,
        start=None,
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
        self.batch_size = batch_size
        self.solver = solver
        self.beta = beta
        self.damping = damping
        self.start = start
        self.domain = domain
        self.domain_margin = domain_margin
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.callback = callback

    def fit(self, X, y, sample_weight=None):
        """Fit the classifier to inputs ``X`` (``n_samples x n_features``) and labels ``y``.

        ``sample_weight`` (non-negative) weights the per-sample cross-entropies. At least two
        classes must have samples of positive weight. Returns self.
        """
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                "a classifier needs samples of at least two classes; y has only one class, "
                f"{_plain(classes[0])!r}"
            )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
            mass = np.bincount(codes, weights=sample_weight, minlength=len(classes))
            if np.count_nonzero(mass > 0) < 2:
                raise ValueError(
                    "a classifier needs samples of at least two classes with positive "
                    f"sample_weight; only one class, {_plain(classes[np.argmax(mass)])!r}, has any"
                )
        if self.callback is not None and not callable(self.callback):
            raise ValueError(f"invalid callback: {self.callback!r} is not callable")
        params = _rust_params(self.get_params(deep=False))
        model, history, stop = _ttfit.fit_classifier(
            X,
            codes.astype(np.float64),
            len(classes),
            sample_weight=sample_weight,
            params=params,
            callback=self.callback,
        )
        self.classes_ = classes
        self.model_ = model
        self.tt_ = model.tt
        self.ranks_ = list(model.ranks)
        self.history_ = history
        self.n_iter_ = int(history["iteration"][-1])
        self.stop_reason_ = stop
        self.training_info_ = json.loads(model.training_json or "{}")
        return self

    def _inputs(self, X):
        check_is_fitted(self)
        return validate_data(self, X, dtype=np.float64, reset=False)

    def predict_proba(self, X):
        """Class probabilities, ``n_samples x n_classes`` (rows sum to one; column ``c`` is
        ``classes_[c]``): the values ``ttfit predict`` writes for the model file."""
        X = self._inputs(X)
        proba, _outside = self.model_.predict_proba(X)
        return proba

    def predict_log_proba(self, X):
        """Logarithms of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def decision_function(self, X):
        """The logits: binary, ``v(x)`` (``n_samples``; positive means ``classes_[1]``);
        more classes, ``v(x, c)`` (``n_samples x n_classes``, defined up to a constant per
        row)."""
        X = self._inputs(X)
        z, _outside = self.model_.decision_function(X)
        return z

    def predict(self, X):
        """The most probable class of every row (ties: the first class in ``classes_``)."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.classifier_tags.multi_class = True
        tags.classifier_tags.multi_label = False
        return tags
