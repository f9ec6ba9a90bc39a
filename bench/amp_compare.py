"""The GPT training step in bf16 mixed precision, side by side: gradus against PyTorch's autocast.

    bench/.venv/bin/python bench/amp_compare.py [--rounds 6] [--threads 2] [--gradus-cmd TEMPLATE]

The model and step of `gpt_alternate.py` (2 pre-norm blocks, width 128, 4 heads, context 64,
batch 32, vocabulary 65, tied embeddings, AdamW): PyTorch runs the forward pass and the loss
under `torch.autocast("cpu", dtype=torch.bfloat16)` (f32 parameters and AdamW state), gradus
runs them under `precision::autocast(bf16)` (`gpt_bf16_train_step` of the `gpt_amp` bench, as
`[train] precision = "bf16-mixed"` does). Both f32 steps are timed too, for the speed-up each
side gets from bf16. Each round runs every side in a fresh process, alternated, so that all
see the same moments of a shared machine; prints the medians and the median of the per-round
ratios (PyTorch / gradus: > 1 means gradus is faster). On a CPU without AVX512_BF16 neither
side has bf16 hardware to use (PyTorch converts to f32 inside its kernels; gradus rounds f32
values), which the printed CPU flags say.
Build first: cargo build --release -p gradus-bench --bin gpt_amp.
"""
import argparse, json, os, shlex, statistics, subprocess, sys

import gpt_alternate
import peers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CMD = "target/release/gpt_amp --json --threads {threads}"
SIDES = {"bf16": "gpt_bf16_train_step", "f32": "gpt_f32_train_step"}


def cpu_has_bf16():
    try:
        with open("/proc/cpuinfo") as f:
            return "avx512_bf16" in f.read()
    except OSError:
        return None


def torch_seconds(precision, threads):
    cmd = [sys.executable, os.path.abspath(__file__), "--threads", str(threads), "--only", precision]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if out.returncode or not lines:
        sys.exit(f"PyTorch {precision} failed: {out.stderr.strip()[-300:]}")
    return json.loads(lines[-1])["seconds"]


def gradus_seconds(template, threads):
    cmd = shlex.split(template.format(threads=threads))
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    found = {}
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            found[row.get("name")] = row["seconds"]
    missing = [n for n in SIDES.values() if n not in found]
    if missing:
        sys.exit(f"gradus printed no {missing}: {out.stderr.strip()[-300:]}")
    return {p: found[n] for p, n in SIDES.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gradus-cmd", default=DEFAULT_CMD)
    ap.add_argument("--only", choices=sorted(SIDES), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.only:  # one PyTorch side in this process
        peers.configure(args.threads)
        print(json.dumps(gpt_alternate.torch_gpt(autocast=args.only == "bf16")))
        return

    print(f"AVX512_BF16: {cpu_has_bf16()}")
    times = {}
    for r in range(args.rounds):
        row = {f"torch {p}": torch_seconds(p, args.threads) for p in SIDES}
        row.update({f"gradus {p}": s for p, s in gradus_seconds(args.gradus_cmd, args.threads).items()})
        for side, s in row.items():
            times.setdefault(side, []).append(s)
        print(f"round {r + 1:2}: " + "  ".join(f"{k} {v * 1e3:.2f} ms" for k, v in row.items()), flush=True)

    tokens = gpt_alternate.B * gpt_alternate.T
    print(f"\nGPT train step, {args.rounds} rounds, {args.threads} threads, {tokens} tokens per step")
    for side, t in times.items():
        print(f"  {side:12} median {statistics.median(t) * 1e3:8.2f} ms  {tokens / statistics.median(t):9.0f} tokens/s")
    for p in SIDES:
        t, g = times[f"torch {p}"], times[f"gradus {p}"]
        ratios = [a / b for a, b in zip(t, g)]
        won = sum(b < a for a, b in zip(t, g))
        print(f"  {p}: torch / gradus {statistics.median(ratios):.2f}  gradus won {won}/{len(g)}")
    for side in ("torch", "gradus"):
        speedup = [a / b for a, b in zip(times[f"{side} f32"], times[f"{side} bf16"])]
        print(f"  {side}: f32 / bf16 step time {statistics.median(speedup):.2f}")


if __name__ == "__main__":
    main()
