"""gradus's bf16 GEMM against PyTorch's CPU bf16 matmul (`torch.matmul` on bf16 tensors, f32
accumulation in oneDNN), rounds alternated between the two so both see the same load.

    bench/.venv/bin/python bench/gemm_bf16_torch.py [--rounds 5] [--threads 2] [--gradus target/debug/gemm_bf16]

Each round runs the gradus binary (`crates/gradus-bench/src/bin/gemm_bf16.rs`, which also times
gradus's f32 GEMM) in a fresh process, then times `torch.matmul` on the same shapes in this one.
Two gradus rows per shape: `Tensor::matmul` on two BF16 tensors (bf16 in and out, as
`torch.matmul` on bf16 tensors: the like-for-like row) and the raw `gemm_bf16` kernel (bf16 in,
f32 out, AVX512_BF16 semantics). Prints per shape and row the median seconds, the median
per-round ratio torch / gradus (> 1: gradus is faster) and gradus's f32 GEMM time / that row's.
"""
import argparse, json, os, statistics, subprocess, time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def torch_seconds(m, k, n):
    a = torch.randn(m, k).to(torch.bfloat16)
    b = torch.randn(k, n).to(torch.bfloat16)
    reps = max(3, min(200, int(2e10 / (2 * m * n * k))))
    for _ in range(2):
        torch.matmul(a, b)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(reps):
            torch.matmul(a, b)
        times.append((time.perf_counter() - t) / reps)
    return statistics.median(times)


def gradus_round(cmd, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = subprocess.run([cmd, "--threads", str(threads)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600, check=True)
    rows = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
    return {r["name"]: r for r in rows}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--gradus", default="target/release/gemm_bf16")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    per = {}
    for r in range(args.rounds):
        g = gradus_round(args.gradus, args.threads)
        shapes = [n[len("gemm_f32_"):] for n in g if n.startswith("gemm_f32_")]
        for shape in shapes:
            m, k, n = map(int, shape.split("x"))
            t = torch_seconds(m, k, n)
            for kind, prefix in (("Tensor::matmul", "matmul_bf16_tensor_"), ("gemm_bf16", "gemm_bf16_")):
                row = g.get(prefix + shape)
                if row is None:
                    continue
                d = per.setdefault((shape, kind), {"gradus": [], "torch": [], "f32": [], "ratio": []})
                d["gradus"].append(row["seconds"])
                d["torch"].append(t)
                d["f32"].append(g["gemm_f32_" + shape]["seconds"])
                d["ratio"].append(t / row["seconds"])
        print(f"round {r + 1}/{args.rounds} done", flush=True)
    print(f"{'shape':>16} {'gradus row':>15} {'gradus ms':>10} {'torch bf16 ms':>14} "
          f"{'torch/gradus':>13} {'won':>5} {'gradus f32/row':>15}")
    for (shape, kind), d in per.items():
        med = statistics.median
        f32_ratio = med([f / b for f, b in zip(d["f32"], d["gradus"])])
        won = sum(x > 1 for x in d["ratio"])
        print(f"{shape:>16} {kind:>15} {med(d['gradus']) * 1e3:10.3f} {med(d['torch']) * 1e3:14.3f} "
              f"{med(d['ratio']):13.2f} {won:>2}/{len(d['ratio']):<2} {f32_ratio:15.2f}")


if __name__ == "__main__":
    main()
