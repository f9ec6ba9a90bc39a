"""fit runs without the GIL, and Ctrl-C stops it: other Python threads run while gradus trains,
and a KeyboardInterrupt (SIGINT, here `_thread.interrupt_main()`) raised during a fit stops it at
the next step and leaves the estimator unfitted. No timing is asserted: the checks look at how
many epochs the run directory's metrics.csv held when a thread saw it."""

import _thread
import os
import threading

import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError

from gradus.sklearn import MLPClassifier

# far more than a test could wait for: the fits below never finish them, even when a loaded
# machine starves the watcher thread for seconds (400 epochs of digits take about 4 s)
EPOCHS = 20_000


def _epochs_written(run_dir):
    """Rows of the run's metrics.csv (written atomically after each epoch), 0 before the first."""
    try:
        with open(os.path.join(run_dir, "metrics.csv")) as f:
            return max(sum(1 for _ in f) - 1, 0)
    except FileNotFoundError:
        return 0


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def _watch(run_dir, until, then):
    """A thread that polls the run directory (Python code: it runs only when the fitting
    thread has let go of the GIL), counting its polls, and calls `then` once it has seen
    `until` epochs written."""
    seen = {"polls": 0, "epochs": 0}

    def poll():
        while seen["epochs"] < until:
            seen["polls"] += 1
            seen["epochs"] = _epochs_written(run_dir)
        then()

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    return seen, thread


def test_ctrl_c_stops_a_fit_and_leaves_the_estimator_unfitted(tmp_path, digits):
    X, y = digits
    run_dir = str(tmp_path / "run")
    clf = MLPClassifier((64,), epochs=EPOCHS, random_state=0, run_dir=run_dir)
    # the watcher saw epoch 2 written while the fit ran, so the fit had released the GIL
    seen, thread = _watch(run_dir, 2, _thread.interrupt_main)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    thread.join()
    assert seen["epochs"] >= 2 and seen["polls"] > 1
    assert 2 <= _epochs_written(run_dir) < EPOCHS  # stopped long before the last epoch
    with pytest.raises(NotFittedError):
        clf.predict(X)


def test_a_fitted_estimator_interrupted_in_partial_fit_still_predicts(tmp_path, digits):
    X, y = digits
    X, y = X.repeat(20, axis=0), y.repeat(20)  # 180 steps an epoch
    run_dir = tmp_path / "run"
    clf = MLPClassifier((64,), epochs=1, random_state=0, run_dir=str(run_dir)).fit(X, y)
    curve = list(clf.loss_curve_)
    os.remove(run_dir / "config.toml")  # each partial_fit's run writes it first
    seen, thread = _watch_file(run_dir / "config.toml", _thread.interrupt_main)
    with pytest.raises(KeyboardInterrupt):
        for _ in range(5_000):  # the signal lands in one of them (each takes ~30 ms)
            clf.partial_fit(X, y)
    thread.join()
    # the model holds the steps it took: it predicts, as well as after its first epoch
    assert clf.predict(X).shape == (len(y),)
    assert clf.score(X, y) > 0.8
    assert clf.loss_curve_[0] == curve[0]


def _watch_file(path, then):
    """A thread that calls `then` once `path` exists (polling without the GIL's help)."""
    seen = {"polls": 0}

    def poll():
        while not os.path.exists(path):
            seen["polls"] += 1
        then()

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    return seen, thread



def _on_a_thread(work):
    """`work()` run on a new thread while the main thread waits in `join`; its result."""
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("value", work()))
    thread.start()
    thread.join()
    return result["value"]


def test_a_fit_on_another_thread_equals_the_main_threads_and_is_used_on_main(digits):
    # Python's main thread is one of rayon's workers (the module is imported there). A fit
    # started from another thread while the main thread sits in `join` must still finish, on
    # the pool's other threads, and give the same model (the products split by shape alone);
    # the estimator it made is then used, and dropped, on the main thread (as scikit-learn's
    # threading backend does). 512 hidden units and batches of 256 make the products run in
    # parallel panels.
    X, y = digits

    def make():
        return MLPClassifier((512,), batch_size=256, epochs=3, random_state=0)

    on_main = make().fit(X, y)
    elsewhere = _on_a_thread(lambda: make().fit(X, y))
    assert (on_main.predict_proba(X) == elsewhere.predict_proba(X)).all()
    assert on_main.loss_curve_ == elsewhere.loss_curve_
    del elsewhere


def test_tensors_and_optimizers_made_on_one_thread_work_on_another():
    import numpy as np

    import gradus

    w, opt = _on_a_thread(lambda: (lambda w: (w, gradus.optim.SGD([w], lr=0.5)))(
        gradus.Tensor(np.array([1.0, -2.0]), requires_grad=True)))
    (w * w).sum().backward()
    opt.step()
    np.testing.assert_array_equal(w.numpy(), [0.0, 0.0])  # w - 0.5 * 2w
    assert _on_a_thread(lambda: (w + w).numpy().tolist()) == [0.0, 0.0]
