"""Before and after a change: two builds of gradus-bench, alternated round by round.

    python3 bench/before_after.py OLD_DIR NEW_DIR [--rounds 6] [--threads 2] [--only NAME ...]

OLD_DIR and NEW_DIR each hold the release binaries of `gradus-bench` (matmul, mlp, adam, conv,
recurrent, elementwise), e.g. target/release of a worktree at the old commit and of this one.
Each round runs every binary from OLD_DIR and then from NEW_DIR, each in a fresh process, so both
builds see the same moments of a shared, noisy machine. For every comparison of compare.py it
prints the median time of each build, the median of the per-round ratios old / new (> 1: the new
build is faster; within about 0.95-1.05 is noise on a shared machine) and in how many rounds the
new build won. Needs only Python 3 (no peers): peer ratios scale by old / new.
"""
import argparse, json, os, statistics, subprocess, sys

from compare import COMPARISONS


def run_binary(path, threads):
    """{name: seconds} from one run of a gradus-bench binary."""
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = subprocess.run([path, "--json", "--threads", str(threads)], env=env,
                         capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        sys.exit(f"{path} failed: {out.stderr.strip()[-300:]}")
    found = {}
    for line in out.stdout.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and "name" in obj and "seconds" in obj:
            found[obj["name"]] = obj["seconds"]
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old_dir")
    ap.add_argument("new_dir")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", nargs="*", help="binaries to run (default: all of compare.py)")
    args = ap.parse_args()

    binaries = sorted(set(COMPARISONS.values()))
    if args.only:
        binaries = [b for b in binaries if b in args.only]
    times = {}  # (side, name) -> [seconds per round]
    for r in range(args.rounds):
        for binary in binaries:
            for side, folder in (("old", args.old_dir), ("new", args.new_dir)):
                for name, s in run_binary(os.path.join(folder, binary), args.threads).items():
                    if name in COMPARISONS:
                        times.setdefault((side, name), []).append(s)
        print(f"round {r + 1}/{args.rounds} done", flush=True)

    print(f"\n{args.rounds} rounds, {args.threads} threads; ratio = old / new (> 1: new is faster)")
    print(f"{'comparison':28} {'old ms':>9} {'new ms':>9} {'ratio':>6}  new won")
    for name in sorted(COMPARISONS):
        old, new = times.get(("old", name)), times.get(("new", name))
        if not old or not new:
            continue
        ratios = [o / n for o, n in zip(old, new)]
        wins = sum(n < o for o, n in zip(old, new))
        print(f"{name:28} {statistics.median(old) * 1e3:9.3f} {statistics.median(new) * 1e3:9.3f} "
              f"{statistics.median(ratios):6.3f}  {wins}/{len(ratios)}")


if __name__ == "__main__":
    main()
