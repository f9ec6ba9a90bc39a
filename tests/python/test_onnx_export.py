"""`gradus export MODEL --onnx out.onnx`: every exported model passes the ONNX checker (full
check) and ONNX Runtime's outputs equal gradus's forward pass within 1e-5 on the inputs gradus
wrote beside it (`--sample`)."""

import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from common import REPO, gradus, read_safetensors, run_tests

CSV = """
seed = 2
epochs = 2
[data]
format = "csv"
path = "{repo}/data/{file}"
target = "{target}"
task = "{task}"
standardize = true
[model]
{model}
[optimizer]
name = "adam"
lr = 0.01
[batch]
size = 32
"""

MNIST_CNN = """
seed = 2
epochs = 1
[data]
format = "mnist"
path = "{repo}/data/mnist"
limit = 96
[model]
kind = "cnn"
[optimizer]
name = "adam"
lr = 0.002
[batch]
size = 32
"""

GPT = """
seed = 2
epochs = 1
max_steps = 3
[data]
format = "text"
path = "{repo}/data/tinyshakespeare/input.txt"
block_size = 12
limit = 2000
[model]
kind = "gpt"
width = 16
layers = 2
heads = 2
tie_weights = {tie}
[optimizer]
name = "adamw"
lr = 0.003
[batch]
size = 16
"""

CASES = {
    "linear": CSV.format(repo=REPO, file="house-prices.csv", target="price", task="regression",
                         model='kind = "linear"'),
    "logistic": CSV.format(repo=REPO, file="sklearn/breast_cancer.csv", target="target",
                           task="binary", model='kind = "logistic"'),
    "softmax": CSV.format(repo=REPO, file="sklearn/iris.csv", target="target",
                          task="classification", model='kind = "softmax"'),
    "mlp-relu": CSV.format(repo=REPO, file="sklearn/digits.csv", target="target",
                           task="classification", model='kind = "mlp"\nhidden = [32, 16]'),
    "mlp-gelu": CSV.format(repo=REPO, file="sklearn/wine.csv", target="target",
                           task="classification",
                           model='kind = "mlp"\nhidden = [16]\nactivation = "gelu"'),
    "mlp-silu": CSV.format(repo=REPO, file="sklearn/iris.csv", target="target",
                           task="classification",
                           model='kind = "mlp"\nhidden = [8, 8]\nactivation = "silu"'),
    "mlp-elu": CSV.format(repo=REPO, file="sklearn/diabetes.csv", target="target",
                          task="regression", model='kind = "mlp"\nhidden = [8]\nactivation = "elu"'),
    "mlp-leaky_relu": CSV.format(repo=REPO, file="sklearn/iris.csv", target="target",
                                 task="classification",
                                 model='kind = "mlp"\nhidden = [8]\nactivation = "leaky_relu"'),
    "mlp-tanh": CSV.format(repo=REPO, file="sklearn/breast_cancer.csv", target="target",
                           task="binary",
                           model='kind = "mlp"\nhidden = [8, 8]\nactivation = "tanh"'),
    "mlp-sigmoid": CSV.format(repo=REPO, file="sklearn/wine.csv", target="target",
                                   task="classification",
                                   model='kind = "mlp"\nhidden = [8, 8]\nactivation = "sigmoid"'),
    "cnn": MNIST_CNN.format(repo=REPO),
    "gpt-tied": GPT.format(repo=REPO, tie="true"),
    "gpt-untied": GPT.format(repo=REPO, tie="false"),
    "lstm-2-layers": CSV.format(repo=REPO, file="sklearn/iris.csv", target="target",
                                task="classification",
                                model='kind = "lstm"\nwidth = 8\nlayers = 2'),
    "lstm-mnist-rows": MNIST_CNN.format(repo=REPO).replace('kind = "cnn"',
                                                           'kind = "lstm"\nwidth = 16'),
}


def export(name: str, tmp: Path) -> tuple:
    config = tmp / f"{name}.toml"
    config.write_text(CASES[name])
    run = tmp / name
    gradus("train", config, "--out", run, "--quiet")
    out = tmp / f"{name}.onnx"
    gradus("export", run / "model.safetensors", "--onnx", out, "--sample", "16")
    return out, read_safetensors(tmp / f"{name}.sample.safetensors")


def check(name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path, sample = export(name, Path(tmp))
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        assert model.opset_import[0].version == 17
        dim0 = model.graph.input[0].type.tensor_type.shape.dim[0]
        assert dim0.dim_param == "batch", dim0
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        x, want = sample["input"], sample["output"]
        if session.get_inputs()[0].type == "tensor(int64)":
            x = x.astype(np.int64)  # token ids
        # the batch dimension is dynamic: all 16 rows at once, and one row alone
        got = session.run(["output"], {"input": x})[0]
        assert got.shape == want.shape, (got.shape, want.shape)
        err = np.max(np.abs(got.astype(np.float64) - want) / np.maximum(1.0, np.abs(want)))
        assert err <= 1e-5, f"{name}: largest difference {err:.3e}"
        one = session.run(["output"], {"input": x[3:4]})[0]
        assert np.max(np.abs(one - want[3:4]) / np.maximum(1.0, np.abs(want[3:4]))) <= 1e-5
        print(f"      {name}: max relative difference {err:.2e}")


def make_test(name: str):
    def test():
        check(name)
    test.__name__ = f"test_onnx_{name}"
    return test


def test_unsupported_kinds_are_refused_by_name():
    config = """
seed = 0
epochs = 1
[data]
format = "ratings"
path = "{repo}/data/ratings.csv"
target = "rating"
features = ["user", "item"]
[model]
kind = "mf"
[optimizer]
name = "sgd"
lr = 0.01
[batch]
size = 256
""".format(repo=REPO)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "mf.toml").write_text(config)
        gradus("train", tmp / "mf.toml", "--out", tmp / "mf", "--quiet")
        try:
            gradus("export", tmp / "mf" / "model.safetensors", "--onnx", tmp / "mf.onnx")
        except RuntimeError as e:
            assert 'model.kind = "mf" cannot be exported' in str(e), e
        else:
            raise AssertionError("mf was exported")


if __name__ == "__main__":
    run_tests([make_test(n) for n in CASES] + [test_unsupported_kinds_are_refused_by_name])
