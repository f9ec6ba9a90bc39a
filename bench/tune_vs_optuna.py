"""gradus-tune's TPE, GP-EI and random search against Optuna's TPESampler on the same functions and
budgets, in one run: median regret (best found minus the known minimum) over seeds, after each
budget of trials.

    python3 -m venv bench/.venv && bench/.venv/bin/pip install optuna==4.6.0
    bench/.venv/bin/python bench/tune_vs_optuna.py [--seeds 20] [--trials 100]

The gradus side is `cargo run --release -p gradus-tune --example regret -- FUNCTION SAMPLER
TRIALS SEEDS` (one JSON list of best-so-far values per seed). Optuna runs with its defaults
(`TPESampler(seed=s)`: univariate, 10 start-up trials, 24 candidates), the same search spaces
(uniform, log-uniform, int with step) and the same functions, written out below as in
crates/gradus-tune/examples/regret.rs.
"""
import argparse, json, math, os, platform, statistics, subprocess, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BRANIN_MIN = 0.397887357729738
HARTMANN6_MIN = -3.32237

def branin(x1, x2):
    b = 5.1 / (4 * math.pi ** 2)
    return (x2 - b * x1 * x1 + 5 / math.pi * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10

ALPHA = [1.0, 1.2, 3.0, 3.2]
A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
P = [[0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886], [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
     [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650], [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381]]

def hartmann6(x):
    return -sum(ALPHA[i] * math.exp(-sum(A[i][j] * (x[j] - P[i][j]) ** 2 for j in range(6))) for i in range(4))

def log_quadratic(lr, wd, batch):
    return (math.log(lr) - math.log(3e-3)) ** 2 + 0.5 * (math.log(wd) - math.log(1e-4)) ** 2 + ((batch - 64) / 32) ** 2

def objective(name):
    if name == "branin":
        return lambda t: branin(t.suggest_float("x1", -5, 10), t.suggest_float("x2", 0, 15))
    if name == "hartmann6":
        return lambda t: hartmann6([t.suggest_float(f"x{i}", 0, 1) for i in range(6)])
    return lambda t: log_quadratic(t.suggest_float("lr", 1e-6, 1, log=True), t.suggest_float("wd", 1e-6, 1, log=True),
                                   t.suggest_int("batch", 8, 256, step=8))

MINIMA = {"branin": BRANIN_MIN, "hartmann6": HARTMANN6_MIN, "log_quadratic": 0.0}

def optuna_curves(name, trials, seeds):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    curves = []
    for s in range(seeds):
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=s))
        study.optimize(objective(name), n_trials=trials)
        best, curve = math.inf, []
        for t in study.trials:
            best = min(best, t.value)
            curve.append(best)
        curves.append(curve)
    return curves

def gradus_curves(name, sampler, trials, seeds):
    cmd = ["cargo", "run", "--release", "-q", "-p", "gradus-tune", "--example", "regret", "--",
           name, sampler, str(trials), str(seeds)]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("[")]

def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--trials", type=int, default=100)
    args = ap.parse_args()
    import optuna
    budgets = [b for b in (20, 40, 60, 100, 200) if b <= args.trials]
    print(f"# {time.strftime('%Y-%m-%d')}, {cpu_model()}, optuna {optuna.__version__}, "
          f"{args.seeds} seeds: median regret after N trials (lower is better)")
    print("| function | sampler | " + " | ".join(f"N={b}" for b in budgets) + " |")
    print("|---|---|" + "---|" * len(budgets))
    for name in ("branin", "hartmann6", "log_quadratic"):
        runs = {
            "gradus tpe": gradus_curves(name, "tpe", args.trials, args.seeds),
            "optuna tpe": optuna_curves(name, args.trials, args.seeds),
            "gradus gp": gradus_curves(name, "gp", args.trials, args.seeds),
            "gradus random": gradus_curves(name, "random", args.trials, args.seeds),
        }
        for label, curves in runs.items():
            cells = [f"{statistics.median(c[b - 1] - MINIMA[name] for c in curves):.4g}" for b in budgets]
            print(f"| {name} | {label} | " + " | ".join(cells) + " |", flush=True)

if __name__ == "__main__":
    main()
