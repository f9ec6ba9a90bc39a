"""sample_weight in fit, partial_fit and score: as in scikit-learn, the weighted loss
``Σ wᵢ lossᵢ / Σ wᵢ``, so an integer weight is that many copies of a row and a zero weight drops
it (full batch runs, where copies change no batch; float32, so to a tolerance)."""

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler

from gradus.sklearn import LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor


@pytest.fixture(scope="module")
def data():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    w = np.random.default_rng(0).integers(0, 4, size=len(y))  # zeros among them
    return X, y, w


def _estimators():
    full = dict(batch="full", epochs=40, random_state=0)
    return [
        (LogisticRegression(**full), "class"),
        (MLPClassifier((8,), lr=1e-2, **full), "class"),
        (LinearRegression(**full), "value"),
        (MLPRegressor((8,), lr=1e-2, **full), "value"),
    ]


@pytest.mark.parametrize("est,kind", _estimators(), ids=lambda e: type(e).__name__)
def test_integer_weights_are_copies_and_zero_weights_drop_rows(data, est, kind):
    X, y, w = data
    target = y if kind == "class" else X[:, 0] - X[:, 2]
    weighted = type(est)(**est.get_params()).fit(X, target, sample_weight=w)
    copies = type(est)(**est.get_params()).fit(np.repeat(X, w, axis=0), np.repeat(target, w))
    np.testing.assert_allclose(weighted._raw(X), copies._raw(X), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(weighted.loss_curve_, copies.loss_curve_, rtol=1e-4)
    # and the weights change the fit: without them it ends elsewhere
    plain = type(est)(**est.get_params()).fit(X, target)
    assert np.abs(plain._raw(X) - weighted._raw(X)).max() > 1e-2


def test_partial_fit_and_score_take_sample_weight(data):
    X, y, w = data
    a = LogisticRegression(batch="full", random_state=0)
    b = LogisticRegression(batch="full", random_state=0)
    a.partial_fit(X, y, classes=[0, 1, 2], sample_weight=w)
    b.partial_fit(np.repeat(X, w, axis=0), np.repeat(y, w), classes=[0, 1, 2])
    for _ in range(3):
        a.partial_fit(X, y, sample_weight=w)
        b.partial_fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(a._raw(X), b._raw(X), rtol=1e-4, atol=1e-4)
    hits = a.predict(X) == y
    assert a.score(X, y, sample_weight=w) == pytest.approx(np.average(hits, weights=w))


def test_bad_weights_are_value_errors(data):
    X, y, w = data
    with pytest.raises(ValueError, match="[Nn]egative"):
        LinearRegression().fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError):
        LinearRegression().fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError):
        LinearRegression().fit(X, y, sample_weight=np.zeros(len(y)))
