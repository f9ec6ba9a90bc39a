"""Generate L-BFGS reference trajectories from torch.optim.LBFGS (float64).

Usage: python make_lbfgs_reference.py OUT.json
Each case: objective (with its data), LBFGS hyperparameters in PyTorch terms (line_search_fn
absent means None: the fixed step), the initial parameters (a list of tensors, each flattened
row-major, with its shape), and per outer step() the parameters after it, the loss step()
returned, the optimizer's running totals state['func_evals'] and state['n_iter'] and its last
step length state['t']. A case keeps only the steps before torch's own trajectory, started one
ulp away, differs by more than 1e-11 relative (Rosenbrock amplifies rounding that much within a
few dozen iterations: no fair test of 1e-9 agreement past there).
"""
import json, math, sys
import numpy as np
import torch

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(20261201)


def rosenbrock(n, x0):
    return {"kind": "rosenbrock", "a": 1.0, "b": 100.0, "shapes": [[n]], "x0": [x0],
            "doc": "one parameter x of shape [n]; f = sum_i b (x_{i+1} - x_i^2)^2 + (a - x_i)^2"}


def least_squares(m, d, k):
    x = rng.standard_normal((m, d))
    w = rng.standard_normal((d, k))
    y = x @ w + 0.3 * rng.standard_normal((m, k)) + 0.5
    return {"kind": "least_squares", "X": x.tolist(), "Y": y.tolist(), "shapes": [[d, k], [k]],
            "x0": [(0.3 * rng.standard_normal(d * k)).tolist(), (0.3 * rng.standard_normal(k)).tolist()],
            "doc": "parameters W [d, k] then b [k]; f = mean((X W + b - Y)^2) over all N*k entries"}


def logistic(m, d, k):
    x = rng.standard_normal((m, d))
    w = rng.standard_normal((d, k))
    y = ((x @ w + 2.0 * rng.standard_normal((m, k))) > 0).astype(float)
    return {"kind": "logistic", "X": x.tolist(), "Y": y.tolist(), "shapes": [[d, k], [k]],
            "x0": [(0.3 * rng.standard_normal(d * k)).tolist(), (0.3 * rng.standard_normal(k)).tolist()],
            "doc": "parameters W [d, k] then b [k]; f = mean BCEWithLogits(X W + b, Y) over all N*k entries"}


def loss(obj, ps):
    k = obj["kind"]
    if k == "rosenbrock":
        (x,) = ps
        a, b = obj["a"], obj["b"]
        return (b * (x[1:] - x[:-1] ** 2) ** 2 + (a - x[:-1]) ** 2).sum()
    w, bias = ps
    X = torch.tensor(obj["X"]); Y = torch.tensor(obj["Y"])
    z = X @ w + bias
    if k == "least_squares":
        return ((z - Y) ** 2).mean()
    if k == "logistic":
        return torch.nn.functional.binary_cross_entropy_with_logits(z, Y)
    raise ValueError(k)


def run(obj, hyper, steps, nudge=False):
    ps = [torch.tensor(v).reshape(s) for v, s in zip(obj["x0"], obj["shapes"])]
    if nudge:  # every initial value moved by one ulp
        ps = [torch.nextafter(p, torch.full_like(p, math.inf)) for p in ps]
    ps = [p.requires_grad_(True) for p in ps]
    opt = torch.optim.LBFGS(ps, **hyper)

    def closure():
        opt.zero_grad()
        l = loss(obj, ps)
        l.backward()
        return l

    out = {"params": [], "loss": [], "func_evals": [], "n_iter": [], "t": []}
    for _ in range(steps):
        l = opt.step(closure)
        st = opt.state[ps[0]]
        out["loss"].append(l.item())
        out["params"].append([p.detach().reshape(-1).tolist() for p in ps])
        out["func_evals"].append(int(st["func_evals"]))
        out["n_iter"].append(int(st["n_iter"]))
        out["t"].append(float(st["t"]) if "t" in st else None)
    return out


def main():
    out = sys.argv[1]
    objs = {
        "rosen2": rosenbrock(2, [-1.2, 1.0]),
        "rosen10": rosenbrock(10, [-1.2, 1.0] * 5),
        "lsq": least_squares(20, 4, 3),
        "logit": logistic(40, 3, 2),
    }
    sw = {"line_search_fn": "strong_wolfe"}
    hypers = [
        {},
        dict(sw),
        {"lr": 0.25, "max_iter": 6, "history_size": 3},
        {"lr": 0.5, "max_iter": 7, "max_eval": 9, "history_size": 2, "tolerance_grad": 1e-5,
         "tolerance_change": 1e-6},
        dict(sw, lr=0.5, max_iter=7, history_size=3, tolerance_grad=1e-5, tolerance_change=1e-6),
        dict(sw, max_iter=10, max_eval=12, history_size=5),
        dict(sw, lr=2.0, max_iter=50, tolerance_grad=1e-12, tolerance_change=1e-14),
        dict(sw, max_iter=8, tolerance_change=1e-4),
        {"lr": 0.5, "max_iter": 8, "tolerance_change": 1e-3},
        # a bracket wider than 1e-9 but under 0.3: torch's line search keeps its own 1e-9
        dict(sw, lr=1000.0, max_iter=8, tolerance_change=0.3),
    ]
    steps = 4
    cases, dropped = [], []
    for oname, obj in objs.items():
        for hyper in hypers:
            r, nudged = run(obj, hyper, steps), run(obj, hyper, steps, nudge=True)
            # how far torch's own trajectory moves when x0 moves by one ulp: where that exceeds
            # 1e-11 the problem amplifies rounding too much for a 1e-9 comparison, so the case
            # keeps only the steps before
            sens = [max(abs(a - b) / max(abs(b), 1.0)
                        for pa, pb in zip(sa, sb) for a, b in zip(pa, pb))
                    for sa, sb in zip(nudged["params"], r["params"])]
            kept = next((t for t, v in enumerate(sens) if v > 1e-11), steps)
            print(oname, hyper, "sensitivity to one ulp per step:", ["%.1e" % v for v in sens])
            if kept == 0:
                dropped.append((oname, hyper))
                continue
            r = {k: v[:kept] for k, v in r.items()}
            cases.append(dict({"objective": oname, "hyper": hyper, "steps": kept}, **r))
    print("dropped cases (too sensitive from the first step):", dropped)
    doc = {
        "about": "Reference torch.optim.LBFGS trajectories in float64. Each case runs `steps` calls of "
                 "step(closure) from the objective's x0 (one flat row-major list per parameter tensor, "
                 "shapes in `shapes`); params[t] holds the parameters after call t+1, loss[t] what that "
                 "call returned (the loss at its start), func_evals[t] and n_iter[t] the optimizer's "
                 "running totals state['func_evals'] and state['n_iter'] after it, t[t] its last step length state['t'] (null before any). `hyper` is in "
                 "torch.optim.LBFGS terms; no line_search_fn means None (fixed step). A case stops before "
                 "the first step at which torch's own trajectory, started one ulp away, differs by "
                 "more than 1e-11 relative (rounding amplified that much is no fair 1e-9 test).",
        "generator": f"torch {torch.__version__}",
        "objectives": objs,
        "cases": cases,
    }
    with open(out, "w") as fh:
        json.dump(doc, fh)
    print(out, len(cases), "cases")


main()
