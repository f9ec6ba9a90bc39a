"""gradus from Python.

- ``gradus.Tensor``: a float32/float64 tensor made from any NumPy array (C or Fortran order,
  strided views), with operators, common ops and reverse-mode autodiff (``backward``, ``grad``).
- ``gradus.optim``: gradus's optimizers (PyTorch's names and hyperparameters) and schedules.
- ``gradus.gradcheck``: gradients against central differences in float64.
- ``gradus.save_safetensors`` / ``gradus.load_safetensors``: dicts of tensors as safetensors files.
- scikit-learn estimators (need scikit-learn): ``LinearRegression``, ``LogisticRegression``,
  ``MLPClassifier``, ``MLPRegressor``, ``CNNClassifier`` (also in ``gradus.sklearn``).

Errors from gradus arrive as ``ValueError`` (bad input or settings) or ``RuntimeError`` (a run
that failed, e.g. diverged), with gradus's own messages.
"""

from ._gradus import (
    Tensor,
    __version__,
    cross_entropy,
    gradcheck,
    load_safetensors,
    mse_loss,
    save_safetensors,
)
from . import optim

_ESTIMATORS = (
    "LinearRegression",
    "LogisticRegression",
    "MLPClassifier",
    "MLPRegressor",
    "CNNClassifier",
)

__all__ = [
    "Tensor",
    "cross_entropy",
    "gradcheck",
    "load_safetensors",
    "mse_loss",
    "optim",
    "save_safetensors",
    "__version__",
    *_ESTIMATORS,
]


def __getattr__(name):
    # the estimators import scikit-learn: only when asked for
    if name in _ESTIMATORS:
        from . import sklearn

        return getattr(sklearn, name)
    raise AttributeError(f"module 'gradus' has no attribute {name!r}")
