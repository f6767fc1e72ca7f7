"""ttfit: tensor-train surrogates of high-dimensional functions, from Python.

- :class:`TTRegressor`: a scikit-learn regressor (fit / predict / score, pipelines, grid search,
  pickling through the model-file format of the ``ttfit`` command line).
- :class:`TTClassifier`: a scikit-learn classifier (logistic for two classes, softmax for
  more; any label values; ``predict_proba``, ``decision_function``), ``ttfit fit --loss``.
- :class:`TTDensity`: density estimation with a squared TT, exactly normalized
  (``score_samples`` = log-density, ``score``, exact ``sample``), ``ttfit density``.
- :func:`compare`: several optimizers on the same data from the same start; the histories as a
  dict of numpy arrays.
- :class:`Model`: a fitted functional TT (``kind``: regression, classifier or density);
  ``Model.load(path)`` reads the files ``ttfit fit`` and ``ttfit density`` write,
  ``model.save(path)`` writes files ``ttfit predict`` reads.
- :class:`TensorTrain`, :class:`TangentSpace`: the TT format and the Riemannian geometry of
  fixed-rank TTs (rounding, norms, inner products, tangent-space projection and retraction).

The numerics run in Rust (crates ``ttfit`` and ``tensor_train``) with the GIL released.
"""

from ._ttfit import (
    HYPERPARAMETERS,
    MODEL_FORMAT,
    MODEL_VERSION,
    Model,
    TangentSpace,
    TensorTrain,
    __version__,
    optimizer_names,
    sample_function,
)
from ._classifier import TTClassifier
from ._density import TTDensity
from ._estimator import TTRegressor, compare

__all__ = [
    "HYPERPARAMETERS",
    "MODEL_FORMAT",
    "MODEL_VERSION",
    "Model",
    "TTClassifier",
    "TTDensity",
    "TTRegressor",
    "TangentSpace",
    "TensorTrain",
    "__version__",
    "compare",
    "load_model",
    "optimizer_names",
    "sample_function",
]


def load_model(path):
    """Read a model file written by ``ttfit fit``, ``ttfit density`` or :meth:`Model.save`."""
    return Model.load(str(path))
