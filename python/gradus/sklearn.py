"""scikit-learn estimators trained by gradus.

Each estimator writes its settings as a gradus run config (the ``[optimizer]``, ``[schedule]``,
``[batch]`` and ``[train]`` keys of ``gradus train``, checked by the same rules, so a bad value
is a ``ValueError`` with the CLI's message) and trains through ``gradus_run::RunBuilder`` on the
arrays given to ``fit``. ``verbose=True`` shows the command's progress bar and log lines.

After ``fit``: ``history_`` (the run's ``metrics.csv``: a dict of lists, or a pandas DataFrame
when pandas is installed), ``loss_curve_`` (training loss per epoch), ``n_iter_`` (epochs
run), ``n_features_in_``, ``classes_`` (classifiers). With ``run_dir`` the run directory
(``metrics.csv``, ``model.safetensors``, ``report.html``, ...) is kept there; without it, in
a temporary folder removed after ``fit``.

``fit``, ``partial_fit`` and ``score`` take ``sample_weight`` (weighted loss). Training and
prediction release the GIL. Ctrl-C (KeyboardInterrupt) stops a fit at the next step boundary:
an interrupted ``fit`` leaves the estimator unfitted, an interrupted ``partial_fit`` leaves the
model with the steps it finished. A pickle keeps the model and its optimizer state, so
``partial_fit`` goes on after unpickling.
"""

import csv
import json
import math
import os
import shutil
import tempfile

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._gradus import Engine

__all__ = [
    "LinearRegression",
    "LogisticRegression",
    "MLPClassifier",
    "MLPRegressor",
    "CNNClassifier",
]


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise ValueError(f"cannot write {v!r} ({type(v).__name__}) into a gradus config")


def _toml(config):
    """A two-level dict as TOML: top-level scalars, then one table per dict value."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in config.items() if not isinstance(v, dict)]
    for table, values in config.items():
        if isinstance(values, dict):
            lines.append(f"[{table}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in values.items() if v is not None]
    return "\n".join(lines) + "\n"


def _read_history(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    columns = {}
    for row in rows:
        for k, v in row.items():
            try:
                value = float(v) if v != "" else float("nan")
            except ValueError:
                value = v
            columns.setdefault(k, []).append(value)
    try:
        import pandas

        return pandas.DataFrame(columns)
    except ImportError:
        return columns


class _GradusEstimator(BaseEstimator):
    """What every gradus estimator shares: the run's settings and the engine that trains."""

    # samples may be images (CNNClassifier)
    _allow_nd = False

    # the model kind and task of the config; set by each estimator
    def _model(self, n_outputs):
        raise NotImplementedError

    def _task(self):
        raise NotImplementedError

    def _seed(self):
        if isinstance(self.random_state, (int, np.integer)):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(0, 2**31 - 1))

    def _config(self, n_samples, epochs, task, n_outputs):
        data = {
            "format": "mnist" if self._model(n_outputs)["kind"] == "cnn" else "csv",
            "path": "arrays",
            "target": "y",
            "task": task,
            "standardize": bool(self.standardize),
        }
        if data["format"] == "mnist":
            del data["target"], data["task"]
        train = {"checkpoint_every": 0}
        if self.early_stopping:
            data["validation"] = float(self.validation_fraction)
            train["early_stopping_patience"] = int(self.n_iter_no_change)
            train["min_delta"] = float(self.tol)
        batch = {"mode": self.batch}
        if self.batch in ("minibatch", "mini-batch"):
            batch["size"] = int(min(self.batch_size, max(n_samples, 1)))
        optimizer = {"name": self.optimizer, "lr": self.lr}
        for key in ("momentum", "weight_decay", "betas", "eps", "clip_grad_norm"):
            value = getattr(self, key, None)
            if value is not None:
                optimizer[key] = list(value) if isinstance(value, tuple) else value
        dtypes = {"float32": "f32", "float64": "f64", "f32": "f32", "f64": "f64"}
        name = self.dtype if isinstance(self.dtype, str) else getattr(np.dtype(self.dtype), "name", "")
        if name not in dtypes:
            raise ValueError(f'dtype must be "float32" or "float64", got {self.dtype!r}')
        config = {
            "seed": self._seed(),
            "epochs": int(epochs),
            "dtype": dtypes[name],
            "data": data,
            "model": self._model(n_outputs),
            "optimizer": optimizer,
            "batch": batch,
            "train": train,
        }
        if self.schedule is not None:
            s = self.schedule
            config["schedule"] = {"name": s} if isinstance(s, str) else dict(s)
        return _toml(config)

    def _train(self, X, labels, classes, values, weights, epochs, n_outputs, first):
        config = self._config(X.shape[0], epochs, self._task(), n_outputs)
        if self.run_dir is not None:
            out = self.run_dir
        elif first or not os.path.isabs(getattr(self, "_scratch", "")):
            out = self._scratch = tempfile.mkdtemp(prefix="gradus-")
        else:
            out = self._scratch  # the run writes where it was built
        try:
            if first:
                # a fit that raises (bad settings, KeyboardInterrupt) leaves the estimator unfitted
                self.__dict__.pop("_engine", None)
                self._engine = Engine.fit(
                    config, X, labels, classes, values, weights, os.fspath(out), not self.verbose
                )
            else:
                # a pickled estimator's run is rebuilt in `out` (optimizer state included)
                self._engine.partial_fit(
                    X, labels, classes, values, weights, epochs, os.fspath(out), not self.verbose
                )
            self.history_ = _read_history(os.path.join(out, "metrics.csv"))
        finally:
            if self.run_dir is None:
                shutil.rmtree(out, ignore_errors=True)
        for w in self._engine.warnings:
            import warnings

            warnings.warn(f"gradus: {w}", stacklevel=3)
        summary = json.loads(self._engine.summary)
        self.n_iter_ = int(summary["epochs"])
        self.loss_curve_ = list(self.history_["train_loss"])
        return self

    @staticmethod
    def _weights(sample_weight, X):
        """``sample_weight`` checked as scikit-learn does (one finite, non-negative value per
        sample, not all zero) as float32, or None."""
        if sample_weight is None:
            return None
        return _check_sample_weight(sample_weight, X, dtype=np.float32, ensure_non_negative=True)

    def _features(self, X, reset):
        X = validate_data(self, X, reset=reset, dtype=np.float32, allow_nd=self._allow_nd)
        return self._shape_input(X)

    def _shape_input(self, X):
        return np.ascontiguousarray(X, dtype=np.float32)

    def _raw(self, X):
        check_is_fitted(self)
        return self._engine.predict(self._features(X, reset=False)).astype(np.float64)

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: the estimator keeps its engine
        engine = state.pop("_engine", None)
        state.pop("_scratch", None)  # a folder of this process; partial_fit makes a new one
        if engine is not None:
            spec, weights, run = engine.to_bytes()
            run = None if run is None else (run[0], bytes(run[1]))
            state["_engine_bytes"] = (spec, bytes(weights), engine.summary, run)
        return state

    def __setstate__(self, state):
        saved = state.pop("_engine_bytes", None)
        super().__setstate__(state)
        if saved is not None:
            self._engine = Engine.from_bytes(*saved)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "_engine")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class _Classifier(ClassifierMixin, _GradusEstimator):
    def _labels(self, y):
        check_classification_targets(y)
        classes, idx = np.unique(y, return_inverse=True)
        return classes, idx.astype(np.int64)

    def fit(self, X, y, sample_weight=None):
        """Trains a fresh model on ``X [n_samples, n_features]`` and labels ``y [n_samples]``
        (any hashable labels) for ``epochs`` epochs; ``sample_weight [n_samples]`` weights each
        sample's loss (the loss is ``Σ wᵢ lossᵢ / Σ wᵢ`` per batch). Returns self."""
        X, y = validate_data(self, X, y, dtype=np.float32, allow_nd=self._allow_nd)
        weights = self._weights(sample_weight, X)
        X = self._shape_input(X)
        classes, idx = self._labels(y)
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes; got 1 class ({classes[0]!r})"
            )
        self.classes_ = classes
        return self._train(X, idx, len(classes), None, weights, self.epochs, self._outputs(), True)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One more epoch on ``X, y`` (weighted by ``sample_weight``) with the same model and
        optimizer state; the first call needs ``classes`` (every label that will ever be
        seen). Returns self."""
        first = not hasattr(self, "_engine")
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            X, y = validate_data(self, X, y, dtype=np.float32, reset=True, allow_nd=self._allow_nd)
            self.classes_ = np.unique(classes)
        else:
            X, y = validate_data(self, X, y, dtype=np.float32, reset=False, allow_nd=self._allow_nd)
        check_classification_targets(y)
        if not np.isin(y, self.classes_).all():
            raise ValueError(f"y has labels not in classes {self.classes_.tolist()}")
        idx = np.searchsorted(self.classes_, y).astype(np.int64)
        weights = self._weights(sample_weight, X)
        X = self._shape_input(X)
        return self._train(X, idx, len(self.classes_), None, weights, 1, self._outputs(), first)

    def _outputs(self):
        return len(self.classes_)

    def _task(self):
        return "classification"

    def predict_proba(self, X):
        """Class probabilities ``[n_samples, n_classes]`` (softmax of the logits, in float64)."""
        z = self._raw(X)
        if z.shape[1] == 1:  # logistic regression: one logit for class 1
            p = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.column_stack([1.0 - p, p])
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X):
        """The logarithm of ``predict_proba``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each sample."""
        p = self.predict_proba(X)  # checks that the estimator is fitted, before classes_
        return self.classes_[np.argmax(p, axis=1)]


class _Regressor(RegressorMixin, _GradusEstimator):
    def fit(self, X, y, sample_weight=None):
        """Trains a fresh model on ``X [n_samples, n_features]`` and targets ``y [n_samples]``
        or ``[n_samples, n_outputs]``; ``sample_weight [n_samples]`` weights each sample's
        loss. Returns self."""
        X, y = validate_data(
            self, X, y, dtype=np.float32, multi_output=True, y_numeric=True, allow_nd=self._allow_nd
        )
        weights = self._weights(sample_weight, X)
        X = self._shape_input(X)
        self._y_1d = y.ndim == 1
        values = np.ascontiguousarray(y.reshape(len(y), -1), dtype=np.float32)
        return self._train(X, None, 0, values, weights, self.epochs, values.shape[1], True)

    def partial_fit(self, X, y, sample_weight=None):
        """One more epoch on ``X, y`` (weighted by ``sample_weight``) with the same model and
        optimizer state. Returns self."""
        first = not hasattr(self, "_engine")
        X, y = validate_data(
            self, X, y, dtype=np.float32, multi_output=True, y_numeric=True, reset=first,
            allow_nd=self._allow_nd,
        )
        weights = self._weights(sample_weight, X)
        X = self._shape_input(X)
        if first:
            self._y_1d = y.ndim == 1
        values = np.ascontiguousarray(y.reshape(len(y), -1), dtype=np.float32)
        return self._train(X, None, 0, values, weights, 1, values.shape[1], first)

    def _task(self):
        return "regression"

    def predict(self, X):
        """Predicted targets, ``[n_samples]`` (or ``[n_samples, n_outputs]`` when fitted on
        several), in float64."""
        z = self._raw(X)
        return z[:, 0] if self._y_1d else z

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


_COMMON_DOC = """
    Training settings (gradus config keys): ``optimizer`` (sgd, adam, adamw, rmsprop, adagrad,
    adadelta, adamax, nadam, radam, lion, lamb, lars, adabelief, yogi), ``lr``, ``momentum``,
    ``weight_decay``, ``betas``, ``eps``, ``clip_grad_norm`` (PyTorch's meanings), ``schedule``
    (a name or a dict of ``[schedule]`` keys), ``batch`` ("minibatch", "full", "stochastic";
    "full" by default for the linear models, as scikit-learn's solvers, "minibatch" for the
    networks), ``batch_size`` (mini-batches only), ``epochs``, ``early_stopping`` (hold out ``validation_fraction``, stop after
    ``n_iter_no_change`` epochs without a ``tol`` improvement of the validation loss, restore
    the best weights), ``standardize`` (features scaled with the training statistics, kept with
    the model), ``dtype`` ("float32" or "float64", also "f32" or "f64"), ``random_state`` (the run's seed: weights,
    mini-batch order, validation split; a full batch keeps the rows in order), ``verbose`` (the CLI's progress), ``run_dir`` (keep the run
    directory there).
"""


class MLPClassifier(_Classifier):
    __doc__ = (
        "A multi-layer perceptron classifier (softmax cross-entropy), as scikit-learn's "
        "``MLPClassifier``: ``hidden_layer_sizes``, ``activation`` (relu, tanh, sigmoid, gelu, "
        "silu, leaky_relu, elu).\n" + _COMMON_DOC
    )

    def __init__(
        self, hidden_layer_sizes=(100,), activation="relu", *, optimizer="adam", lr=1e-3,
        momentum=None, weight_decay=None, betas=None, eps=None, clip_grad_norm=None,
        schedule=None, batch="minibatch", batch_size=200, epochs=200, early_stopping=False,
        validation_fraction=0.1, n_iter_no_change=10, tol=0.0, standardize=False,
        dtype="float32", random_state=None, verbose=False, run_dir=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.betas = betas
        self.eps = eps
        self.clip_grad_norm = clip_grad_norm
        self.schedule = schedule
        self.batch = batch
        self.batch_size = batch_size
        self.epochs = epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.standardize = standardize
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.run_dir = run_dir

    def _model(self, n_outputs):
        return {"kind": "mlp", "hidden": [int(h) for h in self.hidden_layer_sizes],
                "activation": self.activation}


class MLPRegressor(_Regressor):
    __doc__ = (
        "A multi-layer perceptron regressor (mean squared error), as scikit-learn's "
        "``MLPRegressor``: ``hidden_layer_sizes``, ``activation``; one or several outputs.\n"
        + _COMMON_DOC
    )

    __init__ = MLPClassifier.__init__
    _model = MLPClassifier._model


class LinearRegression(_Regressor):
    __doc__ = (
        "Linear least squares by gradient descent (full batch Adam by default); one or several "
        "outputs.\n" + _COMMON_DOC
    )

    def __init__(
        self, *, optimizer="adam", lr=0.05, momentum=None, weight_decay=None, betas=None,
        eps=None, clip_grad_norm=None, schedule=None, batch="full", batch_size=200, epochs=200,
        early_stopping=False, validation_fraction=0.1, n_iter_no_change=10, tol=0.0,
        standardize=False, dtype="float32", random_state=None, verbose=False, run_dir=None,
    ):
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.betas = betas
        self.eps = eps
        self.clip_grad_norm = clip_grad_norm
        self.schedule = schedule
        self.batch = batch
        self.batch_size = batch_size
        self.epochs = epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.standardize = standardize
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.run_dir = run_dir

    def _model(self, n_outputs):
        return {"kind": "linear"}



class LogisticRegression(_Classifier):
    __doc__ = (
        "Logistic regression by gradient descent: one sigmoid logit for two classes, softmax "
        "for more (multinomial). ``weight_decay`` is the L2 penalty (scikit-learn's ``1/C`` per "
        "sample).\n" + _COMMON_DOC
    )

    __init__ = LinearRegression.__init__

    def _model(self, n_outputs):
        return {"kind": "logistic" if n_outputs == 1 else "softmax"}

    def _outputs(self):
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    def decision_function(self, X):
        """The logits, as scikit-learn's ``LogisticRegression.decision_function``: ``[n_samples]``
        for two classes (positive favours ``classes_[1]``), ``[n_samples, n_classes]`` for
        more."""
        z = self._raw(X)
        return z[:, 0] if z.shape[1] == 1 else z

    def _task(self):
        return "binary" if len(self.classes_) == 2 else "classification"


class CNNClassifier(_Classifier):
    __doc__ = (
        "gradus's LeNet-style convolutional classifier for grey images of up to 28x28 pixels "
        "(MNIST, Fashion-MNIST, scikit-learn's 8x8 digits). ``X`` is ``[n, H*W]`` (square "
        "images, flattened row by row, as ``load_digits().data``), ``[n, H, W]``, ``[n, 1, H, "
        "W]`` (NCHW, PyTorch's layout) or ``[n, H, W, 1]`` (NHWC, Keras's). Images smaller than "
        "28x28 are scaled up by the largest whole factor that fits (each pixel repeated, "
        "nearest neighbour) and centred on a zero background: 8x8 becomes 24x24 inside 28x28. "
        "The model sees ``[n, 1, 28, 28]``.\n" + _COMMON_DOC
    )

    def __init__(
        self, *, optimizer="adam", lr=1e-3, momentum=None, weight_decay=None, betas=None,
        eps=None, clip_grad_norm=None, schedule=None, batch="minibatch", batch_size=64,
        epochs=3, early_stopping=False, validation_fraction=0.1, n_iter_no_change=10, tol=0.0,
        standardize=False, dtype="float32", random_state=None, verbose=False, run_dir=None,
    ):
        LinearRegression.__init__(
            self, optimizer=optimizer, lr=lr, momentum=momentum, weight_decay=weight_decay,
            betas=betas, eps=eps, clip_grad_norm=clip_grad_norm, schedule=schedule, batch=batch,
            batch_size=batch_size, epochs=epochs, early_stopping=early_stopping,
            validation_fraction=validation_fraction, n_iter_no_change=n_iter_no_change, tol=tol,
            standardize=standardize, dtype=dtype, random_state=random_state, verbose=verbose,
            run_dir=run_dir,
        )


    _allow_nd = True

    def _model(self, n_outputs):
        return {"kind": "cnn"}

    def _shape_input(self, X):
        return _to_lenet_images(X)


def _to_lenet_images(X):
    """Grey images ``X`` in any of ``CNNClassifier``'s layouts as ``[n, 1, 28, 28]`` float32."""
    shape = X.shape[1:]
    if len(shape) == 1:
        side = math.isqrt(shape[0])
        if side * side != shape[0]:
            raise ValueError(
                f"CNNClassifier takes flat samples of square images (H*W values); got {shape[0]} "
                "values per sample, not a square number"
            )
        images = X.reshape(len(X), side, side)
    elif len(shape) == 2:
        images = X
    elif len(shape) == 3 and shape[0] == 1:
        images = X[:, 0]
    elif len(shape) == 3 and shape[2] == 1:
        images = X[..., 0]
    else:
        raise ValueError(
            f"CNNClassifier takes grey images [n, H*W], [n, H, W], [n, 1, H, W] or [n, H, W, 1]; "
            f"got samples of shape {shape}"
        )
    h, w = images.shape[1:]
    if h > 28 or w > 28:
        raise ValueError(f"CNNClassifier takes images of up to 28x28 pixels; got {h}x{w}")
    k = 28 // max(h, w)
    images = images.repeat(k, axis=1).repeat(k, axis=2)
    top, left = (28 - h * k) // 2, (28 - w * k) // 2
    out = np.zeros((len(X), 1, 28, 28), dtype=np.float32)
    out[:, 0, top : top + h * k, left : left + w * k] = images
    return out
