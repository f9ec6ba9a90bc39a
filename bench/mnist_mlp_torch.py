"""PyTorch eager doing what `gradus train examples/mnist-mlp.toml` does, for bench/e2e_mnist.py.

    bench/.venv/bin/python bench/mnist_mlp_torch.py [--threads 2] [--data data/mnist] [--epochs 10]

The same work as the example: the MNIST IDX files of data/mnist (pixels / 255, flattened to 784),
6,000 of the 60,000 training images held out at random for validation (a NumPy draw: the same
sizes as gradus's split, not the same images), an MLP 784-512-256-10 with ReLU and PyTorch's
default init (gradus's `Linear` uses the same U(-1/sqrt(in), 1/sqrt(in))), softmax cross-entropy,
Adam (lr 1e-3, betas (0.9, 0.999), eps 1e-8), a cosine schedule stepped every batch from 1e-3 to
1e-5 over the run's 10 x 422 steps, shuffled batches of 128 (the last one partial), the validation
loss and accuracy after every epoch, early stopping after 3 epochs without a lower validation
loss, and the accuracy on the 10,000 test images at the end. Prints one JSON line: wall seconds
from start to end (data loading included, interpreter start-up and imports not), seconds in the
training steps, the accuracies and the epochs run.
"""
import argparse, gzip, json, math, os, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_idx(path):
    import numpy as np
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(folder, prefix):
    import numpy as np
    x = read_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"))
    return (x.reshape(len(x), -1).astype(np.float32) / 255.0), y.astype(np.int64)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "mnist"))
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import numpy as np
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    start = time.perf_counter()

    x, y = load(args.data, "train")
    order = np.random.default_rng(args.seed).permutation(len(x))
    n_val = round(len(x) * 0.1)
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    xt, yt = torch.from_numpy(x[train_idx]), torch.from_numpy(y[train_idx])
    xv, yv = torch.from_numpy(x[val_idx]), torch.from_numpy(y[val_idx])

    model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 256),
                                torch.nn.ReLU(), torch.nn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    batch = 128
    steps_per_epoch = math.ceil(len(xt) / batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs * steps_per_epoch, eta_min=1e-5)

    def evaluate(xs, ys):
        model.eval()
        with torch.no_grad():
            logits = model(xs)
            loss = F.cross_entropy(logits, ys).item()
            acc = (logits.argmax(1) == ys).float().mean().item()
        model.train()
        return loss, acc

    best, bad, epochs, train_s, val_acc = math.inf, 0, 0, 0.0, None
    gen = torch.Generator().manual_seed(args.seed)
    for _ in range(args.epochs):
        t = time.perf_counter()
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(steps_per_epoch):
            idx = perm[i * batch:(i + 1) * batch]
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
            sched.step()
        train_s += time.perf_counter() - t
        epochs += 1
        val_loss, val_acc = evaluate(xv, yv)
        if val_loss < best:
            best, bad = val_loss, 0
        else:
            bad += 1
            if bad >= 3:
                break

    xs, ys = load(args.data, "t10k")
    _, test_acc = evaluate(torch.from_numpy(xs), torch.from_numpy(ys))
    wall = time.perf_counter() - start
    print(json.dumps({"wall_seconds": wall, "train_seconds": train_s, "epochs": epochs,
                      "val_accuracy": val_acc, "test_accuracy": test_acc, "threads": args.threads}))


if __name__ == "__main__":
    main()
