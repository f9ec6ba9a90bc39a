"""Alternate one comparison between its peers and gradus, round after round, in one run.

    bench/.venv/bin/python bench/alternate.py NAME [--rounds 10] [--threads 2] [--gradus-cmd TEMPLATE]

NAME is a comparison of compare.py (e.g. adam_10m, lstm_seq32_fwd_bwd). Each round runs every
peer of NAME and then gradus, each in a fresh process, so that all sides see the same moments of
a shared, noisy machine. Prints each round, then per side the median time, the median of the
per-round ratios (peer / gradus: > 1 means gradus is faster) and in how many rounds gradus won.
Build first: cargo build --release -p gradus-bench.
"""
import argparse, json, os, shlex, statistics, subprocess, sys

import peers
from compare import COMPARISONS, ROOT

DEFAULT_CMD = "target/release/{bin} --json --threads {threads}"


def gradus_seconds(name, template, threads):
    cmd = shlex.split(template.format(bin=COMPARISONS[name], threads=threads))
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    for line in out.stdout.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and obj.get("name") == name:
            return obj["seconds"]
    sys.exit(f"gradus printed no {name}: {out.stderr.strip()[-300:]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", choices=sorted(COMPARISONS))
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gradus-cmd", default=DEFAULT_CMD)
    args = ap.parse_args()

    indices = [i for i, (n, _) in enumerate(peers.all_benches()) if n == args.name]
    times = {}  # side -> seconds per round
    for r in range(args.rounds):
        row = {}
        for i in indices:
            res = peers.run_one(i, args.threads)
            if res.get("seconds") is not None:
                row[res["lib"]] = res["seconds"]
        row["gradus"] = gradus_seconds(args.name, args.gradus_cmd, args.threads)
        for side, s in row.items():
            times.setdefault(side, []).append(s)
        print(f"round {r + 1:2}: " + "  ".join(f"{k} {v * 1e3:.3f} ms" for k, v in row.items()), flush=True)

    g = times["gradus"]
    print(f"\n{args.name}, {args.rounds} rounds, {args.threads} threads")
    print(f"  gradus         median {statistics.median(g) * 1e3:8.3f} ms")
    for side, t in times.items():
        if side == "gradus":
            continue
        ratios = [p / q for p, q in zip(t, g)]
        wins = sum(q < p for p, q in zip(t, g))
        print(f"  {side:14} median {statistics.median(t) * 1e3:8.3f} ms   "
              f"median ratio {statistics.median(ratios):.3f}   gradus faster in {wins}/{len(g)} rounds")


if __name__ == "__main__":
    main()
