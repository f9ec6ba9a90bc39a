"""MNIST MLP (784-512-256-10) and LeNet inference side by side, alternated round by round:
gradus (the module's forward under no_grad, the tape-free f32 `Predictor`, int8 from gradus-quant),
PyTorch (`torch.inference_mode()` f32; `quantize_dynamic` int8 for the MLP) and onnxruntime on
the models `gradus export --onnx` writes (the same export code, run by the gradus bench binary).

    python bench/inference_compare.py [--rounds 5] [--threads 2] \\
        [--torch-python bench/.venv/bin/python] [--ort-python tests/python/.venv/bin/python]

Each round runs each side in a fresh process (gradus, then PyTorch, then onnxruntime), so all see
the same moments of a shared machine. Batch 1 measures latency, batch 256 throughput; each case is
the median of many calls after a warm-up, and the table gives the median over rounds and, per
round, each peer's time over the gradus Predictor's (> 1: gradus faster).
Build first: cargo build --release -p gradus-bench --bin quantize. The PyTorch venv is
bench/setup.sh's; the onnxruntime one is tests/python/setup.sh's (weights differ between gradus
and PyTorch: both are seeded random inits of the same architecture, which does not change speed).
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCHES = (1, 256)
SHAPES = {"mlp": (784,), "cnn": (1, 28, 28)}


def reps(model, batch):
    return 2000 if (model, batch) == ("mlp", 1) else 500 if batch == 1 else 50


def median_seconds(f, n):
    for _ in range(max(1, n // 10)):
        f()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def torch_worker(threads):
    import torch
    nn = torch.nn
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10)).eval()
    lenet = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10)).eval()
    models = {
        ("mlp", "f32"): mlp,
        ("mlp", "int8"): torch.ao.quantization.quantize_dynamic(mlp, {nn.Linear}, dtype=torch.qint8),
        ("cnn", "f32"): lenet,
    }
    for batch in BATCHES:
        for (model, kind), m in models.items():
            x = torch.rand(batch, *SHAPES[model])
            with torch.inference_mode():
                s = median_seconds(lambda: m(x), reps(model, batch))
            print(json.dumps({"name": f"{model}_infer_b{batch}_{kind}", "seconds": s}), flush=True)


def ort_worker(threads, onnx_dir):
    import numpy as np
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    for model in SHAPES:
        sess = ort.InferenceSession(os.path.join(onnx_dir, f"{model}.onnx"), opts, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        for batch in BATCHES:
            x = np.random.default_rng(0).random((batch, *SHAPES[model]), dtype=np.float32)
            s = median_seconds(lambda: sess.run(None, {name: x}), reps(model, batch))
            print(json.dumps({"name": f"{model}_infer_b{batch}_f32", "seconds": s}), flush=True)


def collect(cmd, env=None):
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    res = {}
    for line in out.stdout.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and "name" in obj:
            res[obj["name"]] = obj["seconds"]
    if not res:
        sys.exit(f"{cmd[0]} printed nothing: {out.stderr.strip()[-500:]}")
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--torch-python", default=os.path.join(ROOT, "bench/.venv/bin/python"))
    ap.add_argument("--ort-python", default=os.path.join(ROOT, "tests/python/.venv/bin/python"))
    ap.add_argument("--worker", choices=["torch", "ort"], help=argparse.SUPPRESS)
    ap.add_argument("--onnx-dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker == "torch":
        return torch_worker(args.threads)
    if args.worker == "ort":
        return ort_worker(args.threads, args.onnx_dir)

    onnx_dir = tempfile.mkdtemp(prefix="gradus-onnx-")
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
    gradus = [os.path.join(ROOT, "target/release/quantize"), "--json", "--threads", str(args.threads), "--onnx-dir", onnx_dir]
    me = os.path.abspath(__file__)
    sides = {
        "gradus": lambda: collect(gradus, env),
        "torch": lambda: collect([args.torch_python, me, "--worker", "torch", "--threads", str(args.threads)]),
        "ort": lambda: collect([args.ort_python, me, "--worker", "ort", "--threads", str(args.threads), "--onnx-dir", onnx_dir]),
    }
    times = {}  # (side, name) -> seconds per round
    for r in range(args.rounds):
        row = {}
        for side, run in sides.items():
            row.update({(side, n): s for n, s in run().items()})
        for k, s in row.items():
            times.setdefault(k, []).append(s)
        print(f"round {r + 1}: " + "  ".join(f"{side}:{n} {s * 1e6:.1f}us" for (side, n), s in sorted(row.items())), flush=True)

    cols = [("gradus", "predictor", "gradus Predictor f32"), ("gradus", "f32", "gradus forward f32"),
            ("gradus", "int8", "gradus int8"), ("torch", "f32", "PyTorch f32"),
            ("torch", "int8", "PyTorch dynamic int8"), ("ort", "f32", "onnxruntime f32")]
    print(f"\n{args.rounds} rounds, {args.threads} threads; medians, in microseconds per call; "
          "in brackets each one's time over the gradus Predictor's (median of per-round ratios; > 1: the Predictor is faster)\n")
    print("| model | batch | " + " | ".join(c[2] for c in cols) + " |")
    print("|---|---:|" + "---:|" * len(cols))
    for model in SHAPES:
        for batch in BATCHES:
            base = times.get(("gradus", f"{model}_infer_b{batch}_predictor"))
            cells = []
            for side, kind, _ in cols:
                t = times.get((side, f"{model}_infer_b{batch}_{kind}"))
                if not t:
                    cells.append("-")
                    continue
                ratio = f" ({statistics.median([a / b for a, b in zip(t, base)]):.2f})" if base and (side, kind) != ("gradus", "predictor") else ""
                cells.append(f"{statistics.median(t) * 1e6:,.1f}{ratio}")
            print(f"| {model} | {batch} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
