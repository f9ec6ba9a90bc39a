"""f32 GEMM throughput per product, gradus against PyTorch's `torch.mm`, in alternated rounds.

    bench/.venv/bin/python bench/gemm_shapes.py [--rounds 3] [--threads 1]

The products are those of the training benchmarks (the MLP's, the GPT's, the LSTM's), each in the
three operand layouts of a forward and backward pass: `nn` (`x @ w`), `tn` (`xᵀ @ g`, weight
gradients) and `nt` (`g @ wᵀ`, input gradients). Each round runs `target/release/gemm_shapes`
and then the same products in PyTorch, each in a fresh process. Prints per product the median
GFLOP/s of each side and the median per-round ratio (gradus / PyTorch: > 1 means gradus is
faster). Build first: cargo build --release -p gradus-bench.
"""
import argparse, json, os, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))



def shapes(names):
    """The products the gradus binary ran, from its names (`{product}_{layout}_{m}x{n}x{k}`): the
    binary holds the one list, PyTorch runs the same products."""
    out = {}
    for name in names:
        product, _, mnk = name.rsplit("_", 2)
        out[product] = tuple(int(v) for v in mnk.split("x"))
    return [(product, *mnk) for product, mnk in out.items()]


def torch_side(threads, products):
    """Runs in a child process: prints one JSON line per product and layout."""
    import torch
    torch.set_num_threads(threads)
    for name, m, n, k in products:
        a, b = torch.randn(m, k), torch.randn(k, n)
        at, bt = torch.randn(k, m), torch.randn(n, k)
        out = torch.empty(m, n)
        reps = int(min(2000, max(5, 2e9 / (2 * m * n * k))))
        for layout, x, y in [("nn", a, b), ("tn", at.t(), b), ("nt", a, bt.t())]:
            for _ in range(3):
                torch.mm(x, y, out=out)
            ts = []
            for _ in range(reps):
                t = time.perf_counter()
                torch.mm(x, y, out=out)
                ts.append(time.perf_counter() - t)
            s = statistics.median(ts)
            print(json.dumps({"name": f"{name}_{layout}_{m}x{n}x{k}", "gflops": 2 * m * n * k / s / 1e9}))


def read(lines):
    out = {}
    for line in lines.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        out[obj["name"]] = obj["gflops"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--torch-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_child:
        return torch_side(args.threads, json.loads(args.torch_child))
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
    exe = os.path.join(ROOT, "target", "release", "gemm_shapes")
    if not os.path.exists(exe):
        sys.exit("build first: cargo build --release -p gradus-bench")
    g, p = [], []
    for r in range(args.rounds):
        run = lambda cmd: subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        g.append(read(run([exe, "--threads", str(args.threads)])))
        products = json.dumps(shapes(g[-1]))
        p.append(read(run([sys.executable, __file__, "--torch-child", products, "--threads", str(args.threads)])))
        print(f"round {r + 1} done", file=sys.stderr, flush=True)
    print(f"{'product':34} {'gradus':>8} {'torch':>8} {'ratio':>6}  (GFLOP/s, {args.threads} threads, {args.rounds} rounds)")
    for name in g[0]:
        gm = statistics.median(x[name] for x in g)
        pm = statistics.median(x[name] for x in p)
        ratio = statistics.median(x[name] / y[name] for x, y in zip(g, p))
        print(f"{name:34} {gm:8.1f} {pm:8.1f} {ratio:6.2f}")


if __name__ == "__main__":
    main()
