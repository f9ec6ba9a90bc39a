"""gradus's scikit-learn estimators against scikit-learn's, side by side in one run: accuracy
and fit time on the same data with the same model and settings.

    bash python/setup.sh                       # builds the gradus wheel into python/.venv
    python/.venv/bin/python bench/sklearn_compare.py [--rounds 3] [--threads 2] [--mnist-epochs 5] [--skip-mnist] [--skip-a9a] [--data DIR]

- digits (scikit-learn's copy): MLPClassifier(hidden (100,), relu, Adam lr 1e-3, batch 200,
  200 epochs) on a 75/25 split; both run every epoch (scikit-learn's stopping rule off).
- MNIST (../shared/data/mnist; --data names another folder of the same layout): the same MLP, --mnist-epochs epochs, on the 60k/10k split.
- a9a (../shared/data/libsvm): gradus.LogisticRegression (Adam, mini-batches of 256, 5 epochs)
  against scikit-learn's LogisticRegression (lbfgs) and SGDClassifier (log loss, 5 epochs).

Time ratio = scikit-learn seconds / gradus seconds (> 1: gradus is faster), the median over
--rounds rounds that alternate the two sides. The wheel setup.sh builds is a dev-profile
build: build a release wheel (`maturin build --release`) for speed figures.
"""

import argparse
import gzip
import os
import statistics
import struct
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "..", "shared", "data")


def idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = struct.unpack(">" + "I" * dims, raw[4 : 4 + 4 * dims])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def timed(make, X, y, Xt, yt, rounds, name, results):
    times, acc = [], None
    for _ in range(rounds):
        est = make()
        t0 = time.perf_counter()
        est.fit(X, y)
        times.append(time.perf_counter() - t0)
        acc = est.score(Xt, yt)
    results[name] = (statistics.median(times), acc)
    print(f"  {name:34s} {statistics.median(times):8.3f} s   accuracy {acc:.4f}", flush=True)


def compare(title, contenders, X, y, Xt, yt, rounds):
    print(title)
    results = {}
    # alternate the sides round by round, so that load on a shared machine hits both alike
    per_round = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, make in contenders.items():
            r = {}
            timed(make, X, y, Xt, yt, 1, name, r)
            per_round[name].append(r[name])
    for name, runs in per_round.items():
        results[name] = (statistics.median(t for t, _ in runs), runs[-1][1])
    names = list(contenders)
    g = results[names[0]][0]
    for other in names[1:]:
        print(f"  time ratio {other} / {names[0]}: {results[other][0] / g:.2f}x")
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mnist-epochs", type=int, default=5)
    ap.add_argument("--skip-mnist", action="store_true")
    ap.add_argument("--skip-a9a", action="store_true")
    ap.add_argument("--data", default=DATA, help="folder holding mnist/ and libsvm/ (default ../shared/data)")
    args = ap.parse_args()
    for var in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import sklearn
    from sklearn.datasets import load_digits, load_svmlight_file
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    import gradus

    print(f"gradus {gradus.__version__}, scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
          f"{args.threads} threads, {args.rounds} rounds (median)")

    def mlps(epochs):
        return {
            "gradus.MLPClassifier": lambda: gradus.MLPClassifier(
                (100,), optimizer="adam", lr=1e-3, batch_size=200, epochs=epochs, random_state=0),
            "sklearn MLPClassifier": lambda: MLPClassifier(
                (100,), solver="adam", learning_rate_init=1e-3, batch_size=200, max_iter=epochs,
                tol=0.0, n_iter_no_change=epochs + 1, random_state=0),
        }

    import warnings

    from sklearn.exceptions import ConvergenceWarning

    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    Xa, Xb, ya, yb = train_test_split(X, y, test_size=0.25, random_state=0)
    compare("digits (1347 train / 450 test, 64 features), MLP 100 hidden, 200 epochs",
            mlps(200), Xa, ya, Xb, yb, args.rounds)

    mnist = os.path.join(args.data, "mnist")
    if not args.skip_mnist and os.path.isdir(mnist):
        Xa = idx(os.path.join(mnist, "train-images-idx3-ubyte.gz")).reshape(-1, 784) / np.float32(255)
        ya = idx(os.path.join(mnist, "train-labels-idx1-ubyte.gz"))
        Xb = idx(os.path.join(mnist, "t10k-images-idx3-ubyte.gz")).reshape(-1, 784) / np.float32(255)
        yb = idx(os.path.join(mnist, "t10k-labels-idx1-ubyte.gz"))
        compare(f"MNIST (60000 / 10000), MLP 100 hidden, {args.mnist_epochs} epochs",
                mlps(args.mnist_epochs), Xa, ya, Xb, yb, args.rounds)
    elif not args.skip_mnist:
        print(f"MNIST skipped: no folder {mnist}")

    a9a = os.path.join(args.data, "libsvm", "a9a")
    if not args.skip_a9a and os.path.exists(a9a):
        Xa, ya = load_svmlight_file(a9a, n_features=123)
        Xb, yb = load_svmlight_file(a9a + ".t", n_features=123)
        Xa, Xb = Xa.toarray().astype(np.float32), Xb.toarray().astype(np.float32)
        compare("a9a (32561 / 16281, 123 features), logistic regression", {
            "gradus.LogisticRegression": lambda: gradus.LogisticRegression(
                optimizer="adam", lr=1e-2, batch="minibatch", batch_size=256, epochs=5, random_state=0),
            "sklearn LogisticRegression": lambda: LogisticRegression(max_iter=1000),
            "sklearn SGDClassifier": lambda: SGDClassifier(
                loss="log_loss", max_iter=5, tol=None, random_state=0),
        }, Xa, ya, Xb, yb, args.rounds)
    elif not args.skip_a9a:
        print(f"a9a skipped: no file {a9a}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
