"""Top Hessian eigenvalue of the MNIST MLP 784-512-256-10 (535,818 parameters): gradus (Lanczos,
gradus-analysis) against PyTorch (PyHessian's power iteration), on the same weights and the same
MNIST images, in one run with the two sides alternated round by round.

    bench/.venv/bin/python bench/hessian_vs_pyhessian.py [--samples 1000] [--steps 20]
        [--power-iters 100] [--tol 1e-3] [--threads 2] [--rounds 3]

The gradus side is `gradus-bench --bin hessian`: it builds the MLP (seed 0), writes its weights to
a safetensors file, and times one Hessian-vector product and `--steps` Lanczos steps. The PyTorch
side loads those weights into nn.Sequential and runs PyHessian's `eigenvalues` loop (Yao et al.
2020, pyhessian/hessian.py): the gradient is taken once with create_graph=True, then each
product is torch.autograd.grad(g, params, grad_outputs=v, retain_graph=True); power iteration
until the relative change is below --tol or --power-iters products. Both read the first --samples
training images of data/mnist (bytes / 255), one batch, f32.

Printed: per side the median seconds of the estimate and of one Hessian-vector product (from
scratch, and on a kept gradient graph as both estimates use), the products used and the
eigenvalue found (the two must agree: same model, same data). Report the machine's load with the
figures: PyTorch's OpenMP threads suffer more than rayon's from a crowded machine.
"""
import argparse, gzip, json, os, shlex, statistics, subprocess, sys, tempfile, time

import numpy as np
import torch
from safetensors.torch import load_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CMD = "cargo run --release -q -p gradus-bench --bin hessian -- --json --threads {threads} --samples {samples} --steps {steps} --reps 1 --save {save}"


def mnist(samples):
    with gzip.open(os.path.join(ROOT, "data/mnist/train-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)[:samples]
    with gzip.open(os.path.join(ROOT, "data/mnist/train-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)[:samples]
    return torch.from_numpy(images.astype(np.float32) / 255.0), torch.from_numpy(labels.astype(np.int64))


def torch_model(path):
    """nn.Sequential with gradus's weights: gradus Mlp names them `<index>.weight` / `.bias`, laid
    out [out, in] as nn.Linear."""
    state = load_file(path)
    layers = sorted({int(k.split(".")[0]) for k in state})
    mods = []
    for i, idx in enumerate(layers):
        w, b = state[f"{idx}.weight"], state[f"{idx}.bias"]
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(w)
            lin.bias.copy_(b)
        mods.append(lin)
        if i + 1 < len(layers):
            mods.append(torch.nn.ReLU())
    return torch.nn.Sequential(*mods)


def pyhessian_top(model, x, y, max_iter, tol):
    """PyHessian's `eigenvalues(top_n=1)`: power iteration on a cached gradient graph."""
    params = [p for p in model.parameters() if p.requires_grad]
    loss = torch.nn.functional.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    v = [torch.randn_like(p) for p in params]
    norm = torch.sqrt(sum((a * a).sum() for a in v))
    v = [a / (norm + 1e-6) for a in v]
    eigenvalue, products = None, 0
    for _ in range(max_iter):
        hv = torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)
        products += 1
        tmp = sum((a * b).sum() for a, b in zip(hv, v)).item()
        norm = torch.sqrt(sum((a * a).sum() for a in hv))
        v = [a / (norm + 1e-6) for a in hv]
        if eigenvalue is not None and abs(eigenvalue - tmp) / (abs(eigenvalue) + 1e-6) < tol:
            eigenvalue = tmp
            break
        eigenvalue = tmp
    return eigenvalue, products


def torch_hvp_seconds(model, x, y):
    """One product from scratch (forward, gradient with graph, double backward) and one on the
    kept graph, as gradus times them (after one warm-up product)."""
    params = list(model.parameters())
    v = [torch.randn_like(p) for p in params]
    t = time.perf_counter()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    g = torch.autograd.grad(loss, params, create_graph=True)
    torch.autograd.grad(g, params, grad_outputs=v, retain_graph=True)
    fresh = time.perf_counter() - t
    t = time.perf_counter()
    torch.autograd.grad(g, params, grad_outputs=v, retain_graph=True)
    return fresh, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--power-iters", type=int, default=100)
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x, y = mnist(a.samples)
    g_top, g_hvp, g_kept, t_top, t_hvp, t_kept = [], [], [], [], [], []
    g_info = t_info = None
    with tempfile.TemporaryDirectory() as tmp:
        save = os.path.join(tmp, "mlp.safetensors")
        cmd = shlex.split(CMD.format(threads=a.threads, samples=a.samples, steps=a.steps, save=save))
        env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads))
        for r in range(a.rounds):
            out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
            lines = {o["name"]: o for o in map(json.loads, filter(str.strip, out.stdout.splitlines()))}
            g_hvp.append(lines["hessian_hvp"]["seconds"])
            g_kept.append(lines["hessian_hvp_kept"]["seconds"])
            g_top.append(lines["hessian_top_eig_lanczos"]["seconds"])
            g_info = lines["hessian_top_eig_lanczos"]
            model = torch_model(save)
            fresh, kept = torch_hvp_seconds(model, x, y)
            t_hvp.append(fresh)
            t_kept.append(kept)
            t = time.perf_counter()
            eig, products = pyhessian_top(model, x, y, a.power_iters, a.tol)
            t_top.append(time.perf_counter() - t)
            t_info = (eig, products)
    med = statistics.median
    print(f"MNIST MLP 784-512-256-10, {a.samples} images, f32, {a.threads} threads, {a.rounds} alternated rounds (medians)")
    print(f"{'':34}{'gradus':>14}{'PyTorch':>14}{'ratio':>8}")
    print(f"{'top eigenvalue estimate (s)':34}{med(g_top):14.3f}{med(t_top):14.3f}{med(t_top) / med(g_top):8.2f}")
    print(f"{'one product from scratch (s)':34}{med(g_hvp):14.4f}{med(t_hvp):14.4f}{med(t_hvp) / med(g_hvp):8.2f}")
    print(f"{'one product on a kept graph (s)':34}{med(g_kept):14.4f}{med(t_kept):14.4f}{med(t_kept) / med(g_kept):8.2f}")
    print(f"{'products used':34}{g_info['hvps']:14d}{t_info[1]:14d}")
    print(f"{'top eigenvalue':34}{g_info['eigenvalue']:14.6f}{t_info[0]:14.6f}")
    print(f"gradus: Lanczos, {a.steps} steps (residual {g_info['residual']:.2e}); PyTorch: PyHessian power iteration, tol {a.tol}")
    print("ratio = PyTorch seconds / gradus seconds (> 1: gradus faster)")


if __name__ == "__main__":
    sys.exit(main())
