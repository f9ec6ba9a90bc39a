"""Side-by-side: peers (numpy / torch / jax, via peers.py) against gradus, in one run.

    bench/.venv/bin/python bench/compare.py [--threads 2] [--runs 1] [--gradus-cmd TEMPLATE]

The gradus side of each comparison is a command (TEMPLATE, with {bin} and {threads} filled in)
run from the repository root that prints one JSON object per line, e.g.
    {"name": "mlp_train_step", "seconds": 0.0051, "reps": 50, "threads": 2}
"seconds" is the median seconds per operation. Lines that are not JSON objects are ignored.
If the command fails or prints no matching name, the peer figures are shown alone.
Ratio = peer seconds / gradus seconds: > 1 means gradus is faster. With --runs N both sides run
N times and keep their lowest median. For a close contest on a shared machine, alternate.py
interleaves the two sides round by round and reports the median of the per-round ratios.
"""
import argparse, json, os, shlex, subprocess, sys

import peers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CMD = "cargo run --release -q -p gradus-bench --bin {bin} -- --json --threads {threads}"

# comparison name (shared by both sides) -> gradus-bench binary that reports it
COMPARISONS = {
    "matmul_128x784x512": "matmul", "matmul_512x512x512": "matmul", "matmul_1024x1024x1024": "matmul",
    "mlp_train_step": "mlp", "mlp_fwd_bwd": "mlp",
    "adam_10m": "adam",
    "conv2d_1to6_fwd_bwd": "conv", "conv2d_6to16_fwd_bwd": "conv",
    "lenet_train_step": "lenet",
    "lstm_seq1_fwd_bwd": "recurrent", "lstm_seq32_fwd_bwd": "recurrent", "gru_seq32_fwd_bwd": "recurrent",
    "elementwise_fma_1e7": "elementwise",
    "logreg_fullbatch_step": "logreg",
}


def gradus_results(bin_name, template, threads, runs, cache={}):
    """{name: result dict} from one gradus bench binary, run `runs` times keeping each name's
    lowest median (as for the peers); cached per binary; {} if it fails."""
    if bin_name not in cache:
        cmd = shlex.split(template.format(bin=bin_name, threads=threads))
        env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
        found = {}
        for _ in range(runs):
            try:
                out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
                lines = out.stdout.splitlines() if out.returncode == 0 else []
            except (OSError, subprocess.TimeoutExpired):
                lines = []
            for line in lines:
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict) and "name" in obj and "seconds" in obj:
                    best = found.get(obj["name"])
                    if best is None or obj["seconds"] < best["seconds"]:
                        found[obj["name"]] = obj
        cache[bin_name] = found
    return cache[bin_name]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=1, help="repeat each bench (peer and gradus), keep the lowest median")
    ap.add_argument("--gradus-cmd", default=DEFAULT_CMD)
    args = ap.parse_args()

    peers.configure(args.threads)
    print("# " + json.dumps(peers.environment()))
    if os.environ.get("OPENBLAS_CORETYPE") or os.environ.get("OPENBLAS_L2_SIZE"):
        print("# warning: OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE set; numpy may be slow (see bench/README.md)")
    print(f"{'name':24} {'peer':14} {'peer ms':>10} {'gradus ms':>10} {'ratio':>7}")
    missing = set()
    for r in peers.run_isolated(args.threads, args.runs):
        name, peer_s = r["name"], r.get("seconds")
        g = gradus_results(COMPARISONS[name], args.gradus_cmd, args.threads, args.runs).get(name)
        if g is None:
            missing.add(name)
        fmt = lambda s: f"{s * 1e3:10.3f}" if s else f"{'-':>10}"
        ratio = f"{peer_s / g['seconds']:7.2f}" if g and peer_s and g["seconds"] else f"{'-':>7}"
        print(f"{name:24} {r['lib']:14} {fmt(peer_s)} {fmt(g and g['seconds'])} {ratio}", flush=True)
    if missing:
        print(f"# gradus missing for: {', '.join(sorted(missing))}")


if __name__ == "__main__":
    sys.exit(main())
