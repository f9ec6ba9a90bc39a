"""Checks that model files written by `gradus train` load in PyTorch and give the same predictions.

    bench/.venv/bin/python bench/torch_interop.py RUN_DIR_MLP RUN_DIR_CNN

RUN_DIR_MLP is a run of examples/mnist-mlp.toml, RUN_DIR_CNN one of examples/mnist-cnn.toml.
Each model.safetensors is loaded with `safetensors.torch.load_file` + a strict
`model.load_state_dict` into the equivalent PyTorch module; the script then evaluates it on the
MNIST test set and prints its accuracy next to the one gradus recorded in summary.json.
"""
import gzip, json, os, struct, sys

import torch
from safetensors.torch import load_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def mnist_test():
    d = os.path.join(ROOT, "data", "mnist")
    x = idx(os.path.join(d, "t10k-images-idx3-ubyte.gz")).float().div(255).unsqueeze(1)
    y = idx(os.path.join(d, "t10k-labels-idx1-ubyte.gz")).long()
    return x, y


class LeNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = torch.nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = torch.nn.Linear(400, 120), torch.nn.Linear(120, 84), torch.nn.Linear(84, 10)

    def forward(self, x):
        f = torch.nn.functional
        x = f.max_pool2d(f.relu(self.conv1(x)), 2)
        x = f.max_pool2d(f.relu(self.conv2(x)), 2)
        return self.fc3(f.relu(self.fc2(f.relu(self.fc1(x.flatten(1))))))


def check(run_dir, model, flatten):
    model.load_state_dict(load_file(os.path.join(run_dir, "model.safetensors")), strict=True)
    x, y = mnist_test()
    with torch.no_grad():
        acc = (model(x.flatten(1) if flatten else x).argmax(1) == y).float().mean().item()
    gradus_acc = json.load(open(os.path.join(run_dir, "summary.json")))["test"]["accuracy"]
    print(f"{run_dir}: strict load ok; PyTorch test accuracy {acc:.4f}, gradus recorded {gradus_acc:.4f}")
    return abs(acc - gradus_acc) < 5e-4


if __name__ == "__main__":
    mlp = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 256),
                              torch.nn.ReLU(), torch.nn.Linear(256, 10))
    ok = check(sys.argv[1], mlp, True) and check(sys.argv[2], LeNet(), False)
    sys.exit(0 if ok else 1)
