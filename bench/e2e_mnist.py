"""End to end: `gradus train examples/mnist-mlp.toml` against bench/mnist_mlp_torch.py, alternated.

    bench/.venv/bin/python bench/e2e_mnist.py [--rounds 3] [--threads 2] [--gradus target/release/gradus]

Each round runs the PyTorch script and then `gradus train` (into a temporary run folder, `--quiet`),
each in a fresh process, so both see the same moments of a shared machine. Wall time is the whole
process, start to exit, as a user waits for it (PyTorch's interpreter start-up and imports
included); the PyTorch script's own figure without them is printed next to it. Prints each round,
then the median wall times, the median of the per-round ratios (PyTorch / gradus: > 1 means gradus
is faster), the rounds gradus won and both sides' accuracies. Build first:
cargo build --release -p gradus-cli.
"""
import argparse, csv, json, os, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join("examples", "mnist-mlp.toml")


def timed(cmd, env):
    t = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - t
    if out.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr.strip()[-500:]}")
    return wall, out.stdout


def accuracies(summary):
    """The accuracy figures of a summary.json (keys naming an accuracy, at any depth)."""
    found = {}

    def walk(obj, prefix):
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{prefix}{k}.")
        elif isinstance(obj, (int, float)) and "acc" in prefix.lower():
            found[prefix[:-1]] = obj
    walk(summary, "")
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gradus", default=os.path.join("target", "release", "gradus"))
    args = ap.parse_args()
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    torch_cmd = [sys.executable, os.path.join("bench", "mnist_mlp_torch.py"), "--threads", str(args.threads)]
    walls = {"torch": [], "gradus": []}
    for r in range(args.rounds):
        t_wall, t_out = timed(torch_cmd, env)
        torch_res = json.loads([l for l in t_out.splitlines() if l.startswith("{")][-1])
        with tempfile.TemporaryDirectory() as run_dir:
            g_wall, _ = timed([args.gradus, "train", CONFIG, "--out", run_dir, "--overwrite", "--quiet"], env)
            summary = os.path.join(run_dir, "summary.json")
            if os.path.exists(summary):
                with open(summary) as f:
                    g_acc = accuracies(json.load(f))
            else:  # the last epoch's validation accuracy
                with open(os.path.join(run_dir, "metrics.csv")) as f:
                    last = list(csv.DictReader(f))[-1]
                g_acc = {"val accuracy": float(last["accuracy"])}
        walls["torch"].append(t_wall)
        walls["gradus"].append(g_wall)
        print(f"round {r + 1}: torch {t_wall:.2f} s (script {torch_res['wall_seconds']:.2f} s, steps "
              f"{torch_res['train_seconds']:.2f} s, {torch_res['epochs']} epochs, val acc "
              f"{torch_res['val_accuracy']:.4f}, test acc {torch_res['test_accuracy']:.4f})  "
              f"gradus {g_wall:.2f} s ({', '.join(f'{k} {v:.4f}' for k, v in g_acc.items())})", flush=True)
    ratios = [t / g for t, g in zip(walls["torch"], walls["gradus"])]
    wins = sum(g < t for t, g in zip(walls["torch"], walls["gradus"]))
    print(f"\nmnist-mlp end to end, {args.rounds} rounds, {args.threads} threads")
    print(f"  torch  median {statistics.median(walls['torch']):.2f} s")
    print(f"  gradus median {statistics.median(walls['gradus']):.2f} s")
    print(f"  median ratio (torch / gradus) {statistics.median(ratios):.3f}, gradus faster in {wins}/{args.rounds} rounds")


if __name__ == "__main__":
    main()
