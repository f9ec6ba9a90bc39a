"""MNIST MLP inference, f32 against int8, in gradus and in PyTorch, alternated round by round.

    bench/.venv/bin/python bench/quantize_compare.py [--rounds 5] [--threads 2]

The model is the MNIST MLP 784-512-256-10 (ReLU). gradus: `target/release/quantize` (f32 forward
with no tape; int8 from gradus-quant: per-channel int8 weights, dynamic per-row u8 activations,
AVX2/VNNI int8 GEMM). PyTorch: `torch.inference_mode()` f32 and
`torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)` (per-tensor
dynamic activations, fbgemm/x86 kernels) on the same architecture. Each round runs gradus in a
fresh process, then PyTorch, so both see the same moments of a shared machine. Prints each round,
then per case the medians and the int8/f32 speedups (> 1: int8 faster).
Build first: cargo build --release -p gradus-bench --bin quantize. Needs torch (bench/setup.sh).
"""
import argparse, os, statistics, sys

from inference_compare import collect, median_seconds  # same folder: the shared round helpers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = [(1, 2000), (256, 50)]  # (batch, repetitions)


def gradus_round(threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    cmd = [os.path.join(ROOT, "target/release/quantize"), "--json", "--threads", str(threads), "--only", "mlp"]
    return collect(cmd, env)


def torch_round(torch, models):
    res = {}
    for batch, reps in CASES:
        x = torch.rand(batch, 784)
        for kind, m in models.items():
            with torch.inference_mode():
                res[f"mlp_infer_b{batch}_{kind}"] = median_seconds(lambda: m(x), reps)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
        print("torch is not installed (bench/setup.sh installs it): gradus only", file=sys.stderr)
    models = {}
    if torch is not None:
        torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        nn = torch.nn
        f32 = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10)).eval()
        int8 = torch.ao.quantization.quantize_dynamic(f32, {nn.Linear}, dtype=torch.qint8)
        models = {"f32": f32, "int8": int8}

    times = {}  # (side, name) -> seconds per round
    for r in range(args.rounds):
        row = {("gradus", n): s for n, s in gradus_round(args.threads).items()}
        if torch is not None:
            row.update({("torch", n): s for n, s in torch_round(torch, models).items()})
        for k, s in row.items():
            times.setdefault(k, []).append(s)
        print(f"round {r + 1}: " + "  ".join(f"{side}:{n} {s * 1e6:.1f} us" for (side, n), s in sorted(row.items())), flush=True)

    print(f"\nMNIST MLP 784-512-256-10 inference, {args.rounds} rounds, {args.threads} threads (medians)")
    for batch, _ in CASES:
        for side in ("gradus", "torch"):
            f, q = times.get((side, f"mlp_infer_b{batch}_f32")), times.get((side, f"mlp_infer_b{batch}_int8"))
            if not f or not q:
                continue
            speedups = [a / b for a, b in zip(f, q)]
            print(f"  batch {batch:3} {side:6}: f32 {statistics.median(f) * 1e6:9.1f} us  int8 {statistics.median(q) * 1e6:9.1f} us  "
                  f"int8 speedup {statistics.median(speedups):.2f}x  ({batch / statistics.median(q):,.0f} samples/s int8)")
        g, t = times.get(("gradus", f"mlp_infer_b{batch}_int8")), times.get(("torch", f"mlp_infer_b{batch}_int8"))
        if g and t:
            print(f"  batch {batch:3} int8 torch/gradus time ratio {statistics.median([a / b for a, b in zip(t, g)]):.2f} (> 1: gradus faster)")


if __name__ == "__main__":
    main()
